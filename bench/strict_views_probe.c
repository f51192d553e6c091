/* strict_views_probe: what a static program pays, per call, for the stat family and directory
 * listings under strict mode (docs/strict-mode.md, "The views of a static binary"). It asks with raw
 * system calls, so no shim sees them, and prints one line per call: the best time per call over a
 * few rounds. Run it natively and under `libos-run --strict --cpus N`, pinned with `taskset -c 1` so
 * that the supervisor's threads share the caller's CPU. Not part of the suite.
 *
 *   strict_views_probe [ITERATIONS]      (default 20000; each round is ITERATIONS calls) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static long g_iterations = 20000;
static char g_buf[65536];

static long stat_path(const char* path) {
    struct stat st;
    return syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0);
}

static long access_path(const char* path) {
    return syscall(SYS_faccessat, AT_FDCWD, path, F_OK);
}

/* One whole listing: open, getdents64 until the end, close; the number of entries, or -errno. */
static long list_dir(const char* path) {
    long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fd;
    long entries = 0, n;
    while ((n = syscall(SYS_getdents64, fd, g_buf, sizeof(g_buf))) > 0) {
        for (long off = 0; off < n;) {
            unsigned short reclen = *(unsigned short*)(g_buf + off + 16);
            off += reclen;
            ++entries;
        }
    }
    syscall(SYS_close, fd);
    return n < 0 ? n : entries;
}

static void measure(const char* what, long (*call)(const char*), const char* path) {
    long result = call(path);
    double best = 1e30;
    for (int round = 0; round < 5; ++round) {
        double t0 = now_ns();
        for (long i = 0; i < g_iterations; ++i)
            call(path);
        double per = (now_ns() - t0) / (double)g_iterations;
        if (per < best)
            best = per;
    }
    printf("%-9s %-40s %10.0f ns   (result %ld)\n", what, path, best, result);
}

int main(int argc, char** argv) {
    if (argc > 1)
        g_iterations = atol(argv[1]) > 0 ? atol(argv[1]) : g_iterations;
    measure("stat", stat_path, "/etc/hostname");
    measure("stat", stat_path, "/sys/devices/system/cpu/cpu1");
    measure("stat", stat_path, "/sys/devices/system/cpu/cpu7");
    measure("stat", stat_path, "/sys/devices/system/cpu/cpu1/topology/core_id");
    measure("access", access_path, "/etc/hostname");
    measure("access", access_path, "/sys/devices/system/cpu/cpu7");
    measure("list", list_dir, "/etc");
    measure("list", list_dir, "/sys/devices/system/cpu");
    return 0;
}
