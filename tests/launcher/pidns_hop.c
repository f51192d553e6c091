/* pidns_hop PROGRAM [ARG...]: without the shim (linked statically), enters a new PID namespace; its
 * first process there (pid 1) starts a second (pid 2), which execs PROGRAM with the environment this
 * program was given, LibOS variables and all. Exits with PROGRAM's status, 125 if it cannot start.
 * launcher_test.sh: a launch's program that reaches a namespace of its own through programs the shim
 * is not in must still tell its namespace's tids from the launch's. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static int wait_status(pid_t pid) {
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return 125;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char** argv) {
    if (argc < 2 || unshare(CLONE_NEWPID) != 0) {
        perror("pidns_hop: unshare");
        return 125;
    }
    pid_t first = fork();
    if (first == 0) {
        pid_t second = fork();
        if (second == 0) {
            execv(argv[1], argv + 1);
            _exit(127);
        }
        _exit(wait_status(second));
    }
    return wait_status(first);
}
