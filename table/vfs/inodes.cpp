/* The inodes of the views' directories and links (libos_vfs.h: vfs_machine_ino).
 *
 * Each machine entry is its host entry underneath: cpuV/ is the host's cpuH/ of V's host CPU, nodeK/
 * the host's directory of K's first host node. When several vCPUs share a host CPU (eight vCPUs on
 * two host CPUs), or several nodes a host node, their directories would share the host directory's
 * inode, and a walker that visits each directory once by its inode (ftw, nftw without FTW_PHYS,
 * fts with FTS_LOGICAL, find -L, du -L) would list only the first of them. So every directory and
 * link at or below such an entry has an inode of its own, made from the host inode and the entry's
 * number, except for the entry of the lowest number, which keeps the host's: a machine that uses
 * each host CPU and node at most once (a machine equal to the host, a renumbered subset) shows only
 * real inodes.
 *
 * The stat family (stat, lstat, fstatat, statx, and fstat of a directory opened through the views)
 * and the listings' d_ino give the same number. Regular files keep the host file's inode: an opened
 * file's fstat is the host's (the host file's descriptor), and no walker compares files' inodes.
 *
 * A made inode has bit 58 (a vCPU's entry) or 59 (a node's) set, the entry's number plus one in bits
 * 40-53, and the host inode's low 40 bits below: distinct for distinct entries and host inodes, and
 * far above sysfs's and devtmpfs's own numbers (kernfs numbers its nodes from 1, generation above 32). */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <atomic>

#include "libos/libos_machine.h"
#include "libos/libos_topology.h"
#include "vfs/vfs_internal.h"

