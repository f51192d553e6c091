/* The vCPU a thread runs on: the vCPU of its mask that maps to the host CPU it runs on now. What
 * getcpu and sched_getcpu answer, from a per-thread cache that costs a few loads on a hit. */
#ifndef LIBOS_CURRENT_CPU_H
#define LIBOS_CURRENT_CPU_H

#include <stdint.h>

#include <atomic>

#include "libos/libos_threads.h"

namespace libos {

/* The vCPU the calling thread runs on: the vCPU of its mask that maps to `host_cpu`, the host CPU
 * it runs on now (PalGetCurrentCpu()). */
unsigned current_vcpu(unsigned host_cpu);

/* The vCPU of mask `words` (the machine's words; nullptr: none) that runs on host CPU `host`: the
 * first one that does, else the mask's first vCPU, else the first vCPU on `host`. */
unsigned vcpu_on_host(const uint64_t* words, unsigned host);

/* The same, for sched_getcpu: reads the host CPU from the thread's rseq area and answers from a
 * per-thread cache while neither the host CPU nor the thread's mask changed. No system call. */
unsigned current_vcpu_fast();

/* That cache. `entry` holds, in one 64-bit word, the host CPU it was filled on (low 32 bits), the
 * vCPU answered there (bits 32-47) and that vCPU's node (bits 48-63, kNodeUnknown until getcpu asks);
 * `seq` is the sequence number of the slot's mask it was computed under. A write to the mask changes
 * the sequence number; a migration changes the host CPU; either makes the entry miss.
 *
 * A signal handler may call sched_getcpu in the middle of a fill, and fill the cache itself. The fill
 * (current_cpu.cpp: fill) therefore stores the entry first, in one store, then `seq`: whatever the
 * handler did between the two, the final state pairs a consistent entry (the handler's, or ours)
 * with our `seq`, read before either fill computed its answer; the handler's entry was computed
 * under a sequence number at least as new. If it is the same number, the entry is right for it; if
 * newer, the mask changed after our `seq` was read, the slot's number no longer equals ours, and the
 * entry never hits. The node is added by a compare-and-swap of the whole word, which fails if a
 * handler replaced the entry meanwhile; the node is a function of the vCPU alone. */
struct VcpuCache {
    std::atomic<uint64_t> entry;
    std::atomic<uint32_t> seq;
    const std::atomic<uint32_t>* seq_of_slot; /* the slot's sequence number; set with the slot */
    const volatile int32_t* cpu_id; /* the thread's rseq cpu_id once looked up, else g_no_cpu_id */
    bool looked_up;
};
/* Never a host CPU, nor what an rseq cpu_id holds before or without registration (-1, -2): an empty
 * cache misses on its first compare, so the hit path needs no other test. */
constexpr uint32_t kNoHost = 0x80000000u;
constexpr uint32_t kNodeUnknown = 0xffffu;
constexpr uint64_t kEmptyEntry = kNoHost;
extern const volatile int32_t g_no_cpu_id; /* -1: what cpu_id points at before the look-up */
extern const std::atomic<uint32_t> g_no_seq; /* what seq_of_slot points at without a slot */
extern constinit thread_local VcpuCache t_vcpu_cache __attribute__((tls_model("initial-exec")));

/* sched_getcpu's answer straight from the cache, inline in the caller: true on a hit. A hit needs the
 * same host CPU (rseq cpu_id) and the same sequence number of the slot's mask; the slot is the one
 * the cache was filled from, since set_thread_slot empties the cache whenever the thread's slot
 * changes (after fork among others). A few loads, no call: fewer instructions than glibc's own
 * sched_getcpu. A miss (first call, migration, a changed mask) goes to current_vcpu_fast. */
inline bool cached_vcpu(unsigned* vcpu, uint64_t* entry_out = nullptr) {
    const VcpuCache& c = t_vcpu_cache;
    /* `seq` before `entry` (the reverse of the fill's order): a handler that fills the cache between
     * the two loads leaves an entry computed under a number at least as new as the `seq` read here,
     * which hits only if the mask is still at that number. */
    uint32_t seq = c.seq.load(std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_acquire);
    uint64_t entry = c.entry.load(std::memory_order_relaxed);
    if (static_cast<uint32_t>(*c.cpu_id) != static_cast<uint32_t>(entry) ||
        c.seq_of_slot->load(std::memory_order_acquire) != seq)
        return false;
    *vcpu = static_cast<unsigned>((entry >> 32) & 0xffffu);
    if (entry_out)
        *entry_out = entry;
    return true;
}

/* getcpu's answer straight from the cache, inline in the caller: true on a hit. A miss (first
 * call, migration, a changed mask, another slot after fork, a node not yet known) goes to
 * current_vcpu_and_node. */
inline bool cached_vcpu_and_node(unsigned* vcpu, unsigned* node) {
    uint64_t entry;
    if (!cached_vcpu(vcpu, &entry) || (entry >> 48) == kNodeUnknown)
        return false;
    *node = static_cast<unsigned>(entry >> 48);
    return true;
}

/* The host CPU the calling thread runs on now. A vfork child shares its parent's rseq area, which
 * the kernel does not update for the child: it asks the kernel. */
unsigned current_host_cpu();

/* getcpu(2)'s answer without a system call: the vCPU (as current_vcpu_fast) and its host CPU's
 * node. */
void current_vcpu_and_node(unsigned* vcpu, unsigned* node);

}  // namespace libos

#endif
