/* libc's directory walkers, glob and [n]ftw, for the virtual CPU directories (issue 14).
 *
 * glibc's glob, ftw and nftw read directories with libc-internal opendir, readdir and stat calls that
 * no override sees, so on a virtual machine they would list the host's cpuN entries.
 *
 * - glob, glob64: glob(3)'s own hook. The real glob runs with GLOB_ALTDIRFUNC and the shim's opendir,
 *   readdir, closedir, stat and lstat (shim_fs.cpp), which are the host's everywhere but in the views;
 *   the caller's glob_t is given back as the real glob leaves it (no GLOB_ALTDIRFUNC in gl_flags, the
 *   hook members as they were). A caller that passes GLOB_ALTDIRFUNC itself reads directories its own
 *   way: unchanged.
 * - ftw, ftw64, nftw, nftw64: a walk whose start can reach a directory of the views (shim_walk.h says
 *   which) is walked here, through the shim's calls, with glibc's order of entries and callbacks, its
 *   descriptor limit and its errors; every other walk is glibc's own.
 *
 * fts_* is shim_fts.cpp's. With no machine configured every one of them is glibc's, unchanged. */
/* _FILE_OFFSET_BITS=64 would rename glob and nftw to their 64-bit names; this file defines both. */
#undef _FILE_OFFSET_BITS

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libos/libos_scratch.h"
#include "libos/libos_vfs.h"
#include "shim.h"
#include "shim_walk.h"

