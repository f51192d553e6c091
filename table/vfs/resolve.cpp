/* A program's path as the views see it (libos_vfs.h): made absolute (against the virtual current
 * directory, a remembered directory descriptor, or a remote caller's own), resolved as the kernel's
 * path walk resolves it, and classified (classify.cpp).
 *
 * The walk keeps the path resolved so far, canonical and on the machine. Each component is looked up
 * twice: on the machine (classify_canonical: cpu9 of 8 vCPUs does not exist, cpuV/ is the host's
 * cpuH/, nodeN/cpuV is a link of the machine) and on the host, with lstat on the host path behind it,
 * which tells whether it exists, whether it is a directory, and whether it is a link to follow (its
 * target read with readlink). "." and ".." are taken in place, after links, as the kernel takes them. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include <atomic>
#include <new>

#include "libos/libos_init.h"
#include "libos/libos_machine.h"
#include "libos/libos_sections.h"
#include "libos/libos_threads.h"
#include "vfs/vfs_internal.h"

namespace libos {
namespace {

constexpr int kMaxLinks = 40; /* the kernel's MAXSYMLINKS */
/* The walk gives the path to the host to resolve: it is longer than the walk's buffers, or a remote
 * caller's rights on files, which the walk's questions to the host need, cannot be taken. */
constexpr long kHostResolves = 1;

/* The length of the path component at s (up to the next '/'). */
size_t component_length(const char* s) {
    const char* slash = strchr(s, '/');
    return slash ? static_cast<size_t>(slash - s) : strlen(s);
}

/* Whether `rest` (after "/proc/<x>") is one of the endings that can name a view: "/status", or a
 * link a walk may take into the views ("/root/...", "/cwd/..."). */
bool proc_ending(const char* rest) {
    return strcmp(rest, "/status") == 0 || starts_with(rest, "/root/") || starts_with(rest, "/cwd/");
}

/* Whether a lexically normalized path can lead into the views: the cheap test that keeps the walk off
 * every other path (/proc/self/maps, /sys/class/...). A link outside these (a program's own link to
 * /sys/devices/system/cpu) is not followed into the views. */
bool may_be_in_views(const char* p) {
    constexpr size_t kCpuRootLength = sizeof(kCpuRoot) - 1;
    if (starts_with(p, kCpuRoot) && (p[kCpuRootLength] == '\0' || p[kCpuRootLength] == '/'))
        return true;
    if (starts_with(p, kNodeRoot) && (p[sizeof(kNodeRoot) - 1] == '\0' || p[sizeof(kNodeRoot) - 1] == '/'))
        return true;
    if (may_name_cpus_elsewhere(p))
        return true;
    if (!starts_with(p, "/proc/"))
        return false;
    const char* rest = p + 6;
    if (strcmp(rest, "cpuinfo") == 0 || strcmp(rest, "stat") == 0)
        return true;
    const char* after = rest + component_length(rest);
    if (proc_ending(after))
        return true;
    if (!starts_with(after, "/task/"))
        return false;
    const char* task = after + 6;
    return proc_ending(task + component_length(task));
}

/* Directories a walk found once and need not look up again: those above the views, and the
 * directories of the CPU and node views (sysfs keeps a CPU's directories while the machine runs, and
 * the map from vCPUs to host CPUs is the launch's; /proc/<pid> comes and goes, and is always looked
 * up). Kept per process by the hashes of their paths on the machine, in a table that only grows (a
 * full one just means more lookups); bit 0 of an entry says the host names it otherwise. */
constexpr size_t kKnownDirs = 1024;
constexpr size_t kProbes = 8;
LIBOS_LARGE_BSS constinit std::atomic<uint64_t> g_known_dirs[kKnownDirs] = {};

bool stable_dir(const char* host) {
    return starts_with(host, "/sys/devices/system/") || strcmp(host, "/sys") == 0 ||
           strcmp(host, "/sys/devices") == 0 || strcmp(host, "/sys/devices/system") == 0 || strcmp(host, "/proc") == 0;
}

uint64_t path_hash(const char* s) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (; *s; ++s)
        h = (h ^ static_cast<unsigned char>(*s)) * 0x100000001b3ull;
    return (h & ~3ull) | 2; /* 0 marks a free entry; bit 0 is the "mapped" bit */
}

