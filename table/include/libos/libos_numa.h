/* Virtual NUMA memory policy: what the LibOS remembers of the program's policies, in virtual nodes.
 *
 * The host kernel keeps every policy, but in host nodes: when several virtual nodes share one host
 * node (all of them on a one-node host) it cannot tell them apart. So the LibOS keeps the virtual
 * policy beside the host's, in three places, none of which allocates or locks:
 *   - the thread's policy (set_mempolicy), in initial-exec TLS: inherited by fork (the memory is
 *     copied), by pthread_create (the shim copies the creator's, shim/shim_thread.cpp) and across
 *     execve (LIBOS_MEMPOLICY, written at exec);
 *   - the policies of address ranges (mbind), in a fixed table of kRangeSlots entries per process;
 *     (the tables are static memory of every process: small, as a program's address-space limit
 *     counts them)
 *   - the node each page was moved to (move_pages), in a fixed table of kPageSlots entries.
 * Each record also keeps what the host reported for it, and is believed only while the host still
 * reports that: a policy changed behind the LibOS's back (a raw system call, a thread the shim did
 * not start, an unmapped range) is then seen through the map of nodes instead.
 *
 * docs/numa.md describes what is exact and what is approximated. */
#ifndef LIBOS_NUMA_H
#define LIBOS_NUMA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

