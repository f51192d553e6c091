/* The cpuid instruction on a virtual machine (libos_cpuid.h): CPUID faulting turned on at start-up,
 * and each faulting cpuid answered from the host's answer with its topology fields rewritten for the
 * calling thread's current vCPU and the machine's shape (libos_topology.h). x86 only, as the project.
 *
 * Runs in the PAL's SIGSEGV handler, possibly on a small alternate stack: no allocation, no lock, no
 * CPU set on the stack, errno untouched (the PAL's calls leave it alone).
 *
 * The host's answers are kept, per (leaf, subleaf, host CPU), in a small table shared by the process's
 * threads (a sequence number per entry: a reader never waits, a writer that finds an entry busy does
 * not store). Asking the host costs two arch_prctl calls, each a write of a model-specific register
 * (on a virtual host, an exit to the hypervisor), and a real cpuid; a kept answer costs neither. It is
 * exact: the host's answer for one CPU does not change while the kernel runs (the feature bits that
 * follow control registers, OSXSAVE and OSPKE, and XSAVE's sizes, which follow XCR0, are fixed at
 * boot), and answers are kept per host CPU, so hybrid CPUs (different cores, different caches) and the
 * per-CPU fields stay the CPU's own. */
#include <signal.h>
#include <stdint.h>
#include <ucontext.h>

#include <atomic>

#include "libos/libos_cpuid.h"
#include "libos/libos_current_cpu.h"
#include "libos/libos_machine.h"
#include "libos/libos_sections.h"
#include "libos/libos_topology.h"
#include "pal/pal.h"

