/* Scratch memory (libos_scratch.h): a pool of static slabs claimed with one atomic operation, and a
 * mapping of its own for what the pool cannot give. */
#include "libos/libos_scratch.h"

#include <stdint.h>

#include <atomic>

#include "libos/libos_sections.h"
#include "pal/pal.h"

namespace libos {
namespace {

static_assert(Scratch::kSlabs <= 32, "the pool's claims are one 32-bit word");

/* Each slab starts a page: a claim of 4 KiB or less (the set-up's four CPU sets) touches one page,
 * one page fault, rather than two. */
struct alignas(4096) Slab {
    char bytes[Scratch::kSlabBytes];
};
/* In .lbss: pages nobody touched cost nothing, and start-up does not touch them. */
LIBOS_LARGE_BSS constinit Slab g_slabs[Scratch::kSlabs] = {};
constinit std::atomic<uint32_t> g_taken{0};

int claim() {
    /* Tried first as if nothing were taken: a compare-and-swap is a write, so the process's first
     * claim faults the word's page in once, where a load first would fault twice (read, then write). */
    uint32_t taken = 0;
    while (taken != UINT32_MAX) {
        int slab = __builtin_ctz(~taken);
        if (slab >= Scratch::kSlabs)
            return -1;
        if (g_taken.compare_exchange_weak(taken, taken | 1u << slab, std::memory_order_acquire,
                                          std::memory_order_relaxed))
            return slab;
    }
    return -1;
}

}  // namespace

LIBOS_STARTUP Scratch::Scratch(size_t bytes) {
    if (bytes == 0)
        return; /* nothing asked: data() is null */
    if (bytes <= kSlabBytes && (slab_ = claim()) >= 0) {
        data_ = g_slabs[slab_].bytes;
        size_ = bytes;
        return;
    }
    void* p;
    if (PalMemoryAllocate(bytes, &p) == 0) {
        data_ = static_cast<char*>(p);
        size_ = bytes;
    }
}

LIBOS_STARTUP Scratch::~Scratch() {
    if (slab_ >= 0)
        g_taken.fetch_and(~(1u << slab_), std::memory_order_release);
    else if (data_)
        PalMemoryFree(data_, size_);
}

int scratch_slabs_taken() {
    return __builtin_popcount(g_taken.load(std::memory_order_relaxed));
}

}  // namespace libos
