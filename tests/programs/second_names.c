/* second_names DIR FILE: a program that defines its own X for each of libc's functions that have a
 * second name (stat64 of stat, fcntl64 of fcntl, _Exit of _exit...), each definition counting its
 * calls and passing them on (dlsym(RTLD_NEXT)), then calls every second name once and prints how
 * many calls its own X saw meanwhile, one line each. glibc's two names are one function: natively
 * every count is 0 (and libc's __read_chk and __pread_chk do not call the program's read and
 * pread either), and under the shim it must be too (tests/integration/virtual_programs.sh
 * compares). DIR is a directory to walk (its entries are not printed), FILE a readable file. Built
 * with -rdynamic, so that this program's X is the one the dynamic linker binds. Ends with _Exit(0)
 * after "_Exit -> _exit:", which its own _exit completes with " entered" if _Exit went through it. */
/* Each X here under its own name: with 64-bit offsets asked for (meson does), the headers would
 * rename these definitions to the second names themselves. */
#undef _FILE_OFFSET_BITS
#define _GNU_SOURCE
#define _LARGEFILE64_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <fts.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <unistd.h>

/* Volatile: the compiler would otherwise drop the stores around an external call it assumes cannot
 * call back into this program. */
static const char* volatile g_want = "";  /* the X whose calls are counted, around its second name's call */
static volatile int g_seen;                     /* calls of that X meanwhile */
static void* next(const char* name) {
    void* f = dlsym(RTLD_NEXT, name);
    if (!f) {
        fprintf(stderr, "second_names: no next %s\n", name);
        abort();
    }
    return f;
}
#define NOTE(name) (g_seen += strcmp(g_want, #name) == 0)
#define NEXT(type, name) ((type)next(#name))

