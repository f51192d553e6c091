/* The program the trace tests (trace_test.py) run under the shim: each mode makes an exactly known
 * set of calls and prints what it did, one "key value..." line each, so that the test can hold the
 * trace against it. Natively it runs too (no trace then); a mode that fails prints why on stderr and
 * exits 1.
 *
 *   basic            sched_setaffinity to {last vCPU} from trace_test_caller_function, then
 *                    sched_getaffinity, getcpu(), syscall(SYS_getcpu), open of
 *                    /sys/devices/system/cpu/online, a failing sched_setaffinity (an empty mask:
 *                    EINVAL), syscall(SYS_getpid) (passed to the host), sched_setaffinity back to
 *                    every CPU and sched_getaffinity again. Prints "calls NAME CALLS ERRORS" per
 *                    affinity call.
 *   fork             fork, and the child execs this program in mode "child"; the parent waits.
 *   child            sched_setaffinity to {0}, sched_getaffinity, syscall(SYS_getpid).
 *   fork-noexec      three sched_setaffinity, a fork whose child makes one sched_getaffinity and
 *                    returns from main (so its exit-time summary runs), one sched_getaffinity after.
 *   chdir-exec DIR   chdir(DIR), then as "fork" (the child found by absolute path).
 *   threads N M      N threads, released together, each one sched_setaffinity then M
 *                    sched_getaffinity through trace_test_thread_body. Prints "tid T" per thread.
 *   fault K          the program's own SIGSEGV handler (SA_SIGINFO), K faults on a PROT_NONE page of
 *                    its own, each left with siglongjmp; prints "recovered K".
 *   crash-own        the same fault with no handler: the process must die of SIGSEGV.
 *   abort-own        abort() in the program's own code: the process must die of SIGABRT.
 *   closefd FILE     closes descriptors 3-63 (as daemons do), opens FILE, makes one sched_getaffinity,
 *                    writes "data\n" to FILE and prints what FILE holds afterwards.
 *   deep D [PATH]    D nested calls of a function with a 127-character name, then one
 *                    sched_getaffinity, or an open of PATH (whose failure does not matter).
 *   cxx              one sched_getaffinity from the C++ function trace_test::cxx_frame(int).
 *   longname         one sched_getaffinity from a function whose name is over 128 characters.
 *   utf8path         open() of a missing path of 60 two-byte UTF-8 characters (ENOENT).
 *   altstack         a SIGUSR1 handler on a signal stack of sysconf(_SC_SIGSTKSZ) bytes (a guard page
 *                    below) makes sched_getaffinity, sched_setaffinity and getcpu; prints
 *                    "altstack SIZE calls 3".
 *   mknod            seven mknodat/mknod calls through syscall() that fail before making anything
 *                    (types FIFO, CHR, BLK, none, REG with set-user-ID, SOCK, and 0177777).
 *   truncstats       ftruncate of the launch's counts (the descriptor of memfd:libos-vcpu-stats) to 0, prints "ftruncate R ERRNO", then one
 *                    sched_getaffinity (counted by --stats).
 *   vfork-exec       three sched_getaffinity, a vfork whose child execs this program in mode "child",
 *                    one sched_getaffinity after; prints "parent PID" and "vforked PID".
 *   longpath         openat of "/" and 599 'a' through syscall() (ENAMETOOLONG).
 *   execvp           one sched_getaffinity, then execvp of this program by its name (through PATH)
 *                    in mode "child".
 *   errno            20 x (errno = 1234, sched_getaffinity; errno = 4321, syscall(SYS_getcpu)); prints
 *                    "errno kept K of 40", K the calls after which errno was the program's.
 *   badutf8          openat of a missing path holding bytes that look like UTF-8 but are not (overlong,
 *                    surrogate, beyond U+10FFFF) and one real é (ENOENT).
 *   mqopen           syscall(SYS_mq_open) of an invalid name (EACCES), without and with O_CREAT.
 *   classes          through syscall(), one call each of several strace classes, in this order:
 *                    openat("/"), newfstatat(fd, "", AT_EMPTY_PATH), close, mmap, mprotect, munmap,
 *                    rt_sigprocmask, kill(self, 0), getpid, wait4 (ECHILD), nanosleep(20 ms),
 *                    sched_getaffinity, uname. Prints "classes ok".
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

namespace {

int fail(const char* what) {
    fprintf(stderr, "traced_program: %s: %s\n", what, strerror(errno));
    return 1;
}

int last_cpu() {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<int>(n) - 1 : 0;
}

std::string self_path() {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0)
        return "";
    buf[n] = '\0';
    return buf;
}

/* The same, in static storage (for a signal handler). */
const char* self_path_c() {
    static char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

cpu_set_t all_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c = 0; c <= last_cpu(); ++c)
        CPU_SET(c, &set);
    return set;
}

}  // namespace

