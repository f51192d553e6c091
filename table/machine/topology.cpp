/* The machine's shape (libos_topology.h): the settings start-up resolved, and the model built from
 * them the first time a view asks. Uses map.cpp (the map, the host's nodes) and nothing else of the
 * machine. */
#include <string.h>

#include <atomic>

#include "libos/libos_env.h"
#include "libos/libos_machine.h"
#include "libos/libos_text.h"
#include "libos/libos_topology.h"
#include "machine/machine_internal.h"
#include "pal/pal.h"

namespace libos {
namespace {

constexpr const char* kEnvNumaName = kEnvNuma;
constexpr uint16_t kNoCluster = 0xffff; /* cluster_id where there are no clusters, as x86 shows it */

/* The settings, resolved for this machine's n at start-up. */
constinit ShapeSpec g_spec{};
constinit uint32_t g_numa_count = 0; /* --numa N; 0: not given */
constinit bool g_numa_lists = false; /* --numa lists, kept in g_numa_text and read again by the model */
constinit char g_topology_text[160] = {};
/* Kept in memory of its own: the lists can be long, and most machines have none. */
constinit char* g_numa_text = nullptr;
constinit size_t g_numa_text_size = 0;

/* The model, in memory of its own (n entries), mapped when it is built: a process that never asks
 * about its shape pays nothing, in time or in memory. Null if that failed (topology_available). */
constinit VcpuPlace* g_place = nullptr;
constinit size_t g_place_size = 0;
constinit VcpuPlace g_no_place = {};
constinit uint32_t g_vnodes = 0;
constinit uint32_t g_widths[4] = {}; /* APIC id field widths: thread, core, cluster, die */
constinit bool g_smt = false;
constinit std::atomic<int> g_model_state{0}; /* 0 not built, 1 being built, 2 built */

/* Memory of its own for `count` objects of T, mapped and unmapped (the LibOS does not use malloc). */
template <typename T>
struct Scratch {
    explicit Scratch(size_t count) : size(count ? count * sizeof(T) : 1) {
        void* p;
        data = PalMemoryAllocate(size, &p) == 0 ? static_cast<T*>(p) : nullptr;
    }
    ~Scratch() {
        if (data)
            PalMemoryFree(data, size);
    }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    size_t size;
    T* data;
};

/* Per host CPU, for the host layout: its ids, the first host CPU of its core, and counts. */
struct HostCpu {
    uint16_t package, die, cluster, core;
    uint16_t first_of_core; /* by the host CPU number */
    uint16_t threads;       /* vCPUs placed on this core so far (on its first host CPU) */
    uint32_t core_number;   /* the machine's number of this core (on its first host CPU) */
    bool read, core_seen;
};

uint32_t ceil_log2(uint32_t v) {
    uint32_t bits = 0;
    while ((1u << bits) < v)
        ++bits;
    return bits;
}

uint16_t read_host_id(uint32_t host, const char* name, uint16_t fallback) {
    char path[96];
    TextBuilder(path, sizeof(path)).add("/sys/devices/system/cpu/cpu").unum(host).add("/topology/").add(name);
    char text[24];
    long len = PalReadFile(path, text, sizeof(text));
    if (len <= 0 || text[0] < '0' || text[0] > '9')
        return fallback;
    uint32_t v = 0;
    for (const char* p = text; *p >= '0' && *p <= '9' && v < 0x10000; ++p)
        v = v * 10 + static_cast<uint32_t>(*p - '0');
    return v < 0x10000 ? static_cast<uint16_t>(v) : fallback;
}

/* The host layout: each vCPU takes its host CPU's place; vCPUs on one host core are its threads, in
 * vCPU order (two vCPUs on one host CPU are two threads of its core). Packages, dies and cores are
 * numbered anew in vCPU order; cluster ids stay the host's. */
bool place_as_host(uint32_t n) {
    Scratch<HostCpu> host_cpus(PAL_MAX_CPUS);
    Scratch<uint32_t> used_hosts(PAL_MAX_CPUS);
    if (!host_cpus.data || !used_hosts.data)
        return false;
    HostCpu* host = host_cpus.data;
    uint32_t* hosts = used_hosts.data;
    uint32_t used = 0;
    for (uint32_t v = 0; v < n; ++v) {
        uint32_t h = host_cpu_of(v);
        HostCpu& ids = host[h];
        if (ids.read)
            continue;
        ids.read = true;
        hosts[used++] = h;
        ids.package = read_host_id(h, "physical_package_id", 0);
        ids.die = read_host_id(h, "die_id", 0);
        ids.cluster = read_host_id(h, "cluster_id", kNoCluster);
        ids.core = read_host_id(h, "core_id", static_cast<uint16_t>(h));
        ids.first_of_core = static_cast<uint16_t>(h);
        for (uint32_t i = 0; i + 1 < used; ++i) {
            const HostCpu& o = host[hosts[i]];
            if (o.package == ids.package && o.die == ids.die && o.core == ids.core) {
                ids.first_of_core = o.first_of_core;
                break;
            }
        }
    }
    /* Cores and dies numbered in the order their first vCPU comes. */
    uint32_t cores = 0, dies = 0;
    for (uint32_t v = 0; v < n; ++v) {
        const HostCpu& ids = host[host_cpu_of(v)];
        HostCpu& core = host[ids.first_of_core];
        VcpuPlace& p = g_place[v];
        p.package = ids.package;
        p.die = ids.die;
        p.cluster = ids.cluster;
        p.core = ids.core;
        p.thread = core.threads++;
        if (!core.core_seen) {
            core.core_seen = true;
            core.core_number = cores++;
        }
        p.core_index = core.core_number;
        p.die_index = dies;
        for (uint32_t u = 0; u < v; ++u) {
            if (g_place[u].package == p.package && g_place[u].die == p.die) {
                p.die_index = g_place[u].die_index;
                break;
            }
        }
        if (p.die_index == dies)
            ++dies;
    }
    /* The ids renumbered in vCPU order, so that no host number shows through: packages from 0, and
     * each package's dies and cores from 0. */
    Scratch<uint32_t> package_of_host(0x10000), die_of_index(n), core_of_index(n), counts(2 * n + 2);
    if (!package_of_host.data || !die_of_index.data || !core_of_index.data || !counts.data)
        return false;
    uint32_t packages = 0;
    uint32_t* dies_in = counts.data;      /* by new package: dies numbered so far */
    uint32_t* cores_in = counts.data + n + 1;
    for (uint32_t v = 0; v < n; ++v) {
        VcpuPlace& p = g_place[v];
        uint32_t& package = package_of_host.data[p.package];
        if (!package)
            package = ++packages;
        p.package = static_cast<uint16_t>(package - 1);
        if (!die_of_index.data[p.die_index])
            die_of_index.data[p.die_index] = ++dies_in[p.package];
        p.die = static_cast<uint16_t>(die_of_index.data[p.die_index] - 1);
        if (!core_of_index.data[p.core_index])
            core_of_index.data[p.core_index] = ++cores_in[p.package];
        p.core = static_cast<uint16_t>(core_of_index.data[p.core_index] - 1);
    }
    uint32_t max_thread = 0, max_core = 0, max_die = 0;
    for (uint32_t v = 0; v < n; ++v) {
        max_thread = g_place[v].thread > max_thread ? g_place[v].thread : max_thread;
        max_core = g_place[v].core > max_core ? g_place[v].core : max_core;
        max_die = g_place[v].die > max_die ? g_place[v].die : max_die;
    }
    g_widths[0] = ceil_log2(max_thread + 1);
    g_widths[1] = ceil_log2(max_core + 1);
    g_widths[2] = 0;
    g_widths[3] = ceil_log2(max_die + 1);
    g_spec.threads = max_thread + 1;
    return true;
}

/* A chosen shape: vCPUs fill threads, then cores, clusters, dies and sockets, as QEMU numbers them. */
void place_as_chosen(uint32_t n) {
    const ShapeSpec& s = g_spec;
    for (uint32_t v = 0; v < n; ++v) {
        VcpuPlace& p = g_place[v];
        uint32_t rest = v;
        p.thread = static_cast<uint16_t>(rest % s.threads);
        rest /= s.threads;
        uint32_t core = rest % s.cores;
        p.core_index = rest;
        rest /= s.cores;
        uint32_t cluster = rest % s.clusters;
        rest /= s.clusters;
        p.die = static_cast<uint16_t>(rest % s.dies);
        p.die_index = rest;
        p.package = static_cast<uint16_t>(rest / s.dies);
        p.cluster = s.clusters > 1 ? static_cast<uint16_t>(cluster) : kNoCluster;
        p.core = static_cast<uint16_t>((p.die * s.clusters + cluster) * s.cores + core);
    }
    g_widths[0] = ceil_log2(s.threads);
    g_widths[1] = ceil_log2(s.cores);
    g_widths[2] = ceil_log2(s.clusters);
    g_widths[3] = ceil_log2(s.dies);
}

/* Nodes: as given; or N split evenly over packages, cores or vCPUs (the largest unit with at least
 * N of them), in vCPU order; or, without --numa, the host's nodes of the vCPUs (host layout,
 * renumbered from 0 in the host's order) or one node. */
bool place_nodes(uint32_t n) {
    if (g_numa_lists) {
        /* Read again: they were checked at start-up. */
        Scratch<uint16_t> node_of(n);
        ConfigError unused;
        uint32_t nodes = 0;
        if (!node_of.data || !parse_numa(kEnvNumaName, g_numa_text, n, &nodes, node_of.data, &unused))
            return false;
        for (uint32_t v = 0; v < n; ++v)
            g_place[v].node = node_of.data[v];
        g_vnodes = nodes;
        return true;
    }
    if (g_numa_count) {
        uint32_t packages = 0, cores = g_place[n - 1].core_index + 1;
        Scratch<uint32_t> units_of(n);
        if (!units_of.data)
            return false;
        uint32_t* package_unit = units_of.data;
        for (uint32_t v = 0; v < n; ++v) {
            package_unit[v] = packages;
            for (uint32_t u = 0; u < v; ++u) {
                if (g_place[u].package == g_place[v].package) {
                    package_unit[v] = package_unit[u];
                    break;
                }
            }
            if (package_unit[v] == packages)
                ++packages;
        }
        const uint32_t N = g_numa_count;
        const uint32_t units = N <= packages ? packages : N <= cores ? cores : n;
        for (uint32_t v = 0; v < n; ++v) {
            uint32_t unit = N <= packages ? package_unit[v] : N <= cores ? g_place[v].core_index : v;
            g_place[v].node = static_cast<uint16_t>(uint64_t{unit} * N / units);
        }
        g_vnodes = N;
        return true;
    }
    if (g_spec.kind != ShapeKind::kHost) {
        for (uint32_t v = 0; v < n; ++v)
            g_place[v].node = 0;
        g_vnodes = 1;
        return true;
    }
    CpuBits host_nodes;
    memset(&host_nodes, 0, sizeof(host_nodes));
    for (uint32_t v = 0; v < n; ++v)
        host_nodes.add(host_node_of(host_cpu_of(v)));
    for (uint32_t v = 0; v < n; ++v) {
        uint32_t h = host_node_of(host_cpu_of(v)), rank = 0;
        for (uint32_t below = 0; below < h; ++below)
            rank += host_nodes.has(below);
        g_place[v].node = static_cast<uint16_t>(rank);
    }
    g_vnodes = host_nodes.count();
    return true;
}

void build_model() {
    const uint32_t n = vcpu_count();
    g_smt = false;
    g_vnodes = 1;
    if (g_place)
        PalMemoryFree(g_place, g_place_size);
    void* p;
    g_place_size = sizeof(VcpuPlace) * (n ? n : 1);
    g_place = PalMemoryAllocate(g_place_size, &p) == 0 ? static_cast<VcpuPlace*>(p) : nullptr;
    if (!g_place)
        return;
    if (!(g_spec.kind == ShapeKind::kHost ? place_as_host(n) : (place_as_chosen(n), true)) || !place_nodes(n)) {
        PalMemoryFree(g_place, g_place_size);
        g_place = nullptr;
        g_vnodes = 1;
        return;
    }
    for (uint32_t v = 0; v < n && !g_smt; ++v)
        g_smt = g_place[v].thread > 0;
}

void ensure_model() {
    if (__builtin_expect(g_model_state.load(std::memory_order_acquire) == 2, 1))
        return;
    int expected = 0;
    if (g_model_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
        build_model();
        g_model_state.store(2, std::memory_order_release);
        return;
    }
    while (g_model_state.load(std::memory_order_acquire) != 2)
        PalThreadYield();
}

bool same(const VcpuPlace& a, const VcpuPlace& b, SiblingSet which) {
    switch (which) {
        case SiblingSet::kCore:
            return a.core_index == b.core_index;
        case SiblingSet::kCluster:
            return a.die_index == b.die_index && a.cluster == b.cluster &&
                   (a.cluster != kNoCluster || a.core_index == b.core_index);
        case SiblingSet::kDie:
            return a.die_index == b.die_index;
        case SiblingSet::kPackage:
            return a.package == b.package;
        case SiblingSet::kNode:
            return a.node == b.node;
        case SiblingSet::kMachine:
            return true;
    }
    return false;
}

}  // namespace

bool configure_shape(const char* topology_setting, const char* topology_text, const char* numa_setting,
                     const char* numa_text, ConfigError* err) {
    /* Lists need room for a node per vCPU to be checked; a count does not. */
    const bool lists = numa_text && *numa_text && numa_text[strspn(numa_text, "0123456789")] != '\0';
    Scratch<uint16_t> node_of(lists ? g_machine.map.count : 0);
    if (lists && !node_of.data) {
        config_error(err, numa_setting, numa_text, "no memory to read it");
        return false;
    }
    if (!check_shape(topology_setting, topology_text, numa_setting, numa_text, g_machine.map, &g_spec,
                     &g_numa_count, node_of.data, err))
        return false;
    g_numa_lists = lists;
    TextBuilder t(g_topology_text, sizeof(g_topology_text));
    if (g_spec.kind == ShapeKind::kExplicit)
        t.add("sockets=").unum(g_spec.sockets).add(",dies=").unum(g_spec.dies).add(",clusters=")
            .unum(g_spec.clusters).add(",cores=").unum(g_spec.cores).add(",threads=").unum(g_spec.threads);
    else
        t.add(g_spec.kind == ShapeKind::kFlat ? "flat" : "host");
    if (g_numa_text)
        PalMemoryFree(g_numa_text, g_numa_text_size);
    g_numa_text = nullptr;
    if (g_numa_count) {
        void* p;
        g_numa_text_size = strlen(numa_text) + 1;
        if (PalMemoryAllocate(g_numa_text_size, &p) != 0) {
            config_error(err, numa_setting, numa_text, "no memory to keep it");
            return false;
        }
        g_numa_text = static_cast<char*>(p);
        memcpy(g_numa_text, numa_text, g_numa_text_size);
    }
    g_model_state.store(0, std::memory_order_release);
    return true;
}

bool topology_available() {
    ensure_model();
    return g_place != nullptr;
}

const char* machine_topology_text() {
    return g_topology_text;
}

const char* machine_numa_text() {
    return g_numa_text;
}

const ShapeSpec& machine_shape() {
    ensure_model();
    return g_spec;
}

const VcpuPlace& vcpu_place(uint32_t v) {
    ensure_model();
    return g_place && v < vcpu_count() ? g_place[v] : g_no_place;
}

uint32_t vnode_count() {
    ensure_model();
    return g_vnodes;
}

void vnode_host_nodes(uint32_t node, CpuBits* host_nodes) {
    ensure_model();
    memset(host_nodes, 0, sizeof(*host_nodes));
    for (uint32_t v = 0; v < vcpu_count() && g_place; ++v)
        if (g_place[v].node == node)
            host_nodes->add(host_node_of(host_cpu_of(v)));
}

uint32_t vnode_distance(uint32_t from, uint32_t to) {
    return from == to ? 10 : 20;
}

/* The vCPUs [*begin, *end) that hold vCPU v's set `which`: a chosen shape's sets other than nodes are
 * runs of consecutive vCPUs, so only the run is looked at. */
static void sibling_range(uint32_t v, SiblingSet which, uint32_t* begin_out, uint32_t* end_out) {
    const uint32_t n = vcpu_count();
    uint32_t begin = 0, end = n;
    if (g_spec.kind != ShapeKind::kHost && which != SiblingSet::kNode && which != SiblingSet::kMachine) {
        uint32_t size = g_spec.threads;
        if (which == SiblingSet::kCluster && g_spec.clusters > 1)
            size *= g_spec.cores;
        else if (which == SiblingSet::kDie)
            size *= g_spec.cores * g_spec.clusters;
        else if (which == SiblingSet::kPackage)
            size *= g_spec.cores * g_spec.clusters * g_spec.dies;
        begin = v / size * size;
        end = begin + size;
    }
    *begin_out = begin;
    *end_out = end < n ? end : n;
}

void vcpu_siblings(uint32_t v, SiblingSet which, CpuBits* out) {
    ensure_model();
    memset(out, 0, sizeof(*out));
    if (v >= vcpu_count() || !g_place)
        return;
    const VcpuPlace& me = g_place[v];
    uint32_t begin, end;
    sibling_range(v, which, &begin, &end);
    for (uint32_t u = begin; u < end; ++u)
        if (same(me, g_place[u], which))
            out->add(u);
}

uint32_t vcpu_sibling_count(uint32_t v, SiblingSet which) {
    ensure_model();
    if (v >= vcpu_count() || !g_place)
        return 1;
    const VcpuPlace& me = g_place[v];
    uint32_t begin, end, count = 0;
    sibling_range(v, which, &begin, &end);
    for (uint32_t u = begin; u < end; ++u)
        count += same(me, g_place[u], which);
    return count;
}

bool machine_has_smt() {
    ensure_model();
    return g_smt;
}

uint32_t vcpu_apic_id(uint32_t v) {
    const VcpuPlace& p = vcpu_place(v);
    const ShapeSpec& s = g_spec;
    uint32_t core_in_cluster = p.core, cluster = 0;
    if (s.kind != ShapeKind::kHost) {
        core_in_cluster = p.core % s.cores;
        cluster = p.cluster == kNoCluster ? 0 : p.cluster;
    }
    uint32_t id = p.package;
    id = (id << g_widths[3]) | p.die;
    id = (id << g_widths[2]) | cluster;
    id = (id << g_widths[1]) | core_in_cluster;
    id = (id << g_widths[0]) | p.thread;
    return id;
}

void machine_apic_widths(uint32_t widths[4]) {
    ensure_model();
    memcpy(widths, g_widths, sizeof(g_widths));
}

}  // namespace libos
