/* What a resolved path names on the machine (vfs_internal.h: classify_canonical): which view, if
 * any, and the host file or directory behind it. The path is canonical: absolute, without ".", ".."
 * or repeated slashes, and without symbolic links but the last component's (resolve.cpp made it so). */
#include <errno.h>
#include <string.h>

#include "libos/libos_machine.h"
#include "vfs/vfs_internal.h"

namespace libos {
namespace {

/* The length of the path component at s (up to the next '/'). */
size_t component_length(const char* s) {
    const char* slash = strchr(s, '/');
    return slash ? static_cast<size_t>(slash - s) : strlen(s);
}

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

void missing(VfsPath* out) {
    out->kind = VfsKind::Error;
    out->error = -ENOENT;
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
        missing(out);
        return true;
    }
    char host_dir[64] = "/sys/devices/system/cpu/cpu";
    format_decimal(host_dir + strlen(host_dir), host_cpu_of(v));
    if (*after == '\0') {
        out->kind = VfsKind::Directory;
        return copy_path(out->real, host_dir);
    }
    if (!copy_path(out->real, host_dir, after))
        return false;
    if (strcmp(after, "/online") == 0) {
        out->kind = VfsKind::Generated;
        out->file = VfsFile::CpuOnline;
        return true;
    }
    const char* name = strrchr(after, '/') + 1;
    if (starts_with(after, "/topology/") || starts_with(after, "/cache/index")) {
        if (ends_with(name, "_list")) {
            out->kind = VfsKind::Generated;
            out->file = VfsFile::CpuSetList;
            return copy_path(out->source, out->real);
        }
        if (is_mask_name(name)) {
            /* Made from the host's list twin: shared_cpu_map -> shared_cpu_list, core_cpus ->
             * core_cpus_list. */
            if (!copy_path(out->source, out->real))
                return false;
            if (ends_with(out->source, "_map"))
                out->source[strlen(out->source) - 4] = '\0';
            out->kind = VfsKind::Generated;
            out->file = VfsFile::CpuSetMask;
            return copy_path(out->source, out->source, "_list");
        }
    }
    out->kind = VfsKind::Redirect;
    return true;
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
        missing(out);
        return true;
    }
    char number[16];
    format_decimal(number, v);
    if (after[1 + m] == '\0') {
        /* The link itself; the host's link of the same host CPU stands for it. */
        char host_name[16];
        format_decimal(host_name, host_cpu_of(v));
        out->kind = VfsKind::Link;
        char node_dir[kVfsPathMax];
        const size_t dir_length = static_cast<size_t>(after + 1 - out->virt); /* ".../nodeN/" */
        memcpy(node_dir, out->virt, dir_length);
        node_dir[dir_length] = '\0';
        return copy_path(out->real, node_dir, "cpu", host_name) && copy_path(out->source, "../../cpu/cpu", number);
    }
    /* Below the link (a path resolve.cpp did not make): where the link leads. */
    char target[kVfsPathMax];
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

/* /proc/cpuinfo, /proc/stat and the status files, /proc/<pid>/status and
 * /proc/<pid>/task/<tid>/status. `rest` follows "/proc/". */
bool classify_proc(const char* rest, VfsPath* out) {
    if (strcmp(rest, "cpuinfo") == 0 || strcmp(rest, "stat") == 0) {
        out->kind = VfsKind::Generated;
        out->file = rest[0] == 'c' ? VfsFile::CpuInfo : VfsFile::Stat;
        return copy_path(out->real, out->virt);
    }
    if (!ends_with(rest, "/status"))
        return false;
    size_t n = component_length(rest);
    const char* after = rest + n;
    pid_t pid;
    if (!parse_pid(rest, n, &pid))
        return false;
    pid_t tid = pid;
    if (starts_with(after, "/task/")) {
        const char* t = after + 6;
        size_t m = component_length(t);
        if (!parse_pid(t, m, &tid) || strcmp(t + m, "/status") != 0)
            return false;
    } else if (strcmp(after, "/status") != 0) {
        return false;
    }
    out->kind = VfsKind::Generated;
    out->file = VfsFile::Status;
    out->tid = tid;
    return copy_path(out->real, out->virt) && copy_path(out->source, out->virt);
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

bool classify_canonical(const char* path, VfsPath* out) {
    out->kind = VfsKind::NotVirtual;
    out->file = VfsFile::None;
    out->dir = VfsDir::Plain;
    out->node = -1;
    out->tid = 0;
    out->error = 0;
    out->mode = 0;
    out->trailing_slash = false;
    out->mapped = false;
    out->last_missing = false;
    out->real[0] = '\0';
    out->source[0] = '\0';
    if (!copy_path(out->virt, path))
        return false;
    const char* p = out->virt;
    if (starts_with(p, kCpuRoot) && (p[sizeof(kCpuRoot) - 1] == '\0' || p[sizeof(kCpuRoot) - 1] == '/')) {
        const char* rest = p + sizeof(kCpuRoot) - 1;
        return classify_cpu(*rest ? rest + 1 : rest, out);
    }
    if (starts_with(p, kNodeRoot) && p[sizeof(kNodeRoot) - 1] == '/')
        return classify_node(p + sizeof(kNodeRoot), out);
    if (starts_with(p, "/proc/"))
        return classify_proc(p + 6, out);
    return false;
}

}  // namespace libos
