/* What the LibOS remembers of the program's memory policies, in virtual nodes (libos_numa.h): the
 * machine's nodes and their host nodes, the thread's policy, the policies of ranges and the pages
 * moved. No allocation and no lock: the thread's record is its own (TLS), the page table is one
 * atomic word per entry, and the range table is a sequence lock whose writers (mbind, rare) take
 * turns on a flag with a bounded wait. */
#include <string.h>

#include <atomic>

#include "libos/libos_config.h"
#include "libos/libos_current_cpu.h"
#include "libos/libos_init.h"
#include "libos/libos_machine.h"
#include "libos/libos_numa.h"
#include "libos/libos_sections.h"
#include "libos/libos_threads.h"
#include "libos/libos_topology.h"
#include "libos_numa_internal.h"
#include "pal/pal.h"

namespace libos {

bool NodeBits::empty() const {
    for (uint64_t w : words)
        if (w)
            return false;
    return true;
}

uint32_t NodeBits::count() const {
    uint32_t n = 0;
    for (uint64_t w : words)
        n += static_cast<uint32_t>(__builtin_popcountll(w));
    return n;
}

uint32_t NodeBits::next(uint32_t from) const {
    for (uint32_t i = from; i < kMaxNodeBits;) {
        uint64_t w = words[i / 64] >> (i % 64);
        if (w)
            return i + static_cast<uint32_t>(__builtin_ctzll(w));
        i = (i / 64 + 1) * 64;
    }
    return kMaxNodeBits;
}

namespace {

/* The machine's nodes, built at the first memory-policy call: 0 not yet, 1 being built, 2 built. */
constinit std::atomic<int> g_nodes_built{0};
constinit uint32_t g_vnodes = 0;
constinit uint32_t g_host_max = kMaxNodeBits;
/* The host nodes of the first kCachedNodes virtual nodes; others are worked out when asked (a machine
 * of that many nodes is rare, and every process maps this table: static memory counts against a
 * program's address-space limit). */
constexpr uint32_t kCachedNodes = 64;
LIBOS_LARGE_BSS constinit NodeBits g_host_of[kCachedNodes] = {};
constinit thread_local NodeBits t_host_of __attribute__((tls_model("initial-exec"))) = {};

/* The host kernel's MAX_NUMNODES, which decides which mask bits it refuses: mbind of an empty range
 * reads the mask and changes nothing, so a bit the kernel does not support is its EINVAL. */
uint32_t probe_host_max() {
    for (uint32_t bits = kMaxNodeBits; bits >= 2; bits /= 2) {
        NodeBits probe = {};
        probe.add(bits - 1);
        if (PalMemoryBind(0, 0, kMpolDefault, reinterpret_cast<const unsigned long*>(probe.words), bits + 1, 0) == 0)
            return bits;
    }
    return 2;
}

void build_nodes() {
    int state = g_nodes_built.load(std::memory_order_acquire);
    if (__builtin_expect(state == 2, 1))
        return;
    state = 0;
    if (g_nodes_built.compare_exchange_strong(state, 1, std::memory_order_acq_rel)) {
        g_host_max = probe_host_max();
        uint32_t count = topology_available() ? vnode_count() : 1;
        g_vnodes = count <= g_host_max ? count : 0;
        for (uint32_t v = 0; g_vnodes && v < vcpu_count(); ++v) {
            uint32_t node = vcpu_place(v).node;
            uint32_t host = host_node_of(host_cpu_of(v));
            if (node < kCachedNodes && host < kMaxNodeBits)
                g_host_of[node].add(host);
        }
        g_nodes_built.store(2, std::memory_order_release);
        return;
    }
    while (g_nodes_built.load(std::memory_order_acquire) != 2)
        PalThreadYield();
}

}  // namespace

bool numa_virtual() {
    if (!is_virtual())
        return false;
    build_nodes();
    return g_vnodes != 0;
}

uint32_t numa_node_count() {
    build_nodes();
    return g_vnodes;
}

uint32_t numa_max_nodes() {
    build_nodes();
    return g_host_max;
}

const NodeBits& numa_host_nodes(uint32_t v) {
    if (v < kCachedNodes)
        return g_host_of[v];
    memset(&t_host_of, 0, sizeof(t_host_of));
    for (uint32_t c = 0; c < vcpu_count(); ++c)
        if (vcpu_place(c).node == v) {
            uint32_t host = host_node_of(host_cpu_of(c));
            if (host < kMaxNodeBits)
                t_host_of.add(host);
        }
    return t_host_of;
}

uint32_t numa_unbacked_host_node() {
    return g_host_max - 1;
}

void numa_to_host(const NodeBits& vnodes, NodeBits* host) {
    memset(host, 0, sizeof(*host));
    for (uint32_t v = vnodes.next(0); v < kMaxNodeBits; v = vnodes.next(v + 1)) {
        if (v >= g_vnodes) {
            host->add(numa_unbacked_host_node());
            continue;
        }
        const NodeBits& backing = numa_host_nodes(v);
        for (size_t w = 0; w < kNodeWords; ++w)
            host->words[w] |= backing.words[w];
    }
}

void numa_to_virtual(const NodeBits& host, NodeBits* vnodes) {
    memset(vnodes, 0, sizeof(*vnodes));
    bool any = false;
    for (uint32_t v = 0; v < g_vnodes; ++v) {
        const NodeBits& backing = numa_host_nodes(v);
        bool inside = true;
        for (size_t w = 0; w < kNodeWords; ++w)
            inside = inside && (backing.words[w] & ~host.words[w]) == 0;
        if (inside && !backing.empty()) {
            vnodes->add(v);
            any = true;
        }
    }
    if (any)
        return;
    for (uint32_t v = 0; v < g_vnodes; ++v) {
        const NodeBits& backing = numa_host_nodes(v);
        for (size_t w = 0; w < kNodeWords; ++w)
            if (backing.words[w] & host.words[w])
                vnodes->add(v);
    }
}

int numa_virtual_node_of(uint32_t host, const NodeBits* among) {
    for (uint32_t v = 0; v < g_vnodes; ++v)
        if ((!among || among->has(v)) && numa_host_nodes(v).has(host))
            return static_cast<int>(v);
    return -1;
}

uint32_t numa_current_node() {
    unsigned vcpu = current_vcpu(current_host_cpu());
    return vcpu_place(vcpu).node;
}

uint64_t numa_digest(const NodeBits& host) {
    uint64_t h = 1469598103934665603ULL;
    for (uint64_t w : host.words) {
        h ^= w;
        h *= 1099511628211ULL;
    }
    return h;
}

void numa_effective(const VirtualPolicy& policy, NodeBits* out) {
    memset(out, 0, sizeof(*out));
    const NodeBits& given = policy.nodes;
    if (policy.mode & kMpolFRelativeNodes) {
        /* The kernel folds the mask onto the allowed nodes (nodes_fold, then nodes_onto): every node
         * of the machine is allowed, so node i becomes i mod N. */
        for (uint32_t v = given.next(0); v < kMaxNodeBits; v = given.next(v + 1))
            out->add(v % g_vnodes);
    } else {
        for (uint32_t v = given.next(0); v < g_vnodes; v = given.next(v + 1))
            out->add(v);
    }
    if ((policy.mode & ~kMpolModeFlags) == kMpolPreferred && !out->empty()) {
        uint32_t first = out->next(0);
        memset(out, 0, sizeof(*out));
        out->add(first);
    }
}

/* ---- the thread's policy -------------------------------------------------------------------- */

namespace {

constinit thread_local bool t_has_policy __attribute__((tls_model("initial-exec"))) = false;
constinit thread_local VirtualPolicy t_policy __attribute__((tls_model("initial-exec"))) = {};
/* A vfork child runs on its parent's thread, in its memory: the policy it sets is its own, kept
 * apart from the parent's record, for its exec to pass on. The tid says whose it is: the parent
 * (or a later child) finds another tid and drops it, since the child that set it has exec'ed or
 * exited by the time its parent's thread runs again. */
constinit thread_local pid_t t_vfork_tid __attribute__((tls_model("initial-exec"))) = 0;
constinit thread_local VirtualPolicy t_vfork_policy __attribute__((tls_model("initial-exec"))) = {};

/* LIBOS_MEMPOLICY as start-up read it, for the process's first thread (tid == pid). */
constinit bool g_inherited_valid = false;
constinit int g_inherited_mode = 0;
constinit NodeBits g_inherited_nodes = {};

}  // namespace

VirtualPolicy* numa_thread_policy() {
    if (__builtin_expect(t_vfork_tid != 0, 0)) {
        if (t_vfork_tid == PalThreadGetId())
            return &t_vfork_policy;
        t_vfork_tid = 0;
    }
    if (__builtin_expect(t_has_policy, 1))
        return &t_policy;
    if (!g_inherited_valid || PalThreadGetId() != PalProcessGetId())
        return nullptr;
    /* The policy the exec'ing thread had: the host kept its own across execve, and what it reports
     * now is that policy's host side. A vfork child takes a copy (numa_set_thread_policy keeps it
     * apart) and leaves the original to its parent, whose it is. */
    const bool vfork_child = in_parent_memory();
    if (!vfork_child)
        g_inherited_valid = false;
    NodeBits host = {};
    int host_mode = 0;
    if (PalMemPolicyGet(&host_mode, reinterpret_cast<unsigned long*>(host.words), g_host_max + 1, 0, 0) < 0 ||
        host_mode != g_inherited_mode)
        return nullptr;
    VirtualPolicy p = {};
    p.mode = g_inherited_mode;
    p.host_mode = host_mode;
    p.host_digest = numa_digest(host);
    p.home = -1;
    p.il_prev = g_host_max - 1;
    p.nodes = g_inherited_nodes;
    numa_set_thread_policy(p);
    return vfork_child ? &t_vfork_policy : &t_policy;
}

void numa_set_thread_policy(const VirtualPolicy& policy) {
    if (in_parent_memory()) {
        t_vfork_policy = policy;
        t_vfork_tid = PalThreadGetId();
        return;
    }
    t_vfork_tid = 0;
    t_policy = policy;
    t_has_policy = true;
    if (PalThreadGetId() == PalProcessGetId())
        numa_publish_task_policy(&t_policy);
}

/* A fork child's first thread is the one that forked, whose record is the task policy now: not the
 * parent's first thread's, which the copy of the published one still holds. */
LIBOS_FORK_PATH void numa_after_fork_child() {
    numa_moves_after_fork_child();
    if (t_has_policy)
        numa_republish_task_policy(&t_policy);
    else if (!g_inherited_valid)
        numa_republish_task_policy(nullptr);
}

void numa_copy_thread_policy(InheritedPolicy* out) {
    VirtualPolicy* own = is_virtual() ? numa_thread_policy() : nullptr;
    out->valid = own != nullptr;
    if (own)
        out->policy = *own;
}

void numa_adopt_thread_policy(const InheritedPolicy& in) {
    if (in.valid)
        numa_set_thread_policy(in.policy);
}

size_t numa_exec_text(char* buf, size_t size) {
    VirtualPolicy* own = numa_virtual() ? numa_thread_policy() : nullptr;
    if (!own || own->mode == kMpolDefault || size < 32)
        return 0;
    char number[16];
    size_t digits = 0;
    for (unsigned m = static_cast<unsigned>(own->mode); digits == 0 || m; m /= 10)
        number[digits++] = static_cast<char>('0' + m % 10);
    size_t used = 0;
    while (digits)
        buf[used++] = number[--digits];
    if (!own->nodes.empty()) {
        buf[used++] = ':';
        CpuBits list = {};
        memcpy(list.words, own->nodes.words, sizeof(own->nodes.words));
        used += format_cpu_list(list, buf + used, size - used);
        if (used && buf[used - 1] == '\n')
            --used;
    }
    buf[used] = '\0';
    return used;
}

bool numa_parse_inherited(const char* text, int* mode, NodeBits* nodes) {
    memset(nodes, 0, sizeof(*nodes));
    unsigned value = 0;
    size_t i = 0;
    for (; text[i] >= '0' && text[i] <= '9' && i < 6; ++i)
        value = value * 10 + static_cast<unsigned>(text[i] - '0');
    if (i == 0 || (text[i] != '\0' && text[i] != ':') || value > 0xffff)
        return false;
    *mode = static_cast<int>(value);
    if (text[i] == '\0')
        return true;
    /* The list as numa_exec_text writes it: digits first and last, nothing after (no empty list, no
     * trailing comma or newline, which the general list reader lets through). */
    const char* list_text = text + i + 1;
    const size_t length = strlen(list_text);
    if (length == 0 || list_text[0] < '0' || list_text[0] > '9' || list_text[length - 1] < '0' ||
        list_text[length - 1] > '9' || strchr(list_text, '\n'))
        return false;
    static_assert(kNodeWords <= kMaskWords);
    CpuBits list;
    if (!parse_cpu_list(list_text, &list))
        return false;
    for (size_t w = kNodeWords; w < kMaskWords; ++w)
        if (list.words[w])
            return false;
    memcpy(nodes->words, list.words, sizeof(nodes->words));
    return true;
}

void numa_set_inherited(int mode, const NodeBits& nodes) {
    g_inherited_mode = mode;
    g_inherited_nodes = nodes;
    g_inherited_valid = true;
    VirtualPolicy published = {};
    published.mode = mode;
    published.home = -1;
    published.nodes = nodes;
    numa_publish_task_policy(&published);
}

}  // namespace libos
