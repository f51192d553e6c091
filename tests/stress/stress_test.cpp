/* Stress: many threads set, get and ask getcpu at once, while other threads read and write their
 * masks and the process forks; no crash, no deadlock, no torn masks.
 *
 * The same source runs natively (the reference: the host kernel), under the shim on virtual
 * machines of several sizes, and built with -fsanitize=thread under the shim (tests/stress/meson.build).
 *
 * How a torn mask is recognised. Every mask any thread of the test ever writes is one of a small
 * "family": a 64-bit pattern repeated in every word of the mask, cut to the CPUs the process was
 * started with. On a machine of more than 64 CPUs the mask spans several words, and a read that
 * mixes the words of two writes (half old, half new) gives a mask of no pattern: it is not in the
 * family. So every mask that is read must be a member of the family, exactly; masks read by the
 * thread that is the only writer of them must be exactly the one it wrote.
 *
 * Roles (16 threads: 5 pinners, 3 targets, 2 of each other role, all running together for
 * STRESS_SECONDS, default 1.5 s; the vCPU -> host CPU map the host checks use is measured first, by
 * pinning to each CPU alone and reading the host affinity with a raw system call):
 *   pinner   pins itself to family masks and reads its mask back (three ways: sched_getaffinity(0),
 *            sched_getaffinity(own tid), pthread_getaffinity_np(self)): exactly what it set, since it
 *            is the only writer; sched_getcpu() and getcpu() inside that mask; the host affinity
 *            (a raw syscall, beneath the shim) is the mask's host CPUs.
 *   target   its mask is written by the setters and by itself; every read is a family member;
 *            sched_getcpu() is a CPU of the machine.
 *   setter   writes targets' masks (pthread_setaffinity_np, sched_setaffinity(tid)).
 *   observer reads every other thread's mask (pthread_getaffinity_np, sched_getaffinity(tid)),
 *            those of short-lived threads and of fork children while they are known to be alive:
 *            each read succeeds and is a family member.
 *   forker   pins itself, forks, and at once pins itself to another mask (a child must still have
 *            the mask of the moment of fork). The child checks its mask, getcpu, the host affinity,
 *            reads a pinner's mask across the process boundary, pins itself, and waits; the parent
 *            reads the child's mask by pid (exactly what the child set), releases it, and checks
 *            that the child exited with status 0.
 *   spawner  pins itself and creates short-lived threads, half of them with an affinity attribute;
 *            each checks it starts with exactly the mask it should (inherited or the attribute's).
 * When the writers have stopped, every thread checks once more that its mask is a family member and,
 * except the targets, that its virtual mask and the host affinity agree and that getcpu answers the
 * vCPU of the host CPU it runs on.
 *
 * ObserversSeeOldOrNewMask runs the same for half as long with one more check: a pinner's mask read
 * by an observer while the pinner changes it from A to B is A or B (Linux changes it atomically),
 * and exactly A when no change overlapped the read.
 *
 * ConcurrentWritersKeepHostInStep is that last check for a thread whose mask several threads write
 * at once (Linux: the last sched_setaffinity wins, for the mask and for where the thread runs), plus
 * the thread's own view of its mask against another thread's view of it.
 *
 * A watchdog thread turns a deadlock into a failure with a message (which thread, doing what);
 * every fork child arms alarm(60), so a child that hangs is killed and reported.
 *
 * STRESS_EXPECT_VCPUS=N (set by meson for the runs under the shim) checks that the shim really
 * serves the program (sysconf(_SC_NPROCESSORS_CONF) == N), so that a run that silently fell back
 * to the host does not pass for a virtual one.
 *
 * STRESS_INJECT checks the checker (not used by the suite): "torn" makes a setter write a mask made
 * of two family members' words, "hang" blocks a pinner forever, "child-hang" blocks a fork child
 * forever, "child-mask" makes a child pin itself to a mask other than the one the parent expects,
 * "race" has workers increment an unsynchronised counter (for ThreadSanitizer to report). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

/* ---- masks and the family ------------------------------------------------------------------ */

constexpr int kMaxWords = 128; /* 8192 CPUs */

struct Mask {
    uint64_t w[kMaxWords];
};

struct Machine {
    int n = 0;            /* CPUs of the (virtual) machine: sysconf(_SC_NPROCESSORS_CONF) */
    int words = 0;        /* words of a mask of n CPUs */
    int buf_words = 0;    /* words passed to the calls (at least 16: 1024 CPUs, for the host) */
    size_t bytes = 0;     /* buf_words * 8 */
    Mask allowed{};       /* the mask the process started with */
    std::vector<Mask> family;
    std::vector<int> host_of; /* CPU v -> the host CPU it runs on (-1: unknown) */
    bool host_checks = false;
};

Machine g_m;

bool same(const Mask& a, const Mask& b) {
    return memcmp(a.w, b.w, sizeof(uint64_t) * static_cast<size_t>(g_m.buf_words)) == 0;
}

/* The family member `m` is, or -1. */
int family_index(const Mask& m) {
    for (size_t i = 0; i < g_m.family.size(); ++i)
        if (same(m, g_m.family[i]))
            return static_cast<int>(i);
    return -1;
}

bool has_cpu(const Mask& m, int cpu) {
    return cpu >= 0 && cpu < kMaxWords * 64 && ((m.w[cpu / 64] >> (cpu % 64)) & 1);
}

/* "0-3,8" (at most `size` bytes), for messages. */
void format_mask(const Mask& m, char* out, size_t size) {
    size_t len = 0;
    out[0] = '\0';
    for (int c = 0; c < kMaxWords * 64 && len + 24 < size;) {
        if (!has_cpu(m, c)) {
            ++c;
            continue;
        }
        int last = c;
        while (last + 1 < kMaxWords * 64 && has_cpu(m, last + 1))
            ++last;
        len += static_cast<size_t>(snprintf(out + len, size - len, len ? ",%d" : "%d", c));
        if (last > c)
            len += static_cast<size_t>(snprintf(out + len, size - len, "-%d", last));
        c = last + 1;
    }
    if (len + 24 >= size)
        snprintf(out + len, size - len, "...");
}

/* The patterns of the family. Distinct in every full word, so that words of two different members
 * never make a member. */
