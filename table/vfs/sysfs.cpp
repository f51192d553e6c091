/* The contents of the CPU and node files of sysfs on the machine (vfs_internal.h): the machine's CPU
 * lists, its shape's topology, cache and node files (libos_topology.h), and host CPU sets renumbered
 * into vCPUs (the host layout's caches, isolated CPUs). */
#include <errno.h>
#include <string.h>

#include "libos/libos_machine.h"
#include "libos/libos_topology.h"
#include "vfs/vfs_internal.h"

namespace libos {
namespace {

void vcpus_on_node(uint32_t node, CpuBits* out) {
    memset(out, 0, sizeof(*out));
    for (uint32_t v = 0; v < vcpu_count(); ++v)
        if (vcpu_place(v).node == node)
            out->add(v);
}

void all_nodes(CpuBits* out) {
    memset(out, 0, sizeof(*out));
    for (uint32_t k = 0; k < vnode_count(); ++k)
        out->add(k);
}

/* The level of the host cache whose indexI directory is `index_dir` (1 when it cannot be read). */
uint32_t cache_level(Caller caller, const char* index_dir) {
    char path[kVfsPathMax + 8], text[16];
    TextBuilder(path, sizeof(path)).add(index_dir).add("/level");
    long len = caller.read_file(path, text, sizeof(text));
    return len > 0 && text[0] >= '1' && text[0] <= '9' ? static_cast<uint32_t>(text[0] - '0') : 1;
}

/* A chosen shape's caches: L1 per core, L2 per core (per cluster when there are clusters), L3 and
 * above per die. Their ids number them across the machine, per level. */
void cache_sharing(uint32_t v, uint32_t level, SiblingSet* set, uint32_t* id) {
    const VcpuPlace& p = vcpu_place(v);
    const ShapeSpec& shape = machine_shape();
    if (level >= 3) {
        *set = SiblingSet::kDie;
        *id = p.die_index;
    } else if (level == 2 && shape.clusters > 1) {
        *set = SiblingSet::kCluster;
        *id = p.die_index * shape.clusters + p.cluster;
    } else {
        *set = SiblingSet::kCore;
        *id = p.core_index;
    }
}

/* nodeK/meminfo: the host nodes' meminfo under node K, each host node's values shared evenly among
 * the machine's nodes it backs, the lines laid out as the host's. Out of line: its buffers are
 * write_sysfs's frame only when it runs (inlined, every CPU file needed them: a 16 KiB stack). */
__attribute__((noinline)) long write_meminfo(Caller caller, uint32_t node, Out& out) {
    constexpr int kKeys = 80;
    struct Line {
        char key[40];
        uint32_t gap;   /* spaces between the colon and the number */
        uint32_t width; /* the number's width on the host */
        char unit[8];
        uint64_t value;
    };
    /* In scratch memory (15 KiB: on the stack, a 16 KiB thread that read the file crashed). */
    struct Work {
        Line lines[kKeys];
        char text[8192];
        CpuBits hosts, other;
    };
    ScratchOf<Work> work;
    if (!work)
        return -ENOMEM;
    Line* lines = work->lines;
    char* text = work->text;
    int count = 0;
    CpuBits& hosts = work->hosts;
    vnode_host_nodes(node, &hosts);
    for (uint32_t h = 0; h < kMaxVcpus; ++h) {
        if (!hosts.words[h / 64]) {
            h |= 63; /* a word with no host node: the next one */
            continue;
        }
        if (!hosts.has(h))
            continue;
        uint32_t sharing = 0;
        for (uint32_t k = 0; k < vnode_count(); ++k) {
            CpuBits& other = work->other;
            vnode_host_nodes(k, &other);
            sharing += other.has(h);
        }
        char path[64];
        TextBuilder(path, sizeof(path)).add(kNodeRoot).add("/node").unum(h).add("/meminfo");
        long len = read_host_kept(caller, path, text, sizeof(Work::text));
        if (len < 0)
            return len;
        int index = 0;
        for (const char* line = text; *line; ++index) {
            size_t n = strcspn(line, "\n");
            /* "Node H Key:   value[ kB]" */
            const char* key = line;
            for (int words = 0; words < 2 && key < line + n; ++key)
                words += *key == ' ';
            const char* colon = static_cast<const char*>(memchr(key, ':', static_cast<size_t>(line + n - key)));
            if (colon && index < kKeys && static_cast<size_t>(colon - key) < sizeof(lines[0].key)) {
                Line& l = lines[index];
                const char* number = colon + 1;
                while (*number == ' ')
                    ++number;
                uint64_t value = 0;
                const char* end = number;
                while (*end >= '0' && *end <= '9')
                    value = value * 10 + static_cast<uint64_t>(*end++ - '0');
                if (index >= count) {
                    memcpy(l.key, key, static_cast<size_t>(colon - key));
                    l.key[colon - key] = '\0';
                    l.gap = static_cast<uint32_t>(number - colon - 1);
                    l.width = static_cast<uint32_t>(end - number);
                    size_t unit = static_cast<size_t>(line + n - end);
                    unit = unit < sizeof(l.unit) ? unit : sizeof(l.unit) - 1;
                    memcpy(l.unit, end, unit);
                    l.unit[unit] = '\0';
                    l.value = 0;
                    count = index + 1;
                }
                l.value += value / sharing;
            }
            line += n;
            if (*line == '\n')
                ++line;
        }
    }
    for (int i = 0; i < count; ++i) {
        char number[24];
        size_t width = format_decimal(number, lines[i].value);
        uint32_t gap = lines[i].gap + lines[i].width > width ? lines[i].gap + lines[i].width - static_cast<uint32_t>(width) : 1;
        out.add("Node ").unum(node).add(" ").add(lines[i].key).add(":");
        for (uint32_t g = 0; g < gap; ++g)
            out.add(" ");
        out.add(number).add(lines[i].unit).add("\n");
    }
    return 0;
}

}  // namespace

long read_host_set(Caller caller, const char* host_list_path, CpuBits* host) {
    constexpr size_t kText = 8192;
    Scratch scratch(kText);
    char* text = scratch.data();
    if (!text)
        return -ENOMEM;
    long len = caller.read_file(host_list_path, text, kText);
    if (len < 0)
        return len;
    return parse_cpu_list(text, host) ? 0 : -EIO;
}

long translated_set(Caller caller, const char* host_list_path, CpuBits* out) {
    ScratchOf<CpuBits> host;
    if (!host)
        return -ENOMEM;
    if (long ret = read_host_set(caller, host_list_path, host.get()); ret < 0)
        return ret;
    to_virtual(*host, out);
    return 0;
}

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
    ScratchOf<CpuBits> set_scratch;
    if (!set_scratch)
        return -ENOMEM;
    CpuBits& set = *set_scratch;
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
        case VfsFile::TopologyId: {
            const VcpuPlace& p = vcpu_place(path.vcpu);
            const uint32_t ids[] = {p.package, p.die, p.cluster, p.core};
            out.unum(ids[path.item < 4 ? path.item : 0]).add("\n");
            return 0;
        }
        case VfsFile::TopologyList:
        case VfsFile::TopologyMask:
            vcpu_siblings(path.vcpu, static_cast<SiblingSet>(path.item), &set);
            if (path.file == VfsFile::TopologyList)
                put_list(out, set);
            else
                put_mask(out, set, vcpu_count());
            return 0;
        case VfsFile::CacheList:
        case VfsFile::CacheMask:
        case VfsFile::CacheId: {
            SiblingSet which;
            uint32_t id;
            if (machine_shape().kind == ShapeKind::kHost) {
                /* The host's sharing, renumbered; the id the lowest vCPU that shares the cache
                 * (unique per level, and no host number). */
                char list[kVfsPathMax + 24];
                TextBuilder(list, sizeof(list)).add(path.source).add("/shared_cpu_list");
                long ret = translated_set(caller, list, &set);
                if (ret < 0)
                    return ret;
                uint32_t first = 0;
                while (first < vcpu_count() && !set.has(first))
                    ++first;
                out.unum(first < vcpu_count() ? first : path.vcpu).add("\n");
                return 0;
            }
            cache_sharing(path.vcpu, cache_level(caller, path.source), &which, &id);
            if (path.file == VfsFile::CacheId) {
                out.unum(id).add("\n");
                return 0;
            }
            vcpu_siblings(path.vcpu, which, &set);
            if (path.file == VfsFile::CacheList)
                put_list(out, set);
            else
                put_mask(out, set, vcpu_count());
            return 0;
        }
        case VfsFile::SmtActive:
            out.add(machine_has_smt() ? "1\n" : "0\n");
            return 0;
        case VfsFile::SmtControl:
            out.add(machine_has_smt() ? "on\n" : "notsupported\n");
            return 0;
        case VfsFile::NodeList:
            all_nodes(&set);
            put_list(out, set);
            return 0;
        case VfsFile::NodeCpuList:
        case VfsFile::NodeCpuMap:
            vcpus_on_node(static_cast<uint32_t>(path.node), &set);
            if (path.file == VfsFile::NodeCpuList)
                put_list(out, set);
            else
                put_mask(out, set, vcpu_count());
            return 0;
        case VfsFile::NodeDistance:
            for (uint32_t k = 0; k < vnode_count(); ++k)
                out.add(k ? " " : "").unum(vnode_distance(static_cast<uint32_t>(path.node), k));
            out.add("\n");
            return 0;
        case VfsFile::NodeMeminfo:
            return write_meminfo(caller, static_cast<uint32_t>(path.node), out);
        case VfsFile::NodeNumastat:
            return write_node_counters(caller, static_cast<uint32_t>(path.node), "numastat", out);
        case VfsFile::NodeVmstat:
            return write_node_counters(caller, static_cast<uint32_t>(path.node), "vmstat", out);
        default:
            break;
    }
    return -ENOENT;
}

}  // namespace libos
