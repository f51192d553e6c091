/* The NUMA memory-policy family, on the machine's virtual nodes.
 *
 * Implements set_mempolicy(2), get_mempolicy(2), mbind(2), migrate_pages(2), move_pages(2) and
 * set_mempolicy_home_node(2).
 *
 * Linux's rules with nr_node_ids = the machine's node count and MAX_NUMNODES = the host's: the masks
 * in are read as the kernel's get_nodes reads them (the same bytes, so EFAULT and the "bits beyond
 * MAX_NUMNODES" EINVAL come where they come natively), and the masks out are written as its
 * copy_nodes_to_user writes them. Every call is still made on the host, with the virtual nodes
 * translated to the host nodes behind them (libos_numa.h: numa_to_host): the host checks modes,
 * flags, ranges, pids and permissions in its own order, places the memory, and its errors are the
 * answer. A node the machine lacks becomes a host node nobody is allowed, so that the host reaches
 * the kernel's verdict on it by itself (EINVAL when a policy is left with no node, EPERM for
 * migrate_pages' new nodes). What the host cannot translate back (which of several virtual nodes on
 * one host node) the LibOS remembers: the thread's policy, the ranges' policies, the pages moved.
 *
 * With no machine each handler leaves the call to the host. docs/numa.md says what is exact and what
 * is approximated. */
#include <errno.h>
#include <string.h>

#include "libos/libos_caller.h"
#include "libos/libos_init.h"
#include "libos/libos_numa.h"
#include "libos/libos_table.h"
#include "libos_numa_internal.h"
#include "pal/pal.h"

using libos::Caller;
using libos::LeaveToHost;
using libos::NodeBits;
using libos::SyscallResult;
using libos::UserPtr;
using libos::VirtualPolicy;