constexpr uint64_t kPatterns[] = {
    ~0ULL,
    0x5555555555555555ULL,
    0xAAAAAAAAAAAAAAAAULL,
    0x3333333333333333ULL,
    0xCCCCCCCCCCCCCCCCULL,
    0x0F0F0F0F0F0F0F0FULL,
    0xF0F0F0F0F0F0F0F0ULL,
    0x00FF00FF00FF00FFULL,
    0xFF00FF00FF00FF00ULL,
    0x9249249249249249ULL, /* every third CPU from 0 */
    0x2492492492492492ULL, /* ... from 1 */
    0x4924924924924924ULL, /* ... from 2 */
    0x0000000000000001ULL,
    0x0000000000000002ULL,
    0x0000000000000004ULL,
    0x0000000000000006ULL,
    0x8000000000000001ULL,
    0x0123456789ABCDEFULL,
};

void build_family() {
    g_m.family.clear();
    for (uint64_t p : kPatterns) {
        Mask m{};
        bool empty = true;
        for (int i = 0; i < g_m.words; ++i) {
            m.w[i] = p & g_m.allowed.w[i];
            empty = empty && m.w[i] == 0;
        }
        if (!empty && family_index(m) < 0)
            g_m.family.push_back(m);
    }
}

/* A mask that mixes the words of two members (word 0 of `a`, the rest of `b`): what a torn read
 * returns. Not a member when the machine has more than one full word. */
Mask torn_of(const Mask& a, const Mask& b) {
    Mask t = b;
    t.w[0] = a.w[0];
    return t;
}

/* ---- the calls ------------------------------------------------------------------------------ */

/* A raw system call, beneath the shim (which interposes libc's syscall()): the host's own view. */
long raw_syscall3(long nr, long a0, long a1, long a2) {
#if defined(__x86_64__)
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1), "d"(a2) : "rcx", "r11", "memory");
    return ret;
#else
    (void)nr, (void)a0, (void)a1, (void)a2;
    return -ENOSYS;
#endif
}

/* The host affinity of the calling thread, or false. */
bool host_affinity(Mask* out) {
    memset(out, 0, sizeof(*out));
    return raw_syscall3(SYS_sched_getaffinity, 0, static_cast<long>(sizeof(out->w)),
                        reinterpret_cast<long>(out->w)) > 0;
}

/* The host CPU the calling thread runs on, or -1. */
int host_cpu() {
    unsigned cpu = 0;
    return raw_syscall3(SYS_getcpu, reinterpret_cast<long>(&cpu), 0, 0) == 0 ? static_cast<int>(cpu) : -1;
}

/* The host CPUs of mask `m` (through the map measured at the start). */
Mask host_of_mask(const Mask& m) {
    Mask h{};
    for (int v = 0; v < g_m.n; ++v)
        if (has_cpu(m, v) && g_m.host_of[static_cast<size_t>(v)] >= 0) {
            int c = g_m.host_of[static_cast<size_t>(v)];
            h.w[c / 64] |= 1ULL << (c % 64);
        }
    return h;
}

pid_t gettid_() {
    return static_cast<pid_t>(raw_syscall3(SYS_gettid, 0, 0, 0));
}

int set_self(const Mask& m, int how) {
    switch (how % 3) {
    case 0:
        return sched_setaffinity(0, g_m.bytes, reinterpret_cast<const cpu_set_t*>(m.w)) == 0 ? 0 : errno;
    case 1:
        return pthread_setaffinity_np(pthread_self(), g_m.bytes, reinterpret_cast<const cpu_set_t*>(m.w));
    default:
        return sched_setaffinity(gettid_(), g_m.bytes, reinterpret_cast<const cpu_set_t*>(m.w)) == 0 ? 0 : errno;
    }
}

/* Returns 0 or an errno value. Bits past what the call wrote must be zero (the libc convention),
 * so the buffer is filled with garbage first. */
int get_tid(pid_t tid, Mask* out) {
    memset(out, 0xA5, sizeof(*out));
    if (sched_getaffinity(tid, g_m.bytes, reinterpret_cast<cpu_set_t*>(out->w)) != 0)
        return errno;
    memset(out->w + g_m.buf_words, 0, sizeof(uint64_t) * static_cast<size_t>(kMaxWords - g_m.buf_words));
    return 0;
}

int get_thread(pthread_t thread, Mask* out) {
    memset(out, 0xA5, sizeof(*out));
    int ret = pthread_getaffinity_np(thread, g_m.bytes, reinterpret_cast<cpu_set_t*>(out->w));
    memset(out->w + g_m.buf_words, 0, sizeof(uint64_t) * static_cast<size_t>(kMaxWords - g_m.buf_words));
    return ret;
}

int get_self(Mask* out, int how) {
    switch (how % 3) {
    case 0:
        return get_tid(0, out);
    case 1:
        return get_thread(pthread_self(), out);
    default:
        return get_tid(gettid_(), out);
    }
}

/* ---- failures ------------------------------------------------------------------------------- */

std::mutex g_fail_lock;
std::vector<std::string> g_failures;
std::atomic<int> g_failure_count{0};

__attribute__((format(printf, 1, 2))) void fail(const char* fmt, ...) {
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    g_failure_count.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(g_fail_lock);
    if (g_failures.size() < 30)
        g_failures.emplace_back(text);
}

std::string describe(const Mask& m) {
    char text[120];
    format_mask(m, text, sizeof(text));
    char words[160] = "";
    size_t len = 0;
    for (int i = 0; i < g_m.words && i < 4; ++i)
        len += static_cast<size_t>(snprintf(words + len, sizeof(words) - len, "%s%016llx", i ? ":" : "",
                                            static_cast<unsigned long long>(m.w[i])));
    return std::string("{") + text + "} [" + words + "]";
}

/* ---- the workers ---------------------------------------------------------------------------- */

enum Role { kPinner, kTarget, kSetter, kObserver, kForker, kSpawner };
const char* const kRoleNames[] = {"pinner", "target", "setter", "observer", "forker", "spawner"};

/* What a worker is doing, for the watchdog's message. */
enum Op {
    kOpStart, kOpSet, kOpGet, kOpGetcpu, kOpSetOther, kOpGetOther, kOpFork, kOpWaitChild, kOpSpawn, kOpJoin,
    kOpQuiesce, kOpFinalCheck, kOpDone,
};
const char* const kOpNames[] = {
    "starting", "setting its mask", "reading its mask", "getcpu", "setting another thread's mask",
    "reading another thread's mask", "fork", "waiting for a child", "creating a thread", "joining a thread",
    "waiting for the writers to stop", "final check", "done",
};

constexpr int kPinners = 5;
constexpr int kTargets = 3;
constexpr int kSetters = 2;
constexpr int kObservers = 2;
constexpr int kForkers = 2;
constexpr int kSpawners = 2;
constexpr int kWorkers = kPinners + kTargets + kSetters + kObservers + kForkers + kSpawners; /* 16 */
constexpr int kWriters = kSetters + kForkers + kSpawners; /* they stop before the final checks */

