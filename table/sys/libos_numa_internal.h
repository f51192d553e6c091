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

constexpr uint64_t kNumaDirectoryMagic = 0x3150414d414d554eULL; /* "NUMAMAP1" */

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
};
extern const NumaDirectory g_numa_directory;

}  // namespace libos

#endif