namespace {

/* The libc functions behind the overrides, looked up when first needed (shim::real). */
using GlobFn = int (*)(const char*, int, int (*)(const char*, int), glob_t*);
using NftwFn = int (*)(const char*, __nftw_func_t, int, int);
using FtwFn = int (*)(const char*, __ftw_func_t, int);
constinit GlobFn g_real_glob = nullptr;
constinit NftwFn g_real_nftw = nullptr;
constinit FtwFn g_real_ftw = nullptr;

/* ---- glob ---------------------------------------------------------------------------------- */

/* The hooks of glob(3) with GLOB_ALTDIRFUNC: the shim's own entry points. */
void* glob_opendir(const char* path) {
    return opendir(path);
}
struct dirent* glob_readdir(void* dir) {
    return readdir(static_cast<DIR*>(dir));
}
void glob_closedir(void* dir) {
    closedir(static_cast<DIR*>(dir));
}
int glob_stat(const char* path, struct stat* st) {
    return stat(path, st);
}
int glob_lstat(const char* path, struct stat* st) {
    return lstat(path, st);
}

/* ---- nftw ---------------------------------------------------------------------------------- */

/* An open directory of the walk. When the walk has as many open as it may, the oldest one's
 * remaining names are read into `rest` ("a\0b\0\0") and its stream closed (nftw's descriptor
 * limit, as glibc keeps it). */
struct Level {
    DIR* stream;
    int fd;
    char* rest;
};

struct Walk {
    Level** open; /* a ring of `slots` open directories */
    size_t slots;
    size_t next;
    char* path; /* the current object's path, as the callback gets it */
    size_t capacity;
    struct FTW ftw;
    int flags;
    bool is_nftw;
    __nftw_func_t nftw_func;
    __ftw_func_t ftw_func;
    dev_t dev;   /* the start's device, for FTW_MOUNT */
    void* known; /* the directories seen (tsearch), when links are followed */
};

/* ftw's callback knows fewer kinds than nftw's: links are files or unknown, FTW_DP is FTW_D. */
int report(Walk* w, const struct stat* st, int flag) {
    if (w->is_nftw)
        return w->nftw_func(w->path, st, flag, &w->ftw);
    switch (flag) {
        case FTW_SL:
            flag = FTW_F;
            break;
        case FTW_DP:
            flag = FTW_D;
            break;
        case FTW_SLN:
            flag = FTW_NS;
            break;
        default:
            break;
    }
    return w->ftw_func(w->path, st, flag);
}

struct Known {
    dev_t dev;
    ino_t ino;
};

int compare_known(const void* a, const void* b) {
    const auto* x = static_cast<const Known*>(a);
    const auto* y = static_cast<const Known*>(b);
    if (x->ino != y->ino)
        return x->ino < y->ino ? -1 : 1;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    return 0;
}

bool seen(Walk* w, const struct stat* st) {
    Known key{st->st_dev, st->st_ino};
    return tfind(&key, &w->known, compare_known) != nullptr;
}

/* 0, or -1 with errno set (no memory). */
int remember(Walk* w, const struct stat* st) {
    auto* k = static_cast<Known*>(malloc(sizeof(Known)));
    if (!k)
        return -1;
    k->dev = st->st_dev;
    k->ino = st->st_ino;
    return tsearch(k, &w->known, compare_known) ? 0 : -1;
}

bool grow_path(Walk* w, size_t need) {
    if (need <= w->capacity)
        return true;
    auto* bigger = static_cast<char*>(realloc(w->path, need));
    if (!bigger)
        return false;
    w->path = bigger;
    w->capacity = need;
    return true;
}

/* Reads what is left of `level`'s stream into its `rest` list and closes the stream. */
int drain(Level* level) {
    size_t capacity = 1024, used = 0;
    auto* names = static_cast<char*>(malloc(capacity));
    if (!names)
        return -1;
    while (struct dirent* e = readdir(level->stream)) {
        size_t length = strlen(e->d_name);
        if (used + length + 2 >= capacity) {
            capacity += length * 2 > 1024 ? length * 2 : 1024;
            auto* bigger = static_cast<char*>(realloc(names, capacity));
            if (!bigger) {
                int saved = errno;
                free(names);
                errno = saved;
                return -1;
            }
            names = bigger;
        }
        memcpy(names + used, e->d_name, length + 1);
        used += length + 1;
    }
    names[used++] = '\0';
    level->rest = names;
    closedir(level->stream);
    level->stream = nullptr;
    level->fd = -1;
    return 0;
}

/* Opens the directory at w->path as `level`, relative to its parent's descriptor while the parent is
 * open. 0, or -1 with errno. */
int open_level(Walk* w, const Level* parent, Level* level) {
    if (Level* oldest = w->open[w->next]) {
        if (drain(oldest) != 0)
            return -1;
        w->open[w->next] = nullptr;
    }
    level->stream = nullptr;
    if (parent && parent->fd != -1) {
        int fd = openat(parent->fd, w->path + w->ftw.base, O_RDONLY | O_DIRECTORY | O_NDELAY);
        if (fd != -1 && !(level->stream = fdopendir(fd)))
            close(fd);
    } else {
        const char* name = w->path;
        if (w->flags & FTW_CHDIR)
            name = w->path[w->ftw.base] ? w->path + w->ftw.base : ".";
        level->stream = opendir(name);
    }
    if (!level->stream)
        return -1;
    level->fd = dirfd(level->stream);
    level->rest = nullptr;
    w->open[w->next] = level;
    w->next = (w->next + 1) % w->slots;
    return 0;
}

/* Forgets `level` in the ring of open directories (it was the last one opened). */
void close_level(Walk* w, Level* level) {
    int saved = errno;
    closedir(level->stream);
    level->stream = nullptr;
    level->fd = -1;
    errno = saved;
    w->next = (w->next == 0 ? w->slots : w->next) - 1;
    w->open[w->next] = nullptr;
}

int walk_dir(Walk* w, const struct stat* st, Level* parent);

/* One entry of a directory: stat it, then report it or walk it. */
int walk_entry(Walk* w, Level* dir, const char* name, size_t length) {
    if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
        return 0;
    const size_t need = w->ftw.base + length + 2;
    if (w->capacity < need && !grow_path(w, 2 * need))
        return -1;
    memcpy(w->path + w->ftw.base, name, length + 1);

    const bool physical = w->flags & FTW_PHYS;
    const char* at = (w->flags & FTW_CHDIR) ? name : w->path;
    struct stat st;
    int status;
    if (dir->fd != -1)
        status = fstatat(dir->fd, name, &st, physical ? AT_SYMLINK_NOFOLLOW : 0);
    else
        status = physical ? lstat(at, &st) : stat(at, &st);

    int result = 0, flag = FTW_F;
    if (status < 0) {
        if (errno != EACCES && errno != ENOENT) {
            result = -1;
        } else if (physical) {
            flag = FTW_NS;
        } else {
            /* A link whose target is missing: the link's own status. */
            status = dir->fd != -1 ? fstatat(dir->fd, name, &st, AT_SYMLINK_NOFOLLOW) : lstat(at, &st);
            flag = status == 0 && S_ISLNK(st.st_mode) ? FTW_SLN : FTW_NS;
        }
    } else if (S_ISDIR(st.st_mode)) {
        flag = FTW_D;
    } else if (S_ISLNK(st.st_mode)) {
        flag = FTW_SL;
    }

    if (result == 0 && (flag == FTW_NS || !(w->flags & FTW_MOUNT) || st.st_dev == w->dev)) {
        if (flag == FTW_D) {
            if (physical || (!seen(w, &st) && (result = remember(w, &st)) == 0))
                result = walk_dir(w, &st, dir);
        } else {
            result = report(w, &st, flag);
        }
    }
    if ((w->flags & FTW_ACTIONRETVAL) && result == FTW_SKIP_SUBTREE)
        result = 0;
    return result;
}

/* The directory at w->path, whose status is `st`, entered from `parent` (null for the start). */
int walk_dir(Walk* w, const struct stat* st, Level* parent) {
    Level level;
    const int previous_base = w->ftw.base;
    int result = open_level(w, parent, &level);
    if (result != 0) {
        if (errno == EACCES)
            result = report(w, st, FTW_DNR);
        return result;
    }
    if (!(w->flags & FTW_DEPTH)) {
        result = report(w, st, FTW_D);
        if (result != 0) {
            close_level(w, &level);
            return result;
        }
    }
    if ((w->flags & FTW_CHDIR) && fchdir(dirfd(level.stream)) < 0) {
        close_level(w, &level);
        return -1;
    }

    ++w->ftw.level;
    char* end = strchr(w->path, '\0');
    if (end[-1] != '/')
        *end++ = '/';
    w->ftw.base = static_cast<int>(end - w->path);

    while (level.stream) {
        struct dirent* e = readdir(level.stream);
        if (!e)
            break;
        result = walk_entry(w, &level, e->d_name, strlen(e->d_name));
        if (result != 0)
            break;
    }
    if (level.stream) {
        close_level(w, &level);
    } else {
        /* A deeper level took this one's descriptor: the rest of its names were kept. */
        for (const char* name = level.rest; result == 0 && *name; name += strlen(name) + 1)
            result = walk_entry(w, &level, name, strlen(name));
        int saved = errno;
        free(level.rest);
        errno = saved;
    }
    if ((w->flags & FTW_ACTIONRETVAL) && result == FTW_SKIP_SIBLINGS)
        result = 0;

    w->path[w->ftw.base - 1] = '\0';
    --w->ftw.level;
    w->ftw.base = previous_base;

    if (result == 0 && (w->flags & FTW_DEPTH))
        result = report(w, st, FTW_DP);

    const bool go_on = result == 0 || ((w->flags & FTW_ACTIONRETVAL) && result != -1 && result != FTW_STOP);
    if (parent && (w->flags & FTW_CHDIR) && go_on) {
        /* Back to the parent: its descriptor while it is open, else by name. */
        if (!parent->stream || fchdir(dirfd(parent->stream)) != 0) {
            if (chdir(w->ftw.base == 1 ? "/" : "..") < 0)
                result = -1;
        }
    }
    return result;
}

int walk(const char* start, bool is_nftw, __nftw_func_t nftw_func, __ftw_func_t ftw_func, int descriptors,
         int flags) {
    if (start[0] == '\0') {
        errno = ENOENT;
        return -1;
    }
    Walk w{};
    w.slots = descriptors < 1 ? 1 : static_cast<size_t>(descriptors);
    w.flags = flags;
    w.is_nftw = is_nftw;
    w.nftw_func = nftw_func;
    w.ftw_func = ftw_func;
    const size_t length = strlen(start);
    w.capacity = 2 * length > PATH_MAX ? 2 * length : PATH_MAX;
    w.open = static_cast<Level**>(calloc(w.slots, sizeof(Level*)));
    w.path = static_cast<char*>(malloc(w.capacity));
    if (!w.open || !w.path) {
        free(w.open);
        free(w.path);
        errno = ENOMEM;
        return -1;
    }
    memcpy(w.path, start, length + 1);
    char* end = w.path + length;
    while (end > w.path + 1 && end[-1] == '/')
        --end;
    *end = '\0';
    while (end > w.path && end[-1] != '/')
        --end;
    w.ftw.base = static_cast<int>(end - w.path);
    w.ftw.level = 0;

    int result = 0, cwd_fd = -1;
    char* cwd = nullptr;
    if (flags & FTW_CHDIR) {
        /* The way back: a descriptor of the current directory, or its name when it cannot be read. */
        cwd_fd = open(".", O_RDONLY | O_DIRECTORY);
        if (cwd_fd == -1) {
            if (errno == EACCES)
                cwd = getcwd(nullptr, 0);
            if (!cwd)
                goto out;
        } else if (w.slots > 1) {
            --w.slots;
        }
        if (w.ftw.base == 1) {
            result = chdir("/");
        } else if (w.ftw.base > 0) {
            char slash = w.path[w.ftw.base - 1];
            w.path[w.ftw.base - 1] = '\0';
            result = chdir(w.path);
            w.path[w.ftw.base - 1] = slash;
        }
    }
    if (result == 0) {
        const char* name = w.path;
        if (flags & FTW_CHDIR)
            name = w.path[w.ftw.base] ? w.path + w.ftw.base : ".";
        struct stat st;
        if (((flags & FTW_PHYS) ? lstat(name, &st) : stat(name, &st)) < 0) {
            if (!(flags & FTW_PHYS) && errno == ENOENT && lstat(name, &st) == 0 && S_ISLNK(st.st_mode))
                result = report(&w, &st, FTW_SLN);
            else
                result = -1;
        } else if (S_ISDIR(st.st_mode)) {
            w.dev = st.st_dev;
            if (!(flags & FTW_PHYS))
                result = remember(&w, &st);
            if (result == 0)
                result = walk_dir(&w, &st, nullptr);
        } else {
            result = report(&w, &st, S_ISLNK(st.st_mode) ? FTW_SL : FTW_F);
        }
        if ((flags & FTW_ACTIONRETVAL) && (result == FTW_SKIP_SUBTREE || result == FTW_SKIP_SIBLINGS))
            result = 0;
    }
    if (cwd_fd != -1) {
        int saved = errno;
        fchdir(cwd_fd);
        close(cwd_fd);
        errno = saved;
    } else if (cwd) {
        int saved = errno;
        if (chdir(cwd) != 0) {
            /* nothing more to do: glibc ignores it too */
        }
        free(cwd);
        errno = saved;
    }
out:
    int saved = errno;
    tdestroy(w.known, free);
    free(w.open);
    free(w.path);
    errno = saved;
    return result;
}

}  // namespace