struct Worker {
    Role role = kPinner;
    int index = 0;
    pthread_t thread{};
    std::atomic<pid_t> tid{0};
    std::atomic<uint64_t> iterations{0};
    std::atomic<int> op{kOpStart};
    /* A pinner's mask as others may see it: `version` is odd while it changes its mask from family
     * member `current` to `next`. */
    std::atomic<uint64_t> version{0};
    std::atomic<int> current{0};
    std::atomic<int> next{0};
};

/* A thread or child that observers may read while its owner guarantees it is alive: `gen` is odd
 * while `id` is published. */
struct Published {
    std::atomic<uint32_t> gen{0};
    std::atomic<pid_t> id{0};
};

struct StressRun {
    std::array<Worker, kWorkers> workers;
    pid_t main_tid = 0;
    pthread_t main_thread{};
    std::atomic<int> registered{0};
    std::atomic<bool> go{false};
    std::atomic<bool> stop{false};
    std::atomic<int> writers_done{0};
    std::atomic<int> finished{0};
    std::array<Published, kSpawners> ephemeral;
    std::array<Published, kForkers> child;
    std::atomic<uint64_t> forks{0}, spawns{0}, observed{0}, torn{0};
    std::string inject;
    bool exact = false;
};

StressRun* g_run = nullptr;

struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ULL + 1) {}
    uint64_t next() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
    size_t below(size_t n) { return static_cast<size_t>(next() % n); }
};

const Mask& pick(Rng& rng) {
    return g_m.family[rng.below(g_m.family.size())];
}

std::string who(const Worker& w) {
    char text[64];
    snprintf(text, sizeof(text), "%s %d (tid %d)", kRoleNames[w.role], w.index, w.tid.load());
    return text;
}

/* getcpu answers the vCPU of the host CPU the thread runs on: with no migration between two raw
 * readings of the host CPU, sched_getcpu()'s answer must map to it. Retried, since the thread may
 * move between the calls. Returns true if consistent. */
bool getcpu_matches_host(int* vcpu_out, int* host_out) {
    if (!g_m.host_checks)
        return true;
    for (int attempt = 0; attempt < 5; ++attempt) {
        int h1 = host_cpu();
        int v = sched_getcpu();
        int h2 = host_cpu();
        *vcpu_out = v;
        *host_out = h1;
        if (h1 != h2)
            continue;
        if (v >= 0 && v < g_m.n && g_m.host_of[static_cast<size_t>(v)] == h1)
            return true;
        sched_yield();
    }
    return false;
}

/* The checks a thread makes on itself when nobody else writes its mask: its virtual mask is
 * `expected` (or, if null, a family member), the host affinity is that mask's host CPUs, and
 * getcpu agrees with the host. */
void check_self(const Worker* w, const char* label, const Mask* expected, bool host_too = true) {
    std::string who_text = w ? who(*w) : std::string("thread");
    const char* name = who_text.c_str();
    Mask v;
    int ret = get_self(&v, 0);
    if (ret != 0) {
        fail("%s, %s: sched_getaffinity(0) failed: %s", name, label, strerror(ret));
        return;
    }
    if (expected ? !same(v, *expected) : family_index(v) < 0) {
        fail("%s, %s: its mask is %s, expected %s", name, label, describe(v).c_str(),
             expected ? describe(*expected).c_str() : "a family member");
        return;
    }
    if (g_m.host_checks && host_too) {
        Mask host;
        Mask want = host_of_mask(v);
        if (host_affinity(&host) && !same(host, want))
            fail("%s, %s: virtual mask %s but host affinity %s (expected host CPUs %s)", name, label,
                 describe(v).c_str(), describe(host).c_str(), describe(want).c_str());
        int vcpu = -1, hcpu = -1;
        if (!getcpu_matches_host(&vcpu, &hcpu))
            fail("%s, %s: sched_getcpu() = %d but the thread runs on host CPU %d (vCPU %d is on host CPU %d); "
                 "mask %s",
                 name, label, vcpu, hcpu, vcpu, vcpu >= 0 && vcpu < g_m.n ? g_m.host_of[static_cast<size_t>(vcpu)] : -1,
                 describe(v).c_str());
    }
}

/* After the writers stopped. A target's host affinity is left to ConcurrentWritersKeepHostInStep. */
void quiesce_and_check(Worker& w) {
    w.op.store(kOpQuiesce);
    while (g_run->writers_done.load(std::memory_order_acquire) < kWriters)
        usleep(1000);
    w.op.store(kOpFinalCheck);
    check_self(&w, "after the writers stopped", nullptr, w.role != kTarget);
}

/* STRESS_INJECT=race: an unsynchronised counter, for ThreadSanitizer to find. */
long g_injected_race = 0;

void pinner(Worker& w) {
    Rng rng(static_cast<uint64_t>(w.tid.load()) * 31 + 7);
    uint64_t i = 0;
    for (; !g_run->stop.load(std::memory_order_relaxed); ++i) {
        if (g_run->inject == "hang" && w.index == 0) {
            w.op.store(kOpSet);
            for (;;)
                pause();
        }
        const Mask& m = pick(rng);
        w.op.store(kOpSet);
        w.next.store(family_index(m));
        w.version.fetch_add(1);
        int ret = set_self(m, static_cast<int>(i));
        if (ret == 0)
            w.current.store(family_index(m));
        w.version.fetch_add(1);
        if (ret != 0) {
            fail("%s: setting its own mask to %s failed: %s", who(w).c_str(), describe(m).c_str(), strerror(ret));
            continue;
        }
        w.op.store(kOpGet);
        for (int how = 0; how < 3; ++how) {
            Mask got;
            ret = get_self(&got, how + static_cast<int>(i));
            if (ret != 0)
                fail("%s: reading its own mask failed: %s", who(w).c_str(), strerror(ret));
            else if (!same(got, m))
                fail("%s: set its mask to %s, read back %s (%s)", who(w).c_str(), describe(m).c_str(), describe(got).c_str(),
                     family_index(got) < 0 ? "torn: no family member" : "another member: a lost or foreign write");
        }
        w.op.store(kOpGetcpu);
        int cpu = sched_getcpu();
        if (!has_cpu(m, cpu))
            fail("%s: sched_getcpu() = %d, outside its mask %s", who(w).c_str(), cpu, describe(m).c_str());
        unsigned c = ~0u, node = ~0u;
        if (getcpu(&c, &node) != 0)
            fail("%s: getcpu failed: %s", who(w).c_str(), strerror(errno));
        else if (!has_cpu(m, static_cast<int>(c)))
            fail("%s: getcpu() = %u, outside its mask %s", who(w).c_str(), c, describe(m).c_str());
        if (g_m.host_checks && i % 4 == 0) {
            Mask host, want = host_of_mask(m);
            if (host_affinity(&host) && !same(host, want))
                fail("%s: set its mask to %s, host affinity is %s (expected host CPUs %s)", who(w).c_str(),
                     describe(m).c_str(), describe(host).c_str(), describe(want).c_str());
        }
        if (g_run->inject == "race")
            ++g_injected_race;
        w.iterations.fetch_add(1, std::memory_order_relaxed);
    }
    quiesce_and_check(w);
}

