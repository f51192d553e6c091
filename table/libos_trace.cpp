/* Tracing and crash reports (libos_trace.h). Every line is formatted into a buffer on the stack and
 * written with one write(2): no allocation, no lock, and lines of concurrent threads and processes
 * (the trace file is opened with O_APPEND) never mix. */
#include "libos/libos_sections.h"
#include "libos/libos_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#include <atomic>

#include "libos/libos_config.h"
#include "libos/libos_env.h"
#include "libos/libos_init.h"
#include "libos/libos_machine.h"
#include "libos/libos_numa.h"
#include "libos/libos_settings.h"
#include "libos/libos_table.h"
#include "libos/libos_text.h"
#include "pal/pal.h"

namespace libos {

#ifndef LIBOS_NO_TRACING
constinit bool g_tracing = false;
#endif

namespace {

/* Set while this thread formats a line: the calls made meanwhile (libunwind calls syscall() to
 * check memory) are not traced, or tracing would recurse. */
constinit thread_local bool t_in_trace __attribute__((tls_model("initial-exec"))) = false;

constinit int g_trace_fd = -1;
constinit bool g_lines = false; /* LIBOS_TRACE given */
constinit bool g_json = false;
constinit bool g_stacks = false;
constinit bool g_stats = false;
constinit LibosUnwindBacktrace g_unwinder = nullptr;
constinit char g_trace_path[kTracePathBytes] = {};
constinit char g_format[8] = {};

struct CodeRange {
    uintptr_t start, end;
};
constinit CodeRange g_own_code[8] = {};
constinit std::atomic<int> g_own_code_count{0};

/* Per syscall number: calls, failures and nanoseconds, for LIBOS_STATS. */
constexpr size_t kStatSlots = 512;
struct Stat {
    std::atomic<uint64_t> calls, errors, nanoseconds;
};
LIBOS_LARGE_BSS constinit Stat g_stats_table[kStatSlots] = {};

/* Where the trace's descriptor goes: out of the lowest numbers, which programs expect to get. */
constexpr int kTraceFdFloor = 900;

uint64_t now_ns() {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t); /* the vDSO: no system call */
    return static_cast<uint64_t>(t.tv_sec) * 1000000000ull + static_cast<uint64_t>(t.tv_nsec);
}

/* ---- a line ---------------------------------------------------------------------------------- */

/* A trace line: built whole, then written with one write(2). */
using Line = FixedText<4096>;
/* What a line keeps free for its end while frames are added. */
constexpr size_t kLineReserve = 16;

/* ---- what a call was about ------------------------------------------------------------------- */

/* Which argument is a path, for the calls that take one (-1: none). */
int path_argument(long nr) {
    switch (nr) {
        case SYS_open:
        case SYS_stat:
        case SYS_lstat:
        case SYS_access:
        case SYS_execve:
            return 0;
        case SYS_openat:
        case SYS_openat2:
        case SYS_newfstatat:
        case SYS_statx:
        case SYS_faccessat:
        case SYS_faccessat2:
        case SYS_execveat:
            return 1;
        default:
            return -1;
    }
}

bool ends_the_thread(long nr) {
    return nr == SYS_execve || nr == SYS_execveat || nr == SYS_exit || nr == SYS_exit_group;
}

/* A mask in the program's memory, as the machine reads it (min(len, mask size) bytes). */
bool read_mask(Caller caller, long address, long len, CpuBits* out) {
    memset(out, 0, sizeof(*out));
    size_t size = is_virtual() ? vcpu_mask_size() : host_mask_bytes();
    if (static_cast<unsigned long>(len) < size)
        size = static_cast<unsigned long>(len);
    if (size > sizeof(out->words))
        size = sizeof(out->words);
    return caller.copy_in(out->words, static_cast<uintptr_t>(address), size) == 0;
}

struct Call {
    long nr;
    long args[6];
    long result;
    uint64_t nanoseconds;
    char path[256];
    bool have_path;
    CpuBits mask; /* sched_*affinity: the mask set or got */
    bool have_mask;
    unsigned cpu, node;
    bool have_cpu;
    /* The memory-policy calls: the node mask set or got (migrate_pages: the old nodes), as a CPU list
     * of node numbers so that it prints like the CPU masks; migrate_pages' new nodes in the second. */
    CpuBits nodes, nodes2;
    bool have_nodes, have_nodes2;
};

/* Where a memory-policy call's node mask is: its argument and its maxnode's; -1 for other calls. */
int node_mask_argument(long nr, int* maxnode_arg) {
    switch (nr) {
        case SYS_set_mempolicy:
        case SYS_get_mempolicy:
            *maxnode_arg = 2;
            return 1;
        case SYS_mbind:
            *maxnode_arg = 4;
            return 3;
        case SYS_migrate_pages:
            *maxnode_arg = 1;
            return 2;
        default:
            return -1;
    }
}

/* A node mask in the program's memory: the first maxnode - 1 bits, at most the machine's MAX_NUMNODES. */
bool read_nodes(Caller caller, long address, long maxnode, CpuBits* out) {
    memset(out, 0, sizeof(*out));
    if (!address || maxnode <= 1 || !numa_virtual())
        return false;
    unsigned long bits = static_cast<unsigned long>(maxnode) - 1;
    if (bits > numa_max_nodes())
        bits = numa_max_nodes();
    if (caller.copy_in(out->words, static_cast<uintptr_t>(address), (bits + 63) / 64 * 8) < 0)
        return false;
    if (bits % 64)
        out->words[bits / 64] &= (1ULL << (bits % 64)) - 1;
    return true;
}

void read_call_nodes(Caller caller, Call* c) {
    int maxnode_arg;
    int arg = node_mask_argument(c->nr, &maxnode_arg);
    if (arg < 0)
        return;
    c->have_nodes = read_nodes(caller, c->args[arg], c->args[maxnode_arg], &c->nodes);
    if (c->nr == SYS_migrate_pages)
        c->have_nodes2 = read_nodes(caller, c->args[3], c->args[maxnode_arg], &c->nodes2);
}

/* The host nodes behind a virtual node list. */
void host_nodes_of(const CpuBits& vnodes, CpuBits* host) {
    NodeBits v = {}, h;
    memcpy(v.words, vnodes.words, sizeof(v.words));
    numa_to_host(v, &h);
    memset(host, 0, sizeof(*host));
    memcpy(host->words, h.words, sizeof(h.words));
}

/* How many arguments to show for a call the tracer has no decoder for: up to the last non-zero. */
int shown_arguments(const Call& c) {
    int n = 6;
    while (n > 0 && c.args[n - 1] == 0)
        --n;
    return n;
}

void add_text_arguments(Line& line, const Call& c) {
    int path_arg = path_argument(c.nr);
    if (c.nr == SYS_sched_setaffinity || c.nr == SYS_sched_getaffinity) {
        line.num(static_cast<int>(c.args[0])).add(", ").unum(static_cast<unsigned>(c.args[1])).add(", ");
        if (c.have_mask)
            line.ch('{').cpu_list_short(c.mask).ch('}');
        else
            line.hex(static_cast<unsigned long>(c.args[2]));
        return;
    }
    int maxnode_arg;
    if (int node_arg = node_mask_argument(c.nr, &maxnode_arg); node_arg >= 0 && c.have_nodes) {
        const int count = c.nr == SYS_set_mempolicy ? 3 : c.nr == SYS_migrate_pages ? 4 : c.nr == SYS_mbind ? 6 : 5;
        for (int i = 0; i < count; ++i) {
            if (i)
                line.add(", ");
            if (i == node_arg)
                line.ch('{').cpu_list_short(c.nodes).ch('}');
            else if (i == 3 && c.nr == SYS_migrate_pages && c.have_nodes2)
                line.ch('{').cpu_list_short(c.nodes2).ch('}');
            else if (c.args[i] >= -4096 && c.args[i] < 65536)
                line.num(c.args[i]);
            else
                line.hex(static_cast<unsigned long>(c.args[i]));
        }
        return;
    }
    if (c.nr == SYS_getcpu) {
        if (c.have_cpu)
            line.ch('[').unum(c.cpu).add("], [").unum(c.node).ch(']');
        else
            line.hex(static_cast<unsigned long>(c.args[0])).add(", ").hex(static_cast<unsigned long>(c.args[1]));
        line.add(", ").hex(static_cast<unsigned long>(c.args[2]));
        return;
    }
    int n = shown_arguments(c);
    if (path_arg >= 0 && n <= path_arg)
        n = path_arg + 1;
    for (int i = 0; i < n; ++i) {
        if (i)
            line.add(", ");
        if (i == path_arg && c.have_path)
            line.quoted(c.path);
        else if (i == 0 && (path_arg == 1 && static_cast<int>(c.args[0]) == -100))
            line.add("AT_FDCWD");
        else if (c.args[i] >= -4096 && c.args[i] < 65536)
            line.num(c.args[i]);
        else
            line.hex(static_cast<unsigned long>(c.args[i]));
    }
}

const char* error_name(long result) {
    const char* name = result < 0 && result > -4096 ? strerrorname_np(static_cast<int>(-result)) : nullptr;
    return name ? name : "E?";
}

void add_host_nodes(Line& line, const Call& c, bool json) {
    CpuBits host, host2;
    host_nodes_of(c.nodes, &host);
    if (c.have_nodes2)
        host_nodes_of(c.nodes2, &host2);
    if (json) {
        line.add(",\"nodes\":").cpu_array(c.nodes, kMaxNodeBits).add(",\"host_nodes\":").cpu_array(host, kMaxNodeBits);
        if (c.have_nodes2)
            line.add(",\"new_nodes\":").cpu_array(c.nodes2, kMaxNodeBits).add(",\"new_host_nodes\":")
                .cpu_array(host2, kMaxNodeBits);
    } else {
        line.add(" [host nodes {").cpu_list_short(host).ch('}');
        if (c.have_nodes2)
            line.add(" -> {").cpu_list_short(host2).ch('}');
        line.ch(']');
    }
}

void add_host_cpus(Line& line, const Call& c, bool json) {
    if (c.have_nodes && is_virtual()) {
        add_host_nodes(line, c, json);
        return;
    }
    if (!c.have_mask || !is_virtual())
        return;
    CpuBits host;
    to_host(c.mask, &host);
    if (json)
        line.add(",\"vcpus\":").cpu_array(c.mask, vcpu_count()).add(",\"host_cpus\":").cpu_array(host, PAL_MAX_CPUS);
    else
        line.add(" [host {").cpu_list_short(host).add("}]");
}

void add_stack(Caller caller, Line& line, bool json) {
    /* A call strict mode's supervisor answered has no stack here: it is another process's. */
    if (!g_stacks || !g_unwinder || caller.is_remote())
        return;
    LibosFrame frames[16];
    int n = g_unwinder(nullptr, frames, 16);
    bool first = true;
    if (json)
        line.add(",\"stack\":[");
    for (int i = 0; i < n; ++i) {
        if (is_own_code(frames[i].address))
            continue; /* the LibOS's own frames: the stack starts at the program */
        /* A frame: up to ~430 bytes as text, twice that as escaped JSON. */
        if (!line.room(json ? 900 : 450, kLineReserve))
            break;
        if (json) {
            if (!first)
                line.ch(',');
            line.add("{\"object\":").quoted(frames[i].object).add(",\"function\":").quoted(frames[i].function)
                .add(",\"offset\":").unum(frames[i].offset).add(",\"address\":").unum(frames[i].address).ch('}');
        } else {
            line.add(" > ").add(frames[i].object[0] ? frames[i].object : "?").ch('(');
            if (frames[i].function[0])
                line.add(frames[i].function).add("+").hex(frames[i].offset);
            line.add(") [").hex(frames[i].address).add("]");
            line.end("\n");
        }
        first = false;
    }
    if (json)
        line.ch(']');
}

void print_call(Caller caller, const Call& c, bool before_only) {
    const char* name = syscall_name(c.nr);
    /* Strict mode's supervisor answers the calls of threads of other processes. */
    const char* handled = caller.is_remote() ? "supervisor" : syscall_handler(c.nr) ? "libos" : "host";
    const long pid = caller.process(), tid = caller.tid();
    Line line;
    if (g_json) {
        line.add("{\"pid\":").num(pid).add(",\"tid\":").num(tid).add(",\"nr\":").num(c.nr).add(",\"name\":");
        if (name)
            line.quoted(name);
        else
            line.add("null");
        /* The arguments as the text format shows them, as one string: one decoder for both. */
        Line args;
        add_text_arguments(args, c);
        line.add(",\"arguments\":").json_string(args.data(), args.length());
        line.add(",\"handled\":\"").add(handled).add("\"");
        if (!before_only) {
            line.add(",\"result\":").num(c.result < 0 && c.result > -4096 ? -1 : c.result);
            line.add(",\"errno\":");
            if (c.result < 0 && c.result > -4096)
                line.ch('"').add(error_name(c.result)).ch('"');
            else
                line.add("null");
            line.add(",\"usecs\":").unum(c.nanoseconds / 1000);
        }
        add_host_cpus(line, c, true);
        add_stack(caller, line, true);
        line.end("}\n");
    } else {
        line.num(pid).ch('/').num(tid).ch(' ');
        if (name)
            line.add(name);
        else
            line.add("syscall_").num(c.nr);
        line.ch('(');
        add_text_arguments(line, c);
        line.ch(')');
        if (before_only) {
            line.add(" ...");
        } else if (c.result < 0 && c.result > -4096) {
            const char* desc = strerrordesc_np(static_cast<int>(-c.result));
            line.add(" = -1 ").add(error_name(c.result)).add(" (").add(desc ? desc : "?").ch(')');
        } else if (c.nr == SYS_mmap || c.nr == SYS_brk) {
            line.add(" = ").hex(static_cast<unsigned long>(c.result));
        } else {
            line.add(" = ").num(c.result);
        }
        add_host_cpus(line, c, false);
        line.add(" <").add(handled).add(">");
        line.end("\n");
        add_stack(caller, line, false);
    }
    line.write_to(g_trace_fd);
}

}  // namespace

