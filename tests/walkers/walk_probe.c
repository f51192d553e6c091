/* walk_probe: libc's directory walkers (glob, ftw, nftw, fts) over the CPU directories, one line per
 * result or callback, for walkers_test.sh to compare natively and on a virtual machine.
 *
 *   walk_probe transcript     every case below; run natively and on a machine equal to the host, the
 *                             two transcripts must be identical
 *   walk_probe glob PATTERN   the paths glob(3) gives, one a line
 *   walk_probe nftw ROOT      the paths nftw(3) reports (FTW_PHYS), one a line
 *   walk_probe fts ROOT       the paths fts_read(3) gives (FTS_PHYSICAL), one a line
 *
 * Where a listing of the views is read in full, its order is the views' (the machine's cpuV entries
 * after the host's other entries), not the kernel's: such walks are printed in a canonical order (a
 * directory, then its entries sorted, then its post-order report), and walks of directories the views
 * do not reorder are printed exactly as they come. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <ftw.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ASan's glob interceptor (GCC 12) takes the length of every gl_pathv entry, the offsets' null
 * pointers too, and crashes natively: a sanitizer build's transcript leaves the offset cases out,
 * on both sides of every comparison. */
#if defined(__SANITIZE_ADDRESS__)
#define PROBE_OFFSETS 0
#else
#define PROBE_OFFSETS 1
#endif

/* ---- the lines of one walk, printed as they come or in canonical order ----------------------- */

struct line {
    char* key;  /* the path's components, then "\x01" (pre-order) or "\x03" (post-order) */
    char* text;
};
static struct line* g_lines;
static size_t g_count, g_capacity;
static int g_canonical;

static void add_line(const char* path, int post, const char* text) {
    if (!g_canonical) {
        printf("  %s\n", text);
        return;
    }
    if (g_count == g_capacity) {
        g_capacity = g_capacity ? 2 * g_capacity : 256;
        g_lines = realloc(g_lines, g_capacity * sizeof(*g_lines));
    }
    /* Components separated by \x02, which sorts below every character of a name. */
    size_t n = strlen(path);
    char* key = malloc(n + 3);
    size_t k = 0;
    for (size_t i = 0; i < n; ++i)
        key[k++] = path[i] == '/' ? '\x02' : path[i];
    key[k++] = post ? '\x03' : '\x01';
    key[k] = '\0';
    g_lines[g_count].key = key;
    g_lines[g_count].text = strdup(text);
    ++g_count;
}

static int compare_lines(const void* a, const void* b) {
    return strcmp(((const struct line*)a)->key, ((const struct line*)b)->key);
}

static void flush_lines(void) {
    qsort(g_lines, g_count, sizeof(*g_lines), compare_lines);
    for (size_t i = 0; i < g_count; ++i) {
        printf("  %s\n", g_lines[i].text);
        free(g_lines[i].key);
        free(g_lines[i].text);
    }
    g_count = 0;
}

static const char* type_name(mode_t mode) {
    switch (mode & S_IFMT) {
        case S_IFDIR: return "dir";
        case S_IFREG: return "reg";
        case S_IFLNK: return "lnk";
        default: return "other";
    }
}

/* ---- glob ------------------------------------------------------------------------------------ */

static int errfunc_result;
static int glob_error(const char* path, int error) {
    printf("  errfunc %s %s\n", path, strerror(error));
    return errfunc_result;
}

static void* sentinel_opendir(const char* path) {
    (void)path;
    return NULL;
}

static void print_glob(const glob_t* g, int sorted) {
    if (sorted) {
        for (size_t i = 0; i < g->gl_offs + g->gl_pathc; ++i)
            printf("  [%zu] %s\n", i, g->gl_pathv[i] ? g->gl_pathv[i] : "(null)");
        return;
    }
    /* GLOB_NOSORT: the order is the listing's. */
    g_canonical = 1;
    for (size_t i = g->gl_offs; i < g->gl_offs + g->gl_pathc; ++i)
        add_line(g->gl_pathv[i], 0, g->gl_pathv[i]);
    flush_lines();
    g_canonical = 0;
}

