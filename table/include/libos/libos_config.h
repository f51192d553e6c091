/* The virtual CPU machine's configuration: parsing and validating the vCPU count and the vCPU ->
 * host CPU map. Shared by the launcher (flags --cpus / --cpu-map) and the shim (LIBOS_CPUS /
 * LIBOS_CPU_MAP), so both refuse exactly the same inputs with the same message. No allocation, no
 * libc beyond string helpers: the shim runs this before main. */
#ifndef LIBOS_CONFIG_H
#define LIBOS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "pal/pal.h"

namespace libos {

constexpr uint32_t kMaxVcpus = PAL_MAX_CPUS;
constexpr size_t kMaskWords = PAL_CPU_MASK_WORDS;

/* One line for the user: which setting, which token, what is allowed. */
struct ConfigError {
    char text[512];
};

/* vCPU i runs on host CPU host_of[i]. */
struct CpuMap {
    uint32_t count;
    uint16_t host_of[kMaxVcpus];
};

/* A set of CPUs, one bit each, as the kernel's cpumask. */
struct CpuBits {
    uint64_t words[kMaskWords];
    bool has(uint32_t cpu) const { return cpu < kMaxVcpus && (words[cpu / 64] >> (cpu % 64)) & 1; }
    void add(uint32_t cpu) { words[cpu / 64] |= 1ULL << (cpu % 64); }
    bool empty() const;
    uint32_t count() const;
};

/* The names under which a setting reached us, for error messages ("--cpus" or "LIBOS_CPUS"). */
struct SettingNames {
    const char* count;
    const char* map;
};

/* Builds the map from the two settings (either may be null or empty; not both):
 * - count alone: `count` vCPUs spread round-robin over the CPUs of `spread_over` (the launching
 *   process's affinity);
 * - map alone: vCPU i on the i-th CPU of the list; ranges and repeats allowed ("0-3", "0,0,1,1");
 * - both: allowed only when they agree on the number of vCPUs.
 * Every host CPU must be online and in `allowed` (what the process's cpuset permits). */
bool build_cpu_map(const SettingNames& names, const char* count_text, const char* map_text, const CpuBits& online,
                   const CpuBits& allowed, const CpuBits& spread_over, CpuMap* out, ConfigError* err);

/* Fills `err` with the one line every refusal has: "libos: SETTING: bad token 'TOKEN': WHY", the
 * token made printable and cut if long (libos_settings.h refuses the other settings with it). */
void config_error(ConfigError* err, const char* setting, const char* token, const char* why);
/* The same for a token of `length` bytes inside a longer value, which the line also quotes. */
void config_error_in(ConfigError* err, const char* setting, const char* token, size_t length, const char* whole,
                     const char* why);

/* Writes a CPU list in the kernel's style ("0-3,8"); returns the length (without NUL). */
size_t format_cpu_list(const CpuBits& cpus, char* buf, size_t size);

/* Writes the map as a list that build_cpu_map reads back to the same map ("0-3", "0,0,1,1"). */
size_t format_cpu_map(const CpuMap& map, char* buf, size_t size);

/* Parses a kernel-style CPU list ("0-3,8", no repeats needed) into bits. Returns false if malformed
 * or if a CPU is kMaxVcpus or more. The list ends at the end of the text or at a newline, as in a
 * sysfs file. */
bool parse_cpu_list(const char* text, CpuBits* out);

/* Parses LIBOS_AFFINITY as exec writes it: a CPU list as parse_cpu_list reads it, then optionally
 * '@' and the launch's clock, a decimal number below 2^32 (0 when absent). Returns false if
 * malformed. Read in place: the value can be long, and this runs at start-up on any stack. */
bool parse_inherited_affinity(const char* text, CpuBits* mask, uint32_t* clock);

}  // namespace libos

#endif