namespace {

constexpr unsigned long kPageBytes = 4096;
constexpr unsigned long kFNode = 1, kFAddr = 2, kFMemsAllowed = 4; /* get_mempolicy's flags */

int mode_of(int mode) {
    return mode & ~libos::kMpolModeFlags;
}

/* The kernel's get_bitmap: BITS_TO_LONGS(bits) words, the bits past `bits` cleared. */
long get_bitmap(Caller caller, uint64_t* out, uintptr_t user, unsigned long bits) {
    size_t words = (bits + 63) / 64;
    if (caller.copy_in(out, user, words * sizeof(uint64_t)) < 0)
        return -EFAULT;
    if (bits % 64)
        out[words - 1] &= (1ULL << (bits % 64)) - 1;
    return 0;
}

/* The kernel's get_nodes: maxnode counts bits and the kernel reads maxnode - 1 of them; above
 * MAX_NUMNODES they must be zero, checked a word at a time from the end. */
long get_nodes(Caller caller, NodeBits* nodes, uintptr_t user, unsigned long maxnode) {
    memset(nodes, 0, sizeof(*nodes));
    --maxnode;
    if (maxnode == 0 || user == 0)
        return 0;
    if (maxnode > kPageBytes * 8)
        return -EINVAL;
    const unsigned long max = libos::numa_max_nodes();
    while (maxnode > max) {
        unsigned long bits = maxnode < 64 ? maxnode : 64;
        uint64_t t;
        if (get_bitmap(caller, &t, user + (maxnode - 1) / 64 * sizeof(uint64_t), bits) < 0)
            return -EFAULT;
        if (maxnode - bits >= max) {
            maxnode -= bits;
        } else {
            maxnode = max;
            t &= ~((1ULL << (max % 64)) - 1);
        }
        if (t)
            return -EINVAL;
    }
    return get_bitmap(caller, nodes->words, user, maxnode);
}

/* The kernel's copy_nodes_to_user on a kernel of nr_node_ids = the machine's nodes. */
long copy_nodes_to_user(Caller caller, uintptr_t user, unsigned long maxnode, const NodeBits& nodes) {
    unsigned long copy = ((maxnode - 1) + 63) / 64 * 8;
    const unsigned long nbytes = (libos::numa_node_count() + 63) / 64 * 8;
    if (copy > nbytes) {
        if (copy > kPageBytes)
            return -EINVAL;
        static constexpr uint64_t kZeros[kPageBytes / 8] = {};
        if (caller.copy_out(user + nbytes, kZeros, copy - nbytes) < 0)
            return -EFAULT;
        copy = nbytes;
    }
    return caller.copy_out(user, nodes.words, copy) < 0 ? -EFAULT : 0;
}

/* The host's side of a policy: its mode and mask for the thread (addr 0, no flags) or the range at
 * `addr` (MPOL_F_ADDR). */
long host_policy(uintptr_t addr, unsigned long flags, int* mode, NodeBits* host) {
    memset(host, 0, sizeof(*host));
    *mode = 0;
    return PalMemPolicyGet(mode, reinterpret_cast<unsigned long*>(host->words), libos::numa_max_nodes() + 1, addr,
                           flags);
}

/* The host mask for a policy given as `vnodes` with `mode` (flags included). Relative nodes are
 * passed as the ranks, among the host's allowed nodes, of the host nodes behind the virtual nodes
 * they fold onto, so that the host's own folding lands on exactly those. */
void host_mask_for(int mode, const NodeBits& vnodes, NodeBits* host) {
    if (!(mode & libos::kMpolFRelativeNodes)) {
        libos::numa_to_host(vnodes, host);
        return;
    }
    VirtualPolicy folded = {};
    folded.mode = mode;
    folded.nodes = vnodes;
    NodeBits effective, wanted, allowed;
    libos::numa_effective(folded, &effective);
    libos::numa_to_host(effective, &wanted);
    int ignored;
    host_policy(0, kFMemsAllowed, &ignored, &allowed);
    memset(host, 0, sizeof(*host));
    uint32_t rank = 0;
    for (uint32_t h = allowed.next(0); h < libos::kMaxNodeBits; h = allowed.next(h + 1), ++rank)
        if (wanted.has(h))
            host->add(rank);
}

/* The record of a policy the host just accepted: get_mempolicy's nodes are the mask as given when
 * any mode flag is set (static, relative, numa balancing: the kernel's mpol_store_user_nodemask keeps
 * its user_nodemask for each of MPOL_MODE_FLAGS), otherwise the nodes in use. */
VirtualPolicy make_record(int host_mode, const NodeBits& host, const NodeBits& given) {
    VirtualPolicy p = {};
    p.mode = host_mode;
    p.host_mode = host_mode;
    p.host_digest = libos::numa_digest(host);
    p.home = -1;
    p.il_prev = libos::numa_max_nodes() - 1;
    p.nodes = given;
    if (!(host_mode & libos::kMpolModeFlags)) {
        NodeBits effective;
        libos::numa_effective(p, &effective);
        int m = mode_of(host_mode);
        p.nodes = (m == libos::kMpolDefault || m == libos::kMpolLocal) ? NodeBits{} : effective;
    }
    return p;
}

/* A policy the host reports without a record of the LibOS (or one it no longer confirms), seen
 * through the map. */
VirtualPolicy seen_through_map(int host_mode, const NodeBits& host) {
    VirtualPolicy p = {};
    p.mode = host_mode;
    p.host_mode = host_mode;
    p.host_digest = libos::numa_digest(host);
    p.home = -1;
    p.il_prev = libos::numa_max_nodes() - 1;
    if (!host.empty())
        libos::numa_to_virtual(host, &p.nodes);
    if (mode_of(host_mode) == libos::kMpolPreferred && !p.nodes.empty()) {
        uint32_t first = p.nodes.next(0);
        p.nodes = NodeBits{};
        p.nodes.add(first);
    }
    return p;
}

bool confirmed(const VirtualPolicy& record, int host_mode, const NodeBits& host) {
    return record.host_mode == host_mode && record.host_digest == libos::numa_digest(host);
}

/* The policy governing `addr` as the LibOS knows it: the range's record, else the thread's (for
 * another process, `remote`: its records, else its first thread's). */
bool governing_policy(const libos::NumaRemote* remote, uintptr_t addr, VirtualPolicy* out) {
    if (remote ? libos::numa_remote_find_range(remote, addr, out) : libos::numa_find_range(addr, out))
        return true;
    if (const VirtualPolicy* own = remote ? libos::numa_remote_task_policy(remote) : libos::numa_thread_policy()) {
        *out = *own;
        return true;
    }
    return false;
}

uint32_t migrated_node(const libos::NumaRemote* remote, uint32_t node, uint32_t host, uint32_t since) {
    const libos::RemapRecord* remaps;
    const uint32_t count = remote ? libos::numa_remote_remaps(remote, &remaps) : libos::numa_own_remaps(&remaps);
    if (!count)
        return node;
    const uint32_t after = libos::numa_remapped(node, since, remaps, count);
    return libos::numa_host_nodes(after).has(host) ? after : node;
}

/* The virtual node of the page at `addr`, which the host places on host node `host`: where
 * move_pages put it, else where its policy would have put it on a real machine of these nodes (bind
 * and preferred-many: the home node, or the current node when allowed, or the first; preferred: its
 * node; interleave: the kernel's interleave index for the page, which for anonymous memory is its
 * page number; local and default: the current node, the node of the vCPU the caller runs on now,
 * standing for the one that first touched it). A node whose host nodes do not hold `host` is never
 * the answer: the first virtual node on `host` is. */
uint32_t page_node(uintptr_t addr, uint32_t host, const libos::NumaRemote* remote = nullptr) {
    auto backs = [host](int v) { return v >= 0 && libos::numa_host_nodes(static_cast<uint32_t>(v)).has(host); };
    if (!remote)
        libos::numa_adopt_moves(); /* moves other processes made of this one's pages */
    VirtualPolicy policy;
    NodeBits effective = {};
    int mode = libos::kMpolDefault;
    uint32_t since = 0; /* the policy's stamp: the migrations by other processes after it apply */
    if (governing_policy(remote, addr, &policy)) {
        libos::numa_effective(policy, &effective);
        mode = mode_of(policy.mode);
        since = policy.stamp;
    }
    uint32_t moved_stamp = 0;
    int moved = remote ? libos::numa_remote_find_page(remote, addr & ~(kPageBytes - 1), &moved_stamp)
                       : libos::numa_find_page(addr & ~(kPageBytes - 1), &moved_stamp);
    /* A move older than the range's bind policy and outside it is not believed: the page it moved
     * was freed and the memory given again (by calls the shim does not see, such as libc's own
     * munmap inside free) before the range was bound. */
    const bool stale = mode == libos::kMpolBind && moved >= 0 && !effective.has(static_cast<uint32_t>(moved)) &&
                       static_cast<int32_t>(moved_stamp - policy.stamp) < 0;
    if (backs(moved) && !stale)
        return static_cast<uint32_t>(moved);
    /* Another process's current node: its first thread's, when its vCPUs are all on one node. */
    const int current = remote ? libos::numa_remote_current_node(remote) : static_cast<int>(libos::numa_current_node());
    int chosen = -1;
    if (mode == libos::kMpolBind || mode == libos::kMpolPreferredMany) {
        if (backs(policy.home))
            chosen = policy.home;
        else if (effective.has(static_cast<uint32_t>(current)) && backs(current))
            chosen = current;
        else
            chosen = libos::numa_virtual_node_of(host, &effective);
    } else if (mode == libos::kMpolPreferred) {
        chosen = libos::numa_virtual_node_of(host, &effective);
    } else if (mode == libos::kMpolInterleave || mode == libos::kMpolWeightedInterleave) {
        uint32_t count = effective.count();
        if (count) {
            uint32_t target = static_cast<uint32_t>((addr / kPageBytes) % count);
            uint32_t v = effective.next(0);
            while (target--)
                v = effective.next(v + 1);
            chosen = backs(static_cast<int>(v)) ? static_cast<int>(v) : libos::numa_virtual_node_of(host, &effective);
        }
    } else if (backs(current)) {
        chosen = current;
    }
    if (chosen < 0)
        chosen = libos::numa_virtual_node_of(host, nullptr);
    /* Migrations of the process by others (migrate_pages(pid)) move the pages its policy placed. */
    return migrated_node(remote, chosen < 0 ? 0 : static_cast<uint32_t>(chosen), host, since);
}

/* The next node of the thread's interleave (MPOL_F_NODE without MPOL_F_ADDR): the host's answer when
 * exactly one of the policy's virtual nodes is on it, otherwise the node after the thread's cursor. */
uint32_t next_interleave_node(const VirtualPolicy& policy, uint32_t host) {
    NodeBits effective;
    libos::numa_effective(policy, &effective);
    int only = -1, on_host = 0;
    for (uint32_t v = effective.next(0); v < libos::kMaxNodeBits; v = effective.next(v + 1))
        if (libos::numa_host_nodes(v).has(host)) {
            only = static_cast<int>(v);
            ++on_host;
        }
    if (on_host == 1)
        return static_cast<uint32_t>(only);
    uint32_t next = effective.next(policy.il_prev + 1);
    return next < libos::kMaxNodeBits ? next : effective.next(0);
}

bool names_own_process(Caller caller, pid_t pid) {
    return !caller.is_remote() && (pid == 0 || pid == PalProcessGetId());
}

}  // namespace

