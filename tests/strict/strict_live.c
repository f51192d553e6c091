/* strict_live: keeps a descriptor of a file that changes (/proc/stat, a status file...) and reads it
 * again, as samplers do (busybox nmeter, a monitoring agent that seeks back instead of reopening).
 * Built statically only (tests/strict/meson.build): no preloaded library can reach it, so under
 * libos-run --strict its opens are answered by the supervisor and its reads, seeks and fstat are
 * the kernel's own, on whatever descriptor it was given. For tests/strict/live_test.sh and for the
 * measurement in docs/strict-mode.md.
 *
 * Usage: strict_live COMMAND ARGS...   (one command; key=value lines on stdout; exit 1 on a failure)
 *
 *   watch PATH PREFIX FIELD   opens PATH once (O_RDONLY), reads it whole, and takes the number in
 *                             field FIELD (1: the first after the prefix; "sum": all of them) of the
 *                             first line that starts with PREFIX after blanks ("": the first line,
 *                             blanks included). Then, each
 *                             time after a few sleeps and 60 ms of CPU work, reads it again: with
 *                             pread from offset 0, then with lseek(0) and read. Prints
 *                             watch_found=<yes|no: the line was there each time>
 *                             pread=<moved|same> lseek=<moved|same>
 *   chunks PATH SIZE          opens PATH, reads it to the end SIZE bytes at a time, twice (the
 *                             second time after lseek(0)): chunk_bytes=<bytes> chunk_lines=<lines
 *                             starting "cpu"> chunk_ctxt=<lines starting "ctxt "> chunk_tail=<the
 *                             last byte is a newline: yes|no>, for each pass
 *   fstat PATH FLAGS          opens PATH with FLAGS (rdonly, cloexec, nonblock, joined by ','), then
 *                             fstat of the descriptor and stat of the path: fd_<field>=... and
 *                             path_<field>=... for mode, nlink, uid, gid, size, ino; fl=<F_GETFL in
 *                             octal> cloexec=<0|1>
 *   fork PATH                 opens PATH, reads it, forks: the child reads the same descriptor from
 *                             offset 0: child_read=<some|none|error>
 *   bench PATH N CHUNK        opens PATH once and reads it whole from offset 0 (pread, CHUNK bytes at
 *                             a time, to the end) N times: bench_ns=<nanoseconds per read>
 *                             bench_bytes=<bytes per read>
 *   openbench PATH N          N times open, read whole and close: openbench_ns=<nanoseconds each>
 *   gone LEAF                 forks a child, opens /proc/<child>/LEAF, reads it, kills and reaps the
 *                             child; then, where /proc/sys/kernel/ns_last_pid can be written (a pid
 *                             namespace of the test's own), makes the next child take the same pid
 *                             (named "someone-else"); reads the descriptor again from 0:
 *                             gone_reused=<yes|no> gone_read=<the errno's name, or the first line>
 *   foreign SECONDS           forks a child that becomes uid 65534 (the target), opens its stat as
 *                             this process (root), and forks a holder of that descriptor that drops
 *                             every capability, uid 0 kept, named "live-holder"; prints
 *                             foreign_fd=<the descriptor> foreign_code=<field 26 as this process
 *                             reads it>, then waits SECONDS and ends them */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (1 << 20)
static char g_buf[BUF_SIZE];

static void die(const char* what) {
    printf("error=%s: %s\n", what, strerror(errno));
    fflush(stdout);
    exit(1);
}

/* Reads from the descriptor's offset to the end into g_buf (NUL-terminated), `chunk` bytes at a time. */
static long read_all(int fd, size_t chunk) {
    size_t got = 0;
    for (;;) {
        size_t want = chunk < BUF_SIZE - 1 - got ? chunk : BUF_SIZE - 1 - got;
        if (want == 0)
            break;
        ssize_t n = read(fd, g_buf + got, want);
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    g_buf[got] = '\0';
    return (long)got;
}

/* The same with pread from offset 0, `chunk` bytes at a time. */
static long pread_all(int fd, size_t chunk) {
    size_t got = 0;
    for (;;) {
        size_t want = chunk < BUF_SIZE - 1 - got ? chunk : BUF_SIZE - 1 - got;
        ssize_t n = pread(fd, g_buf + got, want, (off_t)got);
        if (n < 0)
            return -errno;
        if (n == 0 || got + (size_t)n >= BUF_SIZE - 1) {
            got += (size_t)n;
            break;
        }
        got += (size_t)n;
    }
    g_buf[got] = '\0';
    return (long)got;
}

/* The number in field `field` (0: sum of all) of the first line of g_buf that starts with prefix
 * (after blanks); *found says whether there is such a line. */
static unsigned long long pick(const char* prefix, int field, int* found) {
    size_t plen = strlen(prefix);
    *found = 0;
    for (char* line = g_buf; line && *line;) {
        char* end = strchr(line, '\n');
        while (*prefix && (*line == ' ' || *line == '\t'))
            ++line;
        if (strncmp(line, prefix, plen) == 0) {
            *found = 1;
            unsigned long long sum = 0;
            char* p = line + plen;
            for (int i = 1; p && (!end || p < end); ++i) {
                while (*p == ' ' || *p == '\t')
                    ++p;
                if (!*p || *p == '\n')
                    break;
                char* after;
                unsigned long long v = strtoull(p, &after, 10);
                if (field == i)
                    return v;
                if (after != p)
                    sum += v;
                p = after != p ? after : p + 1;
                while (*p && *p != ' ' && *p != '\t' && *p != '\n')
                    ++p;
            }
            return field == 0 ? sum : 0;
        }
        line = end ? end + 1 : NULL;
    }
    return 0;
}

/* Context switches (sleeps) and CPU time (a busy loop of 60 ms of this process's CPU clock). */
static void make_things_move(void) {
    for (int i = 0; i < 5; ++i) {
        struct timespec ms = {0, 2000000};
        nanosleep(&ms, NULL);
    }
    struct timespec start, now;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start);
    volatile unsigned long spin = 0;
    do {
        for (int i = 0; i < 100000; ++i)
            spin += (unsigned long)i;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < 60000000L);
}

