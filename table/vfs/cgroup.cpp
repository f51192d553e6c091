/* The cgroup files that name CPUs or limit them (vfs_internal.h): the CPUs and memory nodes a cgroup
 * allows, which hwloc, the JVM and container-aware runtimes read as the CPUs they may use, and the
 * CPU controller's quota, which the same runtimes read as how many CPUs' worth of time they have.
 *
 * cpusets: cgroup v1 mounts the cpuset controller on its own (/sys/fs/cgroup/cpuset/<path>/) and names
 * the files cpuset.{cpus,effective_cpus,mems,effective_mems}; v2 has one hierarchy
 * (/sys/fs/cgroup/<path>/, or /sys/fs/cgroup/unified/ on a hybrid host) with
 * cpuset.{cpus,cpus.effective,cpus.exclusive,cpus.exclusive.effective,cpus.isolated,mems,
 * mems.effective}. Every cgroup's files are rewritten, by name, whichever cgroup they belong to: the
 * host's CPU set becomes the vCPUs whose host CPU is in it, and its node set the machine's nodes
 * whose vCPUs' host nodes meet it. For the program's own cgroup (/proc/self/cgroup) and its ancestors,
 * which allow every host CPU the machine runs on, that is every vCPU and every node. An empty set
 * (v2's "no limit of its own") stays empty.
 *
 * Quotas (libos_quota.h): v2's cpu.max ("QUOTA PERIOD", or "max PERIOD") and v1's
 * cpu.cfs_quota_us (QUOTA, or -1; /sys/fs/cgroup/<a mount naming cpu>/<path>/) show the machine's
 * quota, or none, in the program's own cgroup and its ancestors: the machine is what limits the
 * program, not the host's cgroups around it. The period stays the host's. Other cgroups' files are
 * the host's, unchanged. */
#include <errno.h>
#include <string.h>

#include "libos/libos_machine.h"
#include "libos/libos_quota.h"
#include "libos/libos_topology.h"
#include "vfs/vfs_internal.h"

