/* The stack after a trace line (libos_trace.h): the program's frames, as strace -k prints them, with
 * their source file and line where libos_unwind.so can read them (libdw). */
#include <stdint.h>
#include <string.h>

#include <atomic>

#include "libos/libos_sections.h"
#include "libos/libos_trace.h"
#include "libos_trace_internal.h"

namespace libos::tracer {
namespace {

/* The frames of a stack (16 of some 400 bytes each) are not kept on the stack, which a 16 KiB
 * thread's has no room for besides the unwinder's own: a set of static ones is claimed with one
 * atomic step (untouched, so not resident, until stacks are traced), as many as libos_unwind.so has
 * stacks of its own. With all in use, the line has no stack rather than 6 KiB of frames on a stack
 * that may not have them. */
constexpr int kFrames = 16;
constexpr int kFrameSets = 32;
static_assert(kFrameSets == 32, "one bit of g_frame_sets_busy a set, all of them");
LIBOS_LARGE_BSS constinit LibosFrame g_frame_sets[kFrameSets][kFrames] = {};
constinit std::atomic<uint32_t> g_frame_sets_busy{0};

int claim_frame_set() {
    uint32_t busy = g_frame_sets_busy.load(std::memory_order_relaxed);
    while (busy != ~0u) {
        const int i = __builtin_ctz(~busy);
        if (g_frame_sets_busy.compare_exchange_weak(busy, busy | 1u << i, std::memory_order_acquire,
                                                    std::memory_order_relaxed))
            return i;
    }
    return -1;
}

void add_frames(TextBuilder& line, bool json, LibosUnwindBacktrace unwinder, LibosUnwindSource source_of,
                LibosFrame* frames) {
    int n = unwinder(nullptr, frames, kFrames);
    bool first = true;
    if (json)
        line.add(",\"stack\":[");
    for (int i = 0; i < n; ++i) {
        if (is_own_code(frames[i].address))
            continue; /* the LibOS's own frames: the stack starts at the program */
        /* A frame: up to ~430 bytes as text and its source's up to 200, twice that as escaped JSON. */
        if (!line.room(json ? 1300 : 650, kLineReserve))
            break;
        const LibosFrame& f = frames[i];
        /* file:line where the object has debug information (libdw, in builds with it). A frame past
         * the innermost holds a return address, which may already belong to the next line: its
         * call is the byte before it, as gdb and strace -k look it up. */
        char source[200];
        source[0] = '\0';
        size_t colon = 0;
        if (source_of && f.module_offset) {
            if (source_of(f.address - 1, f.object, f.address - f.module_offset, source, sizeof(source)) == 1) {
                const char* last = strrchr(source, ':');
                colon = last ? static_cast<size_t>(last - source) : 0;
            }
            if (!colon)
                source[0] = '\0';
        }
        if (json) {
            if (!first)
                line.ch(',');
            line.add("{\"object\":").quoted(f.object).add(",\"function\":").quoted(f.function)
                .add(",\"offset\":").unum(f.offset).add(",\"address\":").unum(f.address)
                .add(",\"module_offset\":").unum(f.module_offset);
            if (source[0]) {
                source[colon] = '\0';
                line.add(",\"file\":").quoted(source).add(",\"line\":").add(source + colon + 1);
            }
            line.ch('}');
        } else {
            line.add(" > ").add(f.object[0] ? f.object : "?").ch('(');
            if (f.function[0])
                line.add(f.function).add("+").hex(f.offset);
            /* As strace -k: the address inside the object, which addr2line -e OBJECT resolves. */
            line.add(") [").hex(f.module_offset ? f.module_offset : f.address).add("]");
            if (source[0])
                line.ch(' ').add(source);
            line.end("\n");
        }
        first = false;
    }
    if (json)
        line.ch(']');
}

}  // namespace

void add_stack(TextBuilder& line, bool json, LibosUnwindBacktrace unwinder, LibosUnwindSource source_of) {
    const int set = claim_frame_set();
    if (set < 0) {
        if (json)
            line.add(",\"stack\":[]");
        return;
    }
    add_frames(line, json, unwinder, source_of, g_frame_sets[set]);
    g_frame_sets_busy.fetch_and(~(1u << set), std::memory_order_release);
}

void stack_after_fork() {
    g_frame_sets_busy.store(0, std::memory_order_relaxed);
}

}  // namespace libos::tracer

namespace libos {
namespace {

/* The LibOS's own code (libos_trace.h), which a stack leaves out. */
struct CodeRange {
    uintptr_t start, end;
};
constinit CodeRange g_own_code[8] = {};
constinit std::atomic<int> g_own_code_count{0};

}  // namespace

LIBOS_STARTUP void add_own_code(uintptr_t start, uintptr_t end) {
    int i = g_own_code_count.load(std::memory_order_relaxed);
    if (i >= 8)
        return;
    g_own_code[i] = CodeRange{start, end};
    g_own_code_count.store(i + 1, std::memory_order_release);
}

bool is_own_code(uintptr_t address) {
    int n = g_own_code_count.load(std::memory_order_acquire);
    for (int i = 0; i < n; ++i)
        if (address >= g_own_code[i].start && address < g_own_code[i].end)
            return true;
    return false;
}

}  // namespace libos
