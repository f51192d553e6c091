// sched_getcpu and getcpu from a signal handler that interrupts them. A second thread sends the main
// thread SIGUSR1 as fast as it can; at each, the handler moves the main thread to the
// next of three masks (A = {1, 2}, B = {5, 6}, C = {3, 7}), then asks sched_getcpu and getcpu and
// checks both answers against the mask it just set. (Three, so that an answer of the mask before
// last is wrong too: with two it would pass for the mask in effect.) The main thread asks sched_getcpu and getcpu in a loop and
// checks every answer against the mask in effect, whenever no handler changed it during the call.
// A handler that fills the per-thread cache while the interrupted call is filling it must not leave
// an answer of the old mask filed under the new one. (Each signal makes the main thread's next call
// a miss, which fills the cache; a signal that lands among the few instructions of that fill that
// matter is rare, so the test finds a torn fill only sometimes, never a false one.)
//
//   getcpu_signals [SIGNALS]   runs until the handler ran SIGNALS times (default 20000), prints "ok"
//                              or the first wrong answer
//   getcpu_signals stepped     the same race at every instruction, deterministically: a traced child
//                              moves itself to a mask and asks (a cache miss, which fills the cache);
//                              the parent single-steps it k instructions into that call and delivers
//                              the signal there, for k = 0, 1, ... until the call ends before k; the
//                              handler moves the child to the next mask and asks; the interrupted
//                              call's answer must be in the mask it began under or the handler's,
//                              and the child's next answer in the handler's. Once for sched_getcpu,
//                              once for getcpu. The masks are single vCPUs (1, 3, 5), one host CPU
//                              on --cpus 8 of two host CPUs, so that a cached entry's host CPU still
//                              matches wherever the signal lands: an entry read before its sequence
//                              number hits there with the answer of the mask before. Prints
//                              "ok stepped" or the first k whose answer was wrong.
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

constexpr int kMaskCount = 3;
constexpr int kMixed[kMaskCount][2] = {{1, 2}, {5, 6}, {3, 7}};
constexpr int kSingle[kMaskCount][2] = {{1, 1}, {3, 3}, {5, 5}};
const int (*g_masks)[2] = kMixed; /* kSingle in the stepped mode */

volatile sig_atomic_t g_generation = 0; /* which mask: g_masks[g_generation % kMaskCount] */
volatile sig_atomic_t g_handled = 0;
volatile sig_atomic_t g_wrong = 0; /* the first wrong answer, + 1000 * where (1 handler, 2 main) */
volatile sig_atomic_t g_stop = 0;
pid_t g_main_tid;

bool in_mask(int generation, int cpu) {
    const int* mask = g_masks[generation % kMaskCount];
    return cpu == mask[0] || cpu == mask[1];
}

void set_mask(int generation) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(g_masks[generation % kMaskCount][0], &set);
    CPU_SET(g_masks[generation % kMaskCount][1], &set);
    sched_setaffinity(0, sizeof(set), &set);
}

void note_wrong(int where, int cpu) {
    if (g_wrong == 0)
        g_wrong = where * 1000 + cpu;
}

void handler(int) {
    g_handled = g_handled + 1;
    int next = g_generation + 1;
    set_mask(next);
    g_generation = next;
    int cpu = sched_getcpu();
    if (!in_mask(g_generation, cpu))
        note_wrong(1, cpu);
    unsigned vcpu = 9999;
    if (getcpu(&vcpu, nullptr) != 0 || !in_mask(g_generation, static_cast<int>(vcpu)))
        note_wrong(1, static_cast<int>(vcpu));
}

void* sender(void*) {
    while (!g_stop) {
        syscall(SYS_tgkill, getpid(), g_main_tid, SIGUSR1);
        sched_yield();
    }
    return nullptr;
}

/* The traced child of the stepped mode: each round moves to mask g_generation, stops (the parent
 * then steps it through the next call), asks, stops again, asks once more and checks. SIGUSR2 from
 * the parent ends it. */
volatile sig_atomic_t g_done = 0;

void on_done(int) {
    g_done = 1;
}

void marker() {
    syscall(SYS_tgkill, getpid(), static_cast<pid_t>(syscall(SYS_gettid)), SIGSTOP);
}

int ask(bool use_getcpu) {
    if (!use_getcpu)
        return sched_getcpu();
    unsigned cpu = 9999;
    return getcpu(&cpu, nullptr) == 0 ? static_cast<int>(cpu) : -1;
}