LIBOS_STARTUP bool trace_init(ConfigError* err) {
    /* Every value is checked, also where it has no effect (LIBOS_TRACE_STACK without LIBOS_TRACE): a
     * mistyped value is refused, never ignored. */
    const char* trace = env_get(kEnvTrace);
    const char* format = env_get(kEnvTraceFormat);
    TraceTarget target = TraceTarget::kOff;
    bool stacks = false, json = false, stats = false;
    if (!parse_trace_target(kEnvTrace, trace, &target, g_trace_path, sizeof(g_trace_path), err) ||
        !parse_switch(kEnvTraceStack, env_get(kEnvTraceStack), &stacks, err) ||
        !parse_trace_format(kEnvTraceFormat, format, &json, err) || !parse_switch(kEnvStats, env_get(kEnvStats), &stats, err))
        return false;
#ifdef LIBOS_NO_TRACING
    if (target != TraceTarget::kOff || stats) {
        config_error(err, target != TraceTarget::kOff ? kEnvTrace : kEnvStats, target != TraceTarget::kOff ? trace : "1",
                     "this libshim.so was built without tracing (meson option tracing=false)");
        return false;
    }
    return true;
#endif
    g_lines = target != TraceTarget::kOff;
    g_stacks = g_lines && stacks;
    g_json = json;
    g_stats = stats;
    if (format && *format)
        strcpy(g_format, json ? "json" : "text");
    if (!g_lines && !g_stats)
        return true;
    /* Where the lines go: a file of the user's, appended to by every process, or standard error
     * (a copy of it, so that a program closing its fd 2 does not silence the trace). A file that
     * cannot be opened is refused, as strace -o refuses it, not traded for standard error. */
    long fd = -1;
    if (target == TraceTarget::kFile) {
        fd = open_trace_file(kEnvTrace, trace, g_trace_path, err);
        if (fd < 0)
            return false;
        if (long high = PalFileMoveHigh(static_cast<int>(fd), kTraceFdFloor, true); high >= 0)
            fd = high;
    } else {
        fd = PalFileDuplicateHigh(2, kTraceFdFloor, true);
        if (fd < 0)
            fd = 2;
    }
    g_trace_fd = static_cast<int>(fd);
#ifndef LIBOS_NO_TRACING
    g_tracing = true;
#endif
    return true;
}