uint32_t libos::numa_page_node(uintptr_t addr, uint32_t host) {
    return page_node(addr, host);
}

uint32_t libos::numa_migrated_node(const NumaRemote* remote, uint32_t node, uint32_t host, uint32_t since) {
    if (!remote)
        numa_adopt_moves();
    return migrated_node(remote, node, host, since);
}

uint32_t libos::numa_page_node_in(const NumaRemote* remote, uintptr_t addr, uint32_t host) {
    return page_node(addr, host, remote);
}

namespace {

/* Before the process records a policy or a move of its own: the moves other processes posted for it,
 * which came first, are taken, so that their stamps precede the new record's (a migration by another
 * process moves what its policies placed before it, not what a policy set after it places). Not in
 * strict mode's supervisor, which answers for another process. */
void take_moves_first(const Caller& caller) {
    if (!caller.is_remote())
        libos::numa_adopt_moves();
}

}  // namespace

/* set_mempolicy(2). Kernel order: the mode and its flags, the mask read in (EFAULT, EINVAL beyond
 * MAX_NUMNODES), then the policy's own rules on the nodes (empty, or none allowed: EINVAL). The host
 * makes all but the mask's reading, on the translated mask, whose emptiness is the virtual one. */
SyscallResult libos_syscall_set_mempolicy(Caller caller, int mode, UserPtr<const unsigned long> nmask,
                                          unsigned long maxnode) {
    if (!libos::numa_virtual())
        return LeaveToHost{};
    take_moves_first(caller);
    NodeBits vnodes, host;
    if (long ret = get_nodes(caller, &vnodes, nmask.address(), maxnode); ret < 0) {
        /* A mode the host refuses beats the fault: the host reads the same bytes, in its order. */
        return ret == -EFAULT ? PalMemPolicySet(mode, nmask.for_kernel(), maxnode) : ret;
    }
    host_mask_for(mode, vnodes, &host);
    long ret = PalMemPolicySet(mode, reinterpret_cast<const unsigned long*>(host.words), libos::numa_max_nodes() + 1);
    if (ret < 0)
        return ret;
    int host_mode;
    NodeBits reported;
    if (host_policy(0, 0, &host_mode, &reported) == 0)
        libos::numa_set_thread_policy(make_record(host_mode, reported, vnodes));
    libos::numa_share_own_directory();
    return ret;
}

