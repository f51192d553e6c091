/* libc's fts(3) for the virtual CPU directories (issue 14).
 *
 * glibc's fts reads directories with libc-internal opendir, readdir and stat calls that no override
 * sees. A stream whose roots can reach a directory of the views (shim_walk.h) is walked here instead,
 * through the shim's own calls, with glibc's semantics: the order of entries (the listing's, or the
 * caller's comparison), pre- and post-order visits, FTS_DC cycles, FTS_NOSTAT's d_type shortcut,
 * fts_set's instructions, fts_children, the chdir discipline (FTS_NOCHDIR, implied by FTS_LOGICAL)
 * and the errors. Every other stream is glibc's own, and exactly native. The streams made here are
 * remembered by address (shim_streams.cpp), so that fts_read, fts_children, fts_set and fts_close
 * tell them from glibc's with nothing added to fts_options. FTS64 and FTSENT64 are FTS and FTSENT
 * on x86_64. */
#undef _FILE_OFFSET_BITS

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"
#include "shim_walk.h"

namespace {

using Compare = int (*)(const FTSENT**, const FTSENT**);
using OpenFn = FTS* (*)(char* const*, int, Compare);
using ReadFn = FTSENT* (*)(FTS*);
using ChildrenFn = FTSENT* (*)(FTS*, int);
using SetFn = int (*)(FTS*, FTSENT*, int);
using CloseFn = int (*)(FTS*);
constinit OpenFn g_real_open = nullptr;
constinit ReadFn g_real_read = nullptr;
constinit ChildrenFn g_real_children = nullptr;
constinit SetFn g_real_set = nullptr;
constinit CloseFn g_real_close = nullptr;

/* How fts_build was asked. */
enum class Build { Children, Names, Read };

bool ours(const FTS* sp) {
    return shim::is_stream(sp);
}
bool is_set(const FTS* sp, int option) {
    return (sp->fts_options & option) != 0;
}
bool is_dot(const char* name) {
    return name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]));
}

/* An entry with its name and, unless FTS_NOSTAT, its stat buffer in one block, as fts(3) allocates. */
FTSENT* new_entry(FTS* sp, const char* name, size_t length) {
    size_t size = offsetof(FTSENT, fts_name) + length + 1;
    size_t stat_at = 0;
    if (!is_set(sp, FTS_NOSTAT)) {
        stat_at = (size + alignof(struct stat) - 1) & ~(alignof(struct stat) - 1);
        size = stat_at + sizeof(struct stat);
    }
    auto* p = static_cast<FTSENT*>(calloc(1, size));
    if (!p)
        return nullptr;
    memcpy(p->fts_name, name, length);
    p->fts_name[length] = '\0';
    if (stat_at)
        p->fts_statp = reinterpret_cast<struct stat*>(reinterpret_cast<char*>(p) + stat_at);
    p->fts_namelen = static_cast<unsigned short>(length);
    p->fts_path = sp->fts_path;
    p->fts_instr = FTS_NOINSTR;
    return p;
}

void free_list(FTSENT* head) {
    while (FTSENT* p = head) {
        head = p->fts_link;
        free(p);
    }
}

/* Grows the path buffer by `more` (and some); false with errno set. */
bool grow_path(FTS* sp, size_t more) {
    size_t length = static_cast<size_t>(sp->fts_pathlen) + more + 256;
    if (length >= USHRT_MAX) {
        free(sp->fts_path);
        sp->fts_path = nullptr;
        errno = ENAMETOOLONG;
        return false;
    }
    auto* bigger = static_cast<char*>(realloc(sp->fts_path, length));
    if (!bigger) {
        free(sp->fts_path);
        sp->fts_path = nullptr;
        return false;
    }
    sp->fts_path = bigger;
    sp->fts_pathlen = static_cast<int>(length);
    return true;
}

/* After the path buffer moved: every entry still reachable points into the new one. */
void move_paths(FTS* sp, FTSENT* head) {
    char* base = sp->fts_path;
    auto adjust = [base](FTSENT* p) {
        if (p->fts_accpath != p->fts_name)
            p->fts_accpath = base + (p->fts_accpath - p->fts_path);
        p->fts_path = base;
    };
    for (FTSENT* p = sp->fts_child; p; p = p->fts_link)
        adjust(p);
    for (FTSENT* p = head; p->fts_level >= FTS_ROOTLEVEL;) {
        adjust(p);
        p = p->fts_link ? p->fts_link : p->fts_parent;
    }
}