/* Whether directory `h` is known, and then whether its host path differs (*mapped). */
bool known_dir(uint64_t h, bool* mapped) {
    for (size_t i = 0; i < kProbes; ++i) {
        uint64_t v = g_known_dirs[(h + i) % kKnownDirs].load(std::memory_order_relaxed);
        if ((v & ~1ull) == h) {
            *mapped = v & 1;
            return true;
        }
        if (v == 0)
            return false;
    }
    return false;
}

void remember_dir(uint64_t h, bool mapped) {
    const uint64_t value = h | (mapped ? 1 : 0);
    for (size_t i = 0; i < kProbes; ++i) {
        uint64_t expected = 0;
        std::atomic<uint64_t>& entry = g_known_dirs[(h + i) % kKnownDirs];
        if (entry.compare_exchange_strong(expected, value, std::memory_order_relaxed) || (expected & ~1ull) == h)
            return;
    }
}

/* The host's files and directories under /sys/devices/system, by the hashes of their host paths,
 * with their types and permissions: many paths of the machine lead to one host file (cpu0/ to
 * cpu1023/ on two host CPUs are two host directories), so one lstat serves them all. Links are not
 * kept (their targets are read each time). An entry is the hash's upper 48 bits and the 16 bits of
 * st_mode; 0 is free. Like the table above, it only grows. */
constexpr size_t kHostModes = 4096;
LIBOS_LARGE_BSS constinit std::atomic<uint64_t> g_host_modes[kHostModes] = {};

/* /proc/stat is one file for every process, there as long as /proc is, and this process's own
 * /proc/<pid> directory and status file are there as long as it is (and their modes are the
 * kernel's): kept like them. A fork child's pid is another, so it never trusts its parent's. */
bool own_proc_entry(const char* host) {
    if (!starts_with(host, "/proc/") || host[6] < '1' || host[6] > '9')
        return false;
    /* Only /proc/<pid> and /proc/<pid>/status are kept: any other path is no such entry, without
     * asking the process's id. */
    const char* rest = host + 6;
    while (*rest >= '0' && *rest <= '9')
        ++rest;
    if (*rest != '\0' && strcmp(rest, "/status") != 0)
        return false;
    char own[32];
    TextBuilder(own, sizeof(own)).add("/proc/").unum(static_cast<uint64_t>(self_pid()));
    const size_t n = strlen(own);
    return strncmp(host, own, n) == 0 && (host[n] == '\0' || strcmp(host + n, "/status") == 0);
}

bool mode_kept(const char* host) {
    return starts_with(host, "/sys/devices/system/") || strcmp(host, "/proc/stat") == 0 || own_proc_entry(host);
}

/* The target of /proc/self as this process read it (the pid of its /proc, which in a container's
 * may differ from getpid's), with the pid that read it: a fork child reads its own. */
struct SelfLink {
    std::atomic<pid_t> pid; /* 0: not read; -1: being written */
    char target[24];
};
constinit SelfLink g_self_link = {};

bool self_link_known(char* target) {
    const pid_t reader = g_self_link.pid.load(std::memory_order_acquire);
    if (reader <= 0 || reader != self_pid())
        return false;
    /* Written once per process (a fork child writes its own, in its own memory). */
    memcpy(target, g_self_link.target, sizeof(g_self_link.target));
    return true;
}

void remember_self_link(const char* target) {
    const size_t n = strlen(target);
    pid_t current = g_self_link.pid.load(std::memory_order_acquire);
    if (n >= sizeof(g_self_link.target) || current < 0 || current == self_pid() ||
        !g_self_link.pid.compare_exchange_strong(current, -1, std::memory_order_acq_rel))
        return;
    memcpy(g_self_link.target, target, n + 1);
    g_self_link.pid.store(self_pid(), std::memory_order_release);
}

bool host_mode_known(const char* host, mode_t* mode) {
    if (!mode_kept(host))
        return false;
    const uint64_t h = path_hash(host) & ~0xffffull;
    for (size_t i = 0; i < kProbes; ++i) {
        uint64_t v = g_host_modes[((h >> 16) + i) % kHostModes].load(std::memory_order_relaxed);
        if (v == 0)
            return false;
        if ((v & ~0xffffull) == h) {
            *mode = static_cast<mode_t>(v & 0xffff);
            return true;
        }
    }
    return false;
}

