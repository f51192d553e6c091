/* The virtual NUMA area of the shared state (libos_numa_shared.h), after the slots' extension words:
 * the ring of moves made on other processes' pages, and one directory hint per slot. A separate
 * area rather than fields of ThreadSlot, whose 64 bytes are the mask's. */
#include <string.h>

#include "libos/libos_numa_shared.h"
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
    e.seq.store(whole - 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    memcpy(&e.data, &move, sizeof(move));
    e.seq.store(whole, std::memory_order_release);
    return true;
}

bool numa_read_move(uint64_t index, NumaMoveData* out) {
    NumaArea* a = area(false);
    if (!a)
        return false;
    const NumaMove& e = a->ring[index % kNumaMoveSlots];
    const uint32_t whole = static_cast<uint32_t>(2 * (index + 1));
    if (e.seq.load(std::memory_order_acquire) != whole)
        return false;
    memcpy(out, &e.data, sizeof(*out));
    std::atomic_thread_fence(std::memory_order_acquire);
    return e.seq.load(std::memory_order_relaxed) == whole;
}

uint32_t numa_pid_namespace() {
    return pid_namespace_tag();
}

bool numa_same_pid_namespace(uint32_t ns) {
    return same_pid_namespace(ns);
}

}  // namespace libos