static int cmd_watch(const char* path, const char* prefix, const char* field_text) {
    int field = strcmp(field_text, "sum") == 0 ? 0 : atoi(field_text);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        die("open");
    if (read_all(fd, 65536) < 0)
        die("read");
    int found;
    unsigned long long first = pick(prefix, field, &found);
    make_things_move();
    if (pread_all(fd, 65536) < 0)
        die("pread");
    int again;
    unsigned long long second = pick(prefix, field, &again);
    found = found && again;
    make_things_move();
    if (lseek(fd, 0, SEEK_SET) != 0)
        die("lseek");
    if (read_all(fd, 65536) < 0)
        die("read after lseek");
    unsigned long long third = pick(prefix, field, &again);
    found = found && again;
    printf("watch_found=%s\npread=%s\nlseek=%s\n", found ? "yes" : "no", second > first ? "moved" : "same",
           third > second ? "moved" : "same");
    close(fd);
    return 0;
}

static void count_pass(long bytes) {
    int cpu_lines = 0, ctxt = 0;
    for (char* line = g_buf; line && *line;) {
        if (strncmp(line, "cpu", 3) == 0)
            ++cpu_lines;
        if (strncmp(line, "ctxt ", 5) == 0)
            ++ctxt;
        char* end = strchr(line, '\n');
        line = end ? end + 1 : NULL;
    }
    printf("chunk_bytes=%s\nchunk_lines=%d\nchunk_ctxt=%d\nchunk_tail=%s\n", bytes > 0 ? "some" : "none", cpu_lines,
           ctxt, bytes > 0 && g_buf[bytes - 1] == '\n' ? "yes" : "no");
}

static int cmd_chunks(const char* path, const char* size_text) {
    size_t size = (size_t)atol(size_text);
    int fd = open(path, O_RDONLY);
    if (fd < 0 || size == 0)
        die("open");
    long n = read_all(fd, size);
    if (n < 0)
        die("read");
    count_pass(n);
    if (lseek(fd, 0, SEEK_SET) != 0)
        die("lseek");
    n = read_all(fd, size);
    if (n < 0)
        die("read");
    count_pass(n);
    close(fd);
    return 0;
}

static void print_stat(const char* who, const struct stat* st) {
    printf("%s_mode=%o\n%s_nlink=%lu\n%s_uid=%u\n%s_gid=%u\n%s_size=%lld\n%s_ino=%llu\n", who, (unsigned)st->st_mode,
           who, (unsigned long)st->st_nlink, who, (unsigned)st->st_uid, who, (unsigned)st->st_gid, who,
           (long long)st->st_size, who, (unsigned long long)st->st_ino);
}

static int cmd_fstat(const char* path, const char* flag_text) {
    int flags = O_RDONLY;
    if (strstr(flag_text, "cloexec"))
        flags |= O_CLOEXEC;
    if (strstr(flag_text, "nonblock"))
        flags |= O_NONBLOCK;
    int fd = open(path, flags);
    if (fd < 0)
        die("open");
    struct stat by_fd, by_path;
    if (fstat(fd, &by_fd) != 0)
        die("fstat");
    if (stat(path, &by_path) != 0)
        die("stat");
    print_stat("fd", &by_fd);
    print_stat("path", &by_path);
    int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
    printf("fl=%o\ncloexec=%d\n", (unsigned)fl, (fdfl & FD_CLOEXEC) ? 1 : 0);
    close(fd);
    return 0;
}

static int cmd_fork(const char* path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        die("open");
    if (read_all(fd, 65536) <= 0)
        die("read");
    fflush(stdout);
    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        long n = pread_all(fd, 65536);
        printf("child_read=%s\n", n > 0 ? "some" : n == 0 ? "none" : "error");
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    close(fd);
    return 0;
}

/* A descriptor of a task's file outlives the task: the kernel's reads then fail with ESRCH, even when
 * another task has taken the pid since. */
