/* The shim's libc adapters, called directly out of a dlopen'ed libshim.so and compared with glibc's
 * own functions: return values, errno conventions, zero-filling and the pthread_t -> tid mapping. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "test_util.h"

using libos_test::required_env;

namespace {

struct Shim {
    long (*syscall)(long, ...);
    int (*sched_setaffinity)(pid_t, size_t, const cpu_set_t*);
    int (*sched_getaffinity)(pid_t, size_t, cpu_set_t*);
    int (*pthread_setaffinity_np)(pthread_t, size_t, const cpu_set_t*);
    int (*pthread_getaffinity_np)(pthread_t, size_t, cpu_set_t*);
    int (*getcpu)(unsigned*, unsigned*);
    int (*sched_getcpu)();
};

template <typename F>
void bind(void* handle, const char* name, F& out) {
    out = reinterpret_cast<F>(dlsym(handle, name));
    ASSERT_NE(out, nullptr) << name;
}

class ShimAdapter : public ::testing::Test {
protected:
    void SetUp() override {
        void* handle = dlopen(required_env("LIBOS_LIBSHIM").c_str(), RTLD_NOW | RTLD_LOCAL);
        ASSERT_NE(handle, nullptr) << dlerror();
        bind(handle, "syscall", shim.syscall);
        bind(handle, "sched_setaffinity", shim.sched_setaffinity);
        bind(handle, "sched_getaffinity", shim.sched_getaffinity);
        bind(handle, "pthread_setaffinity_np", shim.pthread_setaffinity_np);
        bind(handle, "pthread_getaffinity_np", shim.pthread_getaffinity_np);
        bind(handle, "getcpu", shim.getcpu);
        bind(handle, "sched_getcpu", shim.sched_getcpu);
        ASSERT_NE(reinterpret_cast<void*>(shim.sched_getaffinity), reinterpret_cast<void*>(&::sched_getaffinity))
            << "dlsym returned libc's function, not the shim's";
        ASSERT_EQ(sched_getaffinity(0, sizeof(original), &original), 0);
    }
    void TearDown() override { sched_setaffinity(0, sizeof(original), &original); }

    int first_cpu() const {
        for (int c = 0; c < CPU_SETSIZE; ++c)
            if (CPU_ISSET(c, &original))
                return c;
        return -1;
    }

    Shim shim{};
    cpu_set_t original;
};

TEST_F(ShimAdapter, SyscallSetsErrnoOnlyOnFailure) {
    errno = 777;
    EXPECT_EQ(shim.syscall(SYS_getpid), getpid());
    EXPECT_EQ(errno, 777);
    EXPECT_EQ(shim.syscall(SYS_close, -1), -1);
    EXPECT_EQ(errno, EBADF);
    errno = 0;
    EXPECT_EQ(shim.syscall(100000), -1);
    EXPECT_EQ(errno, ENOSYS);
    cpu_set_t set;
    long raw = shim.syscall(SYS_sched_getaffinity, 0, sizeof(set), &set);
    EXPECT_EQ(raw, syscall(SYS_sched_getaffinity, 0, sizeof(set), &set)) << "syscall() returns the byte count";
}

TEST_F(ShimAdapter, SchedGetaffinityZeroFillsPastTheKernelsMask) {
    alignas(cpu_set_t) unsigned char mine[256], glibcs[256];
    memset(mine, 0xAA, sizeof(mine));
    memset(glibcs, 0x55, sizeof(glibcs));
    errno = 777;
    ASSERT_EQ(shim.sched_getaffinity(0, sizeof(mine), reinterpret_cast<cpu_set_t*>(mine)), 0);
    EXPECT_EQ(errno, 777);
    ASSERT_EQ(::sched_getaffinity(0, sizeof(glibcs), reinterpret_cast<cpu_set_t*>(glibcs)), 0);
    EXPECT_EQ(memcmp(mine, glibcs, sizeof(mine)), 0);
    EXPECT_EQ(shim.sched_getaffinity(0, 4, reinterpret_cast<cpu_set_t*>(mine)), -1);
    EXPECT_EQ(errno, EINVAL);
}

TEST_F(ShimAdapter, SchedSetaffinityReturnsMinusOneAndErrno) {
    cpu_set_t empty;
    CPU_ZERO(&empty);
    EXPECT_EQ(shim.sched_setaffinity(0, sizeof(empty), &empty), -1);
    EXPECT_EQ(errno, EINVAL);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first_cpu(), &one);
    errno = 777;
    EXPECT_EQ(shim.sched_setaffinity(0, sizeof(one), &one), 0);
    EXPECT_EQ(errno, 777);
    cpu_set_t now;
    ASSERT_EQ(::sched_getaffinity(0, sizeof(now), &now), 0);
    EXPECT_TRUE(CPU_EQUAL(&now, &one));
}

TEST_F(ShimAdapter, PthreadCallsReturnPositiveErrnoAndLeaveErrnoAlone) {
    cpu_set_t set;
    errno = 777;
    EXPECT_EQ(shim.pthread_getaffinity_np(pthread_self(), 4, &set), EINVAL);
    EXPECT_EQ(errno, 777);
    cpu_set_t empty;
    CPU_ZERO(&empty);
    EXPECT_EQ(shim.pthread_setaffinity_np(pthread_self(), sizeof(empty), &empty), EINVAL);
    EXPECT_EQ(errno, 777);
    EXPECT_EQ(shim.pthread_getaffinity_np(pthread_self(), sizeof(set), &set), 0);
    EXPECT_TRUE(CPU_EQUAL(&set, &original));
}

TEST_F(ShimAdapter, PthreadCallsReachTheRightThread) {
    std::atomic<pid_t> tid{0};
    std::atomic<bool> stop{false};
    std::thread worker([&] {
        tid = gettid();
        while (!stop)
            usleep(1000);
    });
    while (!tid)
        usleep(1000);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first_cpu(), &one);
    EXPECT_EQ(shim.pthread_setaffinity_np(worker.native_handle(), sizeof(one), &one), 0);
    cpu_set_t seen;
    ASSERT_EQ(::sched_getaffinity(tid, sizeof(seen), &seen), 0);
    EXPECT_TRUE(CPU_EQUAL(&seen, &one)) << "the worker thread was not the one pinned";
    ASSERT_EQ(::sched_getaffinity(0, sizeof(seen), &seen), 0);
    EXPECT_TRUE(CPU_EQUAL(&seen, &original)) << "the calling thread was pinned instead";
    cpu_set_t via_shim, via_glibc;
    EXPECT_EQ(shim.pthread_getaffinity_np(worker.native_handle(), sizeof(via_shim), &via_shim), 0);
    EXPECT_EQ(::pthread_getaffinity_np(worker.native_handle(), sizeof(via_glibc), &via_glibc), 0);
    EXPECT_TRUE(CPU_EQUAL(&via_shim, &via_glibc));
    stop = true;
    worker.join();
}

TEST_F(ShimAdapter, GetcpuAndSchedGetcpuReportThePinnedCpu) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first_cpu(), &one);
    ASSERT_EQ(::sched_setaffinity(0, sizeof(one), &one), 0);
    unsigned cpu = 9999, node = 9999;
    EXPECT_EQ(shim.getcpu(&cpu, &node), 0);
    EXPECT_EQ(cpu, static_cast<unsigned>(first_cpu()));
    unsigned native_cpu, native_node;
    ASSERT_EQ(::getcpu(&native_cpu, &native_node), 0);
    EXPECT_EQ(node, native_node);
    EXPECT_EQ(shim.sched_getcpu(), first_cpu());
    EXPECT_EQ(shim.getcpu(nullptr, nullptr), 0);
}

/* On the host machine getcpu with a bad pointer does what glibc's does (its vDSO faults): the
 * adapter forwards, it does not turn the fault into an error of its own. */
TEST_F(ShimAdapter, GetcpuWithABadPointerBehavesAsGlibc) {
    auto outcome = [](auto fn) {
        pid_t child = fork();
        if (child == 0) {
            /* The fault's default action: an ASan build has its own SIGSEGV handler, which would
             * report the fault and exit 1 for both. */
            signal(SIGSEGV, SIG_DFL);
            int ret = fn(static_cast<unsigned*>(libos_test::unmapped_address()), nullptr);
            _exit(ret == -1 && errno == EFAULT ? 10 : 11);
        }
        int status = 0;
        waitpid(child, &status, 0);
        return status;
    };
    auto shim_getcpu = shim.getcpu;
    EXPECT_EQ(outcome([&](unsigned* c, unsigned* n) { return shim_getcpu(c, n); }),
              outcome([](unsigned* c, unsigned* n) { return ::getcpu(c, n); }));
}

}  // namespace