/* The frames the stack checks look for: not inlined, not tail calls, with external names. */
extern "C" __attribute__((noinline)) int trace_test_caller_function(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int ret = sched_setaffinity(0, sizeof(set), &set);
    __asm__ volatile("" ::: "memory");
    return ret;
}

extern "C" __attribute__((noinline)) void* trace_test_thread_body(void* arg);

namespace {

int mode_basic() {
    int last = last_cpu();
    int set_calls = 0, set_errors = 0, get_calls = 0;

    ++set_calls;
    if (trace_test_caller_function(last) != 0)
        return fail("sched_setaffinity to the last CPU");
    printf("setaffinity %d\n", last);

    cpu_set_t got;
    ++get_calls;
    if (sched_getaffinity(0, sizeof(got), &got) != 0)
        return fail("sched_getaffinity");
    printf("getaffinity count=%d has_last=%d\n", CPU_COUNT(&got), CPU_ISSET(last, &got) ? 1 : 0);

    unsigned cpu = 99, node = 99;
    if (getcpu(&cpu, &node) != 0)
        return fail("getcpu");
    printf("getcpu %u %u\n", cpu, node);
    unsigned cpu2 = 99, node2 = 99;
    if (syscall(SYS_getcpu, &cpu2, &node2, nullptr) != 0)
        return fail("syscall(SYS_getcpu)");
    printf("syscall_getcpu %u %u\n", cpu2, node2);

    int fd = open("/sys/devices/system/cpu/online", O_RDONLY);
    if (fd < 0)
        return fail("open /sys/devices/system/cpu/online");
    char online[64] = {};
    ssize_t n = read(fd, online, sizeof(online) - 1);
    close(fd);
    if (n <= 0)
        return fail("read /sys/devices/system/cpu/online");
    online[strcspn(online, "\n")] = '\0';
    printf("online %s fd=%d\n", online, fd);

    cpu_set_t empty;
    CPU_ZERO(&empty);
    ++set_calls;
    errno = 0;
    int ret = sched_setaffinity(0, sizeof(empty), &empty);
    if (ret == -1 && errno == EINVAL)
        ++set_errors;
    else
        return fail("sched_setaffinity({}) did not fail with EINVAL");
    printf("empty_mask EINVAL\n");

    long pid = syscall(SYS_getpid);
    printf("pid %ld\n", pid);

    cpu_set_t all = all_cpus();
    ++set_calls;
    if (sched_setaffinity(0, sizeof(all), &all) != 0)
        return fail("sched_setaffinity to every CPU");
    ++get_calls;
    if (sched_getaffinity(0, sizeof(got), &got) != 0)
        return fail("sched_getaffinity");
    printf("calls sched_setaffinity %d %d\n", set_calls, set_errors);
    printf("calls sched_getaffinity %d 0\n", get_calls);
    return 0;
}

}  // namespace

/* child: the exec'd program's calls, from a frame the stack check can name. */
extern "C" __attribute__((noinline)) int trace_test_child_function() {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0)
        return fail("child: sched_setaffinity");
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return fail("child: sched_getaffinity");
    printf("child pid %ld\n", syscall(SYS_getpid));
    __asm__ volatile("" ::: "memory");
    return 0;
}

