/* The tracer's summary (LIBOS_STATS, --stats): per system call, the calls, the failures and the time,
 * sorted by time and printed as strace -c prints it. Counted with relaxed atomics: no lock, no
 * allocation.
 *
 * One summary for the launch (LIBOS_STATS=1): the counts live in a memfd that the first process
 * creates and every process of the launch maps, inherited across fork and exec (its descriptor,
 * high and not close-on-exec, travels in LIBOS_STATS_FD). The process that created it prints the
 * table when it exits, with the calls of every process counted by then (make waits for its jobs;
 * a process still running after it is left out). Without a memfd, or with
 * LIBOS_STATS=per-process, each process counts in its own table and prints it when it exits and
 * before it execs. */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <atomic>

#include "libos/libos_table.h"
#include "libos/libos_threads.h"
#include "libos/libos_trace.h"
#include "libos/libos_sections.h"
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
LIBOS_LARGE_BSS constinit Stat g_own_table[kStatSlots] = {};

/* The launch's counts, in the memfd every process of the launch maps. */
constexpr uint32_t kSharedMagic = 0x5354534c; /* "LSTS" */
struct SharedStats {
    uint32_t magic;
    uint32_t slots;
    int64_t root; /* the process that created it, which prints the launch's summary */
    Stat table[kStatSlots];
};

/* Where calls are counted: this process's own table, or the launch's. */
constinit Stat* g_stats_table = g_own_table;
/* The tables of the launches this one runs inside (a libos-run --stats that started this launch,
 * through LIBOS_STATS_OUTER_FD): each call is counted there too, as strace -f -c counts a nested
 * program's calls, and each is printed by its own first process. */
constexpr int kOuterMax = 4;
constinit SharedStats* g_outer[kOuterMax] = {};
constinit int g_outer_count = 0;
constinit char g_outer_text[kOuterMax * 12] = {};
constinit SharedStats* g_shared = nullptr;
constinit int g_shared_fd = -1;
constinit char g_shared_fd_text[16] = {};
/* Where the launch's descriptor goes: out of the programs' way, near the trace's. */
constexpr int kStatsFdFloor = 950;

/* The launch's counts behind `fd`, mapped; null when it is not such a file. */
SharedStats* map_shared(int fd) {
    struct stat st;
    if (PalFileStat(fd, &st) < 0 || static_cast<size_t>(st.st_size) != sizeof(SharedStats))
        return nullptr;
    if (PalFileSeal(fd, F_SEAL_SHRINK) < 0)
        return nullptr;
    void* base;
    if (PalMemoryMapShared(fd, sizeof(SharedStats), &base) < 0)
        return nullptr;
    auto* shared = static_cast<SharedStats*>(base);
    if (shared->magic != kSharedMagic || shared->slots != kStatSlots) {
        PalMemoryFree(base, sizeof(SharedStats));
        return nullptr;
    }
    return shared;
}

/* Maps the launch's counts behind `fd`; false when it is not such a file. */
bool attach(int fd) {
    struct stat st;
    if (PalFileStat(fd, &st) < 0 || static_cast<size_t>(st.st_size) != sizeof(SharedStats))
        return false;
    /* Only a memfd that can no longer shrink (the launch's is sealed so): a file that a process could
     * truncate would fault the next count (SIGBUS). Any other file refuses the seal. */
    if (PalFileSeal(fd, F_SEAL_SHRINK) < 0)
        return false;
    void* base;
    if (PalMemoryMapShared(fd, sizeof(SharedStats), &base) < 0)
        return false;
    auto* shared = static_cast<SharedStats*>(base);
    if (shared->magic != kSharedMagic || shared->slots != kStatSlots) {
        PalMemoryFree(base, sizeof(SharedStats));
        return false;
    }
    g_shared = shared;
    g_stats_table = shared->table;
    g_shared_fd = fd;
    format_decimal(g_shared_fd_text, static_cast<uint64_t>(fd));
    return true;
}

