/* Calls every libc entry point libshim.so overrides (shim/shim.map) once, in a fixed order, on files in
 * the directory argv[1], for tests/trace/trace_test.py: the same program run natively under strace 6.1
 * and traced under the shim must show the calls both see with the same names and arguments (glibc's
 * choice of system call for each function: access is access(2), fstat is newfstatat(fd, "", ...,
 * AT_EMPTY_PATH), ...). The first call after start-up, syscall(SYS_getpid), marks where the
 * program's own calls begin; _exit ends it. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <fts.h>
#include <ftw.h>
#include <glob.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/sysinfo.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

extern char** environ;

#define MPOL_BIND_MODE 2 /* <numaif.h> is libnuma's */
/* glibc defines it; its header declares it only for older standards. */
extern __sighandler_t bsd_signal(int sig, __sighandler_t handler);

static int walked(const char* path, const struct stat* st, int type) {
    (void)path, (void)st, (void)type;
    return 0;
}

static int nwalked(const char* path, const struct stat* st, int type, struct FTW* ftw) {
    (void)path, (void)st, (void)type, (void)ftw;
    return 0;
}

static void on_signal(int sig) {
    (void)sig;
}

static void* thread_main(void* arg) {
    return arg;
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: entry_points DIR\n");
        return 2;
    }
    const char* dir = argv[1];
    char file[512], link[512], sub[512], pattern[512], buf[4096];
    snprintf(file, sizeof file, "%s/file", dir);
    snprintf(link, sizeof link, "%s/link", dir);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(pattern, sizeof pattern, "%s/f*", dir);
    struct stat st;
    struct statfs sfs;
    struct statx stx;
    cpu_set_t set;
    struct iovec iov = {buf, 16};

    syscall(SYS_getpid); /* the marker */

    /* opens and stats */
    int fd = open(file, O_RDONLY);
    int fd2 = openat(AT_FDCWD, file, O_RDONLY | O_CLOEXEC);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    close(open(file, O_WRONLY | O_CREAT | O_APPEND, 0640));
    stat(file, &st);
    lstat(link, &st);
    fstat(fd, &st);
    fstat(-1, &st); /* glibc's EBADF, no call: neither strace nor the trace shows one */
    fstat(AT_FDCWD, &st);
    fstatat(dfd, "file", &st, AT_SYMLINK_NOFOLLOW);
    statx(AT_FDCWD, file, AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS, &stx);
    access(file, R_OK);
    access("/nonexistent-entry-points", F_OK);
    faccessat(dfd, "file", W_OK, AT_EACCESS);
    faccessat(AT_FDCWD, file, R_OK, 0);
    statfs(dir, &sfs);
    fstatfs(fd, &sfs);
    readlink(link, buf, sizeof buf);
    readlinkat(dfd, "link", buf, sizeof buf);

    /* reads, descriptors, streams */
    read(fd, buf, 4);
    pread(fd, buf, 4, 1);
    readv(fd, &iov, 1);
    preadv(fd, &iov, 1, 2);
    preadv2(fd, &iov, 1, 3, 0);
    lseek(fd, 0, SEEK_SET);
    int copy = dup(fd);
    dup2(fd, 40);
    dup3(fd, 41, O_CLOEXEC);
    int copy2 = fcntl(fd, F_DUPFD_CLOEXEC, 50);
    fcntl(fd, F_GETFD);
    close(copy);
    close(copy2);
    close(40);
    close(41);
    FILE* f = fopen(file, "r");
    if (f) {
        fgets(buf, sizeof buf, f);
        fseek(f, 0, SEEK_SET);
        fseeko(f, 1, SEEK_SET);
        rewind(f);
        fpos_t pos;
        fgetpos(f, &pos);
        fsetpos(f, &pos);
        fflush(f);
        fclose(f);
    }

    /* memory */
    void* p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    madvise(p, 4096, MADV_DONTNEED);
    p = mremap(p, 8192, 4096, 0);
    munmap(p, 4096);

    /* directories */
    chdir(dir);
    fchdir(dfd);
    getcwd(buf, sizeof buf);
    free(getcwd(NULL, 0));
    realpath("link", buf);
    free(canonicalize_file_name("file"));
    DIR* d = opendir(dir);
    if (d) {
        long at = telldir(d);
        while (readdir(d))
            ;
        seekdir(d, at);
        rewinddir(d);
        closedir(d);
    }
    int lfd = open(dir, O_RDONLY | O_DIRECTORY);
    d = fdopendir(lfd);
    if (d)
        closedir(d);
    lfd = open(dir, O_RDONLY | O_DIRECTORY);
    syscall(SYS_getdents64, lfd, buf, sizeof buf);
    close(lfd);
    struct dirent** names;
    int n = scandir(dir, &names, NULL, alphasort);
    for (int i = 0; i < n; i++)
        free(names[i]);
    if (n >= 0)
        free(names);
    glob_t g;
    if (glob(pattern, 0, NULL, &g) == 0)
        globfree(&g);
    ftw(sub, walked, 4);
    nftw(sub, nwalked, 4, FTW_PHYS);
    char* roots[] = {sub, NULL};
    FTS* fts = fts_open(roots, FTS_PHYSICAL, NULL);
    if (fts) {
        while (fts_read(fts))
            ;
        fts_close(fts);
    }

    /* attributes and sockets */
    getxattr(file, "user.entry", buf, 64);
    lgetxattr(link, "user.entry", buf, 64);
    listxattr(file, buf, 64);
    llistxattr(link, buf, 64);
    setxattr(file, "user.entry", "v", 1, 0);
    lsetxattr(file, "user.entry", "w", 1, XATTR_REPLACE);
    removexattr(file, "user.entry");
    lremovexattr(file, "user.other");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    int value = 1;
    socklen_t length = sizeof value;
    setsockopt(s, SOL_SOCKET, SO_PASSCRED, &value, sizeof value);
    getsockopt(s, SOL_SOCKET, SO_PASSCRED, &value, &length);
    close(s);

    /* CPUs */
    sched_getaffinity(0, sizeof set, &set);
    sched_setaffinity(0, sizeof set, &set);
    pthread_getaffinity_np(pthread_self(), sizeof set, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    {
        /* Bits beyond the host's CPUs, which the kernel ignores, as the program passed them: strace
         * reads 128 bytes (CPU 1023 shown) and marks a longer mask with "...". */
        unsigned long wide[17];
        memset(wide, 0, sizeof wide);
        memcpy(wide, &set, sizeof set);
        wide[15] |= 1UL << 63;
        wide[16] = 1;
        sched_setaffinity(0, sizeof wide, (cpu_set_t*)wide);
    }
    unsigned cpu, node;
    getcpu(&cpu, &node);
    sched_getcpu();
    sysconf(_SC_NPROCESSORS_ONLN);
    sysconf(_SC_NPROCESSORS_CONF);
    get_nprocs();
    get_nprocs_conf();

    /* memory policies through syscall(): node masks as strace prints them */
    unsigned long nodes[2] = {1, 0}, got[2] = {0, 0};
    int policy;
    void* page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    syscall(SYS_set_mempolicy, MPOL_BIND_MODE, nodes, 65);
    syscall(SYS_get_mempolicy, &policy, got, 129, NULL, 0);
    syscall(SYS_get_mempolicy, &policy, got, 0, NULL, 0); /* EINVAL; strace shows the mask as [] */
    syscall(SYS_mbind, page, 4096, MPOL_BIND_MODE, nodes, 3, 0);
    syscall(SYS_set_mempolicy, 0, NULL, 0);
    munmap(page, 4096);

    /* signals */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGUSR2, SIG_IGN);
    sysv_signal(SIGUSR2, SIG_DFL);
    bsd_signal(SIGUSR2, on_signal);
    sigset(SIGUSR2, SIG_DFL);

    /* processes */
    pthread_t t;
    if (pthread_create(&t, NULL, thread_main, NULL) == 0)
        pthread_join(t, NULL);
    unshare(0);
    setns(-1, 0);
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    child = vfork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    char* args[] = {"entry-points-child", NULL};
    execve("/nonexistent-entry-points", args, environ);
    execveat(dfd, "file", args, environ, 0);
    execv("/nonexistent-entry-points", args);
    execl("/nonexistent-entry-points", "entry-points-child", (char*)NULL);
    execle("/nonexistent-entry-points", "entry-points-child", (char*)NULL, environ);
    setenv("PATH", "/nonexistent-a:/nonexistent-b", 1);
    execvp("entry-points-child", args);
    execvpe("entry-points-child", args, environ);
    execlp("entry-points-child", "entry-points-child", (char*)NULL);
    fexecve(dfd, args, environ);
    if (posix_spawn(&child, "/nonexistent-entry-points", NULL, NULL, args, environ) == 0)
        waitpid(child, NULL, 0);
    if (posix_spawnp(&child, "entry-points-child", NULL, NULL, args, environ) == 0)
        waitpid(child, NULL, 0);
    close(fd);
    close(fd2);
    close(dfd);
    _exit(0);
}
