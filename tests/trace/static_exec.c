/* static_exec: a static program (the shim is not loaded into it) that starts N children, each of
 * which execs PROGRAM with this program's environment as it received it, with the raw execve.
 * tests/trace/trace_test.py runs it from a traced program: the exec that started it must not be
 * printed again by each child (LIBOS_TRACE_EXEC is its own program's to print, not to pass on).
 *
 *   static_exec N PROGRAM [ARGS...]
 *   static_exec env     prints "trace-exec: no" when its environment has no LIBOS_TRACE_EXEC,
 *                       "trace-exec: spawn" when it has posix_spawn's line of its own exec (its
 *                       parent's id marked 's', its own path in it), "trace-exec: other" for any
 *                       other line (an earlier exec's, left over) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

int main(int argc, char** argv) {
    if (argc == 2 && strcmp(argv[1], "env") == 0) {
        const char* seen = "no";
        for (char** e = environ; *e; ++e)
            if (strncmp(*e, "LIBOS_TRACE_EXEC=", 17) == 0)
                seen = strlen(*e) > 17 + 21 && (*e)[17 + 21] == 's' && strstr(*e, argv[0]) ? "spawn" : "other";
        printf("trace-exec: %s\n", seen);
        return 0;
    }
    if (argc < 3)
        return 2;
    int n = atoi(argv[1]);
    for (int i = 0; i < n; ++i) {
        pid_t pid = fork();
        if (pid == 0) {
            execve(argv[2], argv + 2, environ);
            _exit(127);
        }
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            return 1;
    }
    return 0;
}