/* The length of the parent's path that a child's name follows (no doubled slash after "/"). */
size_t path_end(const FTSENT* p) {
    return p->fts_path[p->fts_pathlen - 1] == '/' ? p->fts_pathlen - 1u : p->fts_pathlen;
}

unsigned short stat_entry(FTS* sp, FTSENT* p, bool follow) {
    struct stat scratch;
    struct stat* st = is_set(sp, FTS_NOSTAT) ? &scratch : p->fts_statp;
    if (is_set(sp, FTS_LOGICAL) || follow) {
        if (stat(p->fts_accpath, st) != 0) {
            int error = errno;
            if (lstat(p->fts_accpath, st) == 0) {
                errno = 0;
                return FTS_SLNONE;
            }
            p->fts_errno = error;
            memset(st, 0, sizeof(*st));
            return FTS_NS;
        }
    } else if (lstat(p->fts_accpath, st) != 0) {
        p->fts_errno = errno;
        memset(st, 0, sizeof(*st));
        return FTS_NS;
    }
    if (S_ISDIR(st->st_mode)) {
        p->fts_dev = st->st_dev;
        p->fts_ino = st->st_ino;
        p->fts_nlink = st->st_nlink;
        if (is_dot(p->fts_name))
            return FTS_DOT;
        /* A directory that is one of its own ancestors closes a cycle. */
        for (FTSENT* t = p->fts_parent; t->fts_level >= FTS_ROOTLEVEL; t = t->fts_parent)
            if (t->fts_ino == p->fts_ino && t->fts_dev == p->fts_dev) {
                p->fts_cycle = t;
                return FTS_DC;
            }
        return FTS_D;
    }
    if (S_ISLNK(st->st_mode))
        return FTS_SL;
    return S_ISREG(st->st_mode) ? FTS_F : FTS_DEFAULT;
}

FTSENT* sort_list(FTS* sp, FTSENT* head, int count) {
    if (count > sp->fts_nitems) {
        auto** array = static_cast<FTSENT**>(realloc(sp->fts_array, (count + 40) * sizeof(FTSENT*)));
        if (!array) {
            /* Unsorted, as fts(3) does when it has no memory to sort. */
            free(sp->fts_array);
            sp->fts_array = nullptr;
            sp->fts_nitems = 0;
            return head;
        }
        sp->fts_array = array;
        sp->fts_nitems = count + 40;
    }
    FTSENT** a = sp->fts_array;
    for (FTSENT* p = head; p; p = p->fts_link)
        *a++ = p;
    qsort(sp->fts_array, count, sizeof(FTSENT*), sp->fts_compar);
    for (int i = 0; i + 1 < count; ++i)
        sp->fts_array[i]->fts_link = sp->fts_array[i + 1];
    sp->fts_array[count - 1]->fts_link = nullptr;
    return sp->fts_array[0];
}

/* Changes into `p`'s directory by `fd` or `path`, provided it still is the directory stat saw. */
int change_dir(FTS* sp, const FTSENT* p, int fd, const char* path) {
    if (is_set(sp, FTS_NOCHDIR))
        return 0;
    int use = fd;
    if (fd < 0 && (use = open(path, O_RDONLY)) < 0)
        return -1;
    struct stat st;
    int result = fstat(use, &st);
    if (result == 0 && (st.st_dev != p->fts_dev || st.st_ino != p->fts_ino)) {
        errno = ENOENT;
        result = -1;
    }
    if (result == 0)
        result = fchdir(use);
    int saved = errno;
    if (fd < 0)
        close(use);
    errno = saved;
    return result;
}

int fchdir_unless_nochdir(FTS* sp, int fd) {
    return is_set(sp, FTS_NOCHDIR) ? 0 : fchdir(fd);
}