void remember_host_mode(const char* host, mode_t mode) {
    if (!mode_kept(host) || !(S_ISDIR(mode) || S_ISREG(mode)) || (mode & ~0xffffu))
        return;
    const uint64_t h = path_hash(host) & ~0xffffull;
    const uint64_t value = h | mode;
    for (size_t i = 0; i < kProbes; ++i) {
        uint64_t expected = 0;
        std::atomic<uint64_t>& entry = g_host_modes[((h >> 16) + i) % kHostModes];
        if (entry.compare_exchange_strong(expected, value, std::memory_order_relaxed) ||
            (expected & ~0xffffull) == h)
            return;
    }
}

/* openat2's RESOLVE_* flags (<linux/openat2.h>), which the walk applies as the kernel's does. */
constexpr uint64_t kResolveNoXdev = 0x01, kResolveNoMagicLinks = 0x02, kResolveNoSymlinks = 0x04,
                   kResolveBeneath = 0x08, kResolveInRoot = 0x10;

struct Walk {
    explicit Walk(Caller c) : caller(c) {}
    Caller caller;
    VfsFollow follow = VfsFollow::Last;
    const char* path = nullptr;
    const char* start = "";          /* the directory a relative path starts from, canonical ("" for "/") */
    uint64_t resolve = 0;            /* RESOLVE_* */
    VfsPath* node = nullptr;         /* the current component's classification (the caller's result) */
    FileRightsHold* rights = nullptr; /* taken at the walk's first question to the host */
    char canon[kVfsPathMax];         /* resolved so far; "" is the root (set by walk) */
    size_t length = 0;
    size_t root_length = 0;          /* RESOLVE_BENEATH, RESOLVE_IN_ROOT: `start` is the root */
    char* rest = nullptr;            /* still to resolve (set by walk): rest_small, or mapped */
    size_t rest_size = 0;
    char rest_small[2 * kVfsPathMax];
    char target[kVfsPathMax];        /* the link being followed (set by look_up) */
    mode_t mode = 0;                 /* the host's lstat of `canon` */
    dev_t dev = 0;                   /* RESOLVE_NO_XDEV: the file system the walk must stay on */
    bool mapped = false;             /* a component's host path differed from its path on the machine */
    bool last_missing = false;       /* the walk failed with ENOENT at the last component */
    int links = 0;

    bool scoped() const { return resolve & (kResolveBeneath | kResolveInRoot); }
};

/* /proc's magic links, which jump rather than name a path: /proc/<pid>[/task/<tid>]/{root,cwd,exe}
 * and the links in fd/, ns/ and map_files/ (/proc/self is a plain link). */
bool magic_link(const char* canon) {
    if (!starts_with(canon, "/proc/"))
        return false;
    const char* p = canon + 6;
    auto digits = [](const char*& s) {
        const char* from = s;
        while (*s >= '0' && *s <= '9')
            ++s;
        return s != from;
    };
    if (!digits(p))
        return false;
    if (starts_with(p, "/task/")) {
        p += 6;
        if (!digits(p))
            return false;
    }
    return strcmp(p, "/root") == 0 || strcmp(p, "/cwd") == 0 || strcmp(p, "/exe") == 0 || starts_with(p, "/fd/") ||
           starts_with(p, "/ns/") || starts_with(p, "/map_files/");
}

/* Whether a path ends as a directory's name must: "/", "/." or "/..". */
bool names_a_directory(const char* path) {
    size_t n = strlen(path);
    if (n > 0 && path[n - 1] == '/')
        return true;
    const char* last = strrchr(path, '/');
    last = last ? last + 1 : path;
    return strcmp(last, ".") == 0 || strcmp(last, "..") == 0;
}

/* Reads the target of link `host`, which the walk reached as `canon`. /proc/self and
 * /proc/thread-self of a remote caller are its own, not the supervisor's. */
long read_link(Walk& w, const char* host, char* target) {
    if (w.caller.is_remote() && (strcmp(w.canon, "/proc/self") == 0 || strcmp(w.canon, "/proc/thread-self") == 0)) {
        FixedText<64> text;
        text.unum(static_cast<uint64_t>(w.caller.process()));
        if (w.canon[6] == 't')
            text.add("/task/").unum(static_cast<uint64_t>(w.caller.tid()));
        memcpy(target, text.data(), text.length());
        target[text.length()] = '\0';
        return 0;
    }
    if (!w.rights->take())
        return kHostResolves;
    long n = PalFileReadLink(host, target, kVfsPathMax);
    if (n < 0)
        return n;
    if (static_cast<size_t>(n) >= kVfsPathMax - 1)
        return kHostResolves; /* perhaps cut short */
    target[n] = '\0';
    if (strcmp(host, "/proc/self") == 0 && !(w.resolve & kResolveNoXdev))
        remember_self_link(target);
    return 0;
}

