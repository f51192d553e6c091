/* Keeps /proc/stat (or /proc/self/status) open and reads it again the way monitors do, after making
 * context switches: prints "advanced" when the ctxt counter moved by at least what was made, "frozen"
 * when it did not. Run natively and under the shim by tests/integration/live_files.sh; the host is the
 * oracle (natively every method below advances).
 *
 *   live_files METHOD       METHOD: lseek pread preadv rewind fseek fseek-cur fsetpos fflush syscall
 *                           dup fork vfork chunks fdupfd fdupfd-high fdupfd-wide exec vfork-dup2
 *                           spawn-dup2 spawn-keep pread-offset preadv-offset
 *   live_files calls        the descriptor calls' results and errors with a live file open: "ok"
 *   live_files threads      two threads re-reading /proc/self/status as it changes: "whole" or "torn"
 *   live_files fork-readers a fork child and its parent re-reading one /proc/self/status descriptor as
 *                           it changes: "whole" or "torn"
 *   live_files write-opens  files opened for writing with a live file open (live_files.sh counts the
 *                           system calls): "ok"
 *   live_files vfork-reread /proc/stat read again by a vfork child, then by its parent between two
 *                           getpgid(424242) calls (live_files.sh: the parent's re-reads open nothing)
 *   live_files reopen       /proc/self/fd/N opened again for writing writes nothing it reads: "ok"
 *   live_files reopen-dirfd the same through a directory descriptor of /proc/self/fd (a bare "N"):
 *                           prints what each write gave
 *   live_files killed-maker a fork child killed while it writes something (natively it writes nothing;
 *                           under the shim, in the making of the content of the descriptor it shares
 *                           with its parent): the parent's reads then wait for nobody, "no wait", or
 *                           how many of its reads after the first waited
 *   live_files status       pins itself to its last allowed CPU, reads Cpus_allowed_list again
 *                           through the same descriptor and prints it
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

enum { kSwitches = 2000, kBuf = 1 << 20 };
static char g_buf[kBuf];

/* Context switches, at least 2 per round: a child and this process hand a byte back and forth. */
static void switch_contexts(void) {
    int there[2], back[2];
    if (pipe(there) || pipe(back))
        exit(2);
    pid_t child = fork();
    if (child == 0) {
        char c;
        for (int i = 0; i < kSwitches; ++i)
            if (read(there[0], &c, 1) != 1 || write(back[1], &c, 1) != 1)
                _exit(2);
        _exit(0);
    }
    char c = 'x';
    for (int i = 0; i < kSwitches; ++i)
        if (write(there[1], &c, 1) != 1 || read(back[0], &c, 1) != 1)
            exit(2);
    waitpid(child, NULL, 0);
    close(there[0]), close(there[1]), close(back[0]), close(back[1]);
}

static long long counter(const char* text, const char* name) {
    const char* at = strstr(text, name);
    return at ? atoll(at + strlen(name)) : -1;
}

/* Reads fd from its current offset to the end with read(2), `chunk` bytes at a time. */
static size_t read_rest(int fd, size_t chunk) {
    size_t used = 0;
    ssize_t n;
    while (used + chunk < kBuf && (n = read(fd, g_buf + used, chunk)) > 0)
        used += (size_t)n;
    g_buf[used] = '\0';
    return used;
}

static size_t pread_all(int fd) {
    size_t used = 0;
    ssize_t n;
    while ((n = pread(fd, g_buf + used, 4096, (off_t)used)) > 0)
        used += (size_t)n;
    g_buf[used] = '\0';
    return used;
}

static void stream_rest(FILE* f) {
    size_t used = 0;
    while (fgets(g_buf + used, (int)(kBuf - used), f))
        used += strlen(g_buf + used);
}

/* A content read whole: one ctxt line, every line ended. */
static int whole(void) {
    const char* first = strstr(g_buf, "\nctxt ");
    size_t n = strlen(g_buf);
    return strncmp(g_buf, "cpu ", 4) == 0 && first && !strstr(first + 1, "\nctxt ") && n && g_buf[n - 1] == '\n';
}