/* get_mempolicy(2). Kernel order: a mask shorter than nr_node_ids (EINVAL), then the flags and the
 * address (EINVAL, EFAULT for an address without a mapping, the node of a page), then the mode is
 * written (EFAULT), then the mask (copy_nodes_to_user). The host answers the middle for the same
 * flags and address; the mode, node and mask it reports are turned into virtual ones. */
SyscallResult libos_syscall_get_mempolicy(Caller caller, UserPtr<int> policy, UserPtr<unsigned long> nmask,
                                          unsigned long maxnode, unsigned long addr, unsigned long flags) {
    if (!libos::numa_virtual())
        return LeaveToHost{};
    if (!nmask.is_null() && maxnode < libos::numa_node_count())
        return -EINVAL;
    int host_value;
    NodeBits host;
    if (long ret = host_policy(addr, flags, &host_value, &host); ret < 0)
        return ret;
    int value = 0;
    NodeBits vnodes = {};
    if (flags & kFMemsAllowed) {
        libos::numa_to_virtual(host, &vnodes);
    } else {
        /* The policy the call is about: the range's at addr (MPOL_F_ADDR; default when it has none),
         * or the thread's. The host's mode for it is host_value, unless MPOL_F_NODE replaced it with a
         * node: then it is asked again, without MPOL_F_NODE. */
        int host_mode = host_value;
        const unsigned long about = flags & kFAddr;
        if (flags & kFNode)
            host_policy(addr, about, &host_mode, &host);
        VirtualPolicy record;
        bool known = about ? libos::numa_find_range(addr, &record)
                           : (libos::numa_thread_policy() && (record = *libos::numa_thread_policy(), true));
        if (!known || !confirmed(record, host_mode, host))
            record = seen_through_map(host_mode, host);
        if (about && mode_of(host_mode) == libos::kMpolDefault && host_mode == 0)
            record = VirtualPolicy{};
        vnodes = record.nodes;
        value = record.mode;
        if ((flags & kFNode) && about)
            value = static_cast<int>(page_node(addr, static_cast<uint32_t>(host_value)));
        else if (flags & kFNode)
            value = static_cast<int>(next_interleave_node(record, static_cast<uint32_t>(host_value)));
    }
    if (!policy.is_null() && caller.copy_out(policy, &value, sizeof(value)) < 0)
        return -EFAULT;
    if (!nmask.is_null())
        return copy_nodes_to_user(caller, nmask.address(), maxnode, vnodes);
    return 0;
}

