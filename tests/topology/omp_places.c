/* libgomp's view of the machine: the places OMP_PLACES made, one line each ("place P: CPUs"). With
 * LIBOS_TEST_OMP_BIND=1 and OMP_PROC_BIND set, every thread of a parallel region also checks that its
 * affinity is its place's CPUs and that it runs on one of them, and "bound ok" is printed if all do. */
#define _GNU_SOURCE
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    int places = omp_get_num_places();
    printf("places %d threads %d\n", places, omp_get_max_threads());
    for (int p = 0; p < places; ++p) {
        int n = omp_get_place_num_procs(p);
        int* ids = calloc((size_t)n, sizeof(int));
        omp_get_place_proc_ids(p, ids);
        printf("place %d:", p);
        for (int i = 0; i < n; ++i)
            printf(" %d", ids[i]);
        printf("\n");
        free(ids);
    }
    const char* bind = getenv("LIBOS_TEST_OMP_BIND");
    if (!bind || bind[0] != '1')
        return 0;
    int bad = 0;
#pragma omp parallel reduction(+ : bad)
    {
        int place = omp_get_place_num();
        int n = omp_get_place_num_procs(place);
        int ids[8192];
        omp_get_place_proc_ids(place, ids);
        cpu_set_t mask;
        CPU_ZERO(&mask);
        if (sched_getaffinity(0, sizeof(mask), &mask) != 0 || CPU_COUNT(&mask) != n)
            bad++;
        for (int i = 0; i < n; ++i)
            if (!CPU_ISSET(ids[i], &mask))
                bad++;
        if (!CPU_ISSET(sched_getcpu(), &mask))
            bad++;
    }
    printf(bad ? "bound wrong in %d checks\n" : "bound ok\n", bad);
    return bad != 0;
}