static void probe_glob(const char* pattern, int flags, const char* name, int with_errfunc) {
    if (!PROBE_OFFSETS && (flags & GLOB_DOOFFS)) {
        printf("glob %s %s -> left out (ASan)\n", pattern, name);
        return;
    }
    glob_t g;
    memset(&g, 0, sizeof(g));
    g.gl_offs = (flags & GLOB_DOOFFS) ? 2 : 0;
    g.gl_opendir = sentinel_opendir; /* the caller's, untouched without GLOB_ALTDIRFUNC */
    int ret = glob(pattern, flags, with_errfunc ? glob_error : NULL, &g);
    printf("glob %s %s -> %d pathc=%zu offs=%zu flags=%#x hooks=%s\n", pattern, name, ret, g.gl_pathc,
           g.gl_offs, (unsigned)g.gl_flags, g.gl_opendir == sentinel_opendir ? "kept" : "changed");
    if (ret == 0 || (flags & GLOB_NOCHECK))
        print_glob(&g, !(flags & GLOB_NOSORT));
    if (ret == 0)
        globfree(&g);
}

static void globs(void) {
    static const char* patterns[] = {
        "/sys/devices/system/cpu/cpu*",
        "/sys/devices/system/cpu/cpu[0-9]*",
        "/sys/devices/system/cpu/cpu?",
        "/sys/devices/system/cpu/*",
        "/sys/devices/system/cpu/cpu*/topology/core_id",
        "/sys/devices/system/cpu/cpu*/cache/index*/level",
        "/sys/devices/system/cpu/cpu*/node*",
        "/sys/devices/system/cpu/cpu1",
        "/sys/devices/system/cpu/cpu1/*",
        "/sys/devices/system/cpu/cpu9/*",
        "/sys/devices/system/cpu/cpu*/",
        "/sys/devices/system/cpu/online/*",
        "/sys/devices/system/node/node*",
        "/sys/devices/system/node/node*/cpu*",
        "/sys/devices/system/*/cpu1",
        "/sys/devices/system/cpu/cpu{0,1,5}/online",
        "/sys/devices/system/cpu/.*",
        "/sys/devices/system/cpu/cpu\\1",
        "/nonexistent/cpu*",
        "cpu*",
        "./cpu*/topology",
    };
    static const struct { int flags; const char* name; } sets[] = {
        {0, "0"},
        {GLOB_MARK, "MARK"},
        {GLOB_ONLYDIR, "ONLYDIR"},
        {GLOB_NOCHECK, "NOCHECK"},
        {GLOB_NOSORT, "NOSORT"},
        {GLOB_BRACE | GLOB_MARK, "BRACE|MARK"},
        {GLOB_PERIOD | GLOB_NOESCAPE, "PERIOD|NOESCAPE"},
        {GLOB_DOOFFS | GLOB_NOMAGIC, "DOOFFS|NOMAGIC"},
        {GLOB_ERR, "ERR"},
    };
    for (size_t p = 0; p < sizeof(patterns) / sizeof(*patterns); ++p)
        for (size_t s = 0; s < sizeof(sets) / sizeof(*sets); ++s)
            probe_glob(patterns[p], sets[s].flags, sets[s].name, 1);
    /* errfunc asking to stop, and GLOB_APPEND onto an earlier result with offsets. */
    errfunc_result = 1;
    probe_glob("/sys/devices/system/cpu/cpu1/*", 0, "errfunc-stops", 1);
    errfunc_result = 0;
    if (!PROBE_OFFSETS)
        return;
    glob_t g;
    memset(&g, 0, sizeof(g));
    g.gl_offs = 1;
    int a = glob("/sys/devices/system/node/node*", GLOB_DOOFFS, NULL, &g);
    int b = glob("/sys/devices/system/cpu/cpu[0-9]", GLOB_DOOFFS | GLOB_APPEND, NULL, &g);
    int c = glob("~/../sys/devices/system/cpu/cpu0", GLOB_DOOFFS | GLOB_APPEND | GLOB_TILDE_CHECK, NULL, &g);
    printf("glob append -> %d %d %d pathc=%zu flags=%#x\n", a, b, c, g.gl_pathc, (unsigned)g.gl_flags);
    print_glob(&g, 1);
    globfree(&g);
}

