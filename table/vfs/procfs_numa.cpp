/* /proc/<pid>/numa_maps and /proc/<pid>/task/<tid>/numa_maps on the machine's virtual nodes.
 *
 * The host's file, line by line, with its node columns made virtual: the policy field's node list
 * ("bind:0-1", "interleave=static:1") and the N<node>=<pages> counts. For the calling process the
 * LibOS knows more than the host: a range's policy is its virtual record (mbind), and each page
 * present in a mapping of up to kExactPages pages is counted on the virtual node get_mempolicy
 * (MPOL_F_NODE|MPOL_F_ADDR) reports for it, so the two agree. A larger mapping's pages on a host node
 * are counted on the first of the policy's virtual nodes on that host node (or, with no policy, the
 * node of the vCPU the caller runs on). Another process of the launch is answered the same way from
 * its own records, where the host lets them be read (libos_numa_remote.cpp); otherwise its file is
 * seen through the map: each host node's pages on the first virtual node it backs, and the policy's
 * host nodes as the virtual nodes they make up. */
#include <errno.h>
#include <string.h>

#include "libos/libos_numa.h"
#include "vfs/vfs_internal.h"

namespace libos {
namespace {

constexpr uintptr_t kPageBytes = 4096;
constexpr unsigned long kExactPages = 4096; /* a mapping counted page by page, at most */
constexpr size_t kMaxHostFile = 1 << 22;

size_t component_length(const char* s) {
    const char* slash = strchr(s, '/');
    return slash ? static_cast<size_t>(slash - s) : strlen(s);
}

bool decimal_id(const char* s, size_t n, pid_t* id) {
    if (n == 0 || n > 10 || s[0] == '0')
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + static_cast<uint64_t>(s[i] - '0');
    }
    if (v > 0x3fffffff)
        return false;
    *id = static_cast<pid_t>(v);
    return true;
}

/* "<pid>/numa_maps" or "<pid>/task/<tid>/numa_maps": the thread, or false. */
bool split(const char* rest, pid_t* tid) {
    size_t n = component_length(rest);
    if (!decimal_id(rest, n, tid))
        return false;
    const char* after = rest + n;
    if (starts_with(after, "/task/")) {
        const char* t = after + 6;
        size_t m = component_length(t);
        if (!decimal_id(t, m, tid))
            return false;
        after = t + m;
    }
    return strcmp(after, "/numa_maps") == 0;
}

uint64_t parse_hex(const char* s, const char* end) {
    uint64_t v = 0;
    for (; s < end; ++s) {
        char c = *s;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            break;
        v = v * 16 + static_cast<uint64_t>(d);
    }
    return v;
}

uint64_t parse_dec(const char* s, const char* end) {
    uint64_t v = 0;
    for (; s < end && *s >= '0' && *s <= '9'; ++s)
        v = v * 10 + static_cast<uint64_t>(*s - '0');
    return v;
}

/* A node list of numa_maps ("0-1,3") between s and end. */
void parse_nodes(const char* s, const char* end, NodeBits* out) {
    memset(out, 0, sizeof(*out));
    while (s < end) {
        uint64_t first = parse_dec(s, end), last = first;
        while (s < end && *s >= '0' && *s <= '9')
            ++s;
        if (s < end && *s == '-') {
            ++s;
            last = parse_dec(s, end);
            while (s < end && *s >= '0' && *s <= '9')
                ++s;
        }
        for (uint64_t n = first; n <= last && n < kMaxNodeBits; ++n)
            out->add(static_cast<uint32_t>(n));
        if (s < end && *s == ',')
            ++s;
        else
            break;
    }
}

void put_nodes(Out& out, const NodeBits& nodes) {
    CpuBits list = {};
    memcpy(list.words, nodes.words, sizeof(nodes.words));
    out.cpu_list_short(list);
}

/* The kernel's name of a mode in numa_maps (mpol_to_str), to tell whether a line shows the policy of
 * a record. */
const char* mode_name(int mode) {
    switch (mode & ~kMpolModeFlags) {
        case kMpolPreferred:
            return "prefer";
        case kMpolBind:
            return "bind";
        case kMpolInterleave:
            return "interleave";
        case kMpolLocal:
            return "local";
        case kMpolPreferredMany:
            return "prefer (many)";
        case kMpolWeightedInterleave:
            return "weighted interleave";
        default:
            return "default";
    }
}

/* A field " N<host>=<pages>" between f (its space) and end. */
bool node_column(const char* f, const char* end, uint32_t* host, uint64_t* pages) {
    const char* field = f + 1;
    const char* eq = static_cast<const char*>(memchr(field, '=', static_cast<size_t>(end - field)));
    if (end - field < 3 || field[0] != 'N' || !eq || field[1] < '0' || field[1] > '9')
        return false;
    uint64_t h = parse_dec(field + 1, eq);
    *host = h < kMaxNodeBits ? static_cast<uint32_t>(h) : kMaxNodeBits;
    *pages = parse_dec(eq + 1, end);
    return true;
}

/* What counting a line's pages needs: its node columns [first, end), the mapping's start and the
 * next one's, and the policy it shows. */
struct Columns {
    const char* first;
    const char* end;
    uintptr_t start;
    uintptr_t next_start;
    bool own;
    bool recorded;
    int current; /* the node standing for the first touch, or -1 */
    const NodeBits* effective;
    pid_t pid;                /* 0: the caller's own */
    const NumaRemote* remote; /* another process's records, or null */
    uint32_t since;           /* the stamp of the record shown (0: none): later migrations move its pages */
};

constexpr uint32_t kBlockNodes = 128;

/* Each page of the mapping the host reports present, on the node get_mempolicy gives, counted into
 * counts[v - base] for the nodes v of [base, base + kBlockNodes). The mapping's end is not in
 * numa_maps: the count looks at pages up to the next mapping's start (or a hole: EFAULT), and stops
 * once it has found the host's total. Returns how many present pages it found. */
uint64_t count_exact(const Columns& c, uint32_t base, uint64_t total, uint64_t* counts) {
    uint64_t found = 0;
    bool ended = false;
    constexpr unsigned long kBatch = 32; /* 384 bytes of stack: numa_maps is the deepest view call (topology/small-stack) */
    for (uintptr_t addr = c.start; !ended && found < total && addr < c.next_start &&
                                   addr - c.start < kExactPages * kPageBytes * 4;
         addr += kBatch * kPageBytes) {
        uintptr_t pages[kBatch];
        int status[kBatch];
        unsigned long count = 0;
        for (; count < kBatch && addr + count * kPageBytes < c.next_start; ++count)
            pages[count] = addr + count * kPageBytes;
        if (PalProcessMovePages(c.pid, count, pages, nullptr, status, 0) < 0)
            break;
        for (unsigned long i = 0; i < count && found < total && !ended; ++i) {
            ended = status[i] == -EFAULT; /* a hole: the mapping ended */
            if (status[i] < 0)
                continue;
            uint32_t v = numa_page_node_in(c.remote, pages[i], static_cast<uint32_t>(status[i]));
            if (v >= base && v - base < kBlockNodes)
                ++counts[v - base];
            ++found;
        }
    }
    return found;
}

/* The host's pages on each host node, counted on one virtual node on it: the first of the policy's,
 * else (the caller's own file) the current node's, else the first; into counts[v - base] for the
 * nodes of the block. */
void count_by_host(const Columns& c, uint32_t base, uint64_t* counts) {
    for (const char* f = c.first; f < c.end;) {
        const char* field_end = static_cast<const char*>(memchr(f + 1, ' ', static_cast<size_t>(c.end - f - 1)));
        if (!field_end)
            field_end = c.end;
        uint32_t h;
        uint64_t pages;
        if (node_column(f, field_end, &h, &pages) && h < kMaxNodeBits) {
            int v = -1;
            if (c.recorded)
                v = numa_virtual_node_of(h, c.effective);
            if (v < 0 && c.current >= 0 && numa_host_nodes(static_cast<uint32_t>(c.current)).has(h))
                v = c.current;
            if (v < 0)
                v = numa_virtual_node_of(h, nullptr);
            uint32_t node = v < 0 ? 0 : static_cast<uint32_t>(v);
            if (c.own || c.remote)
                node = numa_migrated_node(c.remote, node, h, c.since);
            if (node >= base && node - base < kBlockNodes)
                counts[node - base] += pages;
        }
        f = field_end;
    }
}

/* One line of the host's file, rewritten. */
struct Line {
    const char* begin;
    const char* end;
};

/* Whether another process's record may stand for the policy the host shows on a line: the same mode,
 * and (without mode flags, whose masks are shown as given) the host nodes it was made into. */
bool believable(const VirtualPolicy& record, const char* policy, const char* policy_end, const char* colon) {
    const char* name = mode_name(record.mode);
    const size_t length = strlen(name);
    const char* after = policy + length;
    if (after > policy_end || strncmp(policy, name, length) != 0 || (after != policy_end && *after != ':' && *after != '='))
        return false;
    if (record.mode & kMpolModeFlags)
        return true;
    NodeBits effective, host, shown = {};
    numa_effective(record, &effective);
    numa_to_host(effective, &host);
    if (colon)
        parse_nodes(colon + 1, policy_end, &shown);
    return !colon || memcmp(host.words, shown.words, sizeof(host.words)) == 0;
}

/* The end of the policy field at `policy`: the next space, past the ones the kernel's names of
 * MPOL_PREFERRED_MANY and MPOL_WEIGHTED_INTERLEAVE hold ("prefer (many):1-2"). */
const char* policy_field_end(const char* policy, const char* end) {
    const char* from = policy;
    for (const char* name : {"prefer (many)", "weighted interleave"}) {
        const size_t length = strlen(name);
        if (static_cast<size_t>(end - policy) >= length && memcmp(policy, name, length) == 0) {
            from = policy + length;
            break;
        }
    }
    const char* space = static_cast<const char*>(memchr(from, ' ', static_cast<size_t>(end - from)));
    return space ? space : end;
}

void write_line(Out& out, const Line& line, uintptr_t next_start, bool own, int current, const NumaRemote* remote,
                pid_t pid) {
    const char* p = line.begin;
    const char* address_end = static_cast<const char*>(memchr(p, ' ', static_cast<size_t>(line.end - p)));
    if (!address_end) {
        out.add(p, static_cast<size_t>(line.end - p)).ch('\n');
        return;
    }
    const uintptr_t start = parse_hex(p, address_end);
    const char* policy = address_end + 1;
    const char* policy_end = policy_field_end(policy, line.end);
    /* The policy: "<mode>[=flags][:nodes]"; its nodes made virtual. */
    const char* colon = static_cast<const char*>(memchr(policy, ':', static_cast<size_t>(policy_end - policy)));
    VirtualPolicy record;
    bool recorded = own && numa_find_range(start, &record);
    if (remote) {
        /* Another process's record of the range, else its task policy, when the host shows it. */
        const VirtualPolicy* task = numa_remote_task_policy(remote);
        recorded = numa_remote_find_range(remote, start, &record) && believable(record, policy, policy_end, colon);
        if (!recorded && task && believable(*task, policy, policy_end, colon)) {
            record = *task;
            recorded = true;
        }
    } else if (!recorded && own) {
        /* A mapping without a policy of its own shows the task's: the thread's record, when the line
         * names its mode. */
        VirtualPolicy* thread = numa_thread_policy();
        const char* name = thread ? mode_name(thread->mode) : "";
        size_t length = strlen(name);
        const char* after = policy + length;
        if (thread && after <= policy_end && strncmp(policy, name, length) == 0 &&
            (after == policy_end || *after == ':' || *after == '=')) {
            record = *thread;
            recorded = true;
        }
    }
    NodeBits effective = {};
    if (recorded)
        numa_effective(record, &effective);
    out.add(p, static_cast<size_t>(policy - p));
    if (colon) {
        out.add(policy, static_cast<size_t>(colon + 1 - policy));
        NodeBits nodes;
        if (recorded) {
            nodes = effective; /* mpol_to_str shows the nodes in use, not the mask as given */
        } else {
            NodeBits host;
            parse_nodes(colon + 1, policy_end, &host);
            numa_to_virtual(host, &nodes);
        }
        put_nodes(out, nodes);
    } else {
        out.add(policy, static_cast<size_t>(policy_end - policy));
    }
    /* The other fields: those before the N<host>=<pages> columns as they are, the columns made
     * virtual, then the rest. */
    const char* columns = nullptr; /* the first node column */
    const char* tail = nullptr;    /* the fields after the node columns */
    uint64_t total = 0;
    const char* f = policy_end;
    while (f < line.end) {
        const char* field_end = static_cast<const char*>(memchr(f + 1, ' ', static_cast<size_t>(line.end - f - 1)));
        if (!field_end)
            field_end = line.end;
        uint32_t host;
        uint64_t pages;
        if (node_column(f, field_end, &host, &pages)) {
            columns = columns ? columns : f;
            total += pages;
        } else if (columns && !tail) {
            tail = f;
        } else if (!columns) {
            out.add(f, static_cast<size_t>(field_end - f));
        }
        f = field_end;
    }
    if (columns) {
        const Columns c{columns, tail ? tail : line.end, start, next_start, own, recorded, current, &effective,
                        own ? 0 : pid, remote, recorded ? record.stamp : 0};
        /* The virtual nodes a block at a time, so that a machine of up to kMaxNodeBits nodes needs no
         * more than kBlockNodes counters on the stack (preloaded code runs on small stacks). */
        uint64_t counts[kBlockNodes] = {};
        const bool exact = (own || remote) && total <= kExactPages && count_exact(c, 0, total, counts) == total;
        for (uint32_t base = 0; base < numa_node_count(); base += kBlockNodes) {
            if (base > 0 || !exact) {
                memset(counts, 0, sizeof(counts));
                if (exact)
                    count_exact(c, base, total, counts);
                else
                    count_by_host(c, base, counts);
            }
            for (uint32_t i = 0; i < kBlockNodes; ++i)
                if (counts[i])
                    out.add(" N").unum(base + i).ch('=').unum(counts[i]);
        }
        if (tail)
            out.add(tail, static_cast<size_t>(line.end - tail));
    }
    out.ch('\n');
}

}  // namespace

