/* Conformance of the CPU affinity family: sched_getaffinity(2), sched_setaffinity(2), getcpu(2),
 * their libc wrappers and pthread_{get,set}affinity_np, on the machine under test (conformance.h).
 *
 * The rules come from the kernel (kernel/sched/syscalls.c) and glibc 2.36 as summarised in
 * ../shared/SEMANTICS.md:
 * - getaffinity: len*8 < nr_cpu_ids -> EINVAL; len % sizeof(long) -> EINVAL; then ESRCH; then the
 *   copy-out (min(len, cpumask size) bytes) may fault -> EFAULT; returns the bytes written.
 * - setaffinity: the copy-in of min(len, cpumask size) bytes comes first (EFAULT even for a missing
 *   pid), then ESRCH, then EPERM, then an empty intersection with the allowed CPUs -> EINVAL.
 *
 * Expected differences between a native run and a run under the shim (nothing else may differ):
 * - libc getcpu() with a bad pointer: glibc's vDSO path faults (SIGSEGV) where the shim, like the
 *   syscall, returns EFAULT. Both are recorded as "fault"; LTP's getcpu01 accepts either. */
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "conformance.h"

using conformance::cpu_list;
using conformance::kNoSuchPid;
using conformance::machine;
using conformance::outcome;
using conformance::record;
using libos_test::GuardedBuffer;
using libos_test::unmapped_address;

namespace {

/* Under emulation, a call the shim passes through is answered by the emulator, not by a kernel:
 * qemu-user's sched_{get,set}affinity check their lengths and masks in ways of their own (and
 * allocate what a huge length asks for). The kernel's rules are then checked on virtual machines only,
 * where the LibOS answers. */
#define SKIP_EMULATORS_OWN_AFFINITY_CALLS()                                                       \
    do {                                                                                         \
        if (libos_test::emulator() && !machine().is_virtual)                                     \
            GTEST_SKIP() << libos_test::emulator() << " answers the affinity calls itself here"; \
    } while (0)

/* A mask buffer large enough for any machine the tests use (8192 CPUs). */
constexpr size_t kBigMask = 1024;

struct Mask {
    alignas(cpu_set_t) unsigned char bytes[kBigMask] = {};
    cpu_set_t* set() { return reinterpret_cast<cpu_set_t*>(bytes); }
    void add(int cpu) { bytes[cpu / 8] |= static_cast<unsigned char>(1u << (cpu % 8)); }
    std::string list(size_t size = kBigMask) { return cpu_list(set(), size); }
};

Mask single(int cpu) {
    Mask m;
    m.add(cpu);
    return m;
}

std::set<int> usable_set() {
    return {machine().usable.begin(), machine().usable.end()};
}

long raw_getaffinity(pid_t pid, unsigned long len, void* mask) {
    return syscall(SYS_sched_getaffinity, pid, len, mask);
}

long raw_setaffinity(pid_t pid, unsigned long len, const void* mask) {
    return syscall(SYS_sched_setaffinity, pid, len, mask);
}

/* The getaffinity rule, for any length. */
std::string expected_get(unsigned long len) {
    const auto& m = machine();
    /* The kernel takes `unsigned int len` and counts its bits in 32-bit arithmetic (len * 8 wraps). */
    const unsigned int bits = static_cast<unsigned int>(len) * 8u;
    if (bits < static_cast<unsigned int>(m.nr_cpu_ids) || len % sizeof(long) != 0)
        return outcome(-1, EINVAL);
    return outcome(static_cast<long>(std::min<unsigned long>(len, m.mask_size)), 0);
}

/* Every test starts and ends with the process's original affinity. */
class Affinity : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_FALSE(machine().usable.empty());
        ASSERT_GT(machine().mask_size, 0u);
        ASSERT_EQ(sched_getaffinity(0, sizeof(original_.bytes), original_.set()), 0);
    }
    void TearDown() override { EXPECT_EQ(sched_setaffinity(0, sizeof(original_.bytes), original_.set()), 0); }

    Mask original_;
};

/* ---- sched_getaffinity ---------------------------------------------------------------------- */

TEST_F(Affinity, GetReturnsTheSmallerOfLenAndTheMaskSize) {
    for (unsigned long len = 8; len <= kBigMask; len += 8) {
        Mask m;
        errno = 0;
        long ret = raw_getaffinity(0, len, m.bytes);
        std::string got = outcome(ret, errno);
        EXPECT_EQ(got, expected_get(len)) << "len " << len;
        record("len " + std::to_string(len), got);
    }
}

TEST_F(Affinity, GetRejectsBadLengths) {
    SKIP_EMULATORS_OWN_AFFINITY_CALLS();
    const size_t ms = machine().mask_size;
    for (unsigned long len : {0ul, 1ul, 4ul, 7ul, 12ul, 20ul, ms - 4, ms + 4, (1ul << 32) + 4, 0x80000000ul, 0xe0000000ul,
                              0x20000000ul, 0x10000000ul}) {
        Mask m;
        errno = 0;
        long ret = raw_getaffinity(0, len, m.bytes);
        /* The kernel takes `unsigned int len`: 2^32+4 is 4. */
        EXPECT_EQ(outcome(ret, errno), expected_get(static_cast<unsigned int>(len))) << "len " << len;
        record("len " + std::to_string(len), outcome(ret, errno));
    }
}