/* mbind(2). Kernel order: the mode and its flags, the mask read in, then mbind's own flags
 * (EINVAL; MPOL_MF_MOVE_ALL without CAP_SYS_NICE: EPERM), the start's alignment, the length, the
 * policy's rules on the nodes, holes in the range (EFAULT) and misplaced pages (EIO): the host makes
 * those on the translated mask. The range's virtual policy is remembered (also after EIO, which the
 * kernel returns after applying the policy). */
SyscallResult libos_syscall_mbind(Caller caller, unsigned long start, unsigned long len, unsigned long mode,
                                  UserPtr<const unsigned long> nmask, unsigned long maxnode, unsigned int flags) {
    if (!libos::numa_virtual())
        return LeaveToHost{};
    take_moves_first(caller);
    NodeBits vnodes, host;
    if (long ret = get_nodes(caller, &vnodes, nmask.address(), maxnode); ret < 0)
        return ret == -EFAULT ? PalMemoryBind(start, len, mode, nmask.for_kernel(), maxnode, flags) : ret;
    host_mask_for(static_cast<int>(mode), vnodes, &host);
    long ret = PalMemoryBind(start, len, mode, reinterpret_cast<const unsigned long*>(host.words),
                             libos::numa_max_nodes() + 1, flags);
    const unsigned long length = (len + kPageBytes - 1) & ~(kPageBytes - 1);
    if ((ret < 0 && ret != -EIO) || length == 0)
        return ret;
    int host_mode;
    NodeBits reported;
    if (host_policy(start, kFAddr, &host_mode, &reported) == 0)
        libos::numa_record_range(start, start + length, make_record(host_mode, reported, vnodes));
    libos::numa_share_own_directory();
    if (flags & (2 | 4)) /* MPOL_MF_MOVE, MPOL_MF_MOVE_ALL: the pages now follow the policy */
        libos::numa_forget_pages(start, start + length);
    return ret;
}

/* set_mempolicy_home_node(2). Kernel order: the start's alignment, the flags (none exist), the node
 * (below MAX_NUMNODES and online: here, a node of the machine), then the ranges (EOPNOTSUPP for a
 * range whose policy is neither bind nor preferred-many), which the host checks with the node's
 * first host node. */
SyscallResult libos_syscall_set_mempolicy_home_node(Caller caller, unsigned long start, unsigned long len,
                                                    unsigned long home_node, unsigned long flags) {
    if (!libos::numa_virtual())
        return LeaveToHost{};
    take_moves_first(caller);
    if ((start & (kPageBytes - 1)) || flags != 0 || home_node >= libos::numa_node_count())
        return -EINVAL;
    const NodeBits& backing = libos::numa_host_nodes(static_cast<uint32_t>(home_node));
    long ret = PalMemorySetHomeNode(start, len, backing.next(0), flags);
    const unsigned long length = (len + kPageBytes - 1) & ~(kPageBytes - 1);
    if (ret == 0 && length)
        libos::numa_set_range_home(start, start + length, static_cast<int32_t>(home_node));
    return ret;
}

