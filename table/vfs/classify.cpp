/* What a resolved path names on the machine (vfs_internal.h: classify_canonical): which view, if
 * any, and the host file or directory behind it. The path is canonical: absolute, without ".", ".."
 * or repeated slashes, and without symbolic links but the last component's (resolve.cpp made it so). */
#include <errno.h>
#include <string.h>

#include "libos/libos_machine.h"
#include "libos/libos_topology.h"
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

/* The topology directory's sets, each a list ("_list") and a mask. */
struct SetName {
    const char* name;
    SiblingSet set;
};
constexpr SetName kSets[] = {{"thread_siblings", SiblingSet::kCore}, {"core_cpus", SiblingSet::kCore},
                             {"core_siblings", SiblingSet::kPackage}, {"package_cpus", SiblingSet::kPackage},
                             {"die_cpus", SiblingSet::kDie},         {"cluster_cpus", SiblingSet::kCluster},
                             {"book_siblings", SiblingSet::kPackage}, {"drawer_siblings", SiblingSet::kPackage}};
constexpr const char* kIds[] = {"physical_package_id", "die_id", "cluster_id", "core_id"};

/* cpuV/topology/NAME: an id or a set of the model, or the host's file. */
void classify_topology(const char* name, VfsPath* out) {
    for (uint8_t i = 0; i < sizeof(kIds) / sizeof(kIds[0]); ++i) {
        if (strcmp(name, kIds[i]) == 0) {
            out->kind = VfsKind::Generated;
            out->file = VfsFile::TopologyId;
            out->item = i;
            return;
        }
    }
    const size_t n = strlen(name);
    for (const SetName& set : kSets) {
        const size_t m = strlen(set.name);
        if (strncmp(name, set.name, m) == 0 && (name[m] == '\0' || strcmp(name + m, "_list") == 0)) {
            out->kind = VfsKind::Generated;
            out->file = m == n ? VfsFile::TopologyMask : VfsFile::TopologyList;
            out->item = static_cast<uint8_t>(set.set);
            return;
        }
    }
    out->kind = VfsKind::Redirect;
}

/* cpuV/cache/indexI/NAME (`after_index` is "/NAME"): the sharing and id of a chosen shape's caches;
 * the host's sets, translated, in the host layout, with ids of the machine; the rest is the host's. */
bool classify_cache(const char* after_index, VfsPath* out) {
    const char* name = after_index + 1;
    const bool list = strcmp(name, "shared_cpu_list") == 0, map = strcmp(name, "shared_cpu_map") == 0;
    const bool id = strcmp(name, "id") == 0;
    if (*after_index != '/' || !(list || map || id)) {
        out->kind = VfsKind::Redirect;
        return true;
    }
    out->kind = VfsKind::Generated;
    /* source: the host's indexI directory (its level), or the host list for a translated set. */
    if (!copy_path(out->source, out->real))
        return false;
    out->source[strlen(out->source) - strlen(after_index)] = '\0';
    if (machine_shape().kind == ShapeKind::kHost && !id) {
        out->file = list ? VfsFile::CpuSetList : VfsFile::CpuSetMask;
        return copy_path(out->source, out->source, "/shared_cpu_list");
    }
    out->file = list ? VfsFile::CacheList : map ? VfsFile::CacheMask : VfsFile::CacheId;
    return true;
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
                                   {"present", VfsFile::AllCpus}, {"enabled", VfsFile::AllCpus},
                                   {"offline", VfsFile::Offline},
                                   {"kernel_max", VfsFile::KernelMax}};
    if (strcmp(rest, "smt/active") == 0 || strcmp(rest, "smt/control") == 0) {
        out->kind = VfsKind::Generated;
        out->file = rest[4] == 'a' ? VfsFile::SmtActive : VfsFile::SmtControl;
        return copy_path(out->real, out->virt);
    }
    if (strcmp(rest, "isolated") == 0 || strcmp(rest, "nohz_full") == 0) {
        /* The vCPUs whose host CPUs are isolated (or tickless). */
        out->kind = VfsKind::Generated;
        out->file = VfsFile::CpuSetList;
        return copy_path(out->real, out->virt) && copy_path(out->source, out->virt);
    }
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
    out->vcpu = v;
    if (*after == '\0') {
        out->kind = VfsKind::Directory;
        out->dir = VfsDir::Cpu;
        out->node = static_cast<int32_t>(v);
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
    if (starts_with(after, "/topology/") && name == after + 10) {
        classify_topology(name, out);
        return true;
    }
    if (starts_with(after, "/cache/index")) {
        uint32_t index;
        const char* index_name = after + 7;
        size_t m = component_length(index_name);
        if (numbered(index_name, m, "index", &index) && index_name[m] == '/' && !strchr(index_name + m + 1, '/'))
            return classify_cache(index_name + m, out);
    }
    uint32_t node;
    size_t m = component_length(after + 1);
    if (numbered(after + 1, m, "node", &node) && after[1 + m] == '\0') {
        /* cpuV/nodeK, a link to ../../node/nodeK: only its own node's. The host CPU's link stands
         * for it. */
        const uint32_t own = vcpu_place(v).node;
        if (node != own) {
            missing(out);
            return true;
        }
        char host_link[32] = "/node";
        format_decimal(host_link + 5, host_node_of(host_cpu_of(v)));
        char number[16];
        format_decimal(number, own);
        out->kind = VfsKind::Link;
        return copy_path(out->real, host_dir, host_link) && copy_path(out->source, "../../node/node", number);
    }
    out->kind = VfsKind::Redirect;
    return true;
}

