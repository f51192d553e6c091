/* bench_icount CALL...: the user-mode instructions one call executes, counted by single-stepping it
 * with ptrace. A count does not depend on the clock, the load of the machine or the kernel's cost
 * (a `syscall` instruction counts as one), so the shim's own work on a path shows exactly: run this
 * natively and under the shim (LD_PRELOAD, the same environment as the timed figures), and compare.
 * This machine's PMU may be hidden (a virtual machine: perf stat gives <not supported>), which is why
 * it counts by stepping rather than with perf's instructions:u.
 *
 * For each CALL, a child warms the call up (lazy binding, the shim's set-up and caches), stops itself,
 * then makes it once between two labels; the parent steps the child from the stop and counts the
 * steps between the labels. Prints one JSON object: {"CALL": instructions, ...}. Exit 1 on failure.
 *   CALL: syscall_enosys (syscall() of a number the kernel does not have), syscall_getpid,
 *         sched_getcpu, getcpu, read_1_byte (read(2) of /dev/zero), write_1_byte (write(2) of /dev/null),
 *         syscall_write (syscall(SYS_write) of /dev/null), empty (a call that does nothing: the
 *         measurement's own floor). */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

namespace {

/* Above every number x86_64 has, below the x32 bit: the kernel answers ENOSYS at once. */
constexpr long kNoSuchSyscall = 1000;

long call_syscall_enosys() { return syscall(kNoSuchSyscall); }
long call_syscall_getpid() { return syscall(SYS_getpid); }
long call_sched_getcpu() { return sched_getcpu(); }
long call_getcpu() {
    unsigned cpu = 0, node = 0;
    return getcpu(&cpu, &node) + cpu + node;
}
long call_empty() { return 0; }
/* read(2) of one byte of /dev/zero, opened by main: the shim's read hook on a descriptor that is no
 * generated file. */
int g_zero = -1;
long call_read_1_byte() {
    char byte;
    return read(g_zero, &byte, 1);
}

/* write(2) of one byte to /dev/null, opened by main: the shim's write hook, and syscall()'s
 * pass-through of SYS_write (routed to the table only once a generated file is opened for reading
 * and writing), on a descriptor that is no generated file. */
int g_null = -1;
long call_write_1_byte() {
    return write(g_null, "x", 1);
}
long call_syscall_write() {
    return syscall(SYS_write, g_null, "x", 1L);
}

struct Call {
    const char* name;
    long (*fn)();
};
constexpr Call kCalls[] = {
    {"syscall_enosys", call_syscall_enosys}, {"syscall_getpid", call_syscall_getpid},
    {"sched_getcpu", call_sched_getcpu},     {"getcpu", call_getcpu},
    {"empty", call_empty},                   {"read_1_byte", call_read_1_byte},
    {"write_1_byte", call_write_1_byte},     {"syscall_write", call_syscall_write},
};

long (*volatile g_fn)() = nullptr;
/* BENCH_ICOUNT_TRACE=1: each counted instruction's address on standard error (to study a path). */
bool g_trace = false;
volatile long g_sink;

extern "C" const char bench_icount_begin[];
extern "C" const char bench_icount_end[];

/* The measured stretch: the call through a pointer, between two global labels (one copy only). */
__attribute__((noinline, noclone)) void measured() {
    __asm__ volatile(".globl bench_icount_begin\nbench_icount_begin: nop" ::: "memory");
    g_sink = g_fn();
    __asm__ volatile(".globl bench_icount_end\nbench_icount_end: nop" ::: "memory");
}

/* The number of instructions from bench_icount_begin to bench_icount_end in a child, or -1. */
long count(long (*fn)()) {
    g_fn = fn;
    pid_t child = fork();
    if (child < 0)
        return -1;
    if (child == 0) {
        if (ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) != 0)
            _exit(2);
        for (int i = 0; i < 1000; ++i)
            g_sink = fn();
        raise(SIGSTOP);
        measured();
        _exit(0);
    }
    int status;
    if (waitpid(child, &status, 0) != child || !WIFSTOPPED(status)) {
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
        return -1;
    }
    const auto begin = reinterpret_cast<unsigned long long>(bench_icount_begin);
    const auto end = reinterpret_cast<unsigned long long>(bench_icount_end);
    long steps = 0, at_begin = -1, result = -1;
    for (; steps < 10000000; ++steps) {
        if (ptrace(PTRACE_SINGLESTEP, child, nullptr, nullptr) != 0)
            break;
        if (waitpid(child, &status, 0) != child || !WIFSTOPPED(status))
            break;
        user_regs_struct regs;
        if (ptrace(PTRACE_GETREGS, child, nullptr, &regs) != 0)
            break;
        if (g_trace && at_begin >= 0)
            fprintf(stderr, "%#llx\n", regs.rip);
        if (regs.rip == begin)
            at_begin = steps;
        else if (regs.rip == end && at_begin >= 0) {
            /* The steps from the first instruction after the begin label's nop to the end label. */
            result = steps - at_begin - 1;
            break;
        }
    }
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    return result;
}

}  // namespace

int main(int argc, char** argv) {
    const char* trace = getenv("BENCH_ICOUNT_TRACE");
    g_trace = trace && strcmp(trace, "1") == 0;
    g_zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    g_null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    printf("{");
    for (int i = 1; i < argc; ++i) {
        const Call* found = nullptr;
        for (const Call& c : kCalls)
            if (strcmp(c.name, argv[i]) == 0)
                found = &c;
        if (!found) {
            fprintf(stderr, "bench_icount: unknown call %s\n", argv[i]);
            return 1;
        }
        long n = count(found->fn);
        if (n < 0) {
            fprintf(stderr, "bench_icount: could not count %s\n", argv[i]);
            return 1;
        }
        printf("%s\"%s\": %ld", i > 1 ? ", " : "", found->name, n);
    }
    printf("}\n");
    return 0;
}