TEST_F(Affinity, GetChecksLengthThenPidThenPointer) {
    Mask m;
    const size_t ms = machine().mask_size;
    errno = 0;
    EXPECT_EQ(OUTCOME(raw_getaffinity(kNoSuchPid, 4, unmapped_address())), outcome(-1, EINVAL));
    EXPECT_EQ(OUTCOME(raw_getaffinity(kNoSuchPid, ms, unmapped_address())), outcome(-1, ESRCH));
    EXPECT_EQ(OUTCOME(raw_getaffinity(-1, ms, m.bytes)), outcome(-1, ESRCH));
    EXPECT_EQ(OUTCOME(raw_getaffinity(0, ms, unmapped_address())), outcome(-1, EFAULT));
    EXPECT_EQ(OUTCOME(raw_getaffinity(0, ms, nullptr)), outcome(-1, EFAULT));
    record("order", "checked");
}

TEST_F(Affinity, GetWritesExactlyTheMaskSize) {
    const size_t ms = machine().mask_size;
    {
        GuardedBuffer exact(ms);
        EXPECT_EQ(OUTCOME(raw_getaffinity(0, ms, exact.data())), outcome(static_cast<long>(ms), 0));
        /* A longer len still writes only the kernel's mask: the guard page is never reached. */
        EXPECT_EQ(OUTCOME(raw_getaffinity(0, ms * 2, exact.data())), outcome(static_cast<long>(ms), 0));
    }
    {
        GuardedBuffer short_by_4(ms - 4);
        errno = 0;
        EXPECT_EQ(OUTCOME(raw_getaffinity(0, ms, short_by_4.data())), outcome(-1, EFAULT));
        record("short buffer", OUTCOME(raw_getaffinity(0, ms, short_by_4.data())));
    }
}

TEST_F(Affinity, LibcGetZeroFillsAndReportsTheUsableCpus) {
    Mask m;
    memset(m.bytes, 0xff, sizeof(m.bytes));
    errno = 1234;
    ASSERT_EQ(sched_getaffinity(0, sizeof(m.bytes), m.set()), 0);
    EXPECT_EQ(errno, 1234) << "errno changed on success";
    for (size_t i = machine().mask_size; i < sizeof(m.bytes); ++i)
        ASSERT_EQ(m.bytes[i], 0) << "byte " << i << " was not cleared";
    EXPECT_EQ(m.list(), cpu_list(usable_set()));
    record("mask", m.list());
    EXPECT_EQ(sched_getaffinity(0, 4, m.set()), -1);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_EQ(sched_getaffinity(kNoSuchPid, sizeof(m.bytes), m.set()), -1);
    EXPECT_EQ(errno, ESRCH);
}

/* ---- sched_setaffinity ---------------------------------------------------------------------- */

TEST_F(Affinity, EverySingleCpuRoundTrips) {
    for (int cpu : machine().usable) {
        Mask want = single(cpu);
        ASSERT_EQ(sched_setaffinity(0, sizeof(want.bytes), want.set()), 0) << "cpu " << cpu;
        Mask got;
        ASSERT_EQ(sched_getaffinity(0, sizeof(got.bytes), got.set()), 0);
        EXPECT_EQ(got.list(), want.list());
        if (conformance::vcpu_observable()) {
            EXPECT_EQ(sched_getcpu(), cpu) << "sched_getcpu after pinning to " << cpu;
            unsigned c = ~0u, node = ~0u;
            ASSERT_EQ(getcpu(&c, &node), 0);
            EXPECT_EQ(c, static_cast<unsigned>(cpu)) << "getcpu after pinning to " << cpu;
        }
        /* The system call is the machine's everywhere (in strict mode without the shim, trapped). */
        unsigned sc = ~0u;
        ASSERT_EQ(syscall(SYS_getcpu, &sc, nullptr, nullptr), 0);
        EXPECT_EQ(sc, static_cast<unsigned>(cpu)) << "syscall(SYS_getcpu) after pinning to " << cpu;
        record("pin " + std::to_string(cpu), got.list());
    }
}

TEST_F(Affinity, AllOnesMasksOfManySizes) {
    SKIP_EMULATORS_OWN_AFFINITY_CALLS();
    for (unsigned long len : {1ul, 4ul, 8ul, 12ul, 16ul, 32ul, 64ul, 128ul, 512ul, kBigMask}) {
        Mask ones;
        memset(ones.bytes, 0xff, len);
        errno = 0;
        long ret = raw_setaffinity(0, len, ones.bytes);
        /* The kernel keeps the CPUs the mask names (its first min(len, mask size) bytes) that exist
         * and are allowed; bits at nr_cpu_ids and above are ignored. */
        std::set<int> expect;
        for (int cpu : machine().usable)
            if (static_cast<unsigned long>(cpu) < len * 8)
                expect.insert(cpu);
        if (expect.empty()) {
            EXPECT_EQ(outcome(ret, errno), outcome(-1, EINVAL)) << "len " << len;
        } else {
            EXPECT_EQ(outcome(ret, errno), outcome(0, 0)) << "len " << len;
            Mask got;
            ASSERT_EQ(sched_getaffinity(0, sizeof(got.bytes), got.set()), 0);
            EXPECT_EQ(got.list(), cpu_list(expect)) << "len " << len;
            record("all ones len " + std::to_string(len), got.list());
        }
        ASSERT_EQ(sched_setaffinity(0, sizeof(original_.bytes), original_.set()), 0);
    }
}

