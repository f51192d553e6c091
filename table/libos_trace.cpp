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
#include "libos/libos_trace_filter.h"
#include "libos_trace_internal.h"
#include "pal/pal.h"

namespace libos {

using tracer::Call;
using tracer::kLineReserve;
using tracer::Line;

#ifndef LIBOS_NO_TRACING
constinit bool g_tracing = false;
#endif

namespace {

/* Set while this thread formats a line: the calls made meanwhile (libunwind calls syscall() to
 * check memory) are not traced, or tracing would recurse. */
constinit thread_local bool t_in_trace __attribute__((tls_model("initial-exec"))) = false;
/* An exec's trace line, while the exec runs: "START_NS,PID,HEAD\x1fMIDDLE\x1fFRAMES", which exec passes
 * to the new program in LIBOS_TRACE_EXEC; it prints the line with its result, = 0 (libos_trace_exec.cpp).
 * A failed exec prints its line itself: either way one line, as strace -f prints it. */
constinit thread_local const char* t_exec_line __attribute__((tls_model("initial-exec"))) = nullptr;
/* The line buffer t_exec_line is in, -1 for none (exec_with_line). */
constinit thread_local int t_exec_slot __attribute__((tls_model("initial-exec"))) = -1;
/* The process that set t_exec_line: a vfork child shares its parent's thread-local storage, and a
 * successful exec of the child leaves the line's pointer there, into the child's dead stack frame;
 * the parent's next environment (posix_spawn's, system's) must not take it. */
constinit thread_local long t_exec_line_pid __attribute__((tls_model("initial-exec"))) = 0;
/* The buffers lines are formatted in: static storage (untouched, so not resident, until tracing
 * uses it) rather than the stack, where 4 KiB more would not fit the signal stack of a program's
 * handler (SIGSTKSZ) that makes a traced call, nor TLS, which a 16 KiB thread stack shares. A line
 * claims a free one with one atomic step, a nested handler another; with none free (more than 64
 * lines being formatted at once), the line is formatted on the stack. */
constexpr int kLineBuffers = 64;
LIBOS_LARGE_BSS constinit char g_line_buffers[kLineBuffers][tracer::kLineBytes] = {};
constinit std::atomic<uint64_t> g_line_busy{0};

int claim_line_buffer() {
    uint64_t busy = g_line_busy.load(std::memory_order_relaxed);
    while (~busy) {
        const int i = __builtin_ctzll(~busy);
        if (g_line_busy.compare_exchange_weak(busy, busy | 1ULL << i, std::memory_order_acquire,
                                              std::memory_order_relaxed))
            return i;
    }
    return -1;
}

void release_line_buffer(int i) {
    g_line_busy.fetch_and(~(1ULL << i), std::memory_order_release);
}

constinit int g_trace_fd = -1;
constinit bool g_lines = false; /* LIBOS_TRACE given */
constinit bool g_json = false;
constinit bool g_stacks = false;
constinit bool g_stats = false;
constinit bool g_stats_per_process = false; /* LIBOS_STATS=per-process */
/* Calls are counted: for this launch's summary, or for an enclosing launch's (LIBOS_STATS_OUTER_FD). */
constinit bool g_counting = false;
constinit LibosUnwindBacktrace g_unwinder = nullptr;
constinit LibosUnwindSource g_source = nullptr;
constinit char g_trace_path[kTracePathBytes] = {};
constinit char g_format[8] = {};
/* LIBOS_TRACE_FILTER: the calls shown (all by default), and the list as given, for exec. */
constinit TraceFilter g_filter = {};
constinit char g_filter_text[kTraceFilterTextMax + 1] = {};
/* LIBOS_TRACE_TIME, and its word for exec. */
constinit TraceTime g_time = TraceTime::kNone;
constinit char g_time_text[12] = {};
/* LIBOS_TRACE_PER_PROCESS: each process writes FILE.<pid>; the process g_trace_fd is for. */
constinit bool g_per_process = false;
constinit long g_trace_fd_pid = 0;
/* For relative timestamps: when this process's previous traced call began (monotonic ns). */
constinit std::atomic<uint64_t> g_previous_start{0};

/* Where the trace's descriptor goes: out of the lowest numbers, which programs expect to get. */
constexpr int kTraceFdFloor = 900;

uint64_t clock_ns(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t); /* the vDSO: no system call */
    return static_cast<uint64_t>(t.tv_sec) * 1000000000ull + static_cast<uint64_t>(t.tv_nsec);
}

uint64_t now_ns() {
    return clock_ns(CLOCK_MONOTONIC);
}

/* ---- what a call was about ------------------------------------------------------------------- */

bool ends_the_thread(long nr) {
    return nr == SYS_execve || nr == SYS_execveat || nr == SYS_exit || nr == SYS_exit_group;
}

const char* error_name(long result) {
    const char* name = result < 0 && result > -4096 ? strerrorname_np(static_cast<int>(-result)) : nullptr;
    return name ? name : "E?";
}

void add_stack(Caller caller, TextBuilder& line, bool json) {
    /* A call strict mode's supervisor answered has no stack here: it is another process's. */
    if (g_stacks && g_unwinder && !caller.is_remote())
        tracer::add_stack(line, json, g_unwinder, g_source);
}

/* When a line is printed: before a call that may not return (exec), after a call returned, or when
 * strict mode's supervisor let a call continue to the host (the kernel runs it afterwards: its
 * result is not seen). */
enum class Phase : unsigned char { kBefore, kReturned, kContinued, kExecPending };

void format_call(Caller caller, const Call& c, Phase phase, TextBuilder& line) {
    const bool before_only = phase == Phase::kBefore || phase == Phase::kExecPending,
               continued = phase == Phase::kContinued;
    const char* name = syscall_name(c.nr);
    /* Strict mode's supervisor answers the calls of threads of other processes; those it continues
     * are the host's. */
    const char* handled = continued ? "host" : caller.is_remote() ? "supervisor" : syscall_handler(c.nr) ? "libos" : "host";
    const long pid = caller.process(), tid = caller.tid();
    if (g_json) {
        line.add("{\"v\":").unum(kTraceJsonVersion).add(",\"pid\":").num(pid).add(",\"tid\":").num(tid).add(",\"nr\":").num(c.nr).add(",\"name\":");
        if (name)
            line.quoted(name);
        else
            line.add("null");
        /* The arguments as the text format shows them, as one string, and as JSON values
         * (docs/tracing.md, "JSON"). */
        line.add(",\"arguments\":");
        const size_t arguments = line.length();
        tracer::add_arguments(line, caller, c, false);
        line.json_string_since(arguments).add(",\"args\":[");
        tracer::add_arguments(line, caller, c, true);
        line.ch(']');
        line.add(",\"handled\":\"").add(handled).add("\"");
        if (phase == Phase::kExecPending)
            line.ch('\x1f'); /* the new program adds the result and the duration here */
        if (continued) {
            line.add(",\"result\":null,\"errno\":null,\"continued\":true");
        } else if (!before_only) {
            line.add(",\"result\":").num(c.result < 0 && c.result > -4096 ? -1 : c.result);
            line.add(",\"errno\":");
            if (c.result < 0 && c.result > -4096)
                line.ch('"').add(error_name(c.result)).ch('"');
            else
                line.add("null");
            line.add(",\"usecs\":").unum(c.nanoseconds / 1000).add(",\"ns\":").unum(c.nanoseconds);
        }
        if (g_time != TraceTime::kNone) {
            line.add(",\"time\":\"");
            tracer::add_timestamp(line, g_time, c.wall, c.start, c.previous);
            line.ch('"');
        }
        tracer::add_host_annotation(line, c, true);
        if (phase == Phase::kExecPending) {
            line.ch('\x1f');
            add_stack(caller, line, true);
            return; /* the line is the new program's to end and print */
        }
        add_stack(caller, line, true);
        line.end("}\n");
    } else {
        line.num(pid).ch('/').num(tid).ch(' ');
        if (g_time != TraceTime::kNone) {
            tracer::add_timestamp(line, g_time, c.wall, c.start, c.previous);
            line.ch(' ');
        }
        if (name)
            line.add(name);
        else
            line.add("syscall_").num(c.nr);
        line.ch('(');
        tracer::add_arguments(line, caller, c, false);
        line.ch(')');
        if (phase == Phase::kExecPending) {
            line.ch('\x1f').add(" <").add(handled).add(">").ch('\x1f');
            add_stack(caller, line, false);
            return; /* the new program adds " = 0" and the duration after the head */
        } else if (before_only) {
            /* exit and exit_group do not return: " = ?", as strace ends their lines. */
            line.add(c.nr == SYS_exit || c.nr == SYS_exit_group ? " = ?" : " ...");
        } else if (continued) {
            line.add(" = ?");
        } else if (c.result < 0 && c.result > -4096) {
            const char* desc = strerrordesc_np(static_cast<int>(-c.result));
            line.add(" = -1 ").add(error_name(c.result)).add(" (").add(desc ? desc : "?").ch(')');
        } else if (c.nr == SYS_mmap || c.nr == SYS_brk || c.nr == SYS_mremap) {
            line.add(" = ").hex(static_cast<unsigned long>(c.result));
        } else if (c.nr == SYS_rt_sigtimedwait && c.result > 0) {
            line.add(" = ").num(c.result).add(" (");
            tracer::add_signal(line, static_cast<int>(c.result));
            line.ch(')'); /* the signal taken, named as strace names it */
        } else {
            line.add(" = ").num(c.result);
        }
        tracer::add_host_annotation(line, c, false);
        line.add(" <").add(handled).add(">");
        if (phase == Phase::kReturned) {
            /* The call's duration, as strace -T shows it. */
            line.add(" <");
            tracer::add_seconds(line, c.nanoseconds, 1, 6);
            line.ch('>');
        }
        line.end("\n");
        add_stack(caller, line, false);
    }
    line.write_to(g_trace_fd);
}

/* The rare line without a free buffer: on the stack, in a frame of its own. */
__attribute__((noinline)) void format_call_on_stack(Caller caller, const Call& c, Phase phase) {
    Line line;
    format_call(caller, c, phase, line);
}

void print_call(Caller caller, const Call& c, Phase phase) {
    /* The unwinder (libunwind, dladdr) may set errno; the program's must come through unchanged. */
    const int saved_errno = errno;
    if (int slot = claim_line_buffer(); slot >= 0) {
        TextBuilder line(g_line_buffers[slot], tracer::kLineBytes);
        format_call(caller, c, phase, line);
        release_line_buffer(slot);
    } else {
        format_call_on_stack(caller, c, phase);
    }
    errno = saved_errno;
}

/* A call of a traced process. A traced exec without a machine (shown or not) takes the handler's
 * environment (tracing variables, the summary's descriptor, an exec's line; no machine), not the
 * program's: a shell execs with its own copy of its first one, and would start new summaries. */
SyscallResult dispatch_traced(Caller caller, long nr, const long args[6]) {
    if ((nr == SYS_execve || nr == SYS_execveat) && !is_virtual() && !caller.is_remote()) {
        if (RawHandler handler = syscall_handler(nr)) {
            const long call[7] = {args[0], args[1], args[2], args[3], args[4], args[5], nr};
            SyscallResult result = handler(caller, call);
            if (!result.leaves_to_host())
                return result;
        }
    }
    return dispatch_for(caller, nr, args);
}

/* An exec's line for the new program (t_exec_line), formatted in `text` (`size` bytes): the start
 * of its duration, after the formatting, is patched into the line's first 20 characters. exec
 * copies the line into the new program's environment. */
void prepare_exec_line(Caller caller, Call* c, char* text, size_t size, bool spawned = false) {
    const int saved_errno = errno;
    t_in_trace = true;
    TextBuilder line(text, size - 1);
    const long pid = PalProcessGetId();
    line.add(spawned ? "00000000000000000000,s" : "00000000000000000000,").unum(static_cast<unsigned long>(pid)).ch(',');
    format_call(caller, *c, Phase::kExecPending, line);
    size_t n = line.length();
    text[n] = '\0';
    /* Three fields, or no line: one cut short by the buffer is left out. */
    const char* sep = strchr(text, '\x1f');
    const bool whole = sep && strchr(sep + 1, '\x1f') && n + 1 < size - 1;
    t_in_trace = false;
    errno = saved_errno;
    c->start = now_ns();
    uint64_t digits = c->start;
    for (int i = 19; i >= 0; --i, digits /= 10)
        text[i] = static_cast<char>('0' + digits % 10);
    t_exec_line = whole ? text : nullptr;
    t_exec_line_pid = pid;
}

SyscallResult exec_with_line_in(Caller caller, Call* c, const long args[6], char* text, size_t size) {
    prepare_exec_line(caller, c, text, size);
    SyscallResult result = dispatch_traced(caller, c->nr, args);
    t_exec_line = nullptr;
    return result;
}

/* With no free buffer: the line on this frame's stack. */
__attribute__((noinline)) SyscallResult exec_with_line_on_stack(Caller caller, Call* c, const long args[6]) {
    char text[tracer::kLineBytes];
    return exec_with_line_in(caller, c, args, text, sizeof(text));
}

/* The line in a claimed buffer, not on the stack: the exec handler's own frames come on top (a
 * 16 KiB thread stack has no room for both). The buffer is given back as soon as the handler has
 * copied the line into the new environment (trace_exec_line_copied), before the exec itself: a
 * vfork child's successful exec never returns, and must leave no buffer of its parent's claimed. */
SyscallResult exec_with_line(Caller caller, Call* c, const long args[6]) {
    const int slot = claim_line_buffer();
    if (slot < 0)
        return exec_with_line_on_stack(caller, c, args);
    t_exec_slot = slot;
    SyscallResult result = exec_with_line_in(caller, c, args, g_line_buffers[slot], tracer::kLineBytes);
    trace_exec_line_copied();
    return result;
}

}  // namespace