namespace {

int fork_exec_child() {
    std::string self = self_path();
    fflush(stdout);
    pid_t child = fork();
    if (child < 0)
        return fail("fork");
    if (child == 0) {
        char* argv[] = {const_cast<char*>(self.c_str()), const_cast<char*>("child"), nullptr};
        execv(self.c_str(), argv);
        _exit(127);
    }
    printf("forked %d\n", child);
    fflush(stdout);
    int status = 0;
    if (waitpid(child, &status, 0) != child)
        return fail("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "traced_program: child status %#x\n", status);
        return 1;
    }
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return fail("sched_getaffinity after the child");
    printf("parent pid %ld\n", syscall(SYS_getpid));
    return 0;
}

int mode_fork_noexec() {
    cpu_set_t all = all_cpus();
    for (int i = 0; i < 3; ++i)
        if (sched_setaffinity(0, sizeof(all), &all) != 0)
            return fail("sched_setaffinity");
    fflush(stdout);
    pid_t child = fork();
    if (child < 0)
        return fail("fork");
    cpu_set_t set;
    if (child == 0) {
        if (sched_getaffinity(0, sizeof(set), &set) != 0)
            return fail("child: sched_getaffinity");
        printf("child %ld setaffinity 0 getaffinity 1\n", static_cast<long>(getpid()));
        return 0; /* exit(): the summary runs */
    }
    int status = 0;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return fail("child");
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return fail("sched_getaffinity");
    printf("parent %ld setaffinity 3 getaffinity 1\n", static_cast<long>(getpid()));
    return 0;
}

pthread_barrier_t g_barrier;
int g_calls_per_thread = 0;
int g_vcpus = 1;

struct ThreadArg {
    int index;
    pid_t tid;
    int failures;
};

}  // namespace

extern "C" __attribute__((noinline)) void* trace_test_thread_body(void* p) {
    auto* arg = static_cast<ThreadArg*>(p);
    arg->tid = static_cast<pid_t>(syscall(SYS_gettid));
    pthread_barrier_wait(&g_barrier);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(arg->index % g_vcpus, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0)
        ++arg->failures;
    for (int i = 0; i < g_calls_per_thread; ++i)
        if (sched_getaffinity(0, sizeof(set), &set) != 0 || CPU_COUNT(&set) != 1)
            ++arg->failures;
    __asm__ volatile("" ::: "memory");
    return nullptr;
}

namespace {

int mode_threads(int n, int m) {
    g_calls_per_thread = m;
    g_vcpus = last_cpu() + 1;
    pthread_barrier_init(&g_barrier, nullptr, static_cast<unsigned>(n));
    std::vector<ThreadArg> args(static_cast<size_t>(n));
    std::vector<pthread_t> threads(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
        args[i] = ThreadArg{i, 0, 0};
        if (pthread_create(&threads[i], nullptr, &trace_test_thread_body, &args[i]) != 0)
            return fail("pthread_create");
    }
    int failures = 0;
    for (int i = 0; i < n; ++i) {
        pthread_join(threads[i], nullptr);
        failures += args[i].failures;
        printf("tid %d\n", args[i].tid);
    }
    if (failures) {
        fprintf(stderr, "traced_program: %d calls failed\n", failures);
        return 1;
    }
    return 0;
}

sigjmp_buf g_jump;
void* volatile g_fault_address = nullptr;
volatile int g_fault_code = 0;

void on_segv(int, siginfo_t* info, void*) {
    g_fault_address = info->si_addr;
    g_fault_code = info->si_code;
    siglongjmp(g_jump, 1);
}

char* no_access_page() {
    void* page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return page == MAP_FAILED ? nullptr : static_cast<char*>(page);
}

int mode_fault(int k) {
    char* page = no_access_page();
    if (!page)
        return fail("mmap");
    struct sigaction sa = {};
    sa.sa_sigaction = &on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, nullptr) != 0)
        return fail("sigaction");
    struct sigaction back = {};
    if (sigaction(SIGSEGV, nullptr, &back) != 0 || back.sa_sigaction != &on_segv)
        return fail("sigaction does not give the handler back");
    int recovered = 0;
    for (int i = 0; i < k; ++i) {
        g_fault_address = nullptr;
        if (sigsetjmp(g_jump, 1) == 0) {
            *reinterpret_cast<volatile int*>(page + 8 * i) = 1;
            fprintf(stderr, "traced_program: the write to a PROT_NONE page did not fault\n");
            return 1;
        }
        if (g_fault_address != page + 8 * i || g_fault_code != SEGV_ACCERR) {
            fprintf(stderr, "traced_program: fault %d at %p code %d, expected %p code %d\n", i,
                    g_fault_address, g_fault_code, static_cast<void*>(page + 8 * i), SEGV_ACCERR);
            return 1;
        }
        sigset_t now;
        sigprocmask(SIG_BLOCK, nullptr, &now);
        if (sigismember(&now, SIGSEGV)) {
            fprintf(stderr, "traced_program: SIGSEGV still blocked after siglongjmp\n");
            return 1;
        }
        ++recovered;
    }
    printf("recovered %d\n", recovered);
    return 0;
}

int mode_crash_own() {
    char* page = no_access_page();
    if (!page)
        return fail("mmap");
    *reinterpret_cast<volatile int*>(page) = 1;
    printf("survived\n");
    return 0;
}

