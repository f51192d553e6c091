/* Which calls the trace shows (LIBOS_TRACE_FILTER, --trace-filter=LIST), read by the shim and the
 * launcher alike so that both accept and refuse the same lists with the same line.
 *
 * A list is tokens separated by commas: a system call's name as the syscall list has it
 * (sched_setaffinity, openat), or a class, in strace's -e trace= manner:
 *   %cpu      the calls about CPUs: sched_setaffinity, sched_getaffinity, getcpu
 *   %numa     the memory-policy calls: set_mempolicy, get_mempolicy, mbind, migrate_pages, move_pages,
 *             set_mempolicy_home_node
 *   %file     the calls that take a file name (strace 6.1's %file)
 *   %process  the calls that create, exec, end or wait for processes, and send them signals (strace's)
 *   %memory   the calls that map memory or change its protection or policy (strace's)
 *   %signal   the calls about signals (strace's)
 * A leading '!' takes the complement ("!%memory": everything but the memory calls). Null or empty:
 * every call. Any other token is refused, naming it. A call outside the filter makes no line and no
 * row in the summary (as with strace -c -e trace=), and costs one bit test. */
#ifndef LIBOS_TRACE_FILTER_H
#define LIBOS_TRACE_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "libos/libos_config.h"

namespace libos {

/* One bit per system call number below kTraceFilterCalls; numbers above are traced only without a
 * filter or with a '!' list. */
constexpr size_t kTraceFilterCalls = 512;
/* The longest list taken (it travels in the environment of every exec). */
constexpr size_t kTraceFilterTextMax = 500;

struct TraceFilter {
    uint64_t words[kTraceFilterCalls / 64];
    bool everything;  /* no filter, or numbers beyond the bits are in */
};

/* Reads a filter list; null or empty: every call. */
bool parse_trace_filter(const char* setting, const char* text, TraceFilter* filter, ConfigError* err);

inline bool trace_filter_has(const TraceFilter& f, long nr) {
    if (static_cast<unsigned long>(nr) >= kTraceFilterCalls)
        return f.everything;
    return f.words[nr / 64] >> (nr % 64) & 1;
}

}  // namespace libos

#endif