TEST_F(Affinity, SetIgnoresBitsAtAndAboveNrCpuIds) {
    const int n = machine().nr_cpu_ids;
    Mask m = single(machine().usable.front());
    for (int cpu = n; cpu < static_cast<int>(kBigMask * 8); ++cpu)
        m.add(cpu);
    ASSERT_EQ(sched_setaffinity(0, sizeof(m.bytes), m.set()), 0);
    Mask got;
    ASSERT_EQ(sched_getaffinity(0, sizeof(got.bytes), got.set()), 0);
    EXPECT_EQ(got.list(), single(machine().usable.front()).list());
    record("with high bits", got.list());

    Mask only_high;
    for (int cpu = n; cpu < static_cast<int>(kBigMask * 8); ++cpu)
        only_high.add(cpu);
    errno = 0;
    EXPECT_EQ(OUTCOME(sched_setaffinity(0, sizeof(only_high.bytes), only_high.set())), outcome(-1, EINVAL));
    record("only high bits", OUTCOME(sched_setaffinity(0, sizeof(only_high.bytes), only_high.set())));
}

TEST_F(Affinity, SetRejectsEmptyMasksAndZeroLength) {
    SKIP_EMULATORS_OWN_AFFINITY_CALLS();
    Mask empty;
    errno = 0;
    EXPECT_EQ(OUTCOME(raw_setaffinity(0, sizeof(empty.bytes), empty.bytes)), outcome(-1, EINVAL));
    Mask all;
    memset(all.bytes, 0xff, sizeof(all.bytes));
    EXPECT_EQ(OUTCOME(raw_setaffinity(0, 0, all.bytes)), outcome(-1, EINVAL)) << "len 0 is an empty mask";
    EXPECT_EQ(sched_setaffinity(0, sizeof(empty.bytes), empty.set()), -1);
    EXPECT_EQ(errno, EINVAL);
    /* len 1 with bit 0: CPU 0 alone, when the process may use it. */
    Mask zero = single(0);
    long ret = raw_setaffinity(0, 1, zero.bytes);
    EXPECT_EQ(outcome(ret, errno), usable_set().count(0) ? outcome(0, 0) : outcome(-1, EINVAL));
    record("len 1 bit 0", outcome(ret, errno));
}

TEST_F(Affinity, SetChecksPointerThenPid) {
    const size_t ms = machine().mask_size;
    Mask one = single(machine().usable.front());
    errno = 0;
    EXPECT_EQ(OUTCOME(raw_setaffinity(kNoSuchPid, ms, unmapped_address())), outcome(-1, EFAULT))
        << "the mask is copied in before the pid is looked up";
    EXPECT_EQ(OUTCOME(raw_setaffinity(kNoSuchPid, ms, one.bytes)), outcome(-1, ESRCH));
    EXPECT_EQ(OUTCOME(raw_setaffinity(-1, ms, one.bytes)), outcome(-1, ESRCH));
    EXPECT_EQ(OUTCOME(raw_setaffinity(0, ms, nullptr)), outcome(-1, EFAULT));
    EXPECT_EQ(sched_setaffinity(kNoSuchPid, sizeof(one.bytes), one.set()), -1);
    EXPECT_EQ(errno, ESRCH);
    record("order", "checked");
}

TEST_F(Affinity, SetReadsExactlyTheMaskSize) {
    SKIP_EMULATORS_OWN_AFFINITY_CALLS();
    const size_t ms = machine().mask_size;
    const int cpu = machine().usable.back();
    {
        GuardedBuffer exact(ms);
        memset(exact.data(), 0, ms);
        static_cast<unsigned char*>(exact.data())[cpu / 8] |= static_cast<unsigned char>(1u << (cpu % 8));
        /* A longer len reads only the kernel's mask: the guard page is never touched. */
        EXPECT_EQ(OUTCOME(raw_setaffinity(0, ms * 2, exact.data())), outcome(0, 0));
        Mask got;
        ASSERT_EQ(sched_getaffinity(0, sizeof(got.bytes), got.set()), 0);
        EXPECT_EQ(got.list(), single(cpu).list());
    }
    {
        GuardedBuffer short_by_4(ms - 4);
        errno = 0;
        EXPECT_EQ(OUTCOME(raw_setaffinity(0, ms, short_by_4.data())), outcome(-1, EFAULT));
        record("short buffer", OUTCOME(raw_setaffinity(0, ms, short_by_4.data())));
    }
}

/* EPERM: a process running as another user may not change our child's affinity (LTP's
 * sched_setaffinity01 does the same with "nobody"). Both processes are this test's children. */
