/* The contents of the CPU and node files of sysfs on the machine (vfs_internal.h): the machine's CPU
 * lists, and the host's topology, cache and node sets renumbered into vCPUs. */
#include <errno.h>
#include <string.h>

#include "libos/libos_machine.h"
#include "vfs/vfs_internal.h"

namespace libos {
namespace {

void vcpus_on_node(uint32_t node, CpuBits* out) {
    memset(out, 0, sizeof(*out));
    for (uint32_t v = 0; v < vcpu_count(); ++v)
        if (host_node_of(host_cpu_of(v)) == node)
            out->add(v);
}

/* The set a host CPU list names, seen on the machine: the vCPUs whose host CPU is in it. */
long translated_set(Caller caller, const char* host_list_path, CpuBits* out) {
    char text[8192];
    long len = caller.read_file(host_list_path, text, sizeof(text));
    if (len < 0)
        return len;
    CpuBits host;
    if (!parse_cpu_list(text, &host))
        return -EIO;
    to_virtual(host, out);
    return 0;
}

}  // namespace

/* A CPU list as the kernel writes it ("0-3,8\n"). */
void put_list(Out& out, const CpuBits& set) {
    out.cpu_list(set).add("\n");
}

/* A CPU mask as the kernel's %*pb writes it for nbits bits: 32-bit groups in hex, most significant
 * first, separated by commas; the first group only as wide as its bits need. */
void put_mask(Out& out, const CpuBits& set, uint32_t nbits) {
    static const char hex[] = "0123456789abcdef";
    uint32_t groups = (nbits + 31) / 32;
    for (uint32_t g = groups; g-- > 0;) {
        uint32_t word = static_cast<uint32_t>(set.words[g / 2] >> (32 * (g % 2)));
        uint32_t bits_here = (g == groups - 1 && nbits % 32) ? nbits % 32 : 32;
        uint32_t digits = (bits_here + 3) / 4;
        char chunk[9];
        for (uint32_t d = 0; d < digits; ++d)
            chunk[digits - 1 - d] = hex[(word >> (4 * d)) & 0xf];
        out.add(chunk, digits);
        if (g)
            out.add(",");
    }
    out.add("\n");
}

long write_sysfs(Caller caller, const VfsPath& path, Out& out) {
    CpuBits set;
    switch (path.file) {
        case VfsFile::AllCpus:
            put_list(out, all_vcpus());
            return 0;
        case VfsFile::Offline:
            out.add("\n");
            return 0;
        case VfsFile::KernelMax:
            out.unum(vcpu_count() - 1).add("\n");
            return 0;
        case VfsFile::CpuOnline:
            out.add("1\n");
            return 0;
        case VfsFile::CpuSetList:
        case VfsFile::CpuSetMask: {
            long ret = translated_set(caller, path.source, &set);
            if (ret < 0)
                return ret;
            if (path.file == VfsFile::CpuSetList)
                put_list(out, set);
            else
                put_mask(out, set, vcpu_count());
            return 0;
        }
        case VfsFile::NodeHasCpu: {
            memset(&set, 0, sizeof(set));
            for (uint32_t v = 0; v < vcpu_count(); ++v)
                set.add(host_node_of(host_cpu_of(v)));
            put_list(out, set);
            return 0;
        }
        case VfsFile::NodeCpuList:
        case VfsFile::NodeCpuMap:
            vcpus_on_node(static_cast<uint32_t>(path.node), &set);
            if (path.file == VfsFile::NodeCpuList)
                put_list(out, set);
            else
                put_mask(out, set, vcpu_count());
            return 0;
        default:
            break;
    }
    return -ENOENT;
}

}  // namespace libos