/* The entries of the current directory (sp->fts_cur), as a list. */
FTSENT* build(FTS* sp, Build type) {
    FTSENT* cur = sp->fts_cur;
    DIR* dir = opendir(cur->fts_accpath);
    if (!dir) {
        if (type == Build::Read) {
            cur->fts_info = FTS_DNR;
            cur->fts_errno = errno;
        }
        return nullptr;
    }
    /* How many subdirectories may still come, when FTS_NOSTAT lets the link count spare stat calls
     * (-1: stat everything; 0: stat nothing). */
    long links;
    bool nostat = false;
    if (type == Build::Names) {
        links = 0;
    } else if (is_set(sp, FTS_NOSTAT) && is_set(sp, FTS_PHYSICAL)) {
        links = static_cast<long>(cur->fts_nlink) - (is_set(sp, FTS_SEEDOT) ? 0 : 2);
        nostat = true;
    } else {
        links = -1;
    }
    bool descend = false;
    if (links != 0 || type == Build::Read) {
        if (change_dir(sp, cur, dirfd(dir), nullptr) != 0) {
            if (links != 0 && type == Build::Read)
                cur->fts_errno = errno;
            cur->fts_flags |= FTS_DONTCHDIR;
            closedir(dir);
            dir = nullptr;
        } else {
            descend = true;
        }
    }

    size_t length = path_end(cur);
    char* tail_name = nullptr;
    if (is_set(sp, FTS_NOCHDIR)) {
        tail_name = sp->fts_path + length;
        *tail_name++ = '/';
    }
    ++length;
    size_t room = sp->fts_pathlen - length;
    const short level = static_cast<short>(cur->fts_level + 1);

    FTSENT *head = nullptr, *tail = nullptr;
    int count = 0;
    bool moved = false;
    while (dir) {
        struct dirent* d = readdir(dir);
        if (!d)
            break;
        if (!is_set(sp, FTS_SEEDOT) && is_dot(d->d_name))
            continue;
        const size_t name_length = strlen(d->d_name);
        FTSENT* p = new_entry(sp, d->d_name, name_length);
        bool failed = !p;
        if (!failed && name_length >= room) {
            char* before = sp->fts_path;
            if (!grow_path(sp, name_length + length + 1)) {
                failed = true;
            } else {
                if (before != sp->fts_path) {
                    moved = true;
                    if (tail_name)
                        tail_name = sp->fts_path + length;
                }
                room = sp->fts_pathlen - length;
            }
        }
        if (!failed && length + name_length >= USHRT_MAX) {
            errno = ENAMETOOLONG;
            failed = true;
        }
        if (failed) {
            int saved = errno;
            free(p);
            free_list(head);
            closedir(dir);
            cur->fts_info = FTS_ERR;
            sp->fts_options |= FTS_STOP;
            errno = saved;
            return nullptr;
        }
        p->fts_level = level;
        p->fts_parent = sp->fts_cur;
        p->fts_path = sp->fts_path; /* new_entry took it before grow_path may have moved it */
        p->fts_pathlen = static_cast<unsigned short>(length + name_length);
        const bool not_dir = d->d_type != DT_DIR && d->d_type != DT_UNKNOWN;
        if (links == 0 || (nostat && not_dir)) {
            p->fts_accpath = is_set(sp, FTS_NOCHDIR) ? p->fts_path : p->fts_name;
            p->fts_info = FTS_NSOK;
        } else {
            if (is_set(sp, FTS_NOCHDIR)) {
                p->fts_accpath = p->fts_path;
                memmove(tail_name, p->fts_name, p->fts_namelen + 1u);
            } else {
                p->fts_accpath = p->fts_name;
            }
            p->fts_info = stat_entry(sp, p, false);
            if (links > 0 && (p->fts_info == FTS_D || p->fts_info == FTS_DC || p->fts_info == FTS_DOT))
                --links;
        }
        /* In the listing's order, as ls -f shows it. */
        p->fts_link = nullptr;
        if (!head)
            head = p;
        else
            tail->fts_link = p;
        tail = p;
        ++count;
    }
    if (dir)
        closedir(dir);
    if (moved && head)
        move_paths(sp, head);
    if (is_set(sp, FTS_NOCHDIR)) {
        if (length == static_cast<size_t>(sp->fts_pathlen) || count == 0)
            --tail_name;
        *tail_name = '\0';
    }
    /* fts_children, or an empty directory: back to where the walk was. */
    if (descend && (type == Build::Children || count == 0) &&
        (cur->fts_level == FTS_ROOTLEVEL ? fchdir_unless_nochdir(sp, sp->fts_rfd)
                                         : change_dir(sp, cur->fts_parent, -1, ".."))) {
        cur->fts_info = FTS_ERR;
        sp->fts_options |= FTS_STOP;
        free_list(head);
        return nullptr;
    }
    if (count == 0) {
        if (type == Build::Read)
            cur->fts_info = FTS_DP;
        return nullptr;
    }
    return sp->fts_compar && count > 1 ? sort_list(sp, head, count) : head;
}

