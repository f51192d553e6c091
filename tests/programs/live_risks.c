/* The corners of live generated files that a review of them left (issue 14), each run natively and
 * under the shim by tests/integration/live_files.sh; the host is the oracle.
 *
 *   live_risks spawn-in-handler  a posix_spawn whose file action copies /proc/stat onto 9, interrupted
 *                                (a seccomp trap of the F_GETFD the shim asks of each live descriptor
 *                                while it lists them for the new program) by a signal handler that
 *                                makes a posix_spawn of its own: the new program reads its copy again
 *                                and prints "advanced" when the counters moved, "frozen" when not
 *   live_risks clone-child       a child of glibc's clone() with a stack of its own and no CLONE_VM
 *                                (a process) sets its own affinity: "kept" when its parent's mask is
 *                                still the parent's own and the child read back what it set
 *   live_risks clone-settls      a child of glibc's clone() without CLONE_VM and with CLONE_SETTLS (a
 *                                thread pointer at the end of a small block of this program's, with
 *                                nothing mapped below it) that leaves with a raw exit(5): "exited 5"
 *   live_risks truncated         /proc/stat kept open and read again while another process truncates
 *                                /proc/PID/fd/N to nothing (natively the real /proc/stat, which that
 *                                does not change): "survived" when every read returned and the last
 *                                one has the content
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

extern char** environ;

enum { kSwitches = 2000, kBuf = 1 << 16 };
static char g_buf[kBuf];

/* Context switches, at least 2 per round: a child and this process hand a byte back and forth. */
static void switch_contexts(void) {
    int there[2], back[2];
    if (pipe(there) || pipe(back))
        exit(2);
    pid_t child = fork();
    if (child == 0) {
        char c;
        for (int i = 0; i < kSwitches; ++i)
            if (read(there[0], &c, 1) != 1 || write(back[1], &c, 1) != 1)
                _exit(2);
        _exit(0);
    }
    char c = 'x';
    for (int i = 0; i < kSwitches; ++i)
        if (write(there[1], &c, 1) != 1 || read(back[0], &c, 1) != 1)
            exit(2);
    waitpid(child, NULL, 0);
    close(there[0]), close(there[1]), close(back[0]), close(back[1]);
}

/* fd read again from offset 0 to its end into g_buf: the bytes read. */
static size_t reread(int fd) {
    size_t used = 0;
    ssize_t n;
    if (lseek(fd, 0, SEEK_SET) != 0)
        return 0;
    while (used + 4096 < kBuf && (n = read(fd, g_buf + used, 4096)) > 0)
        used += (size_t)n;
    g_buf[used] = '\0';
    return used;
}

static long long ctxt(void) {
    const char* at = strstr(g_buf, "\nctxt ");
    return at ? atoll(at + 6) : -1;
}

/* ---- spawn-in-handler ---------------------------------------------------------------------------- */

enum { kLiveFd = 50, kCopyFd = 9 };
static volatile sig_atomic_t g_depth, g_handled;

/* SIGSYS of the trapped fcntl(kLiveFd, F_GETFD): its answer (the descriptor is close-on-exec) is put
 * in the call's return register; the first time, a posix_spawn of its own is made in between (its
 * own F_GETFD traps again, with SA_NODEFER, and is answered alone). */
static void on_trap(int sig, siginfo_t* info, void* context) {
    (void)sig, (void)info;
    ucontext_t* uc = context;
#if defined(__x86_64__)
    uc->uc_mcontext.gregs[REG_RAX] = FD_CLOEXEC;
#elif defined(__aarch64__)
    uc->uc_mcontext.regs[0] = FD_CLOEXEC;
#endif
    if (g_depth || g_handled)
        return;
    g_depth = 1;
    g_handled = 1;
    const int saved = errno;
    char* args[] = {"true", NULL};
    pid_t pid;
    if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ) == 0)
        waitpid(pid, NULL, 0);
    errno = saved;
    g_depth = 0;
}

/* fcntl(kLiveFd, F_GETFD) traps (SIGSYS); every other call runs. */
static int trap_getfd(void) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_fcntl, 0, 5),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kLiveFd, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, F_GETFD, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof(code) / sizeof(code[0]), code};
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_trap;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    if (sigaction(SIGSYS, &sa, NULL))
        return -1;
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) ? -1 : 0;
}

static int spawn_in_handler_method(void) {
    int opened = open("/proc/stat", O_RDONLY);
    if (opened < 0 || dup3(opened, kLiveFd, O_CLOEXEC) != kLiveFd || close(opened))
        return 1;
    reread(kLiveFd);
    const long long before = ctxt();
    switch_contexts();
    char before_text[32];
    snprintf(before_text, sizeof(before_text), "%lld", before);
    char* args[] = {"live_risks", "exec-child", before_text, NULL};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, kLiveFd, kCopyFd);
    fflush(stdout);
    if (trap_getfd())
        return 1;
    pid_t child;
    if (posix_spawn(&child, "/proc/self/exe", &actions, NULL, args, environ) != 0)
        return 1;
    posix_spawn_file_actions_destroy(&actions);
    int status;
    if (waitpid(child, &status, 0) != child)
        return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* exec-child BEFORE: descriptor kCopyFd inherited across exec, read again from offset 0. */
