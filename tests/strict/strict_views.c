/* strict_views: what a program sees of a directory tree by stat and by listing, printed so that two
 * builds can be compared line by line (tests/strict/views_test.sh).
 *
 * Built twice from this file:
 *   strict_views_static   static; raw system calls (newfstatat, readlinkat, getdents64), as a static
 *                         binary or Go's runtime asks; no shim can see them
 *   strict_views_dynamic  dynamic, -DVIA_LIBC; libc's fstatat, readlink and readdir, which the
 *                         preloaded shim answers in-process
 *
 *   strict_views stat PATH...    one line per path: "PATH TYPE MODE[ -> TARGET]", or "PATH -ERRNO"
 *   strict_views list DIR        the names DIR lists, one per line, in the order given, without . and ..
 *   strict_views walk DIR DEPTH  stat of DIR and of everything below it, DEPTH levels deep, sorted
 * The size, inode and times are left out: a generated tree's files are not sysfs's. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static long stat_of(const char* path, struct stat* st) {
#ifdef VIA_LIBC
    return fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
#else
    return syscall(SYS_newfstatat, AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
#endif
}

static long link_of(const char* path, char* buf, size_t size) {
#ifdef VIA_LIBC
    ssize_t n = readlink(path, buf, size - 1);
#else
    long n = syscall(SYS_readlinkat, AT_FDCWD, path, buf, size - 1);
#endif
    buf[n > 0 ? n : 0] = '\0';
    return n < 0 ? -errno : n;
}

static void print_stat(const char* path) {
    struct stat st;
    long ret = stat_of(path, &st);
    if (ret < 0) {
        printf("%s -%s\n", path, strerrorname_np((int)-ret));
        return;
    }
    const char* type = S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : S_ISLNK(st.st_mode) ? "link" : "other";
    printf("%s %s %04o", path, type, (unsigned)(st.st_mode & 07777));
    if (S_ISLNK(st.st_mode)) {
        char target[4096];
        if (link_of(path, target, sizeof(target)) >= 0)
            printf(" -> %s", target);
    }
    printf("\n");
}

/* Calls visit(name) for each entry of `dir` but . and ..; -errno when it cannot be listed. */
static long list_dir(const char* dir, void (*visit)(const char* dir, const char* name, void* ctx), void* ctx) {
#ifdef VIA_LIBC
    DIR* d = opendir(dir);
    if (!d)
        return -errno;
    struct dirent* e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            visit(dir, e->d_name, ctx);
    closedir(d);
    return 0;
#else
    long fd = syscall(SYS_openat, AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    static char buf[32768];
    long n;
    while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
        for (long off = 0; off < n;) {
            unsigned short reclen = *(unsigned short*)(buf + off + 16);
            const char* name = buf + off + 19;
            if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0)
                visit(dir, name, ctx);
            off += reclen;
        }
    }
    syscall(SYS_close, fd);
    return n < 0 ? -errno : 0;
#endif
}

static void print_name(const char* dir, const char* name, void* ctx) {
    (void)dir;
    (void)ctx;
    printf("%s\n", name);
}

struct paths {
    char** items;
    size_t count, capacity;
};

static void add_path(struct paths* p, const char* path) {
    if (p->count == p->capacity) {
        p->capacity = p->capacity ? 2 * p->capacity : 256;
        p->items = realloc(p->items, p->capacity * sizeof(char*));
    }
    p->items[p->count++] = strdup(path);
}

static void collect(const char* dir, const char* name, void* ctx) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    add_path(ctx, path);
}

static int by_name(const void* a, const void* b) {
    return strcmp(*(char* const*)a, *(char* const*)b);
}

int main(int argc, char** argv) {
    if (argc >= 3 && strcmp(argv[1], "stat") == 0) {
        for (int i = 2; i < argc; ++i)
            print_stat(argv[i]);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "list") == 0) {
        long ret = list_dir(argv[2], print_name, NULL);
        if (ret < 0)
            printf("%s -%s\n", argv[2], strerrorname_np((int)-ret));
        return ret < 0;
    }
    if (argc == 4 && strcmp(argv[1], "walk") == 0) {
        struct paths all = {0};
        add_path(&all, argv[2]);
        size_t level_start = 0;
        for (int depth = 0; depth < atoi(argv[3]); ++depth) {
            size_t level_end = all.count;
            for (size_t i = level_start; i < level_end; ++i) {
                struct stat st;
                if (stat_of(all.items[i], &st) == 0 && S_ISDIR(st.st_mode))
                    list_dir(all.items[i], collect, &all);
            }
            level_start = level_end;
        }
        qsort(all.items, all.count, sizeof(char*), by_name);
        for (size_t i = 0; i < all.count; ++i) {
            print_stat(all.items[i]);
            free(all.items[i]);
        }
        free(all.items);
        return 0;
    }
    fprintf(stderr, "usage: strict_views stat PATH... | list DIR | walk DIR DEPTH\n");
    return 2;
}
