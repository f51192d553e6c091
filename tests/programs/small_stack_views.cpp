// small_stack_views [STACK_BYTES]: every CPU view, used for the first time in the process, on a thread
// with a small stack (default PTHREAD_STACK_MIN, 16 KiB on x86_64) that has a guard page right below
// it, so that an overflow inside preloaded code faults instead of writing over other memory.
//
// main touches no CPU view: the thread is the first to ask, so the LibOS's one-time set-up (the
// model of the machine) runs on the small stack too. The thread reads every generated file (/proc
// stat, status and cpuinfo files, every task's stat, interrupts, softirqs, softnet_stat, the irq
// masks, the nodes' files, the files of the first and last CPU directories, the cgroup cpuset files
// of its own cgroup), lists the CPU directories (libc's readdir and raw getdents64), follows the
// views' links (readlink, realpath), and calls sched_getaffinity, sched_getcpu, getcpu, sysconf and
// get_nprocs. One line per item, in a fixed order: "PATH bytes N" or "PATH errno E" (files), "CALL
// N" (calls), then "stack used N": the deepest byte of the stack the thread wrote, measured by the
// fill pattern it was given. tests/topology/small_stack.py compares the lines and the depth with
// the same program's run on the host.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <initializer_list>

namespace {

constexpr unsigned char kFill = 0xa5;
/* The lines are collected in static memory and printed after the join: stdio on the small stack
 * would count its own frames. */
char g_report[1 << 20];
size_t g_report_len;
char g_buf[1 << 20];

/* The report's lines, built without stdio (whose formatting takes kilobytes of stack). */
void put(const char* s) {
    size_t n = strlen(s);
    if (g_report_len + n < sizeof(g_report)) {
        memcpy(g_report + g_report_len, s, n);
        g_report_len += n;
    }
}

void put_num(long v) {
    char digits[24];
    int n = 0;
    bool negative = v < 0;
    unsigned long u = negative ? 0UL - static_cast<unsigned long>(v) : static_cast<unsigned long>(v);
    do {
        digits[n++] = static_cast<char>('0' + u % 10);
        u /= 10;
    } while (u);
    if (negative)
        put("-");
    char text[24];
    for (int i = 0; i < n; ++i)
        text[i] = digits[n - 1 - i];
    text[n] = '\0';
    put(text);
}

/* "A B\n", "A B N\n" */
void line(const char* a, const char* b) {
    put(a);
    put(" ");
    put(b);
    put("\n");
}
void line(const char* a, const char* b, long n) {
    put(a);
    put(" ");
    put(b);
    put(" ");
    put_num(n);
    put("\n");
}

/* dir + "/" + name into out (kPath bytes). */
constexpr size_t kPath = 256;
void join(char* out, const char* dir, const char* name) {
    size_t a = strlen(dir), b = strlen(name);
    if (a + 1 + b + 1 > kPath) {
        out[0] = '\0';
        return;
    }
    memcpy(out, dir, a);
    out[a] = '/';
    memcpy(out + a + 1, name, b + 1);
}

/* Per item depth, with SMALL_STACK_DEPTHS set: the free part of the stack is filled again before
 * each item, and the deepest byte written is printed after it (to find what takes the stack). */
char* g_stack_low;
size_t g_stack_bytes;
bool g_depths;

__attribute__((noinline)) void refill() {
    if (!g_depths)
        return;
    char* here = static_cast<char*>(__builtin_frame_address(0)) - 512;
    memset(g_stack_low, kFill, static_cast<size_t>(here - g_stack_low));
}

__attribute__((noinline)) void report_depth(const char* what) {
    if (!g_depths)
        return;
    char* p = g_stack_low;
    while (p < g_stack_low + g_stack_bytes && static_cast<unsigned char>(*p) == kFill)
        ++p;
    put("depth ");
    put_num(g_stack_low + g_stack_bytes - p);
    put(" ");
    put(what);
    put("\n");
}

void read_file(const char* path) {
    refill();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        line(path, "errno", errno);
        return;
    }
    long total = 0, n;
    while ((n = read(fd, g_buf, sizeof(g_buf))) > 0)
        total += n;
    /* Read again from the start: a file whose content changes is made anew then, as a seq file is
     * (table/vfs/live.cpp), which is a path of its own. */
    if (n == 0 && lseek(fd, 0, SEEK_SET) == 0)
        while ((n = read(fd, g_buf, sizeof(g_buf))) > 0)
            total += n;
    close(fd);
    /* Counters change between reads: only whether there was content is reported. */
    line(path, n < 0 ? "read-error" : total > 0 ? "bytes" : "empty");
    report_depth(path);
}