namespace shim {

namespace {

/* `path` made absolute (against the current directory, the views' own when it is in them) with ".",
 * ".." and repeated slashes taken out by their spelling alone. */
/* `joined`: PATH_MAX bytes of the caller's, for the path joined to the current directory. */
bool lexical_absolute(const char* path, char* joined, char* out, size_t size) {
    if (path[0] == '/') {
        if (strlen(path) >= PATH_MAX)
            return false;
        strcpy(joined, path);
    } else if (!libos::vfs_absolute(path, joined)) {
        if (!getcwd(joined, PATH_MAX))
            return false;
        size_t used = strlen(joined);
        if (used + 1 + strlen(path) >= PATH_MAX)
            return false;
        joined[used] = '/';
        strcpy(joined + used + 1, path);
    }
    size_t used = 0;
    for (const char* p = joined; *p;) {
        while (*p == '/')
            ++p;
        const char* end = strchrnul(p, '/');
        size_t length = static_cast<size_t>(end - p);
        if (length == 0 || (length == 1 && p[0] == '.')) {
            /* nothing */
        } else if (length == 2 && p[0] == '.' && p[1] == '.') {
            while (used > 0 && out[--used] != '/') {
            }
        } else {
            if (used + 1 + length + 1 > size)
                return false;
            out[used++] = '/';
            memcpy(out + used, p, length);
            used += length;
        }
        p = end;
    }
    if (used == 0)
        out[used++] = '/';
    out[used] = '\0';
    return true;
}

/* Is `inner` equal to `outer` or inside it? */
bool within(const char* inner, const char* outer) {
    size_t length = strlen(outer);
    return strncmp(inner, outer, length) == 0 && (inner[length] == '\0' || inner[length] == '/');
}

/* A walk from the canonical path `p` can meet a directory of the views: it starts above one of them
 * (/, /dev) or inside /sys (whose links lead anywhere in it) or /dev/cpu. */
bool reaches(const char* p) {
    return strcmp(p, "/") == 0 || strcmp(p, "/dev") == 0 || within(p, "/sys") || within(p, "/dev/cpu");
}

}  // namespace

bool walk_reaches_views(const char* path) {
    if (!libos::vfs_active() || !path || !path[0])
        return false;
    int saved = errno;
    struct Paths {
        char absolute[PATH_MAX];
        char resolved[PATH_MAX];
        char joined[PATH_MAX];
    };
    libos::ScratchOf<Paths> paths; /* 8 KiB: not on the caller's stack (libos_scratch.h) */
    if (!paths)
        return false;
    char* absolute = paths->absolute;
    bool result = lexical_absolute(path, paths->joined, absolute, sizeof(paths->absolute)) && reaches(absolute);
    /* The start may be a link, or pass through one, into the views. */
    char* resolved = paths->resolved;
    if (!result && realpath(path, resolved))
        result = reaches(resolved);
    errno = saved;
    return result;
}

}  // namespace shim

