/* libos-run [options] [--] PROGRAM [ARGS...]: runs PROGRAM on a virtual CPU machine.
 *
 * 1. Reads the options (launcher_options.cpp).
 * 2. With --cpus or --cpu-map, builds the vCPU -> host CPU map with libos::build_cpu_map, the very
 *    parser the shim uses, so both refuse the same inputs with the same line (exit 125).
 * 3. Finds libshim.so and builds the program's environment (launcher_exec.cpp).
 * 4. Puts itself on the map's host CPUs, so that the program starts on exactly those.
 * 5. Execs the program (126: cannot run it, 127: not found), or with --strict runs it as a child
 *    under the supervisor (launcher_strict.cpp). */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <exception>
#include <new>
#include <string>
#include <vector>

#include "launcher.h"
#include "libos/libos_config.h"
#include "libos/libos_machine.h"
#include "libos/libos_quota.h"
#include "libos/libos_settings.h"
#include "libos/libos_topology.h"
#include "pal/pal.h"

#ifndef LIBOS_INSTALLED_SHIM
#define LIBOS_INSTALLED_SHIM "../lib/libos-vcpu/libshim.so"
#endif

namespace launcher {
namespace {

/* operator new's handler: an allocation that fails ends the launcher with one line. It never
 * returns, so no std::bad_alloc is ever thrown: under a tight address-space limit (ulimit -v) the
 * C++ runtime could not even allocate the exception, and would abort with "terminate called without
 * an active exception". Writes with write(2) and leaves with _exit: nothing here may allocate, and a
 * forked child of strict mode must not flush its parent's stdio buffers. */
[[noreturn]] void out_of_memory() {
    constexpr char kLine[] = "libos-run: out of memory (the address-space limit, ulimit -v, may be too low)\n";
    ssize_t ignored = write(2, kLine, sizeof(kLine) - 1);
    (void)ignored;
    _exit(kExitLauncherFailed);
}

/* std::terminate's handler, for what should never happen: an exception nobody catches. One line and
 * the launcher's failure status, as for every other failure of its own, not an abort. */
[[noreturn]] void terminated() {
    const char* what = "std::terminate was called";
    if (std::exception_ptr current = std::current_exception()) {
        try {
            std::rethrow_exception(current);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
            what = "an exception of an unknown type";
        }
    }
    fprintf(stderr, "libos-run: internal error: %s\n", what);
    _exit(kExitLauncherFailed);
}

/* One line and status 125. The shared parser's lines come with the shim's prefix, "libos: ", which
 * the launcher says as its own, "libos-run: ". */
[[noreturn]] void fail(const std::string& line) {
    print_config_error(line.c_str());
    exit(kExitLauncherFailed);
}

const char* error_text(long negative_errno) {
    return strerror(static_cast<int>(-negative_errno));
}

/* ---- the machine -------------------------------------------------------------------------------- */

/* Large (a topology holds a node number for each of 8192 CPUs), so not on the stack. */
PalTopology g_topology;

struct Machine {
    libos::CpuMap map;
    std::string map_text;
    libos::CpuBits hosts; /* the union of the map's host CPUs */
};
Machine g_machine;

/* The size of mask to give sched_setaffinity: the kernel's cpumask. */
size_t kernel_mask_size() {
    return libos::kernel_mask_bytes(g_topology);
}

/* The calling thread's host affinity (through the PAL: the host's, even under an enclosing shim). */
void host_affinity(libos::CpuBits* out) {
    memset(out, 0, sizeof(*out));
    long ret = PalThreadGetCpuAffinity(0, sizeof(out->words), out->words);
    if (ret < 0)
        fail(std::string("libos-run: cannot read the CPU affinity: ") + error_text(ret));
}

/* The CPUs the process's cpuset allows, as the kernel defines them: asking for every CPU gets
 * cpuset ∩ online. The affinity is restored afterwards. */
void cpuset_allowed(const libos::CpuBits& saved, libos::CpuBits* allowed) {
    libos::CpuBits everything;
    memset(&everything, 0xff, sizeof(everything));
    size_t size = kernel_mask_size();
    if (PalThreadSetCpuAffinity(0, size, everything.words) != 0) {
        /* Cannot probe: let the final sched_setaffinity be the judge. */
        memcpy(allowed->words, g_topology.online_mask, sizeof(allowed->words));
        return;
    }
    host_affinity(allowed);
    long ret = PalThreadSetCpuAffinity(0, size, saved.words);
    if (ret != 0)
        fail(std::string("libos-run: cannot restore the CPU affinity: ") + error_text(ret));
}

/* Builds g_machine from the options; a bad configuration ends the launcher with the parser's line. */
void build_machine(const Options& options, const libos::SettingNames& names) {
    PalHostTopology(&g_topology); /* without /sys it still fills in a usable online set */
    libos::CpuBits online, spread_over, allowed;
    memcpy(online.words, g_topology.online_mask, sizeof(online.words));
    host_affinity(&spread_over);
    cpuset_allowed(spread_over, &allowed);

    libos::ConfigError error;
    if (!libos::build_cpu_map(names, options.cpus, options.cpu_map, online, allowed, spread_over, &g_machine.map,
                              &error))
        fail(error.text);

    char text[libos::kMaxVcpus * 6];
    libos::format_cpu_map(g_machine.map, text, sizeof(text));
    g_machine.map_text = text;
    memset(&g_machine.hosts, 0, sizeof(g_machine.hosts));
    for (uint32_t v = 0; v < g_machine.map.count; ++v)
        g_machine.hosts.add(g_machine.map.host_of[v]);
}

/* The names the shape's settings came under: the options, or the variables. */
struct ShapeNames {
    const char* topology;
    const char* numa;
};

/* A machine given by its shape alone: the count it makes, kept for as long as options.cpus points
 * at it. Refuses NUMA nodes without a machine. */
std::string count_from_shape(Options& options, const ShapeNames& names) {
    if (options.cpus || options.cpu_map)
        return std::string();
    libos::ConfigError error;
    uint32_t n = 0;
    if (!libos::count_from_shape(names.topology, options.topology, names.numa, options.numa, &n, &error))
        fail(error.text);
    if (n == 0)
        return std::string();
    return std::to_string(n);
}

/* The shape and the nodes, checked against the machine before the program runs (the shim reads
 * them again, with the same code). */
void check_shape(const Options& options, const ShapeNames& names) {
    libos::ConfigError error;
    libos::ShapeSpec spec;
    uint32_t nodes;
    std::vector<uint16_t> node_of(g_machine.map.count);
    if (!libos::check_shape(names.topology, options.topology, names.numa, options.numa, g_machine.map, &spec, &nodes,
                            node_of.data(), &error))
        fail(error.text);
}

/* The names the quota's settings came under: the options, or the variables. */
struct QuotaNames {
    const char* quota;
    const char* from_quota;
};

/* The machine's quota: given (--cpu-quota), or found in the launcher's cgroup (--cpus-from-quota). */
struct Quota {
    std::string count; /* the vCPUs it makes, kept for as long as options.cpus points at it */
    uint32_t milli = 0;
    bool from_cgroup = false;
    std::string found; /* the quota --cpus-from-quota found, as the setting's text */
};

/* --cpus-from-quota: the count from the cgroup's quota, refused beside another count (with the
 * shim's line); --cpu-quota alone: a machine of the CPUs the launcher may run on. */
Quota count_from_quota(Options& options, const libos::SettingNames& names, const ShapeNames& shape_names,
                       const QuotaNames& quota_names, bool shape_gave_count) {
    Quota quota;
    bool counted = options.cpus || options.cpu_map;
    if (options.cpus_from_quota && counted) {
        const char* other = shape_gave_count ? shape_names.topology : options.cpus ? names.count : names.map;
        libos::ConfigError error;
        std::string why = std::string("the count comes from the cgroup's quota, so ") + other + " cannot give one too";
        libos::config_error(&error, quota_names.from_quota, options.cpus_from_quota ? "1" : "", why.c_str());
        fail(error.text);
    }
    if (counted || (!options.cpus_from_quota && !options.cpu_quota))
        return quota;
    libos::CpuBits allowed;
    host_affinity(&allowed);
    uint32_t n = allowed.count();
    if (options.cpus_from_quota) {
        char found[24];
        n = libos::count_from_quota(n, libos::host_cgroup_quota(nullptr, 0), found, sizeof(found));
        if (found[0] && !options.cpu_quota) {
            quota.found = found;
            quota.from_cgroup = true;
        }
    }
    quota.count = std::to_string(n);
    options.cpus = quota.count.c_str();
    return quota;
}

/* The quota against the machine's count, with the shim's reading. */
void check_quota(const Options& options, const QuotaNames& names, Quota* quota) {
    const char* text = options.cpu_quota ? options.cpu_quota : quota->found.empty() ? nullptr : quota->found.c_str();
    libos::ConfigError error;
    if (!libos::parse_cpu_quota(options.cpu_quota ? names.quota : names.from_quota, text, g_machine.map.count,
                                &quota->milli, &error))
        fail(error.text);
}

/* Enforces a given quota with a cgroup where the launcher may make one; says so where it may not. */
void enforce_quota(const Quota& quota, const QuotaNames& names) {
    QuotaCgroup cgroup = enforce_cpu_quota(quota.milli);
    if (cgroup.enforced)
        return;
    char text[24];
    libos::format_cpu_quota(quota.milli, text, sizeof(text));
    fprintf(stderr, "libos-run: %s %s: the quota is shown to the program but not enforced (%s)\n", names.quota, text,
            cgroup.why.c_str());
}

/* Puts the launcher, and so the program it becomes, on the map's host CPUs. */
void place_on_machine() {
    long ret = PalThreadSetCpuAffinity(0, kernel_mask_size(), g_machine.hosts.words);
    if (ret != 0) {
        char list[libos::kMaxVcpus * 6];
        libos::format_cpu_list(g_machine.hosts, list, sizeof(list));
        fail(std::string("libos-run: cannot run on host CPUs ") + list + ": " + error_text(ret));
    }
}

/* ---- the other settings ------------------------------------------------------------------------ */

/* --trace=FILE: the file must open for appending, as strace -o requires, or the program does not
 * run. (Each process of the launch opens it again, with the shim's same check.) With
 * --trace-per-process the file checked is FILE.<pid> of this process, which the program (the same
 * process after exec, or strict mode's supervisor) writes. */
void check_trace_target(const char* text, bool per_process) {
    libos::ConfigError error;
    libos::TraceTarget target;
    char path[libos::kTracePathBytes];
    if (!libos::parse_trace_target("--trace", text, &target, path, sizeof(path), &error))
        fail(error.text);
    if (target != libos::TraceTarget::kFile)
        return;
    char own[libos::kTracePathBytes + 24];
    if (per_process && !libos::per_process_trace_path("--trace", text, path, getpid(), own, sizeof(own), &error))
        fail(error.text);
    long fd = libos::open_trace_file("--trace", text, per_process ? own : path, &error);
    if (fd < 0)
        fail(error.text);
    PalFileClose(static_cast<int>(fd));
}

/* The variables libos-run reads itself, other than the machine's: a value outside the documented
 * ones is refused as a bad option is, naming the variable. */
void check_own_environment(Options* options) {
    libos::ConfigError error;
    bool propagate = true;
    if (!libos::parse_switch(kEnvPropagate, getenv(kEnvPropagate), &propagate, &error))
        fail(error.text);
    if (!propagate)
        options->propagate = false;
    bool cpuid = false;
    if (!libos::parse_switch(kEnvCpuid, getenv(kEnvCpuid), &cpuid, &error))
        fail(error.text);
    if (cpuid)
        options->cpuid = true;
    /* With the options given, LIBOS_CPUS and LIBOS_CPU_MAP are not used, but a bad value is refused
     * all the same (docs/configuration.md): for its form, against every CPU, since the machine is the
     * options'. */
    const char* env_cpus = getenv(kEnvCpus);
    const char* env_map = getenv(kEnvCpuMap);
    if ((options->cpus || options->cpu_map) && ((env_cpus && *env_cpus) || (env_map && *env_map))) {
        libos::CpuBits every;
        for (uint32_t cpu = 0; cpu < libos::kMaxVcpus; ++cpu)
            every.add(cpu);
        libos::CpuMap unused;
        if (!libos::build_cpu_map({kEnvCpus, kEnvCpuMap}, env_cpus && *env_cpus ? env_cpus : nullptr,
                                  env_map && *env_map ? env_map : nullptr, every, every, every, &unused, &error))
            fail(error.text);
    }
#ifdef LIBOS_TEST_HOOKS
    bool missing = false;
    if (!libos::parse_switch(libos::kEnvTestStrictMissing, getenv(libos::kEnvTestStrictMissing), &missing, &error))
        fail(error.text);
#endif
}

/* ---- the shim ----------------------------------------------------------------------------------- */

bool is_regular_file(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

#if defined(__aarch64__)
constexpr int kOwnMachine = EM_AARCH64;
constexpr const char* kOwnMachineName = "an aarch64";
#else
constexpr int kOwnMachine = EM_X86_64;
constexpr const char* kOwnMachineName = "an x86-64";
#endif

/* Whether `path` is an ELF shared object of this machine, which ld.so can preload (it only warns,
 * and runs the program without it, otherwise). */
bool is_shared_object(const char* path) {
    unsigned char head[20] = {};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, head, sizeof(head));
    close(fd);
    return n == static_cast<ssize_t>(sizeof(head)) && memcmp(head, ELFMAG, SELFMAG) == 0 &&
           head[EI_CLASS] == ELFCLASS64 && head[EI_DATA] == ELFDATA2LSB &&
           (head[16] | head[17] << 8) == ET_DYN && (head[18] | head[19] << 8) == kOwnMachine;
}

/* The absolute path of libshim.so: LIBOS_SHIM_PATH, or next to the launcher's own executable (the
 * build tree's ../shim/libshim.so, then the installed one, LIBOS_INSTALLED_SHIM: on Debian
 * ../lib/x86_64-linux-gnu/libos-vcpu/libshim.so). */
std::string find_shim() {
    std::vector<std::string> candidates;
    const char* override_path = getenv(kEnvShimPath);
    if (override_path && *override_path) {
        candidates.emplace_back(override_path);
    } else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0)
            fail(std::string("libos-run: cannot find its own executable (/proc/self/exe): ") + strerror(errno) +
                 "; set " + kEnvShimPath);
        self[n] = '\0';
        std::string dir(self);
        dir.erase(dir.rfind('/') + 1);
        candidates.push_back(dir + "../shim/libshim.so");
        candidates.push_back(dir + LIBOS_INSTALLED_SHIM);
    }
    for (const std::string& candidate : candidates) {
        if (!is_regular_file(candidate))
            continue;
        char resolved[PATH_MAX];
        if (!realpath(candidate.c_str(), resolved)) {
            if (errno == ENOMEM)
                out_of_memory();
            continue;
        }
        if (!is_shared_object(resolved))
            fail(std::string("libos-run: the shim library ") + resolved +
                 (override_path && *override_path ? std::string(" (from ") + kEnvShimPath + ")" : std::string()) +
                 " is not " + kOwnMachineName + " ELF shared object");
        /* ld.so splits LD_PRELOAD at colons and spaces. */
        if (strpbrk(resolved, ": "))
            fail(std::string("libos-run: the shim library's path ") + resolved +
                 " contains ':' or ' ', which LD_PRELOAD cannot carry; set " + kEnvShimPath);
        return resolved;
    }
    const std::string& wanted = candidates.front();
    fail(std::string("libos-run: the shim library ") + wanted + " does not exist" +
         (override_path && *override_path ? std::string(" (from ") + kEnvShimPath + ")"
                                          : std::string(" (build the project, or set ") + kEnvShimPath + ")"));
}

}  // namespace
}  // namespace launcher

