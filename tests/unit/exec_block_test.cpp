// The exec block a vfork child leaves behind (libos_exec.cpp, t_exec_block) when a signal handler's
// exec interrupts the thread's own exec right after it first looked at the block: the handler takes
// the leftover, uses it and, its exec failing, unmaps it. The interrupted exec must not then read the
// block it looked at (its header is gone). The interruption is made exact with a hardware watchpoint
// on the thread's t_exec_block whose SIGTRAP (perf_event_open's sigtrap) arrives right after the
// instruction that first touched it; the handler plays a failed execve (build, then release).
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "libos/libos_exec.h"
#include "libos/libos_init.h"

extern char** environ;

namespace libos {
extern constinit thread_local void* t_exec_block __attribute__((tls_model("initial-exec")));
}

namespace {

constexpr size_t kLeftBytes = 8 << 20; /* larger than any block an exec here needs: it is reused */
int g_watch = -1;
volatile sig_atomic_t g_traps = 0;

void on_trap(int, siginfo_t*, void*) {
    g_traps = g_traps + 1;
    if (g_traps != 1)
        return;
    ioctl(g_watch, PERF_EVENT_IOC_DISABLE, 0);
    /* A handler's execve that fails: its environment is built, then released. */
    long error = 0;
    char* const* built = libos::exec_environment(environ, &error);
    libos::release_exec_environment(built, environ);
}

/* 0, 77 (no watchpoint here), or the number of the check that failed. A crash fails too. */
int interrupted_exec() {
#if !defined(__x86_64__)
    return 77; /* x86's data watchpoints trap after the access; others' before it, or emulated */
#endif
    setenv("LIBOS_CPUS", "8", 1);
    libos::ensure_init();
    if (!libos::is_virtual())
        return 1;
    /* A vfork child's leftover: its header says its size and its maker, a process that is neither
     * this one nor its parent. */
    void* left = mmap(nullptr, kLeftBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (left == MAP_FAILED)
        return 2;
    static_cast<size_t*>(left)[0] = kLeftBytes;
    static_cast<long*>(left)[1] = 0x3ffffff0; /* above pid_max: nobody's */
    libos::t_exec_block = left;

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_trap;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTRAP, &sa, nullptr) != 0)
        return 3;
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.type = PERF_TYPE_BREAKPOINT;
    attr.size = sizeof(attr);
    attr.bp_type = HW_BREAKPOINT_RW;
    attr.bp_addr = reinterpret_cast<uintptr_t>(&libos::t_exec_block);
    attr.bp_len = HW_BREAKPOINT_LEN_8;
    attr.sample_period = 1;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    attr.sigtrap = 1;
    attr.remove_on_exec = 1;
    g_watch = static_cast<int>(syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC));
    if (g_watch < 0)
        return 77;
    long error = 0;
    char* const* built = libos::exec_environment(environ, &error);
    if (g_traps == 0)
        return 4; /* the watchpoint never fired: nothing was tested */
    if (!built || built == environ)
        return 5;
    libos::release_exec_environment(built, environ);
    close(g_watch);
    return 0;
}

TEST(ExecBlock, AHandlersExecAfterTheFirstLookDoesNotPullTheBlockAway) {
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0)
        _exit(interrupted_exec());
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
        GTEST_SKIP() << "no x86 hardware watchpoint with sigtrap here";
    ASSERT_TRUE(WIFEXITED(status)) << "the exec was killed by signal " << WTERMSIG(status)
                                   << " (it read the block a handler's exec had unmapped)";
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the check that failed (interrupted_exec)";
}

}  // namespace