static int report(long long before, long long after) {
    if (before < 0 || after < 0 || !whole()) {
        printf("unreadable\n");
        return 1;
    }
    printf("%s\n", after - before >= 2 * kSwitches ? "advanced" : "frozen");
    return 0;
}

static int status_method(void) {
    FILE* f = fopen("/proc/self/status", "r");
    cpu_set_t set;
    if (!f || sched_getaffinity(0, sizeof(set), &set))
        return 1;
    int last = -1;
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set))
            last = c;
    stream_rest(f);
    CPU_ZERO(&set);
    CPU_SET(last, &set);
    if (sched_setaffinity(0, sizeof(set), &set))
        return 1;
    int fd = fileno(f);
    if (lseek(fd, 0, SEEK_SET) != 0)
        return 1;
    read_rest(fd, 256);
    const char* list = strstr(g_buf, "Cpus_allowed_list:");
    if (!list)
        return 1;
    list += strlen("Cpus_allowed_list:");
    while (*list == '\t' || *list == ' ')
        ++list;
    printf("%.*s (pinned to %d)\n", (int)strcspn(list, "\n"), list, last);
    return 0;
}

/* The descriptor calls the live files route (dup, dup2, dup3, read, pread, lseek) keep their results,
 * errors and errno once a live file is open: prints "ok" or the first check that failed. */