namespace libos {
namespace {

constinit std::atomic<bool> g_enabled{false};

struct KeptAnswer {
    std::atomic<uint32_t> seq; /* 0: empty; odd: being written; even: holds the key and the answer */
    std::atomic<uint32_t> leaf, subleaf, host;
    std::atomic<uint32_t> regs[4];
};
constexpr uint32_t kKept = 256;
LIBOS_LARGE_BSS constinit KeptAnswer g_kept[kKept] = {};

/* The leaves whose answer does not depend on ECX: glibc's __cpuid and many programs leave ECX as it
 * happens to be, which must not make every call a new key. Every other leaf is keyed by its subleaf. */
bool ignores_subleaf(uint32_t leaf) {
    return leaf <= 3 || leaf == 5 || leaf == 6 || (leaf >= 0x80000000u && leaf <= 0x80000008u) ||
           leaf == 0x8000001eu;
}

uint32_t mix(uint32_t h) {
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    return h ^ (h >> 16);
}

KeptAnswer& entry_for(uint32_t leaf, uint32_t subleaf, uint32_t host) {
    return g_kept[mix(mix(mix(leaf) ^ subleaf) ^ host) & (kKept - 1)];
}

bool find_kept(uint32_t leaf, uint32_t subleaf, uint32_t host, uint32_t regs[4]) {
    KeptAnswer& e = entry_for(leaf, subleaf, host);
    uint32_t seq = e.seq.load(std::memory_order_acquire);
    if (seq == 0 || (seq & 1))
        return false;
    bool same = e.leaf.load(std::memory_order_relaxed) == leaf && e.subleaf.load(std::memory_order_relaxed) == subleaf &&
                e.host.load(std::memory_order_relaxed) == host;
    for (int i = 0; i < 4; ++i)
        regs[i] = e.regs[i].load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    return same && e.seq.load(std::memory_order_relaxed) == seq;
}

void keep(uint32_t leaf, uint32_t subleaf, uint32_t host, const uint32_t regs[4]) {
    KeptAnswer& e = entry_for(leaf, subleaf, host);
    uint32_t seq = e.seq.load(std::memory_order_relaxed);
    if ((seq & 1) || !e.seq.compare_exchange_strong(seq, seq + 1, std::memory_order_acquire))
        return; /* another writer (or this thread, interrupted while writing) has it */
    std::atomic_thread_fence(std::memory_order_release);
    e.leaf.store(leaf, std::memory_order_relaxed);
    e.subleaf.store(subleaf, std::memory_order_relaxed);
    e.host.store(host, std::memory_order_relaxed);
    for (int i = 0; i < 4; ++i)
        e.regs[i].store(regs[i], std::memory_order_relaxed);
    e.seq.store(seq + 2 == 0 ? 2 : seq + 2, std::memory_order_release);
}

/* The host's answer on the host CPU the thread runs on. Kept only when the thread did not move while
 * asking. */
bool host_answer(uint32_t leaf, uint32_t subleaf, uint32_t regs[4]) {
    const uint32_t key = ignores_subleaf(leaf) ? 0 : subleaf;
    const unsigned host = PalGetCurrentCpu();
    if (find_kept(leaf, key, host, regs))
        return true;
    if (PalCpuidHost(leaf, subleaf, regs) != 0)
        return false;
    if (PalGetCurrentCpu() == host)
        keep(leaf, key, host, regs);
    return true;
}

constexpr uint32_t kAmdEbx = 0x68747541u;   /* "Auth" of AuthenticAMD */
constexpr uint32_t kHygonEbx = 0x6f677948u; /* "Hygo" of HygonGenuine */

uint32_t at_most(uint32_t value, uint32_t limit) {
    return value < limit ? value : limit;
}

/* (1 << bits) - 1, in a field of `limit` (all ones). */
uint32_t id_span(uint32_t bits, uint32_t limit) {
    return bits >= 31 ? limit : at_most((1u << bits) - 1, limit);
}

/* What the topology leaves are made of, for vCPU v. */
struct Shape {
    uint32_t v, apic;
    uint32_t smt, core, module, package; /* the APIC id's shifts: to the core, cluster, die, package */
    bool clusters, dies;                 /* whether those fields have bits */
    bool chosen_clusters;                /* a chosen shape with clusters: L2 per cluster */
};

Shape shape_of(uint32_t v) {
    uint32_t w[4];
    machine_apic_widths(w);
    Shape s;
    s.v = v;
    s.apic = vcpu_apic_id(v);
    s.smt = w[0];
    s.core = w[0] + w[1];
    s.module = s.core + w[2];
    s.package = s.module + w[3];
    s.clusters = w[2] > 0;
    s.dies = w[3] > 0;
    const ShapeSpec& spec = machine_shape();
    s.chosen_clusters = spec.kind != ShapeKind::kHost && spec.clusters > 1;
    return s;
}

/* The bits of the APIC id that a cache of `level` is shared across, as the sysfs cache view shares
 * it: L1 and L2 per core (L2 per cluster in a chosen shape with clusters), L3 and above per die. */
uint32_t cache_shift(const Shape& s, uint32_t level) {
    if (level <= 1)
        return s.smt;
    if (level == 2)
        return s.chosen_clusters ? s.core : s.smt;
    return s.module;
}

/* Leaf 0xB (SMT and core levels) and 0x1F (SMT, core, module for clusters, die): each level's shift
 * to the next level's id, and the logical processors that share that next id. */
void extended_topology(const Shape& s, uint32_t leaf, uint32_t subleaf, uint32_t r[4]) {
    struct Level {
        uint32_t type, shift, count;
    } levels[4];
    uint32_t n = 0;
    const uint32_t v = s.v;
    levels[n++] = {1, s.smt, vcpu_sibling_count(v, SiblingSet::kCore)};
    if (leaf == 0xb) {
        levels[n++] = {2, s.package, vcpu_sibling_count(v, SiblingSet::kPackage)};
    } else {
        SiblingSet above_core = s.clusters ? SiblingSet::kCluster : s.dies ? SiblingSet::kDie : SiblingSet::kPackage;
        levels[n++] = {2, s.core, vcpu_sibling_count(v, above_core)};
        if (s.clusters)
            levels[n++] = {3, s.module, vcpu_sibling_count(v, s.dies ? SiblingSet::kDie : SiblingSet::kPackage)};
        if (s.dies)
            levels[n++] = {5, s.package, vcpu_sibling_count(v, SiblingSet::kPackage)};
    }
    if (subleaf < n) {
        r[0] = levels[subleaf].shift;
        r[1] = at_most(levels[subleaf].count, 0xffff);
        r[2] = (levels[subleaf].type << 8) | (subleaf & 0xff);
    } else {
        r[0] = 0;
        r[1] = 0;
        r[2] = subleaf & 0xff;
    }
    r[3] = s.apic;
}

/* The host's highest basic and extended leaves and whether it is AMD's (or Hygon's): read once. */
struct HostLeaves {
    uint32_t max_basic, max_extended;
    bool amd;
};
constinit std::atomic<bool> g_host_known{false};
constinit HostLeaves g_host = {};

bool host_leaves(HostLeaves* out) {
    if (!g_host_known.load(std::memory_order_acquire)) {
        uint32_t basic[4], extended[4];
        if (!host_answer(0, 0, basic) || !host_answer(0x80000000u, 0, extended))
            return false;
        g_host = HostLeaves{basic[0], extended[0], basic[1] == kAmdEbx || basic[1] == kHygonEbx};
        g_host_known.store(true, std::memory_order_release);
    }
    *out = g_host;
    return true;
}

void rewrite(uint32_t leaf, uint32_t subleaf, uint32_t r[4]) {
    const uint32_t count = vcpu_count();
    if (count == 0 || !topology_available())
        return;
    uint32_t v = current_vcpu_fast();
    if (v >= count)
        v = 0;
    HostLeaves host;
    if (!host_leaves(&host))
        return;
    const uint32_t max_basic = host.max_basic, max_extended = host.max_extended;
    const bool amd = host.amd;
    if (leaf >= 0x80000000u ? leaf > max_extended : leaf > max_basic)
        return;
    const Shape s = shape_of(v);
    switch (leaf) {
        case 0x1: {
            /* EBX[31:24] the initial APIC id, EBX[23:16] the addressable ids of a package (a power of
             * two, as hardware gives), EDX[28] HTT when there is more than one. */
            uint32_t addressable = s.package >= 8 ? 0xff : 1u << s.package;
            r[1] = (r[1] & 0xffffu) | (addressable << 16) | ((s.apic & 0xff) << 24);
            r[3] = s.package ? r[3] | (1u << 28) : r[3] & ~(1u << 28);
            break;
        }
        case 0x4: /* Intel's caches: EAX[25:14] the ids sharing the cache - 1, EAX[31:26] cores - 1 */
            if (r[0] & 0x1f) {
                uint32_t sharing = id_span(cache_shift(s, (r[0] >> 5) & 7), 0xfff);
                uint32_t cores = id_span(s.package - s.smt, 0x3f);
                r[0] = (r[0] & 0x3fffu) | (sharing << 14) | (cores << 26);
            }
            break;
        case 0xb:
        case 0x1f:
            extended_topology(s, leaf, subleaf, r);
            break;
        case 0x80000008u: /* AMD: ECX[7:0] logical processors of the package - 1, ECX[15:12] their id bits */
            if (amd) {
                uint32_t threads = at_most(vcpu_sibling_count(v, SiblingSet::kPackage) - 1, 0xff);
                r[2] = (r[2] & ~0xf0ffu) | threads | (at_most(s.package, 0xf) << 12);
            }
            break;
        case 0x8000001du: /* AMD's caches: EAX[25:14] the logical processors sharing it - 1 */
            if (amd && (r[0] & 0x1f)) {
                uint32_t sharing = id_span(cache_shift(s, (r[0] >> 5) & 7), 0xfff);
                r[0] = (r[0] & ~(0xfffu << 14)) | (sharing << 14);
            }
            break;
        case 0x8000001eu: /* AMD: the extended APIC id; core id and threads per core; node (die) id */
            if (amd) {
                const VcpuPlace& p = vcpu_place(v);
                uint32_t threads = vcpu_sibling_count(v, SiblingSet::kCore);
                uint32_t package = vcpu_sibling_count(v, SiblingSet::kPackage);
                uint32_t die = vcpu_sibling_count(v, SiblingSet::kDie);
                uint32_t dies = die ? package / die : 1;
                r[0] = s.apic;
                r[1] = (r[1] & 0xffff0000u) | (at_most(threads - 1, 0xff) << 8) | ((s.apic >> s.smt) & 0xff);
                r[2] = (r[2] & ~0x7ffu) | (at_most(dies ? dies - 1 : 0, 7) << 8) | (p.die_index & 0xff);
            }
            break;
        default:
            break;
    }
}

}  // namespace

void enable_cpuid_faulting() {
    if (g_enabled.load(std::memory_order_acquire))
        return;
    if (PalCpuidFaulting(1) == 0)
        g_enabled.store(true, std::memory_order_release);
}

void disable_cpuid_faulting() {
    if (g_enabled.load(std::memory_order_acquire))
        PalCpuidFaulting(0);
}

bool cpuid_faulting_enabled() {
    return g_enabled.load(std::memory_order_acquire);
}

bool emulate_cpuid(int sig, siginfo_t* info, void* ucontext) {
#if !defined(__x86_64__)
    /* No cpuid instruction elsewhere: PalCpuidFaulting never turns faulting on. */
    (void)sig;
    (void)info;
    (void)ucontext;
    return false;
#else
    /* A faulting cpuid is a general protection fault: SIGSEGV, si_code SI_KERNEL, si_addr 0. So is
     * any other #GP (a privileged instruction, a non-canonical address): the instruction decides. */
    if (sig != SIGSEGV || !info || info->si_code != SI_KERNEL || !g_enabled.load(std::memory_order_relaxed))
        return false;
    auto* uc = static_cast<ucontext_t*>(ucontext);
    greg_t* gregs = uc->uc_mcontext.gregs;
    const auto ip = static_cast<uintptr_t>(gregs[REG_RIP]);
    unsigned char bytes[2];
    if (PalUserCopy(bytes, reinterpret_cast<const void*>(ip), sizeof(bytes)) != 0 || bytes[0] != 0x0f ||
        bytes[1] != 0xa2)
        return false;
    const auto leaf = static_cast<uint32_t>(gregs[REG_RAX]);
    const auto subleaf = static_cast<uint32_t>(gregs[REG_RCX]);
    uint32_t r[4];
    if (!host_answer(leaf, subleaf, r))
        return false;
    rewrite(leaf, subleaf, r);
    /* cpuid writes the 32-bit registers, which clears their upper halves. */
    gregs[REG_RAX] = r[0];
    gregs[REG_RBX] = r[1];
    gregs[REG_RCX] = r[2];
    gregs[REG_RDX] = r[3];
    gregs[REG_RIP] = static_cast<greg_t>(ip + 2);
    return true;
#endif
}

}  // namespace libos