void target(Worker& w) {
    Rng rng(static_cast<uint64_t>(w.tid.load()) * 17 + 3);
    for (uint64_t i = 0; !g_run->stop.load(std::memory_order_relaxed); ++i) {
        if (i % 8 == 0) {
            w.op.store(kOpSet);
            const Mask& m = pick(rng);
            int ret = set_self(m, static_cast<int>(i / 8));
            if (ret != 0)
                fail("%s: setting its own mask to %s failed: %s", who(w).c_str(), describe(m).c_str(), strerror(ret));
        }
        w.op.store(kOpGet);
        Mask got;
        int ret = get_self(&got, static_cast<int>(i));
        if (ret != 0)
            fail("%s: reading its own mask failed: %s", who(w).c_str(), strerror(ret));
        else if (family_index(got) < 0) {
            g_run->torn.fetch_add(1);
            fail("%s: read its own mask as %s: no family member (torn)", who(w).c_str(), describe(got).c_str());
        }
        w.op.store(kOpGetcpu);
        int cpu = sched_getcpu();
        if (cpu < 0 || cpu >= g_m.n || !has_cpu(g_m.allowed, cpu))
            fail("%s: sched_getcpu() = %d, not a CPU of the machine (%d CPUs)", who(w).c_str(), cpu, g_m.n);
        w.iterations.fetch_add(1, std::memory_order_relaxed);
    }
    quiesce_and_check(w);
}

void setter(Worker& w) {
    Rng rng(static_cast<uint64_t>(w.tid.load()) * 13 + 5);
    Worker* targets = &g_run->workers[kPinners];
    for (uint64_t i = 0; !g_run->stop.load(std::memory_order_relaxed); ++i) {
        Worker& t = targets[rng.below(kTargets)];
        Mask m = pick(rng);
        if (g_run->inject == "torn" && i % 16 == 0)
            m = torn_of(g_m.family[1], g_m.family[2]);
        w.op.store(kOpSetOther);
        int ret = i % 2 ? pthread_setaffinity_np(t.thread, g_m.bytes, reinterpret_cast<const cpu_set_t*>(m.w))
                        : (sched_setaffinity(t.tid.load(), g_m.bytes, reinterpret_cast<const cpu_set_t*>(m.w)) == 0
                               ? 0
                               : errno);
        if (ret != 0)
            fail("%s: setting the mask of %s to %s failed: %s", who(w).c_str(), who(t).c_str(), describe(m).c_str(), strerror(ret));
        w.iterations.fetch_add(1, std::memory_order_relaxed);
    }
    g_run->writers_done.fetch_add(1, std::memory_order_release);
}

/* Reads a published id while its owner keeps it alive; a read that overlapped the whole window
 * must succeed and be a family member. */
void observe_published(Worker& w, Published& p, const char* what) {
    uint32_t g1 = p.gen.load(std::memory_order_acquire);
    if (!(g1 & 1))
        return;
    pid_t id = p.id.load(std::memory_order_acquire);
    Mask got;
    int ret = get_tid(id, &got);
    if (p.gen.load(std::memory_order_acquire) != g1)
        return; /* it may have gone meanwhile */
    if (ret != 0)
        fail("%s: sched_getaffinity(%s %d) failed: %s", who(w).c_str(), what, id, strerror(ret));
    else if (family_index(got) < 0) {
        g_run->torn.fetch_add(1);
        fail("%s: the mask of %s %d is %s: no family member (torn)", who(w).c_str(), what, id, describe(got).c_str());
    }
    g_run->observed.fetch_add(1, std::memory_order_relaxed);
}

void observer(Worker& w) {
    Rng rng(static_cast<uint64_t>(w.tid.load()) * 7 + 11);
    for (uint64_t i = 0; !g_run->stop.load(std::memory_order_relaxed) ||
                         g_run->writers_done.load(std::memory_order_acquire) < kWriters;
         ++i) {
        size_t k = rng.below(kWorkers + 1);
        Mask got;
        int ret;
        w.op.store(kOpGetOther);
        std::string name;
        if (k == kWorkers) {
            name = "the main thread";
            ret = i % 2 ? get_thread(g_run->main_thread, &got) : get_tid(g_run->main_tid, &got);
        } else {
            Worker& o = g_run->workers[k];
            name = who(o);
            uint64_t v1 = o.version.load();
            int before = o.current.load(), after = o.next.load();
            ret = i % 2 ? get_thread(o.thread, &got) : get_tid(o.tid.load(), &got);
            /* A pinner that did not finish a change during the read has its mask: the one before
             * the change it is making, or the one after. Nothing else (on Linux the change is
             * atomic for everyone). */
            if (g_run->exact && ret == 0 && o.role == kPinner && o.version.load() == v1 &&
                family_index(got) >= 0) {
                bool ok = same(got, g_m.family[static_cast<size_t>(before)]) ||
                          ((v1 & 1) && same(got, g_m.family[static_cast<size_t>(after)]));
                if (!ok)
                    fail("%s: the mask of %s is %s, but it %s %s", who(w).c_str(), name.c_str(), describe(got).c_str(),
                         v1 & 1 ? "was changing it between" : "had",
                         v1 & 1 ? (describe(g_m.family[static_cast<size_t>(before)]) + " and " +
                                   describe(g_m.family[static_cast<size_t>(after)])).c_str()
                                : describe(g_m.family[static_cast<size_t>(before)]).c_str());
            }
        }
        if (ret != 0)
            fail("%s: reading the mask of %s failed: %s", who(w).c_str(), name.c_str(), strerror(ret));
        else if (family_index(got) < 0) {
            g_run->torn.fetch_add(1);
            fail("%s: the mask of %s is %s: no family member (torn)", who(w).c_str(), name.c_str(), describe(got).c_str());
        }
        g_run->observed.fetch_add(1, std::memory_order_relaxed);
        observe_published(w, g_run->ephemeral[i % kSpawners], "short-lived thread");
        observe_published(w, g_run->child[i % kForkers], "fork child");
        if (g_run->inject == "race")
            ++g_injected_race;
        w.iterations.fetch_add(1, std::memory_order_relaxed);
    }
}

