// Prints OpenMP's view of the machine. libgomp sizes its CPU mask from sysconf and reads
// pthread_getaffinity_np inside its own constructor, before main.
#include <omp.h>
#include <stdio.h>

int main() {
    int threads = 0;
#pragma omp parallel
    {
#pragma omp single
        threads = omp_get_num_threads();
    }
    printf("%d %d\n", omp_get_num_procs(), threads);
}
