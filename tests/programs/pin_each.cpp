// Pins the calling thread to each CPU in turn and checks that sched_getcpu() and getcpu() report
// it. Prints one line per CPU ("cpu 3: sched_getcpu 3 getcpu 3") and exits 1 on any mismatch.
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

int main() {
    long n = sysconf(_SC_NPROCESSORS_CONF);
    int bad = 0;
    for (long cpu = 0; cpu < n; ++cpu) {
        size_t size = CPU_ALLOC_SIZE(n);
        cpu_set_t* set = CPU_ALLOC(n);
        CPU_ZERO_S(size, set);
        CPU_SET_S(cpu, size, set);
        if (sched_setaffinity(0, size, set) != 0) {
            perror("sched_setaffinity");
            return 1;
        }
        CPU_FREE(set);
        unsigned c = ~0u, node = ~0u;
        int s = sched_getcpu();
        if (getcpu(&c, &node) != 0) {
            perror("getcpu");
            return 1;
        }
        printf("cpu %ld: sched_getcpu %d getcpu %u\n", cpu, s, c);
        bad |= s != cpu || c != static_cast<unsigned>(cpu);
    }
    return bad;
}
