/* The machine's shape: which vCPUs are threads of one core, cores of one package, and which NUMA
 * node each vCPU is on. One model (table/machine/topology.cpp) that every view of the shape is
 * generated from: the sysfs topology, cache and node files, /proc/cpuinfo, the cgroup cpusets.
 *
 * The user chooses it (docs/machine.md, "The machine's shape"):
 *   LIBOS_TOPOLOGY / --topology  "sockets=S,dies=D,clusters=K,cores=C,threads=T" (QEMU's -smp words,
 *                                each optional), "flat" (n cores of one thread, one package) or
 *                                "host" (the host's own shape, renumbered into vCPUs)
 *   LIBOS_NUMA / --numa          N nodes, splitting packages (or cores, or vCPUs) evenly in vCPU
 *                                order, or explicit vCPU lists, one per node: "0-5:6-7"
 * Without LIBOS_TOPOLOGY the shape is "host" when the map uses each host CPU at most once, "flat"
 * otherwise. Placement stays the map's: which host CPU a vCPU runs on does not depend on its shape.
 *
 * The parsing is shared by the launcher and the shim (no allocation, no libc beyond string
 * helpers), so both refuse the same inputs with the same line. The model is built when a view first
 * needs it (reading a host layout's ids costs a few file reads per host CPU). */
#ifndef LIBOS_TOPOLOGY_H
#define LIBOS_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>

#include "libos/libos_config.h"

namespace libos {

/* ---- the settings ----------------------------------------------------------------------------- */

enum class ShapeKind : uint8_t { kDefault, kHost, kFlat, kExplicit };

/* LIBOS_TOPOLOGY as given: for kExplicit, each count or 0 where the text did not give it. */
struct ShapeSpec {
    ShapeKind kind;
    uint32_t sockets, dies, clusters, cores, threads;
};

/* Reads LIBOS_TOPOLOGY / --topology. Null or empty: kDefault. */
bool parse_topology(const char* setting, const char* text, ShapeSpec* out, ConfigError* err);

/* The number of vCPUs an explicit shape names when every count is given (or defaults to 1): its
 * product; 0 when sockets or cores is missing (then the count or the map decides). */
uint32_t topology_vcpus(const ShapeSpec& spec);

/* A machine given by its shape alone (LIBOS_TOPOLOGY without LIBOS_CPUS and LIBOS_CPU_MAP): *n gets
 * the shape's product, or 0 when neither setting is given. Refused: a shape that does not give a
 * product (flat, host, a missing socket or core count), and NUMA nodes without a machine. */
bool count_from_shape(const char* setting, const char* text, const char* numa_setting, const char* numa_text,
                      uint32_t* n, ConfigError* err);

/* Fills the missing counts of an explicit shape for n vCPUs: dies, clusters and threads default to 1;
 * of sockets and cores, a missing one is what makes the product n (both missing: one socket). False
 * when the product cannot equal n. kDefault becomes kHost or kFlat by `map_repeats` (whether the map
 * puts two vCPUs on one host CPU). */
bool resolve_topology(const char* setting, const char* text, uint32_t n, bool map_repeats, ShapeSpec* spec,
                      ConfigError* err);

/* LIBOS_NUMA / --numa, checked against n vCPUs: a node count 1..n, or per-node vCPU lists separated
 * by ':' that together hold each vCPU exactly once. Null or empty: *nodes = 0 (the shape's default).
 * With lists, node_of[v] (n entries) gets each vCPU's node. */
bool parse_numa(const char* setting, const char* text, uint32_t n, uint32_t* nodes, uint16_t* node_of,
                ConfigError* err);

/* All three for the machine of `map`: what the launcher checks before it starts anything, and what
 * start-up keeps (configure_shape). node_of has room for map.count entries. */
bool check_shape(const char* topology_setting, const char* topology_text, const char* numa_setting,
                 const char* numa_text, const CpuMap& map, ShapeSpec* spec, uint32_t* nodes, uint16_t* node_of,
                 ConfigError* err);

/* Start-up (libos_init.cpp), once the map is set: reads and resolves both settings for this
 * machine. False, with the line for the user, when either is refused. */
bool configure_shape(const char* topology_setting, const char* topology_text, const char* numa_setting,
                     const char* numa_text, ConfigError* err);
/* The settings as exec passes them on: the resolved shape ("flat", "host" or every count), and
 * LIBOS_NUMA as given (nullptr when it was not). */
const char* machine_topology_text();
const char* machine_numa_text();

/* ---- the model -------------------------------------------------------------------------------- */

/* Where one vCPU sits. Ids as Linux shows them: package and die ids as numbered on the machine,
 * core_id unique within its package, cluster_id within its die. */
struct VcpuPlace {
    uint16_t package;
    uint16_t die;
    uint16_t cluster;
    uint16_t core;
    uint16_t thread;     /* its rank among its core's threads */
    uint16_t node;       /* virtual NUMA node */
    uint32_t core_index; /* the machine's cores numbered 0.. in vCPU order */
    uint32_t die_index;  /* the machine's dies numbered 0.. in vCPU order */
};

/* The shape in use (kHost, kFlat or kExplicit) and its counts; for kHost the counts are the largest
 * seen (packages, dies per package, ...). */
const ShapeSpec& machine_shape();
/* False when the model could not be built (no memory): the views of the shape then fail ENOMEM. */
bool topology_available();
const VcpuPlace& vcpu_place(uint32_t v);

/* The machine's NUMA nodes: numbered 0..count-1, every one with at least one vCPU. */
uint32_t vnode_count();
/* The host nodes a virtual node's memory and files come from (the host nodes of its vCPUs' CPUs). */
void vnode_host_nodes(uint32_t node, CpuBits* host_nodes);
/* The distance between two virtual nodes, as node/nodeN/distance shows it. */
uint32_t vnode_distance(uint32_t from, uint32_t to);

/* The sets of sysfs's topology directory, for vCPU v. */
enum class SiblingSet : uint8_t { kCore, kCluster, kDie, kPackage, kNode, kMachine };
void vcpu_siblings(uint32_t v, SiblingSet which, CpuBits* out);

/* How many vCPUs the set of vcpu_siblings(v, which) holds, without building it (the cpuid path runs on
 * signal stacks, which may be small). */
uint32_t vcpu_sibling_count(uint32_t v, SiblingSet which);

/* Whether any core of the machine has more than one thread (smt/active). */
bool machine_has_smt();

/* The x86 APIC id of vCPU v: the thread, core, die and package fields in their bits, each as wide as
 * its largest value needs (CPUID leaf 0xB's encoding, which tools decode). */
uint32_t vcpu_apic_id(uint32_t v);
/* The widths of vcpu_apic_id's fields, lowest first: thread, core, cluster, die; the package takes the
 * bits above them. */
void machine_apic_widths(uint32_t widths[4]);

}  // namespace libos

#endif
