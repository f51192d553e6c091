/* The policies of address ranges (mbind) and the nodes pages were moved to (move_pages), in virtual
 * nodes (libos_numa.h). Both tables are fixed and preallocated, per process: a fork child gets a copy
 * (as it gets the parent's VMA policies), an exec'ed program starts empty (as its new mm does).
 *
 * Ranges: a sequence lock. Writers (mbind, set_mempolicy_home_node) take turns on a flag with a
 * bounded wait, so a writer that died or was interrupted by a signal handler that itself calls mbind
 * cannot hang the next one; readers retry while a write is in progress, also bounded. When the table
 * is full, the records the host no longer confirms (their range was unmapped, or changed by a raw
 * call) are dropped; if it is still full the new range is not recorded and is seen through the map.
 *
 * Pages: one atomic word per entry, the page number and its node, found by hashing the page number
 * over a window of kPageProbe entries; a full window forgets its oldest-placed entry. */
#include <string.h>

#include <atomic>

#include "libos/libos_numa.h"
#include "pal/pal.h"

namespace libos {

namespace {

constexpr uintptr_t kPageBytes = 4096;

struct RangeSlot {
    uintptr_t start; /* start == end: free */
    uintptr_t end;
    VirtualPolicy policy;
};

constinit RangeSlot g_ranges[kRangeSlots] = {};
constinit uint32_t g_range_used = 0; /* slots [0, used) have been written */
constinit std::atomic<uint32_t> g_range_seq{0};
constinit std::atomic<uint32_t> g_range_writer{0};

/* Writers take turns; one that held the flag past the budget is overtaken (it died, or this thread
 * interrupted it from a signal handler). */
class RangeWrite {
public:
    RangeWrite() {
        for (uint32_t round = 0;; ++round) {
            uint32_t expected = 0;
            if (g_range_writer.compare_exchange_weak(expected, 1, std::memory_order_acquire))
                break;
            if (round > 100000)
                break;
            if (round > 64)
                PalThreadYield();
        }
        g_range_seq.fetch_add(1, std::memory_order_acq_rel);
        std::atomic_thread_fence(std::memory_order_release);
    }
    ~RangeWrite() {
        g_range_seq.fetch_add(1, std::memory_order_release);
        g_range_writer.store(0, std::memory_order_release);
    }
    RangeWrite(const RangeWrite&) = delete;
    RangeWrite& operator=(const RangeWrite&) = delete;
};

bool slot_free(const RangeSlot& s) {
    return s.start == s.end;
}

RangeSlot* free_slot() {
    for (uint32_t i = 0; i < g_range_used; ++i)
        if (slot_free(g_ranges[i]))
            return &g_ranges[i];
    if (g_range_used < kRangeSlots)
        return &g_ranges[g_range_used++];
    return nullptr;
}

/* Drops the records the host no longer confirms: what it reports at the range's start must still
 * be the mode and host mask the record was made from. */
void collect_ranges() {
    const uint32_t bits = numa_max_nodes();
    for (uint32_t i = 0; i < g_range_used; ++i) {
        RangeSlot& s = g_ranges[i];
        if (slot_free(s))
            continue;
        NodeBits host = {};
        int mode = 0;
        long ret = PalMemPolicyGet(&mode, reinterpret_cast<unsigned long*>(host.words), bits + 1, s.start, 2 /* MPOL_F_ADDR */);
        if (ret < 0 || mode != s.policy.host_mode || numa_digest(host) != s.policy.host_digest)
            s.start = s.end = 0;
    }
}

/* Removes [start, end) from every record; a record split in two needs a second slot (without one its
 * upper part is forgotten). */
void cut_ranges(uintptr_t start, uintptr_t end) {
    for (uint32_t i = 0; i < g_range_used; ++i) {
        RangeSlot& s = g_ranges[i];
        if (slot_free(s) || s.end <= start || s.start >= end)
            continue;
        if (s.start < start && s.end > end) {
            if (RangeSlot* upper = free_slot()) {
                *upper = s;
                upper->start = end;
            }
            s.end = start;
        } else if (s.start < start) {
            s.end = start;
        } else if (s.end > end) {
            s.start = end;
        } else {
            s.start = s.end = 0;
        }
    }
}

}  // namespace

bool numa_record_range(uintptr_t start, uintptr_t end, const VirtualPolicy& policy) {
    RangeWrite write;
    cut_ranges(start, end);
    if ((policy.mode & ~kMpolModeFlags) == kMpolDefault)
        return true; /* the range is back to no policy of its own */
    RangeSlot* slot = free_slot();
    if (!slot) {
        collect_ranges();
        slot = free_slot();
    }
    if (!slot)
        return false;
    slot->policy = policy;
    slot->end = end;
    slot->start = start;
    return true;
}

bool numa_find_range(uintptr_t addr, VirtualPolicy* out) {
    for (int attempt = 0; attempt < 1000; ++attempt) {
        uint32_t before = g_range_seq.load(std::memory_order_acquire);
        if (before & 1) {
            if (attempt > 64)
                PalThreadYield();
            continue;
        }
        bool found = false;
        uint32_t used = g_range_used < kRangeSlots ? g_range_used : kRangeSlots;
        for (uint32_t i = 0; i < used && !found; ++i) {
            const RangeSlot& s = g_ranges[i];
            if (s.start <= addr && addr < s.end) {
                memcpy(out, &s.policy, sizeof(*out));
                found = true;
            }
        }
        std::atomic_thread_fence(std::memory_order_acquire);
        if (g_range_seq.load(std::memory_order_relaxed) == before)
            return found;
    }
    return false;
}

void numa_set_range_home(uintptr_t start, uintptr_t end, int32_t home) {
    RangeWrite write;
    /* The kernel splits the VMAs at start and end and sets the home node inside only: so are the
     * records (an outer part without a slot of its own is forgotten, and seen through the map). */
    for (uint32_t i = 0; i < g_range_used; ++i) {
        RangeSlot& s = g_ranges[i];
        int mode = s.policy.mode & ~kMpolModeFlags;
        if (slot_free(s) || s.end <= start || s.start >= end || (mode != kMpolBind && mode != kMpolPreferredMany))
            continue;
        if (s.start < start) {
            if (RangeSlot* lower = free_slot()) {
                *lower = s;
                lower->end = start;
            }
            s.start = start;
        }
        if (s.end > end) {
            if (RangeSlot* upper = free_slot()) {
                *upper = s;
                upper->start = end;
            }
            s.end = end;
        }
        s.policy.home = home;
    }
}

/* ---- pages moved ---------------------------------------------------------------------------- */

namespace {

constexpr uint32_t kPageProbe = 8;
/* Each entry: the page number above the low 12 bits, the node + 1 in them; 0 is free. */
constinit std::atomic<uint64_t> g_pages[kPageSlots] = {};

uint32_t page_hash(uint64_t number) {
    return static_cast<uint32_t>((number * 0x9E3779B97F4A7C15ULL) >> 40) % kPageSlots;
}

}  // namespace

void numa_record_page(uintptr_t page, uint32_t vnode) {
    uint64_t number = page / kPageBytes;
    uint64_t entry = (number << 12) | (vnode + 1);
    uint32_t first = page_hash(number);
    for (uint32_t i = 0; i < kPageProbe; ++i) {
        std::atomic<uint64_t>& slot = g_pages[(first + i) % kPageSlots];
        uint64_t old = slot.load(std::memory_order_relaxed);
        if (old == 0 || (old >> 12) == number) {
            slot.store(entry, std::memory_order_relaxed);
            return;
        }
    }
    /* A full window: the page recorded last at its head is forgotten. */
    g_pages[first].store(entry, std::memory_order_relaxed);
}

int numa_find_page(uintptr_t page) {
    uint64_t number = page / kPageBytes;
    uint32_t first = page_hash(number);
    for (uint32_t i = 0; i < kPageProbe; ++i) {
        uint64_t entry = g_pages[(first + i) % kPageSlots].load(std::memory_order_relaxed);
        if (entry && (entry >> 12) == number)
            return static_cast<int>((entry & 0xfff) - 1);
    }
    return -1;
}

void numa_forget_pages(uintptr_t start, uintptr_t end) {
    for (std::atomic<uint64_t>& slot : g_pages) {
        uint64_t entry = slot.load(std::memory_order_relaxed);
        uintptr_t page = static_cast<uintptr_t>(entry >> 12) * kPageBytes;
        if (entry && page >= start && page < end)
            slot.compare_exchange_strong(entry, 0, std::memory_order_relaxed);
    }
}

void numa_remap_pages(const NodeBits& from, const NodeBits& to) {
    const uint32_t from_count = from.count(), to_count = to.count();
    if (from_count == 0 || to_count == 0)
        return;
    for (std::atomic<uint64_t>& slot : g_pages) {
        uint64_t entry = slot.load(std::memory_order_relaxed);
        if (!entry)
            continue;
        uint32_t node = static_cast<uint32_t>((entry & 0xfff) - 1);
        if (!from.has(node) || (from_count != to_count && to.has(node)))
            continue; /* the kernel's do_migrate_pages leaves such a node's pages where they are */
        /* node_remap: the n-th node of `from` goes to the (n mod |to|)-th node of `to`. */
        uint32_t rank = 0;
        for (uint32_t v = from.next(0); v < node; v = from.next(v + 1))
            ++rank;
        uint32_t target = to.next(0);
        for (uint32_t r = rank % to_count; r; --r)
            target = to.next(target + 1);
        slot.compare_exchange_strong(entry, (entry & ~0xfffULL) | (target + 1), std::memory_order_relaxed);
    }
}

}  // namespace libos
