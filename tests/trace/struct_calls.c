/* struct_calls: system calls whose arguments are structures in memory, each made once through
 * syscall() (so that the shim routes and traces it as strace sees it), for the side-by-side test
 * of their decoding with strace 6.1 (tests/trace/trace_test.py, "structures"). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct kernel_sigaction { /* the kernel's layout, not glibc's */
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
};

struct sched_attr_v1 {
    uint32_t size, sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
};

static void on_usr1(int sig) {
    (void)sig;
}

int main(void) {
    struct timespec req = {0, 1000000}, rem;
    syscall(SYS_nanosleep, &req, &rem);
    syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, NULL);
    struct timespec res;
    syscall(SYS_clock_getres, CLOCK_MONOTONIC, &res);
    syscall(SYS_sched_rr_get_interval, 0, &res);

    struct sched_param param = {0};
    syscall(SYS_sched_getparam, 0, &param);
    syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &param);
    syscall(SYS_sched_setparam, 0, &param);

    struct rlimit lim;
    syscall(SYS_getrlimit, RLIMIT_NOFILE, &lim);
    syscall(SYS_setrlimit, RLIMIT_NOFILE, &lim);
    struct rlimit old;
    syscall(SYS_prlimit64, 0, RLIMIT_STACK, NULL, &old);
    syscall(SYS_prlimit64, 0, RLIMIT_CORE, &old, NULL);

    struct stat st;
    syscall(SYS_newfstatat, AT_FDCWD, "/", &st, 0);
    syscall(SYS_fstat, 0, &st);
#ifdef SYS_stat
    syscall(SYS_stat, "/dev/null", &st);
    syscall(SYS_lstat, "/proc/self", &st);
#endif
    syscall(SYS_newfstatat, AT_FDCWD, "/nonexistent", &st, 0);

    struct kernel_sigaction act = {on_usr1, SA_RESTART, NULL, 1ull << (SIGUSR2 - 1)}, oldact;
    syscall(SYS_rt_sigaction, SIGUSR1, &act, &oldact, 8);
    syscall(SYS_rt_sigaction, SIGUSR1, NULL, &oldact, 8);
    struct kernel_sigaction ign = {SIG_IGN, 0, NULL, 0};
    syscall(SYS_rt_sigaction, SIGUSR2, &ign, NULL, 8);

    struct sched_attr_v1 attr;
    memset(&attr, 0, sizeof(attr));
    syscall(SYS_sched_getattr, 0, &attr, sizeof(attr), 0);
    attr.size = sizeof(attr);
    syscall(SYS_sched_setattr, 0, &attr, 0);
    /* The second version, with the utilization clamps (SCHED_ATTR_SIZE_VER1). */
    struct {
        struct sched_attr_v1 v0;
        uint32_t util_min, util_max;
    } attr1;
    memset(&attr1, 0, sizeof(attr1));
    syscall(SYS_sched_getattr, 0, &attr1, sizeof(attr1), 0);

    struct clone_args args;
    memset(&args, 0, sizeof(args));
    args.exit_signal = SIGCHLD;
    long child = syscall(SYS_clone3, &args, sizeof(args));
    if (child == 0)
        _exit(0);
    if (child > 0)
        waitpid((pid_t)child, NULL, 0);
    return 0;
}