/* Everything under /sys/devices/system/node; `rest` follows "node/" (or is "" for the directory).
 * The machine's nodes are 0..k-1; node K's directory is the host's of the first host node its vCPUs
 * are on. */
bool classify_node(const char* rest, VfsPath* out) {
    if (*rest == '\0') {
        out->kind = VfsKind::Directory;
        out->dir = VfsDir::NodeRoot;
        return copy_path(out->real, kNodeRoot);
    }
    static const char* const kLists[] = {"online", "possible", "has_cpu", "has_memory", "has_normal_memory"};
    for (const char* list : kLists) {
        if (strcmp(rest, list) == 0) {
            out->kind = VfsKind::Generated;
            out->file = VfsFile::NodeList;
            return copy_path(out->real, out->virt);
        }
    }
    size_t n = component_length(rest);
    uint32_t node;
    if (!numbered(rest, n, "node", &node))
        return false;
    if (node >= vnode_count()) {
        missing(out);
        return true;
    }
    out->node = static_cast<int32_t>(node);
    ScratchOf<CpuBits> scratch; /* not on the walk's stack (libos_scratch.h) */
    if (!scratch)
        return false;
    CpuBits& hosts = *scratch;
    vnode_host_nodes(node, &hosts);
    uint32_t host_node = 0;
    while (host_node < kMaxVcpus && !hosts.has(host_node))
        ++host_node;
    char host_dir[64];
    TextBuilder(host_dir, sizeof(host_dir)).add(kNodeRoot).add("/node").unum(host_node);
    const char* after = rest + n;
    if (*after == '\0') {
        out->kind = VfsKind::Directory;
        out->dir = VfsDir::Node;
        return copy_path(out->real, host_dir);
    }
    if (!copy_path(out->real, host_dir, after))
        return false;
    struct Fixed {
        const char* name;
        VfsFile file;
    };
    static const Fixed kFiles[] = {{"/cpulist", VfsFile::NodeCpuList},
                                   {"/cpumap", VfsFile::NodeCpuMap},
                                   {"/distance", VfsFile::NodeDistance},
                                   {"/meminfo", VfsFile::NodeMeminfo}};
    for (const Fixed& f : kFiles) {
        if (strcmp(after, f.name) == 0) {
            out->kind = VfsKind::Generated;
            out->file = f.file;
            return true;
        }
    }
    /* The counters: the host's own file where the node is one host node of its own (node_stats.cpp). */
    const bool numastat = strcmp(after, "/numastat") == 0;
    if ((numastat || strcmp(after, "/vmstat") == 0) && node_counters_shared(node)) {
        out->kind = VfsKind::Generated;
        out->file = numastat ? VfsFile::NodeNumastat : VfsFile::NodeVmstat;
        return true;
    }
    size_t m = component_length(after + 1);
    uint32_t v;
    if (!numbered(after + 1, m, "cpu", &v)) {
        out->kind = VfsKind::Redirect;
        return true;
    }
    /* nodeN/cpuV is a link to ../../cpu/cpuV: only the vCPUs on node N have one. */
    if (v >= vcpu_count() || vcpu_place(v).node != node) {
        missing(out);
        return true;
    }
    char number[16];
    format_decimal(number, v);
    if (after[1 + m] == '\0') {
        /* The link itself; the host's link of the same host CPU, in the host node's directory,
         * stands for it. */
        char host_name[16];
        format_decimal(host_name, host_cpu_of(v));
        out->kind = VfsKind::Link;
        return copy_path(out->real, host_dir, "/cpu", host_name) && copy_path(out->source, "../../cpu/cpu", number);
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
    if (classify_proc_cpus(rest, out) || classify_proc_numa(rest, out))
        return true;
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
    out->vcpu = 0;
    out->item = 0;
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
    if (starts_with(p, kNodeRoot) && (p[sizeof(kNodeRoot) - 1] == '\0' || p[sizeof(kNodeRoot) - 1] == '/')) {
        const char* rest = p + sizeof(kNodeRoot) - 1;
        return classify_node(*rest ? rest + 1 : rest, out);
    }
    if (starts_with(p, "/proc/"))
        return classify_proc(p + 6, out);
    return classify_cgroup(p, out) || classify_device(p, out) || classify_cpu_device(p, out);
}

}  // namespace libos