/* ---- ftw and nftw ---------------------------------------------------------------------------- */

static int g_action; /* the callback's policy for FTW_ACTIONRETVAL walks */
static int g_calls;
static int g_chdir;
static const char* g_root;

static const char* flag_name(int flag) {
    switch (flag) {
        case FTW_F: return "F";
        case FTW_D: return "D";
        case FTW_DNR: return "DNR";
        case FTW_NS: return "NS";
        case FTW_SL: return "SL";
        case FTW_DP: return "DP";
        case FTW_SLN: return "SLN";
        default: return "?";
    }
}

/* Names whose subtree the policy skips: links out of the CPU tree, big or slow parts, and the cpuV and
 * nodeN links between the CPU and node directories except as entries of their own roots (a walk that
 * follows links reaches a directory once, by the first path the listing order gives). */
static int skipped_name(const char* name, int level) {
    static const char* names[] = {"subsystem", "driver", "firmware_node", "power", "cpuidle", "hotplug", NULL};
    for (int i = 0; names[i]; ++i)
        if (strcmp(name, names[i]) == 0)
            return 1;
    if (strncmp(name, "memory", 6) == 0)
        return 1;
    int numbered = (strncmp(name, "cpu", 3) == 0 && name[3] >= '0' && name[3] <= '9') ||
                   (strncmp(name, "node", 4) == 0 && name[4] >= '0' && name[4] <= '9');
    int own_root = level == 1 && g_root &&
                   (strcmp(g_root, "/sys/devices/system/cpu") == 0 || strcmp(g_root, "/sys/devices/system/node") == 0);
    return numbered && level >= 1 && !own_root;
}

static int on_nftw(const char* path, const struct stat* st, int flag, struct FTW* f) {
    char text[8192], cwd[4096] = "";
    const char* name = path + f->base;
    int ret = 0;
    ++g_calls;
    if (g_chdir && !getcwd(cwd, sizeof(cwd)))
        strcpy(cwd, "?");
    switch (g_action) {
        case 1: /* skip the named subtrees */
            if (flag == FTW_D && skipped_name(name, f->level))
                ret = FTW_SKIP_SUBTREE;
            break;
        case 2: /* stop at the tenth object */
            if (g_calls == 10)
                ret = FTW_STOP;
            break;
        case 3: /* skip the rest of a directory at "size" and "level", skip named subtrees */
            if (strcmp(name, "size") == 0 || strcmp(name, "level") == 0)
                ret = FTW_SKIP_SIBLINGS;
            else if (flag == FTW_D && skipped_name(name, f->level))
                ret = FTW_SKIP_SUBTREE;
            break;
        case 4: /* a plain nonzero value ends the walk with it */
            if (g_calls == 5)
                ret = 42;
            break;
    }
    snprintf(text, sizeof(text), "%s %s base=%d level=%d %s ino=%lu%s%s -> %d", flag_name(flag), path, f->base,
             f->level, flag == FTW_NS ? "-" : type_name(st->st_mode), flag == FTW_NS ? 0ul : (unsigned long)st->st_ino,
             g_chdir ? " cwd=" : "", cwd, ret);
    add_line(path, flag == FTW_DP, text);
    return ret;
}

static int on_ftw(const char* path, const struct stat* st, int flag) {
    char text[4200];
    snprintf(text, sizeof(text), "%s %s %s", flag_name(flag), path, flag == FTW_NS ? "-" : type_name(st->st_mode));
    add_line(path, 0, text);
    return 0;
}

