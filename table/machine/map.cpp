/* The vCPU -> host CPU map, the machine's sizes, and the translation between virtual and host masks
 * (libos_machine.h). The bottom of table/machine/: it uses nothing else of the machine. */
#include <string.h>

#include "libos/libos_machine.h"
#include "libos/libos_scratch.h"
#include "libos/libos_sections.h"
#include "machine/machine_internal.h"
#include "pal/pal.h"

namespace libos {

LIBOS_LARGE_BSS constinit Machine g_machine{};

namespace {

/* The host's node of each CPU: 0 not read, 1 being read, 2 read. */
constinit std::atomic<int> g_nodes_state{0};

}  // namespace

LIBOS_STARTUP long host_affinity(CpuBits* out) {
    memset(out, 0, sizeof(*out));
    return PalThreadGetCpuAffinity(0, sizeof(out->words), out->words);
}

/* The thread's mask where nothing keeps one (a thread the shim did not start, a thread without a
 * slot): every change of it went to the host. */
void host_view(CpuBits* out) {
    CpuBits host;
    host_affinity(&host);
    to_virtual(host, out);
    if (out->empty())
        *out = g_machine.all;
}

/* Ask for every CPU, see what is kept, and put the old mask back. */
void cpuset_allowed(CpuBits* out) {
    struct Sets {
        CpuBits saved, all;
    };
    ScratchOf<Sets> sets; /* not on the first call's stack (libos_scratch.h) */
    if (!sets) {
        host_affinity(out);
        return;
    }
    CpuBits &saved = sets->saved, &all = sets->all;
    host_affinity(&saved);
    memset(&all, 0xff, sizeof(all));
    PalThreadSetCpuAffinity(0, sizeof(all.words), all.words);
    host_affinity(out);
    PalThreadSetCpuAffinity(0, sizeof(saved.words), saved.words);
}

LIBOS_STARTUP void set_machine_shape() {
    Machine& m = g_machine;
    m.count = m.map.count;
    m.mask_words = (m.count + 63) / 64;
    m.last_word = m.count % 64 ? (1ULL << (m.count % 64)) - 1 : ~0ULL;
    m.mask_bytes = m.mask_words * 8;
    m.ext_words = m.mask_words > kInlineWords ? m.mask_words - kInlineWords : 0;
    memset(&m.all, 0, sizeof(m.all));
    for (uint32_t v = 0; v < m.count; ++v)
        m.all.add(v);
    m.map_text_length = format_cpu_map(m.map, m.map_text, sizeof(m.map_text));
}

void adopt_machine(const CpuMap& map, const PalTopology& topo) {
    g_machine.map = map;
    g_machine.topo = topo;
    set_machine_shape();
}

uint32_t vcpu_count() {
    return g_machine.count;
}

size_t vcpu_mask_size() {
    return g_machine.mask_bytes;
}

const CpuBits& all_vcpus() {
    return g_machine.all;
}

uint16_t host_cpu_of(uint32_t v) {
    return v < g_machine.count ? g_machine.map.host_of[v] : 0;
}

uint32_t host_node_of(uint32_t host) {
    static_assert(sizeof(g_machine.topo.node_of_cpu[0]) == sizeof(uint16_t));
    if (__builtin_expect(g_nodes_state.load(std::memory_order_acquire) != 2, 0)) {
        /* Read once, by one thread; the others wait the few file reads it takes, as for init(). */
        int expected = 0;
        if (g_nodes_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
            PalHostCpuNodes(g_machine.topo.node_of_cpu);
            g_nodes_state.store(2, std::memory_order_release);
        } else {
            while (g_nodes_state.load(std::memory_order_acquire) != 2)
                PalThreadYield();
        }
    }
    return host < PAL_MAX_CPUS ? g_machine.topo.node_of_cpu[host] : 0;
}

const PalTopology& host_topology() {
    return g_machine.topo;
}

LIBOS_STARTUP size_t host_mask_bytes() {
    return kernel_mask_bytes(g_machine.topo);
}

const char* machine_map_text() {
    return g_machine.map_text;
}

void trim_to_machine(CpuBits* vmask) {
    uint32_t n = g_machine.count;
    for (uint32_t w = n / 64; w < kMaskWords; ++w) {
        uint32_t keep = w * 64 < n ? n - w * 64 : 0;
        vmask->words[w] &= keep >= 64 ? ~0ULL : (1ULL << keep) - 1;
    }
}

LIBOS_STARTUP void to_host(const CpuBits& vmask, CpuBits* host) {
    to_host_words(vmask.words, host->words, kMaskWords);
}

void to_virtual(const CpuBits& host, CpuBits* vmask) {
    memset(vmask, 0, sizeof(*vmask));
    for (uint32_t v = 0; v < g_machine.count; ++v)
        if (host.has(g_machine.map.host_of[v]))
            vmask->add(v);
}

LIBOS_STARTUP void to_host_words(const uint64_t* vmask, uint64_t* host, size_t host_words) {
    memset(host, 0, host_words * sizeof(uint64_t));
    for (uint32_t w = 0; w < g_machine.mask_words; ++w) {
        for (uint64_t bits = vmask[w]; bits; bits &= bits - 1) {
            uint32_t v = w * 64 + static_cast<uint32_t>(__builtin_ctzll(bits));
            uint32_t h = v < g_machine.count ? g_machine.map.host_of[v] : kMaxVcpus;
            if (h / 64 < host_words)
                host[h / 64] |= 1ULL << (h % 64);
        }
    }
}

}  // namespace libos
