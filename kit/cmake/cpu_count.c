/* The example's test: the machine it runs on has the vCPUs libos-run was asked for (LIBOS_CPUS),
 * by sysconf and by its affinity. Exit 0 when both agree, 1 otherwise. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void) {
    const char* want_text = getenv("LIBOS_CPUS");
    long want = want_text ? atol(want_text) : 0;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    int allowed = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : -1;
    printf("LIBOS_CPUS=%ld online=%ld allowed=%d\n", want, online, allowed);
    return want > 0 && online == want && allowed == (want < CPU_SETSIZE ? want : CPU_SETSIZE) ? 0 : 1;
}