static int cmd_gone(const char* leaf) {
    pid_t first = fork();
    if (first < 0)
        die("fork");
    if (first == 0)
        for (;;)
            pause();
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)first, leaf);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        die("open");
    if (pread_all(fd, 65536) < 0)
        die("read");
    kill(first, SIGKILL);
    waitpid(first, NULL, 0);
    pid_t second = -1;
    int ready[2];
    int last = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
    char number[16];
    int length = snprintf(number, sizeof(number), "%d", (int)first - 1);
    if (last >= 0 && pipe(ready) == 0 && write(last, number, (size_t)length) == length) {
        second = fork();
        if (second == 0) {
            prctl(PR_SET_NAME, "someone-else");
            if (write(ready[1], "x", 1) != 1)
                _exit(1);
            for (;;)
                pause();
        }
        char x;
        if (second < 0 || read(ready[0], &x, 1) != 1)
            die("second child");
    }
    printf("gone_reused=%s\n", second == first ? "yes" : "no");
    errno = 0;
    long n = pread(fd, g_buf, BUF_SIZE - 1, 0);
    if (n < 0) {
        printf("gone_read=%s\n", errno == ESRCH ? "ESRCH" : strerror(errno));
    } else {
        g_buf[n] = '\0';
        printf("gone_read=%.*s\n", (int)strcspn(g_buf, "\n"), g_buf);
    }
    if (second > 0) {
        kill(second, SIGKILL);
        waitpid(second, NULL, 0);
    }
    return 0;
}

/* Field 26 (start_code) of a stat file's content in g_buf: the kernel shows it only to a reader that
 * may trace the task. */
static const char* start_code(void) {
    char* p = strrchr(g_buf, ')');
    int field = 3; /* the first after the name: the state */
    for (p = p ? strtok(p + 1, " ") : NULL; p && field < 26; p = strtok(NULL, " "))
        ++field;
    return p ? p : "?";
}

static int cmd_foreign(const char* seconds) {
    pid_t target = fork();
    if (target < 0)
        die("fork");
    if (target == 0) {
        if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
            _exit(1);
        for (;;)
            pause();
    }
    usleep(100000);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)target);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        die("open");
    int ready[2];
    if (pipe(ready) != 0)
        die("pipe");
    pid_t holder = fork();
    if (holder == 0) {
        struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct none[2] = {{0, 0, 0}, {0, 0, 0}};
        prctl(PR_SET_NAME, "live-holder");
        if (syscall(SYS_capset, &header, none) != 0 || write(ready[1], "x", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char x;
    if (holder < 0 || read(ready[0], &x, 1) != 1)
        die("holder");
    if (pread_all(fd, 65536) <= 0)
        die("read");
    printf("foreign_fd=%d\nforeign_code=%s\n", fd, start_code());
    fflush(stdout);
    sleep((unsigned)atoi(seconds));
    kill(holder, SIGKILL);
    kill(target, SIGKILL);
    waitpid(holder, NULL, 0);
    waitpid(target, NULL, 0);
    return 0;
}

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmd_bench(const char* path, const char* count_text, const char* chunk_text) {
    long count = atol(count_text);
    size_t chunk = (size_t)atol(chunk_text);
    int fd = open(path, O_RDONLY);
    if (fd < 0 || count <= 0 || chunk == 0)
        die("open");
    long bytes = pread_all(fd, chunk);
    long long start = now_ns();
    for (long i = 0; i < count; ++i)
        if ((bytes = pread_all(fd, chunk)) <= 0)
            die("pread");
    long long elapsed = now_ns() - start;
    printf("bench_ns=%lld\nbench_bytes=%ld\n", elapsed / count, bytes);
    close(fd);
    return 0;
}

static int cmd_openbench(const char* path, const char* count_text) {
    long count = atol(count_text);
    if (count <= 0)
        die("count");
    long long start = now_ns();
    for (long i = 0; i < count; ++i) {
        int fd = open(path, O_RDONLY);
        if (fd < 0 || read_all(fd, 65536) <= 0)
            die("open and read");
        close(fd);
    }
    printf("openbench_ns=%lld\n", (now_ns() - start) / count);
    return 0;
}

int main(int argc, char** argv) {
    if (argc == 5 && strcmp(argv[1], "watch") == 0)
        return cmd_watch(argv[2], argv[3], argv[4]);
    if (argc == 4 && strcmp(argv[1], "chunks") == 0)
        return cmd_chunks(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "fstat") == 0)
        return cmd_fstat(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "fork") == 0)
        return cmd_fork(argv[2]);
    if (argc == 5 && strcmp(argv[1], "bench") == 0)
        return cmd_bench(argv[2], argv[3], argv[4]);
    if (argc == 4 && strcmp(argv[1], "openbench") == 0)
        return cmd_openbench(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "gone") == 0)
        return cmd_gone(argv[2]);
    if (argc == 3 && strcmp(argv[1], "foreign") == 0)
        return cmd_foreign(argv[2]);
    fprintf(stderr, "usage: strict_live watch PATH PREFIX FIELD | chunks PATH SIZE | fstat PATH FLAGS | fork PATH | "
                    "bench PATH N CHUNK | openbench PATH N | gone LEAF\n");
    return 2;
}
