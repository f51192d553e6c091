/* What the parts of the tracer share (libos_trace.cpp: the lines; libos_trace_stats.cpp: the
 * summary). Not for other files: libos_trace.h is the tracer's interface. */
#ifndef LIBOS_TRACE_INTERNAL_H
#define LIBOS_TRACE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "libos/libos_config.h"
#include "libos/libos_text.h"
#include "libos_unwind.h"

namespace libos::tracer {

/* A trace line: built whole, then written with one write(2). */
constexpr size_t kLineBytes = 4096;
using Line = FixedText<kLineBytes>;
/* What a line keeps free for its end while frames are added. */
constexpr size_t kLineReserve = 16;

/* One call, as the tracer saw it: what the line shows. */
struct Call {
    long nr;
    long args[6];
    long result;
    uint64_t nanoseconds;
    uint64_t start, wall, previous; /* monotonic and realtime starts; the process's previous call's start */
    char path[256], path2[256];     /* the first two string arguments ('s' in the syscall list) */
    bool have_path, have_path2;
    /* One call has a CPU mask or node masks, never both: they share the storage (a Call is on the
     * stack of the traced call, which may be a signal handler's). */
    union {
        CpuBits mask; /* sched_*affinity: the mask set or got */
        /* The memory-policy calls: the node mask set or got (migrate_pages: the old nodes), as a CPU
         * list of node numbers so that it prints like the CPU masks. */
        CpuBits nodes;
    };
    bool have_mask;
    unsigned cpu, node;
    bool have_cpu;
    CpuBits nodes2; /* migrate_pages' new nodes */
    bool have_nodes, have_nodes2;
};

/* The arguments of `c`: as many as the syscall list's letters say, decoded (libos_trace_args.cpp),
 * separated by ", " in text, or as the JSON values of an array (without its brackets). */
void add_arguments(TextBuilder& line, const Call& c, bool json);
/* How many arguments `c` shows. */
int argument_count(const Call& c);
/* Which argument holds the `which`-th (0 or 1) string of call `nr`; -1 for none. */
int string_argument(long nr, int which);

/* Where the lines and the summary go: the trace's descriptor, or standard error. */
int output_fd();
/* Whether the summary is wanted (LIBOS_STATS), and in JSON. */
bool stats_on();
bool json_on();
/* Sets up the summary's counts: the launch's (attached through `inherited_fd`, LIBOS_STATS_FD, or
 * created), or this process's own with `per_process` or when no memfd can be had. */
void stats_init(int inherited_fd, bool per_process);
/* The launch's counts' descriptor, as text for LIBOS_STATS_FD at exec; null when there are none. */
const char* stats_fd_text();
/* Before an exec: a process's own summary is printed and started over; the launch's goes on. */
void stats_before_exec();
/* Counts for the summary one call of `nr` (unless `call` is false: the call was counted before it
 * ran) that took `nanoseconds`, and its failure. */
void stats_add(long nr, uint64_t nanoseconds, bool failed, bool call = true);

/* The calling thread's stack, its LibOS frames left out, as frame lines (text) or the elements of
 * the "stack" array (JSON); `source_of` (null without libdw) adds each frame's file:line. */
void add_stack(TextBuilder& line, bool json, LibosUnwindBacktrace unwinder, LibosUnwindSource source_of);

}  // namespace libos::tracer

#endif