/* Looks up `w.canon`, just extended by one component: 0 (with *is_link and, for a link, its target),
 * or -errno as the kernel's lookup fails. */
long look_up(Walk& w, bool* is_link, char* target) {
    VfsPath* node = w.node;
    *is_link = false;
    if (!w.caller.is_remote() && !(w.resolve & kResolveNoXdev) && strcmp(w.canon, "/proc/self") == 0 &&
        self_link_known(target)) {
        *is_link = true;
        w.mode = S_IFLNK | 0777;
        return 0;
    }
    /* A directory looked up before: neither its classification nor the host is asked again. */
    const bool stable = stable_dir(w.canon) && !(w.resolve & kResolveNoXdev);
    const uint64_t hash = stable ? path_hash(w.canon) : 0;
    if (bool mapped; stable && known_dir(hash, &mapped)) {
        w.mode = S_IFDIR | 0555;
        w.mapped = w.mapped || mapped;
        return 0;
    }
    if (!classify_canonical(w.canon, node)) {
        if (node->virt[0] == '\0')
            return kHostResolves;
        node->kind = VfsKind::NotVirtual;
    }
    switch (node->kind) {
        case VfsKind::Error:
            return node->error;
        case VfsKind::Link:
            /* A link of the machine (nodeN/cpuV), whose host twin may have another name. */
            *is_link = true;
            w.mode = S_IFLNK | 0777;
            w.mapped = w.mapped || strcmp(node->real, w.canon) != 0;
            memcpy(target, node->source, strlen(node->source) + 1);
            return 0;
        default:
            break;
    }
    const char* host = node->kind == VfsKind::NotVirtual ? w.canon : node->real;
    const bool renamed = host != w.canon && strcmp(host, w.canon) != 0;
    w.mapped = w.mapped || renamed;
    /* A generated file this process made already was found then: its content is in memory. */
    if (node->kind == VfsKind::Generated && !(w.resolve & kResolveNoXdev) && cached_mode(w.canon, &w.mode))
        return 0;
    /* A host file or directory another path of the machine led to already (sysfs's CPU and node
     * files are world-readable, their directories world-searchable: every caller may see them). */
    if (!(w.resolve & kResolveNoXdev) && host_mode_known(host, &w.mode)) {
        if (stable && S_ISDIR(w.mode))
            remember_dir(hash, renamed);
        return 0;
    }
    if (!w.rights->take())
        return kHostResolves;
    struct stat st;
    if (long ret = PalFileStatAt(AT_FDCWD, host, &st, AT_SYMLINK_NOFOLLOW); ret < 0)
        return ret;
    w.mode = st.st_mode;
    if ((st.st_mode & 0555) == 0555 || (S_ISREG(st.st_mode) && (st.st_mode & 0444) == 0444))
        remember_host_mode(host, st.st_mode);
    if ((w.resolve & kResolveNoXdev) && st.st_dev != w.dev)
        return -EXDEV; /* a mount point crossed */
    if (S_ISLNK(st.st_mode)) {
        *is_link = true;
        return read_link(w, host, target);
    }
    if (stable && S_ISDIR(st.st_mode))
        remember_dir(hash, renamed);
    return 0;
}

/* The host's stat of the directory the walk is in (RESOLVE_NO_XDEV's file systems). */
long host_stat(Walk& w, struct stat* st) {
    if (!w.rights->take())
        return kHostResolves;
    const char* here = w.length ? w.canon : "/";
    const char* host = here;
    if (classify_canonical(here, w.node) && (w.node->kind == VfsKind::Directory || w.node->kind == VfsKind::Redirect))
        host = w.node->real;
    return PalFileStatAt(AT_FDCWD, host, st, 0);
}

/* The kernel's may_lookup() for "." and "..", which the walk takes in place: the caller needs search
 * permission on the directory it is in, as for any other component (whose lstat the host checks).
 * The directories of the views and above them are searchable by everyone. */
long may_search(Walk& w) {
    const char* here = w.length ? w.canon : "/";
    if (stable_dir(here))
        return 0;
    if (!w.rights->take())
        return kHostResolves;
    const char* host = here;
    if (classify_canonical(here, w.node) && (w.node->kind == VfsKind::Directory || w.node->kind == VfsKind::Redirect))
        host = w.node->real;
    return PalFileAccess(AT_FDCWD, host, X_OK, AT_EACCESS);
}

