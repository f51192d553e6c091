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

#include "libos/libos_topology.h"
#include "vfs/vfs_internal.h"

namespace libos {
namespace {

constexpr int kCounters = 160; /* a 6.x kernel's node vmstat has about 70 */

/* The machine's nodes on host node `host`, and how many of them come before `node`. */
void sharing_of(uint32_t host, uint32_t node, uint32_t* count, uint32_t* rank) {
    *count = 0;
    *rank = 0;
    for (uint32_t k = 0; k < vnode_count(); ++k) {
        CpuBits hosts;
        vnode_host_nodes(k, &hosts);
        if (!hosts.has(host))
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
    CpuBits hosts;
    vnode_host_nodes(node, &hosts);
    uint32_t found = 0, host = 0;
    for (uint32_t h = 0; h < kMaxVcpus && found < 2; ++h) {
        if (!hosts.words[h / 64]) {
            h |= 63;
            continue;
        }
        if (hosts.has(h)) {
            ++found;
            host = h;
        }
    }
    if (found != 1)
        return true;
    uint32_t count, rank;
    sharing_of(host, node, &count, &rank);
    return count != 1;
}

long write_node_counters(Caller caller, uint32_t node, const char* file, Out& out) {
    /* The values by line; the names are the last host file's (one kernel writes every node's file
     * with the same names in the same order). */
    uint64_t values[kCounters] = {};
    char text[4096];
    int lines = 0;
    bool any = false;
    CpuBits hosts;
    vnode_host_nodes(node, &hosts);
    for (uint32_t h = 0; h < kMaxVcpus; ++h) {
        if (!hosts.words[h / 64]) {
            h |= 63; /* a word with no host node: the next one */
            continue;
        }
        if (!hosts.has(h))
            continue;
        uint32_t count, rank;
        sharing_of(h, node, &count, &rank);
        char path[64];
        TextBuilder(path, sizeof(path)).add(kNodeRoot).add("/node").unum(h).add("/").add(file);
        long len = read_host_kept(caller, path, text, sizeof(text));
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
