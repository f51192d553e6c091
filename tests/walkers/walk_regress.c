/* Two walks the review of the walkers found wrong, run natively and under the shim (walkers_test.sh):
 *   walk_regress oldglob PATTERN   glob@GLIBC_2.2.5 with the caller's own GLOB_ALTDIRFUNC and no
 *                                  gl_lstat, which that glob never calls (the override reaches
 *                                  programs linked with the old version too)
 *   walk_regress deepfts TREE      fts from "/" (which the shim walks itself), FTS_PHYSICAL |
 *                                  FTS_NOCHDIR, into TREE only: its entries, counted, where a deep
 *                                  tree makes the path buffer grow (and move) mid-directory */
#define _GNU_SOURCE
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

int main(int argc, char** argv) {
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
    fprintf(stderr, "usage: walk_regress oldglob PATTERN | deepfts TREE\n");
    return 2;
}