/* Creates the launch's counts, with this process as their root; false when it cannot (the
 * process then counts alone). */
bool create() {
    long created = PalMemfdCreate("libos-vcpu-stats", MFD_ALLOW_SEALING);
    if (created < 0)
        return false;
    int fd = static_cast<int>(created);
    void* base;
    /* Its size is sealed: no process of the launch can truncate the counts under the others. */
    if (PalFileTruncate(fd, sizeof(SharedStats)) < 0 || PalFileSeal(fd, F_SEAL_SHRINK | F_SEAL_GROW) < 0) {
        PalFileClose(fd);
        return false;
    }
    if (long high = PalFileMoveHigh(fd, kStatsFdFloor, false); high >= 0)
        fd = static_cast<int>(high);
    if (PalMemoryMapShared(fd, sizeof(SharedStats), &base) < 0) {
        PalFileClose(fd);
        return false;
    }
    auto* shared = static_cast<SharedStats*>(base);
    shared->slots = kStatSlots;
    shared->root = PalProcessGetId();
    shared->magic = kSharedMagic;
    g_shared = shared;
    g_stats_table = shared->table;
    g_shared_fd = fd;
    format_decimal(g_shared_fd_text, static_cast<uint64_t>(fd));
    return true;
}

}  // namespace

LIBOS_STARTUP void tracer::stats_outer_init(const char* list) {
    /* "FD[,FD...]", checked by the caller's parse: the enclosing launches' tables; one that is not
     * (any more) such a file is left out quietly, as LIBOS_STATS_FD's is. */
    for (const char* p = list; p && *p && g_outer_count < kOuterMax;) {
        int fd = 0;
        for (; *p >= '0' && *p <= '9'; ++p)
            fd = fd * 10 + (*p - '0');
        if (*p == ',')
            ++p;
        if (fd == g_shared_fd)
            continue;
        if (SharedStats* shared = map_shared(fd)) {
            TextBuilder text(g_outer_text, sizeof(g_outer_text));
            text.add(g_outer_text);
            if (g_outer_count)
                text.ch(',');
            text.num(fd);
            g_outer[g_outer_count++] = shared;
        }
    }
}

LIBOS_STARTUP const char* tracer::stats_outer_text() {
    return g_outer_count ? g_outer_text : nullptr;
}

void tracer::stats_init(int inherited_fd, bool per_process) {
    if (per_process)
        return;
    if (inherited_fd >= 0 && attach(inherited_fd))
        return;
    create();
}

const char* tracer::stats_fd_text() {
    return g_shared ? g_shared_fd_text : nullptr;
}

void tracer::stats_before_exec() {
    /* The launch's table goes on in the exec'd program; a process's own is printed now, since exec
     * replaces the exit that would print it. */
    if (g_shared)
        return;
    /* A vfork child (posix_spawn) runs in its parent's memory: the table is the parent's, to print
     * at the parent's exit, not the child's to print and clear. */
    if (in_parent_memory())
        return;
    /* A table of exec attempts alone, some failed (execvp's through PATH, after the first, which
     * printed the program's table), is left as it is: printed at exit if the process goes on, dropped with the
     * process image if one of them succeeds. So an execvp prints one table, as an execve does. */
    bool other_calls = false;
    for (size_t nr = 0; nr < kStatSlots && !other_calls; ++nr)
        other_calls = nr != SYS_execve && nr != SYS_execveat && g_own_table[nr].calls.load(std::memory_order_relaxed);
    const bool failed_attempts = g_own_table[SYS_execve].errors.load(std::memory_order_relaxed) ||
                                 g_own_table[SYS_execveat].errors.load(std::memory_order_relaxed);
    if (!other_calls && failed_attempts)
        return;
    trace_finish();
    trace_reset_stats();
}

void tracer::stats_at_exit_group() {
    if (in_parent_memory())
        return;
    trace_finish();
}

