// The machine's threads across PID namespaces. The process pins itself to CPU 5, then starts a child
// that enters a new PID namespace (unshare(CLONE_NEWPID), then fork, as `unshare -fp` does); in it,
// the namespace's first process starts 300 short-lived children one after the other, each pinning
// itself to CPU 3 and exiting. Their thread slots fill the shared state until dead ones are
// collected: from inside the namespace, a thread outside it (this process) is not visible by its
// tid, and must not be taken for dead. Prints the mask this process then reads for itself and for
// its own pid ("5 5"), or "skip" where a new PID namespace is not allowed.
//
//   pid_ns_slots          the child enters the namespace through libc's unshare
//   pid_ns_slots syscall  through syscall(SYS_unshare, CLONE_NEWPID), which libc's unshare never sees
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

bool pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) == 0;
}

void print_mask(pid_t pid) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(pid, sizeof(set), &set) != 0) {
        printf("error");
        return;
    }
    const char* sep = "";
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
        if (CPU_ISSET(cpu, &set)) {
            printf("%s%d", sep, cpu);
            sep = ",";
        }
}

bool wait_ok(pid_t pid) {
    int status = 0;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The namespace's first process: 300 children, each pins itself and exits. */
int in_namespace() {
    for (int i = 0; i < 300; ++i) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(pin(3) ? 0 : 1);
        if (!wait_ok(pid))
            return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const bool by_syscall = argc > 1 && strcmp(argv[1], "syscall") == 0;
    if (!pin(5))
        return 1;
    pid_t child = fork();
    if (child == 0) {
        if ((by_syscall ? syscall(SYS_unshare, CLONE_NEWPID) : unshare(CLONE_NEWPID)) != 0)
            _exit(77);
        pid_t first = fork();
        if (first == 0)
            _exit(in_namespace());
        _exit(wait_ok(first) ? 0 : 1);
    }
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status))
        return 1;
    if (WEXITSTATUS(status) == 77) {
        printf("skip\n");
        return 0;
    }
    if (WEXITSTATUS(status) != 0)
        return 1;
    print_mask(0);
    printf(" ");
    print_mask(getpid());
    printf("\n");
    return 0;
}
