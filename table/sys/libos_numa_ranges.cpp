/* The policies of address ranges (mbind) and the nodes pages were moved to (move_pages), in virtual
 * nodes (libos_numa.h). Both tables are fixed and preallocated, per process: a fork child gets a copy
 * (as it gets the parent's VMA policies), an exec'ed program starts empty (as its new mm does).
 *
 * Records follow the memory: munmap, a MAP_FIXED mmap, mremap and madvise's page-freeing advice
 * (table/sys/libos_memory.cpp) cut, move or forget them, as the kernel drops, moves or frees the VMAs
 * and pages they describe. Those calls are frequent in malloc-heavy programs, so each first reads a
 * count of live records, and does nothing more while it is zero.
 *
 * Ranges: a sequence lock. Writers (mbind, set_mempolicy_home_node, the memory calls) take turns on
 * a flag holding the writer's tid, with a bounded wait, so a writer that died cannot hang the next
 * one; a signal handler that interrupts its own thread's write does not wait for itself, and leaves
 * the range it would have written to be cut when the interrupted write ends (it is then seen through
 * the map). Readers retry while a write is in progress, also bounded. When the table is full, the
 * records the host no longer confirms are dropped; if it is still full the new range is not recorded
 * and is seen through the map.
 *
 * Pages: one atomic word per entry, the page number and its node, found by hashing the page number
 * over a window of kPageProbe entries; a full window forgets its oldest-placed entry. Beside each
 * entry, the stamp of its move, to tell it from a range policy recorded later. */
#include <string.h>

#include <atomic>

#include "libos/libos_numa.h"
#include "libos/libos_sections.h"
#include "libos_numa_internal.h"
#include "pal/pal.h"

namespace libos {

namespace {

constexpr uintptr_t kPageBytes = 4096;

LIBOS_LARGE_BSS constinit RangeSlot g_ranges[kRangeSlots] = {};
constinit uint32_t g_range_used = 0; /* slots [0, used) have been written */
constinit std::atomic<uint32_t> g_range_seq{0};
constinit std::atomic<pid_t> g_range_writer{0};
constinit std::atomic<uint32_t> g_live_ranges{0};
constinit std::atomic<uint32_t> g_live_pages{0};
/* The order of records: a range's policy and a page's move each take the next stamp. */
constinit std::atomic<uint32_t> g_stamp{0};
/* A range a signal handler could not cut because its own thread was writing: cut at that write's end. */
constinit std::atomic<uintptr_t> g_pending_start{0};
constinit std::atomic<uintptr_t> g_pending_end{0};

void cut_ranges(uintptr_t start, uintptr_t end);

/* Writers take turns; one that held the flag past the budget is overtaken (it died). A writer whose
 * own thread already holds the flag (a signal handler on top of the write) is `nested`: it must not
 * touch the table. */
class RangeWrite {
public:
    RangeWrite() : tid_(PalThreadGetId()) {
        if (g_range_writer.load(std::memory_order_acquire) == tid_) {
            nested_ = true;
            return;
        }
        for (uint32_t round = 0;; ++round) {
            pid_t expected = 0;
            if (g_range_writer.compare_exchange_weak(expected, tid_, std::memory_order_acquire))
                break;
            if (round > 100000) {
                g_range_writer.store(tid_, std::memory_order_release);
                break;
            }
            if (round > 64)
                PalThreadYield();
        }
        g_range_seq.fetch_add(1, std::memory_order_acq_rel);
        std::atomic_thread_fence(std::memory_order_release);
    }
    ~RangeWrite() {
        if (nested_)
            return;
        if (uintptr_t end = g_pending_end.load(std::memory_order_relaxed)) {
            cut_ranges(g_pending_start.load(std::memory_order_relaxed), end);
            g_pending_end.store(0, std::memory_order_relaxed);
        }
        g_range_seq.fetch_add(1, std::memory_order_release);
        g_range_writer.store(0, std::memory_order_release);
    }
    RangeWrite(const RangeWrite&) = delete;
    RangeWrite& operator=(const RangeWrite&) = delete;

    bool nested() const { return nested_; }