#define CHECK(what)                          \
    do {                                     \
        if (!(what)) {                       \
            printf("failed: %s\n", #what);   \
            return 1;                        \
        }                                    \
    } while (0)
static int calls_method(void) {
    int fd = open("/proc/stat", O_RDONLY);
    CHECK(fd >= 0);
    char byte;
    errno = 1234;
    CHECK(read(fd, &byte, 1) == 1 && errno == 1234);
    CHECK(lseek(fd, 0, SEEK_SET) == 0 && errno == 1234);
    CHECK(read(fd, &byte, 1) == 1 && byte == 'c' && errno == 1234);
    CHECK(pread(fd, &byte, 1, 0) == 1 && byte == 'c' && errno == 1234);
    CHECK(dup2(fd, fd) == fd);
    CHECK(dup3(fd, fd, 0) == -1 && errno == EINVAL);
    CHECK(dup2(-1, 100) == -1 && errno == EBADF);
    CHECK(dup(4000) == -1 && errno == EBADF);
    CHECK(read(-1, &byte, 1) == -1 && errno == EBADF);
    CHECK(pread(fd, &byte, 1, -1) == -1 && errno == EINVAL);
    CHECK(lseek(fd, -1, SEEK_SET) == -1 && errno == EINVAL);
    CHECK(dup3(fd, 100, O_CLOEXEC) == 100 && fcntl(100, F_GETFD) == FD_CLOEXEC);
    CHECK(lseek(100, 0, SEEK_SET) == 0 && read(100, &byte, 1) == 1 && byte == 'c');
    /* dup2 over the live copy with another file: that number reads the other file now. */
    int null = open("/dev/null", O_RDONLY);
    CHECK(dup2(null, 100) == 100 && read(100, &byte, 1) == 0);
    CHECK(write(fd, "x", 1) == -1 && errno == EBADF);
    close(100);
    close(fd);
    /* The number again, for another file: nothing of /proc/stat shows through it. */
    CHECK(dup2(null, fd) == fd && lseek(fd, 0, SEEK_SET) == 0 && read(fd, &byte, 1) == 0);
    /* Closed where no override sees it (a raw close), and the number taken by an open of another
     * file: reads of it are that file's. */
    fd = open("/proc/stat", O_RDONLY);
    CHECK(fd >= 0 && read(fd, &byte, 1) == 1 && lseek(fd, 0, SEEK_SET) == 0);
    CHECK(syscall(SYS_close, fd) == 0);
    CHECK(open("/dev/zero", O_RDONLY) == fd);
    byte = 'x';
    CHECK(read(fd, &byte, 1) == 1 && byte == 0 && lseek(fd, 0, SEEK_SET) == 0 && read(fd, &byte, 1) == 1 &&
          byte == 0 && pread(fd, &byte, 1, 0) == 1 && byte == 0);
    printf("ok\n");
    return 0;
}

/* /proc/self/fd/N of the open file, opened again for writing (open with O_TRUNC, fopen "r+" and "w"):
 * natively a new open of /proc/stat, which no write reaches. The first descriptor then reads on
 * where it stopped, and its content has none of the bytes written. Prints "ok" or the first check
 * that failed. */
static int reopen_method(void) {
    int fd = open("/proc/stat", O_RDONLY);
    char link[64];
    CHECK(fd >= 0 && read(fd, g_buf, 10) == 10);
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    int w = open(link, O_WRONLY | O_TRUNC);
    CHECK(w >= 0 || errno == EACCES);
    if (w >= 0) {
        CHECK(write(w, "XXXXXXXX", 8) == -1);
        close(w);
    }
    FILE* f = fopen(link, "r+");
    if (f) {
        fputs("YYYYYYYY", f);
        fclose(f);
    }
    f = fopen(link, "w");
    if (f) {
        fputs("ZZZZZZZZ", f);
        fclose(f);
    }
    /* Reads on where they stopped: the rest of the content that was there. */
    size_t n = read_rest(fd, 4096);
    CHECK(n > 0 && !strpbrk(g_buf, "XYZ"));
    CHECK(pread(fd, g_buf, kBuf - 1, 0) > 0 && strncmp(g_buf, "cpu ", 4) == 0);
    printf("ok\n");
    return 0;
}

/* openat(dirfd of /proc/self/fd, "N") for writing, O_WRONLY and O_RDWR|O_TRUNC: natively an open of
 * the real file, whose writes fail. Prints each write's error (O_RDWR's only as "fails"), then "kept"
 * when the first descriptor still reads its content from where it stopped. */
/* With a live file open, a new file created (O_CREAT|O_EXCL) and opened again for writing
 * (O_TRUNC), between two getpgid(424242) calls that mark the stretch for strace (live_files.sh counts the
 * system calls in it: natively 3, the shim's check of a path opened for writing adds at most 1). */
static int write_opens_method(void) {
    int live = open("/proc/stat", O_RDONLY);
    char path[64];
    snprintf(path, sizeof(path), "/tmp/live_files_write_opens.%d", (int)getpid());
    if (live < 0)
        return 1;
    syscall(SYS_getpgid, 424242);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    close(fd);
    fd = open(path, O_WRONLY | O_TRUNC);
    syscall(SYS_getpgid, 424242);
    int ok = fd >= 0;
    close(fd);
    unlink(path);
    close(live);
    printf("%s\n", ok ? "ok" : "failed");
    return !ok;
}

static int reopen_dirfd_method(const char* path) {
    int fd = open(path, O_RDONLY);
    int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY);
    char name[16];
    CHECK(fd >= 0 && dir >= 0 && read(fd, g_buf, 10) == 10);
    snprintf(name, sizeof(name), "%d", fd);
    int w = openat(dir, name, O_WRONLY);
    if (w < 0) {
        printf("wronly open: %s\n", strerror(errno));
    } else {
        ssize_t n = write(w, "XXXXXXXX", 8);
        printf("wronly write: %s\n", n < 0 ? strerror(errno) : "wrote");
        close(w);
    }
    w = openat(dir, name, O_RDWR | O_TRUNC);
    if (w < 0) {
        printf("rdwr open: %s\n", strerror(errno));
    } else {
        printf("rdwr write: %s\n", write(w, "YYYYYYYY", 8) < 0 ? "fails" : "wrote");
        close(w);
    }
    size_t n = read_rest(fd, 4096);
    printf("%s\n", n > 0 && !strpbrk(g_buf, "XY") ? "kept" : "changed");
    return 0;
}

/* Two threads read /proc/self/status again and again at offset 0 (each read makes it anew) while the
 * main thread changes the process's affinity, and so the length of its Cpus_allowed lines: every
 * read must hold one content whole, as natively (the seq file's mutex), never the new content
 * followed by the old one's tail. Prints "whole" or "torn". */
