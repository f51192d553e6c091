/* --show: the machine a run would make, printed and not run (as numactl --show and lscpu describe
 * theirs). The shape and the nodes come from the LibOS's own model (libos_topology.h), the one every
 * view the program reads is generated from, so what --show says is what the program would see. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "launcher.h"
#include "libos/libos_machine.h"
#include "libos/libos_quota.h"
#include "libos/libos_topology.h"

namespace launcher {
namespace {

/* One "name: value" line, the values in one column. */
void line(const char* name, const std::string& value) {
    printf("%-18s %s\n", (std::string(name) + ":").c_str(), value.c_str());
}

std::string list_text(const libos::CpuBits& set) {
    std::vector<char> text(libos::kMaxVcpus * 6);
    libos::format_cpu_list(set, text.data(), text.size());
    return text.data();
}

std::string plural(uint32_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

void show_quota(const ShowQuota& quota) {
    if (!quota.milli) {
        line("CPU quota", "none");
        return;
    }
    char text[24];
    libos::format_cpu_quota(quota.milli, text, sizeof(text));
    std::string value = std::string(text) + " CPUs";
    if (quota.from_cgroup)
        value += ", libos-run's own cgroup's (shown to the program, already enforced by that cgroup)";
    else if (quota.enforced)
        value += ", shown to the program and enforced by a cgroup of the launch's own";
    else
        value += ", shown to the program but not enforced (" + quota.why + ")";
    line("CPU quota", value);
}

}  // namespace

int show_machine(const libos::CpuMap* map, const PalTopology& topo, const char* topology_setting,
                 const char* topology_text, const char* numa_setting, const char* numa_text, const ShowQuota& quota,
                 const std::string& shim, const std::string& live_files) {
    if (!map) {
        line("machine", "none: the program sees the host's own CPUs (give --cpus or --cpu-map)");
        libos::CpuBits online{};
        memcpy(online.words, topo.online_mask, sizeof(online.words));
        line("host CPUs online", list_text(online));
        line("shim", shim);
        return fflush(stdout) == 0 ? 0 : kExitLauncherFailed;
    }
    libos::adopt_machine(*map, topo);
    libos::ConfigError error;
    if (!libos::configure_shape(topology_setting, topology_text, numa_setting, numa_text, &error)) {
        print_config_error(error.text);
        return kExitLauncherFailed;
    }
    if (!libos::topology_available()) {
        fprintf(stderr, "libos-run: --show: out of memory building the machine's shape\n");
        return kExitLauncherFailed;
    }
    const uint32_t n = map->count;
    libos::CpuBits hosts{};
    for (uint32_t v = 0; v < n; ++v)
        hosts.add(map->host_of[v]);
    line("vCPUs", std::to_string(n) + (n > 1 ? " (0-" + std::to_string(n - 1) + ")" : std::string(" (0)")));
    line("map", std::string(libos::machine_map_text()) + " (the host CPU of each vCPU, vCPU 0 first)");
    line("host CPUs", list_text(hosts));

    /* The shape, counted from the places of the vCPUs. */
    std::set<uint32_t> packages;
    std::set<std::pair<uint32_t, uint32_t>> clusters;
    uint32_t dies = 0, cores = 0, threads = 0;
    for (uint32_t v = 0; v < n; ++v) {
        const libos::VcpuPlace& p = libos::vcpu_place(v);
        packages.insert(p.package);
        clusters.insert({p.die_index, p.cluster});
        dies = p.die_index + 1 > dies ? p.die_index + 1 : dies;
        cores = p.core_index + 1 > cores ? p.core_index + 1 : cores;
        threads = p.thread + 1u > threads ? p.thread + 1u : threads;
    }
    const uint32_t sockets = static_cast<uint32_t>(packages.size());
    std::string shape = libos::machine_topology_text();
    if (!topology_text || !*topology_text)
        shape += " (the default for this map)";
    line("topology", shape);
    std::string counts = plural(sockets, "socket", "sockets");
    if (dies > sockets)
        counts += ", " + plural(dies, "die", "dies");
    if (clusters.size() > dies)
        counts += ", " + plural(static_cast<uint32_t>(clusters.size()), "cluster", "clusters");
    counts += ", " + plural(cores, "core", "cores") + " in all, " + plural(threads, "thread", "threads") + " per core" +
              (libos::machine_has_smt() ? " (SMT)" : "");
    line("shape", counts);

    const uint32_t nodes = libos::vnode_count();
    line("NUMA nodes", std::to_string(nodes));
    for (uint32_t node = 0; node < nodes; ++node) {
        libos::CpuBits vcpus{}, host_nodes{};
        for (uint32_t v = 0; v < n; ++v)
            if (libos::vcpu_place(v).node == node)
                vcpus.add(v);
        libos::vnode_host_nodes(node, &host_nodes);
        std::string name = "node " + std::to_string(node);
        line(name.c_str(), "vCPUs " + list_text(vcpus) + ", memory from host node(s) " + list_text(host_nodes));
    }
    if (nodes > 1) {
        std::string distances;
        for (uint32_t to = 0; to < nodes; ++to)
            distances += (to ? " " : "") + std::to_string(libos::vnode_distance(0, to));
        line("node 0 distances", distances);
    }
    show_quota(quota);
    line("shim", shim);
    if (!live_files.empty())
        line("changing files", live_files);
    return fflush(stdout) == 0 ? 0 : kExitLauncherFailed;
}

}  // namespace launcher