/* The walk itself: 0 when the path resolves (w.canon, w.mode), or -errno, or kHostResolves. */
long walk(Walk& w) {
    size_t n = strlen(w.path);
    /* A path up to PATH_MAX (and the links it meets) is resolved; one longer than the small buffer
     * takes a mapping (kept off the stack: 16 KiB thread stacks), which only such paths pay for. */
    const bool long_path = n >= sizeof(w.rest_small);
    MappedBuffer mapped(long_path ? 2 * kPathMax : 0);
    if (long_path && !mapped.data)
        return -ENOMEM; /* not the host's answer, which may not be the machine's: the kernel's getname's */
    w.rest = long_path ? mapped.data : w.rest_small;
    w.rest_size = long_path ? mapped.size : sizeof(w.rest_small);
    if (n >= w.rest_size)
        return kHostResolves;
    memcpy(w.rest, w.path, n + 1);
    /* Where the walk starts: the root for an absolute path (RESOLVE_BENEATH refuses one; under
     * RESOLVE_IN_ROOT "/" is the start), else the start directory. */
    const bool absolute = w.path[0] == '/';
    if (absolute && (w.resolve & kResolveBeneath))
        return -EXDEV;
    const char* from = absolute && !(w.resolve & kResolveInRoot) ? "" : w.start;
    w.length = strlen(from);
    if (w.length == 1 && from[0] == '/')
        w.length = 0; /* the root is "" */
    if (w.length >= kVfsPathMax)
        return kHostResolves;
    memcpy(w.canon, from, w.length + 1);
    w.root_length = w.scoped() ? w.length : 0;
    w.mode = S_IFDIR | 0755;
    if (w.resolve & kResolveNoXdev) {
        struct stat st;
        if (long ret = host_stat(w, &st); ret < 0)
            return ret;
        w.dev = st.st_dev;
    }
    w.mapped = false;
    w.last_missing = false;
    w.links = 0;
    bool must_be_dir = false;
    for (const char* p = w.rest;;) {
        while (*p == '/')
            ++p;
        if (*p == '\0')
            break;
        const size_t len = component_length(p);
        const char* next = p + len;
        const char* after = next;
        while (*after == '/')
            ++after;
        const bool last = *after == '\0';
        must_be_dir = *next == '/';
        /* Only a directory has components below it: "online/x", "online/." and "online/.." too. */
        if (!S_ISDIR(w.mode))
            return -ENOTDIR;
        if (len > NAME_MAX)
            return -ENAMETOOLONG;
        if (p[0] == '.' && (len == 1 || (len == 2 && p[1] == '.')))
            if (long ret = may_search(w); ret != 0)
                return ret;
        if (len == 1 && p[0] == '.') {
            p = next;
            continue;
        }
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            /* At the root of a scoped walk: RESOLVE_BENEATH refuses to leave it, and RESOLVE_IN_ROOT
             * stays, as ".." of "/" does. */
            if (w.scoped() && w.length <= w.root_length) {
                if (w.resolve & kResolveBeneath)
                    return -EXDEV;
                p = next;
                continue;
            }
            while (w.length > 0 && w.canon[w.length - 1] != '/')
                --w.length;
            if (w.length > 0)
                --w.length;
            w.canon[w.length] = '\0';
            w.mode = S_IFDIR | 0755;
            if (w.resolve & kResolveNoXdev) {
                struct stat st;
                if (long ret = host_stat(w, &st); ret < 0)
                    return ret;
                if (st.st_dev != w.dev)
                    return -EXDEV;
            }
            p = next;
            continue;
        }
        const size_t parent = w.length;
        if (parent + 1 + len + 1 > kVfsPathMax)
            return kHostResolves;
        w.canon[w.length++] = '/';
        memcpy(w.canon + w.length, p, len);
        w.length += len;
        w.canon[w.length] = '\0';
        bool is_link;
        char* target = w.target;
        if (long ret = look_up(w, &is_link, target); ret != 0) {
            w.last_missing = ret == -ENOENT && last;
            return ret;
        }
        if (!is_link || (last && !must_be_dir && w.follow == VfsFollow::NotLast)) {
            p = next;
            continue;
        }
        /* Follow it: from the link's directory (or the root), the target, then what followed. */
        if (w.resolve & kResolveNoSymlinks)
            return -ELOOP;
        if (magic_link(w.canon)) {
            if (w.resolve & kResolveNoMagicLinks)
                return -ELOOP;
            if (w.scoped())
                return -EXDEV;
        }
        if (++w.links > kMaxLinks)
            return -ELOOP;
        if (target[0] == '/' && (w.resolve & kResolveBeneath))
            return -EXDEV;
        w.length = target[0] == '/' ? w.root_length : parent;
        w.canon[w.length] = '\0';
        w.mode = S_IFDIR | 0755;
        /* The target, then what followed it (which lies in w.rest: moved first). A short path that
         * a target makes outgrow the small buffer moves to a mapping, as a long path starts in one. */
        const size_t tl = strlen(target), nl = strlen(next);
        if (tl + nl + 1 > w.rest_size) {
            if (mapped.data || tl + nl + 1 > 2 * kPathMax)
                return kHostResolves;
            if (!mapped.map(2 * kPathMax))
                return -ENOMEM;
            memcpy(mapped.data + tl, next, nl + 1);
            w.rest = mapped.data;
            w.rest_size = mapped.size;
        } else {
            memmove(w.rest + tl, next, nl + 1);
        }
        memcpy(w.rest, target, tl);
        p = w.rest;
    }
    if (must_be_dir && !S_ISDIR(w.mode))
        return -ENOTDIR;
    return 0;
}

}  // namespace

