/* Tracing: one line per call routed through the table, in strace's style or as JSON, with the
 * caller's stack on request, and a per-syscall summary at exit; and the report of a crash inside the
 * LibOS itself.
 *
 * Configuration (read by init; the launcher's --trace, --trace-stack, --trace-format and --stats set
 * these; libos_settings.h reads the values and refuses any other):
 *   LIBOS_TRACE=FILE       trace to FILE (appended; every process of the launch writes whole lines);
 *                          "", "1" or "stderr": to standard error; "0": off
 *   LIBOS_TRACE_STACK=1    after each line, the caller's stack (libunwind, loaded on demand); 0: off
 *   LIBOS_TRACE_FORMAT=json  one JSON object per line instead of text (the other value)
 *   LIBOS_STATS=1          one summary per syscall (calls, errors, time) for the launch, printed when its
 *                          first process exits; per-process: one per process, at its exit; 0: off
 *   LIBOS_STATS_FD=N       the launch's counts (a memfd), written by the shim at exec
 *   LIBOS_TRACE_FILTER=LIST  only these calls and classes (libos_trace_filter.h)
 *   LIBOS_TRACE_TIME=wall|wall-us|relative|none  a timestamp on each line (libos_settings.h)
 *   LIBOS_TRACE_PER_PROCESS=1  each process appends to FILE.<pid> instead of FILE
 * LIBOS_TRACE_STACK=1, LIBOS_TRACE_FORMAT, LIBOS_TRACE_FILTER, LIBOS_TRACE_TIME and
 * LIBOS_TRACE_PER_PROCESS=1 without LIBOS_TRACE trace to standard error, as their options imply --trace.
 * When none is set, the only cost on any path is one predictable branch in libos::dispatch. */
#ifndef LIBOS_TRACE_H
#define LIBOS_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "libos/libos_caller.h"
#include "libos_unwind.h"

namespace libos {

struct ConfigError;

/* True when any call must go through trace_dispatch. Set once, at init. A build without tracing
 * (meson -Dtracing=false) makes it a constant, and the branch on it disappears. */
#ifdef LIBOS_NO_TRACING
constexpr bool g_tracing = false;
#else
extern bool g_tracing;
#endif

/* Reads the tracing configuration from the environment and opens the trace's file; called by
 * init(). False, with the line that refuses the process in `err`, for a value outside the documented
 * ones (libos_settings.h) or a file that cannot be opened. */
bool trace_init(ConfigError* err);

/* dispatch_for with tracing: runs the call through the table for `caller`, and records and prints
 * it. */
SyscallResult trace_dispatch(Caller caller, long nr, const long args[6]);
/* The same for a call shown as another (dispatch_shown): `shown` is traced, filtered and counted,
 * `nr` with `args` runs. */
struct ShownCall;
SyscallResult trace_dispatch_shown(Caller caller, const ShownCall& shown, long nr, const long args[6]);

/* Whether stacks were asked for, and the unwinder the shim loaded for them (or for a crash). */
bool trace_wants_stacks();
void set_unwinder(LibosUnwindBacktrace unwinder);
LibosUnwindBacktrace unwinder();
/* The unwinder's file:line lookup (null in a build without libdw). */
void set_source_resolver(LibosUnwindSource resolver);

/* The address ranges of the LibOS's own code (libshim.so, libpal.so, libos_unwind.so), so that
 * stacks start at the program's frames and a crash can be told apart from the program's own. */
void add_own_code(uintptr_t start, uintptr_t end);
bool is_own_code(uintptr_t address);

/* In a fork child: starts the summary's counts over and, with one file per process, opens the
 * child's own. */
void trace_after_fork();

/* Prints the summary (LIBOS_STATS) of this process; at exit, and before an exec. */
void trace_finish();
/* Starts the counts over: in a fork child, whose summary is its own calls, and after an exec's
 * summary. */
void trace_reset_stats();

/* How many variables trace_environment may give, and the JSON lines' "v" (docs/tracing.md). */
constexpr size_t kTraceVariables = 10;
constexpr unsigned kTraceJsonVersion = 1;

/* The names and values the shim puts back into a child's environment at exec while tracing. */
bool trace_environment(const char** names, const char** values, size_t* count, size_t max);
/* The exec handler has copied trace_environment's values into the new environment: the exec's
 * line is no longer needed, and its buffer is given back before the exec (which, in a vfork
 * child, never returns to give it back). */
void trace_exec_line_copied();
/* posix_spawn's exec, which glibc makes itself, not through the table: its line, formatted now as an
 * execve of `path` (the program posix_spawnp found), travels to the new program, which prints it
 * with = 0 as it starts, as an exec through the table does. trace_exec_line_copied gives it up. */
void trace_spawn_exec(const char* path, char* const argv[], char* const envp[]);

/* A fault whose instruction is in the LibOS's own code: one line naming the signal, the address and
 * the function, and the stack, to standard error. The caller then lets the signal kill the process. */
void report_own_crash(int sig, void* info, void* ucontext);

}  // namespace libos

#endif