int stat(const char* p, struct stat* b) { NOTE(stat); return NEXT(int (*)(const char*, struct stat*), stat)(p, b); }
int lstat(const char* p, struct stat* b) { NOTE(lstat); return NEXT(int (*)(const char*, struct stat*), lstat)(p, b); }
int fstat(int fd, struct stat* b) { NOTE(fstat); return NEXT(int (*)(int, struct stat*), fstat)(fd, b); }
int fstatat(int d, const char* p, struct stat* b, int f) {
    NOTE(fstatat);
    return NEXT(int (*)(int, const char*, struct stat*, int), fstatat)(d, p, b, f);
}
int statfs(const char* p, struct statfs* b) { NOTE(statfs); return NEXT(int (*)(const char*, struct statfs*), statfs)(p, b); }
int fstatfs(int fd, struct statfs* b) { NOTE(fstatfs); return NEXT(int (*)(int, struct statfs*), fstatfs)(fd, b); }
struct dirent* readdir(DIR* d) { NOTE(readdir); return NEXT(struct dirent* (*)(DIR*), readdir)(d); }
ssize_t read(int fd, void* b, size_t n) { NOTE(read); return NEXT(ssize_t (*)(int, void*, size_t), read)(fd, b, n); }
ssize_t pread(int fd, void* b, size_t n, off_t o) { NOTE(pread); return NEXT(ssize_t (*)(int, void*, size_t, off_t), pread)(fd, b, n, o); }
ssize_t __pread_chk(int fd, void* b, size_t n, off_t o, size_t l) {
    NOTE(__pread_chk);
    return NEXT(ssize_t (*)(int, void*, size_t, off_t, size_t), __pread_chk)(fd, b, n, o, l);
}
ssize_t preadv(int fd, const struct iovec* v, int n, off_t o) {
    NOTE(preadv);
    return NEXT(ssize_t (*)(int, const struct iovec*, int, off_t), preadv)(fd, v, n, o);
}
ssize_t preadv2(int fd, const struct iovec* v, int n, off_t o, int f) {
    NOTE(preadv2);
    return NEXT(ssize_t (*)(int, const struct iovec*, int, off_t, int), preadv2)(fd, v, n, o, f);
}
ssize_t pwrite(int fd, const void* b, size_t n, off_t o) {
    NOTE(pwrite);
    return NEXT(ssize_t (*)(int, const void*, size_t, off_t), pwrite)(fd, b, n, o);
}
ssize_t pwritev(int fd, const struct iovec* v, int n, off_t o) {
    NOTE(pwritev);
    return NEXT(ssize_t (*)(int, const struct iovec*, int, off_t), pwritev)(fd, v, n, o);
}
ssize_t pwritev2(int fd, const struct iovec* v, int n, off_t o, int f) {
    NOTE(pwritev2);
    return NEXT(ssize_t (*)(int, const struct iovec*, int, off_t, int), pwritev2)(fd, v, n, o, f);
}
int fcntl(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    void* arg = va_arg(ap, void*);
    va_end(ap);
    NOTE(fcntl);
    return NEXT(int (*)(int, int, ...), fcntl)(fd, cmd, arg);
}
off_t lseek(int fd, off_t o, int w) { NOTE(lseek); return NEXT(off_t (*)(int, off_t, int), lseek)(fd, o, w); }
void* mmap(void* a, size_t n, int p, int f, int fd, off_t o) {
    NOTE(mmap);
    return NEXT(void* (*)(void*, size_t, int, int, int, off_t), mmap)(a, n, p, f, fd, o);
}
FILE* fopen(const char* p, const char* m) { NOTE(fopen); return NEXT(FILE* (*)(const char*, const char*), fopen)(p, m); }
int fseeko(FILE* f, off_t o, int w) { NOTE(fseeko); return NEXT(int (*)(FILE*, off_t, int), fseeko)(f, o, w); }
int fsetpos(FILE* f, const fpos_t* p) { NOTE(fsetpos); return NEXT(int (*)(FILE*, const fpos_t*), fsetpos)(f, p); }
int sigaction(int s, const struct sigaction* a, struct sigaction* o) {
    NOTE(sigaction);
    return NEXT(int (*)(int, const struct sigaction*, struct sigaction*), sigaction)(s, a, o);
}
int nftw(const char* p, __nftw_func_t f, int d, int fl) { NOTE(nftw); return NEXT(int (*)(const char*, __nftw_func_t, int, int), nftw)(p, f, d, fl); }
int ftw(const char* p, __ftw_func_t f, int d) { NOTE(ftw); return NEXT(int (*)(const char*, __ftw_func_t, int), ftw)(p, f, d); }
FTS* fts_open(char* const* a, int o, int (*c)(const FTSENT**, const FTSENT**)) {
    NOTE(fts_open);
    return NEXT(FTS* (*)(char* const*, int, int (*)(const FTSENT**, const FTSENT**)), fts_open)(a, o, c);
}
FTSENT* fts_read(FTS* s) { NOTE(fts_read); return NEXT(FTSENT* (*)(FTS*), fts_read)(s); }
int fts_close(FTS* s) { NOTE(fts_close); return NEXT(int (*)(FTS*), fts_close)(s); }
void _exit(int status) {
    if (strcmp(g_want, "_exit") == 0)
        fputs(" entered", stdout);
    NEXT(void (*)(int), _exit)(status);
    abort();
}

extern int __sigaction(int, const struct sigaction*, struct sigaction*);
extern ssize_t __pread64_chk(int, void*, size_t, off64_t, size_t);
extern ssize_t __read_chk(int, void*, size_t, size_t);

static int visit64(const char* p, const struct stat64* s, int t, struct FTW* f) { (void)p, (void)s, (void)t, (void)f; return 0; }
static int visit64_ftw(const char* p, const struct stat64* s, int t) { (void)p, (void)s, (void)t; return 0; }