bool vfs_active() {
    return is_virtual();
}

bool vfs_classify(Caller caller, const char* path, VfsPath* out, VfsFollow follow, uint64_t resolve,
                  const char* start) {
    /* The cheap tests first: almost every path a program opens is nowhere near these. The lexical
     * form of where the path leads decides whether it is worth a walk. */
    char lexical[kVfsPathMax];
    if (start && path[0] != '/') {
        if (!normalize(start, lexical, path))
            return false;
    } else {
        if (path[0] != '/')
            return false;
        const char* s = path;
        while (*s == '/')
            ++s;
        if (!(starts_with(s, "sys/") || starts_with(s, "proc/") || starts_with(s, "dev/cpu") || strstr(path, "/.")) ||
            !normalize(path, lexical))
            return false;
    }
    if (!may_be_in_views(lexical))
        return false;
    /* A remote caller in another root or mount namespace (a chroot, a container) names other files:
     * the supervisor must not open its own for it. Asked only here, of a path that may be a view's:
     * it costs three looks at /proc (most of a trapped open), and every other path goes to the host
     * either way. */
    if (!caller.shares_files())
        return false;
    /* The walk's state (2 KiB of paths) in scratch memory, not on the caller's stack. */
    Scratch walk_memory(sizeof(Walk));
    if (!walk_memory.data()) {
        classify_canonical("", out);
        out->kind = VfsKind::Error;
        out->error = -ENOMEM;
        return true;
    }
    Walk& w = *new (walk_memory.data()) Walk(caller);
    w.follow = follow;
    w.path = path;
    w.start = start ? start : "";
    w.resolve = resolve;
    w.node = out;
    /* A remote caller's rights on files are taken only if the walk asks the host anything (a path of
     * known directories to a file already generated asks nothing). */
    FileRightsHold rights(caller);
    w.rights = &rights;
    const long result = walk(w);
    if (result == kHostResolves)
        return false;
    if (result < 0) {
        /* Nothing is named: only the error and what an O_CREAT would meet are told. */
        classify_canonical("", out);
        out->kind = VfsKind::Error;
        out->error = static_cast<int>(result);
        out->last_missing = w.last_missing;
        out->trailing_slash = names_a_directory(path);
        return true;
    }
    const char* resolved = w.length ? w.canon : "/";
    if (!classify_canonical(resolved, out)) {
        if (out->virt[0] == '\0' || !w.mapped)
            return false; /* outside the views, reached the way the host reaches it */
        /* Outside the views, but through them (cpuV/subsystem/...): where that leads on the host. */
        out->kind = VfsKind::Redirect;
        memcpy(out->real, out->virt, strlen(out->virt) + 1);
    }
    out->mode = w.mode;
    if (out->kind == VfsKind::Link)
        out->mode = S_IFLNK | 0777;
    out->trailing_slash = names_a_directory(path);
    out->mapped = w.mapped || strcmp(out->real, out->virt) != 0;
    return true;
}

