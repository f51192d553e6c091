/* struct_calls [small-stack]: system calls whose arguments are structures in memory, each made once
 * through syscall() (so that the shim routes and traces it as strace sees it), for the side-by-side
 * test of their decoding with strace 6.1 (tests/trace/trace_test.py, "structures"): timespec,
 * sched_param, rlimit, stat, sigaction, sched_attr, clone_args; statx; signal sets; exec's argument
 * vector and environment (failed execs, then one that succeeds: the program again, with
 * "exec-done", which returns at once). With small-stack, the calls on memory that the trace reads
 * as it formats the line (statx, signal sets, exec's arrays) run on a thread of a 16 KiB stack
 * with a guard page below it, as well as on the main thread. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
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

/* statx, the signal-set calls and failed execs: what the trace reads of memory as it formats. */
static void *memory_calls(void *unused) {
    (void)unused;
    struct statx sx;
    syscall(SYS_statx, AT_FDCWD, "/", 0, STATX_BASIC_STATS | STATX_BTIME, &sx);
    syscall(SYS_statx, AT_FDCWD, "/dev/null", AT_NO_AUTOMOUNT, STATX_MODE, &sx);
    syscall(SYS_statx, AT_FDCWD, "/proc", AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, STATX_TYPE | STATX_MNT_ID, &sx);
    syscall(SYS_statx, AT_FDCWD, "/", AT_STATX_FORCE_SYNC, 0x4000, &sx);
    syscall(SYS_statx, AT_FDCWD, "/nonexistent", 0, STATX_ALL, &sx);
    syscall(SYS_statx, AT_FDCWD, "/", 0, STATX_ALL, (void *)8);

    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, &old, 8);
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &old, 8);
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, &old, 4);
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, (void *)8, &old, 8);
    syscall(SYS_rt_sigprocmask, 7, &set, NULL, 8);
    sigfillset(&set);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &set, &old, 8);
    sigemptyset(&set);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &set, &old, 8);
    syscall(SYS_rt_sigpending, &old, 8);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGIO);
    sigaddset(&set, SIGRTMIN + 1);
    sigaddset(&set, 64);
    long fd = syscall(SYS_signalfd4, -1, &set, 8, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd >= 0)
        close((int)fd);
#ifdef SYS_signalfd
    fd = syscall(SYS_signalfd, -1, &set, 8);
    if (fd >= 0)
        close((int)fd);
#endif
    syscall(SYS_signalfd4, -1, &set, 4, 0);
    struct timespec none = {0, 0};
    syscall(SYS_rt_sigtimedwait, &set, NULL, &none, 8);
    syscall(SYS_rt_sigsuspend, (void *)8, 8);
    syscall(SYS_rt_sigsuspend, &set, 4);

    char *env[] = {"A=1", "B=2", NULL};
    char *one[] = {"ONE=1", NULL};
    char *cut[] = {"0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdefX", "q\"uo\\te\n", NULL};
    char *bad[] = {"ok", (char *)1, NULL};
    char *many[41];
    static char names[40][8];
    for (int i = 0; i < 40; ++i) {
        snprintf(names[i], sizeof(names[i]), "a%d", i);
        many[i] = names[i];
    }
    many[40] = NULL;
    many[32] = NULL; /* exactly 32: no "..." */
    syscall(SYS_execve, "/nonexistent/a", many, one);
    many[32] = names[32];
    syscall(SYS_execve, "/nonexistent/b", many, env);
    syscall(SYS_execve, "/nonexistent/c", cut, env);
    syscall(SYS_execve, "/nonexistent/d", bad, (char *[]){NULL});
    syscall(SYS_execve, "/nonexistent/e", NULL, NULL);
    syscall(SYS_execveat, AT_FDCWD, "/nonexistent/f", cut, env, AT_SYMLINK_NOFOLLOW);
    return NULL;
}

/* memory_calls on a 16 KiB stack with a guard page below it: preloaded code that overflows faults. */
static int on_small_stack(void) {
    const size_t page = (size_t)getpagesize(), bytes = 16384;
    char *area = mmap(NULL, bytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED || mprotect(area, page, PROT_NONE) != 0)
        return 1;
    pthread_attr_t attr;
    pthread_t thread;
    pthread_attr_init(&attr);
    if (pthread_attr_setstack(&attr, area + page, bytes) != 0 || pthread_create(&thread, &attr, memory_calls, NULL) != 0)
        return 1;
    pthread_join(thread, NULL);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "exec-done") == 0)
        return 0;
    if (argc > 1 && strcmp(argv[1], "small-stack") == 0 && on_small_stack() != 0)
        return 1;
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

    memory_calls(NULL);
    /* utimensat's times (UTIME_NOW and UTIME_OMIT by name, a time with its date, none); clocks and a
     * resource strace has no name for (0xc, a process's CPU clock, 0x10); clone3 with a size below the
     * first version's (EINVAL, the structure as its address); a signal taken by rt_sigtimedwait, queued
     * and sent to the thread (its siginfo, and its name after the result); paths strace escapes. */
    struct timespec times[2] = {{0, UTIME_NOW}, {5, UTIME_OMIT}};
    syscall(SYS_utimensat, AT_FDCWD, "/nonexistent", times, 0);
    struct timespec dated[2] = {{1, 2}, {86400 * 365 + 3661, 999999999}};
    syscall(SYS_utimensat, AT_FDCWD, "/nonexistent", dated, 0);
    syscall(SYS_utimensat, AT_FDCWD, "/nonexistent", NULL, 0);
    syscall(SYS_clock_getres, 12, &res);
    syscall(SYS_clock_getres, -6, &res);
    syscall(SYS_prlimit64, 0, 16, NULL, &old);
    syscall(SYS_clone3, &args, 40);
    sigset_t rt;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN + 3);
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, &rt, NULL, 8);
    siginfo_t info;
    struct timespec zero = {0, 0};
    union sigval value = {.sival_int = 7};
    sigqueue(getpid(), SIGRTMIN + 3, value);
    syscall(SYS_rt_sigtimedwait, &rt, &info, &zero, 8);
    syscall(SYS_tgkill, getpid(), gettid(), SIGRTMIN + 3);
    syscall(SYS_rt_sigtimedwait, &rt, &info, &zero, 8);
    syscall(SYS_openat, AT_FDCWD, "/nonexistent/a\tb\nc\"d\\e\001f\177g\200h\033[i\0017\303\251\r\v\f", O_RDONLY);
    /* The one exec that succeeds: its line as strace shows it, two variables. */
    char *again[] = {argv[0], "exec-done", NULL};
    char *env[] = {"A=1", "B=2", NULL};
    syscall(SYS_execve, "/proc/self/exe", again, env);
    return 1;
}