enum { kThreadReads = 20000 };
static int g_status_fd, g_status_lines;
static volatile int g_torn, g_readers_done;

static int count_lines(const char* text, ssize_t n) {
    int lines = 0;
    for (ssize_t i = 0; i < n; ++i)
        lines += text[i] == '\n';
    return lines;
}

static void* status_reader(void* unused) {
    static __thread char buf[65536];
    (void)unused;
    for (int i = 0; i < kThreadReads && !g_torn; ++i) {
        ssize_t n = pread(g_status_fd, buf, sizeof(buf), 0);
        const char* last = n > 1 ? buf + n - 2 : buf;
        while (last > buf && last[-1] != '\n')
            --last;
        if (n <= 0 || buf[n - 1] != '\n' || count_lines(buf, n) != g_status_lines ||
            strncmp(last, "nonvoluntary_ctxt_switches:", 27) != 0)
            g_torn = 1;
    }
    __atomic_add_fetch(&g_readers_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static int threads_method(void) {
    g_status_fd = open("/proc/self/status", O_RDONLY);
    ssize_t n = g_status_fd >= 0 ? read(g_status_fd, g_buf, kBuf) : -1;
    cpu_set_t all, one;
    if (n <= 0 || sched_getaffinity(0, sizeof(all), &all))
        return 1;
    g_status_lines = count_lines(g_buf, n);
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &all)) {
            CPU_SET(c, &one);
            break;
        }
    pthread_t readers[2];
    for (int i = 0; i < 2; ++i)
        if (pthread_create(&readers[i], NULL, status_reader, NULL))
            return 1;
    while (__atomic_load_n(&g_readers_done, __ATOMIC_SEQ_CST) < 2)
        if (sched_setaffinity(0, sizeof(one), &one) || sched_setaffinity(0, sizeof(all), &all))
            return 1;
    for (int i = 0; i < 2; ++i)
        pthread_join(readers[i], NULL);
    printf("%s\n", g_torn ? "torn" : "whole");
    return 0;
}

/* The same with the second reader in a fork child, which shares the descriptor (one description, as
 * natively one seq file): the child reads through pread and syscall(SYS_pread64), the parent's thread
 * through pread, while the parent changes its affinity. */
static void* changer(void* unused) {
    cpu_set_t all, one;
    (void)unused;
    if (sched_getaffinity(0, sizeof(all), &all))
        return NULL;
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &all)) {
            CPU_SET(c, &one);
            break;
        }
    while (!__atomic_load_n(&g_readers_done, __ATOMIC_SEQ_CST))
        if (sched_setaffinity(0, sizeof(one), &one) || sched_setaffinity(0, sizeof(all), &all))
            break;
    return NULL;
}

static int fork_readers_method(void) {
    g_status_fd = open("/proc/self/status", O_RDONLY);
    ssize_t n = g_status_fd >= 0 ? read(g_status_fd, g_buf, kBuf) : -1;
    if (n <= 0)
        return 1;
    g_status_lines = count_lines(g_buf, n);
    pid_t child = fork();
    if (child == 0) {
        static char buf[65536];
        int torn = 0;
        for (int i = 0; i < kThreadReads && !torn; ++i) {
            ssize_t got = (i & 1) ? syscall(SYS_pread64, g_status_fd, buf, sizeof(buf), 0L)
                                  : pread(g_status_fd, buf, sizeof(buf), 0);
            const char* last = got > 1 ? buf + got - 2 : buf;
            while (last > buf && last[-1] != '\n')
                --last;
            if (got <= 0 || buf[got - 1] != '\n' || count_lines(buf, got) != g_status_lines ||
                strncmp(last, "nonvoluntary_ctxt_switches:", 27) != 0)
                torn = 1;
        }
        _exit(torn ? 3 : 0);
    }
    pthread_t t;
    if (child < 0 || pthread_create(&t, NULL, changer, NULL))
        return 1;
    status_reader(NULL);
    int status;
    waitpid(child, &status, 0);
    pthread_join(t, NULL);
    printf("%s\n", g_torn || !WIFEXITED(status) || WEXITSTATUS(status) ? "torn" : "whole");
    return 0;
}

