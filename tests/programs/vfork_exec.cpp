// Starts a child from a vfork-style child, as Python's subprocess (vfork) and glibc's posix_spawn
// (clone with CLONE_VM | CLONE_VFORK) do, in a process that has made no CPU call before: under the
// shim such a process has not created its machine's shared state yet, and the child, which runs in
// the parent's memory, must not create it there. The started child pins itself to CPU 6; the parent
// then prints the mask it reads for the child as a list ("6" when they share the machine).
//
//   vfork_exec vfork         vfork(), then execve in the child
//   vfork_exec clone-vfork   first clone(CLONE_VM | CLONE_VFORK) a child that execs /bin/true, then
//                            posix_spawn the pinning child
//   vfork_exec clone-fork    clone() without CLONE_VM (a fork no libc hook sees): the child pins
//                            itself to CPU 5 and prints its own mask and sched_getcpu ("5 5")
//   vfork_exec clone-vfork-pin   a clone(CLONE_VM | CLONE_VFORK) child pins itself to CPU 1, then
//                            execs this program in "report" mode, which prints its mask ("1"; such
//                            a child has no state to keep its mask in, so the pin is carried as
//                            the host sees it, exactly only on a map without repeated host CPUs)
//   vfork_exec vfork-getcpu  the parent pins itself to CPU 2 and asks sched_getcpu and getcpu; a
//                            vfork child pins itself to CPU 5, asks both, and _exits; a second one
//                            does the same and execs /bin/true; the parent asks both again. Prints
//                            the child's answers and the parent's ("child 5 5 5 5 parent 2 2 2 2":
//                            each vfork child runs on a mask of its own, which its parent keeps)
//   vfork_exec child         (internal) the pinning child: pins to CPU 6, writes a byte to stdout,
//                            waits for stdin to close
//   vfork_exec report        (internal) prints its own mask
#include <sched.h>
#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

char g_self[4096];

/* A clone child runs on a stack of its own, which ASan does not know: before a call that does not
 * return (_exit, execve) its instrumentation would warn of that stack on stderr. The child functions
 * are left uninstrumented; the functions they call are not. */
#define CLONE_CHILD __attribute__((no_sanitize_address))

CLONE_CHILD int run_true(void*) {
    char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
    execve("/bin/true", argv, environ); /* the shim's execve, in a child sharing this memory */
    _exit(127);
}

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
        perror("vfork_exec: sched_getaffinity");
        return;
    }
    const char* sep = "";
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
        if (CPU_ISSET(cpu, &set)) {
            printf("%s%d", sep, cpu);
            sep = ",";
        }
}

CLONE_CHILD int clone_fork_child(void*) {
    if (!pin(5))
        _exit(1);
    print_mask(0);
    printf(" %d\n", sched_getcpu());
    fflush(stdout);
    _exit(0);
}

CLONE_CHILD int clone_vfork_pin_child(void*) {
    char* argv[] = {g_self, const_cast<char*>("report"), nullptr};
    if (pin(1))
        execve(g_self, argv, environ);
    _exit(127);
}

int child() {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(6, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
        perror("vfork_exec child: sched_setaffinity");
        return 1;
    }
    if (write(1, "x", 1) != 1)
        return 1;
    char c;
    while (read(0, &c, 1) > 0) {
    }
    return 0;
}

/* What a vfork child found, written into the parent's memory, which it shares. */
volatile int g_child_answer[2][2];

int vfork_getcpu() {
    if (!pin(2))
        return 1;
    int before_sched = sched_getcpu();
    unsigned before = 99;
    getcpu(&before, nullptr);
    for (int round = 0; round < 2; ++round) {
        pid_t pid = vfork();
        if (pid == 0) {
            unsigned cpu = 99;
            if (!pin(5))
                _exit(1);
            g_child_answer[round][0] = sched_getcpu();
            g_child_answer[round][1] = getcpu(&cpu, nullptr) == 0 ? static_cast<int>(cpu) : -1;
            if (round == 1) {
                char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
                execve("/bin/true", argv, environ);
            }
            _exit(0);
        }
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            return 1;
    }
    unsigned after = 99;
    getcpu(&after, nullptr);
    printf("child %d %d %d %d parent %d %u %d %u\n", g_child_answer[0][0], g_child_answer[0][1],
           g_child_answer[1][0], g_child_answer[1][1], before_sched, before, sched_getcpu(), after);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: vfork_exec vfork|clone-vfork\n");
        return 2;
    }
    if (strcmp(argv[1], "child") == 0)
        return child();
    if (strcmp(argv[1], "vfork-getcpu") == 0)
        return vfork_getcpu();
    if (strcmp(argv[1], "report") == 0) {
        print_mask(0);
        printf("\n");
        return 0;
    }
    ssize_t n = readlink("/proc/self/exe", g_self, sizeof(g_self) - 1);
    if (n <= 0)
        return 2;
    g_self[n] = '\0';
    if (strcmp(argv[1], "clone-fork") == 0 || strcmp(argv[1], "clone-vfork-pin") == 0) {
        static char stack[64 * 1024];
        bool fork_like = strcmp(argv[1], "clone-fork") == 0;
        int flags = fork_like ? SIGCHLD : CLONE_VM | CLONE_VFORK | SIGCHLD;
        pid_t c = clone(fork_like ? &clone_fork_child : &clone_vfork_pin_child, stack + sizeof(stack), flags, nullptr);
        int status = 0;
        if (c < 0 || waitpid(c, &status, 0) != c)
            return 1;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
    }
    int to_child[2], from_child[2];
    if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0)
        return 2;
    char* child_argv[] = {g_self, const_cast<char*>("child"), nullptr};
    pid_t pid = -1;
    if (strcmp(argv[1], "vfork") == 0) {
        pid = vfork();
        if (pid == 0) {
            dup2(to_child[0], 0);
            dup2(from_child[1], 1);
            execve(g_self, child_argv, environ);
            _exit(127);
        }
    } else if (strcmp(argv[1], "clone-vfork") == 0) {
        static char stack[64 * 1024];
        pid_t first = clone(&run_true, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, nullptr);
        int status = 0;
        if (first < 0 || waitpid(first, &status, 0) != first || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "vfork_exec: the clone-vfork child did not run /bin/true\n");
            return 1;
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
        posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
        if (posix_spawn(&pid, g_self, &actions, nullptr, child_argv, environ) != 0)
            pid = -1;
        posix_spawn_file_actions_destroy(&actions);
    } else {
        fprintf(stderr, "vfork_exec: unknown mode %s\n", argv[1]);
        return 2;
    }
    if (pid < 0) {
        perror("vfork_exec: starting the child");
        return 1;
    }
    close(to_child[0]);
    close(from_child[1]);
    char c;
    if (read(from_child[0], &c, 1) != 1) {
        fprintf(stderr, "vfork_exec: the child did not pin itself\n");
        return 1;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(pid, sizeof(set), &set) != 0) {
        perror("vfork_exec: sched_getaffinity");
        return 1;
    }
    const char* sep = "";
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
        if (CPU_ISSET(cpu, &set)) {
            printf("%s%d", sep, cpu);
            sep = ",";
        }
    printf("\n");
    close(to_child[1]);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