TEST_F(Affinity, SetOnAnotherUsersProcessIsEperm) {
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root to run a child as another user";
    pid_t target = fork();
    ASSERT_GE(target, 0);
    if (target == 0) {
        pause();
        _exit(0);
    }
    int pipefd[2];
    ASSERT_EQ(pipe(pipefd), 0);
    pid_t other = fork();
    ASSERT_GE(other, 0);
    if (other == 0) {
        close(pipefd[0]);
        int results[3] = {0, 0, 0};
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(2);
        Mask one = single(machine().usable.front());
        Mask got;
        errno = 0;
        results[0] = static_cast<int>(raw_setaffinity(target, machine().mask_size, one.bytes)) == -1 ? errno : 0;
        results[1] = sched_setaffinity(target, sizeof(one.bytes), one.set()) == -1 ? errno : 0;
        results[2] = sched_getaffinity(target, sizeof(got.bytes), got.set()) == -1 ? errno : 0;
        if (write(pipefd[1], results, sizeof(results)) != sizeof(results))
            _exit(3);
        _exit(0);
    }
    close(pipefd[1]);
    int results[3] = {-1, -1, -1};
    ASSERT_EQ(read(pipefd[0], results, sizeof(results)), static_cast<ssize_t>(sizeof(results)));
    close(pipefd[0]);
    int status;
    waitpid(other, &status, 0);
    kill(target, SIGKILL);
    waitpid(target, &status, 0);
    EXPECT_EQ(results[0], EPERM);
    EXPECT_EQ(results[1], EPERM);
    EXPECT_EQ(results[2], 0) << "reading another user's mask is allowed";
    record("raw set", strerrorname_np(results[0]) ? strerrorname_np(results[0]) : "0");
    record("libc get", std::to_string(results[2]));
}

/* ---- getcpu --------------------------------------------------------------------------------- */

TEST_F(Affinity, GetcpuReportsACpuOfTheMaskAndItsNode) {
    unsigned cpu = ~0u, node = ~0u;
    ASSERT_EQ(getcpu(&cpu, &node), 0);
    if (conformance::vcpu_observable())
        EXPECT_TRUE(usable_set().count(static_cast<int>(cpu))) << cpu;
    if (!machine().is_virtual && access("/sys/devices/system/node/node0", F_OK) == 0) {
        std::string path = "/sys/devices/system/node/node" + std::to_string(node) + "/cpulist";
        EXPECT_TRUE(libos_test::parse_cpu_list(libos_test::read_file(path)).count(static_cast<int>(cpu)));
    }
    int s = sched_getcpu();
    if (conformance::vcpu_observable())
        EXPECT_TRUE(usable_set().count(s)) << s;
    unsigned sc = ~0u;
    ASSERT_EQ(syscall(SYS_getcpu, &sc, nullptr, nullptr), 0);
    EXPECT_TRUE(usable_set().count(static_cast<int>(sc))) << sc;
    EXPECT_EQ(OUTCOME(syscall(SYS_getcpu, nullptr, nullptr, nullptr)), outcome(0, 0));
    errno = 0;
    EXPECT_EQ(OUTCOME(syscall(SYS_getcpu, unmapped_address(), nullptr, nullptr)), outcome(-1, EFAULT));
    EXPECT_EQ(OUTCOME(syscall(SYS_getcpu, nullptr, unmapped_address(), nullptr)), outcome(-1, EFAULT));
    record("null pointers", OUTCOME(syscall(SYS_getcpu, nullptr, nullptr, nullptr)));
    record("bad cpu pointer", OUTCOME(syscall(SYS_getcpu, unmapped_address(), nullptr, nullptr)));
}

TEST_F(Affinity, LibcGetcpuWithABadPointerFaults) {
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        /* The fault's default action, as a program without handlers has it: an ASan build has its
         * own SIGSEGV handler, which would report the fault and exit 1. */
        signal(SIGSEGV, SIG_DFL);
        int ret = getcpu(static_cast<unsigned*>(unmapped_address()), nullptr);
        _exit(ret == -1 && errno == EFAULT ? 0 : 1);
    }
    int status;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    bool efault = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    bool segv = WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
    EXPECT_TRUE(efault || segv) << "status " << status;
    record("bad pointer", efault || segv ? "fault" : "no fault");
}

/* ---- threads -------------------------------------------------------------------------------- */

TEST_F(Affinity, ThreadsPinThemselvesIndependently) {
    const auto& usable = machine().usable;
    constexpr int kThreads = 8;
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int i = 0; i < kThreads; ++i) {
        threads.emplace_back([&, i] {
            int cpu = usable[static_cast<size_t>(i) % usable.size()];
            Mask want = single(cpu);
            if (pthread_setaffinity_np(pthread_self(), sizeof(want.bytes), want.set()) != 0)
                ++failures;
            for (int round = 0; round < 50; ++round) {
                Mask got;
                if (sched_getaffinity(0, sizeof(got.bytes), got.set()) != 0 || got.list() != want.list())
                    ++failures;
                if (conformance::vcpu_observable() && sched_getcpu() != cpu)
                    ++failures;
            }
        });
    }
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(failures.load(), 0);
    Mask mine;
    ASSERT_EQ(sched_getaffinity(0, sizeof(mine.bytes), mine.set()), 0);
    EXPECT_EQ(mine.list(), original_.list()) << "another thread's pinning changed the main thread";
    record("threads", std::to_string(failures.load()));
}

