/* What the parts of the tracer share (libos_trace.cpp: the lines; libos_trace_stats.cpp: the
 * summary). Not for other files: libos_trace.h is the tracer's interface. */
#ifndef LIBOS_TRACE_INTERNAL_H
#define LIBOS_TRACE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "libos/libos_text.h"

namespace libos::tracer {

/* A trace line: built whole, then written with one write(2). */
using Line = FixedText<4096>;
/* What a line keeps free for its end while frames are added. */
constexpr size_t kLineReserve = 16;

/* Where the lines and the summary go: the trace's descriptor, or standard error. */
int output_fd();
/* Whether the summary is wanted (LIBOS_STATS), and in JSON. */
bool stats_on();
bool json_on();
/* Counts one call of `nr` that took `nanoseconds` for the summary. */
void stats_add(long nr, uint64_t nanoseconds, bool failed);

}  // namespace libos::tracer

#endif
