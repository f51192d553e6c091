/* The vCPU a thread runs on (libos_current_cpu.h), and the per-thread cache behind getcpu and
 * sched_getcpu. getcpu's node is the vCPU's node on the machine (topology.cpp). */
#include "libos/libos_current_cpu.h"
#include "libos/libos_machine.h"
#include "libos/libos_topology.h"
#include "libos/libos_sections.h"
#include "machine/machine_internal.h"
#include "pal/pal.h"

namespace libos {

const volatile int32_t g_no_cpu_id = -1;
const std::atomic<uint32_t> g_no_seq{0};
constinit thread_local VcpuCache t_vcpu_cache __attribute__((tls_model("initial-exec"))) = {
    .entry = kEmptyEntry, .seq = 0, .seq_of_slot = &g_no_seq, .cpu_id = &g_no_cpu_id, .looked_up = false};

/* The cache is emptied first and last: a handler's fill in between, for either slot, is undone. */
LIBOS_FORK_PATH void set_thread_slot(ThreadSlot* slot) {
    VcpuCache& cache = t_vcpu_cache;
    cache.entry.store(kEmptyEntry, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    cache.seq_of_slot = slot ? &slot->seq : &g_no_seq;
    t_slot = slot;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    cache.entry.store(kEmptyEntry, std::memory_order_relaxed);
}

namespace {

/* A vfork child's answer: its own mask (its own slot once it set one, else its parent's), the host
 * CPU from the kernel. Nothing is cached: the cache is the parent's (shared TLS). */
unsigned vfork_child_vcpu(unsigned host) {
    uint64_t words[kMaskWords];
    copy_own_mask(words);
    return vcpu_on_host(words, host);
}

/* Fills the cache with vCPU `v` on `host`, computed under sequence number `seq`: the entry in one
 * store, then the number (libos_current_cpu.h says why in this order). */
void fill(uint32_t seq, uint32_t host, unsigned v) {
    if (host >= kNoHost || v > 0xffffu)
        return;
    VcpuCache& cache = t_vcpu_cache;
    cache.entry.store(static_cast<uint64_t>(host) | static_cast<uint64_t>(v) << 32 |
                          static_cast<uint64_t>(kNodeUnknown) << 48,
                      std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    cache.seq.store(seq, std::memory_order_relaxed);
}

}  // namespace

unsigned current_host_cpu() {
    if (__builtin_expect(vfork_child_tid() > 0, 0))
        return PalGetCurrentCpuByCall();
    return PalGetCurrentCpu();
}

void current_vcpu_and_node(unsigned* vcpu, unsigned* node) {
    *vcpu = current_vcpu_fast();
    *node = vcpu_place(*vcpu).node;
    if (*node >= kNodeUnknown || vfork_child_tid() > 0)
        return;
    /* Adds the node to the entry if it still holds this vCPU (whatever host CPU and number it was
     * filled under: the node depends on the vCPU alone). One compare-and-swap: a handler that
     * refilled the cache meanwhile makes it fail, and nothing is torn. */
    VcpuCache& cache = t_vcpu_cache;
    uint64_t entry = cache.entry.load(std::memory_order_relaxed);
    if (static_cast<uint32_t>(entry) != kNoHost && ((entry >> 32) & 0xffffu) == *vcpu &&
        (entry >> 48) == kNodeUnknown) {
        uint64_t with_node = (entry & 0x0000ffffffffffffull) | static_cast<uint64_t>(*node) << 48;
        cache.entry.compare_exchange_strong(entry, with_node, std::memory_order_relaxed);
    }
}

unsigned current_vcpu_fast() {
    if (__builtin_expect(vfork_child_tid() > 0, 0))
        return vfork_child_vcpu(PalGetCurrentCpuByCall());
    VcpuCache& cache = t_vcpu_cache;
    if (__builtin_expect(!cache.looked_up, 0)) {
        if (const volatile int32_t* location = PalThreadCpuIdLocation())
            cache.cpu_id = location;
        cache.looked_up = true;
    }
    int32_t host = *cache.cpu_id;
    if (__builtin_expect(host < 0, 0))
        return current_vcpu(PalGetCurrentCpu());
    const ThreadSlot* slot = t_slot;
    if (__builtin_expect(slot != nullptr, 1)) {
        uint32_t seq = slot->seq.load(std::memory_order_acquire);
        unsigned v = current_vcpu(static_cast<unsigned>(host));
        /* An odd number: a writer is changing the mask; the answer is not cached. The slot may have
         * changed while current_vcpu looked (its first call claims one): then it is not cached
         * either. */
        if (!(seq & 1) && slot == t_slot)
            fill(seq, static_cast<uint32_t>(host), v);
        return v;
    }
    return current_vcpu(static_cast<unsigned>(host));
}

unsigned vcpu_on_host(const uint64_t* words, unsigned host) {
    const uint16_t* host_of = g_machine.map.host_of;
    unsigned first = 0;
    bool have_first = false;
    for (uint32_t w = 0; words && w < g_machine.mask_words; ++w) {
        for (uint64_t bits = words[w]; bits; bits &= bits - 1) {
            unsigned v = w * 64 + static_cast<unsigned>(__builtin_ctzll(bits));
            if (v >= g_machine.count)
                break;
            if (host_of[v] == host)
                return v;
            if (!have_first) {
                first = v;
                have_first = true;
            }
        }
    }
    /* The thread runs on a host CPU none of its vCPUs maps to: its mask changed a moment ago and the
     * host has not moved it yet. Any vCPU of the mask is the truth the program asked for. */
    if (have_first)
        return first;
    for (unsigned v = 0; v < g_machine.count; ++v)
        if (host_of[v] == host)
            return v;
    return 0;
}

unsigned current_vcpu(unsigned host) {
    if (__builtin_expect(vfork_child_tid() > 0, 0))
        return vfork_child_vcpu(host);
    ThreadSlot* slot = self_slot();
    uint64_t words[kMaskWords];
    if (slot)
        locked_read(slot, words);
    return vcpu_on_host(slot ? words : nullptr, host);
}

}  // namespace libos