int main(int argc, char** argv) {
    using namespace launcher;
    std::set_new_handler(out_of_memory);
    std::set_terminate(terminated);
    Options options;
    ParseOutcome outcome = parse_options(argc, argv, &options);
    if (!outcome.run)
        return outcome.status;

    /* The options decide; without them, a machine configured in the environment (LIBOS_CPUS,
     * LIBOS_CPU_MAP, as the shim alone would read them) is used, and errors name the variable. */
    libos::SettingNames names = {"--cpus", "--cpu-map"};
    ShapeNames shape_names = {"--topology", "--numa"};
    QuotaNames quota_names = {"--cpu-quota", "--cpus-from-quota"};
    if (!options.cpus && !options.cpu_map && !options.topology && !options.numa && !options.cpu_quota &&
        !options.cpus_from_quota) {
        auto value = [](const char* name) -> const char* {
            const char* v = getenv(name);
            return v && *v ? v : nullptr;
        };
        options.cpus = value(kEnvCpus);
        options.cpu_map = value(kEnvCpuMap);
        options.topology = value(kEnvTopology);
        options.numa = value(kEnvNuma);
        options.cpu_quota = value(kEnvCpuQuota);
        libos::ConfigError error;
        if (!libos::parse_switch(kEnvCpusFromQuota, getenv(kEnvCpusFromQuota), &options.cpus_from_quota, &error))
            fail(error.text);
        names = {kEnvCpus, kEnvCpuMap};
        shape_names = ShapeNames{kEnvTopology, kEnvNuma};
        quota_names = QuotaNames{kEnvCpuQuota, kEnvCpusFromQuota};
    }
    check_own_environment(&options);
    std::string shape_count = count_from_shape(options, shape_names);
    if (!shape_count.empty())
        options.cpus = shape_count.c_str();
    Quota quota = count_from_quota(options, names, shape_names, quota_names, !shape_count.empty());
    bool machine = options.cpus || options.cpu_map;
    if (options.strict && !machine)
        fail("libos-run: --strict needs a virtual machine: give --cpus or --cpu-map (without one there is "
             "nothing for strict mode to virtualize)");
    if (machine) {
        build_machine(options, names);
        check_shape(options, shape_names);
        check_quota(options, quota_names, &quota);
    }
    if (options.show) {
        if (!machine)
            PalHostTopology(&g_topology);
        ShowQuota shown;
        shown.milli = quota.milli;
        shown.from_cgroup = quota.from_cgroup;
        shown.enforced = quota.milli && !quota.from_cgroup && quota_enforceable(&shown.why);
        return show_machine(machine ? &g_machine.map : nullptr, g_topology, shape_names.topology, options.topology,
                            shape_names.numa, options.numa, shown, find_shim(),
                            options.strict && machine ? strict_live_files_text(options.no_fuse) : std::string());
    }
    if (options.trace)
        check_trace_target(options.trace, options.trace_per_process);
    std::string shim = find_shim();
    std::vector<std::string> settings;
    if (machine) {
        settings.push_back(std::string(kEnvCpus) + "=" + std::to_string(g_machine.map.count));
        settings.push_back(std::string(kEnvCpuMap) + "=" + g_machine.map_text);
        if (options.topology)
            settings.push_back(std::string(kEnvTopology) + "=" + options.topology);
        if (options.numa)
            settings.push_back(std::string(kEnvNuma) + "=" + options.numa);
        if (quota.milli) {
            char text[24];
            libos::format_cpu_quota(quota.milli, text, sizeof(text));
            settings.push_back(std::string(kEnvCpuQuota) + "=" + text);
        }
    }
    if (machine && options.cpuid)
        settings.push_back(std::string(kEnvCpuid) + "=1");
    if (!options.propagate)
        settings.push_back(std::string(kEnvPropagate) + "=0");
    if (options.trace)
        settings.push_back(std::string(kEnvTrace) + "=" + options.trace);
    if (options.trace_stack)
        settings.push_back(std::string(kEnvTraceStack) + "=1");
    if (options.trace_format)
        settings.push_back(std::string(kEnvTraceFormat) + "=" + options.trace_format);
    if (options.stats)
        settings.push_back(std::string(kEnvStats) + "=" + options.stats);
    if (options.trace_filter)
        settings.push_back(std::string(kEnvTraceFilter) + "=" + options.trace_filter);
    if (options.trace_time)
        settings.push_back(std::string(kEnvTraceTime) + "=" + options.trace_time);
    if (options.trace_per_process)
        settings.push_back(std::string(kEnvTracePerProcess) + "=1");
    std::vector<std::string> env = program_environment(options.no_shim ? std::string() : shim, settings);
    if (quota.milli && !quota.from_cgroup)
        enforce_quota(quota, quota_names);
    if (machine)
        place_on_machine();
    if (options.strict)
        run_strict(argv[options.program], argv + options.program, &env, !options.no_views, !options.no_fuse);
    std::vector<char*> envp;
    for (std::string& e : env)
        envp.push_back(e.data());
    envp.push_back(nullptr);

    fflush(stdout);
    const char* program = argv[options.program];
    int err = exec_program(program, argv + options.program, envp.data());
    fprintf(stderr, "libos-run: %s: %s\n", program, strerror(err));
    return err == ENOENT ? kExitNotFound : kExitCannotRun;
}