int mode_closefd(const char* file) {
    for (int fd = 3; fd < 64; ++fd)
        close(fd);
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return fail("open FILE");
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return fail("sched_getaffinity");
    if (write(fd, "data\n", 5) != 5)
        return fail("write");
    close(fd);
    fd = open(file, O_RDONLY);
    if (fd < 0)
        return fail("open FILE again");
    char buf[8192] = {};
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return fail("read FILE");
    printf("fd %d holds %zd bytes\n", fd, n);
    fwrite(buf, 1, static_cast<size_t>(n), stdout);
    return 0;
}

}  // namespace

/* deep: a name of exactly 127 characters, the longest a frame keeps, so that stack frames are long.
 * At the bottom, open(g_deep_path) when a path was given (its line's length is the test's to choose),
 * else sched_getaffinity. */
const char* g_deep_path = nullptr;
#define DEEP_FRAME \
    trace_test_deep_frame_named_with_127_characters_the_longest_name_the_unwinder_keeps_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
#define LONG_NAME_FRAME \
    trace_test_function_whose_name_is_longer_than_the_unwinder_frame_field_of_128_bytes_as_many_mangled_cxx_names_are_xxxxxxxxxxxxxxxxxxxxxxxxxx

extern "C" __attribute__((noinline)) int DEEP_FRAME(int depth) {
    int ret;
    if (depth <= 0) {
        if (g_deep_path) {
            int fd = open(g_deep_path, O_RDONLY);
            if (fd >= 0)
                close(fd);
            ret = 0;
        } else {
            cpu_set_t set;
            ret = sched_getaffinity(0, sizeof(set), &set);
        }
    } else {
        ret = DEEP_FRAME(depth - 1);
    }
    __asm__ volatile("" ::: "memory");
    return ret;
}

/* longname: a name longer than a frame's 128-byte function field. */
extern "C" __attribute__((noinline)) int LONG_NAME_FRAME() {
    cpu_set_t set;
    int ret = sched_getaffinity(0, sizeof(set), &set);
    __asm__ volatile("" ::: "memory");
    return ret;
}

/* cxx: a C++ function (mangled _ZN10trace_test9cxx_frameEi), shown demangled in stacks. */
namespace trace_test {
__attribute__((noinline)) int cxx_frame(int n) {
    cpu_set_t set;
    int ret = n > 0 ? sched_getaffinity(0, sizeof(set), &set) : -1;
    __asm__ volatile("" ::: "memory");
    return ret;
}
}  // namespace trace_test

namespace {

/* The traced calls on a thread with a small stack (32 KiB, the size many runtimes give their
 * threads, or `bytes`: 16 KiB is PTHREAD_STACK_MIN), with nothing mapped below it: the tracer's own
 * frames, and with --trace-stack the unwinder's, must fit. */
void* smallstack_thread(void*) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0 || sched_setaffinity(0, sizeof(set), &set) != 0)
        return reinterpret_cast<void*>(1);
    return nullptr;
}