    /* For a nested writer: [start, end) is cut when the interrupted write ends (a union, if several). */
    static void defer_cut(uintptr_t start, uintptr_t end) {
        uintptr_t s = g_pending_start.load(std::memory_order_relaxed);
        uintptr_t e = g_pending_end.load(std::memory_order_relaxed);
        if (e != 0) {
            start = s < start ? s : start;
            end = e > end ? e : end;
        }
        g_pending_start.store(start, std::memory_order_relaxed);
        g_pending_end.store(end, std::memory_order_relaxed);
    }

private:
    pid_t tid_;
    bool nested_ = false;
};

bool slot_free(const RangeSlot& s) {
    return s.start == s.end;
}

/* A free slot, counted live: the caller fills it. */
RangeSlot* claim_slot() {
    RangeSlot* slot = nullptr;
    for (uint32_t i = 0; i < g_range_used && !slot; ++i)
        if (slot_free(g_ranges[i]))
            slot = &g_ranges[i];
    if (!slot && g_range_used < kRangeSlots)
        slot = &g_ranges[g_range_used++];
    if (slot)
        g_live_ranges.fetch_add(1, std::memory_order_relaxed);
    return slot;
}

void release_slot(RangeSlot& s) {
    s.start = s.end = 0;
    g_live_ranges.fetch_sub(1, std::memory_order_relaxed);
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
            release_slot(s);
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
            if (RangeSlot* upper = claim_slot()) {
                *upper = s;
                upper->start = end;
            }
            s.end = start;
        } else if (s.start < start) {
            s.end = start;
        } else if (s.end > end) {
            s.start = end;
        } else {
            release_slot(s);
        }
    }
}

/* Calls `visit(slot)` on a consistent copy of every record, retrying while a write is in progress
 * (bounded); false when no consistent read could be had. */
template <class Visit>
bool read_ranges(Visit visit) {
    for (int attempt = 0; attempt < 1000; ++attempt) {
        uint32_t before = g_range_seq.load(std::memory_order_acquire);
        if (before & 1) {
            if (attempt > 64)
                PalThreadYield();
            continue;
        }
        uint32_t used = g_range_used < kRangeSlots ? g_range_used : kRangeSlots;
        bool done = false;
        for (uint32_t i = 0; i < used && !done; ++i)
            done = visit(g_ranges[i]);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (g_range_seq.load(std::memory_order_relaxed) == before)
            return true;
    }
    return false;
}

}  // namespace

bool numa_records_live() {
    return (g_live_ranges.load(std::memory_order_relaxed) | g_live_pages.load(std::memory_order_relaxed)) != 0;
}

bool numa_pages_live() {
    return g_live_pages.load(std::memory_order_relaxed) != 0;
}

bool numa_record_range(uintptr_t start, uintptr_t end, const VirtualPolicy& policy) {
    RangeWrite write;
    if (write.nested()) {
        RangeWrite::defer_cut(start, end);
        return false;
    }
    cut_ranges(start, end);
    if ((policy.mode & ~kMpolModeFlags) == kMpolDefault)
        return true; /* the range is back to no policy of its own */
    RangeSlot* slot = claim_slot();
    if (!slot) {
        collect_ranges();
        slot = claim_slot();
    }
    if (!slot)
        return false;
    slot->policy = policy;
    slot->policy.stamp = g_stamp.fetch_add(1, std::memory_order_relaxed) + 1;
    slot->end = end;
    slot->start = start;
    return true;
}

bool numa_find_range(uintptr_t addr, VirtualPolicy* out) {
    bool found = false;
    bool read = read_ranges([&](const RangeSlot& s) {
        if (s.start <= addr && addr < s.end) {
            memcpy(out, &s.policy, sizeof(*out));
            found = true;
        }
        return found;
    });
    return read && found;
}