SyscallResult trace_dispatch(Caller caller, long nr, const long args[6]) {
    if (t_in_trace)
        return dispatch_for(caller, nr, args);
    Call c = {};
    c.nr = nr;
    memcpy(c.args, args, sizeof(c.args));
    int path_arg = path_argument(nr);
    if (path_arg >= 0 && g_lines)
        c.have_path = caller.copy_string_in(c.path, static_cast<uintptr_t>(args[path_arg]), sizeof(c.path)) >= 0;
    if (nr == SYS_sched_setaffinity && g_lines)
        c.have_mask = read_mask(caller, args[2], args[1], &c.mask);
    if (nr != SYS_get_mempolicy && g_lines)
        read_call_nodes(caller, &c);
    /* exec replaces the program, and with it the exit that would print the summary. */
    if (g_stats && (nr == SYS_execve || nr == SYS_execveat)) {
        t_in_trace = true;
        trace_finish();
        trace_reset_stats();
        t_in_trace = false;
    }
    if (g_lines && ends_the_thread(nr)) {
        t_in_trace = true;
        print_call(caller, c, true);
        t_in_trace = false;
    }
    uint64_t start = now_ns();
    SyscallResult result = dispatch_for(caller, nr, args);
    c.nanoseconds = now_ns() - start;
    c.result = result.leaves_to_host() ? 0 : result.value();
    if (g_stats && static_cast<unsigned long>(nr) < kStatSlots) {
        Stat& s = g_stats_table[nr];
        s.calls.fetch_add(1, std::memory_order_relaxed);
        s.nanoseconds.fetch_add(c.nanoseconds, std::memory_order_relaxed);
        if (c.result < 0 && c.result > -4096)
            s.errors.fetch_add(1, std::memory_order_relaxed);
    }
    /* A remote call left to the host (a path outside the views) is the host's, not traced here. */
    if (!g_lines || result.leaves_to_host())
        return result;
    if (nr == SYS_sched_getaffinity && c.result > 0)
        c.have_mask = read_mask(caller, args[2], c.result, &c.mask);
    if (nr == SYS_get_mempolicy && c.result == 0)
        read_call_nodes(caller, &c);
    if (nr == SYS_getcpu && c.result == 0) {
        c.have_cpu = (!args[0] || caller.copy_in(&c.cpu, static_cast<uintptr_t>(args[0]), sizeof(c.cpu)) == 0) &&
                     (!args[1] || caller.copy_in(&c.node, static_cast<uintptr_t>(args[1]), sizeof(c.node)) == 0);
    }
    t_in_trace = true;
    print_call(caller, c, false);
    t_in_trace = false;
    return result;
}