namespace libos {

/* The virtual kernel's MAX_NUMNODES: node masks have this many bits. A machine of more nodes leaves
 * the memory-policy calls to the host. */
constexpr uint32_t kMaxNodeBits = 1024;
constexpr size_t kNodeWords = kMaxNodeBits / 64;

/* A set of nodes, as the kernel's nodemask_t. */
struct NodeBits {
    uint64_t words[kNodeWords];
    bool has(uint32_t node) const { return node < kMaxNodeBits && (words[node / 64] >> (node % 64)) & 1; }
    void add(uint32_t node) { words[node / 64] |= 1ULL << (node % 64); }
    bool empty() const;
    uint32_t count() const;
    /* The first node at or after `from`, or kMaxNodeBits. */
    uint32_t next(uint32_t from) const;
};

/* The kernel's mode flags and mode values (linux/mempolicy.h), for the table's own use. */
constexpr int kMpolDefault = 0, kMpolPreferred = 1, kMpolBind = 2, kMpolInterleave = 3, kMpolLocal = 4,
              kMpolPreferredMany = 5, kMpolWeightedInterleave = 6;
constexpr int kMpolFStaticNodes = 1 << 15, kMpolFRelativeNodes = 1 << 14, kMpolFNumaBalancing = 1 << 13;
constexpr int kMpolModeFlags = kMpolFStaticNodes | kMpolFRelativeNodes | kMpolFNumaBalancing;

/* A policy in virtual nodes, with what the host reported for it. `nodes` is what get_mempolicy
 * returns: the mask as given when a mode flag is set (MPOL_F_STATIC_NODES, MPOL_F_RELATIVE_NODES,
 * MPOL_F_NUMA_BALANCING), otherwise the nodes in use (preferred: its one node). */
struct VirtualPolicy {
    int mode;      /* mode | mode flags, as get_mempolicy returns it */
    int host_mode; /* what the host's get_mempolicy returned */
    uint64_t host_digest; /* a digest of the host's node mask for it */
    int32_t home;  /* set_mempolicy_home_node's virtual node, or -1 */
    uint32_t il_prev; /* the interleave cursor (the kernel's il_prev), in virtual nodes */
    uint32_t stamp;   /* a range's record: when it was made, in the order of records (0: a thread's) */
    NodeBits nodes;
};

/* ---- the machine's nodes -------------------------------------------------------------------- */

/* Whether the memory-policy calls are the LibOS's: a virtual machine of at most kMaxNodeBits nodes. */
bool numa_virtual();
/* The machine's node count (the virtual nr_node_ids), and the kernel's MAX_NUMNODES (the host's:
 * bits at and above it must be zero, as there). */
uint32_t numa_node_count();
uint32_t numa_max_nodes();
/* The host nodes virtual node v is backed by (its vCPUs' host nodes). */
const NodeBits& numa_host_nodes(uint32_t v);
/* Host nodes of a virtual mask: the union of each valid node's host nodes; a node at or beyond the
 * machine's count becomes `numa_unbacked_host_node()`, a host node that no process is allowed, so
 * that the host reaches the kernel's verdict on it (EINVAL for a policy left with no node, EPERM for
 * migrate_pages' new nodes) by itself. */
void numa_to_host(const NodeBits& vnodes, NodeBits* host);
uint32_t numa_unbacked_host_node();
/* Virtual nodes whose host nodes all lie in `host` (or, when none does, those that meet it). */
void numa_to_virtual(const NodeBits& host, NodeBits* vnodes);
/* The first virtual node in `among` (every node when null) backed by host node `host`, or -1. */
int numa_virtual_node_of(uint32_t host, const NodeBits* among);
/* The node of the vCPU the calling thread runs on. */
uint32_t numa_current_node();
/* A digest of a host mask, to tell whether the host still reports what a record was made from. */
uint64_t numa_digest(const NodeBits& host);
/* The virtual nodes a policy allocates on: the mask folded for relative nodes, cut to the machine. */
void numa_effective(const VirtualPolicy& policy, NodeBits* out);

/* The virtual node of the calling process's page at `addr`, which the host keeps on host node `host`
 * (libos_numa.cpp: where move_pages put it, else where its policy would on a real machine). */
uint32_t numa_page_node(uintptr_t addr, uint32_t host);

/* ---- another process's records (libos_numa_remote.cpp) -------------------------------------- */

/* A copy of the records of another process of the launch: its ranges' policies, its moved pages,
 * its first thread's policy (the task policy numa_maps shows), and the node its first thread's
 * vCPUs are on when they are all on one. Read with process_vm_readv, which the host permits only
 * with the right to attach to the process (more than numa_maps and move_pages need: nothing is
 * granted that the host would refuse); every field is checked, as input from another process. */
struct NumaRemote;
/* Reads process `pid`'s records into a mapping of their own; null when they cannot be read (no
 * right, no shim in it, another build of the shim): the process is then seen through the map. */
NumaRemote* numa_remote_open(pid_t pid);
void numa_remote_close(NumaRemote* remote);
bool numa_remote_find_range(const NumaRemote* remote, uintptr_t addr, VirtualPolicy* out);
/* The first thread's policy, or null when it has none recorded. */
const VirtualPolicy* numa_remote_task_policy(const NumaRemote* remote);
/* The virtual node page `page` was moved to (as numa_find_page), or -1. */
int numa_remote_find_page(const NumaRemote* remote, uintptr_t page, uint32_t* stamp);
/* The node of the first thread's vCPUs when they all lie in one, else -1. */
int numa_remote_current_node(const NumaRemote* remote);
/* Its migrations by other processes (libos_numa_internal.h: RemapRecord), taken or not yet. */
struct RemapRecord;
uint32_t numa_remote_remaps(const NumaRemote* remote, const RemapRecord** out);
/* `node`, a virtual node on host node `host` that a policy recorded at `since` (0: none) gives, after
 * the migrations of the process by others since (`remote` null: the calling process, which takes the
 * moves posted for it first); unchanged when that node is not on `host`. */
uint32_t numa_migrated_node(const NumaRemote* remote, uint32_t node, uint32_t host, uint32_t since);
/* numa_page_node for another process's page (`remote` null: the calling process's). */
uint32_t numa_page_node_in(const NumaRemote* remote, uintptr_t addr, uint32_t host);
/* The first thread's policy changed (null: it has none): published for other processes' readers.
 * `policy` is the thread's own record (a signal handler's change to it is published again). */
void numa_publish_task_policy(const VirtualPolicy* policy);
/* In a fork child: `policy` (the forking thread's record, now the first thread's) published unless
 * it already is. */
void numa_republish_task_policy(const VirtualPolicy* policy);

/* ---- the thread's policy -------------------------------------------------------------------- */

/* The calling thread's record, or null when it has none (then the host's policy, seen through the
 * map, is the answer). */
VirtualPolicy* numa_thread_policy();
void numa_set_thread_policy(const VirtualPolicy& policy);
/* For pthread_create: the creator's record (`valid` false when none), and the new thread taking it. */
struct InheritedPolicy {
    bool valid;
    VirtualPolicy policy;
};
void numa_copy_thread_policy(InheritedPolicy* out);
/* In a fork child (after_fork_child): the forking thread's record published as the task policy. */
void numa_after_fork_child();
/* Before a fork (before_fork, in the parent): the moves other processes posted for this one are
 * taken, so that the child, which copies the records, has them (the kernel moved the pages before
 * the fork; the posts name the parent, not the child). */
void numa_before_fork();
void numa_adopt_thread_policy(const InheritedPolicy& in);
/* LIBOS_MEMPOLICY: the exec'ing thread's policy, "MODE" or "MODE:LIST" (decimal mode with flags, a
 * node list), written into `buf`; 0 when the thread has none to pass. */
size_t numa_exec_text(char* buf, size_t size);
/* Reads LIBOS_MEMPOLICY at start-up: false when malformed. */
bool numa_parse_inherited(const char* text, int* mode, NodeBits* nodes);
void numa_set_inherited(int mode, const NodeBits& nodes);

/* ---- the policies of ranges ----------------------------------------------------------------- */

constexpr uint32_t kRangeSlots = 128;
/* Records `policy` for [start, end), replacing what covered it. False when the table is full even
 * after dropping the records the host no longer confirms: the range is then seen through the map. */
bool numa_record_range(uintptr_t start, uintptr_t end, const VirtualPolicy& policy);
/* The record covering `addr`, copied out; false when there is none. */
bool numa_find_range(uintptr_t addr, VirtualPolicy* out);
/* set_mempolicy_home_node on the records inside [start, end). */
void numa_set_range_home(uintptr_t start, uintptr_t end, int32_t home);

/* ---- pages moved ---------------------------------------------------------------------------- */

constexpr uint32_t kPageSlots = 2048;
void numa_record_page(uintptr_t page, uint32_t vnode);
/* The virtual node page `page` was last moved to, or -1; `stamp` the move's place in the order of
 * records (VirtualPolicy::stamp). */
int numa_find_page(uintptr_t page, uint32_t* stamp);
/* mbind with MPOL_MF_MOVE, and madvise freeing pages: the pages of [start, end) now follow the
 * range's policy. */
void numa_forget_pages(uintptr_t start, uintptr_t end);
/* migrate_pages on the process itself: the recorded pages on a node of `from` follow the kernel's
 * node_remap onto `to`. */
void numa_remap_pages(const NodeBits& from, const NodeBits& to);

/* ---- the memory calls (table/sys/libos_memory.cpp) ------------------------------------------- */

/* Whether any range or page record is live, and any page record: one relaxed load each, all that a
 * memory call costs while there is none. */
bool numa_records_live();
bool numa_pages_live();
/* [start, end) was unmapped or mapped anew (munmap, MAP_FIXED): its records are forgotten. */
void numa_forget_memory(uintptr_t start, uintptr_t end);
/* mremap moved [old, old + old_len) to [to, to + new_len) (to == old: resized in place; lengths in
 * whole pages); `keep_old` for MREMAP_DONTUNMAP, which leaves the old range mapped, with its policy. */
void numa_move_memory(uintptr_t old, uintptr_t old_len, uintptr_t to, uintptr_t new_len, bool keep_old);

}  // namespace libos

#endif