void numa_set_range_home(uintptr_t start, uintptr_t end, int32_t home) {
    RangeWrite write;
    if (write.nested()) {
        RangeWrite::defer_cut(start, end);
        return;
    }
    /* The kernel splits the VMAs at start and end and sets the home node inside only: so are the
     * records (an outer part without a slot of its own is forgotten, and seen through the map). */
    for (uint32_t i = 0; i < g_range_used; ++i) {
        RangeSlot& s = g_ranges[i];
        int mode = s.policy.mode & ~kMpolModeFlags;
        if (slot_free(s) || s.end <= start || s.start >= end || (mode != kMpolBind && mode != kMpolPreferredMany))
            continue;
        if (s.start < start) {
            if (RangeSlot* lower = claim_slot()) {
                *lower = s;
                lower->end = start;
            }
            s.start = start;
        }
        if (s.end > end) {
            if (RangeSlot* upper = claim_slot()) {
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

/* A range of at most this many pages is looked up page by page; a larger one scans the table. */
constexpr uintptr_t kProbedPages = 64;
/* Each entry: the page number above the low 12 bits, the node + 1 in them; 0 is free. */
LIBOS_LARGE_BSS constinit std::atomic<uint64_t> g_pages[kPageSlots] = {};
LIBOS_LARGE_BSS constinit std::atomic<uint32_t> g_page_stamps[kPageSlots] = {};

uint32_t page_hash(uint64_t number) {
    return numa_page_hash(number);
}

void record_page(uintptr_t page, uint32_t vnode, uint32_t stamp) {
    uint64_t number = page / kPageBytes;
    uint64_t entry = (number << 12) | (vnode + 1);
    uint32_t first = page_hash(number);
    for (uint32_t i = 0; i < kPageProbe; ++i) {
        const uint32_t at = (first + i) % kPageSlots;
        uint64_t old = g_pages[at].load(std::memory_order_relaxed);
        if (old && (old >> 12) == number) {
            g_page_stamps[at].store(stamp, std::memory_order_relaxed);
            g_pages[at].store(entry, std::memory_order_release);
            return;
        }
    }
    for (uint32_t i = 0; i < kPageProbe; ++i) {
        const uint32_t at = (first + i) % kPageSlots;
        uint64_t expected = 0;
        g_page_stamps[at].store(stamp, std::memory_order_relaxed);
        if (g_pages[at].compare_exchange_strong(expected, entry, std::memory_order_release)) {
            g_live_pages.fetch_add(1, std::memory_order_relaxed);
            return;
        }
    }
    /* A full window: the page recorded last at its head is forgotten. */
    g_page_stamps[first].store(stamp, std::memory_order_relaxed);
    g_pages[first].store(entry, std::memory_order_release);
}

/* Frees entry `at` if it still holds `entry`. */
bool drop_page(uint32_t at, uint64_t entry) {
    if (!g_pages[at].compare_exchange_strong(entry, 0, std::memory_order_relaxed))
        return false;
    g_live_pages.fetch_sub(1, std::memory_order_relaxed);
    return true;
}

/* Calls `visit(at, entry)` for every entry of a page in [start, end). */
template <class Visit>
void for_pages_in(uintptr_t start, uintptr_t end, Visit visit) {
    auto inside = [start, end](uint64_t entry) {
        uintptr_t page = static_cast<uintptr_t>(entry >> 12) * kPageBytes;
        return entry && page >= start && page < end;
    };
    if (end > start && (end - start) / kPageBytes <= kProbedPages) {
        for (uintptr_t page = start & ~(kPageBytes - 1); page < end; page += kPageBytes) {
            const uint32_t first = page_hash(page / kPageBytes);
            for (uint32_t i = 0; i < kPageProbe; ++i) {
                const uint32_t at = (first + i) % kPageSlots;
                uint64_t entry = g_pages[at].load(std::memory_order_acquire);
                if (inside(entry) && (entry >> 12) == page / kPageBytes)
                    visit(at, entry);
            }
        }
        return;
    }
    for (uint32_t at = 0; at < kPageSlots; ++at) {
        uint64_t entry = g_pages[at].load(std::memory_order_acquire);
        if (inside(entry))
            visit(at, entry);
    }
}

}  // namespace

uint32_t numa_next_stamp() {
    return g_stamp.fetch_add(1, std::memory_order_relaxed) + 1;
}

void numa_record_page(uintptr_t page, uint32_t vnode) {
    record_page(page, vnode, g_stamp.fetch_add(1, std::memory_order_relaxed) + 1);
}

int numa_find_page(uintptr_t page, uint32_t* stamp) {
    uint64_t number = page / kPageBytes;
    uint32_t first = page_hash(number);
    for (uint32_t i = 0; i < kPageProbe; ++i) {
        const uint32_t at = (first + i) % kPageSlots;
        uint64_t entry = g_pages[at].load(std::memory_order_acquire);
        if (entry && (entry >> 12) == number) {
            *stamp = g_page_stamps[at].load(std::memory_order_relaxed);
            return static_cast<int>((entry & 0xfff) - 1);
        }
    }
    return -1;
}

void numa_forget_pages(uintptr_t start, uintptr_t end) {
    if (!numa_pages_live())
        return;
    for_pages_in(start, end, [](uint32_t at, uint64_t entry) { drop_page(at, entry); });
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

/* ---- the memory calls ----------------------------------------------------------------------- */

void numa_forget_memory(uintptr_t start, uintptr_t end) {
    if (g_live_ranges.load(std::memory_order_relaxed)) {
        bool meets = false;
        bool read = read_ranges([&](const RangeSlot& s) {
            meets = !slot_free(s) && s.start < end && s.end > start;
            return meets;
        });
        if (meets || !read) {
            RangeWrite write;
            if (write.nested())
                RangeWrite::defer_cut(start, end);
            else
                cut_ranges(start, end);
        }
    }
    numa_forget_pages(start, end);
}

void numa_move_memory(uintptr_t old, uintptr_t old_len, uintptr_t to, uintptr_t new_len, bool keep_old) {
    if (to == old) {
        /* Resized in place: a shrink drops the tail; a growth extends the VMA, and with it the
         * policy of a record that reached the old end. */
        if (new_len < old_len) {
            numa_forget_memory(old + new_len, old + old_len);
        } else if (new_len > old_len && g_live_ranges.load(std::memory_order_relaxed)) {
            RangeWrite write;
            if (write.nested()) {
                RangeWrite::defer_cut(old, old + new_len);
                return;
            }
            for (uint32_t i = 0; i < g_range_used; ++i)
                if (!slot_free(g_ranges[i]) && g_ranges[i].start >= old && g_ranges[i].end == old + old_len)
                    g_ranges[i].end = old + new_len;
        }
        return;
    }
    const uintptr_t kept = new_len < old_len ? new_len : old_len;
    if (g_live_ranges.load(std::memory_order_relaxed)) {
        RangeWrite write;
        if (write.nested()) {
            RangeWrite::defer_cut(old < to ? old : to, old < to ? to + new_len : old + old_len);
        } else {
            /* The destination's old mappings are gone; the records of the moved part go with it (the
             * new address range never overlaps the old one), the part past the new length is
             * dropped, and a record reaching the old end grows with the mapping. */
            cut_ranges(to, to + new_len);
            const uint32_t used = g_range_used;
            for (uint32_t i = 0; i < used; ++i) {
                const RangeSlot s = g_ranges[i];
                if (slot_free(s) || s.end <= old || s.start >= old + kept)
                    continue;
                RangeSlot* moved = claim_slot();
                if (!moved)
                    break;
                *moved = s;
                moved->start = (s.start > old ? s.start : old) - old + to;
                moved->end = s.end >= old + old_len && new_len > old_len ? to + new_len
                                                                          : (s.end < old + kept ? s.end : old + kept) - old + to;
            }
            if (!keep_old)
                cut_ranges(old, old + old_len);
        }
    }
    /* The pages travel with the mapping, MREMAP_DONTUNMAP included (the old range is left empty). */
    if (numa_pages_live())
        for_pages_in(old, old + old_len, [&](uint32_t at, uint64_t entry) {
            const uint32_t stamp = g_page_stamps[at].load(std::memory_order_relaxed);
            if (!drop_page(at, entry))
                return;
            const uintptr_t page = static_cast<uintptr_t>(entry >> 12) * kPageBytes;
            if (page < old + kept)
                record_page(page - old + to, static_cast<uint32_t>((entry & 0xfff) - 1), stamp);
        });
}

/* ---- what other processes read ------------------------------------------------------------- */

namespace {

/* The task policy (the first thread's), for other processes' readers of numa_maps and move_pages:
 * the first thread alone writes it, under a sequence number. A signal handler on that thread may
 * publish while its own thread is inside the write (the sequence number odd): it only asks the
 * interrupted write to copy again, from the record the handler changed, so that the number is never
 * even while the copy is torn, and the last record written is the one published. */
constinit std::atomic<uint32_t> g_task_seq{0};
constinit std::atomic<uint32_t> g_task_again{0};
constinit uint32_t g_task_valid = 0;
constinit VirtualPolicy g_task_policy = {};

}  // namespace

void numa_publish_task_policy(const VirtualPolicy* policy) {
    if (g_task_seq.load(std::memory_order_relaxed) & 1) {
        g_task_again.store(1, std::memory_order_relaxed);
        return;
    }
    do {
        g_task_seq.fetch_add(1, std::memory_order_acq_rel);
        std::atomic_thread_fence(std::memory_order_release);
        /* Copied again while a handler asked for it: the number turns even on a whole copy only. */
        do {
            g_task_again.store(0, std::memory_order_relaxed);
            if (policy)
                g_task_policy = *policy;
            g_task_valid = policy != nullptr;
        } while (g_task_again.load(std::memory_order_acquire));
        g_task_seq.fetch_add(1, std::memory_order_release);
        /* A handler between the last look and the even number: its record is published again. */
    } while (g_task_again.load(std::memory_order_acquire));
}

LIBOS_FORK_PATH void numa_republish_task_policy(const VirtualPolicy* policy) {
    const bool same = !(g_task_seq.load(std::memory_order_relaxed) & 1) && g_task_valid == (policy != nullptr) &&
                      (!policy || memcmp(&g_task_policy, policy, sizeof(*policy)) == 0);
    if (same)
        return;
    /* The fork child's only thread: a write the parent's first thread had in progress is gone. */
    g_task_seq.fetch_and(~1u, std::memory_order_relaxed);
    g_task_again.store(0, std::memory_order_relaxed);
    numa_publish_task_policy(policy);
}

constinit const NumaDirectory g_numa_directory = {
    kNumaDirectoryMagic, &g_numa_directory, kRangeSlots,  kPageSlots,   sizeof(RangeSlot),
    sizeof(VirtualPolicy), g_ranges,        &g_range_used, &g_range_seq, g_pages,
    g_page_stamps,         &g_task_seq,     &g_task_valid, &g_task_policy,
    g_remaps,              &g_remap_count,  &g_adopted_moves, &g_live_pages,
    g_taken_beyond,        &g_adopt_seq,
};

}  // namespace libos