static void probe_nftw(const char* root, int flags, const char* name, int fds, int action, int canonical) {
    char before[4096] = "", after[4096] = "";
    if (!getcwd(before, sizeof(before)))
        strcpy(before, "?");
    printf("nftw %s %s fds=%d action=%d\n", root, name, fds, action);
    g_action = action;
    g_root = root;
    g_calls = 0;
    g_chdir = (flags & FTW_CHDIR) != 0;
    g_canonical = canonical;
    errno = 0;
    int ret = nftw(root, on_nftw, fds, flags);
    int error = errno;
    if (canonical)
        flush_lines();
    g_canonical = 0;
    if (!getcwd(after, sizeof(after)))
        strcpy(after, "?");
    printf("  -> %d%s%s calls=%d cwd %s\n", ret, ret == -1 ? " " : "", ret == -1 ? strerror(error) : "", g_calls,
           strcmp(before, after) == 0 ? "kept" : after);
}

static void walks(void) {
    /* Whole listings of the views, in canonical order. */
    probe_nftw("/sys/devices/system/cpu", FTW_PHYS, "PHYS", 20, 0, 1);
    probe_nftw("/sys/devices/system/cpu/", FTW_PHYS | FTW_DEPTH, "PHYS|DEPTH", 3, 0, 1);
    probe_nftw("/sys/devices/system/cpu", FTW_PHYS | FTW_CHDIR, "PHYS|CHDIR", 1, 0, 1);
    /* (A walk that follows links meets node0 and subsystem once per cpuV, and reports them by the
     * first path only: which one depends on the listing's order, so such walks start lower down.) */
    probe_nftw("/sys/devices/system/cpu", FTW_ACTIONRETVAL | FTW_PHYS, "ACTIONRETVAL|PHYS", 5, 1, 1);
    probe_nftw("/sys/devices/system/cpu", FTW_ACTIONRETVAL | FTW_PHYS | FTW_MOUNT | FTW_DEPTH,
               "ACTIONRETVAL|PHYS|MOUNT|DEPTH", 2, 3, 1);
    probe_nftw("/sys/devices/system/node", FTW_PHYS, "PHYS", 10, 0, 1);
    probe_nftw("/sys/devices/system/node", FTW_ACTIONRETVAL, "ACTIONRETVAL", 4, 1, 1);
    probe_nftw("/sys/devices/system", FTW_PHYS | FTW_ACTIONRETVAL, "PHYS|ACTIONRETVAL", 8, 1, 1);
    probe_nftw("/sys/devices/system/cpu/cpu1", FTW_ACTIONRETVAL | FTW_CHDIR, "ACTIONRETVAL|CHDIR", 2, 1, 1);
    /* Directories the views do not reorder: exactly as they come. */
    probe_nftw("/sys/devices/system/cpu/cpu0/cache", 0, "0", 20, 0, 0);
    probe_nftw("/sys/devices/system/cpu/cpu1/cache/", FTW_DEPTH | FTW_CHDIR, "DEPTH|CHDIR", 1, 0, 0);
    probe_nftw("/sys/devices/system/cpu/cpu0/cache", FTW_ACTIONRETVAL, "ACTIONRETVAL", 2, 2, 0);
    probe_nftw("/sys/devices/system/cpu/cpu0/cache", FTW_ACTIONRETVAL | FTW_DEPTH, "ACTIONRETVAL|DEPTH", 2, 3, 0);
    probe_nftw("/sys/devices/system/cpu/cpu0/topology", FTW_CHDIR, "CHDIR", 3, 4, 0);
    probe_nftw("/sys/fs", FTW_PHYS | FTW_MOUNT, "PHYS|MOUNT", 4, 0, 0);
    probe_nftw("/sys/devices/system/cpu/cpu0/cache/index0/level", 0, "0", 1, 0, 0);
    probe_nftw("/sys/devices/system/cpu/cpu0/subsystem", FTW_ACTIONRETVAL, "ACTIONRETVAL", 1, 1, 1);
    probe_nftw("/sys/devices/system/cpu/cpu0/subsystem", FTW_PHYS, "PHYS", 1, 0, 0);
    probe_nftw("/sys/devices/system/cpu/cpu1/topology", FTW_PHYS, "PHYS", 1, 0, 0);
    probe_nftw("/sys/devices/system/cpu/cpu9", 0, "0", 1, 0, 0);
    probe_nftw("", 0, "0", 1, 0, 0);
    probe_nftw("/sys/devices/system/cpu", 0x100, "unknown-flag", 1, 0, 0);
    probe_nftw("cpu1/cache", FTW_PHYS, "relative PHYS", 1, 0, 0);
    probe_nftw("cpu0/cache/../topology", FTW_PHYS | FTW_CHDIR, "relative PHYS|CHDIR", 1, 0, 0);
    /* ftw */
    printf("ftw /sys/devices/system/cpu/cpu0/cache\n");
    int ret = ftw("/sys/devices/system/cpu/cpu0/cache", on_ftw, 1);
    printf("  -> %d\n", ret);
    printf("ftw /sys/devices/system/cpu/cpu1/topology\n");
    ret = ftw("/sys/devices/system/cpu/cpu1/topology", on_ftw, 4);
    printf("  -> %d\n", ret);
}