namespace {

/* Opens FILE.<pid> for this process (--trace-per-process); -1 with `err` set when it cannot. */
long open_own_trace_file(const char* text, ConfigError* err) {
    char own[kTracePathBytes + 24];
    long pid = PalProcessGetId();
    if (!per_process_trace_path(kEnvTrace, text, g_trace_path, pid, own, sizeof(own), err))
        return -1;
    long fd = open_trace_file(kEnvTrace, text, own, err);
    if (fd >= 0) {
        if (long high = PalFileMoveHigh(static_cast<int>(fd), kTraceFdFloor, true); high >= 0)
            fd = high;
        g_trace_fd_pid = pid;
    }
    return fd;
}

bool given(const char* text) {
    return text && *text;
}

}  // namespace

LIBOS_STARTUP bool trace_init(ConfigError* err) {
    /* Every value is checked, also where it has no effect (LIBOS_TRACE_STACK=0 with a filter): a
     * mistyped value is refused, never ignored. */
    const char* trace = env_get(kEnvTrace);
    const char* format = env_get(kEnvTraceFormat);
    const char* filter = env_get(kEnvTraceFilter);
    const char* time = env_get(kEnvTraceTime);
    const char* exec_line = env_get(kEnvTraceExec);
    TraceTarget target = TraceTarget::kOff;
    bool stacks = false, json = false, stats = false, per_process = false, stats_per_process = false;
    int stats_fd = -1;
    TraceTime time_mode = TraceTime::kNone;
    if (!parse_trace_target(kEnvTrace, trace, &target, g_trace_path, sizeof(g_trace_path), err) ||
        !parse_switch(kEnvTraceStack, env_get(kEnvTraceStack), &stacks, err) ||
        !parse_trace_format(kEnvTraceFormat, format, &json, err) || !parse_stats(kEnvStats, env_get(kEnvStats), &stats, &stats_per_process, err) ||
        !parse_descriptor(kEnvStatsFd, env_get(kEnvStatsFd), &stats_fd, err) ||
        !parse_descriptor_list(kEnvStatsOuterFd, env_get(kEnvStatsOuterFd), err) ||
        !parse_trace_filter(kEnvTraceFilter, filter, &g_filter, err) ||
        !parse_trace_time(kEnvTraceTime, time, &time_mode, err) ||
        !parse_switch(kEnvTracePerProcess, env_get(kEnvTracePerProcess), &per_process, err) ||
        !tracer::check_exec_line(exec_line, err))
        return false;
    /* The exec's line is this program's to print, once: not its environment's to keep, where its
     * children would see it (env shows nothing of it natively), and a child that a program without
     * the shim (a static one) starts with that environment would print it again. */
    if (exec_line)
        env_remove(kEnvTraceExec);
    /* As the launcher's --trace-stack, --trace-format, --trace-filter, --trace-time and
     * --trace-per-process imply --trace, so do their variables without LIBOS_TRACE: the lines go to
     * standard error. An explicit LIBOS_TRACE=0 still turns the lines off. */
    if (!trace && (stacks || given(format) || given(filter) || given(time) || per_process))
        target = TraceTarget::kStandardError;
    if (per_process && target == TraceTarget::kStandardError) {
        config_error(err, kEnvTracePerProcess, "1",
                     "one file per process needs a trace file (LIBOS_TRACE=FILE, --trace=FILE), not standard error");
        return false;
    }
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
    g_stats_per_process = stats_per_process;
    if (g_stats)
        tracer::stats_init(stats_fd, stats_per_process);
    tracer::stats_outer_init(env_get(kEnvStatsOuterFd));
    g_counting = g_stats || tracer::stats_outer_text();
    g_time = time_mode;
    g_per_process = per_process && target == TraceTarget::kFile;
    if (format && *format)
        strcpy(g_format, json ? "json" : "text");
    if (given(filter))
        strcpy(g_filter_text, filter); /* parse_trace_filter took at most kTraceFilterTextMax bytes */
    if (given(time))
        strcpy(g_time_text, time);
    if (!g_lines && !g_counting)
        return true;
    /* Where the lines go: a file of the user's, appended to by every process (or one per process),
     * or standard error (a copy of it, so that a program closing its fd 2 does not silence the
     * trace). A file that cannot be opened is refused, as strace -o refuses it, not traded for
     * standard error. */
    long fd = -1;
    if (g_per_process) {
        fd = open_own_trace_file(trace, err);
        if (fd < 0)
            return false;
    } else if (target == TraceTarget::kFile) {
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
    /* The exec that started this program, when it was traced: its line, = 0, now. */
    if (exec_line && g_lines)
        tracer::print_exec_line(exec_line, now_ns(), PalProcessGetId());
    return true;
}

void trace_after_fork() {
    trace_reset_stats();
    /* Buffers other threads of the parent held at the fork: no thread of the child holds them. */
    g_line_busy.store(0, std::memory_order_relaxed);
    tracer::stack_after_fork();
    tracer::calls_after_fork();
    g_previous_start.store(0, std::memory_order_relaxed);
    if (!g_per_process || g_trace_fd < 0 || g_trace_fd_pid == PalProcessGetId())
        return;
    /* The child writes a file of its own. If it cannot be opened, its lines stay in its parent's
     * file (each line has its pid): a program's fork is not the place to stop it. */
    ConfigError ignored;
    long fd = open_own_trace_file(g_trace_path, &ignored);
    if (fd < 0)
        return;
    int inherited = g_trace_fd;
    g_trace_fd = static_cast<int>(fd);
    PalFileClose(inherited);
}

namespace {

/* exit_group from _exit or syscall() (a shell's end): the summary now, after its line, as at exit(3). */
void summary_before_exit(Caller caller, long nr) {
    if (nr != SYS_exit_group || !g_counting || caller.is_remote())
        return;
    t_in_trace = true;
    tracer::stats_at_exit_group();
    t_in_trace = false;
}

/* A shown call, recorded in `c` (cleared): the static record `*slot`, or one on the stack (-1). `run`
 * is the call that runs, when it is not the one shown (dispatch_shown). */
SyscallResult trace_call(Caller caller, long nr, const long args[6], Call& c, bool may_not_return, int* slot,
                         const ShownCall& run) {
    c.nr = nr;
    c.entries = -1;
    c.out_arg = 0;
    memcpy(c.args, args, sizeof(c.args));
    if (int at = tracer::string_argument(nr, 0); at >= 0 && g_lines && args[at])
        c.have_path = tracer::read_string(caller, args[at], c.path, sizeof(c.path), &c.path_cut);
    if (int at = tracer::string_argument(nr, 1); at >= 0 && g_lines && args[at])
        c.have_path2 = tracer::read_string(caller, args[at], c.path2, sizeof(c.path2), &c.path2_cut);
    if (nr == SYS_sched_setaffinity && g_lines)
        c.have_mask = tracer::read_mask(caller, args[2], args[1], &c.mask, &c.mask_more);
    if (nr != SYS_get_mempolicy && g_lines)
        tracer::read_call_nodes(caller, &c);
    if (g_lines)
        tracer::read_structs(caller, &c, true);
    /* An exec's line goes to the new program (t_exec_line), or is printed if it fails; exit's before. */
    const bool exec_line = g_lines && (nr == SYS_execve || nr == SYS_execveat) && !caller.is_remote();
    if (g_lines && may_not_return && !exec_line) {
        t_in_trace = true;
        print_call(caller, c, Phase::kBefore);
        t_in_trace = false;
    }
    summary_before_exit(caller, nr);
    /* exit ends here: the record back first (a vfork child's _exit after a failed exec: the parent's). */
    if (*slot >= 0 && (nr == SYS_exit || nr == SYS_exit_group) && !caller.is_remote()) {
        tracer::release_call(*slot);
        *slot = -1;
        return dispatch_traced(caller, run.nr, run.args);
    }
    c.start = now_ns();
    if (g_time == TraceTime::kRelative)
        c.previous = g_previous_start.exchange(c.start, std::memory_order_relaxed);
    else if (g_time != TraceTime::kNone)
        c.wall = clock_ns(CLOCK_REALTIME);
    SyscallResult result = exec_line ? exec_with_line(caller, &c, args) : dispatch_traced(caller, run.nr, run.args);
    c.nanoseconds = now_ns() - c.start;
    c.result = result.leaves_to_host() ? 0 : result.value();
    if (g_counting)
        tracer::stats_add(nr, c.nanoseconds, c.result < 0 && c.result > -4096, !may_not_return);
    if (!g_lines)
        return result;
    /* A remote call left to the host (outside the views): the kernel runs it later; no result. */
    if (result.leaves_to_host()) {
        t_in_trace = true;
        print_call(caller, c, Phase::kContinued);
        t_in_trace = false;
        return result;
    }
    if (nr == SYS_sched_getaffinity && c.result > 0)
        c.have_mask = tracer::read_mask(caller, args[2], c.result, &c.mask, &c.mask_more);
    if (nr == SYS_get_mempolicy && c.result == 0)
        tracer::read_call_nodes(caller, &c);
    if (!(c.result < 0 && c.result > -4096))
        tracer::read_structs(caller, &c, false);
    tracer::read_after_call(caller, &c);
    if (nr == SYS_getcpu && c.result == 0) {
        c.have_cpu = (!args[0] || caller.copy_in(&c.cpu, static_cast<uintptr_t>(args[0]), sizeof(c.cpu)) == 0) &&
                     (!args[1] || caller.copy_in(&c.node, static_cast<uintptr_t>(args[1]), sizeof(c.node)) == 0);
    }
    t_in_trace = true;
    print_call(caller, c, Phase::kReturned);
    t_in_trace = false;
    return result;
}

/* With every record in use: the record on the stack, in a frame of its own. */
__attribute__((noinline)) SyscallResult trace_call_on_stack(Caller caller, long nr, const long args[6], bool exits,
                                                             const ShownCall& run) {
    Call c = {};
    int slot = -1;
    return trace_call(caller, nr, args, c, exits, &slot, run);
}

/* Call `nr` with `args` as the trace shows it, and `run` as it runs. */
SyscallResult trace_shown(Caller caller, long nr, const long args[6], const ShownCall& run) {
    if (t_in_trace)
        return dispatch_for(caller, run.nr, run.args);
    const bool shown = trace_filter_has(g_filter, nr), may_not_return = ends_the_thread(nr);
    /* A call that does not return when it succeeds (exec, exit) is counted before it, as strace -c
     * counts it; only its failure is added after. */
    if (g_counting && shown && may_not_return)
        tracer::stats_add(nr, 0, false, true);
    /* exec replaces the program, and with it the exit that would print the summary. */
    if (g_stats && (nr == SYS_execve || nr == SYS_execveat)) {
        t_in_trace = true;
        tracer::stats_before_exec();
        t_in_trace = false;
    }
    if (!shown) {
        summary_before_exit(caller, nr);
        return dispatch_traced(caller, run.nr, run.args);
    }
    int slot;
    Call* c = tracer::claim_call(&slot);
    if (!c)
        return trace_call_on_stack(caller, nr, args, may_not_return, run);
    SyscallResult result = trace_call(caller, nr, args, *c, may_not_return, &slot, run);
    tracer::release_call(slot); /* unless exit gave it back (-1) */
    return result;
}

}  // namespace

SyscallResult trace_dispatch(Caller caller, long nr, const long args[6]) {
    const ShownCall run = {nr, {args[0], args[1], args[2], args[3], args[4], args[5]}};
    return trace_shown(caller, nr, args, run);
}

SyscallResult trace_dispatch_shown(Caller caller, const ShownCall& shown, long nr, const long args[6]) {
    const ShownCall run = {nr, {args[0], args[1], args[2], args[3], args[4], args[5]}};
    return trace_shown(caller, shown.nr, shown.args, run);
}

LIBOS_STARTUP bool trace_wants_stacks() {
    return g_stacks;
}

void set_source_resolver(LibosUnwindSource resolver) {
    g_source = resolver;
}

void set_unwinder(LibosUnwindBacktrace u) {
    g_unwinder = u;
}

LibosUnwindBacktrace unwinder() {
    return g_unwinder;
}

bool trace_environment(const char** names, const char** values, size_t* count, size_t max) {
    *count = 0;
    if (!g_tracing || max < kTraceVariables)
        return false;
    static const char* const kNames[kTraceVariables] = {kEnvTrace,       kEnvTraceStack,  kEnvTraceFormat,
                                                        kEnvStats,       kEnvTraceFilter, kEnvTraceTime,
                                                        kEnvTracePerProcess, kEnvStatsFd, kEnvTraceExec,
                                                        kEnvStatsOuterFd};
    const char* vals[kTraceVariables] = {g_lines ? (g_trace_path[0] ? g_trace_path : "stderr") : nullptr,
                                         g_stacks ? "1" : nullptr,
                                         g_format[0] ? g_format : nullptr,
                                         g_stats ? (g_stats_per_process ? "per-process" : "1") : nullptr,
                                         g_filter_text[0] ? g_filter_text : nullptr,
                                         g_time_text[0] ? g_time_text : nullptr,
                                         g_per_process ? "1" : nullptr,
                                         g_stats ? tracer::stats_fd_text() : nullptr,
                                         t_exec_line && t_exec_line_pid == PalProcessGetId() ? t_exec_line : nullptr,
                                         tracer::stats_outer_text()};
    for (size_t i = 0; i < kTraceVariables; ++i) {
        if (!vals[i])
            continue;
        names[*count] = kNames[i];
        values[*count] = vals[i];
        ++*count;
    }
    return true;
}

void trace_spawn_exec(const char* path, char* const argv[], char* const envp[]) {
    if (t_in_trace || !trace_filter_has(g_filter, SYS_execve))
        return;
    /* Counted as the exec it is, as strace -c -f counts the child's execve. */
    if (g_counting)
        tracer::stats_add(SYS_execve, 0, false, true);
    if (!g_lines)
        return;
    int call_slot;
    Call* c = tracer::claim_call(&call_slot);
    if (!c)
        return;
    const int slot = claim_line_buffer();
    if (slot >= 0) {
        const Caller caller = Caller::self();
        c->nr = SYS_execve;
        c->args[0] = reinterpret_cast<long>(path);
        c->args[1] = reinterpret_cast<long>(argv);
        c->args[2] = reinterpret_cast<long>(envp);
        if (path)
            c->have_path = tracer::read_string(caller, c->args[0], c->path, sizeof(c->path), &c->path_cut);
        t_exec_slot = slot;
        prepare_exec_line(caller, c, g_line_buffers[slot], tracer::kLineBytes, true);
    }
    tracer::release_call(call_slot);
}

void trace_exec_line_copied() {
    t_exec_line = nullptr;
    if (t_exec_slot >= 0)
        release_line_buffer(t_exec_slot);
    t_exec_slot = -1;
}

int tracer::output_fd() {
    return g_trace_fd >= 0 ? g_trace_fd : 2;
}

bool tracer::stats_on() {
    return g_stats;
}

bool tracer::json_on() {
    return g_json;
}

}  // namespace libos
