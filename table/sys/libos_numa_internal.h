/* What the files of virtual NUMA share and nothing else reads: the layout of a process's records,
 * which another process of the launch reads through process_vm_readv (libos_numa_remote.cpp). Every
 * process of a launch loads the same shim, so the layout is the same in each; the directory says
 * where the records are, and a reader that finds another magic, another size or a directory that
 * does not name its own address reads nothing. */
#ifndef LIBOS_NUMA_INTERNAL_H
#define LIBOS_NUMA_INTERNAL_H

#include <stdint.h>

#include <atomic>

#include "libos/libos_numa.h"
#include "libos/libos_numa_shared.h"

namespace libos {

/* A range's record: [start, end) under `policy`; start == end: free. */
struct RangeSlot {
    uintptr_t start;
    uintptr_t end;
    VirtualPolicy policy;
};

/* Moved pages: an entry's slot is found by hashing its page number over a window of kPageProbe. */
constexpr uint32_t kPageProbe = 8;
inline uint32_t numa_page_hash(uint64_t number) {
    return static_cast<uint32_t>((number * 0x9E3779B97F4A7C15ULL) >> 40) % kPageSlots;
}

constexpr uint64_t kNumaDirectoryMagic = 0x3350414d414d554eULL; /* "NUMAMAP3" */

/* A migrate_pages of this process by another one, taken from the launch's ring
 * (libos_numa_moves.cpp): the kernel's node_remap of `from` onto `to` (virtual nodes below 64),
 * applied to the node a page's policy gives when the policy was recorded before the move (`stamp`, in
 * the order of records). The pages recorded as moved are remapped when it is taken. */
struct RemapRecord {
    uint32_t stamp;
    uint32_t unused;
    uint64_t from;
    uint64_t to;
};
constexpr uint32_t kRemapSlots = 16;

/* The next stamp in the order of records (libos_numa_ranges.cpp). */
uint32_t numa_next_stamp();
/* node_remap: `node` (in `from`) onto `to`, as the kernel's do_migrate_pages moves a node's pages;
 * -1 when the node stays where it is. */
int numa_remap_node(uint32_t node, uint64_t from, uint64_t to);
/* `node` after the remaps recorded after `since` (a policy's stamp; 0: all of them). */
uint32_t numa_remapped(uint32_t node, uint32_t since, const RemapRecord* remaps, uint32_t count);
/* The first 8 bytes the kernel gave a process at exec (AT_RANDOM): this one's, or process pid's
 * (through /proc/<pid>/auxv and process_vm_readv). False when they cannot be had. */
bool numa_own_nonce(uint64_t* out);
bool numa_process_nonce(pid_t pid, uint64_t* out);

/* The moves other processes posted for this one, taken into its records (a load of the ring's head
 * when there are none); its directory shared for readers. Every index below the taken index
 * (g_adopted_moves) has been taken; so have those of the next kNumaMoveSlots whose mark is set in
 * g_taken_beyond (bit index % kNumaMoveSlots): a move still being written stops the taken index, not
 * the moves after it. The records, the taken index and its marks change under g_adopt_seq (odd while
 * they do), which readers in other processes check. */
void numa_adopt_moves();
constexpr uint32_t kTakenWords = kNumaMoveSlots / 64;
/* Whether the move at ring index `index` was taken, by the taken index `adopted` and its marks. */
bool numa_move_taken(const uint64_t* bits, uint64_t adopted, uint64_t index);
/* In a fork child: the taker's flag, which a thread of the parent may have held at the fork, freed. */
void numa_moves_after_fork_child();
void numa_share_own_directory();
/* This process's migrations by others, as taken. */
uint32_t numa_own_remaps(const RemapRecord** out);

/* The pages of one move_pages(pid, ..., nodes) on another process of the launch that the host put
 * on the host node behind the virtual node asked for: posted in runs of consecutive pages. */
constexpr uint32_t kNumaMovePagesMax = 1u << 20;
class RemoteMoves {
public:
    /* False (and nothing is posted) when `pid` is not a process of the launch whose exec bytes can be
     * read. */
    bool begin(pid_t pid);
    void add(uintptr_t page, uint32_t node);
    void flush();

private:
    bool active_ = false;
    NumaMoveData header_ = {};
    uint64_t first_ = 0;
    uint32_t count_ = 0;
    uint32_t node_ = 0;
};
/* migrate_pages(pid, from, to) on another process of the launch, after the host accepted it. */
void numa_post_remote_remap(pid_t pid, const NodeBits& from, const NodeBits& to);

/* Where a process's records are, in its own address space (libos_numa_ranges.cpp). */
struct NumaDirectory {
    uint64_t magic;
    const NumaDirectory* self;
    uint32_t range_slots;
    uint32_t page_slots;
    uint32_t range_bytes; /* sizeof(RangeSlot) */
    uint32_t policy_bytes;
    const RangeSlot* ranges;
    const uint32_t* range_used;
    const std::atomic<uint32_t>* range_seq;
    const std::atomic<uint64_t>* pages; /* page number << 12 | node + 1 */
    const std::atomic<uint32_t>* page_stamps;
    const std::atomic<uint32_t>* task_seq; /* odd while the task policy is written */
    const uint32_t* task_valid;
    const VirtualPolicy* task_policy;
    const RemapRecord* remaps;
    const std::atomic<uint32_t>* remap_count;
    const std::atomic<uint64_t>* adopted; /* the ring index up to which moves were taken */
    const std::atomic<uint32_t>* live_pages; /* how many moved pages are recorded */
    const uint64_t* taken_beyond;           /* the moves taken past it */
    const std::atomic<uint32_t>* adopt_seq; /* odd while moves are taken */
};
extern const NumaDirectory g_numa_directory;
extern RemapRecord g_remaps[kRemapSlots];
extern std::atomic<uint32_t> g_remap_count;
extern std::atomic<uint64_t> g_adopted_moves;
extern uint64_t g_taken_beyond[kTakenWords];
extern std::atomic<uint32_t> g_adopt_seq;

}  // namespace libos

#endif
