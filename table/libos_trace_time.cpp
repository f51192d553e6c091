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

/* A time in seconds since the epoch as strace prints it after a timestamp: 2024-01-31T13:05:09.000000002+0000,
 * in UTC (as add_timestamp: strace shows the local zone, the same on a machine kept in UTC). */
void add_datetime(TextBuilder& line, int64_t seconds, int64_t nanoseconds) {
    int64_t days = seconds / 86400, rest = seconds % 86400;
    if (rest < 0) {
        rest += 86400;
        --days;
    }
    /* The proleptic Gregorian date of a day number, by 400-year eras (days from 0000-03-01). */
    days += 719468;
    const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const int64_t of_era = days - era * 146097;
    const int64_t year_of_era = (of_era - of_era / 1460 + of_era / 36524 - of_era / 146096) / 365;
    const int64_t of_year = of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    const int64_t month_index = (5 * of_year + 2) / 153;
    const int64_t day = of_year - (153 * month_index + 2) / 5 + 1;
    const int64_t month = month_index < 10 ? month_index + 3 : month_index - 9;
    const int64_t year = year_of_era + era * 400 + (month <= 2);
    auto two = [&](int64_t v) { line.ch(static_cast<char>('0' + v / 10)).ch(static_cast<char>('0' + v % 10)); };
    if (year >= 0 && year < 1000)
        line.add(year < 10 ? "000" : year < 100 ? "00" : "0");
    line.num(year).ch('-');
    two(month);
    line.ch('-');
    two(day);
    line.ch('T');
    two(rest / 3600);
    line.ch(':');
    two(rest / 60 % 60);
    line.ch(':');
    two(rest % 60);
    line.ch('.');
    char d[9];
    uint64_t ns = static_cast<uint64_t>(nanoseconds);
    for (int i = 8; i >= 0; --i, ns /= 10)
        d[i] = static_cast<char>('0' + ns % 10);
    line.add(d, 9).add("+0000");
}

}  // namespace libos::tracer
