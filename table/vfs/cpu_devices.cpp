/* The CPUs and nodes as devices (vfs_internal.h): /sys/bus/cpu/devices, whose cpuV entries are links
 * to ../../../devices/system/cpu/cpuV, /sys/bus/node/devices, whose nodeK entries are links to
 * ../../../devices/system/node/nodeK, and /dev/cpu, whose V/ directories hold the msr and cpuid device
 * nodes of CPU V (when those modules are loaded). On the machine they list the vCPUs and the machine's
 * nodes: cpuV and V/ exist for V < n, nodeK for K below the node count. A bus link stands on the
 * host's link of the vCPU's host CPU (of the node's first host node); /dev/cpu/V/ is the host's
 * /dev/cpu/H/, so that reading V's cpuid device runs the instruction where vCPU V runs. */
#include <errno.h>
#include <string.h>

#include "libos/libos_machine.h"
#include "libos/libos_topology.h"
#include "vfs/vfs_internal.h"

namespace libos {
namespace {

bool under(const char* path, const char* root, const char** rest) {
    const size_t n = strlen(root);
    if (strncmp(path, root, n) != 0 || (path[n] != '\0' && path[n] != '/'))
        return false;
    *rest = path[n] ? path + n + 1 : path + n;
    return true;
}

bool put(char* out, const char* a, uint64_t number, const char* b) {
    char text[kVfsPathMax];
    TextBuilder t(text, sizeof(text));
    t.add(a).unum(number).add(b);
    if (!t.room(0))
        return false;
    memcpy(out, t.data(), t.length() + 1);
    return true;
}

/* The V of the leading component "<prefix>V" of rest, with what follows it ("" or "/..."). */
bool leading_number(const char* rest, const char* prefix, uint32_t* v, const char** after) {
    const char* slash = strchr(rest, '/');
    const size_t n = slash ? static_cast<size_t>(slash - rest) : strlen(rest);
    *after = rest + n;
    return numbered(rest, n, prefix, v);
}

}  // namespace

bool vfs_cpu_device_minor(const VfsPath& path) {
    const char* rest;
    return path.kind == VfsKind::Redirect && under(path.virt, kDevCpuRoot, &rest) && strchr(rest, '/') &&
           (ends_with(rest, "/msr") || ends_with(rest, "/cpuid"));
}

bool vfs_cpu_device_vcpu(const char* virt, uint32_t* vcpu) {
    const char* rest;
    const char* after;
    return under(virt, kDevCpuRoot, &rest) && leading_number(rest, "", vcpu, &after) &&
           (strcmp(after, "/msr") == 0 || strcmp(after, "/cpuid") == 0);
}

bool cpu_device_may_name(const char* lexical) {
    const char* rest;
    return under(lexical, kBusCpuRoot, &rest) || under(lexical, kBusNodeRoot, &rest) || under(lexical, kDevCpuRoot, &rest);
}

namespace {

/* /sys/bus/node/devices and what is below it (`rest` follows the root). */
bool classify_bus_node(const char* path, const char* rest, VfsPath* out) {
    if (*rest == '\0') {
        out->kind = VfsKind::Directory;
        out->dir = VfsDir::BusNode;
        memcpy(out->real, path, strlen(path) + 1);
        return true;
    }
    uint32_t k;
    const char* after;
    if (!leading_number(rest, "node", &k, &after))
        return false; /* not a node's: the host's */
    if (k >= vnode_count()) {
        out->kind = VfsKind::Error;
        out->error = -ENOENT;
        return true;
    }
    out->node = static_cast<int32_t>(k);
    if (*after == '\0') {
        /* The host's link of the node's first host node stands for it (lstat, the inode). */
        ScratchOf<CpuBits> hosts; /* not on the walk's stack (libos_scratch.h) */
        if (!hosts)
            return false;
        vnode_host_nodes(k, hosts.get());
        uint32_t host = 0;
        while (host < kMaxVcpus && !hosts->has(host))
            ++host;
        out->kind = VfsKind::Link;
        return put(out->real, "/sys/bus/node/devices/node", host, "") &&
               put(out->source, "../../../devices/system/node/node", k, "");
    }
    /* Below the link (a path the walk did not make): where the link leads. */
    char target[kVfsPathMax];
    return put(target, "/sys/devices/system/node/node", k, after) && classify_canonical(target, out);
}

}  // namespace

bool classify_cpu_device(const char* path, VfsPath* out) {
    const char* rest;
    if (under(path, kBusNodeRoot, &rest))
        return classify_bus_node(path, rest, out);
    const bool bus = under(path, kBusCpuRoot, &rest);
    if (!bus && !under(path, kDevCpuRoot, &rest))
        return false;
    if (*rest == '\0') {
        out->kind = VfsKind::Directory;
        out->dir = bus ? VfsDir::BusCpu : VfsDir::DevCpu;
        memcpy(out->real, path, strlen(path) + 1);
        return true;
    }
    uint32_t v;
    const char* after;
    if (!leading_number(rest, bus ? "cpu" : "", &v, &after))
        return false; /* not a CPU's: the host's */
    if (v >= vcpu_count()) {
        out->kind = VfsKind::Error;
        out->error = -ENOENT;
        return true;
    }
    out->vcpu = v;
    const uint32_t host = host_cpu_of(v);
    if (!bus) {
        out->kind = *after ? VfsKind::Redirect : VfsKind::Directory;
        return put(out->real, "/dev/cpu/", host, after);
    }
    if (*after == '\0') {
        out->kind = VfsKind::Link;
        return put(out->real, "/sys/bus/cpu/devices/cpu", host, "") &&
               put(out->source, "../../../devices/system/cpu/cpu", v, "");
    }
    /* Below the link (a path the walk did not make): where the link leads. */
    char target[kVfsPathMax];
    return put(target, "/sys/devices/system/cpu/cpu", v, after) && classify_canonical(target, out);
}

}  // namespace libos