bool numa_maps_may_name(const char* rest) {
    return ends_with(rest, "/numa_maps");
}

bool classify_proc_numa(const char* rest, VfsPath* out) {
    pid_t tid;
    if (!numa_maps_may_name(rest) || !split(rest, &tid) || !numa_virtual())
        return false;
    size_t n = strlen(out->virt);
    if (n + 1 > kVfsPathMax)
        return false;
    out->kind = VfsKind::Generated;
    out->file = VfsFile::NumaMaps;
    out->tid = tid;
    memcpy(out->real, out->virt, n + 1);
    memcpy(out->source, out->virt, n + 1);
    return true;
}

long write_numa_maps(Caller caller, const VfsPath& path, Out& out) {
    MappedBuffer buf(kMaxHostFile);
    if (!buf.data)
        return -ENOMEM;
    long len = caller.read_file(path.real, buf.data, buf.size);
    if (len < 0)
        return len;
    pid_t tgid = 0, ppid = 0;
    const bool own = !caller.is_remote() && PalThreadProcess(path.tid, &tgid, &ppid) == 0 && tgid == caller.process();
    /* Another process of the launch (not strict mode's supervisor, which reads for a program): its
     * own records, when the host lets them be read. */
    NumaRemote* remote = !own && !caller.is_remote() && tgid > 0 ? numa_remote_open(tgid) : nullptr;
    const int current = own ? static_cast<int>(numa_current_node()) : remote ? numa_remote_current_node(remote) : -1;
    const char* p = buf.data;
    const char* end = buf.data + len;
    while (p < end) {
        const char* nl = static_cast<const char*>(memchr(p, '\n', static_cast<size_t>(end - p)));
        const char* line_end = nl ? nl : end;
        const char* next = nl ? nl + 1 : end;
        uintptr_t next_start = next < end ? parse_hex(next, end) : ~uintptr_t{0};
        if (next_start == 0)
            next_start = ~uintptr_t{0};
        write_line(out, Line{p, line_end}, next_start, own, current, remote, tgid);
        p = next;
    }
    numa_remote_close(remote);
    return 0;
}

}  // namespace libos