/* A seccomp filter: `nr` (or, with nr2 >= 0, either) answered with `action`; every other call runs. */
static int filter_calls(long nr, long nr2, unsigned action) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 1, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)(nr2 >= 0 ? nr2 : nr), 0, 1),
        BPF_STMT(BPF_RET | BPF_K, action),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof(code) / sizeof(code[0]), code};
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) ? -1 : 0;
}

static volatile sig_atomic_t g_yields;
static void count_yield(int sig) {
    (void)sig;
    ++g_yields;
}

/* A fork child that dies while it makes the content of a descriptor it shares with its parent (its
 * first write or pwrite kills it): the parent's reads of that descriptor wait for that making at most
 * once, not at every read (a wait yields the CPU: counted through a seccomp trap). */
static int killed_maker_method(void) {
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0 || read(fd, g_buf, kBuf) <= 0)
        return 1;
    pid_t child = fork();
    if (child == 0) {
        if (filter_calls(SYS_write, SYS_pwrite64, SECCOMP_RET_KILL_PROCESS))
            _exit(1);
        lseek(fd, 0, SEEK_SET);
        _exit(read(fd, g_buf, kBuf) > 0 ? 0 : 1);
    }
    int status;
    if (child < 0 || waitpid(child, &status, 0) != child)
        return 1;
    lseek(fd, 0, SEEK_SET); /* this read may wait once */
    if (read(fd, g_buf, kBuf) <= 0)
        return 1;
    signal(SIGSYS, count_yield);
    if (filter_calls(SYS_sched_yield, -1, SECCOMP_RET_TRAP))
        return 1;
    int waited = 0;
    for (int i = 0; i < 3; ++i) {
        g_yields = 0;
        lseek(fd, 0, SEEK_SET);
        if (read(fd, g_buf, kBuf) <= 0)
            return 1;
        waited += g_yields != 0;
    }
    if (waited)
        printf("%d of 3 reads waited\n", waited);
    else
        printf("no wait\n");
    return 0;
}

/* A vfork child reads the live file again (the shim's pool then runs in its parent's memory), and
 * the parent re-reads it three times between the strace marks: under the shim through its pooled
 * memfd's mapping, with no open of the descriptor's path (live_files.sh counts them). */
static int vfork_reread_method(void) {
    int fd = open("/proc/stat", O_RDONLY);
    if (fd < 0 || read(fd, g_buf, sizeof(g_buf)) <= 0)
        return 1;
    pid_t child = vfork();
    if (child == 0) {
        ssize_t n = pread(fd, g_buf, sizeof(g_buf), 0);
        _exit(n > 0 ? 0 : 1);
    }
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) != child || status != 0)
        return 1;
    syscall(SYS_getpgid, 424242);
    int ok = 1;
    for (int i = 0; i < 3; ++i)
        ok &= pread(fd, g_buf, sizeof(g_buf), 0) > 0;
    syscall(SYS_getpgid, 424242);
    printf(ok ? "ok\n" : "short\n");
    return 0;
}

