/* The virtual NUMA area of the shared state (libos_numa_shared.h), after the slots' extension words:
 * the ring of moves made on other processes' pages, and one directory hint per slot. A separate
 * area rather than fields of ThreadSlot, whose 64 bytes are the mask's. */
#include <string.h>

#include "libos/libos_numa_shared.h"
#include "libos/libos_test_hooks.h"
#include "libos/libos_threads.h"
#include "machine/machine_internal.h"
#include "pal/pal.h"

namespace libos {

namespace {

struct NumaArea {
    std::atomic<uint64_t> head;
    uint64_t unused[7];
    NumaMove ring[kNumaMoveSlots];
    std::atomic<uint64_t> hints[kSlotCount];
};

/* The area, when the shared state is mapped (`map`: mapped now if need be), else null. */
NumaArea* area(bool map) {
    if (g_region_state.load(std::memory_order_acquire) != kRegionMapped && !(map && ensure_region()))
        return nullptr;
    return static_cast<NumaArea*>(numa_area());
}

/* The index of the slot process `pid`'s first thread holds, or -1. */
int64_t slot_index(pid_t pid) {
    ThreadSlot* slot = lookup(pid);
    return slot ? slot - g_machine.slots : -1;
}

/* The directory this process image shared: once (no getpid per memory-policy call). A fork child
 * inherits the mark and shares nothing itself; its first reader finds its records through the maps
 * files and leaves the hint for the next. */
constinit uintptr_t g_shared_directory = 0;

}  // namespace

constexpr size_t kNumaAreaBytesValue = (sizeof(NumaArea) + kPageSize - 1) / kPageSize * kPageSize;
const size_t kNumaAreaBytes = kNumaAreaBytesValue;

void* numa_area() {
    char* ext = reinterpret_cast<char*>(g_machine.ext);
    return ext + static_cast<size_t>(kSlotCount) * g_machine.ext_words * 8;
}

void numa_share_directory(uintptr_t directory) {
    if (directory == g_shared_directory)
        return;
    NumaArea* a = area(false);
    if (!a)
        return;
    const int64_t at = slot_index(static_cast<pid_t>(PalProcessGetId()));
    if (at < 0)
        return;
    a->hints[at].store(directory, std::memory_order_release);
    g_shared_directory = directory;
}

uintptr_t numa_directory_hint(pid_t pid) {
    NumaArea* a = area(false);
    const int64_t at = a ? slot_index(pid) : -1;
    return at < 0 ? 0 : a->hints[at].load(std::memory_order_acquire);
}

void numa_note_directory_hint(pid_t pid, uintptr_t directory) {
    NumaArea* a = area(false);
    const int64_t at = a ? slot_index(pid) : -1;
    if (at >= 0)
        a->hints[at].store(directory, std::memory_order_release);
}

uint64_t numa_move_head(bool map) {
    NumaArea* a = area(map);
    return a ? a->head.load(std::memory_order_acquire) : 0;
}

bool numa_post_move(const NumaMoveData& move) {
    NumaArea* a = area(true);
    if (!a)
        return false;
    const uint64_t index = a->head.fetch_add(1, std::memory_order_acq_rel);
    NumaMove& e = a->ring[index % kNumaMoveSlots];
    const uint32_t whole = static_cast<uint32_t>(2 * (index + 1));
    /* A writer stopped after its index was given out, for as long as 256 later moves took to be
     * posted, finds its entry holding a later index's number: its move is lost, and the later one is
     * left as it is (not made to look unfinished, nor its body overwritten). Only the moment between
     * a check and the store it guards is left. */
    const auto lapped = [&e](uint32_t number) {
        return static_cast<int32_t>(e.seq.load(std::memory_order_acquire) - number) > 0;
    };
    uint32_t seen = e.seq.load(std::memory_order_acquire);
    if (static_cast<int32_t>(seen - (whole - 1)) >= 0)
        return false;
    /* Whose the move is, then the odd number that makes it count (a release: the writer comes with
     * it), then the body. */
    e.writer.store(static_cast<uint32_t>(PalThreadGetId()), std::memory_order_relaxed);
    e.ns.store(move.ns, std::memory_order_relaxed);
    do {
        if (static_cast<int32_t>(seen - (whole - 1)) >= 0)
            return false;
    } while (!e.seq.compare_exchange_weak(seen, whole - 1, std::memory_order_release, std::memory_order_acquire));
    std::atomic_thread_fence(std::memory_order_release);
    test_point(TestPoint::kNumaPostWriting);
    if (lapped(whole - 1))
        return false;
    const NumaMoveBody body = {move.pid, move.kind, move.pages, move.node, move.nonce, move.first_page, move.from, move.to};
    memcpy(&e.body, &body, sizeof(body));
    uint32_t odd = whole - 1;
    return e.seq.compare_exchange_strong(odd, whole, std::memory_order_release, std::memory_order_relaxed);
}

MoveState numa_read_move(uint64_t index, NumaMoveData* out) {
    NumaArea* a = area(false);
    if (!a)
        return MoveState::kLost;
    const NumaMove& e = a->ring[index % kNumaMoveSlots];
    const uint32_t whole = static_cast<uint32_t>(2 * (index + 1));
    const uint32_t seq = e.seq.load(std::memory_order_acquire);
    if (seq != whole)
        /* A later index's number: overwritten. Anything else (this index's odd number, an earlier
         * index's, none yet): not finished, or not begun. */
        return static_cast<int32_t>(seq - whole) > 0 ? MoveState::kLost : MoveState::kPending;
    NumaMoveBody body;
    memcpy(&body, &e.body, sizeof(body));
    const uint32_t ns = e.ns.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (e.seq.load(std::memory_order_relaxed) != whole)
        return MoveState::kLost; /* overwritten while it was copied */
    memset(out, 0, sizeof(*out));
    out->pid = body.pid;
    out->ns = ns;
    out->kind = body.kind;
    out->pages = body.pages;
    out->node = body.node;
    out->nonce = body.nonce;
    out->first_page = body.first_page;
    out->from = body.from;
    out->to = body.to;
    return MoveState::kWhole;
}

namespace {

/* The first pending move the taker met, and when it first met it (numa_move_abandoned). Only the
 * taker uses them, one thread at a time (libos_numa_moves.cpp). */
constinit uint64_t g_stall_index = ~uint64_t{0};
constinit uint64_t g_stall_since = 0;

}  // namespace

bool numa_move_abandoned(uint64_t index, bool first) {
    NumaArea* a = area(false);
    if (!a)
        return true;
    const NumaMove& e = a->ring[index % kNumaMoveSlots];
    const uint32_t odd = static_cast<uint32_t>(2 * index + 1);
    uint32_t writer = 0, ns = 0;
    if (e.seq.load(std::memory_order_acquire) == odd) {
        writer = e.writer.load(std::memory_order_relaxed);
        ns = e.ns.load(std::memory_order_relaxed);
    }
    uint64_t budget = kLiveWaitBudgetNs;
    test_point(TestPoint::kNumaWriterLook);
    if (writer && same_pid_namespace(ns)) {
        const Holder holder = holder_kind(writer);
        if (holder == Holder::kGone)
            return true;
        if (holder == Holder::kOther)
            budget = kWaitBudgetNs;
    }
    if (!first)
        return false;
    const uint64_t now = PalClockMonotonic();
    if (g_stall_index != index) {
        g_stall_index = index;
        g_stall_since = now;
        return false;
    }
    return now - g_stall_since >= budget;
}

uint32_t numa_pid_namespace() {
    return pid_namespace_tag();
}

bool numa_same_pid_namespace(uint32_t ns) {
    return same_pid_namespace(ns);
}

}  // namespace libos
