/* The tracer's summary (LIBOS_STATS, --stats): per system call, the calls, the failures and the time,
 * printed as strace -c prints it when the process exits or execs. Counted with relaxed atomics: no
 * lock, no allocation. */
#include <atomic>

#include "libos/libos_table.h"
#include "libos/libos_trace.h"
#include "libos_trace_internal.h"
#include "pal/pal.h"

namespace libos {

using tracer::kLineReserve;
using tracer::Line;

namespace {

/* Per syscall number: calls, failures and nanoseconds, for LIBOS_STATS. */
constexpr size_t kStatSlots = 512;
struct Stat {
    std::atomic<uint64_t> calls, errors, nanoseconds;
};
constinit Stat g_stats_table[kStatSlots] = {};

}  // namespace

void tracer::stats_add(long nr, uint64_t nanoseconds, bool failed) {
    if (static_cast<unsigned long>(nr) >= kStatSlots)
        return;
    Stat& s = g_stats_table[nr];
    s.calls.fetch_add(1, std::memory_order_relaxed);
    s.nanoseconds.fetch_add(nanoseconds, std::memory_order_relaxed);
    if (failed)
        s.errors.fetch_add(1, std::memory_order_relaxed);
}

void trace_reset_stats() {
    for (Stat& st : g_stats_table) {
        st.calls.store(0, std::memory_order_relaxed);
        st.errors.store(0, std::memory_order_relaxed);
        st.nanoseconds.store(0, std::memory_order_relaxed);
    }
}

void trace_finish() {
    if (!tracer::stats_on())
        return;
    uint64_t total_ns = 0, total_calls = 0, total_errors = 0;
    for (const Stat& s : g_stats_table) {
        total_ns += s.nanoseconds.load(std::memory_order_relaxed);
        total_calls += s.calls.load(std::memory_order_relaxed);
        total_errors += s.errors.load(std::memory_order_relaxed);
    }
    long pid = PalProcessGetId();
    int fd = tracer::output_fd();
    if (tracer::json_on()) {
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
    /* The rows by time, the longest first, as strace -c sorts them (then by number). */
    uint16_t order[kStatSlots];
    uint64_t times[kStatSlots];
    size_t rows = 0;
    for (size_t nr = 0; nr < kStatSlots; ++nr) {
        if (!g_stats_table[nr].calls.load(std::memory_order_relaxed))
            continue;
        uint64_t ns = g_stats_table[nr].nanoseconds.load(std::memory_order_relaxed);
        size_t at = rows++;
        while (at > 0 && times[at - 1] < ns) {
            order[at] = order[at - 1];
            times[at] = times[at - 1];
            --at;
        }
        order[at] = static_cast<uint16_t>(nr);
        times[at] = ns;
    }
    for (size_t row = 0; row < rows; ++row) {
        const size_t nr = order[row];
        const Stat& s = g_stats_table[nr];
        uint64_t calls = s.calls.load(std::memory_order_relaxed);
        if (!calls)
            continue;
        uint64_t ns = times[row];
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

}  // namespace libos