TEST_F(Affinity, PthreadCallsOnAnotherThread) {
    std::atomic<int> phase{0};
    std::string seen_inside;
    std::thread worker([&] {
        while (phase.load() != 1)
            usleep(100);
        Mask got;
        sched_getaffinity(0, sizeof(got.bytes), got.set());
        seen_inside = got.list();
        phase = 2;
        while (phase.load() != 3)
            usleep(100);
    });
    const int cpu = machine().usable.back();
    Mask want = single(cpu);
    EXPECT_EQ(pthread_setaffinity_np(worker.native_handle(), sizeof(want.bytes), want.set()), 0);
    Mask got;
    EXPECT_EQ(pthread_getaffinity_np(worker.native_handle(), sizeof(got.bytes), got.set()), 0);
    EXPECT_EQ(got.list(), want.list());
    EXPECT_EQ(pthread_getaffinity_np(worker.native_handle(), 4, got.set()), EINVAL);
    Mask empty;
    EXPECT_EQ(pthread_setaffinity_np(worker.native_handle(), sizeof(empty.bytes), empty.set()), EINVAL);
    phase = 1;
    while (phase.load() != 2)
        usleep(100);
    EXPECT_EQ(seen_inside, want.list());
    Mask mine;
    ASSERT_EQ(sched_getaffinity(0, sizeof(mine.bytes), mine.set()), 0);
    EXPECT_EQ(mine.list(), original_.list());
    phase = 3;
    worker.join();
    record("worker", seen_inside);
}

/* An exited thread that is not joined yet has the tid 0 (the kernel cleared it), which glibc passes
 * on: its pthread_getaffinity_np answers the calling thread's mask with 0, and pthread_setaffinity_np
 * sets the calling thread's. */
TEST_F(Affinity, PthreadCallsOnAnExitedThreadNameTheCaller) {
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, nullptr, [](void*) -> void* { return nullptr; }, nullptr), 0);
    clockid_t clock;
    for (int i = 0; i < 100000 && pthread_getcpuclockid(t, &clock) == 0; ++i)
        usleep(100);
    ASSERT_EQ(pthread_getcpuclockid(t, &clock), ESRCH) << "the thread's tid was not cleared";
    Mask mine, got;
    ASSERT_EQ(sched_getaffinity(0, sizeof(mine.bytes), mine.set()), 0);
    EXPECT_EQ(pthread_getaffinity_np(t, sizeof(got.bytes), got.set()), 0);
    EXPECT_EQ(got.list(), mine.list());
    const int cpu = machine().usable.back();
    Mask want = single(cpu);
    EXPECT_EQ(pthread_setaffinity_np(t, sizeof(want.bytes), want.set()), 0);
    ASSERT_EQ(sched_getaffinity(0, sizeof(mine.bytes), mine.set()), 0);
    EXPECT_EQ(mine.list(), want.list());
    EXPECT_EQ(pthread_join(t, nullptr), 0);
    record("exited", got.list() + " then " + mine.list());
}

TEST_F(Affinity, NewThreadsInheritTheCreatorsMask) {
    const int cpu = machine().usable.back();
    Mask want = single(cpu);
    ASSERT_EQ(sched_setaffinity(0, sizeof(want.bytes), want.set()), 0);
    std::string inside;
    std::thread([&] {
        Mask got;
        sched_getaffinity(0, sizeof(got.bytes), got.set());
        inside = got.list();
    }).join();
    EXPECT_EQ(inside, want.list());
    record("inherited", inside);
}

/* ---- signal handlers ------------------------------------------------------------------------ */

struct SignalResults {
    long raw_get;
    int libc_get;
    int libc_set;
    int getcpu_ret;
    int sched_getcpu_ret;
    unsigned cpu;
    /* Read as a cpu_set_t (cpu_list), whose words are longs: aligned as one (UBSan: misaligned). */
    alignas(cpu_set_t) unsigned char mask[kBigMask];
};
SignalResults g_in_handler;

void affinity_signal_handler(int) {
    int saved = errno;
    Mask m;
    g_in_handler.raw_get = raw_getaffinity(0, kBigMask, m.bytes);
    g_in_handler.libc_get = sched_getaffinity(0, sizeof(g_in_handler.mask), reinterpret_cast<cpu_set_t*>(g_in_handler.mask));
    g_in_handler.libc_set = sched_setaffinity(0, sizeof(g_in_handler.mask), reinterpret_cast<cpu_set_t*>(g_in_handler.mask));
    g_in_handler.getcpu_ret = getcpu(&g_in_handler.cpu, nullptr);
    g_in_handler.sched_getcpu_ret = sched_getcpu();
    errno = saved;
}