static int exec_child_method(const char* before_text) {
    reread(kCopyFd);
    const long long before = atoll(before_text), after = ctxt();
    printf("%s\n", before >= 0 && after >= before + kSwitches ? "advanced" : "frozen");
    return 0;
}

/* ---- clone-child --------------------------------------------------------------------------------- */

static int g_cpu;

static int clone_child(void* arg) {
    (void)arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(g_cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set))
        return 1;
    cpu_set_t got;
    if (sched_getaffinity(0, sizeof(got), &got) || !CPU_EQUAL(&got, &set))
        return 2;
    return 0;
}

static int clone_child_method(void) {
    cpu_set_t mine;
    if (sched_getaffinity(0, sizeof(mine), &mine) || CPU_COUNT(&mine) < 2)
        return 1;
    for (g_cpu = CPU_SETSIZE - 1; g_cpu > 0 && !CPU_ISSET(g_cpu, &mine); --g_cpu)
        ;
    static char stack[256 * 1024] __attribute__((aligned(16)));
    pid_t child = clone(clone_child, stack + sizeof(stack), SIGCHLD, NULL);
    int status;
    if (child < 0 || waitpid(child, &status, 0) != child)
        return 1;
    cpu_set_t after;
    if (sched_getaffinity(0, sizeof(after), &after))
        return 1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        printf("child failed (%d)\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    else if (!CPU_EQUAL(&after, &mine))
        printf("changed: %d CPUs (was %d)\n", CPU_COUNT(&after), CPU_COUNT(&mine));
    else
        printf("kept\n");
    return 0;
}

/* ---- truncated ----------------------------------------------------------------------------------- */

/* An open that no library sees: the raw system call, as a program without the shim makes it. */
static long raw_openat(const char* path, int flags) {
#if defined(__x86_64__)
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"((long)SYS_openat), "D"((long)AT_FDCWD), "S"(path), "d"((long)flags)
                     : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = SYS_openat;
    register long x0 __asm__("x0") = AT_FDCWD;
    register long x1 __asm__("x1") = (long)path;
    register long x2 __asm__("x2") = flags;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
#endif
}

static long raw_close(long fd) {
    return syscall(SYS_close, fd);
}

static int truncated_method(void) {
    int fd = open("/proc/stat", O_RDONLY);
    if (fd < 0 || reread(fd) == 0)
        return 1;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)getpid(), fd);
    const pid_t parent = getpid();
    pid_t child = fork();
    if (child == 0) {
        /* Gone with its parent, which a SIGBUS may end. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
            _exit(1);
        for (;;) { /* natively a no-op on /proc/stat (or EACCES); the shim's memfd is truncated */
            long w = raw_openat(path, O_WRONLY | O_TRUNC);
            if (w >= 0)
                raw_close(w);
        }
    }
    if (child < 0)
        return 1;
    int ok = 1;
    for (int i = 0; i < 3000 && ok; ++i)
        ok = lseek(fd, 0, SEEK_SET) == 0 && read(fd, g_buf, kBuf) >= 0;
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    const size_t n = reread(fd);
    printf("%s\n", ok && n > 0 && strncmp(g_buf, "cpu ", 4) == 0 ? "survived" : "failed");
    return 0;
}

/* ---- clone-settls -------------------------------------------------------------------------------- */

static int settls_child(void* arg) {
    (void)arg;
    syscall(SYS_exit, 5); /* a raw exit: no libc code that reads the thread pointer */
    return 1;
}

static int clone_settls_method(void) {
    static char stack[64 * 1024] __attribute__((aligned(16)));
    /* The thread pointer at the start of a mapping with a guard page below it: whatever is read or
     * written at a negative offset from it (initial-exec thread-local variables, on x86_64) faults. */
    const long page = sysconf(_SC_PAGESIZE);
    char* area = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED || mprotect(area, page, PROT_NONE))
        return 1;
    char* tls = area + page;
    *(void**)tls = tls; /* x86_64's TCB starts with a pointer to itself */
    pid_t child = clone(settls_child, stack + sizeof(stack), CLONE_SETTLS | SIGCHLD, NULL, NULL, tls, NULL);
    int status;
    if (child < 0 || waitpid(child, &status, 0) != child)
        return 1;
    if (WIFEXITED(status))
        printf("exited %d\n", WEXITSTATUS(status));
    else
        printf("killed by signal %d\n", WIFSIGNALED(status) ? WTERMSIG(status) : -1);
    return 0;
}

int main(int argc, char** argv) {
    if (argc == 3 && strcmp(argv[1], "exec-child") == 0)
        return exec_child_method(argv[2]);
    if (argc != 2)
        return 2;
    if (strcmp(argv[1], "spawn-in-handler") == 0)
        return spawn_in_handler_method();
    if (strcmp(argv[1], "clone-child") == 0)
        return clone_child_method();
    if (strcmp(argv[1], "clone-settls") == 0)
        return clone_settls_method();
    if (strcmp(argv[1], "truncated") == 0)
        return truncated_method();
    return 2;
}
