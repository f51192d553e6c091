/* The devices' CPU locality on the machine (vfs_internal.h): a PCI device's local_cpulist and
 * local_cpus (under /sys/devices/pciDDDD:BB, reached also through /sys/bus/pci/devices/<device> and
 * /sys/class/net/<if>/device), the CPUs near it, which hwloc's I/O discovery, DPDK and irqbalance
 * read. The host's set becomes the vCPUs whose host CPU is in it; the mask is made from the list
 * twin. */
#include <errno.h>
#include <string.h>

#include "libos/libos_machine.h"
#include "vfs/vfs_internal.h"

namespace libos {

bool device_may_name(const char* lexical) {
    return (starts_with(lexical, "/sys/devices/") || starts_with(lexical, "/sys/bus/") ||
            starts_with(lexical, "/sys/class/")) &&
           (ends_with(lexical, "/local_cpus") || ends_with(lexical, "/local_cpulist"));
}

bool classify_device(const char* path, VfsPath* out) {
    if (!starts_with(path, "/sys/devices/"))
        return false;
    const bool list = ends_with(path, "/local_cpulist");
    if (!list && !ends_with(path, "/local_cpus"))
        return false;
    size_t n = strlen(path);
    if (n + 5 > kVfsPathMax)
        return false;
    out->kind = VfsKind::Generated;
    out->file = list ? VfsFile::DeviceCpuList : VfsFile::DeviceCpuMask;
    memcpy(out->real, path, n + 1);
    memcpy(out->source, path, n + 1);
    if (!list)
        memcpy(out->source + n - 1, "list", 5); /* local_cpus -> local_cpulist */
    return true;
}

long write_device(Caller caller, const VfsPath& path, Out& out) {
    ScratchOf<CpuBits> scratch;
    if (!scratch)
        return -ENOMEM;
    CpuBits& set = *scratch;
    if (long ret = translated_set(caller, path.source, &set); ret < 0)
        return ret;
    if (path.file == VfsFile::DeviceCpuList)
        put_list(out, set);
    else
        put_mask(out, set, vcpu_count());
    return 0;
}

}  // namespace libos