TEST_F(Affinity, CallsFromASignalHandler) {
    const int cpu = machine().usable.front();
    Mask want = single(cpu);
    ASSERT_EQ(sched_setaffinity(0, sizeof(want.bytes), want.set()), 0);
    struct sigaction sa = {}, old = {};
    sa.sa_handler = affinity_signal_handler;
    ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
    memset(&g_in_handler, 0, sizeof(g_in_handler));
    ASSERT_EQ(raise(SIGUSR1), 0);
    sigaction(SIGUSR1, &old, nullptr);
    EXPECT_EQ(g_in_handler.raw_get, static_cast<long>(machine().mask_size));
    EXPECT_EQ(g_in_handler.libc_get, 0);
    EXPECT_EQ(g_in_handler.libc_set, 0);
    EXPECT_EQ(cpu_list(reinterpret_cast<cpu_set_t*>(g_in_handler.mask), kBigMask), want.list());
    EXPECT_EQ(g_in_handler.getcpu_ret, 0);
    if (conformance::vcpu_observable()) {
        EXPECT_EQ(g_in_handler.cpu, static_cast<unsigned>(cpu));
        EXPECT_EQ(g_in_handler.sched_getcpu_ret, cpu);
    }
    record("in handler", cpu_list(reinterpret_cast<cpu_set_t*>(g_in_handler.mask), kBigMask));
}

/* ---- processes ------------------------------------------------------------------------------ */

/* Runs `child` in a forked process and returns what it wrote to its pipe. */
template <typename F>
std::string in_child(F child, pid_t* pid_out = nullptr, int* status_out = nullptr) {
    int pipefd[2];
    if (pipe(pipefd) != 0)
        return "pipe failed";
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        std::string out = child();
        ssize_t unused = write(pipefd[1], out.data(), out.size());
        (void)unused;
        _exit(0);
    }
    if (pid_out)
        *pid_out = pid;
    close(pipefd[1]);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(pipefd[0], buf, sizeof(buf))) > 0)
        out.append(buf, static_cast<size_t>(n));
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (status_out)
        *status_out = status;
    return out;
}

TEST_F(Affinity, ForkChildrenInheritTheMask) {
    const int cpu = machine().usable.back();
    Mask want = single(cpu);
    ASSERT_EQ(sched_setaffinity(0, sizeof(want.bytes), want.set()), 0);
    std::string child_view = in_child([] {
        Mask got;
        if (sched_getaffinity(0, sizeof(got.bytes), got.set()) != 0)
            return std::string("error");
        return got.list() + (conformance::vcpu_observable() ? " cpu " + std::to_string(sched_getcpu()) : "");
    });
    EXPECT_EQ(child_view, want.list() + (conformance::vcpu_observable() ? " cpu " + std::to_string(cpu) : ""));
    record("child", child_view);
}

/* A vfork child runs on its parent's thread (its memory, its TLS) but is a task of its own: its
 * sched_setaffinity changes its mask only, and the parent's is what it was when it resumes. */