SHIM_EXPORT int glob(const char* pattern, int flags, int (*errfunc)(const char*, int), glob_t* pglob) {
    shim::ensure();
    GlobFn real = shim::real(g_real_glob, "glob");
    /* The override is unversioned, so programs linked with glob@GLIBC_2.2.5 reach it too. That glob
     * never calls gl_lstat, and its callers may leave it unset: a caller's own GLOB_ALTDIRFUNC without
     * gl_lstat goes to that version, where today's glob would call a null pointer. */
    if (pglob && (flags & GLOB_ALTDIRFUNC) && !pglob->gl_lstat) {
        static GlobFn old = nullptr;
        if (!old)
            old = reinterpret_cast<GlobFn>(dlvsym(RTLD_NEXT, "glob", "GLIBC_2.2.5"));
        if (old)
            return old(pattern, flags, errfunc, pglob);
    }
    if (!pglob || !pattern || (flags & GLOB_ALTDIRFUNC) || (flags & ~__GLOB_FLAGS) || !libos::vfs_active())
        return real(pattern, flags, errfunc, pglob);
    /* The hook members are the caller's: glob reads them only under GLOB_ALTDIRFUNC. */
    glob_t saved = *pglob;
    /* glob assigns gl_flags where it succeeds, and leaves the caller's (perhaps never initialised:
     * valgrind) elsewhere: a value glob never assigns tells which, with no read of the caller's. */
    constexpr int kUnassigned = INT_MIN;
    pglob->gl_flags = kUnassigned;
    pglob->gl_opendir = glob_opendir;
    pglob->gl_readdir = glob_readdir;
    pglob->gl_closedir = glob_closedir;
    pglob->gl_stat = glob_stat;
    pglob->gl_lstat = glob_lstat;
    int result = real(pattern, flags | GLOB_ALTDIRFUNC, errfunc, pglob);
    int error = errno;
    if (pglob->gl_flags == kUnassigned)
        pglob->gl_flags = saved.gl_flags;
    else
        pglob->gl_flags &= ~GLOB_ALTDIRFUNC;
    pglob->gl_opendir = saved.gl_opendir;
    pglob->gl_readdir = saved.gl_readdir;
    pglob->gl_closedir = saved.gl_closedir;
    pglob->gl_stat = saved.gl_stat;
    pglob->gl_lstat = saved.gl_lstat;
    errno = error;
    return result;
}

