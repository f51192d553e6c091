/* nodeN/numastat and nodeN/vmstat on the machine's nodes (vfs_internal.h: write_node_counters).
 *
 * Both are lists of "name value" counters that the kernel keeps per host node. A node of the machine
 * shows the counters of the host nodes that back it, each host node's counters shared among the
 * machine's nodes on it: an even share, the remainder one each to the lowest of those nodes, so that
 * the machine's nodes add up to the host's exactly (numastat sums them). A node backed by one host
 * node that backs no other is never generated: classify.cpp leaves it the host's own file, which
 * reads byte for byte as the host's.
 *
 * The host cannot say which of several virtual nodes on one host node a page was counted for, so
 * the split is even whatever the policies are; docs/numa.md says so. */
#include <errno.h>
#include <string.h>

#include "libos/libos_machine.h"
#include "libos/libos_topology.h"
#include "vfs/vfs_internal.h"

namespace libos {
namespace {

constexpr int kCounters = 160; /* a 6.x kernel's node vmstat has about 70 */

/* The machine's nodes on host node `host`, and how many of them come before `node`. */
void sharing_of(uint32_t host, uint32_t node, uint32_t* count, uint32_t* rank, CpuBits* hosts) {
    *count = 0;
    *rank = 0;
    for (uint32_t k = 0; k < vnode_count(); ++k) {
        vnode_host_nodes(k, hosts);
        if (!hosts->has(host))
            continue;
        *count += 1;
        *rank += k < node;
    }
}

/* Node `node`'s share of `value` when `count` nodes share it and `rank` of them come before it. */
uint64_t share(uint64_t value, uint32_t count, uint32_t rank) {
    return value / count + (rank < value % count ? 1 : 0);
}

}  // namespace

bool node_counters_shared(uint32_t node) {
    /* One pass over the vCPUs, with no set of host nodes (1 KiB each): every path to a node's
     * counters is classified with this, on the caller's stack. The node is one host node of its
     * own when all its vCPUs are on one host node, and no other node's vCPU is there. */
    bool found = false;
    uint32_t host = 0;
    for (uint32_t v = 0; v < vcpu_count() && !found; ++v) {
        if (vcpu_place(v).node == node) {
            host = host_node_of(host_cpu_of(v));
            found = true;
        }
    }
    if (!found)
        return true;
    for (uint32_t v = 0; v < vcpu_count(); ++v) {
        const bool mine = vcpu_place(v).node == node;
        if (mine != (host_node_of(host_cpu_of(v)) == host))
            return true;
    }
    return false;
}

/* Out of line (the build links with LTO), and its buffers in a mapping: they must not join
 * write_sysfs's frame, which every CPU file's content is written in, nor take 7 KiB of a 16 KiB
 * thread stack (a fresh mapping costs a few page faults, next to the host's reads of the files). */
__attribute__((noinline)) long write_node_counters(Caller caller, uint32_t node, const char* file, Out& out) {
    struct Scratch {
        /* The values by line; the names are the last host file's (one kernel writes every node's
         * file with the same names in the same order). */
        uint64_t values[kCounters];
        char text[4096];
        CpuBits hosts, other;
    };
    MappedBuffer scratch(sizeof(Scratch));
    if (!scratch.data)
        return -ENOMEM;
    Scratch& s = *reinterpret_cast<Scratch*>(scratch.data); /* zeroed: a fresh mapping */
    uint64_t* values = s.values;
    char* text = s.text;
    CpuBits& hosts = s.hosts;
    int lines = 0;
    bool any = false;
    vnode_host_nodes(node, &hosts);
    for (uint32_t h = 0; h < kMaxVcpus; ++h) {
        if (!hosts.words[h / 64]) {
            h |= 63; /* a word with no host node: the next one */
            continue;
        }
        if (!hosts.has(h))
            continue;
        uint32_t count, rank;
        sharing_of(h, node, &count, &rank, &s.other);
        char path[64];
        TextBuilder(path, sizeof(path)).add(kNodeRoot).add("/node").unum(h).add("/").add(file);
        long len = read_host_kept(caller, path, text, sizeof(s.text));
        if (len < 0)
            return len;
        any = true;
        int index = 0;
        for (const char* line = text; *line && index < kCounters; ++index) {
            size_t n = strcspn(line, "\n");
            const char* number = static_cast<const char*>(memchr(line, ' ', n));
            uint64_t value = 0;
            for (const char* d = number ? number + 1 : line + n; d < line + n && *d >= '0' && *d <= '9'; ++d)
                value = value * 10 + static_cast<uint64_t>(*d - '0');
            values[index] += share(value, count, rank);
            line += n;
            if (*line == '\n')
                ++line;
        }
        lines = index;
    }
    if (!any)
        return -ENOENT;
    const char* line = text;
    for (int i = 0; i < lines && *line; ++i) {
        size_t n = strcspn(line, "\n");
        const char* space = static_cast<const char*>(memchr(line, ' ', n));
        size_t name = space ? static_cast<size_t>(space - line) : n;
        out.add(line, name).add(" ").unum(values[i]).add("\n");
        line += n;
        if (*line == '\n')
            ++line;
    }
    return 0;
}

}  // namespace libos