/* Every file of a directory (and of its subdirectories, `depth` levels down), in name order. */
void read_tree(const char* dir, int depth) {
    struct dirent** names;
    int n = scandir(dir, &names, nullptr, alphasort);
    if (n < 0) {
        line(dir, "errno", errno);
        return;
    }
    for (int i = 0; i < n; ++i) {
        const char* name = names[i]->d_name;
        if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
            char path[kPath];
            join(path, dir, name);
            struct stat st;
            if (lstat(path, &st) != 0)
                line(path, "lstat-errno", errno);
            else if (S_ISREG(st.st_mode) && (st.st_mode & 0444))
                read_file(path);
            else if (S_ISDIR(st.st_mode) && depth > 0)
                read_tree(path, depth - 1);
            else if (S_ISLNK(st.st_mode)) {
                refill();
                char target[kPath];
                ssize_t l = readlink(path, target, sizeof(target) - 1);
                char* real = realpath(path, nullptr);
                line(path, l > 0 && real ? "link followed" : "link broken");
                free(real);
                report_depth(path);
            }
        }
        free(names[i]);
    }
    free(names);
}

/* The names of a directory through raw getdents64: the count only. */
void list_raw(const char* dir) {
    refill();
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        line(dir, "raw errno", errno);
        return;
    }
    alignas(8) char buf[1024];
    long entries = 0, n;
    while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
        for (long at = 0; at < n; ++entries) {
            unsigned short reclen;
            memcpy(&reclen, buf + at + 16, 2);
            at += reclen;
        }
    }
    close(fd);
    line(dir, "raw entries", entries);
    report_depth(dir);
}

/* The number of CPU directories, by name. */
int cpu_dirs() {
    DIR* d = opendir("/sys/devices/system/cpu");
    int count = 0;
    while (d && readdir(d))
        ++count;
    if (d)
        closedir(d);
    return count;
}

/* base + path (unless "/") + "/" + name into out (kPath bytes). */
void cgroup_file(char* out, const char* base, const char* path, const char* name) {
    char dir[kPath];
    if (strlen(base) + strlen(path) + 1 > sizeof(dir)) {
        out[0] = '\0';
        return;
    }
    strcpy(dir, base);
    if (strcmp(path, "/") != 0)
        strcat(dir, path);
    join(out, dir, name);
}

/* The cpuset (and quota) files of this process's own cgroups, v1 and v2. */
void cgroup_files() {
    static char text[65536];
    int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
    ssize_t len = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (len <= 0)
        return;
    text[len] = '\0';
    /* A hybrid host mounts v2 at /sys/fs/cgroup/unified. */
    const char* v2_base = access("/sys/fs/cgroup/unified", F_OK) == 0 ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup";
    for (char* entry = text; *entry;) {
        char* end = strchr(entry, '\n');
        if (end)
            *end = '\0';
        char* controllers = strchr(entry, ':');
        char* path = controllers ? strchr(controllers + 1, ':') : nullptr;
        if (path) {
            *path++ = '\0';
            ++controllers;
            char file[kPath];
            if (*controllers == '\0') {
                for (const char* name : {"cpuset.cpus", "cpuset.cpus.effective", "cpuset.mems",
                                         "cpuset.mems.effective", "cpu.max"}) {
                    cgroup_file(file, v2_base, path, name);
                    read_file(file);
                }
            } else if (strstr(controllers, "cpuset")) {
                for (const char* name : {"cpuset.cpus", "cpuset.effective_cpus", "cpuset.mems", "cpuset.effective_mems"}) {
                    cgroup_file(file, "/sys/fs/cgroup/cpuset", path, name);
                    read_file(file);
                }
            } else if (strcmp(controllers, "cpu") == 0 || strncmp(controllers, "cpu,", 4) == 0) {
                cgroup_file(file, "/sys/fs/cgroup/cpu", path, "cpu.cfs_quota_us");
                read_file(file);
            }
        }
        if (!end)
            break;
        entry = end + 1;
    }
}