namespace libos {
namespace {

constexpr uint64_t kCpuEntry = 1ull << 58, kNodeEntry = 1ull << 59;
constexpr int kNumberShift = 40;
constexpr uint64_t kHostBits = (1ull << kNumberShift) - 1;

/* Whether some vCPU shares a host CPU: 0 unknown, 1 none does, 2 some do. The map does not change
 * while the process runs. */
constinit std::atomic<int> g_cpus_shared{0};

bool any_cpu_shared() {
    int known = g_cpus_shared.load(std::memory_order_relaxed);
    if (known == 0) {
        CpuBits seen;
        memset(&seen, 0, sizeof(seen));
        bool shared = false;
        for (uint32_t v = 0; v < vcpu_count() && !shared; ++v) {
            shared = seen.has(host_cpu_of(v));
            seen.add(host_cpu_of(v));
        }
        known = shared ? 2 : 1;
        g_cpus_shared.store(known, std::memory_order_relaxed);
    }
    return known == 2;
}

/* Whether vCPU v's host CPU is also a lower vCPU's. */
bool cpu_follows_another(uint32_t v) {
    if (v >= vcpu_count() || !any_cpu_shared())
        return false;
    const uint16_t host = host_cpu_of(v);
    for (uint32_t w = 0; w < v; ++w)
        if (host_cpu_of(w) == host)
            return true;
    return false;
}

uint32_t first_host_node_of(uint32_t node) {
    CpuBits hosts;
    vnode_host_nodes(node, &hosts);
    uint32_t h = 0;
    while (h < kMaxVcpus && !hosts.has(h))
        ++h;
    return h;
}

/* Whether node k's directory (its first host node's) is also a lower node's. */
bool node_follows_another(uint32_t k) {
    if (k >= vnode_count() || k == 0)
        return false;
    const uint32_t host = first_host_node_of(k);
    for (uint32_t j = 0; j < k; ++j)
        if (first_host_node_of(j) == host)
            return true;
    return false;
}

uint64_t made(uint64_t family, uint32_t number, uint64_t host_ino) {
    return family | (static_cast<uint64_t>(number) + 1) << kNumberShift | (host_ino & kHostBits);
}

/* The number of the entry `virt` is at or below, after `root` + "/" + `prefix`; false if none. */
bool entry_number(const char* virt, const char* root, const char* prefix, uint32_t* number, const char** rest) {
    size_t root_length = strlen(root);
    if (strncmp(virt, root, root_length) != 0 || virt[root_length] != '/')
        return false;
    const char* name = virt + root_length + 1;
    size_t n = strcspn(name, "/");
    if (!numbered(name, n, prefix, number))
        return false;
    *rest = name + n;
    return true;
}

}  // namespace

uint64_t vfs_machine_ino(const char* virt, uint64_t host_ino) {
    uint32_t number;
    const char* rest;
    if (entry_number(virt, kCpuRoot, "cpu", &number, &rest) ||
        (entry_number(virt, kBusCpuRoot, "cpu", &number, &rest) && !*rest) ||
        entry_number(virt, kDevCpuRoot, "", &number, &rest))
        return cpu_follows_another(number) ? made(kCpuEntry, number, host_ino) : host_ino;
    if (entry_number(virt, kBusNodeRoot, "node", &number, &rest) && !*rest)
        return node_follows_another(number) ? made(kNodeEntry, number, host_ino) : host_ino;
    if (entry_number(virt, kNodeRoot, "node", &number, &rest)) {
        uint32_t v;
        /* nodeK/cpuV is vCPU V's link. */
        if (*rest == '/' && numbered(rest + 1, strlen(rest + 1), "cpu", &v))
            return cpu_follows_another(v) ? made(kCpuEntry, v, host_ino) : host_ino;
        return node_follows_another(number) ? made(kNodeEntry, number, host_ino) : host_ino;
    }
    return host_ino;
}

uint64_t vfs_machine_ino_of(const char* virt, mode_t mode, uint64_t host_ino) {
    /* Directories, links, and /dev/cpu/V's devices (V's cpuid is the host CPU's, shared). */
    return S_ISDIR(mode) || S_ISLNK(mode) || S_ISCHR(mode) ? vfs_machine_ino(virt, host_ino) : host_ino;
}

namespace {

/* How many numbered directories (cpuH/, nodeH/, H/) host directory `dir` holds: counted once per
 * process (sysfs keeps a CPU's and a node's directories while the host runs). kUnknown: unreadable. */
constexpr uint64_t kUnknown = ~0ull;
struct HostRecord { /* linux_dirent64 */
    uint64_t ino;
    int64_t off;
    uint16_t reclen;
    uint8_t type;
    char name[1];
};
constinit std::atomic<uint64_t> g_host_numbered[3] = {};  /* the count + 1; 0: not counted yet */

uint64_t host_numbered(int which, const char* dir, const char* prefix) {
    if (uint64_t known = g_host_numbered[which].load(std::memory_order_relaxed))
        return known - 1;
    long fd = PalFileOpen(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0)
        return kUnknown;
    uint64_t count = 0;
    alignas(8) char buf[1024];
    long n;
    while ((n = PalFileReadDir(static_cast<int>(fd), buf, sizeof(buf))) > 0) {
        for (long at = 0; at < n;) {
            const auto* e = reinterpret_cast<const HostRecord*>(buf + at);
            uint32_t number;
            if (e->type == DT_DIR && numbered(e->name, strlen(e->name), prefix, &number))
                ++count;
            at += e->reclen;
        }
    }
    PalFileClose(static_cast<int>(fd));
    if (n < 0)
        return kUnknown;
    g_host_numbered[which].store(count + 1, std::memory_order_relaxed);
    return count;
}

}  // namespace

uint64_t vfs_machine_nlink(const char* virt, mode_t mode, uint64_t host_nlink) {
    if (!S_ISDIR(mode))
        return host_nlink;
    int which;
    uint64_t machine;
    const char* prefix;
    if (strcmp(virt, kCpuRoot) == 0) {
        which = 0, machine = vcpu_count(), prefix = "cpu";
    } else if (strcmp(virt, kNodeRoot) == 0) {
        which = 1, machine = vnode_count(), prefix = "node";
    } else if (strcmp(virt, kDevCpuRoot) == 0) {
        which = 2, machine = vcpu_count(), prefix = "";
    } else {
        return host_nlink;
    }
    const uint64_t host = host_numbered(which, virt, prefix);
    if (host == kUnknown || host > host_nlink)
        return host_nlink;
    return host_nlink - host + machine;
}

bool vfs_listing_kind(const VfsPath& p, VfsDir* dir, int32_t* node) {
    if (p.kind == VfsKind::Directory && p.dir != VfsDir::Plain) {
        *dir = p.dir;
        *node = p.node;
        return true;
    }
    if ((p.kind != VfsKind::Directory && p.kind != VfsKind::Redirect) || !S_ISDIR(p.mode))
        return false;
    uint32_t number;
    const char* rest;
    if (entry_number(p.virt, kCpuRoot, "cpu", &number, &rest) && *rest && cpu_follows_another(number)) {
        *dir = VfsDir::BelowCpu;
    } else if (entry_number(p.virt, kNodeRoot, "node", &number, &rest) && *rest && node_follows_another(number)) {
        *dir = VfsDir::BelowNode;
    } else {
        return false;
    }
    *node = static_cast<int32_t>(number);
    return true;
}

uint64_t listing_ino(VfsDir dir, int32_t node, const char* name, unsigned char type, uint64_t host_ino) {
    if (type != DT_DIR && type != DT_LNK)
        return host_ino;
    if (dir == VfsDir::BelowCpu)
        return made(kCpuEntry, static_cast<uint32_t>(node), host_ino);
    if (dir == VfsDir::BelowNode)
        return made(kNodeEntry, static_cast<uint32_t>(node), host_ino);
    char virt[kVfsPathMax];
    TextBuilder path(virt, sizeof(virt));
    switch (dir) {
        case VfsDir::CpuRoot:
            path.add(kCpuRoot);
            break;
        case VfsDir::BusCpu:
            path.add(kBusCpuRoot);
            break;
        case VfsDir::BusNode:
            path.add(kBusNodeRoot);
            break;
        case VfsDir::DevCpu:
            path.add(kDevCpuRoot);
            break;
        case VfsDir::NodeRoot:
            path.add(kNodeRoot);
            break;
        case VfsDir::Node:
            path.add(kNodeRoot).add("/node").unum(static_cast<uint32_t>(node));
            break;
        case VfsDir::Cpu:
            path.add(kCpuRoot).add("/cpu").unum(static_cast<uint32_t>(node));
            break;
        default:
            return host_ino;
    }
    path.add("/").add(name);
    return vfs_machine_ino(virt, host_ino);
}

}  // namespace libos