[[noreturn]] void stepped_child(bool use_getcpu) {
    if (ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) != 0)
        _exit(3);
    struct sigaction sa = {};
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, nullptr);
    sa.sa_handler = on_done;
    sigaction(SIGUSR2, &sa, nullptr);
    ask(use_getcpu);
    while (!g_done) {
        g_generation = g_generation + 1;
        set_mask(g_generation); /* the cache misses at the next call */
        const int began = g_generation;
        marker();
        int during = ask(use_getcpu);
        marker();
        if (!in_mask(began, during) && !in_mask(g_generation, during))
            _exit(1);
        int cpu = ask(use_getcpu);
        if (!in_mask(g_generation, cpu) || g_wrong != 0)
            _exit(1);
    }
    _exit(0);
}

/* Resumes the child, passing `sig`, and waits for its next stop: the stop's signal, or -1 once it
 * exited (its status in *status). */
int resume(pid_t child, int request, int sig, int* status) {
    if (ptrace(static_cast<__ptrace_request>(request), child, nullptr, reinterpret_cast<void*>(static_cast<long>(sig))) != 0)
        return -2;
    if (waitpid(child, status, 0) != child)
        return -2;
    return WIFSTOPPED(*status) ? WSTOPSIG(*status) : -1;
}

/* One call traced: returns the length in instructions of the longest call seen, or -k - 1 for the
 * first k whose answer was wrong. */
long stepped(bool use_getcpu) {
    pid_t child = fork();
    if (child == 0)
        stepped_child(use_getcpu);
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) != child || !WIFSTOPPED(status))
        return -100000;
    int sig = WSTOPSIG(status); /* the first marker (PTRACE_TRACEME itself does not stop) */
    long longest = 0;
    for (long k = 0; sig == SIGSTOP; ++k) {
        /* At the marker before the call: step k instructions, then deliver the signal there. */
        long steps = 0;
        int stop = SIGTRAP;
        while (steps < k && (stop = resume(child, PTRACE_SINGLESTEP, 0, &status)) == SIGTRAP)
            ++steps;
        if (stop != SIGTRAP) { /* the call ended (the second marker) before k: done */
            if (steps > longest)
                longest = steps;
            sig = resume(child, PTRACE_CONT, SIGUSR2, &status); /* ends the child's loop */
            while (sig == SIGSTOP || sig == SIGUSR2)
                sig = resume(child, PTRACE_CONT, sig == SIGUSR2 ? SIGUSR2 : 0, &status);
            break;
        }
        sig = resume(child, PTRACE_CONT, SIGUSR1, &status); /* the handler runs, the call ends */
        while (sig == SIGUSR1)
            sig = resume(child, PTRACE_CONT, SIGUSR1, &status);
        if (sig != SIGSTOP) /* the second marker */
            break;
        sig = resume(child, PTRACE_CONT, 0, &status); /* the check, then the next marker */
        if (sig == -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1)
            return -k - 1;
    }
    if (sig != -1) {
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
        return -100000;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? longest : -100000;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "stepped") == 0) {
        g_masks = kSingle;
        long longest = 0;
        for (int which = 0; which < 2; ++which) {
            bool use_getcpu = which == 1;
            long result = stepped(use_getcpu);
            if (result == -100000) {
                printf("the traced child did not run as expected\n");
                return 2;
            }
            if (result < 0) {
                printf("wrong answer after %s with the signal at instruction %ld\n",
                       use_getcpu ? "getcpu" : "sched_getcpu", -result - 1);
                return 1;
            }
            if (result > longest)
                longest = result;
        }
        printf("ok %s\n", longest > 0 ? "stepped" : "nothing stepped");
        return 0;
    }
    long signals = argc > 1 ? strtol(argv[1], nullptr, 10) : 20000;
    g_main_tid = static_cast<pid_t>(syscall(SYS_gettid));
    set_mask(0);
    struct sigaction sa = {};
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, nullptr);
    pthread_t thread;
    if (pthread_create(&thread, nullptr, sender, nullptr) != 0)
        return 2;
    long checks = 0;
    while (g_handled < signals && g_wrong == 0) {
        int generation = g_generation;
        int cpu = sched_getcpu();
        unsigned vcpu = 9999;
        int ret = getcpu(&vcpu, nullptr);
        if (g_generation != generation)
            continue; /* a handler moved the thread during the calls: either mask is right */
        ++checks;
        if (!in_mask(generation, cpu))
            note_wrong(2, cpu);
        else if (ret != 0 || !in_mask(generation, static_cast<int>(vcpu)))
            note_wrong(2, static_cast<int>(vcpu));
    }
    g_stop = 1;
    pthread_join(thread, nullptr);
    if (g_wrong != 0) {
        printf("wrong answer %d %s (mask generation %d; %ld checks in the main loop, %d signals)\n",
               g_wrong % 1000, g_wrong / 1000 == 1 ? "in the handler" : "in the main loop",
               static_cast<int>(g_generation), checks, static_cast<int>(g_handled));
        return 1;
    }
    printf("ok\n");
    return 0;
}