/* migrate_pages(2). Kernel order: both masks read in (EFAULT, EINVAL), then the task (ESRCH), the
 * right to it (EPERM), the new nodes outside the target's allowed ones without CAP_SYS_NICE (EPERM):
 * the host judges all of it on the translated masks, so nothing is granted that the kernel would
 * refuse. On the process itself, the pages it recorded as moved follow the kernel's remapping. */
SyscallResult libos_syscall_migrate_pages(Caller caller, pid_t pid, unsigned long maxnode,
                                          UserPtr<const unsigned long> old_nodes,
                                          UserPtr<const unsigned long> new_nodes) {
    if (!libos::numa_virtual())
        return LeaveToHost{};
    NodeBits vold, vnew, hold, hnew;
    if (long ret = get_nodes(caller, &vold, old_nodes.address(), maxnode); ret < 0)
        return ret;
    if (long ret = get_nodes(caller, &vnew, new_nodes.address(), maxnode); ret < 0)
        return ret;
    libos::numa_to_host(vold, &hold);
    libos::numa_to_host(vnew, &hnew);
    const pid_t target = caller.target(pid);
    long ret = PalProcessMigratePages(target, libos::numa_max_nodes() + 1,
                                      reinterpret_cast<const unsigned long*>(hold.words),
                                      reinterpret_cast<const unsigned long*>(hnew.words));
    if (ret >= 0 && !caller.is_remote()) {
        NodeBits valid_new = {};
        for (uint32_t v = vnew.next(0); v < libos::numa_node_count(); v = vnew.next(v + 1))
            valid_new.add(v);
        /* The process itself: the pages it recorded as moved follow the kernel's remapping. Another
         * process of the launch: the migration the host allowed is posted for it to take. */
        if (names_own_process(caller, pid)) {
            take_moves_first(caller);
            libos::numa_remap_pages(vold, valid_new);
        } else {
            libos::numa_post_remote_remap(target, vold, valid_new);
        }
    }
    return ret;
}

namespace {

constexpr unsigned long kMoveChunk = 256;

/* The status words [first, first + count) the host wrote as host nodes, rewritten as virtual ones;
 * `wanted` (or null) the virtual nodes asked for. */
long translate_status(Caller caller, bool own, const libos::NumaRemote* remote, uintptr_t pages, uintptr_t status,
                      unsigned long first, unsigned long count, const int* wanted, libos::RemoteMoves* post = nullptr) {
    uintptr_t addrs[kMoveChunk];
    int states[kMoveChunk];
    if (caller.copy_in(addrs, pages + first * sizeof(uintptr_t), count * sizeof(uintptr_t)) < 0 ||
        caller.copy_in(states, status + first * sizeof(int), count * sizeof(int)) < 0)
        return -EFAULT;
    for (unsigned long i = 0; i < count; ++i) {
        if (states[i] < 0)
            continue;
        const uint32_t host = static_cast<uint32_t>(states[i]);
        if (wanted && wanted[i] >= 0 && libos::numa_host_nodes(static_cast<uint32_t>(wanted[i])).has(host)) {
            if (own)
                libos::numa_record_page(addrs[i] & ~(kPageBytes - 1), static_cast<uint32_t>(wanted[i]));
            else if (post)
                post->add(addrs[i] & ~(kPageBytes - 1), static_cast<uint32_t>(wanted[i]));
            states[i] = wanted[i];
        } else if (own || remote) {
            states[i] = static_cast<int>(page_node(addrs[i], host, remote));
        } else {
            int v = libos::numa_virtual_node_of(host, nullptr);
            states[i] = v < 0 ? 0 : v;
        }
    }
    return caller.copy_out(status + first * sizeof(int), states, count * sizeof(int)) < 0 ? -EFAULT : 0;
}

}  // namespace