/* ---- fts ------------------------------------------------------------------------------------- */

static const char* info_name(int info) {
    static const char* names[] = {"0", "D", "DC", "DEFAULT", "DNR", "DOT", "DP", "ERR", "F", "INIT", "NS", "NSOK",
                                  "SL", "SLNONE", "W"};
    return info >= 0 && info < (int)(sizeof(names) / sizeof(*names)) ? names[info] : "?";
}

/* fts(3) fills fts_statp for these kinds only (FTS_NOSTAT leaves it unset). */
static int stat_known(const FTSENT* e, int options) {
    if (options & FTS_NOSTAT)
        return 0;
    switch (e->fts_info) {
        case FTS_D: case FTS_DC: case FTS_DEFAULT: case FTS_DP: case FTS_F: case FTS_SL: case FTS_SLNONE:
            return e->fts_statp != NULL;
        default:
            return 0;
    }
}

static int by_name(const FTSENT** a, const FTSENT** b) {
    return strcmp((*a)->fts_name, (*b)->fts_name);
}

static void probe_fts(const char* root, int options, const char* name, int sorted, int action) {
    char* roots[] = {(char*)root, NULL};
    g_root = root;
    printf("fts %s %s sorted=%d action=%d\n", root, name, sorted, action);
    g_canonical = !sorted;
    errno = 0;
    FTS* fts = fts_open(roots, options, sorted ? by_name : NULL);
    if (!fts) {
        printf("  fts_open -> %s\n", strerror(errno));
        g_canonical = 0;
        return;
    }
    FTSENT* e;
    int count = 0;
    while ((e = fts_read(fts))) {
        char text[8192], children[4096] = "";
        ++count;
        if (action == 1 && e->fts_info == FTS_D && skipped_name(e->fts_name, e->fts_level))
            fts_set(fts, e, FTS_SKIP);
        if (action == 2 && e->fts_info == FTS_D && e->fts_level == 1) {
            /* fts_children: the names of the next level, before they are read */
            size_t used = 0;
            for (FTSENT* c = fts_children(fts, FTS_NAMEONLY); c && used + 300 < sizeof(children); c = c->fts_link)
                used += (size_t)snprintf(children + used, sizeof(children) - used, " %s", c->fts_name);
        }
        if (action == 3 && e->fts_info == FTS_SL && e->fts_level == 1 && strncmp(e->fts_name, "node", 4) == 0)
            fts_set(fts, e, FTS_FOLLOW);
        snprintf(text, sizeof(text), "%s %s acc=%s name=%s level=%d len=%d/%d err=%d %s%s%s",
                 info_name(e->fts_info), e->fts_path, e->fts_accpath, e->fts_name, (int)e->fts_level,
                 (int)e->fts_pathlen, (int)e->fts_namelen, e->fts_errno,
                 stat_known(e, options) ? type_name(e->fts_statp->st_mode) : "-",
                 children[0] ? " children:" : "", children);
        add_line(e->fts_path, e->fts_info == FTS_DP, text);
        if (action == 4 && count == 12)
            break;
    }
    int error = errno;
    if (g_canonical)
        flush_lines();
    g_canonical = 0;
    printf("  -> %s count=%d close=%d\n", e ? "stopped" : error ? strerror(error) : "end", count, fts_close(fts));
}

