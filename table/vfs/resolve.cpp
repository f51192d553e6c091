/* A program's path as the views see it (libos_vfs.h): made absolute (against the virtual current
 * directory, a remembered directory descriptor, or a remote caller's own), normalized, and
 * classified: which view it names, if any. */
#include <fcntl.h>
#include <string.h>

#include "libos/libos_init.h"
#include "libos/libos_machine.h"
#include "vfs/vfs_internal.h"

namespace libos {
namespace {

/* The length of the path component at s (up to the next '/'). */
size_t component_length(const char* s) {
    const char* slash = strchr(s, '/');
    return slash ? static_cast<size_t>(slash - s) : strlen(s);
}

}  // namespace

/* "cpu12" with prefix "cpu" -> 12; false unless the rest is a canonical decimal number. */
bool numbered(const char* component, size_t length, const char* prefix, uint32_t* value) {
    size_t p = strlen(prefix);
    if (length <= p || strncmp(component, prefix, p) != 0)
        return false;
    if (component[p] == '0' && length > p + 1)
        return false;
    uint64_t v = 0;
    for (size_t i = p; i < length; ++i) {
        if (component[i] < '0' || component[i] > '9' || v > 100000000)
            return false;
        v = v * 10 + static_cast<uint64_t>(component[i] - '0');
    }
    *value = static_cast<uint32_t>(v);
    return true;
}

/* Collapses "//", "/./" and "/x/.." of an absolute path. */
bool normalize(const char* path, char* out) {
    if (path[0] != '/')
        return false;
    size_t len = 0;
    out[0] = '\0';
    for (const char* p = path; *p;) {
        while (*p == '/')
            ++p;
        size_t n = component_length(p);
        if (n == 0)
            break;
        if (n == 1 && p[0] == '.') {
            /* nothing */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (len > 0 && out[len - 1] != '/')
                --len;
            if (len > 0)
                --len;
            out[len] = '\0';
        } else {
            if (len + 1 + n + 1 > kVfsPathMax)
                return false;
            out[len++] = '/';
            memcpy(out + len, p, n);
            len += n;
            out[len] = '\0';
        }
        p += n;
    }
    if (len == 0) {
        out[0] = '/';
        out[1] = '\0';
    }
    return true;
}

namespace {


bool copy_path(char* out, const char* a, const char* b = "", const char* c = "") {
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    if (la + lb + lc + 1 > kVfsPathMax)
        return false;
    memcpy(out, a, la);
    memcpy(out + la, b, lb);
    memcpy(out + la + lb, c, lc + 1);
    return true;
}

bool is_mask_name(const char* name) {
    static const char* const kMasks[] = {"core_cpus",    "thread_siblings", "core_siblings", "package_cpus",
                                         "die_cpus",     "cluster_cpus",    "book_siblings", "drawer_siblings",
                                         "shared_cpu_map"};
    for (const char* m : kMasks)
        if (strcmp(name, m) == 0)
            return true;
    return false;
}

void init_path(VfsPath* out) {
    out->kind = VfsKind::NotVirtual;
    out->file = VfsFile::None;
    out->dir = VfsDir::Plain;
    out->node = -1;
    out->tid = 0;
    out->thread_self = false;
    out->real[0] = '\0';
}

/* Everything under /sys/devices/system/cpu; `rest` follows "cpu/" (or is "" for the directory). */
bool classify_cpu(const char* rest, VfsPath* out) {
    if (*rest == '\0') {
        out->kind = VfsKind::Directory;
        out->dir = VfsDir::CpuRoot;
        return copy_path(out->real, kCpuRoot);
    }
    size_t n = component_length(rest);
    const char* after = rest + n; /* "" or "/..." */
    struct Fixed {
        const char* name;
        VfsFile file;
    };
    static const Fixed kFixed[] = {{"online", VfsFile::AllCpus},  {"possible", VfsFile::AllCpus},
                                   {"present", VfsFile::AllCpus}, {"offline", VfsFile::Offline},
                                   {"kernel_max", VfsFile::KernelMax}};
    for (const Fixed& f : kFixed) {
        if (*after == '\0' && strlen(f.name) == n && strncmp(rest, f.name, n) == 0) {
            out->kind = VfsKind::Generated;
            out->file = f.file;
            return copy_path(out->real, out->virt);
        }
    }
    uint32_t v;
    if (!numbered(rest, n, "cpu", &v))
        return false; /* cpufreq, vulnerabilities, ...: the host's */
    if (v >= vcpu_count()) {
        out->kind = VfsKind::Missing;
        return true;
    }
    char host_dir[64] = "/sys/devices/system/cpu/cpu";
    format_decimal(host_dir + strlen(host_dir), host_cpu_of(v));
    if (*after == '\0') {
        out->kind = VfsKind::Directory;
        return copy_path(out->real, host_dir);
    }
    if (strcmp(after, "/online") == 0) {
        out->kind = VfsKind::Generated;
        out->file = VfsFile::CpuOnline;
        return copy_path(out->real, host_dir, after);
    }
    const char* name = strrchr(after, '/') + 1;
    if (starts_with(after, "/topology/") || starts_with(after, "/cache/index")) {
        if (ends_with(name, "_list")) {
            out->kind = VfsKind::Generated;
            out->file = VfsFile::CpuSetList;
            return copy_path(out->real, host_dir, after);
        }
        if (is_mask_name(name)) {
            /* Read the host's list twin: shared_cpu_map -> shared_cpu_list, core_cpus -> core_cpus_list. */
            char twin[kVfsPathMax];
            if (!copy_path(twin, host_dir, after))
                return false;
            if (ends_with(twin, "_map"))
                twin[strlen(twin) - 4] = '\0';
            out->kind = VfsKind::Generated;
            out->file = VfsFile::CpuSetMask;
            return copy_path(out->real, twin, "_list");
        }
    }
    out->kind = VfsKind::Redirect;
    return copy_path(out->real, host_dir, after);
}

/* Everything under /sys/devices/system/node; `rest` follows "node/". */
bool classify_node(const char* rest, VfsPath* out) {
    if (strcmp(rest, "has_cpu") == 0) {
        out->kind = VfsKind::Generated;
        out->file = VfsFile::NodeHasCpu;
        return copy_path(out->real, out->virt);
    }
    size_t n = component_length(rest);
    uint32_t node;
    if (!numbered(rest, n, "node", &node))
        return false;
    out->node = static_cast<int32_t>(node);
    const char* after = rest + n;
    if (*after == '\0') {
        out->kind = VfsKind::Directory;
        out->dir = VfsDir::Node;
        return copy_path(out->real, out->virt);
    }
    if (strcmp(after, "/cpulist") == 0 || strcmp(after, "/cpumap") == 0) {
        out->kind = VfsKind::Generated;
        out->file = after[4] == 'l' ? VfsFile::NodeCpuList : VfsFile::NodeCpuMap;
        return copy_path(out->real, out->virt);
    }
    size_t m = component_length(after + 1);
    uint32_t v;
    if (!numbered(after + 1, m, "cpu", &v))
        return false;
    /* nodeN/cpuV is a link to ../../cpu/cpuV: only the vCPUs on node N have one. */
    if (v >= vcpu_count() || host_node_of(host_cpu_of(v)) != node) {
        out->kind = VfsKind::Missing;
        return true;
    }
    char target[kVfsPathMax];
    char number[16];
    format_decimal(number, v);
    if (!copy_path(target, "cpu/cpu", number, after + 1 + m))
        return false;
    return classify_cpu(target + 4, out);
}

bool parse_pid(const char* s, size_t n, pid_t* pid) {
    uint32_t v;
    char buf[16];
    if (n == 0 || n >= sizeof(buf) || s[0] == '0')
        return false;
    memcpy(buf + 1, s, n);
    buf[0] = 'x';
    if (!numbered(buf, n + 1, "x", &v) || v > 0x3fffffff)
        return false;
    *pid = static_cast<pid_t>(v);
    return true;
}

/* /proc/cpuinfo, /proc/stat and the status files. `rest` follows "/proc/". */
bool classify_proc(Caller caller, const char* rest, VfsPath* out) {
    if (strcmp(rest, "cpuinfo") == 0 || strcmp(rest, "stat") == 0) {
        out->kind = VfsKind::Generated;
        out->file = rest[0] == 'c' ? VfsFile::CpuInfo : VfsFile::Stat;
        return copy_path(out->real, out->virt);
    }
    if (!ends_with(rest, "/status"))
        return false;
    size_t n = component_length(rest);
    const char* after = rest + n;
    pid_t pid = 0;
    bool self = n == 4 && strncmp(rest, "self", 4) == 0;
    bool thread_self = n == 11 && strncmp(rest, "thread-self", 11) == 0;
    if (!self && !thread_self && !parse_pid(rest, n, &pid))
        return false;
    pid_t tid = pid;
    if (starts_with(after, "/task/") && !thread_self) {
        const char* t = after + 6;
        size_t m = component_length(t);
        if (!parse_pid(t, m, &tid) || strcmp(t + m, "/status") != 0)
            return false;
    } else if (strcmp(after, "/status") != 0) {
        return false;
    }
    out->kind = VfsKind::Generated;
    out->file = VfsFile::Status;
    if (caller.is_remote()) {
        /* Strict mode's supervisor: "self" is the remote thread's process, "thread-self" the remote
         * thread, and the host's file is named by number (the supervisor's own self is not it). */
        out->thread_self = false;
        if (thread_self) {
            pid = tid = caller.tid();
        } else if (self) {
            pid = caller.process();
            if (tid == 0)
                tid = pid;
        }
        out->tid = tid;
        ProcPath real(pid);
        if (tid != pid)
            real.leaf("task").number(static_cast<uint64_t>(tid));
        return copy_path(out->real, real.leaf("status").c_str());
    }
    out->thread_self = thread_self;
    /* "self" is the process: its leader, whose tid is the pid. */
    out->tid = thread_self ? 0 : (self && tid == 0) ? PalProcessGetId() : tid;
    return copy_path(out->real, out->virt);
}

/* Relative names worth resolving against a directory descriptor: only these can be virtual. */
bool may_be_virtual_name(const char* relative) {
    static const char* const kWords[] = {"cpu", "node", "online", "possible", "present", "offline",
                                         "kernel_max", "status", "stat", "has_cpu", ".."};
    for (const char* w : kWords)
        if (strstr(relative, w))
            return true;
    return false;
}

}  // namespace

bool vfs_active() {
    return is_virtual();
}

bool vfs_join(const char* dir, const char* relative, char* out) {
    char joined[kVfsPathMax * 2];
    size_t ld = strlen(dir), lr = strlen(relative);
    if (ld + lr + 2 > sizeof(joined))
        return false;
    memcpy(joined, dir, ld);
    joined[ld] = '/';
    memcpy(joined + ld + 1, relative, lr + 1);
    return normalize(joined, out);
}

bool vfs_classify(Caller caller, const char* path, VfsPath* out) {
    /* The cheap test first: almost every path a program opens is nowhere near these. */
    if (path[0] != '/' || !(starts_with(path, "/sys/") || starts_with(path, "/proc/") || strstr(path, "/.")))
        return false;
    init_path(out);
    if (!normalize(path, out->virt))
        return false;
    const char* p = out->virt;
    if (starts_with(p, kCpuRoot) && (p[sizeof(kCpuRoot) - 1] == '\0' || p[sizeof(kCpuRoot) - 1] == '/')) {
        const char* rest = p + sizeof(kCpuRoot) - 1;
        return classify_cpu(*rest ? rest + 1 : rest, out);
    }
    if (starts_with(p, kNodeRoot) && p[sizeof(kNodeRoot) - 1] == '/')
        return classify_node(p + sizeof(kNodeRoot), out);
    if (starts_with(p, "/proc/"))
        return classify_proc(caller, p + 6, out);
    return false;
}

/* Classifies the program's (dirfd, path). False: not a virtual path (or not readable: the host
 * reports that), and the call must go to the host untouched. */
bool vfs_resolve(Caller caller, int dirfd, uintptr_t user_path, VfsPath* out) {
    if (!vfs_active() || !user_path)
        return false;
    /* A remote caller in another root or mount namespace (a chroot, a container) names other files:
     * the supervisor must not open its own for it. */
    if (!caller.shares_files())
        return false;
    char path[kVfsPathMax];
    if (caller.copy_string_in(path, user_path, sizeof(path)) <= 0)
        return false;
    if (path[0] == '/')
        return vfs_classify(caller, path, out);
    char dir[kVfsPathMax];
    char joined[kVfsPathMax];
    if (caller.is_remote()) {
        /* Its current directory and descriptors are the host's, read through /proc (no name filter
         * here: in-process it saves a readlink on the common path; a trapped call has paid far more
         * already). */
        return caller.remote_directory(dirfd, dir, sizeof(dir)) && vfs_join(dir, path, joined) &&
               vfs_classify(caller, joined, out);
    }
    if (dirfd == AT_FDCWD) {
        /* Relative to the current directory: virtual only when that is a virtual directory. */
        return vfs_cwd(dir) && vfs_join(dir, path, joined) && vfs_classify(caller, joined, out);
    }
    if (!vfs_dir_path(dirfd, dir)) {
        if (!may_be_virtual_name(path))
            return false;
        /* A directory the program opened without the LibOS's help, e.g. through opendir of /sys. */
        ProcPath link = ProcPath::self();
        if (PalFileReadLink(link.leaf("fd").number(static_cast<uint64_t>(dirfd)).c_str(), dir, sizeof(dir)) <= 0 ||
            dir[0] != '/')
            return false;
    }
    return vfs_join(dir, path, joined) && vfs_classify(caller, joined, out);
}

bool vfs_absolute(const char* path, char* out) {
    if (path[0] == '/') {
        size_t n = strlen(path);
        if (n >= kVfsPathMax)
            return false;
        memcpy(out, path, n + 1);
        return true;
    }
    char cwd[kVfsPathMax];
    return vfs_cwd(cwd) && vfs_join(cwd, path, out);
}

}  // namespace libos