void trace_reset_stats() {
    for (Stat& st : g_stats_table) {
        st.calls.store(0, std::memory_order_relaxed);
        st.errors.store(0, std::memory_order_relaxed);
        st.nanoseconds.store(0, std::memory_order_relaxed);
    }
}

LIBOS_STARTUP bool trace_wants_stacks() {
    return g_stacks;
}

void set_unwinder(LibosUnwindBacktrace u) {
    g_unwinder = u;
}

LibosUnwindBacktrace unwinder() {
    return g_unwinder;
}

void add_own_code(uintptr_t start, uintptr_t end) {
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

LIBOS_STARTUP void trace_finish() {
    if (!g_stats)
        return;
    uint64_t total_ns = 0, total_calls = 0, total_errors = 0;
    for (const Stat& s : g_stats_table) {
        total_ns += s.nanoseconds.load(std::memory_order_relaxed);
        total_calls += s.calls.load(std::memory_order_relaxed);
        total_errors += s.errors.load(std::memory_order_relaxed);
    }
    long pid = PalProcessGetId();
    int fd = g_trace_fd >= 0 ? g_trace_fd : 2;
    if (g_json) {
        Line line;
        line.add("{\"pid\":").num(pid).add(",\"stats\":[");
        bool first = true;
        for (size_t nr = 0; nr < kStatSlots; ++nr) {
            const Stat& s = g_stats_table[nr];
            uint64_t calls = s.calls.load(std::memory_order_relaxed);
            if (!calls || !line.room(200, kLineReserve))
                continue;
            const char* name = syscall_name(static_cast<long>(nr));
            if (!first)
                line.ch(',');
            line.add("{\"name\":").quoted(name ? name : "?").add(",\"nr\":").unum(nr).add(",\"calls\":").unum(calls)
                .add(",\"errors\":").unum(s.errors.load(std::memory_order_relaxed)).add(",\"usecs\":")
                .unum(s.nanoseconds.load(std::memory_order_relaxed) / 1000).ch('}');
            first = false;
        }
        line.add("],\"calls\":").unum(total_calls).add(",\"errors\":").unum(total_errors).add("}\n");
        line.write_to(fd);
        return;
    }
    Line head;
    head.add("libos: summary for pid ").num(pid).add("\n% time     seconds  usecs/call     calls    errors syscall\n")
        .add("------ ----------- ----------- --------- --------- ----------------\n");
    head.write_to(fd);
    auto pad = [](Line& l, uint64_t v, int width) {
        char d[24];
        int n = static_cast<int>(format_decimal(d, v));
        for (int i = n; i < width; ++i)
            l.ch(' ');
        l.add(d, static_cast<size_t>(n));
    };
    auto seconds = [&](Line& l, uint64_t ns) {
        pad(l, ns / 1000000000ull, 5);
        l.ch('.');
        uint64_t frac = (ns / 1000) % 1000000;
        char d[6];
        for (int i = 5; i >= 0; --i) {
            d[i] = static_cast<char>('0' + frac % 10);
            frac /= 10;
        }
        l.add(d, 6);
    };
    for (size_t nr = 0; nr < kStatSlots; ++nr) {
        const Stat& s = g_stats_table[nr];
        uint64_t calls = s.calls.load(std::memory_order_relaxed);
        if (!calls)
            continue;
        uint64_t ns = s.nanoseconds.load(std::memory_order_relaxed);
        uint64_t permille = total_ns ? ns * 10000 / total_ns : 0;
        Line l;
        pad(l, permille / 100, 3);
        l.ch('.');
        pad(l, permille % 100 / 10, 1);
        pad(l, permille % 10, 1);
        l.ch(' ');
        seconds(l, ns);
        l.ch(' ');
        pad(l, ns / 1000 / calls, 11);
        l.ch(' ');
        pad(l, calls, 9);
        l.ch(' ');
        uint64_t errors = s.errors.load(std::memory_order_relaxed);
        if (errors)
            pad(l, errors, 9);
        else
            l.add("         ");
        const char* name = syscall_name(static_cast<long>(nr));
        l.ch(' ').add(name ? name : "?").ch('\n');
        l.write_to(fd);
    }
    Line tail;
    tail.add("------ ----------- ----------- --------- --------- ----------------\n100.00 ");
    seconds(tail, total_ns);
    tail.add("             ");
    pad(tail, total_calls, 9);
    tail.ch(' ');
    pad(tail, total_errors, 9);
    tail.add(" total\n");
    tail.write_to(fd);
}

bool trace_environment(const char** names, const char** values, size_t* count, size_t max) {
    *count = 0;
    if (!g_tracing || max < 4)
        return false;
    static const char* const kNames[] = {kEnvTrace, kEnvTraceStack, kEnvTraceFormat, kEnvStats};
    const char* vals[] = {g_lines ? (g_trace_path[0] ? g_trace_path : "stderr") : nullptr, g_stacks ? "1" : nullptr,
                          g_format[0] ? g_format : nullptr, g_stats ? "1" : nullptr};
    for (int i = 0; i < 4; ++i) {
        if (!vals[i])
            continue;
        names[*count] = kNames[i];
        values[*count] = vals[i];
        ++*count;
    }
    return true;
}

void report_own_crash(int sig, void* info_ptr, void* ucontext) {
    auto* info = static_cast<siginfo_t*>(info_ptr);
    Line line;
    const char* name = sigabbrev_np(sig);
    line.add("libos: fatal SIG").add(name ? name : "?").add(" inside the LibOS");
    if (info && (sig == SIGSEGV || sig == SIGBUS))
        line.add(" (fault address ").hex(reinterpret_cast<uintptr_t>(info->si_addr)).ch(')');
    line.add(": this is a bug in libos-vcpu, not in the program; its stack:\n");
    if (g_unwinder) {
        LibosFrame frames[16];
        int n = g_unwinder(ucontext, frames, 16);
        for (int i = 0; i < n && line.room(400, kLineReserve); ++i) {
            line.add("  #").num(i).ch(' ').add(frames[i].object[0] ? frames[i].object : "?").ch('(');
            if (frames[i].function[0])
                line.add(frames[i].function).add("+").hex(frames[i].offset);
            line.add(") [").hex(frames[i].address).add("]\n");
        }
    } else {
        line.add("  (no stack: libos_unwind.so could not be loaded)\n");
    }
    line.write_to(2);
}

}  // namespace libos