int main(int argc, char** argv) {
    if (argc != 2 && !(argc == 4 && strcmp(argv[1], "exec-child") == 0))
        return 2;
    const char* m = argv[1];
    if (strcmp(m, "status") == 0)
        return status_method();
    if (strcmp(m, "calls") == 0)
        return calls_method();
    if (strcmp(m, "reopen") == 0)
        return reopen_method();
    if (strcmp(m, "threads") == 0)
        return threads_method();
    if (strcmp(m, "fork-readers") == 0)
        return fork_readers_method();
    if (strcmp(m, "killed-maker") == 0)
        return killed_maker_method();
    if (strcmp(m, "write-opens") == 0)
        return write_opens_method();
    if (strcmp(m, "vfork-reread") == 0)
        return vfork_reread_method();
    if (strcmp(m, "reopen-dirfd") == 0)
        return reopen_dirfd_method("/proc/stat");
    if (strcmp(m, "reopen-dirfd-status") == 0)
        return reopen_dirfd_method("/proc/self/status");
    /* exec-child FD BEFORE: the descriptor inherited across exec, read again from offset 0. */
    if (strcmp(m, "exec-child") == 0 && argc == 4) {
        int fd = atoi(argv[2]);
        lseek(fd, 0, SEEK_SET);
        read_rest(fd, 4096);
        return report(atoll(argv[3]), counter(g_buf, "\nctxt "));
    }
    long long before, after;
    if (!strcmp(m, "rewind") || !strcmp(m, "fseek") || !strcmp(m, "fseek-cur") || !strcmp(m, "fsetpos") ||
        !strcmp(m, "fflush")) {
        FILE* f = fopen("/proc/stat", "r");
        if (!f)
            return 1;
        fpos_t start;
        fgetpos(f, &start);
        if (!strcmp(m, "fflush")) {
            /* procps 3's pattern: rewind, then fflush (which moves the file's offset back). */
            if (!fgets(g_buf, kBuf, f))
                return 1;
            rewind(f);
            fflush(f);
        }
        stream_rest(f);
        before = counter(g_buf, "\nctxt ");
        switch_contexts();
        if (!strcmp(m, "rewind") || !strcmp(m, "fflush"))
            rewind(f);
        else if (!strcmp(m, "fseek"))
            fseek(f, 0, SEEK_SET);
        else if (!strcmp(m, "fseek-cur"))
            fseek(f, -ftell(f), SEEK_CUR);
        else
            fsetpos(f, &start);
        if (!strcmp(m, "fflush"))
            fflush(f);
        stream_rest(f);
        after = counter(g_buf, "\nctxt ");
        return report(before, after);
    }
    int fd = open("/proc/stat", O_RDONLY);
    if (fd < 0)
        return 1;
    read_rest(fd, 4096);
    before = counter(g_buf, "\nctxt ");
    switch_contexts();
    if (!strcmp(m, "lseek")) {
        lseek(fd, 0, SEEK_SET);
        read_rest(fd, 4096);
    } else if (!strcmp(m, "chunks")) {
        lseek(fd, 0, SEEK_SET);
        read_rest(fd, 7); /* every read after the first continues the same content */
    } else if (!strcmp(m, "pread")) {
        pread_all(fd);
    } else if (!strcmp(m, "preadv")) {
        struct iovec v = {g_buf, kBuf - 1};
        ssize_t n = preadv(fd, &v, 1, 0);
        g_buf[n > 0 ? n : 0] = '\0';
    } else if (!strcmp(m, "syscall")) {
        syscall(SYS_lseek, fd, 0L, SEEK_SET);
        size_t used = 0;
        long n;
        while ((n = syscall(SYS_read, fd, g_buf + used, 4096L)) > 0)
            used += (size_t)n;
        g_buf[used] = '\0';
    } else if (!strcmp(m, "dup")) {
        int copy = dup(fd);
        lseek(copy, 0, SEEK_SET);
        read_rest(copy, 4096);
    } else if (!strcmp(m, "fdupfd") || !strcmp(m, "fdupfd-high") || !strcmp(m, "fdupfd-wide")) {
        /* A copy made by fcntl, the original closed; the high one above 4096 (the limit raised); the
         * wide one through syscall() with bits above the int's in the argument word, which the kernel
         * ignores (it takes the floor as an int). */
        int floor = 0;
        if (!strcmp(m, "fdupfd-high")) {
            struct rlimit r;
            floor = 5000;
            if (getrlimit(RLIMIT_NOFILE, &r) || r.rlim_max < 6000)
                return 1;
            r.rlim_cur = 6000;
            if (setrlimit(RLIMIT_NOFILE, &r))
                return 1;
        }
        int copy = !strcmp(m, "fdupfd-wide") ? (int)syscall(SYS_fcntl, fd, F_DUPFD, (1L << 32) | 10)
                                              : fcntl(fd, floor ? F_DUPFD : F_DUPFD_CLOEXEC, floor);
        if (copy < floor || close(fd))
            return 1;
        lseek(copy, 0, SEEK_SET);
        read_rest(copy, 4096);
    } else if (!strcmp(m, "exec")) {
        /* The descriptor stays open across exec; the new program reads it again. */
        char fd_text[16], before_text[32];
        snprintf(fd_text, sizeof(fd_text), "%d", fd);
        snprintf(before_text, sizeof(before_text), "%lld", before);
        fflush(stdout);
        execl("/proc/self/exe", "live_files", "exec-child", fd_text, before_text, (char*)NULL);
        return 1;
    } else if (!strcmp(m, "pread-offset") || !strcmp(m, "preadv-offset")) {
        /* At an offset where no read stopped (the whole file was read): made anew up to there. The
         * first bytes are the old content's, which whole() accepts ("cpu "). */
        size_t used = 10;
        ssize_t n;
        struct iovec v;
        do {
            v.iov_base = g_buf + used;
            v.iov_len = 4096;
            n = !strcmp(m, "pread-offset") ? pread(fd, g_buf + used, 4096, (off_t)used)
                                           : preadv(fd, &v, 1, (off_t)used);
            used += n > 0 ? (size_t)n : 0;
        } while (n > 0 && used + 4096 < kBuf);
        g_buf[used] = '\0';
    } else if (!strcmp(m, "vfork-dup2") || !strcmp(m, "spawn-dup2") || !strcmp(m, "spawn-keep")) {
        /* A copy onto another number made in the child only, by a vfork child's dup2 or a
         * posix_spawn file action, then exec: the new program reads the copy again. spawn-keep: the
         * descriptor itself, close-on-exec, kept open by a file action's dup2 onto its own number
         * (which clears the flag in the child, glibc 2.29 on). */
        const int target = !strcmp(m, "spawn-keep") ? fd : 9;
        if (target == fd && fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
            return 1;
        char fd_text[16], before_text[32];
        snprintf(fd_text, sizeof(fd_text), "%d", target);
        snprintf(before_text, sizeof(before_text), "%lld", before);
        char* args[] = {"live_files", "exec-child", fd_text, before_text, NULL};
        fflush(stdout);
        pid_t child;
        if (!strcmp(m, "vfork-dup2")) {
            child = vfork();
            if (child == 0) {
                if (dup2(fd, 9) == 9)
                    execv("/proc/self/exe", args);
                _exit(1);
            }
        } else {
            posix_spawn_file_actions_t actions;
            posix_spawn_file_actions_init(&actions);
            posix_spawn_file_actions_adddup2(&actions, fd, target);
            if (posix_spawn(&child, "/proc/self/exe", &actions, NULL, args, environ) != 0)
                child = -1;
            posix_spawn_file_actions_destroy(&actions);
        }
        int status;
        if (child < 0 || waitpid(child, &status, 0) != child)
            return 1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    } else if (!strcmp(m, "vfork")) {
        /* A vfork child, which runs in this process's memory with descriptors of its own, replaces
         * and closes its copy of the descriptor (as a child does before exec): this process's own
         * stays live. */
        pid_t child = vfork();
        if (child == 0) {
            int null = open("/dev/null", O_RDONLY);
            if (null < 0 || dup2(null, fd) != fd || close(fd) != 0)
                _exit(1);
            _exit(0);
        }
        int status;
        if (child < 0 || waitpid(child, &status, 0) != child || status != 0)
            return 1;
        lseek(fd, 0, SEEK_SET);
        read_rest(fd, 4096);
    } else if (!strcmp(m, "fork")) {
        /* The child reads again through the descriptor it shares, and hands over what it read. */
        int p[2];
        if (pipe(p))
            return 1;
        pid_t child = fork();
        if (child == 0) {
            lseek(fd, 0, SEEK_SET);
            size_t n = read_rest(fd, 4096);
            _exit(write(p[1], g_buf, n) == (ssize_t)n ? 0 : 1);
        }
        close(p[1]);
        waitpid(child, NULL, 0);
        read_rest(p[0], 4096);
    } else {
        return 2;
    }
    after = counter(g_buf, "\nctxt ");
    return report(before, after);
}