namespace {

/* Relative names worth a question to the host about the directory they start from (a readlink, a
 * getcwd): only these can lead into a view. */
bool may_lead_into_views(const char* relative) {
    static const char* const kWords[] = {"cpu",     "node",    "online",   "possible", "present",  "offline",
                                         "kernel_max", "stat", "has_",    "sys/",     "proc/",    "..",
                                         "smt",     "enabled", "isolated", "nohz",     "meminfo",  "distance",
                                         "index",   "_id",     "siblings", "shared"};
    for (const char* word : kWords)
        if (strstr(relative, word))
            return true;
    /* The per-CPU /proc files and the interrupts' masks (procfs_cpus.cpp). */
    return strstr(relative, "irq") || strstr(relative, "interrupts") || strstr(relative, "affinity");
}

/* The directory a path of the calling thread starts from, canonical, into dir: asked of the host
 * only when `needed` or when the name may lead into the views. */
bool start_directory(int dirfd, const char* path, bool needed, char* dir) {
    needed = needed || may_lead_into_views(path);
    if (dirfd == AT_FDCWD) {
        /* The virtual current directory, or the host's. */
        return vfs_cwd(dir) || (needed && PalFileGetCwd(dir, kVfsPathMax) > 0 && dir[0] == '/');
    }
    if (vfs_dir_path(dirfd, dir))
        return true;
    /* A directory the program opened without the LibOS's help, e.g. through opendir of /sys. Its name
     * is only a name: the descriptor must be a directory (the kernel's ENOTDIR otherwise, which the
     * host gives), and the very one that name reaches (not one of a detached mount or of another
     * namespace, whose name reads "/" or a path of another tree): else the call is the host's. */
    ProcPath link = ProcPath::self();
    if (!needed ||
        PalFileReadLink(link.leaf("fd").number(static_cast<uint64_t>(dirfd)).c_str(), dir, kVfsPathMax) <= 0 ||
        dir[0] != '/')
        return false;
    struct stat fd_st, path_st;
    return PalFileStat(dirfd, &fd_st) == 0 && S_ISDIR(fd_st.st_mode) &&
           PalFileStatAt(AT_FDCWD, dir, &path_st, 0) == 0 && fd_st.st_dev == path_st.st_dev &&
           fd_st.st_ino == path_st.st_ino;
}

}  // namespace

/* Resolves the program's (dirfd, path). False: not a virtual path (or not readable: the host
 * reports that), and the call must go to the host untouched. */
bool vfs_resolve(Caller caller, int dirfd, uintptr_t user_path, VfsPath* out, VfsFollow follow, uint64_t resolve) {
    if (!vfs_active() || !user_path)
        return false;
    /* A path of kVfsPathMax bytes or more (up to the kernel's PATH_MAX) is read into a mapping:
     * "/sys/devices/system/cpu/./././.../cpu5/online" still names the view. */
    char short_path[kVfsPathMax];
    MappedBuffer long_path(0);
    const char* path = short_path;
    long copied = caller.copy_string_in(short_path, user_path, sizeof(short_path));
    if (copied == -ENAMETOOLONG) {
        if (!long_path.map(kPathMax)) {
            /* No memory for the path: the kernel's getname fails so (ENOMEM) when it has none, and the
             * host's answer, which may not be the machine's, is not given instead. */
            classify_canonical("", out);
            out->kind = VfsKind::Error;
            out->error = -ENOMEM;
            out->last_missing = false;
            out->trailing_slash = false;
            return true;
        }
        copied = caller.copy_string_in(long_path.data, user_path, kPathMax);
        path = long_path.data;
    }
    if (copied <= 0)
        return false;
    /* RESOLVE_BENEATH and RESOLVE_IN_ROOT are about the start directory even for an absolute path;
     * otherwise an absolute path starts at "/". */
    const bool scoped = resolve & (0x08 | 0x10);
    if (path[0] == '/' && !scoped && !(resolve & 0x01))
        return vfs_classify(caller, path, out, follow, resolve);
    char dir[kVfsPathMax];
    bool have_dir = caller.is_remote() ? caller.remote_directory(dirfd, dir, sizeof(dir))
                                       : start_directory(dirfd, path, scoped || (resolve & 0x01), dir);
    if (!have_dir)
        return path[0] == '/' && vfs_classify(caller, path, out, follow, resolve);
    return vfs_classify(caller, path, out, follow, resolve, dir);
}

}  // namespace libos