/* Calls the second name in the expression `call` and prints how often this program's X ran. */
#define SECOND(x, label, call)                   \
    do {                                         \
        g_seen = 0;                              \
        g_want = #x;                             \
        __typeof__(call) result_ = (call);       \
        (void)result_;                           \
        g_want = "";                             \
        printf("%s -> %s %d\n", label, #x, g_seen); \
    } while (0)

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: second_names DIR FILE\n");
        return 125;
    }
    const char* dir = argv[1];
    const char* file = argv[2];
    setvbuf(stdout, NULL, _IONBF, 0); /* printf's own first fstat is not this test's */
    struct stat64 st;
    struct statfs64 sf;
    char buf[16];
    struct iovec iov = {buf, sizeof(buf)};
    int fd = open(file, O_RDONLY);
    DIR* d = opendir(dir);
    if (fd < 0 || !d) {
        perror("second_names");
        return 1;
    }
    SECOND(stat, "stat64", stat64(file, &st));
    SECOND(lstat, "lstat64", lstat64(file, &st));
    SECOND(fstat, "fstat64", fstat64(fd, &st));
    SECOND(fstatat, "fstatat64", fstatat64(AT_FDCWD, file, &st, 0));
    SECOND(statfs, "statfs64", statfs64(file, &sf));
    SECOND(fstatfs, "fstatfs64", fstatfs64(fd, &sf));
    SECOND(readdir, "readdir64", readdir64(d));
    SECOND(pread, "pread64", pread64(fd, buf, sizeof(buf), 0));
    SECOND(__pread_chk, "__pread64_chk", __pread64_chk(fd, buf, sizeof(buf), 0, sizeof(buf)));
    /* Not second names, but natively libc's own read and pread behind them, as X is behind X64. */
    SECOND(read, "__read_chk", __read_chk(fd, buf, sizeof(buf), sizeof(buf)));
    SECOND(pread, "__pread_chk", __pread_chk(fd, buf, sizeof(buf), 0, sizeof(buf)));
    SECOND(preadv, "preadv64", preadv64(fd, &iov, 1, 0));
    SECOND(preadv2, "preadv64v2", preadv64v2(fd, &iov, 1, 0, 0));
    int null_fd = open("/dev/null", O_WRONLY);
    SECOND(pwrite, "pwrite64", pwrite64(null_fd, buf, sizeof(buf), 0));
    SECOND(pwritev, "pwritev64", pwritev64(null_fd, &iov, 1, 0));
    SECOND(pwritev2, "pwritev64v2", pwritev64v2(null_fd, &iov, 1, 0, 0));
    close(null_fd);
    SECOND(fcntl, "fcntl64", fcntl64(fd, F_GETFD));
    SECOND(lseek, "lseek64", lseek64(fd, 0, SEEK_SET));
    void* map = MAP_FAILED;
    SECOND(mmap, "mmap64", map = mmap64(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (map != MAP_FAILED)
        munmap(map, 4096);
    FILE* f = NULL;
    SECOND(fopen, "fopen64", f = fopen64(file, "r"));
    if (f) {
        fpos64_t pos;
        fgetpos64(f, &pos);
        SECOND(fseeko, "fseeko64", fseeko64(f, 0, SEEK_SET));
        SECOND(fsetpos, "fsetpos64", fsetpos64(f, &pos));
        fclose(f);
    }
    struct sigaction old;
    SECOND(sigaction, "__sigaction", __sigaction(SIGUSR1, NULL, &old));
    SECOND(nftw, "nftw64", nftw64(dir, visit64, 4, FTW_PHYS));
    SECOND(ftw, "ftw64", ftw64(dir, visit64_ftw, 4));
    char* roots[] = {(char*)dir, NULL};
    FTS* fts = NULL;
    SECOND(fts_open, "fts64_open", fts = (FTS*)fts64_open(roots, FTS_PHYSICAL | FTS_NOCHDIR, NULL));
    if (fts) {
        SECOND(fts_read, "fts64_read", fts64_read((FTS64*)fts));
        SECOND(fts_close, "fts64_close", fts64_close((FTS64*)fts));
    }
    closedir(d);
    close(fd);
    /* " entered" is printed by the _exit this program defines, if _Exit enters it. */
    printf("_Exit -> _exit:");
    g_want = "_exit";
    _Exit(0);
}