/* ---- fork ----------------------------------------------------------------------------------- */

/* What a child found wrong: its exit status. */
enum ChildStatus {
    kChildOk = 0,
    kChildGetFailed = 10,
    kChildWrongMask,
    kChildWrongMaskPthread,
    kChildGetcpuOutside,
    kChildHostDiffers,
    kChildPeerFailed,
    kChildPeerTorn,
    kChildSetFailed,
    kChildReadBackWrong,
    kChildPipe,
    kChildGetcpuHost,
};
const char* child_status_text(int status) {
    switch (status) {
    case kChildGetFailed: return "its sched_getaffinity(0) failed";
    case kChildWrongMask: return "its mask (sched_getaffinity) was not the forking thread's mask at fork";
    case kChildWrongMaskPthread: return "its mask (pthread_getaffinity_np) was not the forking thread's mask at fork";
    case kChildGetcpuOutside: return "sched_getcpu()/getcpu() answered a CPU outside its mask";
    case kChildHostDiffers: return "its host affinity differed from its virtual mask's host CPUs";
    case kChildPeerFailed: return "reading a pinner thread of the parent by tid failed";
    case kChildPeerTorn: return "a pinner thread of the parent, read by tid, had no family mask (torn)";
    case kChildSetFailed: return "pinning itself failed";
    case kChildReadBackWrong: return "after pinning itself it read back another mask";
    case kChildPipe: return "a pipe to the parent failed";
    case kChildGetcpuHost: return "sched_getcpu() did not answer the vCPU of the host CPU it runs on";
    default: return "unknown status";
    }
}

/* The child's whole life: only async-signal-safe work, no allocation, no locks of the parent. */
[[noreturn]] void child_main(const Mask& at_fork, const Mask& next, pid_t peer, int ready_fd, int go_fd) {
    alarm(60); /* a child that hangs dies of SIGALRM, which the parent reports */
    Mask got;
    if (get_tid(0, &got) != 0)
        _exit(kChildGetFailed);
    if (!same(got, at_fork))
        _exit(kChildWrongMask);
    if (get_thread(pthread_self(), &got) != 0 || !same(got, at_fork))
        _exit(kChildWrongMaskPthread);
    if (!has_cpu(at_fork, sched_getcpu()))
        _exit(kChildGetcpuOutside);
    unsigned c = ~0u;
    if (getcpu(&c, nullptr) != 0 || !has_cpu(at_fork, static_cast<int>(c)))
        _exit(kChildGetcpuOutside);
    if (g_m.host_checks) {
        Mask host, want = host_of_mask(at_fork);
        if (host_affinity(&host) && !same(host, want))
            _exit(kChildHostDiffers);
    }
    /* A thread of the parent, across the process boundary. */
    if (peer > 0) {
        if (get_tid(peer, &got) != 0)
            _exit(kChildPeerFailed);
        if (family_index(got) < 0)
            _exit(kChildPeerTorn);
    }
    Mask mine = next;
    if (g_run->inject == "child-mask")
        mine = g_m.family[0];
    if (set_self(mine, 0) != 0)
        _exit(kChildSetFailed);
    if (get_tid(0, &got) != 0 || !same(got, mine))
        _exit(kChildReadBackWrong);
    if (g_m.host_checks) {
        int v = -1, h = -1;
        if (!getcpu_matches_host(&v, &h))
            _exit(kChildGetcpuHost);
    }
    if (g_run->inject == "child-hang")
        for (;;)
            pause();
    char byte = 1;
    if (write(ready_fd, &byte, 1) != 1)
        _exit(kChildPipe);
    if (read(go_fd, &byte, 1) != 1)
        _exit(kChildPipe);
    _exit(kChildOk);
}

void forker(Worker& w) {
    Rng rng(static_cast<uint64_t>(w.tid.load()) * 5 + 1);
    for (uint64_t i = 0; !g_run->stop.load(std::memory_order_relaxed); ++i) {
        Mask at_fork = pick(rng);
        const Mask& next = pick(rng);
        const Mask& after = g_m.family[(static_cast<size_t>(family_index(at_fork)) + 1) % g_m.family.size()];
        w.op.store(kOpSet);
        int ret = set_self(at_fork, static_cast<int>(i));
        if (ret != 0) {
            fail("%s: setting its own mask failed: %s", who(w).c_str(), strerror(ret));
            continue;
        }
        pid_t peer = g_run->workers[i % kPinners].tid.load();
        int ready[2], go[2];
        if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(go, O_CLOEXEC) != 0) {
            fail("%s: pipe: %s", who(w).c_str(), strerror(errno));
            break;
        }
        w.op.store(kOpFork);
        pid_t pid = fork();
        if (pid < 0) {
            fail("%s: fork: %s", who(w).c_str(), strerror(errno));
            close(ready[0]), close(ready[1]), close(go[0]), close(go[1]);
            break;
        }
        if (pid == 0) {
            close(ready[0]);
            close(go[1]);
            child_main(at_fork, next, peer, ready[1], go[0]);
        }
        /* At once another mask: the child must keep the one of the moment of fork. */
        ret = set_self(after, static_cast<int>(i) + 1);
        if (ret != 0)
            fail("%s: setting its own mask after fork failed: %s", who(w).c_str(), strerror(ret));
        close(ready[1]);
        close(go[0]);
        w.op.store(kOpWaitChild);
        char byte = 0;
        ssize_t n = read(ready[0], &byte, 1);
        if (n == 1) {
            /* The child waits for us: it is alive, and only it writes its mask. */
            Published& p = g_run->child[static_cast<size_t>(w.index)];
            p.id.store(pid, std::memory_order_release);
            p.gen.fetch_add(1, std::memory_order_acq_rel);
            Mask got;
            ret = get_tid(pid, &got);
            if (ret != 0)
                fail("%s: sched_getaffinity(child %d) failed: %s", who(w).c_str(), pid, strerror(ret));
            else if (!same(got, next))
                fail("%s: child %d pinned itself to %s, its parent reads %s", who(w).c_str(), pid, describe(next).c_str(),
                     describe(got).c_str());
            for (int k = 0; k < 20; ++k)
                sched_yield(); /* give the observers a moment */
            p.gen.fetch_add(1, std::memory_order_acq_rel);
            if (write(go[1], &byte, 1) != 1)
                fail("%s: write to child: %s", who(w).c_str(), strerror(errno));
        }
        close(ready[0]);
        close(go[1]);
        int status = 0;
        if (waitpid(pid, &status, 0) != pid)
            fail("%s: waitpid(%d): %s", who(w).c_str(), pid, strerror(errno));
        else if (WIFSIGNALED(status))
            fail("%s: child %d (forked with mask %s) was killed by signal %d (%s)%s", who(w).c_str(), pid,
                 describe(at_fork).c_str(), WTERMSIG(status), strsignal(WTERMSIG(status)),
                 WTERMSIG(status) == SIGALRM ? ": it hung for 5 s" : "");
        else if (WEXITSTATUS(status) != 0)
            fail("%s: child %d (forked with mask %s, to pin itself to %s) exited %d: %s", who(w).c_str(), pid,
                 describe(at_fork).c_str(), describe(next).c_str(), WEXITSTATUS(status),
                 child_status_text(WEXITSTATUS(status)));
        g_run->forks.fetch_add(1, std::memory_order_relaxed);
        w.iterations.fetch_add(1, std::memory_order_relaxed);
    }
    g_run->writers_done.fetch_add(1, std::memory_order_release);
    quiesce_and_check(w);
}