/* A root becomes the current path: its name is its last component from now on. */
void load_root(FTS* sp, FTSENT* p) {
    size_t length = p->fts_namelen;
    p->fts_pathlen = p->fts_namelen;
    memmove(sp->fts_path, p->fts_name, length + 1);
    char* slash = strrchr(p->fts_name, '/');
    if (slash && (slash != p->fts_name || slash[1])) {
        length = strlen(++slash);
        memmove(p->fts_name, slash, length + 1);
        p->fts_namelen = static_cast<unsigned short>(length);
    }
    p->fts_accpath = p->fts_path = sp->fts_path;
    sp->fts_dev = p->fts_dev;
}

/* After FTS_FOLLOW: the link's target, and a way back when it is a directory fts will enter. */
void follow_link(FTS* sp, FTSENT* p) {
    p->fts_info = stat_entry(sp, p, true);
    if (p->fts_info == FTS_D && !is_set(sp, FTS_NOCHDIR)) {
        if ((p->fts_symfd = open(".", O_RDONLY)) < 0) {
            p->fts_errno = errno;
            p->fts_info = FTS_ERR;
        } else {
            p->fts_flags |= FTS_SYMFOLLOW;
        }
    }
}

FTSENT* read_entry(FTS* sp) {
    if (!sp->fts_cur || is_set(sp, FTS_STOP))
        return nullptr;
    FTSENT* p = sp->fts_cur;
    const int instruction = p->fts_instr;
    p->fts_instr = FTS_NOINSTR;
    if (instruction == FTS_AGAIN) {
        p->fts_info = stat_entry(sp, p, false);
        return p;
    }
    if (instruction == FTS_FOLLOW && (p->fts_info == FTS_SL || p->fts_info == FTS_SLNONE)) {
        follow_link(sp, p);
        return p;
    }
    if (p->fts_info == FTS_D) {
        if (instruction == FTS_SKIP || (is_set(sp, FTS_XDEV) && p->fts_dev != sp->fts_dev)) {
            /* Skipped, or another file system: its post-order visit at once. */
            if (p->fts_flags & FTS_SYMFOLLOW)
                close(p->fts_symfd);
            if (sp->fts_child) {
                free_list(sp->fts_child);
                sp->fts_child = nullptr;
            }
            p->fts_info = FTS_DP;
            return p;
        }
        if (sp->fts_child && is_set(sp, FTS_NAMEONLY)) {
            sp->fts_options &= ~FTS_NAMEONLY;
            free_list(sp->fts_child);
            sp->fts_child = nullptr;
        }
        if (sp->fts_child) {
            /* fts_children read it already: enter it now (names relative to it, or the parent's). */
            if (change_dir(sp, p, -1, p->fts_accpath) != 0) {
                p->fts_errno = errno;
                p->fts_flags |= FTS_DONTCHDIR;
                for (FTSENT* c = sp->fts_child; c; c = c->fts_link)
                    c->fts_accpath = c->fts_parent->fts_accpath;
            }
        } else if (!(sp->fts_child = build(sp, Build::Read))) {
            return is_set(sp, FTS_STOP) ? nullptr : p;
        }
        p = sp->fts_child;
        sp->fts_child = nullptr;
        sp->fts_cur = p;
        char* t = sp->fts_path + path_end(p->fts_parent);
        *t++ = '/';
        memmove(t, p->fts_name, p->fts_namelen + 1u);
        return p;
    }
    for (;;) {
        FTSENT* done = p;
        p = p->fts_link;
        if (!p)
            break;
        sp->fts_cur = p;
        free(done);
        if (p->fts_level == FTS_ROOTLEVEL) {
            /* The next root, from where the walk started. */
            if (fchdir_unless_nochdir(sp, sp->fts_rfd) != 0) {
                sp->fts_options |= FTS_STOP;
                return nullptr;
            }
            load_root(sp, p);
            return p;
        }
        if (p->fts_instr == FTS_SKIP)
            continue;
        if (p->fts_instr == FTS_FOLLOW) {
            follow_link(sp, p);
            p->fts_instr = FTS_NOINSTR;
        }
        char* t = sp->fts_path + path_end(p->fts_parent);
        *t++ = '/';
        memmove(t, p->fts_name, p->fts_namelen + 1u);
        return p;
    }
    /* The level is done: the parent's post-order visit. */
    FTSENT* done = sp->fts_cur;
    p = done->fts_parent;
    sp->fts_cur = p;
    free(done);
    if (p->fts_level == FTS_ROOTPARENTLEVEL) {
        free(p);
        errno = 0;
        return sp->fts_cur = nullptr;
    }
    sp->fts_path[p->fts_pathlen] = '\0';
    if (p->fts_level == FTS_ROOTLEVEL) {
        if (fchdir_unless_nochdir(sp, sp->fts_rfd) != 0) {
            sp->fts_options |= FTS_STOP;
            return nullptr;
        }
    } else if (p->fts_flags & FTS_SYMFOLLOW) {
        if (fchdir_unless_nochdir(sp, p->fts_symfd) != 0) {
            int saved = errno;
            close(p->fts_symfd);
            errno = saved;
            sp->fts_options |= FTS_STOP;
            return nullptr;
        }
        close(p->fts_symfd);
    } else if (!(p->fts_flags & FTS_DONTCHDIR) && change_dir(sp, p->fts_parent, -1, "..") != 0) {
        sp->fts_options |= FTS_STOP;
        return nullptr;
    }
    p->fts_info = p->fts_errno ? FTS_ERR : FTS_DP;
    return p;
}