void* views(void*) {
    /* The calls first: the very first use of the machine may be any of them. */
    refill();
    cpu_set_t set;
    int got = sched_getaffinity(0, sizeof(set), &set);
    line("sched_getaffinity", "count", got == 0 ? CPU_COUNT(&set) : -1);
    line("sched_getcpu", sched_getcpu() >= 0 ? "ok" : "failed");
    unsigned cpu = 0, node = 0;
    line("getcpu", getcpu(&cpu, &node) == 0 ? "ok" : "failed");
    report_depth("the first calls");
    refill();
    line("sysconf", "onln", sysconf(_SC_NPROCESSORS_ONLN));
    line("sysconf", "conf", sysconf(_SC_NPROCESSORS_CONF));
    line("get_nprocs", "onln", get_nprocs());
    line("get_nprocs", "conf", get_nprocs_conf());
    line("/sys/devices/system/cpu", "readdir entries", cpu_dirs());
    report_depth("sysconf, get_nprocs, readdir");

    for (const char* f : {"/proc/stat", "/proc/self/status", "/proc/cpuinfo", "/proc/self/stat", "/proc/interrupts",
                          "/proc/softirqs", "/proc/net/softnet_stat", "/proc/irq/default_smp_affinity",
                          "/proc/self/numa_maps"})
        read_file(f);
    DIR* tasks = opendir("/proc/self/task");
    while (struct dirent* e = tasks ? readdir(tasks) : nullptr) {
        if (e->d_name[0] == '.')
            continue;
        char dir[kPath], path[kPath];
        join(dir, "/proc/self/task", e->d_name);
        for (const char* name : {"stat", "status"}) {
            join(path, dir, name);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            line("a task's", name, fd >= 0 && read(fd, g_buf, sizeof(g_buf)) > 0 ? 1 : 0);
            if (fd >= 0)
                close(fd);
        }
    }
    if (tasks)
        closedir(tasks);

    for (const char* d : {"/sys/devices/system/cpu", "/sys/devices/system/node", "/sys/bus/cpu/devices",
                          "/sys/bus/node/devices", "/dev/cpu"})
        list_raw(d);
    read_tree("/sys/devices/system/node", 1);
    read_tree("/sys/bus/node/devices", 0);
    read_tree("/sys/bus/cpu/devices", 0);
    /* The CPU directory's own files, and every file of its first and last CPUs (a 1024-CPU machine
     * has 30,000 of them). */
    read_tree("/sys/devices/system/cpu", 0);
    long n = sysconf(_SC_NPROCESSORS_CONF);
    for (long c : {0L, n - 1}) {
        char name[32] = "cpu", path[kPath];
        size_t at = 3;
        char digits[24];
        int k = 0;
        do {
            digits[k++] = static_cast<char>('0' + c % 10);
            c /= 10;
        } while (c);
        while (k)
            name[at++] = digits[--k];
        name[at] = '\0';
        join(path, "/sys/devices/system/cpu", name);
        read_tree(path, 2);
    }
    cgroup_files();
    return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
    size_t stack_bytes = argc > 1 ? strtoul(argv[1], nullptr, 0) : PTHREAD_STACK_MIN;
    const size_t page = static_cast<size_t>(getpagesize());
    stack_bytes = (stack_bytes + page - 1) / page * page;
    /* The stack, with a guard page below it (stacks grow down). */
    char* area = static_cast<char*>(
        mmap(nullptr, stack_bytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (area == MAP_FAILED || mprotect(area, page, PROT_NONE) != 0) {
        perror("small_stack_views: mmap");
        return 1;
    }
    char* stack = area + page;
    g_stack_low = stack;
    g_stack_bytes = stack_bytes;
    g_depths = getenv("SMALL_STACK_DEPTHS") != nullptr;
    memset(stack, kFill, stack_bytes);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (int e = pthread_attr_setstack(&attr, stack, stack_bytes); e != 0) {
        fprintf(stderr, "small_stack_views: pthread_attr_setstack: %s\n", strerror(e));
        return 1;
    }
    pthread_t thread;
    if (int e = pthread_create(&thread, &attr, views, nullptr); e != 0) {
        fprintf(stderr, "small_stack_views: pthread_create: %s\n", strerror(e));
        return 1;
    }
    pthread_join(thread, nullptr);
    size_t untouched = 0;
    while (untouched < stack_bytes && static_cast<unsigned char>(stack[untouched]) == kFill)
        ++untouched;
    fwrite(g_report, 1, g_report_len, stdout);
    printf("stack used %zu of %zu\n", stack_bytes - untouched, stack_bytes);
    return 0;
}
