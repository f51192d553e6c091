/* Building the machine's shape (topology_model.h): each vCPU's package, die, cluster, core, thread
 * and node, from the settings, the map and, for the host layout, the host's own topology files.
 * Every pass is linear in n (or n log n): the model of 8192 vCPUs is built at a file's first read. */
#include <string.h>

#include <algorithm>

#include "libos/libos_sections.h"
#include "libos/libos_env.h"
#include "libos/libos_machine.h"
#include "libos/libos_text.h"
#include "machine/topology_model.h"
#include "pal/pal.h"

namespace libos {
namespace {

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

/* Per host CPU, for the host layout: its ids, the first host CPU of its core, and counts. */
struct HostCpu {
    uint16_t package, die, cluster, core;
    uint16_t first_of_core; /* by the host CPU number */
    uint16_t threads;       /* vCPUs placed on this core so far (on its first host CPU) */
    uint32_t core_number;   /* the machine's number of this core (on its first host CPU) */
    bool read, core_seen;
};

/* The host layout: each vCPU takes its host CPU's place; vCPUs on one host core are its threads, in
 * vCPU order (two vCPUs on one host CPU are two threads of its core). Packages, dies and cores are
 * numbered anew in vCPU order, so that no host number shows through; cluster ids stay the host's. */
bool place_as_host(Model* m, uint32_t n) {
    Scratch<HostCpu> host_cpus(PAL_MAX_CPUS);
    Scratch<uint32_t> used_hosts(PAL_MAX_CPUS);
    Scratch<uint32_t> package_of_host(0x10000); /* host package id -> machine package + 1 */
    if (!host_cpus.data || !used_hosts.data || !package_of_host.data)
        return false;
    HostCpu* host = host_cpus.data;
    uint32_t* hosts = used_hosts.data;
    uint32_t used = 0, packages = 0;
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
        /* The host CPUs of one core: few host CPUs are ever used, so a search is cheap. */
        for (uint32_t i = 0; i + 1 < used; ++i) {
            const HostCpu& o = host[hosts[i]];
            if (o.package == ids.package && o.die == ids.die && o.core == ids.core) {
                ids.first_of_core = o.first_of_core;
                break;
            }
        }
    }
    /* Packages in the order their first vCPU comes; each package's dies and cores the same way. A
     * die is found by its package and its host die id (below 64, as on every x86 CPU). */
    for (uint32_t v = 0; v < n; ++v) {
        uint32_t& package = package_of_host.data[host[host_cpu_of(v)].package];
        if (!package)
            package = ++packages;
    }
    Scratch<uint32_t> die_of(static_cast<size_t>(packages) * 64), counts(2 * static_cast<size_t>(packages));
    if (!die_of.data || !counts.data)
        return false;
    uint32_t* dies_in = counts.data;
    uint32_t* cores_in = counts.data + packages;
    uint32_t cores = 0, dies = 0, max_thread = 0, max_core = 0, max_die = 0;
    for (uint32_t v = 0; v < n; ++v) {
        const HostCpu& ids = host[host_cpu_of(v)];
        HostCpu& core = host[ids.first_of_core];
        VcpuPlace& p = m->places()[v];
        const uint32_t package = package_of_host.data[ids.package] - 1;
        p.package = static_cast<uint16_t>(package);
        uint32_t& die = die_of.data[package * 64 + (ids.die < 64 ? ids.die : 63)];
        if (!die) {
            die = ++dies; /* the machine's die number + 1 */
            ++dies_in[package];
        }
        p.die_index = die - 1;
        p.cluster = ids.cluster;
        p.thread = core.threads++;
        if (!core.core_seen) {
            core.core_seen = true;
            core.core_number = cores++;
            core.core = static_cast<uint16_t>(cores_in[package]++); /* now the machine's core id */
            core.die = static_cast<uint16_t>(dies_in[package] - 1);  /* ... and its die in the package */
        }
        p.core_index = core.core_number;
        p.core = core.core;
        p.die = core.die;
        max_thread = p.thread > max_thread ? p.thread : max_thread;
        max_core = p.core > max_core ? p.core : max_core;
        max_die = p.die > max_die ? p.die : max_die;
    }
    m->widths[0] = ceil_log2(max_thread + 1);
    m->widths[1] = ceil_log2(max_core + 1);
    m->widths[2] = 0;
    m->widths[3] = ceil_log2(max_die + 1);
    m->shape.sockets = packages;
    m->shape.dies = max_die + 1;
    m->shape.clusters = 1;
    m->shape.cores = max_core + 1;
    m->shape.threads = max_thread + 1;
    return true;
}

/* A chosen shape: vCPUs fill threads, then cores, clusters, dies and sockets, as QEMU numbers them. */
void place_as_chosen(Model* m, uint32_t n) {
    const ShapeSpec& s = m->shape;
    for (uint32_t v = 0; v < n; ++v) {
        VcpuPlace& p = m->places()[v];
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
    m->widths[0] = ceil_log2(s.threads);
    m->widths[1] = ceil_log2(s.cores);
    m->widths[2] = ceil_log2(s.clusters);
    m->widths[3] = ceil_log2(s.dies);
}

/* The key of vCPU v's unit at `level` of the hierarchy: 0 package, 1 die, 2 core, 3 the vCPU. */
uint32_t unit_key(const VcpuPlace& p, uint32_t v, int level) {
    switch (level) {
        case 0:
            return p.package;
        case 1:
            return p.die_index;
        case 2:
            return p.core_index;
        default:
            return v;
    }
}

/* Gives `count` nodes, from `first`, to the vCPUs order[begin, end), which are the units of
 * `level` that lie whole in one unit of the level above: a node never splits a unit that it does
 * not hold whole, so nodes nest in packages and dies (or hold them whole), as hwloc requires. */
void distribute(Model* m, const uint32_t* order, uint32_t begin, uint32_t end, int level, uint32_t first,
                uint32_t count) {
    VcpuPlace* places = m->places();
    if (count <= 1 || level > 3) {
        for (uint32_t i = begin; i < end; ++i)
            places[order[i]].node = static_cast<uint16_t>(first);
        return;
    }
    uint32_t units = 0;
    for (uint32_t i = begin; i < end; ++i)
        units += i == begin || unit_key(places[order[i]], order[i], level) !=
                                   unit_key(places[order[i - 1]], order[i - 1], level);
    if (units == 1) {
        distribute(m, order, begin, end, level + 1, first, count);
        return;
    }
    uint32_t unit = 0;
    for (uint32_t i = begin; i < end;) {
        uint32_t j = i + 1;
        const uint32_t key = unit_key(places[order[i]], order[i], level);
        while (j < end && unit_key(places[order[j]], order[j], level) == key)
            ++j;
        if (count <= units) {
            /* Whole units per node, evenly: unit u goes to node u * count / units. */
            const uint32_t node = first + static_cast<uint32_t>(uint64_t{unit} * count / units);
            for (uint32_t k = i; k < j; ++k)
                places[order[k]].node = static_cast<uint16_t>(node);
        } else {
            /* Nodes per unit, evenly: the earlier units take the extra ones. */
            const uint32_t share = count / units + (unit < count % units ? 1 : 0);
            const uint32_t before = unit * (count / units) + (unit < count % units ? unit : count % units);
            distribute(m, order, i, j, level + 1, first + before, share);
        }
        ++unit;
        i = j;
    }
}

/* Nodes: as given; or N split over the hierarchy (distribute); or, without --numa, the host's nodes
 * of the vCPUs (host layout, numbered from 0 in the host's order) or one node. Nodes are then
 * numbered in the order of their first vCPU, and only nodes with vCPUs are kept. */
bool place_nodes(Model* m, uint32_t n, const ShapeSettings& settings) {
    VcpuPlace* places = m->places();
    if (settings.numa_lists) {
        /* Read again: they were checked at start-up. */
        Scratch<uint16_t> node_of(n);
        ConfigError unused;
        uint32_t nodes = 0;
        if (!node_of.data || !parse_numa(kEnvNuma, settings.numa_lists, n, &nodes, node_of.data, &unused))
            return false;
        for (uint32_t v = 0; v < n; ++v)
            places[v].node = node_of.data[v];
        m->vnodes = nodes;
        return true;
    }
    if (settings.numa_count > 1) {
        /* The vCPUs in the hierarchy's order (package, die, core, vCPU): every unit is a run. */
        Scratch<uint32_t> order(n);
        if (!order.data)
            return false;
        for (uint32_t v = 0; v < n; ++v)
            order.data[v] = v;
        std::sort(order.data, order.data + n, [places](uint32_t a, uint32_t b) {
            const VcpuPlace& x = places[a];
            const VcpuPlace& y = places[b];
            if (x.package != y.package)
                return x.package < y.package;
            if (x.die_index != y.die_index)
                return x.die_index < y.die_index;
            if (x.core_index != y.core_index)
                return x.core_index < y.core_index;
            return a < b;
        });
        distribute(m, order.data, 0, n, 0, 0, settings.numa_count);
    } else if (settings.spec.kind != ShapeKind::kHost) {
        for (uint32_t v = 0; v < n; ++v)
            places[v].node = 0;
    } else {
        CpuBits host_nodes;
        memset(&host_nodes, 0, sizeof(host_nodes));
        for (uint32_t v = 0; v < n; ++v)
            host_nodes.add(host_node_of(host_cpu_of(v)));
        uint32_t rank_of[kMaxVcpus / 64 + 1]; /* per word of host nodes: the nodes below it */
        uint32_t below = 0;
        for (uint32_t w = 0; w < kMaskWords; ++w) {
            rank_of[w] = below;
            below += static_cast<uint32_t>(__builtin_popcountll(host_nodes.words[w]));
        }
        for (uint32_t v = 0; v < n; ++v) {
            const uint32_t h = host_node_of(host_cpu_of(v));
            const uint64_t lower = h % 64 ? host_nodes.words[h / 64] & ((1ULL << (h % 64)) - 1) : 0;
            places[v].node = static_cast<uint16_t>(rank_of[h / 64] + __builtin_popcountll(lower));
        }
    }
    /* Numbered in the order of their first vCPU, without gaps. */
    Scratch<uint32_t> renumber(n + 1);
    if (!renumber.data)
        return false;
    uint32_t nodes = 0;
    for (uint32_t v = 0; v < n; ++v) {
        uint32_t& node = renumber.data[places[v].node];
        if (!node)
            node = ++nodes;
        places[v].node = static_cast<uint16_t>(node - 1);
    }
    m->vnodes = nodes;
    return true;
}

}  // namespace

LIBOS_STARTUP void free_model(Model* model) {
    if (model)
        PalMemoryFree(model, model->bytes);
}

Model* build_model(const ShapeSettings& settings) {
    const uint32_t n = vcpu_count();
    void* memory;
    const size_t bytes = sizeof(Model) + sizeof(VcpuPlace) * (n ? n : 1);
    if (PalMemoryAllocate(bytes, &memory) != 0)
        return nullptr;
    auto* m = static_cast<Model*>(memory); /* zeroed, fresh from mmap */
    m->bytes = bytes;
    m->shape = settings.spec;
    if (settings.spec.kind == ShapeKind::kHost) {
        if (!place_as_host(m, n)) {
            free_model(m);
            return nullptr;
        }
    } else {
        place_as_chosen(m, n);
    }
    if (!place_nodes(m, n, settings)) {
        free_model(m);
        return nullptr;
    }
    for (uint32_t v = 0; v < n && !m->smt; ++v)
        m->smt = m->places()[v].thread > 0;
    return m;
}

}  // namespace libos