TEST_F(Affinity, VforkChildsPinLeavesTheParentsMask) {
    if (machine().usable.size() < 2) {
        GTEST_SKIP() << "needs two usable CPUs";
    }
    Mask parent = single(machine().usable.front());
    ASSERT_EQ(sched_setaffinity(0, sizeof(parent.bytes), parent.set()), 0);
    Mask child = single(machine().usable.back());
    Mask seen; /* the child's own view of its mask: the one it set */
    pid_t pid = vfork();
    if (pid == 0) {
        if (sched_setaffinity(0, sizeof(child.bytes), child.set()) != 0)
            _exit(1);
        if (sched_getaffinity(0, sizeof(seen.bytes), seen.set()) != 0 ||
            memcmp(seen.bytes, child.bytes, sizeof(seen.bytes)) != 0)
            _exit(2);
        _exit(0);
    }
    ASSERT_GT(pid, 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child's status " << status;
    Mask got;
    ASSERT_EQ(sched_getaffinity(0, sizeof(got.bytes), got.set()), 0);
    EXPECT_EQ(got.list(), parent.list());
    if (conformance::vcpu_observable())
        EXPECT_EQ(sched_getcpu(), machine().usable.front());
    record("parent after vfork child", got.list());
}

TEST_F(Affinity, AnotherProcessByExplicitPid) {
    int to_child[2], from_child[2];
    ASSERT_EQ(pipe(to_child), 0);
    ASSERT_EQ(pipe(from_child), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        close(to_child[1]);
        close(from_child[0]);
        char go;
        if (read(to_child[0], &go, 1) != 1)
            _exit(1);
        Mask got;
        sched_getaffinity(0, sizeof(got.bytes), got.set());
        std::string view = got.list();
        ssize_t unused = write(from_child[1], view.data(), view.size());
        (void)unused;
        _exit(0);
    }
    close(to_child[0]);
    close(from_child[1]);
    const int cpu = machine().usable.back();
    Mask want = single(cpu);
    EXPECT_EQ(sched_setaffinity(child, sizeof(want.bytes), want.set()), 0);
    Mask got;
    EXPECT_EQ(sched_getaffinity(child, sizeof(got.bytes), got.set()), 0);
    EXPECT_EQ(got.list(), want.list());
    EXPECT_EQ(raw_getaffinity(child, kBigMask, got.bytes), static_cast<long>(machine().mask_size));
    Mask mine;
    ASSERT_EQ(sched_getaffinity(0, sizeof(mine.bytes), mine.set()), 0);
    EXPECT_EQ(mine.list(), original_.list()) << "setting the child's mask changed the parent's";
    ASSERT_EQ(write(to_child[1], "g", 1), 1);
    close(to_child[1]);
    std::string view;
    char buf[4096];
    ssize_t n;
    while ((n = read(from_child[0], buf, sizeof(buf))) > 0)
        view.append(buf, static_cast<size_t>(n));
    close(from_child[0]);
    int status;
    waitpid(child, &status, 0);
    EXPECT_EQ(view, want.list());
    record("child by pid", view);
}

/* Runs this binary with --print-affinity in a grandchild (fork, then `exec`), and returns what it
 * printed: its mask and its CPU count. */
template <typename Exec>
std::string exec_and_print(Exec exec) {
    return in_child([exec] {
        int pipefd[2];
        if (pipe(pipefd) != 0)
            return std::string("pipe");
        pid_t pid = fork();
        if (pid == 0) {
            dup2(pipefd[1], 1);
            exec();
            _exit(127);
        }
        close(pipefd[1]);
        std::string out;
        char buf[256];
        ssize_t n;
        while ((n = read(pipefd[0], buf, sizeof(buf))) > 0)
            out.append(buf, static_cast<size_t>(n));
        waitpid(pid, nullptr, 0);
        return out;
    });
}

TEST_F(Affinity, ExecKeepsTheMask) {
    const int cpu = machine().usable.back();
    Mask want = single(cpu);
    ASSERT_EQ(sched_setaffinity(0, sizeof(want.bytes), want.set()), 0);
    std::string printed = exec_and_print(
        [] { execl("/proc/self/exe", "conformance", "--print-affinity", static_cast<char*>(nullptr)); });
    EXPECT_EQ(printed, want.list() + " cpus " + std::to_string(machine().online) + "\n");
    record("after exec", printed);
}

/* A program that starts its child with an environment of its own (env -i does this) still puts it
 * on the same machine: the shim adds its settings back at exec. */
TEST_F(Affinity, ExecWithAScrubbedEnvironmentKeepsTheMachine) {
    const int cpu = machine().usable.back();
    Mask want = single(cpu);
    ASSERT_EQ(sched_setaffinity(0, sizeof(want.bytes), want.set()), 0);
    std::string printed = exec_and_print([] {
        char* const argv[] = {const_cast<char*>("conformance"), const_cast<char*>("--print-affinity"), nullptr};
        char* const envp[] = {const_cast<char*>("PATH=/usr/bin:/bin"), nullptr};
        execve("/proc/self/exe", argv, envp);
    });
    EXPECT_EQ(printed, want.list() + " cpus " + std::to_string(machine().online) + "\n");
    record("scrubbed exec", printed);
    /* Through /bin/sh, which gets the shim back at exec: an ASan-instrumented shim (an ASan build's)
     * cannot start in a program without ASan's runtime. */
    if (machine().is_virtual && getenv("LIBOS_TEST_ASAN_SHIM"))
        GTEST_SKIP() << "the ASan-instrumented shim cannot be preloaded into /bin/sh, which has no ASan runtime";
    /* /proc/$PPID/exe, seen by the host's /bin/sh, is the emulator itself. */
    if (libos_test::emulator())
        GTEST_SKIP() << "/proc/<pid>/exe of an emulated process names " << libos_test::emulator();
    std::string via_path = exec_and_print([] {
        char* const argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"),
                              const_cast<char*>("exec /proc/$PPID/exe --print-affinity"), nullptr};
        char* const envp[] = {nullptr};
        execvpe("/bin/sh", argv, envp);
    });
    EXPECT_EQ(via_path, want.list() + " cpus " + std::to_string(machine().online) + "\n");
}

/* ---- thread creation and CPU counts --------------------------------------------------------- */

TEST_F(Affinity, PthreadCreateWithAnAffinityAttribute) {
    const int cpu = machine().usable.back();
    Mask want = single(cpu);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    ASSERT_EQ(pthread_attr_setaffinity_np(&attr, sizeof(want.bytes), want.set()), 0);
    std::string inside;
    int inside_cpu = -1;
    struct Args {
        std::string* mask;
        int* cpu;
    } args{&inside, &inside_cpu};
    pthread_t thread;
    ASSERT_EQ(pthread_create(
                  &thread, &attr,
                  [](void* p) -> void* {
                      auto* a = static_cast<Args*>(p);
                      Mask got;
                      sched_getaffinity(0, sizeof(got.bytes), got.set());
                      *a->mask = got.list();
                      *a->cpu = sched_getcpu();
                      return nullptr;
                  },
                  &args),
              0);
    Mask seen;
    pthread_getaffinity_np(thread, sizeof(seen.bytes), seen.set()); /* may race with the thread's exit */
    pthread_join(thread, nullptr);
    EXPECT_EQ(inside, want.list());
    if (conformance::vcpu_observable())
        EXPECT_EQ(inside_cpu, cpu);
    Mask mine;
    ASSERT_EQ(sched_getaffinity(0, sizeof(mine.bytes), mine.set()), 0);
    EXPECT_EQ(mine.list(), original_.list()) << "the creator's mask changed";

    /* An attribute naming no CPU of the machine: pthread_create fails with EINVAL. */
    Mask nowhere;
    nowhere.add(static_cast<int>(kBigMask * 8 - 1));
    pthread_attr_t bad;
    pthread_attr_init(&bad);
    ASSERT_EQ(pthread_attr_setaffinity_np(&bad, sizeof(nowhere.bytes), nowhere.set()), 0);
    int ret = pthread_create(&thread, &bad, [](void*) -> void* { return nullptr; }, nullptr);
    EXPECT_EQ(ret, EINVAL);
    if (ret == 0)
        pthread_join(thread, nullptr);
    pthread_attr_destroy(&attr);
    pthread_attr_destroy(&bad);
    record("attribute", inside + " cpu " + std::to_string(inside_cpu) + " bad " + std::to_string(ret));
}

