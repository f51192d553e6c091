/* Two walks the review of the walkers found wrong, run natively and under the shim (walkers_test.sh):
 *   walk_regress oldglob PATTERN   glob@GLIBC_2.2.5 with the caller's own GLOB_ALTDIRFUNC and no
 *                                  gl_lstat, which that glob never calls (the override reaches
 *                                  programs linked with the old version too)
 *   walk_regress deepfts TREE      fts from "/" (which the shim walks itself), FTS_PHYSICAL |
 *                                  FTS_NOCHDIR, into TREE only: its entries, counted, where a deep
 *                                  tree makes the path buffer grow (and move) mid-directory
 *   walk_regress options ROOT      fts_open's fts_options for each way of walking ROOT (the shim's
 *                                  walker keeps no bit of its own there)
 *   walk_regress uninitglob PATTERN  glob into a glob_t the caller never initialised (valgrind judges)
 *   walk_regress childfd DIR NAME  from DIR, fts_children of root NAME while fchdir fails (this
 *                                  program's own fchdir, which the shim's walker calls, fails on
 *                                  demand): the descriptors left open after it, counted
 *   walk_regress inodes ROOT PREFIX  the walks that visit a directory once per inode: nftw without
 *                                  FTW_PHYS over ROOT (how many distinct PREFIXn directories it
 *                                  reached), and fts with FTS_LOGICAL from ROOT/PREFIX0 through
 *                                  subsystem/devices (as many PREFIXn directories, but for the
 *                                  one it started from, which is a cycle: FTS_DC) */
#define _GNU_SOURCE
#include <ctype.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <errno.h>
#include <unistd.h>
#include <ftw.h>
#include <stdlib.h>
#include <dirent.h>
#include <fts.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

__asm__(".symver glob_old, glob@GLIBC_2.2.5");
int glob_old(const char*, int, int (*)(const char*, int), glob_t*);

static void* open_dir(const char* p) { return opendir(p); }
static struct dirent* read_dir(void* d) { return readdir(d); }
static void close_dir(void* d) { closedir(d); }
static int stat_path(const char* p, struct stat* st) { return stat(p, st); }

static char g_seen[8192];
static const char* g_prefix;

/* Notes a PREFIXn directory; false for any other name. */
static int note(const char* name) {
    size_t len = strlen(g_prefix);
    if (strncmp(name, g_prefix, len) != 0 || !isdigit((unsigned char)name[len]))
        return 0;
    long n = strtol(name + len, NULL, 10);
    if (n >= 0 && n < (long)sizeof(g_seen))
        g_seen[n] = 1;
    return 1;
}

static int seen_count(void) {
    int count = 0;
    for (size_t i = 0; i < sizeof(g_seen); ++i) {
        count += g_seen[i];
        g_seen[i] = 0;
    }
    return count;
}

static int visit(const char* path, const struct stat* st, int type, struct FTW* ftw) {
    (void)st;
    if (type == FTW_D)
        note(path + ftw->base);
    return 0;
}

static int walk_inodes(const char* root, const char* prefix) {
    g_prefix = prefix;
    nftw(root, visit, 16, 0);
    printf("nftw: %d directories\n", seen_count());
    char start[4096];
    snprintf(start, sizeof(start), "%s/%s0", root, prefix);
    char* roots[] = {start, NULL};
    FTS* fts = fts_open(roots, FTS_LOGICAL, NULL);
    static const char* const kPath[] = {"subsystem", "devices"};
    int cycles = 0;
    for (FTSENT* e; fts && (e = fts_read(fts));) {
        if (e->fts_info == FTS_DP)
            continue;
        if (e->fts_level >= 1 && e->fts_level <= 2 && strcmp(e->fts_name, kPath[e->fts_level - 1]) != 0) {
            fts_set(fts, e, FTS_SKIP);
        } else if (e->fts_level == 3) {
            if (e->fts_info == FTS_D && note(e->fts_name))
                fts_set(fts, e, FTS_SKIP);
            else if (e->fts_info == FTS_DC)
                cycles += note(e->fts_name);
        }
    }
    if (fts)
        fts_close(fts);
    printf("fts FTS_LOGICAL: %d directories, %d cycles\n", seen_count(), cycles);
    return 0;
}