SHIM_SAME_NAME(glob);
SHIM_EXPORT int glob64(const char* pattern, int flags, int (*errfunc)(const char*, int), glob64_t* pglob) {
    /* glob64_t is glob_t on x86_64 (the same members; struct stat64 is struct stat). */
    static_assert(sizeof(glob64_t) == sizeof(glob_t));
    return SHIM_SAME(glob)(pattern, flags, errfunc, reinterpret_cast<glob_t*>(pglob));
}

SHIM_EXPORT int nftw(const char* path, __nftw_func_t func, int descriptors, int flags) {
    shim::ensure();
    if (!shim::walk_reaches_views(path))
        return shim::real(g_real_nftw, "nftw")(path, func, descriptors, flags);
    /* nftw@GLIBC_2.3.3, the one programs link with, refuses unknown flags. */
    if (flags & ~(FTW_PHYS | FTW_MOUNT | FTW_CHDIR | FTW_DEPTH | FTW_ACTIONRETVAL)) {
        errno = EINVAL;
        return -1;
    }
    return walk(path, true, func, nullptr, descriptors, flags);
}

SHIM_SAME_NAME(nftw);
SHIM_EXPORT int nftw64(const char* path, __nftw64_func_t func, int descriptors, int flags) {
    return SHIM_SAME(nftw)(path, reinterpret_cast<__nftw_func_t>(func), descriptors, flags);
}

SHIM_EXPORT int ftw(const char* path, __ftw_func_t func, int descriptors) {
    shim::ensure();
    if (!shim::walk_reaches_views(path))
        return shim::real(g_real_ftw, "ftw")(path, func, descriptors);
    return walk(path, false, nullptr, func, descriptors, 0);
}

SHIM_SAME_NAME(ftw);
SHIM_EXPORT int ftw64(const char* path, __ftw64_func_t func, int descriptors) {
    return SHIM_SAME(ftw)(path, reinterpret_cast<__ftw_func_t>(func), descriptors);
}
