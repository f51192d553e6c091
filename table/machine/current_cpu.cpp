/* The vCPU a thread runs on (libos_current_cpu.h), and the per-thread cache behind getcpu and
 * sched_getcpu. getcpu's node is the vCPU's node on the machine (topology.cpp). */
#include "libos/libos_current_cpu.h"
#include "libos/libos_machine.h"
#include "libos/libos_topology.h"
#include "machine/machine_internal.h"
#include "pal/pal.h"

namespace libos {

const volatile int32_t g_no_cpu_id = -1;
constinit thread_local VcpuCache t_vcpu_cache __attribute__((tls_model("initial-exec"))) = {
    .slot = nullptr, .seq_of_slot = nullptr, .seq = 0, .host = kNoHost, .vcpu = 0, .node = 0,
    .node_known = false, .cpu_id = &g_no_cpu_id, .looked_up = false};

void set_thread_slot(ThreadSlot* slot) {
    t_slot = slot;
    t_vcpu_cache.host = kNoHost;
    t_vcpu_cache.slot = nullptr;
}

void current_vcpu_and_node(unsigned* vcpu, unsigned* node) {
    *vcpu = current_vcpu_fast();
    VcpuCache& cache = t_vcpu_cache;
    if (__builtin_expect(cache.slot != nullptr && cache.vcpu == *vcpu, 1)) {
        if (!cache.node_known) {
            cache.node = vcpu_place(cache.vcpu).node;
            cache.node_known = true;
        }
        *node = cache.node;
        return;
    }
    *node = vcpu_place(*vcpu).node;
}

unsigned current_vcpu_fast() {
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
        if (slot == cache.slot && seq == cache.seq && static_cast<uint32_t>(host) == cache.host)
            return cache.vcpu;
        unsigned v = current_vcpu(static_cast<unsigned>(host));
        if (!(seq & 1)) {
            cache.slot = slot;
            cache.seq_of_slot = &slot->seq;
            cache.seq = seq;
            cache.host = static_cast<uint32_t>(host);
            cache.vcpu = v;
            cache.node_known = false;
        }
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
    ThreadSlot* slot = self_slot();
    uint64_t words[kMaskWords];
    if (slot)
        locked_read(slot, words);
    return vcpu_on_host(slot ? words : nullptr, host);
}

}  // namespace libos
