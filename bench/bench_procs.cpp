/* bench_procs WHAT N: a loop of N creations of a process or a thread, for the whole-process figures of
 * scripts/bench (run under bench_spawn natively and under the shim, interleaved; the figure is the
 * CPU time of the whole tree, which wait4 reports with the reaped children's). Each of these goes
 * through a call the shim hooks (fork, vfork, posix_spawn, exec, pthread_create), so a loop of them
 * shows what the shim adds to the calls that start processes and threads.
 *   fork     fork, the child _exits at once, waitpid
 *   thread   pthread_create of a thread that returns at once, pthread_join
 *   spawn    posix_spawn of /bin/true, waitpid
 *   vfork    vfork, execve of /bin/true in the child, waitpid
 * Exit 0, or 1 with a line on standard error when a creation or a child failed. */
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

bool reaped_ok(pid_t pid) {
    int status;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool one_fork() {
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    return reaped_ok(pid);
}

void* nothing(void*) { return nullptr; }

bool one_thread() {
    pthread_t t;
    return pthread_create(&t, nullptr, nothing, nullptr) == 0 && pthread_join(t, nullptr) == 0;
}

char kTrue[] = "/bin/true";
char* const kTrueArgv[] = {kTrue, nullptr};

bool one_spawn() {
    pid_t pid;
    return posix_spawn(&pid, kTrue, nullptr, nullptr, kTrueArgv, environ) == 0 && reaped_ok(pid);
}

bool one_vfork() {
    pid_t pid = vfork();
    if (pid == 0) {
        execve(kTrue, kTrueArgv, environ);
        _exit(127);
    }
    return reaped_ok(pid);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3 || atol(argv[2]) <= 0) {
        fprintf(stderr, "usage: bench_procs fork|thread|spawn|vfork N\n");
        return 125;
    }
    bool (*one)() = strcmp(argv[1], "fork") == 0     ? one_fork
                    : strcmp(argv[1], "thread") == 0 ? one_thread
                    : strcmp(argv[1], "spawn") == 0  ? one_spawn
                    : strcmp(argv[1], "vfork") == 0  ? one_vfork
                                                     : nullptr;
    if (!one) {
        fprintf(stderr, "bench_procs: unknown kind %s (fork, thread, spawn or vfork)\n", argv[1]);
        return 125;
    }
    long n = atol(argv[2]);
    for (long i = 0; i < n; ++i)
        if (!one()) {
            fprintf(stderr, "bench_procs: %s number %ld failed\n", argv[1], i);
            return 1;
        }
    return 0;
}
