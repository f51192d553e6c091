/* The trace's times (libos_trace_internal.h): strace's -t, -tt and -r timestamps, and the seconds of
 * its -T durations. */
#include "libos/libos_settings.h"
#include "libos_trace_internal.h"

namespace libos::tracer {

/* `ns` as seconds with `decimals` (3 or 6) decimals, the whole seconds padded to `width`. */
void add_seconds(TextBuilder& line, uint64_t ns, int width, int decimals) {
    char d[24];
    size_t n = format_decimal(d, ns / 1000000000ull);
    for (size_t i = n; i < static_cast<size_t>(width); ++i)
        line.ch(' ');
    line.add(d, n).ch('.');
    uint64_t frac = ns % 1000000000ull;
    for (int i = 0; i < 9 - decimals; ++i)
        frac /= 10;
    for (int i = decimals - 1; i >= 0; --i) {
        d[i] = static_cast<char>('0' + frac % 10);
        frac /= 10;
    }
    line.add(d, static_cast<size_t>(decimals));
}

/* The timestamp of a call that began at `wall` (realtime) and `start` (monotonic), as strace's -t,
 * -tt or -r prints it. Wall time is UTC: the local zone would need libc's tzset, which allocates. */
void add_timestamp(TextBuilder& line, TraceTime time, uint64_t wall, uint64_t start, uint64_t previous) {
    if (time == TraceTime::kRelative) {
        add_seconds(line, previous && start > previous ? start - previous : 0, 6, 6);
        return;
    }
    uint64_t day = wall / 1000000000ull % 86400;
    const unsigned parts[] = {static_cast<unsigned>(day / 3600), static_cast<unsigned>(day / 60 % 60),
                              static_cast<unsigned>(day % 60)};
    for (int i = 0; i < 3; ++i) {
        if (i)
            line.ch(':');
        line.ch(static_cast<char>('0' + parts[i] / 10)).ch(static_cast<char>('0' + parts[i] % 10));
    }
    if (time == TraceTime::kWallUs) {
        char d[6];
        uint64_t us = wall / 1000 % 1000000;
        for (int i = 5; i >= 0; --i) {
            d[i] = static_cast<char>('0' + us % 10);
            us /= 10;
        }
        line.ch('.').add(d, 6);
    }
}

}  // namespace libos::tracer