/* ---- short-lived threads -------------------------------------------------------------------- */

struct Ephemeral {
    Mask expected;
    Mask next;
    std::atomic<int> ready{0};
    std::atomic<bool> release{false};
    std::atomic<pid_t> tid{0};
    bool from_attr = false;
};

void* ephemeral_main(void* p) {
    auto* e = static_cast<Ephemeral*>(p);
    e->tid.store(gettid_(), std::memory_order_release);
    check_self(nullptr, e->from_attr ? "a new thread with an affinity attribute" : "a new thread (inherited mask)",
               &e->expected);
    if (!has_cpu(e->expected, sched_getcpu()))
        fail("a new thread: sched_getcpu() outside its mask %s", describe(e->expected).c_str());
    int ret = set_self(e->next, 0);
    Mask got;
    if (ret != 0)
        fail("a new thread: pinning itself failed: %s", strerror(ret));
    else if (get_self(&got, 1) != 0 || !same(got, e->next))
        fail("a new thread: pinned itself to %s, read back %s", describe(e->next).c_str(), describe(got).c_str());
    e->ready.store(1, std::memory_order_release);
    while (!e->release.load(std::memory_order_acquire))
        sched_yield();
    return nullptr;
}

void spawner(Worker& w) {
    Rng rng(static_cast<uint64_t>(w.tid.load()) * 3 + 2);
    Published& p = g_run->ephemeral[static_cast<size_t>(w.index)];
    for (uint64_t i = 0; !g_run->stop.load(std::memory_order_relaxed); ++i) {
        const Mask& own = pick(rng);
        w.op.store(kOpSet);
        int ret = set_self(own, static_cast<int>(i));
        if (ret != 0) {
            fail("%s: setting its own mask failed: %s", who(w).c_str(), strerror(ret));
            continue;
        }
        Ephemeral e;
        e.next = pick(rng);
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        if (i % 2) {
            e.expected = pick(rng);
            e.from_attr = true;
            pthread_attr_setaffinity_np(&attr, g_m.bytes, reinterpret_cast<const cpu_set_t*>(e.expected.w));
        } else {
            e.expected = own;
        }
        w.op.store(kOpSpawn);
        pthread_t t;
        ret = pthread_create(&t, &attr, ephemeral_main, &e);
        pthread_attr_destroy(&attr);
        if (ret != 0) {
            fail("%s: pthread_create: %s", who(w).c_str(), strerror(ret));
            continue;
        }
        while (!e.ready.load(std::memory_order_acquire))
            sched_yield();
        p.id.store(e.tid.load(std::memory_order_acquire), std::memory_order_release);
        p.gen.fetch_add(1, std::memory_order_acq_rel);
        for (int k = 0; k < 5; ++k)
            sched_yield();
        p.gen.fetch_add(1, std::memory_order_acq_rel);
        e.release.store(true, std::memory_order_release);
        w.op.store(kOpJoin);
        pthread_join(t, nullptr);
        g_run->spawns.fetch_add(1, std::memory_order_relaxed);
        w.iterations.fetch_add(1, std::memory_order_relaxed);
    }
    g_run->writers_done.fetch_add(1, std::memory_order_release);
    quiesce_and_check(w);
}

void* worker_main(void* p) {
    Worker& w = *static_cast<Worker*>(p);
    w.tid.store(gettid_(), std::memory_order_release);
    g_run->registered.fetch_add(1, std::memory_order_acq_rel);
    while (!g_run->go.load(std::memory_order_acquire))
        sched_yield();
    switch (w.role) {
    case kPinner: pinner(w); break;
    case kTarget: target(w); break;
    case kSetter: setter(w); break;
    case kObserver: observer(w); break;
    case kForker: forker(w); break;
    case kSpawner: spawner(w); break;
    }
    w.op.store(kOpDone);
    /* Every worker stays alive until all are done: observers read them until then. */
    g_run->finished.fetch_add(1, std::memory_order_acq_rel);
    while (g_run->finished.load(std::memory_order_acquire) < kWorkers)
        usleep(1000);
    return nullptr;
}

/* ---- the watchdog --------------------------------------------------------------------------- */

/* Fails the process (with a message naming the stuck threads) when a worker makes no progress for
 * `stall` or the run outlives `deadline`. */
class Watchdog {
public:
    Watchdog(std::chrono::milliseconds stall, std::chrono::milliseconds deadline) : stall_(stall), deadline_(deadline) {
        pthread_create(&thread_, nullptr, &Watchdog::main, this);
    }
    ~Watchdog() {
        {
            std::lock_guard<std::mutex> lock(lock_);
            done_ = true;
        }
        cv_.notify_all();
        pthread_join(thread_, nullptr);
    }

private:
    static void* main(void* p) {
        static_cast<Watchdog*>(p)->watch();
        return nullptr;
    }

    void watch() {
        auto start = std::chrono::steady_clock::now();
        std::array<uint64_t, kWorkers> last{};
        std::array<std::chrono::steady_clock::time_point, kWorkers> since;
        since.fill(start);
        std::unique_lock<std::mutex> lock(lock_);
        while (!done_) {
            cv_.wait_for(lock, std::chrono::milliseconds(200));
            if (done_)
                return;
            auto now = std::chrono::steady_clock::now();
            bool stalled = false;
            for (int k = 0; k < kWorkers; ++k) {
                Worker& w = g_run->workers[static_cast<size_t>(k)];
                uint64_t it = w.iterations.load();
                int op = w.op.load();
                if (it != last[static_cast<size_t>(k)] || op == kOpDone || op == kOpQuiesce || !g_run->go.load()) {
                    last[static_cast<size_t>(k)] = it;
                    since[static_cast<size_t>(k)] = now;
                } else if (now - since[static_cast<size_t>(k)] > stall_) {
                    stalled = true;
                }
            }
            if (stalled || now - start > deadline_)
                die(stalled ? "a worker made no progress" : "the run did not end in time");
        }
    }