static int g_fail_fchdir;

/* Every fchdir of the process, the shim's walker's included (this program is linked with
 * -rdynamic): the next one's (the shim's, or libc's) unless told to fail. */
int fchdir(int fd) {
    if (g_fail_fchdir) {
        errno = EACCES;
        return -1;
    }
    int (*next)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fchdir");
    return next(fd);
}

static int open_descriptors(void) {
    int count = 0;
    for (int fd = 0; fd < 1024; ++fd)
        count += fcntl(fd, F_GETFD) != -1;
    return count;
}

int main(int argc, char** argv) {
    if (argc == 3 && strcmp(argv[1], "options") == 0) {
        static const int kWays[] = {FTS_PHYSICAL, FTS_LOGICAL, FTS_PHYSICAL | FTS_NOCHDIR, FTS_LOGICAL | FTS_NOSTAT,
                                    FTS_PHYSICAL | FTS_COMFOLLOW | FTS_XDEV};
        for (size_t i = 0; i < sizeof(kWays) / sizeof(kWays[0]); ++i) {
            char* roots[] = {argv[2], NULL};
            FTS* fts = fts_open(roots, kWays[i], NULL);
            printf("fts_open(%#x): fts_options %#x\n", kWays[i], fts ? fts->fts_options : -1);
            if (fts) {
                fts_read(fts);
                printf("  after fts_read: %#x\n", fts->fts_options);
                fts_close(fts);
            }
        }
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "uninitglob") == 0) {
        glob_t g; /* as a careless caller leaves it */
        int ret = glob(argv[2], 0, NULL, &g);
        printf("ret=%d\n", ret);
        if (ret == 0)
            globfree(&g);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "childfd") == 0) {
        if (chdir(argv[2]) != 0)
            return 2;
        char* roots[] = {argv[3], NULL};
        FTS* fts = fts_open(roots, FTS_PHYSICAL, NULL);
        FTSENT* root = fts ? fts_read(fts) : NULL;
        int before = open_descriptors();
        g_fail_fchdir = 1;
        FTSENT* children = root ? fts_children(fts, 0) : NULL;
        g_fail_fchdir = 0;
        printf("fts_children: %s; descriptors left open: %d\n", children ? "entries" : "none",
               open_descriptors() - before);
        if (fts)
            fts_close(fts);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "inodes") == 0)
        return walk_inodes(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "oldglob") == 0) {
        glob_t g;
        memset(&g, 0, sizeof(g));
        g.gl_opendir = open_dir;
        g.gl_readdir = read_dir;
        g.gl_closedir = close_dir;
        g.gl_stat = stat_path;
        int ret = glob_old(argv[2], GLOB_ALTDIRFUNC, NULL, &g);
        printf("ret=%d pathc=%zu\n", ret, g.gl_pathc);
        for (size_t i = 0; i < g.gl_pathc; ++i)
            printf("%s\n", g.gl_pathv[i]);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "deepfts") == 0) {
        char root[] = "/";
        char* roots[] = {root, NULL};
        FTS* fts = fts_open(roots, FTS_PHYSICAL | FTS_NOCHDIR, NULL);
        size_t tree = strlen(argv[2]);
        long entries = 0, unreadable = 0;
        for (FTSENT* e; fts && (e = fts_read(fts));) {
            if (strncmp(e->fts_path, argv[2], tree) == 0) {
                ++entries;
                unreadable += e->fts_info == FTS_NS;
            } else if (e->fts_level >= 1 && strncmp(argv[2], e->fts_path, e->fts_pathlen) != 0) {
                fts_set(fts, e, FTS_SKIP);
            }
        }
        printf("entries=%ld unreadable=%ld\n", entries, unreadable);
        if (fts)
            fts_close(fts);
        return 0;
    }
    fprintf(stderr, "usage: walk_regress oldglob PATTERN | deepfts TREE | options ROOT | uninitglob PATTERN | childfd DIR NAME | inodes ROOT PREFIX\n");
    return 2;
}
