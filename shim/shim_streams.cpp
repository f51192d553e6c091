/* The fts streams the shim's own walker made (shim_walk.h: remember_stream), told from glibc's by
 * their addresses alone: nothing is added to the stream itself, whose fts_options the program may
 * read (a private bit there showed). A fixed block of slots, then blocks mapped as more streams are
 * open at once, never unmapped; claimed and freed with compare-and-swap, so no lock is taken. */
#include <atomic>
#include <new>

#include "pal/pal.h"
#include "shim_walk.h"

namespace shim {
namespace {

constexpr int kSlotsPerBlock = 32;
struct StreamBlock {
    std::atomic<const void*> slots[kSlotsPerBlock];
    std::atomic<StreamBlock*> next;
};
constinit StreamBlock g_first = {};
constinit std::atomic<int> g_count{0}; /* no stream of ours: every question is answered at once */

}  // namespace

bool remember_stream(const void* stream) {
    StreamBlock* b = &g_first;
    for (;;) {
        for (auto& slot : b->slots) {
            const void* none = nullptr;
            if (slot.compare_exchange_strong(none, stream, std::memory_order_acq_rel)) {
                g_count.fetch_add(1, std::memory_order_acq_rel);
                return true;
            }
        }
        StreamBlock* next = b->next.load(std::memory_order_acquire);
        if (!next) {
            void* memory;
            if (PalMemoryAllocate(sizeof(StreamBlock), &memory) < 0)
                return false;
            auto* fresh = new (memory) StreamBlock(); /* zeroed pages: every slot free */
            if (b->next.compare_exchange_strong(next, fresh, std::memory_order_acq_rel))
                next = fresh;
            else
                PalMemoryFree(memory, sizeof(StreamBlock)); /* another thread's block: use it */
        }
        b = next;
    }
}

bool is_stream(const void* stream) {
    if (!stream || g_count.load(std::memory_order_acquire) == 0)
        return false;
    for (StreamBlock* b = &g_first; b; b = b->next.load(std::memory_order_acquire))
        for (auto& slot : b->slots)
            if (slot.load(std::memory_order_acquire) == stream)
                return true;
    return false;
}

void forget_stream(const void* stream) {
    for (StreamBlock* b = &g_first; b; b = b->next.load(std::memory_order_acquire)) {
        for (auto& slot : b->slots) {
            const void* expected = stream;
            if (slot.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel)) {
                g_count.fetch_sub(1, std::memory_order_acq_rel);
                return;
            }
        }
    }
}

}  // namespace shim
