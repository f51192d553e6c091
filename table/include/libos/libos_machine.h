/* The virtual CPU machine: n vCPUs, the host CPU each one runs on, and the translation between
 * virtual and host CPU masks. Only meaningful on a virtual machine (is_virtual(), libos_init.h).
 *
 * The map comes from the configuration (LIBOS_CPUS, LIBOS_CPU_MAP; libos_init.cpp reads it): a count
 * spread round-robin over the host CPUs the process may run on, or an explicit list of host CPUs. */
#ifndef LIBOS_MACHINE_H
#define LIBOS_MACHINE_H

#include <stddef.h>
#include <stdint.h>

#include "libos/libos_config.h"
#include "pal/pal.h"

namespace libos {

/* The number of vCPUs (the virtual nr_cpu_ids). */
uint32_t vcpu_count();

/* The size in bytes of the virtual kernel's cpumask: BITS_TO_LONGS(vcpu_count()) * 8. */
size_t vcpu_mask_size();

/* Every vCPU. */
const CpuBits& all_vcpus();

/* The host CPU vCPU `v` runs on (v < vcpu_count()). */
uint16_t host_cpu_of(uint32_t v);

/* The NUMA node of host CPU `host`, read from sysfs the first time a node is asked for. */
uint32_t host_node_of(uint32_t host);

/* The host topology read at start-up (node_of_cpu: see host_node_of). */
const PalTopology& host_topology();

/* The size in bytes of the host kernel's cpumask (what sched_setaffinity should be given), or of a
 * whole CpuBits when the host did not say. */
size_t host_mask_bytes();
inline size_t kernel_mask_bytes(const PalTopology& topo) {
    return topo.kernel_mask_size ? topo.kernel_mask_size : sizeof(CpuBits::words);
}

/* The map as LIBOS_CPU_MAP text ("0,1,0,1"), which exec passes on. */
const char* machine_map_text();

/* For a program that describes a machine without running on it (the launcher's --show): makes `map`,
 * on the host `topo`, this process's machine as start-up would, without the shared state, so that
 * configure_shape and the model (libos_topology.h) describe it. Never in a process with the shim. */
void adopt_machine(const CpuMap& map, const PalTopology& topo);

/* Host CPUs that the vCPUs of `vmask` run on. */
void to_host(const CpuBits& vmask, CpuBits* host);
/* vCPUs whose host CPU is in `host`: how a process outside the launch looks from inside. */
void to_virtual(const CpuBits& host, CpuBits* vmask);
/* The same on bare words, for the fast paths: `vmask` has the machine's words (vcpu_mask_size()
 * bytes), `host` gets `host_words` words (the kernel's cpumask size), all of them written. */
void to_host_words(const uint64_t* vmask, uint64_t* host, size_t host_words);
/* Clears the bits at vcpu_count() and above. */
void trim_to_machine(CpuBits* vmask);

}  // namespace libos

#endif