static void ftses(void) {
    probe_fts("/sys/devices/system/cpu", FTS_PHYSICAL, "PHYSICAL", 0, 0);
    probe_fts("/sys/devices/system/cpu", FTS_PHYSICAL | FTS_NOCHDIR, "PHYSICAL|NOCHDIR", 1, 0);
    probe_fts("/sys/devices/system/cpu", FTS_PHYSICAL | FTS_SEEDOT | FTS_NOSTAT, "PHYSICAL|SEEDOT|NOSTAT", 1, 2);
    probe_fts("/sys/devices/system/cpu", FTS_LOGICAL, "LOGICAL", 1, 1);
    probe_fts("/sys/devices/system/cpu", FTS_PHYSICAL | FTS_XDEV, "PHYSICAL|XDEV", 1, 4);
    probe_fts("/sys/devices/system/node", FTS_PHYSICAL, "PHYSICAL", 1, 1);
    probe_fts("/sys/devices/system/cpu/cpu1", FTS_PHYSICAL | FTS_COMFOLLOW, "PHYSICAL|COMFOLLOW", 1, 3);
    probe_fts("/sys/devices/system/cpu/cpu9", FTS_PHYSICAL, "PHYSICAL", 1, 0);
    probe_fts("/sys/devices/system/cpu/cpu0/cache", FTS_PHYSICAL, "PHYSICAL", 0, 0);
    probe_fts("cpu1", FTS_LOGICAL, "relative LOGICAL", 1, 1);
}

/* ---- the command line -------------------------------------------------------------------- */

static int list_nftw(const char* path, const struct stat* st, int flag, struct FTW* f) {
    (void)st;
    (void)flag;
    (void)f;
    printf("%s\n", path);
    return 0;
}

int main(int argc, char** argv) {
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    if (argc == 2 && strcmp(argv[1], "transcript") == 0) {
        /* The relative cases run in the CPU directory. */
        if (chdir("/sys/devices/system/cpu") != 0)
            return 1;
        globs();
        walks();
        ftses();
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "glob") == 0) {
        glob_t g;
        int ret = glob(argv[2], 0, NULL, &g);
        if (ret != 0)
            return printf("glob: %d\n", ret), 1;
        for (size_t i = 0; i < g.gl_pathc; ++i)
            printf("%s\n", g.gl_pathv[i]);
        globfree(&g);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "nftw") == 0)
        return nftw(argv[2], list_nftw, 8, FTW_PHYS) == 0 ? 0 : 1;
    if (argc == 3 && strcmp(argv[1], "fts") == 0) {
        char* roots[] = {argv[2], NULL};
        FTS* fts = fts_open(roots, FTS_PHYSICAL, NULL);
        if (!fts)
            return 1;
        for (FTSENT* e; (e = fts_read(fts));)
            if (e->fts_info != FTS_DP)
                printf("%s\n", e->fts_path);
        return fts_close(fts) == 0 ? 0 : 1;
    }
    fprintf(stderr, "usage: walk_probe transcript | glob PATTERN | nftw ROOT | fts ROOT\n");
    return 125;
}