namespace libos {
namespace {

constexpr char kCgroupRoot[] = "/sys/fs/cgroup/";

/* Which cpuset file the last component `name` is: 1 a CPU set, 2 a node set, 0 neither. */
int cpuset_file(const char* name) {
    static const char* const kCpus[] = {"cpuset.cpus",           "cpuset.effective_cpus",
                                        "cpuset.cpus.effective", "cpuset.cpus.exclusive",
                                        "cpuset.cpus.exclusive.effective", "cpuset.cpus.isolated"};
    static const char* const kMems[] = {"cpuset.mems", "cpuset.effective_mems", "cpuset.mems.effective"};
    for (const char* c : kCpus)
        if (strcmp(name, c) == 0)
            return 1;
    for (const char* m : kMems)
        if (strcmp(name, m) == 0)
            return 2;
    return 0;
}

const char* last_component(const char* path) {
    const char* slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

constexpr char kCpuMax[] = "cpu.max";
constexpr char kCfsQuota[] = "cpu.cfs_quota_us";

/* A decimal number at *p, which is advanced past it; false without a digit. */
bool read_number(const char** p, uint64_t* value) {
    const char* s = *p;
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return false;
    while (*s >= '0' && *s <= '9' && v < (1ULL << 60))
        v = v * 10 + static_cast<uint64_t>(*s++ - '0');
    *p = s;
    *value = v;
    return true;
}

/* Whether hierarchy line `line` of /proc/<pid>/cgroup ("ID:CONTROLLERS:PATH") is v2's ("0::") or,
 * for v1, names `controller` among its comma-separated controllers. */
bool line_is(const char* line, size_t length, bool v2, const char* controller) {
    const char* first = static_cast<const char*>(memchr(line, ':', length));
    if (!first)
        return false;
    const char* list = first + 1;
    const char* second = static_cast<const char*>(memchr(list, ':', length - static_cast<size_t>(list - line)));
    if (!second)
        return false;
    if (v2)
        return first - line == 1 && line[0] == '0' && second == list;
    size_t want = strlen(controller);
    for (const char* c = list; c < second;) {
        const char* comma = static_cast<const char*>(memchr(c, ',', static_cast<size_t>(second - c)));
        const char* end = comma ? comma : second;
        if (static_cast<size_t>(end - c) == want && memcmp(c, controller, want) == 0)
            return true;
        c = end + 1;
    }
    return false;
}

/* Whether cgroup `dir` (a path inside its hierarchy: "" for the root, else "/a/b") is the caller's
 * own cgroup in that hierarchy (v2, or v1's cpu controller) or one of its ancestors. */
bool holds_caller(Caller caller, const char* dir, size_t dir_length, bool v2) {
    if (dir_length == 0)
        return true; /* the hierarchy's root holds every process */
    constexpr size_t kText = 4096;
    Scratch scratch(kText);
    char* text = scratch.data();
    if (!text)
        return false;
    long len = caller.read_file(ProcPath(caller.process()).leaf("cgroup").c_str(), text, kText);
    if (len <= 0)
        return false;
    for (const char* line = text; line < text + len;) {
        const char* nl = static_cast<const char*>(memchr(line, '\n', static_cast<size_t>(text + len - line)));
        size_t length = static_cast<size_t>((nl ? nl : text + len) - line);
        if (line_is(line, length, v2, "cpu")) {
            const char* own = static_cast<const char*>(memchr(line, ':', length)) + 1;
            own = static_cast<const char*>(memchr(own, ':', length - static_cast<size_t>(own - line))) + 1;
            size_t own_length = length - static_cast<size_t>(own - line);
            return own_length >= dir_length && memcmp(own, dir, dir_length) == 0 &&
                   (own_length == dir_length || own[dir_length] == '/');
        }
        line = nl ? nl + 1 : text + len;
    }
    return false;
}

/* The cgroup directory of a quota file, inside its hierarchy, into *dir and *length: for v2 past
 * /sys/fs/cgroup (or its hybrid unified/), for v1 past /sys/fs/cgroup/<mount>/. */
void quota_dir(const char* path, bool v2, bool unified, const char** dir, size_t* length) {
    const char* rest = path + sizeof(kCgroupRoot) - 2; /* at the slash after "cgroup" */
    if (!v2 || unified) {
        const char* slash = strchr(rest + 1, '/');
        rest = slash ? slash : rest;
    }
    *dir = rest;
    *length = static_cast<size_t>(last_component(path) - 1 - rest);
}

/* The quota file's content: the machine's quota where the file is the caller's cgroup's or an
 * ancestor's, the host's otherwise. */
long write_quota(Caller caller, const VfsPath& path, Out& out) {
    char host[128];
    long len = caller.read_file(path.real, host, sizeof(host) - 1);
    if (len < 0)
        return len;
    host[len] = '\0';
    bool v2 = path.file == VfsFile::CgroupCpuMax;
    const char* dir;
    size_t dir_length;
    quota_dir(path.real, v2, false, &dir, &dir_length);
    bool ours = holds_caller(caller, dir, dir_length, v2);
    if (!ours && v2 && starts_with(path.real, "/sys/fs/cgroup/unified/")) {
        quota_dir(path.real, v2, true, &dir, &dir_length);
        ours = holds_caller(caller, dir, dir_length, v2);
    }
    if (!ours) {
        out.add(host, static_cast<size_t>(len));
        return 0;
    }
    uint64_t period = 0;
    if (v2) {
        /* "QUOTA PERIOD" or "max PERIOD" */
        const char* space = strchr(host, ' ');
        const char* p = space ? space + 1 : host;
        if (!space || !read_number(&p, &period))
            return -EIO;
    } else {
        /* The period is its sibling's, cpu.cfs_period_us (no longer than the quota's name). */
        size_t stem = static_cast<size_t>(last_component(path.real) - path.real);
        FixedText<kVfsPathMax> name;
        name.add(path.real, stem).add("cpu.cfs_period_us");
        char text[32];
        long n = caller.read_file(name.data(), text, sizeof(text) - 1);
        if (n < 0)
            return n;
        text[n] = '\0';
        const char* p = text;
        if (!read_number(&p, &period))
            return -EIO;
    }
    uint32_t milli = machine_quota_milli();
    if (milli)
        out.unum(static_cast<uint64_t>(milli) * period / kQuotaScale);
    else
        out.add(v2 ? "max" : "-1");
    if (v2)
        out.ch(' ').unum(period);
    out.add("\n");
    return 0;
}

}  // namespace

bool cgroup_may_name(const char* lexical) {
    if (!starts_with(lexical, kCgroupRoot))
        return false;
    const char* name = last_component(lexical);
    return starts_with(name, "cpuset.") || strcmp(name, kCpuMax) == 0 || strcmp(name, kCfsQuota) == 0;
}

bool classify_cgroup(const char* path, VfsPath* out) {
    if (!starts_with(path, kCgroupRoot))
        return false;
    const char* name = last_component(path);
    VfsFile file;
    if (int which = cpuset_file(name))
        file = which == 1 ? VfsFile::CgroupCpus : VfsFile::CgroupMems;
    else if (strcmp(name, kCpuMax) == 0)
        file = VfsFile::CgroupCpuMax;
    else if (strcmp(name, kCfsQuota) == 0 && strchr(path + sizeof(kCgroupRoot) - 1, '/') != nullptr)
        file = VfsFile::CgroupCfsQuota; /* v1's, below the mount of its controller */
    else
        return false;
    size_t n = strlen(path);
    if (n + 1 > kVfsPathMax)
        return false;
    out->kind = VfsKind::Generated;
    out->file = file;
    memcpy(out->real, path, n + 1);
    memcpy(out->source, path, n + 1);
    return true;
}

long write_cgroup(Caller caller, const VfsPath& path, Out& out) {
    if (path.file == VfsFile::CgroupCpuMax || path.file == VfsFile::CgroupCfsQuota)
        return write_quota(caller, path, out);
    struct Work {
        CpuBits host, set, hosts;
    };
    ScratchOf<Work> work;
    if (!work)
        return -ENOMEM;
    CpuBits &host = work->host, &set = work->set;
    if (long ret = read_host_set(caller, path.real, &host); ret < 0)
        return ret;
    if (path.file == VfsFile::CgroupCpus) {
        to_virtual(host, &set);
    } else {
        memset(&set, 0, sizeof(set));
        for (uint32_t node = 0; node < vnode_count(); ++node) {
            CpuBits& hosts = work->hosts;
            vnode_host_nodes(node, &hosts);
            for (uint32_t w = 0; w < kMaskWords; ++w) {
                if (hosts.words[w] & host.words[w]) {
                    set.add(node);
                    break;
                }
            }
        }
    }
    put_list(out, set);
    return 0;
}

}  // namespace libos