FTS* open_stream(char* const* argv, int options, Compare compar) {
    auto* sp = static_cast<FTS*>(calloc(1, sizeof(FTS)));
    if (!sp)
        return nullptr;
    sp->fts_compar = reinterpret_cast<int (*)(const void*, const void*)>(compar);
    sp->fts_options = options;
    /* Logical walks never chdir: links make the way back unknown. */
    if (is_set(sp, FTS_LOGICAL))
        sp->fts_options |= FTS_NOCHDIR;
    size_t longest = 0;
    for (char* const* a = argv; *a; ++a)
        longest = strlen(*a) > longest ? strlen(*a) : longest;
    ++longest;
    FTSENT *parent = nullptr, *root = nullptr, *last = nullptr;
    int count = 0;
    if (!grow_path(sp, longest > 1024 ? longest : 1024)) {
        free(sp);
        return nullptr;
    }
    if (*argv) {
        if (!(parent = new_entry(sp, "", 0)))
            goto fail;
        parent->fts_level = FTS_ROOTPARENTLEVEL;
    }
    for (; *argv; ++argv, ++count) {
        size_t length = strlen(*argv);
        if (length == 0) {
            errno = ENOENT;
            goto fail;
        }
        FTSENT* p = new_entry(sp, *argv, length);
        if (!p)
            goto fail;
        p->fts_level = FTS_ROOTLEVEL;
        p->fts_parent = parent;
        p->fts_accpath = p->fts_name;
        p->fts_info = stat_entry(sp, p, is_set(sp, FTS_COMFOLLOW));
        /* "." and ".." named on the command line are directories like others. */
        if (p->fts_info == FTS_DOT)
            p->fts_info = FTS_D;
        if (compar) {
            p->fts_link = root;
            root = p;
        } else {
            p->fts_link = nullptr;
            if (!root)
                root = p;
            else
                last->fts_link = p;
            last = p;
        }
    }
    if (compar && count > 1)
        root = sort_list(sp, root, count);
    /* fts_read starts as if it had just finished the node before the roots. */
    if (!(sp->fts_cur = new_entry(sp, "", 0)))
        goto fail;
    sp->fts_cur->fts_link = root;
    sp->fts_cur->fts_info = FTS_INIT;
    /* The way back to where the walk started; without it, no chdir at all. */
    if (!is_set(sp, FTS_NOCHDIR) && (sp->fts_rfd = open(".", O_RDONLY)) < 0)
        sp->fts_options |= FTS_NOCHDIR;
    if (shim::remember_stream(sp))
        return sp;
    if (!is_set(sp, FTS_NOCHDIR))
        close(sp->fts_rfd);
    free(sp->fts_cur);
    errno = ENOMEM;
fail:
    int saved = errno;
    free_list(root);
    free(parent);
    free(sp->fts_path);
    free(sp);
    errno = saved;
    return nullptr;
}

/* Does any of the roots reach the views? */
bool any_reaches(char* const* argv) {
    for (char* const* a = argv; a && *a; ++a)
        if (shim::walk_reaches_views(*a))
            return true;
    return false;
}

}  // namespace

SHIM_EXPORT FTS* fts_open(char* const* argv, int options, Compare compar) {
    shim::ensure();
    if ((options & ~FTS_OPTIONMASK) || !any_reaches(argv))
        return shim::real(g_real_open, "fts_open")(argv, options, compar);
    return open_stream(argv, options, compar);
}

SHIM_EXPORT FTSENT* fts_read(FTS* sp) {
    if (!ours(sp))
        return shim::real(g_real_read, "fts_read")(sp);
    return read_entry(sp);
}

