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

/* That cache: the answer for (slot, its sequence number, host CPU). A write to the mask changes the
 * sequence number; a migration changes the host CPU; either makes the entry miss. */
struct VcpuCache {
    const ThreadSlot* slot;
    const std::atomic<uint32_t>* seq_of_slot;
    uint32_t seq;
    uint32_t host;                  /* kNoHost until filled; filled only on a virtual machine */
    uint32_t vcpu;
    uint32_t node;                  /* the host CPU's node, when `node_known` */
    bool node_known;
    const volatile int32_t* cpu_id; /* the thread's rseq cpu_id once looked up, else g_no_cpu_id */
    bool looked_up;
};
/* Never a host CPU, nor what an rseq cpu_id holds before or without registration (-1, -2): an empty
 * cache misses on its first compare, so the hit path needs no other test. */
constexpr uint32_t kNoHost = 0x80000000u;
extern const volatile int32_t g_no_cpu_id; /* -1: what cpu_id points at before the look-up */
extern constinit thread_local VcpuCache t_vcpu_cache __attribute__((tls_model("initial-exec")));

/* sched_getcpu's answer straight from the cache, inline in the caller: true on a hit. A hit needs the
 * same host CPU (rseq cpu_id) and the same sequence number of the slot's mask; the slot is the one
 * the cache was filled from, since set_thread_slot empties the cache whenever the thread's slot
 * changes (after fork among others). A few loads, no call: fewer instructions than glibc's own
 * sched_getcpu. A miss (first call, migration, a changed mask) goes to current_vcpu_fast. */
inline bool cached_vcpu(unsigned* vcpu) {
    const VcpuCache& c = t_vcpu_cache;
    if (static_cast<uint32_t>(*c.cpu_id) != c.host || c.seq_of_slot->load(std::memory_order_acquire) != c.seq)
        return false;
    *vcpu = c.vcpu;
    return true;
}

/* getcpu's answer straight from the cache, inline in the caller: true on a hit. A miss (first
 * call, migration, a changed mask, another slot after fork) goes to current_vcpu_and_node. */
inline bool cached_vcpu_and_node(unsigned* vcpu, unsigned* node) {
    const VcpuCache& c = t_vcpu_cache;
    if (!c.node_known || !cached_vcpu(vcpu))
        return false;
    *node = c.node;
    return true;
}

/* getcpu(2)'s answer without a system call: the vCPU (as current_vcpu_fast) and its host CPU's
 * node. */
void current_vcpu_and_node(unsigned* vcpu, unsigned* node);

}  // namespace libos

#endif