    [[noreturn]] void die(const char* why) {
        fprintf(stderr, "\nstress: WATCHDOG: %s (stall limit %lld ms, deadline %lld ms): a deadlock or a hang.\n", why,
                static_cast<long long>(stall_.count()), static_cast<long long>(deadline_.count()));
        for (auto& w : g_run->workers)
            fprintf(stderr, "  %-24s %10llu iterations, now %s\n", who(w).c_str(),
                    static_cast<unsigned long long>(w.iterations.load()), kOpNames[w.op.load()]);
        fprintf(stderr, "  stop=%d writers_done=%d/%d forks=%llu spawns=%llu\n", g_run->stop.load() ? 1 : 0,
                g_run->writers_done.load(), kWriters, static_cast<unsigned long long>(g_run->forks.load()),
                static_cast<unsigned long long>(g_run->spawns.load()));
        fflush(stderr);
        _exit(3);
    }

    std::chrono::milliseconds stall_, deadline_;
    pthread_t thread_{};
    std::mutex lock_;
    std::condition_variable cv_;
    bool done_ = false;
};

/* ---- setting the machine up ----------------------------------------------------------------- */

double run_seconds() {
    const char* text = getenv("STRESS_SECONDS");
    double s = text ? atof(text) : 1.5;
    return s > 0 && s < 60 ? s : 1.5;
}

/* Reads the machine, builds the family and measures the vCPU -> host CPU map: the host affinity
 * that pinning to {v} gives. */
void setup_machine() {
    g_m = Machine{};
    long n = sysconf(_SC_NPROCESSORS_CONF);
    ASSERT_GT(n, 0);
    ASSERT_LE(n, kMaxWords * 64);
    g_m.n = static_cast<int>(n);
    g_m.words = (g_m.n + 63) / 64;
    g_m.buf_words = g_m.words < 16 ? 16 : g_m.words;
    g_m.bytes = static_cast<size_t>(g_m.buf_words) * 8;
    ASSERT_EQ(get_tid(0, &g_m.allowed), 0);
    for (int c = g_m.n; c < kMaxWords * 64; ++c)
        ASSERT_FALSE(has_cpu(g_m.allowed, c)) << "the start mask names CPU " << c << " of a " << g_m.n << "-CPU machine";
    build_family();
    ASSERT_GE(g_m.family.size(), 1u);

    Mask probe;
    g_m.host_of.assign(static_cast<size_t>(g_m.n), -1);
#if defined(__x86_64__)
    g_m.host_checks = host_affinity(&probe);
#endif
    if (g_m.host_checks) {
        for (int v = 0; v < g_m.n; ++v) {
            if (!has_cpu(g_m.allowed, v))
                continue;
            Mask one{};
            one.w[v / 64] = 1ULL << (v % 64);
            ASSERT_EQ(set_self(one, 0), 0) << "pinning to CPU " << v;
            Mask host;
            ASSERT_TRUE(host_affinity(&host));
            int count = 0, cpu = -1;
            for (int c = 0; c < kMaxWords * 64; ++c)
                if (has_cpu(host, c))
                    ++count, cpu = c;
            ASSERT_EQ(count, 1) << "CPU " << v << " runs on host CPUs " << describe(host);
            g_m.host_of[static_cast<size_t>(v)] = cpu;
        }
        ASSERT_EQ(set_self(g_m.allowed, 0), 0);
    }
}

/* ---- the tests ------------------------------------------------------------------------------ */

TEST(Stress, RunsOnTheExpectedMachine) {
    const char* expect = getenv("STRESS_EXPECT_VCPUS");
    if (!expect || !*expect)
        GTEST_SKIP() << "STRESS_EXPECT_VCPUS is not set (a native run)";
    EXPECT_EQ(sysconf(_SC_NPROCESSORS_CONF), atol(expect))
        << "the shim does not serve this program: it runs on the host, not on the virtual machine";
    EXPECT_EQ(sysconf(_SC_NPROCESSORS_ONLN), atol(expect));
}

/* The recogniser itself: words of two different members never make a member, so a torn read is
 * caught (on a machine whose masks have at least two full words). */
TEST(Stress, TornMasksAreNotFamilyMembers) {
    setup_machine();
    if (HasFatalFailure())
        return;
    for (size_t i = 0; i < g_m.family.size(); ++i)
        EXPECT_EQ(family_index(g_m.family[i]), static_cast<int>(i));
    if (g_m.n < 128)
        GTEST_SKIP() << "masks of " << g_m.n << " CPUs have no two full words to tear";
    for (size_t i = 0; i < g_m.family.size(); ++i) {
        for (size_t j = 0; j < g_m.family.size(); ++j) {
            if (i != j && g_m.family[i].w[0] != g_m.family[j].w[0]) {
                EXPECT_LT(family_index(torn_of(g_m.family[i], g_m.family[j])), 0) << i << "/" << j;
            }
        }
    }
}

/* A thread and two others write its mask at once, in rounds; after each round the thread's virtual
 * mask must be its host affinity's vCPUs and getcpu must answer the vCPU of the host CPU it runs on.
 * On Linux one sched_setaffinity wins entirely, whatever the interleaving. */
struct Contended {
    std::atomic<bool> writing{false};
    std::atomic<bool> quit{false};
    std::atomic<int> round{0};
    std::atomic<int> checked{0};
    std::atomic<int> writers_idle{0};
    std::atomic<pid_t> tid{0};
    pthread_t thread{};
    Mask self_view{}; /* what the thread read of itself after a round (published by `checked`) */
};

void* contended_target(void* p) {
    auto* c = static_cast<Contended*>(p);
    c->tid.store(gettid_());
    Rng rng(static_cast<uint64_t>(gettid_()));
    int seen = 0;
    while (!c->quit.load()) {
        if (c->writing.load()) {
            set_self(pick(rng), static_cast<int>(rng.below(3)));
            continue;
        }
        int r = c->round.load();
        if (r == seen) {
            sched_yield();
            continue;
        }
        char label[64];
        snprintf(label, sizeof(label), "after round %d of concurrent writes", r);
        check_self(nullptr, label, nullptr);
        get_self(&c->self_view, 0);
        seen = r;
        c->checked.store(r);
    }
    return nullptr;
}