SHIM_EXPORT int fts_set(FTS* sp, FTSENT* p, int instruction) noexcept {
    if (!ours(sp))
        return shim::real(g_real_set, "fts_set")(sp, p, instruction);
    if (instruction != 0 && instruction != FTS_AGAIN && instruction != FTS_FOLLOW && instruction != FTS_NOINSTR &&
        instruction != FTS_SKIP) {
        errno = EINVAL;
        return 1;
    }
    p->fts_instr = static_cast<unsigned short>(instruction);
    return 0;
}

SHIM_EXPORT FTSENT* fts_children(FTS* sp, int instruction) {
    if (!ours(sp))
        return shim::real(g_real_children, "fts_children")(sp, instruction);
    if (instruction != 0 && instruction != FTS_NAMEONLY) {
        errno = EINVAL;
        return nullptr;
    }
    FTSENT* p = sp->fts_cur;
    errno = 0; /* an empty directory is told from an error by errno */
    if (is_set(sp, FTS_STOP))
        return nullptr;
    if (p->fts_info == FTS_INIT)
        return p->fts_link;
    if (p->fts_info != FTS_D)
        return nullptr;
    if (sp->fts_child)
        free_list(sp->fts_child);
    Build type = Build::Children;
    if (instruction == FTS_NAMEONLY) {
        sp->fts_options |= FTS_NAMEONLY;
        type = Build::Names;
    }
    /* A relative root read before fts_read entered it: build from here, then come back. */
    if (p->fts_level != FTS_ROOTLEVEL || p->fts_accpath[0] == '/' || is_set(sp, FTS_NOCHDIR))
        return sp->fts_child = build(sp, type);
    int fd = open(".", O_RDONLY);
    if (fd < 0)
        return nullptr;
    sp->fts_child = build(sp, type);
    if (fchdir(fd) != 0) {
        int error = errno;
        close(fd); /* glibc's closes it too */
        errno = error;
        return nullptr;
    }
    close(fd);
    return sp->fts_child;
}

SHIM_EXPORT int fts_close(FTS* sp) {
    if (!ours(sp))
        return shim::real(g_real_close, "fts_close")(sp);
    shim::forget_stream(sp);
    if (sp->fts_cur) {
        /* The current level's list leads to the roots' parent through the parents. */
        FTSENT* p = sp->fts_cur;
        while (p->fts_level >= FTS_ROOTLEVEL) {
            FTSENT* done = p;
            p = p->fts_link ? p->fts_link : p->fts_parent;
            free(done);
        }
        free(p);
    }
    free_list(sp->fts_child);
    free(sp->fts_array);
    free(sp->fts_path);
    int result = 0;
    if (!is_set(sp, FTS_NOCHDIR)) {
        int error = fchdir(sp->fts_rfd) != 0 ? errno : 0;
        close(sp->fts_rfd);
        if (error) {
            errno = error;
            result = -1;
        }
    }
    free(sp);
    return result;
}

/* The 64-bit names: the same structures on x86_64. */
SHIM_SAME_NAME(fts_open);
SHIM_EXPORT FTS64* fts64_open(char* const* argv, int options, int (*compar)(const FTSENT64**, const FTSENT64**)) {
    static_assert(sizeof(FTS64) == sizeof(FTS) && sizeof(FTSENT64) == sizeof(FTSENT));
    return reinterpret_cast<FTS64*>(SHIM_SAME(fts_open)(argv, options, reinterpret_cast<Compare>(compar)));
}
SHIM_SAME_NAME(fts_read);
SHIM_EXPORT FTSENT64* fts64_read(FTS64* sp) {
    return reinterpret_cast<FTSENT64*>(SHIM_SAME(fts_read)(reinterpret_cast<FTS*>(sp)));
}
SHIM_SAME_NAME(fts_set);
SHIM_EXPORT int fts64_set(FTS64* sp, FTSENT64* p, int instruction) noexcept {
    return SHIM_SAME(fts_set)(reinterpret_cast<FTS*>(sp), reinterpret_cast<FTSENT*>(p), instruction);
}
SHIM_SAME_NAME(fts_children);
SHIM_EXPORT FTSENT64* fts64_children(FTS64* sp, int instruction) {
    return reinterpret_cast<FTSENT64*>(SHIM_SAME(fts_children)(reinterpret_cast<FTS*>(sp), instruction));
}
SHIM_SAME_NAME(fts_close);
SHIM_EXPORT int fts64_close(FTS64* sp) {
    return SHIM_SAME(fts_close)(reinterpret_cast<FTS*>(sp));
}