TEST(CpuCount, SysconfAndGetNprocsAgreeWithTheMachine) {
    EXPECT_EQ(sysconf(_SC_NPROCESSORS_ONLN), machine().online);
    EXPECT_EQ(get_nprocs(), machine().online);
    EXPECT_EQ(sysconf(_SC_NPROCESSORS_CONF), machine().configured);
    EXPECT_EQ(get_nprocs_conf(), machine().configured);
    EXPECT_EQ(static_cast<int>(std::thread::hardware_concurrency()), machine().online);
    record("online", std::to_string(sysconf(_SC_NPROCESSORS_ONLN)));
    record("configured", std::to_string(sysconf(_SC_NPROCESSORS_CONF)));
}

/* ---- everything else passes through --------------------------------------------------------- */

TEST(PassThrough, SyscallsWithoutAHandlerGetNativeResults) {
    EXPECT_EQ(syscall(SYS_getpid), getpid());
    EXPECT_EQ(syscall(SYS_getppid), getppid());
    EXPECT_EQ(syscall(SYS_gettid), gettid());
    EXPECT_EQ(syscall(SYS_getuid), static_cast<long>(getuid()));
    struct utsname a, b;
    ASSERT_EQ(syscall(SYS_uname, &a), 0);
    ASSERT_EQ(uname(&b), 0);
    EXPECT_STREQ(a.release, b.release);
    int pipefd[2];
    ASSERT_EQ(syscall(SYS_pipe2, pipefd, O_CLOEXEC), 0);
    EXPECT_EQ(syscall(SYS_write, pipefd[1], "abc", 3), 3);
    char buf[4] = {};
    EXPECT_EQ(syscall(SYS_read, pipefd[0], buf, 3), 3);
    EXPECT_STREQ(buf, "abc");
    close(pipefd[0]);
    close(pipefd[1]);
    errno = 0;
    EXPECT_EQ(OUTCOME(syscall(SYS_close, -1)), outcome(-1, EBADF));
    EXPECT_EQ(OUTCOME(syscall(100000)), outcome(-1, ENOSYS));
    EXPECT_EQ(OUTCOME(syscall(400)), outcome(-1, ENOSYS));
    EXPECT_EQ(OUTCOME(syscall(SYS_uname, unmapped_address())), outcome(-1, EFAULT));
    record("close(-1)", OUTCOME(syscall(SYS_close, -1)));
    record("nr 100000", OUTCOME(syscall(100000)));
    record("uname(bad)", OUTCOME(syscall(SYS_uname, unmapped_address())));
}

/* The run under the shim must really have the shim loaded, or the comparison proves nothing. */
/* The kernel reads a system call's number as a 32-bit int: syscall() of a number with bits above
 * them set runs the call of its low 32 bits. It is that call to the shim too, virtualized as it is,
 * not a number without a handler passed through (which let the host answer sched_getaffinity). An
 * emulator may refuse such numbers (ENOSYS): there is nothing to compare then. */
TEST_F(Affinity, SyscallNumbersAreTheirLow32Bits) {
    Mask plain, high;
    long want = syscall(SYS_sched_getaffinity, 0, sizeof(plain.bytes), plain.set());
    ASSERT_GT(want, 0);
    errno = 0;
    long got = syscall((1L << 32) | SYS_sched_getaffinity, 0, sizeof(high.bytes), high.set());
    if (got == -1 && errno == ENOSYS) {
        GTEST_SKIP() << "the host refuses numbers above 32 bits";
    }
    EXPECT_EQ(got, want);
    EXPECT_EQ(high.list(), plain.list());
    Mask upper;
    got = syscall(static_cast<long>(0xffffffff00000000UL | SYS_sched_getaffinity), 0, sizeof(upper.bytes),
                  upper.set());
    EXPECT_EQ(got, want);
    EXPECT_EQ(upper.list(), plain.list());
    record("high bits", std::to_string(got) + " " + high.list());
}

TEST(Harness, ShimIsLoadedExactlyWhenExpected) {
    bool expect = getenv("LIBOS_EXPECT_SHIM") != nullptr;
    bool loaded = libos_test::read_file("/proc/self/maps").find("libshim.so") != std::string::npos;
    EXPECT_EQ(loaded, expect);
}

}  // namespace
