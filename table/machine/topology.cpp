/* The machine's shape (libos_topology.h): the settings start-up resolved, the model built from them
 * the first time a view asks (topology_build.cpp), and the questions the views ask of it. Uses
 * map.cpp (the map, the host's nodes) and nothing else of the machine. */
#include <string.h>

#include <atomic>

#include "libos/libos_sections.h"
#include "libos/libos_env.h"
#include "libos/libos_machine.h"
#include "libos/libos_text.h"
#include "libos/libos_topology.h"
#include "machine/machine_internal.h"
#include "machine/topology_model.h"
#include "pal/pal.h"

namespace libos {
namespace {

/* The settings, resolved for this machine's n at start-up. */
constinit ShapeSpec g_spec{};
constinit uint32_t g_numa_count = 0; /* --numa N; 0: not given */
constinit bool g_numa_lists = false; /* --numa lists, kept in g_numa_text and read again by the model */
constinit char g_topology_text[160] = {};
/* Kept in memory of its own: the lists can be long, and most machines have none. */
constinit char* g_numa_text = nullptr;
constinit size_t g_numa_text_size = 0;

/* The model, built at the first question (topology_model.h): a process that never asks about its
 * shape pays nothing, in time or in memory. */
constinit std::atomic<Model*> g_model{nullptr};
constinit VcpuPlace g_no_place = {};

/* The published model, or one built now. No thread waits for another's build: a signal handler
 * that interrupted a build, or a fork child of a process in the middle of one, builds its own.
 * Null when there is no memory for it (topology_available). */
const Model* model() {
    Model* m = g_model.load(std::memory_order_acquire);
    if (__builtin_expect(m != nullptr, 1))
        return m;
    ShapeSettings settings{g_spec, g_numa_count, g_numa_lists ? g_numa_text : nullptr};
    Model* built = build_model(settings);
    if (!built)
        return nullptr;
    Model* expected = nullptr;
    if (g_model.compare_exchange_strong(expected, built, std::memory_order_acq_rel))
        return built;
    free_model(built); /* another thread published one first */
    return expected;
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

LIBOS_STARTUP bool configure_shape(const char* topology_setting, const char* topology_text, const char* numa_setting,
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
    free_model(g_model.exchange(nullptr, std::memory_order_acq_rel));
    return true;
}

bool topology_available() {
    return model() != nullptr;
}

const char* machine_topology_text() {
    return g_topology_text;
}

const char* machine_numa_text() {
    return g_numa_text;
}

const ShapeSpec& machine_shape() {
    const Model* m = model();
    return m ? m->shape : g_spec;
}

const VcpuPlace& vcpu_place(uint32_t v) {
    const Model* m = model();
    return m && v < vcpu_count() ? m->places()[v] : g_no_place;
}

uint32_t vnode_count() {
    const Model* m = model();
    return m ? m->vnodes : 1;
}

void vnode_host_nodes(uint32_t node, CpuBits* host_nodes) {
    const Model* m = model();
    memset(host_nodes, 0, sizeof(*host_nodes));
    for (uint32_t v = 0; m && v < vcpu_count(); ++v)
        if (m->places()[v].node == node)
            host_nodes->add(host_node_of(host_cpu_of(v)));
}

uint32_t vnode_distance(uint32_t from, uint32_t to) {
    return from == to ? 10 : 20;
}

namespace {

/* The vCPUs [*begin, *end) that hold vCPU v's set `which`: a chosen shape's sets other than nodes are
 * runs of consecutive vCPUs, so only the run is looked at. */
void sibling_range(const Model* m, uint32_t v, SiblingSet which, uint32_t* begin_out, uint32_t* end_out) {
    const uint32_t n = vcpu_count();
    uint32_t begin = 0, end = n;
    const ShapeSpec& s = m->shape;
    if (s.kind != ShapeKind::kHost && which != SiblingSet::kNode && which != SiblingSet::kMachine) {
        uint32_t size = s.threads;
        if (which == SiblingSet::kCluster && s.clusters > 1)
            size *= s.cores;
        else if (which == SiblingSet::kDie)
            size *= s.cores * s.clusters;
        else if (which == SiblingSet::kPackage)
            size *= s.cores * s.clusters * s.dies;
        begin = v / size * size;
        end = begin + size;
    }
    *begin_out = begin;
    *end_out = end < n ? end : n;
}

}  // namespace

void vcpu_siblings(uint32_t v, SiblingSet which, CpuBits* out) {
    const Model* m = model();
    memset(out, 0, sizeof(*out));
    if (v >= vcpu_count() || !m)
        return;
    const VcpuPlace* places = m->places();
    uint32_t begin, end;
    sibling_range(m, v, which, &begin, &end);
    for (uint32_t u = begin; u < end; ++u)
        if (same(places[v], places[u], which))
            out->add(u);
}

uint32_t vcpu_sibling_count(uint32_t v, SiblingSet which) {
    const Model* m = model();
    if (v >= vcpu_count() || !m)
        return 1;
    const VcpuPlace* places = m->places();
    uint32_t begin, end, count = 0;
    sibling_range(m, v, which, &begin, &end);
    for (uint32_t u = begin; u < end; ++u)
        count += same(places[v], places[u], which);
    return count;
}

void machine_apic_widths(uint32_t widths[4]) {
    const Model* m = model();
    for (int i = 0; i < 4; ++i)
        widths[i] = m ? m->widths[i] : 0;
}

bool machine_has_smt() {
    const Model* m = model();
    return m && m->smt;
}

uint32_t vcpu_apic_id(uint32_t v) {
    const Model* m = model();
    if (!m || v >= vcpu_count())
        return 0;
    const VcpuPlace& p = m->places()[v];
    uint32_t core_in_cluster = p.core, cluster = 0;
    if (m->shape.kind != ShapeKind::kHost) {
        core_in_cluster = p.core % m->shape.cores;
        cluster = p.cluster == kNoCluster ? 0 : p.cluster;
    }
    uint32_t id = p.package;
    id = (id << m->widths[3]) | p.die;
    id = (id << m->widths[2]) | cluster;
    id = (id << m->widths[1]) | core_in_cluster;
    id = (id << m->widths[0]) | p.thread;
    return id;
}

}  // namespace libos
