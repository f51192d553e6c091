/* fork_faults N: what a fork costs in page faults. After a few forks to settle, N forks whose
 * children _exit at once, each reaped before the next; prints the minor page faults per fork of the
 * children and of the parent, averaged over the N: "CHILD PARENT" (two decimals). A fork child pays
 * a fault for each page of private memory it, or the kernel for it, first writes and for each 64 KiB
 * window of code it first runs; the parent, for each private page it writes again after a fork
 * (which write-protected it). tests/integration/virtual_programs.sh holds the shim's figures against
 * the native ones. Built bound at load (-z now) and without sanitizers: ld.so's lazy binding of
 * _exit in every child, or a sanitizer's shadow pages, would be counted too. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static int one_fork(void) {
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    int status;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(int argc, char** argv) {
    long n = argc == 2 ? atol(argv[1]) : 0;
    if (n <= 0) {
        fprintf(stderr, "usage: fork_faults N\n");
        return 125;
    }
    for (int i = 0; i < 10; ++i)
        if (!one_fork())
            return 1;
    struct rusage self0, children0, self1, children1;
    getrusage(RUSAGE_SELF, &self0);
    getrusage(RUSAGE_CHILDREN, &children0);
    for (long i = 0; i < n; ++i)
        if (!one_fork())
            return 1;
    getrusage(RUSAGE_SELF, &self1);
    getrusage(RUSAGE_CHILDREN, &children1);
    printf("%.2f %.2f\n", (double)(children1.ru_minflt - children0.ru_minflt) / n,
           (double)(self1.ru_minflt - self0.ru_minflt) / n);
    return 0;
}
