/* The machine's CPU quota: LIBOS_CPU_QUOTA / --cpu-quota, a CFS bandwidth limit in CPUs, as
 * `docker run --cpus` gives it ("1.5": one and a half CPUs' worth of time per period).
 *
 * A virtual machine presents its quota in the cgroup CPU controller's files of the program's own
 * cgroup and its ancestors (cgroup v2 cpu.max, v1 cpu.cfs_quota_us), so that runtimes that size
 * themselves by the quota (the JVM, Rust, Go, .NET, libuv) see it: "max" (v1: -1) when the machine
 * has none. The launcher enforces it with a cgroup of its own where it may create one
 * (docs/machine.md, "CPU quota"). Shared by the launcher and the shim: no allocation, nothing of libc
 * but string helpers. */
#ifndef LIBOS_QUOTA_H
#define LIBOS_QUOTA_H

#include <stddef.h>
#include <stdint.h>

#include "libos/libos_config.h"

namespace libos {

/* Quotas are kept in thousandths of a CPU. */
constexpr uint32_t kQuotaScale = 1000;
/* The kernel refuses a quota below 1 ms per period; at the usual 100 ms period that is 0.01 CPU,
 * the least docker's --cpus takes too. */
constexpr uint32_t kQuotaMin = 10;

/* Reads a quota for a machine of n vCPUs: a decimal number of CPUs with at most three decimals,
 * from 0.01 to n ("2", "1.5", "0.25"). Null or empty: *milli = 0, no quota. */
bool parse_cpu_quota(const char* setting, const char* text, uint32_t n, uint32_t* milli, ConfigError* err);

/* Writes a quota in thousandths as the setting's text ("1.5", "2", "0.125"); returns the length. */
size_t format_cpu_quota(uint32_t milli, char* buf, size_t size);

/* The vCPUs a quota makes with --cpus-from-quota: the quota rounded up (gVisor's
 * --cpu-num-from-quota does the same), at least one. */
inline uint32_t cpus_for_quota(uint32_t milli) {
    uint32_t n = static_cast<uint32_t>((static_cast<uint64_t>(milli) + kQuotaScale - 1) / kQuotaScale);
    return n ? n : 1;
}

/* The room for a cgroup directory's path. */
constexpr size_t kQuotaPathMax = 512;

/* The CPU quota the host's cgroups put on this process, in thousandths of a CPU (rounded up), or 0:
 * the least of its own cgroup's and its ancestors', in the CPU controller of cgroup v2 (cpu.max) and
 * v1 (cpu.cfs_quota_us / cpu.cfs_period_us), where they are mounted: /sys/fs/cgroup (or its
 * unified/ on a hybrid host), /sys/fs/cgroup/cpu (or cpu,cpuacct). `where` (may be null) gets the
 * directory whose quota it is. Reads /proc/self/cgroup and the files; allocates nothing. */
uint32_t host_cgroup_quota(char* where, size_t where_size);

/* --cpus-from-quota / LIBOS_CPUS_FROM_QUOTA=1: the vCPUs for a host quota of `milli` (0: none)
 * when the process may run on `allowed` CPUs: the quota rounded up, at most `allowed` (the cpuset
 * limits too); without a quota, `allowed`. The quota the machine then presents is written to
 * `quota_text` (as LIBOS_CPU_QUOTA takes it; "" without one), at most the count. */
uint32_t count_from_quota(uint32_t allowed, uint32_t milli, char* quota_text, size_t size);

/* Start-up (libos_init.cpp), once the machine's count is known: reads the setting. False, with the
 * line for the user, when it is refused. */
bool configure_quota(const char* setting, const char* text, uint32_t n, ConfigError* err);
/* The machine's quota in thousandths of a CPU; 0: none. */
uint32_t machine_quota_milli();
/* The setting as exec passes it on ("1.5"), or nullptr without a quota. */
const char* machine_quota_text();

}  // namespace libos

#endif