int mode_smallstack(size_t kStack) {
    constexpr size_t kGuard = 256 << 10;
    /* The stack at the top of a mapping whose lower part is inaccessible: an overflow faults. */
    auto* area = static_cast<char*>(mmap(nullptr, kGuard + kStack, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (area == MAP_FAILED || mprotect(area + kGuard, kStack, PROT_READ | PROT_WRITE) != 0)
        return fail("mmap");
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstack(&attr, area + kGuard, kStack);
    pthread_t t;
    if (pthread_create(&t, &attr, smallstack_thread, nullptr) != 0)
        return fail("pthread_create");
    void* result = nullptr;
    pthread_join(t, &result);
    if (result)
        return fail("sched_getaffinity/sched_setaffinity on the small stack");
    printf("smallstack %zu ok\n", kStack);
    return 0;
}

/* A SIGUSR1 handler on a 64 KiB signal stack makes traced calls (with --trace-stack: unwound on the
 * unwinder's own stacks) while another thread sends SIGUSR2, whose handler is on the signal stack
 * too: a SIGUSR2 taken while the SIGUSR1 handler is off its signal stack must not be put over it. */
pthread_t g_nest_target;
std::atomic<bool> g_nest_done{false};
volatile long g_nest_bad = 0, g_nest_usr2 = 0;

void nest_usr2(int) {
    volatile char junk[2048];
    memset(const_cast<char*>(junk), 0x5a, sizeof(junk));
    g_nest_usr2 = g_nest_usr2 + 1;
}

void nest_usr1(int) {
    volatile unsigned long canary[64];
    for (int i = 0; i < 64; ++i)
        canary[i] = 0x1234567800ul + i;
    for (int k = 0; k < 20; ++k) {
        cpu_set_t set;
        CPU_ZERO(&set);
        sched_getaffinity(0, sizeof(set), &set);
    }
    for (int i = 0; i < 64; ++i)
        if (canary[i] != 0x1234567800ul + i)
            g_nest_bad = g_nest_bad + 1;
}

void* nest_sender(void*) {
    while (!g_nest_done.load()) {
        pthread_kill(g_nest_target, SIGUSR2);
        usleep(50);
    }
    return nullptr;
}

int mode_altstack_nest(int rounds) {
    static char stack[64 << 10];
    stack_t ss = {};
    ss.ss_sp = stack;
    ss.ss_size = sizeof(stack);
    struct sigaction sa = {};
    sa.sa_flags = SA_ONSTACK;
    sa.sa_handler = nest_usr1;
    if (sigaltstack(&ss, nullptr) != 0 || sigaction(SIGUSR1, &sa, nullptr) != 0)
        return fail("sigaltstack/sigaction");
    sa.sa_handler = nest_usr2;
    sigaction(SIGUSR2, &sa, nullptr);
    g_nest_target = pthread_self();
    pthread_t t;
    if (pthread_create(&t, nullptr, nest_sender, nullptr) != 0)
        return fail("pthread_create");
    for (int i = 0; i < rounds; ++i)
        raise(SIGUSR1);
    g_nest_done.store(true);
    pthread_join(t, nullptr);
    printf("altstack-nest bad %ld\n", static_cast<long>(g_nest_bad));
    return g_nest_bad ? 1 : 0;
}

/* `threads` threads of `bytes` stacks each (a guard below each), started together through a
 * barrier, each making 50 rounds of smallstack_thread's calls: with --trace-stack, more threads
 * unwind at once than the unwinder has stacks of its own, and none may fall back on its small one. */
pthread_barrier_t g_smallstacks_start;

void* smallstacks_thread(void*) {
    pthread_barrier_wait(&g_smallstacks_start);
    for (int i = 0; i < 50; ++i)
        if (smallstack_thread(nullptr))
            return reinterpret_cast<void*>(1);
    return nullptr;
}

int mode_smallstacks(int threads, size_t bytes) {
    constexpr size_t kGuard = 64 << 10;
    if (threads < 1 || threads > 256)
        return fail("threads: 1 to 256");
    pthread_t t[256];
    pthread_barrier_init(&g_smallstacks_start, nullptr, static_cast<unsigned>(threads));
    for (int i = 0; i < threads; ++i) {
        auto* area = static_cast<char*>(mmap(nullptr, kGuard + bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        if (area == MAP_FAILED || mprotect(area + kGuard, bytes, PROT_READ | PROT_WRITE) != 0)
            return fail("mmap");
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstack(&attr, area + kGuard, bytes);
        if (pthread_create(&t[i], &attr, smallstacks_thread, nullptr) != 0)
            return fail("pthread_create");
    }
    bool ok = true;
    for (int i = 0; i < threads; ++i) {
        void* result = nullptr;
        pthread_join(t[i], &result);
        ok = ok && !result;
    }
    if (!ok)
        return fail("sched_getaffinity/sched_setaffinity on the small stacks");
    printf("smallstacks %d %zu ok\n", threads, bytes);
    return 0;
}

/* errno as the program set it, after libc calls the shim traces (with stacks: the unwinder must not
 * leave its own errno behind). */
int mode_errno() {
    int kept = 0;
    for (int i = 0; i < 20; ++i) {
        cpu_set_t set;
        errno = 1234;
        if (sched_getaffinity(0, sizeof(set), &set) != 0)
            return fail("sched_getaffinity");
        kept += errno == 1234;
        errno = 4321;
        if (syscall(SYS_getcpu, nullptr, nullptr, nullptr) != 0)
            return fail("getcpu");
        kept += errno == 4321;
    }
    printf("errno kept %d of 40\n", kept);
    return 0;
}

/* openat of a missing path whose bytes are not UTF-8 though they look like sequences: an overlong
 * NUL (c0 80), a UTF-16 surrogate (ed a0 80), a lead byte past U+10FFFF (f5), a 4-byte sequence past
 * it (f4 90 80 80). */
int mode_badutf8() {
    errno = 0;
    if (syscall(SYS_openat, AT_FDCWD, "/nonexistent-libos-trace-test/\xc0\x80|\xed\xa0\x80|\xf5\x80\x80\x80|"
                "\xf4\x90\x80\x80|\xe0\x80\x80|\xc3\xa9", O_RDONLY) >= 0 || errno != ENOENT)
        return fail("openat of the missing path did not fail with ENOENT");
    printf("badutf8 ENOENT\n");
    return 0;
}

/* mq_open through syscall() with a name the kernel refuses (a '/' inside: EACCES, nothing created),
 * without and with O_CREAT. */
int mode_mqopen() {
    long a = syscall(SYS_mq_open, "libos/trace", O_RDONLY, 0, nullptr);
    int ea = errno;
    long b = syscall(SYS_mq_open, "libos/trace", O_RDWR | O_CREAT, 0600, nullptr);
    int eb = errno;
    printf("mq_open %ld %d %ld %d\n", a, ea, b, eb);
    return 0;
}

volatile sig_atomic_t g_altstack_calls = 0;
/* Set for "altstack SIZE exec": the handler then execs this program in mode "child". */
const char* g_altstack_exec = nullptr;

void altstack_handler(int) {
    if (g_altstack_exec) {
        char* argv[] = {const_cast<char*>(g_altstack_exec), const_cast<char*>("child"), nullptr};
        execv(g_altstack_exec, argv);
        _exit(99);
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    int ok = sched_getaffinity(0, sizeof(set), &set) == 0;
    ok += sched_setaffinity(0, sizeof(set), &set) == 0;
    unsigned cpu = 0;
    ok += syscall(SYS_getcpu, &cpu, nullptr, nullptr) == 0;
    g_altstack_calls = ok;
}

/* A SIGUSR1 handler on a signal stack of SIGSTKSZ bytes (sysconf(_SC_SIGSTKSZ): what the C library
 * says a handler needs), or of `size` bytes, makes three traced calls (or, with `exec`, execs this
 * program); below the stack, an inaccessible guard, so that an overflow faults. */
int mode_altstack(long size, const char* exec) {
    g_altstack_exec = exec;
    if (size <= 0)
        size = sysconf(_SC_SIGSTKSZ);
    if (size <= 0)
        size = 8192;
    const size_t kGuard = 256 << 10, stack = static_cast<size_t>(size);
    auto* area = static_cast<char*>(mmap(nullptr, kGuard + stack, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (area == MAP_FAILED || mprotect(area + kGuard, stack, PROT_READ | PROT_WRITE) != 0)
        return fail("mmap");
    stack_t ss = {};
    ss.ss_sp = area + kGuard;
    ss.ss_size = stack;
    if (sigaltstack(&ss, nullptr) != 0)
        return fail("sigaltstack");
    struct sigaction sa = {};
    sa.sa_handler = altstack_handler;
    sa.sa_flags = SA_ONSTACK;
    if (sigaction(SIGUSR1, &sa, nullptr) != 0)
        return fail("sigaction");
    raise(SIGUSR1);
    printf("altstack %ld calls %d\n", size, static_cast<int>(g_altstack_calls));
    return 0;
}

/* mknodat and mknod through syscall(), each refused before anything is made (a bad descriptor with a
 * relative path, a missing directory, an invalid type): a FIFO, a character and a block device,
 * no type, a regular file with set-user-ID, a socket, a type without a name. */
int mode_mknod() {
    syscall(SYS_mknodat, -1, "x", S_IFIFO | 0600, 0);
    syscall(SYS_mknodat, -1, "x", S_IFCHR | 0600, (1u << 8) | 3);                  /* makedev(1, 3) */
    syscall(SYS_mknodat, -1, "x", S_IFBLK | 0644, (259u << 8) | 0x70 | (0x111u << 20)); /* makedev(259, 70000) */
    syscall(SYS_mknodat, -1, "x", 0600, 0);
    syscall(SYS_mknod, "/nonexistent-libos-trace-test/x", S_IFREG | 04755, 5);
    syscall(SYS_mknod, "/nonexistent-libos-trace-test/x", S_IFSOCK | 0777, 0);
    syscall(SYS_mknod, "/nonexistent-libos-trace-test/x", 0177777, 0);
    printf("mknod done\n");
    return 0;
}

/* A program that truncates the descriptor of the launch's counts (--stats' memfd), as one that
 * truncates descriptors it does not own might, then makes a counted call; prints what ftruncate
 * answered. */
int mode_truncstats() {
    int fd = -1;
    for (int i = 0; i < 1024 && fd < 0; ++i) {
        char link[64], target[256];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", i);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n > 0) {
            target[n] = '\0';
            if (strstr(target, "memfd:libos-vcpu-stats"))
                fd = i;
        }
    }
    if (fd < 0)
        return fail("no memfd:libos-vcpu-stats among the descriptors");
    errno = 0;
    int r = ftruncate(fd, 0);
    printf("ftruncate %d %s\n", r, r == 0 ? "ok" : strerrorname_np(errno));
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return fail("sched_getaffinity");
    return 0;
}

/* vfork-exec: three sched_getaffinity, a vfork whose child execs this program in mode "child", one
 * sched_getaffinity after; prints "parent PID" and "vforked PID". */
int mode_vfork_exec() {
    std::string self = self_path();
    char* argv[] = {const_cast<char*>(self.c_str()), const_cast<char*>("child"), nullptr};
    cpu_set_t set;
    for (int i = 0; i < 3; ++i)
        if (sched_getaffinity(0, sizeof(set), &set) != 0)
            return fail("sched_getaffinity");
    fflush(stdout);
    pid_t child = vfork();
    if (child < 0)
        return fail("vfork");
    if (child == 0) {
        execv(self.c_str(), argv);
        _exit(127);
    }
    int status = 0;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return fail("the vfork child");
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return fail("sched_getaffinity after the child");
    /* A program that posix_spawn starts next (TRACE_TEST_SPAWN, which says whether it got an exec's
     * line in its environment): the vfork child's exec line is not this process's to pass on. */
    if (const char* spawn = getenv("TRACE_TEST_SPAWN")) {
        char* spawn_argv[] = {const_cast<char*>(spawn), const_cast<char*>("env"), nullptr};
        pid_t pid = 0;
        fflush(stdout);
        if (posix_spawn(&pid, spawn, nullptr, nullptr, spawn_argv, environ) != 0 || waitpid(pid, &status, 0) != pid)
            return fail("posix_spawn");
    }
    printf("parent %ld\nvforked %d\n", syscall(SYS_getpid), child);
    return 0;
}

/* longpath: openat of a path of 600 bytes, longer than PATH_MAX allows for a component (ENAMETOOLONG). */
int mode_longpath() {
    std::string path = "/" + std::string(599, 'a');
    errno = 0;
    if (syscall(SYS_openat, AT_FDCWD, path.c_str(), O_RDONLY) >= 0 || errno != ENAMETOOLONG)
        return fail("openat of the long path did not fail with ENAMETOOLONG");
    printf("longpath ENAMETOOLONG\n");
    return 0;
}

/* execvp: one sched_getaffinity, then execvp of this program by its name (found through PATH) in
 * mode "child". */
int mode_execvp() {
    std::string self = self_path();
    std::string name = self.substr(self.rfind('/') + 1);
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return fail("sched_getaffinity");
    fflush(stdout);
    char* argv[] = {const_cast<char*>(name.c_str()), const_cast<char*>("child"), nullptr};
    execvp(name.c_str(), argv);
    return fail("execvp");
}

int mode_utf8path() {
    std::string path = "/nonexistent-libos-trace-test/x"; /* odd length: the cut at 96 bytes falls inside a character */
    for (int i = 0; i < 60; ++i)
        path += "\xc3\xa9"; /* é */
    errno = 0;
    int fd = open(path.c_str(), O_RDONLY);
    if (fd >= 0 || errno != ENOENT)
        return fail("open of the missing path did not fail with ENOENT");
    printf("utf8path ENOENT\n");
    return 0;
}

int mode_classes() {
    long fd = syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail("openat /");
    struct stat st;
    if (syscall(SYS_newfstatat, fd, "", &st, AT_EMPTY_PATH) != 0 || syscall(SYS_close, fd) != 0)
        return fail("newfstatat or close");
    long page = syscall(SYS_mmap, nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == -1 || syscall(SYS_mprotect, page, 4096, PROT_READ) != 0 || syscall(SYS_munmap, page, 4096) != 0)
        return fail("mmap, mprotect or munmap");
    uint64_t old = 0;
    if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &old, 8) != 0)
        return fail("rt_sigprocmask");
    long pid = syscall(SYS_getpid);
    if (syscall(SYS_kill, pid, 0) != 0 || syscall(SYS_getpid) != pid)
        return fail("kill or getpid");
    if (syscall(SYS_wait4, -1, nullptr, WNOHANG, nullptr) != -1 || errno != ECHILD)
        return fail("wait4 should fail with ECHILD");
    struct timespec nap = {0, 20 * 1000 * 1000};
    if (syscall(SYS_nanosleep, &nap, nullptr) != 0)
        return fail("nanosleep");
    cpu_set_t mask;
    struct utsname name;
    if (syscall(SYS_sched_getaffinity, 0, sizeof(mask), &mask) <= 0 || syscall(SYS_uname, &name) != 0)
        return fail("sched_getaffinity or uname");
    printf("classes ok\n");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    setvbuf(stdout, nullptr, _IOLBF, 0);
    std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "basic")
        return mode_basic();
    if (mode == "fork")
        return fork_exec_child();
    if (mode == "child")
        return trace_test_child_function();
    if (mode == "fork-noexec")
        return mode_fork_noexec();
    if (mode == "chdir-exec" && argc > 2) {
        if (chdir(argv[2]) != 0)
            return fail("chdir");
        return fork_exec_child();
    }
    if (mode == "threads" && argc > 3)
        return mode_threads(atoi(argv[2]), atoi(argv[3]));
    if (mode == "fault")
        return mode_fault(argc > 2 ? atoi(argv[2]) : 1);
    if (mode == "crash-own")
        return mode_crash_own();
    if (mode == "abort-own")
        abort();
    if (mode == "closefd" && argc > 2)
        return mode_closefd(argv[2]);
    if (mode == "deep" && argc > 2) {
        g_deep_path = argc > 3 ? argv[3] : nullptr;
        return DEEP_FRAME(atoi(argv[2])) == 0 ? 0 : 1;
    }
    if (mode == "longname")
        return LONG_NAME_FRAME() == 0 ? 0 : 1;
    if (mode == "smallstack")
        return mode_smallstack(argc > 2 ? static_cast<size_t>(atol(argv[2])) : 32 << 10);
    if (mode == "vforkexit") {
        /* vfork children whose exec fails and who _exit, as a shell's do, then the altstack test. */
        for (int i = 0, n = argc > 2 ? atoi(argv[2]) : 70; i < n; ++i) {
            pid_t pid = vfork();
            if (pid == 0) {
                char* args[] = {const_cast<char*>("/nonexistent/program"), nullptr};
                execv(args[0], args);
                _exit(127);
            }
            int status = 0;
            if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 127)
                return fail("vfork child's _exit(127)");
        }
        return mode_altstack(argc > 3 ? atol(argv[3]) : 0, nullptr);
    }
    if (mode == "altstack-nest")
        return mode_altstack_nest(argc > 2 ? atoi(argv[2]) : 100);
    if (mode == "smallstacks")
        return mode_smallstacks(argc > 2 ? atoi(argv[2]) : 16, argc > 3 ? static_cast<size_t>(atol(argv[3])) : 16 << 10);
    if (mode == "altstack")
        return mode_altstack(argc > 2 ? atol(argv[2]) : 0,
                             argc > 3 && strcmp(argv[3], "exec") == 0 ? self_path_c() : nullptr);
    if (mode == "mknod")
        return mode_mknod();
    if (mode == "truncstats")
        return mode_truncstats();
    if (mode == "vfork-exec")
        return mode_vfork_exec();
    if (mode == "longpath")
        return mode_longpath();
    if (mode == "execvp")
        return mode_execvp();
    if (mode == "errno")
        return mode_errno();
    if (mode == "badutf8")
        return mode_badutf8();
    if (mode == "mqopen")
        return mode_mqopen();
    if (mode == "utf8path")
        return mode_utf8path();
    if (mode == "cxx")
        return trace_test::cxx_frame(argc) == 0 ? 0 : 1;
    if (mode == "classes")
        return mode_classes();
    if (mode == "exit-group") {
        /* One counted call, then the end through syscall(), as a runtime without libc's exit ends. */
        cpu_set_t set;
        sched_getaffinity(0, sizeof(set), &set);
        syscall(SYS_exit_group, 4);
    }
    fprintf(stderr, "usage: traced_program basic|fork|child|fork-noexec|chdir-exec DIR|threads N M|fault K|"
                    "crash-own|abort-own|closefd FILE|deep D [PATH]|cxx|longname|utf8path|classes\n");
    return 2;
}
