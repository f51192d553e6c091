/* The stack after a trace line (libos_trace.h): the program's frames, as strace -k prints them, with
 * their source file and line where libos_unwind.so can read them (libdw). */
#include <string.h>

#include "libos/libos_trace.h"
#include "libos_trace_internal.h"

namespace libos::tracer {

void add_stack(TextBuilder& line, bool json, LibosUnwindBacktrace unwinder, LibosUnwindSource source_of) {
    LibosFrame frames[16];
    int n = unwinder(nullptr, frames, 16);
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

}  // namespace libos::tracer