void* contended_writer(void* p) {
    auto* c = static_cast<Contended*>(p);
    Rng rng(static_cast<uint64_t>(gettid_()));
    while (!c->quit.load()) {
        if (!c->writing.load()) {
            sched_yield();
            continue;
        }
        c->writers_idle.fetch_sub(1);
        while (c->writing.load()) {
            const Mask& m = pick(rng);
            if (rng.below(2))
                pthread_setaffinity_np(c->thread, g_m.bytes, reinterpret_cast<const cpu_set_t*>(m.w));
            else
                sched_setaffinity(c->tid.load(), g_m.bytes, reinterpret_cast<const cpu_set_t*>(m.w));
        }
        c->writers_idle.fetch_add(1);
    }
    return nullptr;
}

TEST(Stress, ConcurrentWritersKeepHostInStep) {
    setup_machine();
    if (HasFatalFailure())
        return;
    if (!g_m.host_checks)
        GTEST_SKIP() << "no raw system calls on this architecture";
    g_failures.clear();
    g_failure_count.store(0);
    Contended c;
    constexpr int kWritersHere = 2;
    c.writers_idle.store(kWritersHere);
    ASSERT_EQ(pthread_create(&c.thread, nullptr, contended_target, &c), 0);
    while (!c.tid.load())
        sched_yield();
    pthread_t writers[kWritersHere];
    for (auto& t : writers)
        ASSERT_EQ(pthread_create(&t, nullptr, contended_writer, &c), 0);
    const int rounds = 20;
    for (int r = 1; r <= rounds; ++r) {
        c.writing.store(true);
        usleep(20000);
        c.writing.store(false);
        while (c.writers_idle.load() < kWritersHere)
            sched_yield();
        c.round.store(r);
        while (c.checked.load() < r)
            sched_yield();
        Mask other_view;
        if (get_tid(c.tid.load(), &other_view) == 0 && !same(other_view, c.self_view))
            fail("after round %d of concurrent writes: the thread reads its mask as %s, another thread reads it as %s",
                 r, describe(c.self_view).c_str(), describe(other_view).c_str());
    }
    c.quit.store(true);
    for (auto& t : writers)
        pthread_join(t, nullptr);
    pthread_join(c.thread, nullptr);
    std::lock_guard<std::mutex> lock(g_fail_lock);
    for (const auto& f : g_failures)
        ADD_FAILURE() << f;
    EXPECT_EQ(g_failure_count.load(), 0) << "rounds after which the thread's virtual mask and where it runs disagree, of "
                                         << rounds;
}

/* One run of all the roles for `seconds`; `exact` adds the observers' check that a pinner's mask is
 * the one before or after the change it is making (ObserversSeeOldOrNewMask). */
void run_stress(double seconds, bool exact) {
    setup_machine();
    if (::testing::Test::HasFatalFailure())
        return;
    StressRun run;
    g_run = &run;
    g_failures.clear();
    g_failure_count.store(0);
    const char* inject = getenv("STRESS_INJECT");
    run.inject = inject ? inject : "";
    run.exact = exact;
    run.main_tid = gettid_();
    run.main_thread = pthread_self();
    {
        /* Generous: on a loaded machine (load 20 on 2 CPUs) a worker can wait seconds for a CPU; a
         * deadlock still ends the run long before meson's timeout. */
        Watchdog watchdog(std::chrono::milliseconds(60000),
                          std::chrono::milliseconds(static_cast<long long>(seconds * 1000) + 150000));
        int k = 0;
        auto add = [&](Role role, int count) {
            for (int i = 0; i < count; ++i, ++k) {
                Worker& w = run.workers[static_cast<size_t>(k)];
                w.role = role;
                w.index = i;
            }
        };
        add(kPinner, kPinners);
        add(kTarget, kTargets);
        add(kSetter, kSetters);
        add(kObserver, kObservers);
        add(kForker, kForkers);
        add(kSpawner, kSpawners);
        for (auto& w : run.workers)
            ASSERT_EQ(pthread_create(&w.thread, nullptr, worker_main, &w), 0);
        while (run.registered.load(std::memory_order_acquire) < kWorkers)
            sched_yield();
        run.go.store(true, std::memory_order_release);

        auto start = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - start < std::chrono::duration<double>(seconds) &&
               g_failure_count.load() < 1000)
            usleep(20000);
        run.stop.store(true, std::memory_order_release);
        for (auto& w : run.workers)
            pthread_join(w.thread, nullptr);
        double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

        uint64_t by_role[6] = {};
        for (auto& w : run.workers)
            by_role[w.role] += w.iterations.load();
        printf("stress: %d CPUs, %zu family masks, %.2f s: pinner %llu, target %llu, setter %llu, observer %llu "
               "iterations; %llu reads of others; %llu forks; %llu short-lived threads\n",
               g_m.n, g_m.family.size(), elapsed, static_cast<unsigned long long>(by_role[kPinner]),
               static_cast<unsigned long long>(by_role[kTarget]), static_cast<unsigned long long>(by_role[kSetter]),
               static_cast<unsigned long long>(by_role[kObserver]),
               static_cast<unsigned long long>(run.observed.load()), static_cast<unsigned long long>(run.forks.load()),
               static_cast<unsigned long long>(run.spawns.load()));
        EXPECT_GT(run.forks.load(), 0u);
        EXPECT_GT(run.spawns.load(), 0u);
        EXPECT_GT(by_role[kPinner], 0u);
    }
    check_self(nullptr, "the main thread at the end", &g_m.allowed);

    std::lock_guard<std::mutex> lock(g_fail_lock);
    for (const auto& f : g_failures)
        ADD_FAILURE() << f;
    EXPECT_EQ(g_failure_count.load(), 0) << "failures in all (the first " << g_failures.size() << " are listed)";
    EXPECT_EQ(run.torn.load(), 0u) << "torn masks seen";
    g_run = nullptr;
}

/* No crash, no deadlock, no torn mask: every mask read is a family member, a thread's own mask is
 * what it set, children start with the mask of the moment of fork. */
TEST(Stress, ThreadsAndForks) {
    run_stress(run_seconds(), false);
}

/* Linux changes a mask atomically for every reader: a thread that reads another's mask while that
 * one changes it from A to B sees A or B, never a third mask (ThreadsAndForks only asks for a
 * family member). */
TEST(Stress, ObserversSeeOldOrNewMask) {
    run_stress(run_seconds() / 2, true);
}

}  // namespace
