/* The model behind libos_topology.h, shared by topology.cpp (the settings, publishing the model,
 * the questions) and topology_build.cpp (building it), and by nothing else. */
#ifndef LIBOS_TOPOLOGY_MODEL_H
#define LIBOS_TOPOLOGY_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "libos/libos_topology.h"
#include "pal/pal.h"

namespace libos {

constexpr uint16_t kNoCluster = 0xffff; /* cluster_id where there are no clusters, as x86 shows it */

/* One built model, in a mapping of its own, followed by its n places. Never changed once published:
 * a thread that finds none builds one and publishes it (the first one published wins), so that no
 * thread ever waits for another; a signal handler or a fork child that finds none builds its own. */
struct Model {
    size_t bytes;        /* the mapping's size */
    ShapeSpec shape;     /* the counts in use (the host layout's are the largest seen) */
    uint32_t vnodes;
    uint32_t widths[4];  /* the APIC id's fields: thread, core, cluster, die */
    bool smt;
    VcpuPlace* places() { return reinterpret_cast<VcpuPlace*>(this + 1); }
    const VcpuPlace* places() const { return reinterpret_cast<const VcpuPlace*>(this + 1); }
};
static_assert(sizeof(Model) % alignof(VcpuPlace) == 0, "the places follow the head");

/* What building needs from the settings (topology.cpp keeps them). */
struct ShapeSettings {
    ShapeSpec spec;
    uint32_t numa_count;    /* --numa N; 0: not given */
    const char* numa_lists; /* --numa lists, or nullptr */
};

/* Builds the model for the machine's n vCPUs into fresh memory; nullptr when there is no memory.
 * topology_build.cpp. */
Model* build_model(const ShapeSettings& settings);
void free_model(Model* model);

/* Memory of its own for `count` objects of T, mapped and unmapped (the LibOS does not use malloc).
 * None for none (data is nullptr): start-up asks for none on every machine without NUMA lists, and a
 * mapping costs two system calls. */
template <typename T>
struct Scratch {
    explicit Scratch(size_t count) : size(count * sizeof(T)) {
        void* p;
        data = count && PalMemoryAllocate(size, &p) == 0 ? static_cast<T*>(p) : nullptr;
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

}  // namespace libos

#endif
