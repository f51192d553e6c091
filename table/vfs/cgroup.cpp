/* The cgroup cpuset files on the machine (vfs_internal.h): the CPUs and memory nodes a cgroup allows,
 * which hwloc, the JVM and container-aware runtimes read as the CPUs they may use.
 *
 * cgroup v1 mounts the cpuset controller on its own (/sys/fs/cgroup/cpuset/<path>/) and names the
 * files cpuset.{cpus,effective_cpus,mems,effective_mems}; v2 has one hierarchy
 * (/sys/fs/cgroup/<path>/, or /sys/fs/cgroup/unified/ on a hybrid host) with
 * cpuset.{cpus,cpus.effective,cpus.exclusive,cpus.exclusive.effective,cpus.isolated,mems,
 * mems.effective}. Every cgroup's files are rewritten, by name, whichever cgroup they belong to: the
 * host's CPU set becomes the vCPUs whose host CPU is in it, and its node set the machine's nodes
 * whose vCPUs' host nodes meet it. For the program's own cgroup (/proc/self/cgroup) and its ancestors,
 * which allow every host CPU the machine runs on, that is every vCPU and every node. An empty set
 * (v2's "no limit of its own") stays empty. */
#include <errno.h>
#include <string.h>

#include "libos/libos_machine.h"
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

}  // namespace

bool cgroup_may_name(const char* lexical) {
    return starts_with(lexical, kCgroupRoot) && starts_with(last_component(lexical), "cpuset.");
}

bool classify_cgroup(const char* path, VfsPath* out) {
    if (!starts_with(path, kCgroupRoot))
        return false;
    int which = cpuset_file(last_component(path));
    if (which == 0)
        return false;
    size_t n = strlen(path);
    if (n + 1 > kVfsPathMax)
        return false;
    out->kind = VfsKind::Generated;
    out->file = which == 1 ? VfsFile::CgroupCpus : VfsFile::CgroupMems;
    memcpy(out->real, path, n + 1);
    memcpy(out->source, path, n + 1);
    return true;
}

long write_cgroup(Caller caller, const VfsPath& path, Out& out) {
    CpuBits host, set;
    if (long ret = read_host_set(caller, path.real, &host); ret < 0)
        return ret;
    if (path.file == VfsFile::CgroupCpus) {
        to_virtual(host, &set);
    } else {
        memset(&set, 0, sizeof(set));
        for (uint32_t node = 0; node < vnode_count(); ++node) {
            CpuBits hosts;
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
