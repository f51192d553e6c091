/* Memory probes of scripts/bench; plain libc, no libstdc++ runtime, prints one JSON object.
 *
 *   bench_probe rss
 *       A small program that asks about its CPUs once (sysconf, sched_getaffinity, sched_getcpu:
 *       what most programs do) and reports its resident memory from /proc/self/smaps_rollup. Run
 *       natively and under the shim, the difference is the memory the shim adds to a process.
 *
 *   bench_probe threads N
 *       Under the shim on a virtual machine: the resident size of the launch's shared state (the
 *       "memfd:libos-vcpu-state" mapping in /proc/self/smaps) before and while N more threads are
 *       alive; the growth divided by N is the shared state a thread costs. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

/* The value in kB of the first line starting with `key` in `text`, or -1. */
long field_kib(const char* text, const char* key) {
    size_t len = strlen(key);
    for (const char* line = text; line && *line;) {
        if (strncmp(line, key, len) == 0)
            return strtol(line + len, nullptr, 10);
        line = strchr(line, '\n');
        if (line)
            ++line;
    }
    return -1;
}

/* Reads a whole /proc file into `buffer` (NUL-terminated); false on error. */
bool slurp(const char* path, char* buffer, size_t size) {
    FILE* f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(buffer, 1, size - 1, f);
    buffer[n] = '\0';
    fclose(f);
    return n > 0 && n < size - 1;
}

/* Whether libshim.so is mapped (a preload that ld.so cannot load only gives a warning). */
bool shim_loaded() {
    static char text[1 << 16];
    FILE* f = fopen("/proc/self/maps", "re");
    if (!f)
        return false;
    bool found = false;
    while (!found && fgets(text, sizeof(text), f))
        found = strstr(text, "/libshim.so") != nullptr;
    fclose(f);
    return found;
}

int rss() {
    /* What a program typically asks once. */
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    int affinity = sched_getaffinity(0, sizeof(set), &set);
    int cpu = sched_getcpu();
    bool shim = shim_loaded();
    static char text[1 << 14];
    if (!slurp("/proc/self/smaps_rollup", text, sizeof(text))) {
        fprintf(stderr, "bench_probe: cannot read /proc/self/smaps_rollup: %s\n", strerror(errno));
        return 1;
    }
    printf("{\"rss_kib\": %ld, \"pss_kib\": %ld, \"private_dirty_kib\": %ld, \"private_clean_kib\": %ld, "
           "\"nprocessors_onln\": %ld, \"sched_getaffinity\": %d, \"sched_getcpu\": %d, \"libshim_loaded\": %s}\n",
           field_kib(text, "Rss:"), field_kib(text, "Pss:"), field_kib(text, "Private_Dirty:"),
           field_kib(text, "Private_Clean:"), n, affinity, cpu, shim ? "true" : "false");
    return 0;
}

/* The Rss (kB) and Size (kB) of the shared-state mapping, from /proc/self/smaps (read line by line:
 * with a thousand thread stacks it is megabytes long); false if there is no such mapping. */
bool state_mapping(long* rss_kib, long* size_kib) {
    FILE* f = fopen("/proc/self/smaps", "re");
    if (!f)
        return false;
    char line[512];
    bool in_entry = false;
    *rss_kib = *size_kib = -1;
    while (fgets(line, sizeof(line), f)) {
        if (!in_entry) {
            in_entry = strstr(line, "memfd:libos-vcpu-state") != nullptr;
            continue;
        }
        if (strncmp(line, "Size:", 5) == 0)
            *size_kib = strtol(line + 5, nullptr, 10);
        else if (strncmp(line, "Rss:", 4) == 0)
            *rss_kib = strtol(line + 4, nullptr, 10);
        if (*rss_kib >= 0 && *size_kib >= 0)
            break;
    }
    fclose(f);
    return *rss_kib >= 0 && *size_kib >= 0;
}

pthread_barrier_t g_started, g_release;

void* thread_main(void*) {
    cpu_set_t set;
    sched_getaffinity(0, sizeof(set), &set); /* a thread that asks about its CPUs, as most do */
    pthread_barrier_wait(&g_started);
    pthread_barrier_wait(&g_release);
    return nullptr;
}

int threads(int count) {
    cpu_set_t set;
    sched_getaffinity(0, sizeof(set), &set);
    long before = 0, size = 0;
    if (!state_mapping(&before, &size)) {
        fprintf(stderr, "bench_probe: no memfd:libos-vcpu-state mapping (not under the shim on a virtual machine?)\n");
        return 1;
    }
    pthread_barrier_init(&g_started, nullptr, static_cast<unsigned>(count) + 1);
    pthread_barrier_init(&g_release, nullptr, static_cast<unsigned>(count) + 1);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_t* ids = static_cast<pthread_t*>(calloc(static_cast<size_t>(count), sizeof(pthread_t)));
    for (int i = 0; i < count; ++i) {
        int err = pthread_create(&ids[i], &attr, thread_main, nullptr);
        if (err) {
            fprintf(stderr, "bench_probe: pthread_create #%d: %s\n", i, strerror(err));
            _exit(1);
        }
    }
    pthread_barrier_wait(&g_started);
    long during = 0;
    bool ok = state_mapping(&during, &size);
    pthread_barrier_wait(&g_release);
    for (int i = 0; i < count; ++i)
        pthread_join(ids[i], nullptr);
    if (!ok)
        return 1;
    printf("{\"threads\": %d, \"state_size_kib\": %ld, \"state_rss_before_kib\": %ld, \"state_rss_during_kib\": %ld}\n",
           count, size, before, during);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 2 && strcmp(argv[1], "rss") == 0)
        return rss();
    if (argc == 3 && strcmp(argv[1], "threads") == 0 && atoi(argv[2]) > 0)
        return threads(atoi(argv[2]));
    fprintf(stderr, "usage: bench_probe rss | bench_probe threads N\n");
    return 2;
}