namespace {
void count(Stat& s, uint64_t nanoseconds, bool failed, bool call) {
    if (call)
        s.calls.fetch_add(1, std::memory_order_relaxed);
    s.nanoseconds.fetch_add(nanoseconds, std::memory_order_relaxed);
    if (failed)
        s.errors.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

void tracer::stats_add(long nr, uint64_t nanoseconds, bool failed, bool call) {
    if (static_cast<unsigned long>(nr) >= kStatSlots)
        return;
    if (stats_on())
        count(g_stats_table[nr], nanoseconds, failed, call);
    for (int i = 0; i < g_outer_count; ++i)
        count(g_outer[i]->table[nr], nanoseconds, failed, call);
}

void trace_reset_stats() {
    if (g_shared)
        return; /* a fork child goes on counting in the launch's table */
    for (Stat& st : g_own_table) {
        st.calls.store(0, std::memory_order_relaxed);
        st.errors.store(0, std::memory_order_relaxed);
        st.nanoseconds.store(0, std::memory_order_relaxed);
    }
}

namespace {
void print_table(const Stat* table, const SharedStats* shared, bool enclosing = false);
}  // namespace

void trace_finish() {
    const long pid = PalProcessGetId();
    if (tracer::stats_on())
        print_table(g_stats_table, g_shared);
    /* An enclosing launch's, after this launch's, when this process is its first one too (the
     * enclosing launch's program exec'd libos-run, which exec'd this one). */
    for (int i = 0; i < g_outer_count; ++i)
        if (g_outer[i]->root == pid)
            print_table(g_outer[i]->table, g_outer[i], true);
}

namespace {
void print_table(const Stat* table, const SharedStats* shared, bool enclosing) {
    long pid = PalProcessGetId();
    if (shared && shared->root != pid)
        return; /* the launch's summary is its first process's to print */
    uint64_t total_ns = 0, total_calls = 0, total_errors = 0;
    for (size_t nr = 0; nr < kStatSlots; ++nr) {
        const Stat& s = table[nr];
        total_ns += s.nanoseconds.load(std::memory_order_relaxed);
        total_calls += s.calls.load(std::memory_order_relaxed);
        total_errors += s.errors.load(std::memory_order_relaxed);
    }
    /* A process's own table with nothing in it (a fork child that only execs) is not printed: the
     * launch's always is, as strace -c prints its table. */
    if (!shared && total_calls == 0)
        return;
    /* The rows by time, the longest first, as strace -c sorts them (then by number). */
    uint16_t order[kStatSlots];
    uint64_t times[kStatSlots];
    size_t rows = 0;
    for (size_t nr = 0; nr < kStatSlots; ++nr) {
        if (!table[nr].calls.load(std::memory_order_relaxed))
            continue;
        uint64_t ns = table[nr].nanoseconds.load(std::memory_order_relaxed);
        size_t at = rows++;
        while (at > 0 && times[at - 1] < ns) {
            order[at] = order[at - 1];
            times[at] = times[at - 1];
            --at;
        }
        order[at] = static_cast<uint16_t>(nr);
        times[at] = ns;
    }
    int fd = tracer::output_fd();
    if (tracer::json_on()) {
        Line line;
        line.add("{\"v\":").unum(kTraceJsonVersion).add(",\"pid\":").num(pid).add(",\"scope\":\"")
            .add(enclosing ? "enclosing" : shared ? "launch" : "process").add("\",\"stats\":[");
        bool first = true;
        for (size_t row = 0; row < rows; ++row) {
            const size_t nr = order[row];
            const Stat& s = table[nr];
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
    head.add(enclosing ? "libos: summary for the enclosing launch of pid "
                       : shared ? "libos: summary for the launch of pid " : "libos: summary for pid ").num(pid).add("\n% time     seconds  usecs/call     calls    errors syscall\n")
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
    for (size_t row = 0; row < rows; ++row) {
        const size_t nr = order[row];
        const Stat& s = table[nr];
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

}  // namespace

}  // namespace libos