/* move_pages(2). Kernel order: the flags (EINVAL; MPOL_MF_MOVE_ALL without CAP_SYS_NICE: EPERM),
 * the task (ESRCH) and the right to it (EPERM), then page by page: the node read in (EFAULT), checked
 * (ENODEV for a node that is not online, EACCES outside the allowed ones), the page moved and its
 * status written (EFAULT). The host does it all with the application's own pages and status arrays,
 * in chunks, with each virtual node replaced by its first host node (a node the machine lacks by -1:
 * ENODEV); the statuses it writes are then rewritten as virtual nodes. Without nodes, the statuses
 * are where each page is, as a virtual node (page_node). */
SyscallResult libos_syscall_move_pages(Caller caller, pid_t pid, unsigned long nr_pages, UserPtr<const uintptr_t> pages,
                                       UserPtr<const int> nodes, UserPtr<int> status, int flags) {
    if (!libos::numa_virtual())
        return LeaveToHost{};
    const bool own = names_own_process(caller, pid);
    const pid_t target = caller.target(pid);
    if (nodes.is_null()) {
        long ret = PalProcessMovePages(target, nr_pages, pages.for_kernel(), nullptr, status.for_kernel(), flags);
        if (ret < 0)
            return ret;
        /* Another process of the launch: its own records, where the host lets them be read. */
        libos::NumaRemote* remote = own || caller.is_remote() ? nullptr : libos::numa_remote_open(target);
        for (unsigned long done = 0; done < nr_pages && ret >= 0; done += kMoveChunk) {
            unsigned long count = nr_pages - done < kMoveChunk ? nr_pages - done : kMoveChunk;
            if (long t = translate_status(caller, own, remote, pages.address(), status.address(), done, count, nullptr);
                t < 0)
                ret = t;
        }
        libos::numa_remote_close(remote);
        return ret;
    }
    if (nr_pages == 0)
        return PalProcessMovePages(target, 0, pages.for_kernel(), nodes.for_kernel(), status.for_kernel(), flags);
    long not_moved = 0;
    const uint32_t machine_nodes = libos::numa_node_count();
    /* Another process of the launch: what the host moved (or found there already) is posted for it. */
    libos::RemoteMoves post;
    if (!own && !caller.is_remote())
        post.begin(target);
    else if (own) {
        take_moves_first(caller);
        libos::numa_share_own_directory();
    }
    for (unsigned long done = 0; done < nr_pages; done += kMoveChunk) {
        unsigned long count = nr_pages - done < kMoveChunk ? nr_pages - done : kMoveChunk;
        int wanted[kMoveChunk], host[kMoveChunk];
        bool fault = false;
        if (caller.copy_in(wanted, nodes.address() + done * sizeof(int), count * sizeof(int)) < 0) {
            /* The kernel reads the nodes one at a time, after its checks of the flags, the pid and the
             * right to it: the pages before the first unreadable node are moved, then the host is
             * given the rest with the application's own pointer, so that it judges what comes first
             * (ESRCH, EINVAL, EPERM) and faults where the kernel faults. */
            unsigned long readable = 0;
            while (readable < count &&
                   caller.copy_in(&wanted[readable], nodes.address() + (done + readable) * sizeof(int), sizeof(int)) == 0)
                ++readable;
            count = readable;
            fault = true;
        }
        for (unsigned long i = 0; i < count; ++i)
            host[i] = wanted[i] >= 0 && static_cast<uint32_t>(wanted[i]) < machine_nodes
                          ? static_cast<int>(libos::numa_host_nodes(static_cast<uint32_t>(wanted[i])).next(0))
                          : -1;
        if (count) {
            long ret = PalProcessMovePages(target, count, pages.for_kernel() + done, host, status.for_kernel() + done,
                                           flags);
            if (ret < 0) {
                post.flush();
                return ret;
            }
            not_moved += ret;
            long t = translate_status(caller, own, nullptr, pages.address(), status.address(), done, count, wanted, &post);
            post.flush();
            if (t < 0)
                return t;
        }
        if (fault) {
            const unsigned long at = done + count;
            return PalProcessMovePages(target, nr_pages - at, pages.for_kernel() + at, nodes.for_kernel() + at,
                                       status.for_kernel() + at, flags);
        }
    }
    return not_moved;
}
