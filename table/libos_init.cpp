/* Start-up (libos_init.h): the configuration read from the environment, the machine built from it,
 * the first thread placed, and the pieces that need setting up once (tracing, strict mode's tag, the
 * fault handlers, the inherited current directory). On top of the LibOS: it calls into every room,
 * and nothing below calls into it but through ensure_init(). */
#include "libos/libos_init.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "libos/libos_config.h"
#include "libos/libos_cpuid.h"
#include "libos/libos_env.h"
#include "libos/libos_machine.h"
#include "libos/libos_quota.h"
#include "libos/libos_scratch.h"
#include "libos/libos_numa.h"
#include "libos/libos_sections.h"
#include "libos/libos_topology.h"
#include "libos/libos_settings.h"
#include "libos/libos_signal.h"
#include "libos/libos_text.h"
#include "libos/libos_threads.h"
#include "libos/libos_trace.h"
#include "libos/libos_vfs.h"
#include "machine/machine_internal.h"
#include "pal/pal.h"

extern char** environ;

namespace libos {

std::atomic<int> g_init_state{kUninitialized};

namespace {

/* Whether exec puts scrubbed-environment children back on the machine, and the shim's path. */
constinit bool g_propagate = true;
/* LIBOS_CPUID=1: the program's cpuid shows the machine (docs/machine.md, "cpuid"); off by default. */
constinit bool g_cpuid = false;
constinit const char* g_preload_path = nullptr;


/* What the process before passed at exec (LIBOS_STATE_FD, LIBOS_AFFINITY, LIBOS_CWD), read and
 * checked at start-up, whether or not there is a machine: a malformed value is refused as any other
 * setting is. Whether what it names still exists (the descriptor, the directory) is for the machine
 * to find out; stale values are the normal case and fall back quietly. */
struct Inherited {
    /* The fields every start-up writes first, the large ones after: the small globals share a page
     * that ld.so writes anyway, and a field at the end of this 1.2 KiB block fell on the next one
     * (a page fault of every process). */
    int state_fd;
    bool has_affinity;
    bool has_mempolicy;
    uint32_t since;
    int mempolicy_mode;
    int live_count;
    int live_fds[kVfsLiveExecFds]; /* LIBOS_LIVE_FDS */
    CpuBits affinity;
    NodeBits mempolicy_nodes;
};
constinit Inherited g_inherited = {};

/* LIBOS_MEMPOLICY=MODE[:LIST], written at exec: the exec'ing thread's virtual memory policy (the host
 * keeps its own across execve). */
bool read_inherited_mempolicy(ConfigError* err) {
    const char* text = env_get(kEnvMemPolicy);
    if (!text || !*text)
        return true;
    if (!numa_parse_inherited(text, &g_inherited.mempolicy_mode, &g_inherited.mempolicy_nodes)) {
        config_error(err, kEnvMemPolicy, text, "expected a mode number, optionally ':' and a node list (\"2:0-1\")");
        return false;
    }
    g_inherited.has_mempolicy = true;
    return true;
}

/* LIBOS_LIVE_FDS=N[,N...], written at exec: the live generated files' descriptors the exec kept open
 * (table/vfs/live.cpp), adopted once the machine is up. */
bool read_inherited_live_fds(ConfigError* err) {
    const char* text = env_get(kEnvLiveFds);
    g_inherited.live_count = 0;
    if (!text || !*text)
        return true;
    for (const char* p = text;; ++p) {
        uint64_t value = 0;
        size_t n = 0;
        for (; p[n] >= '0' && p[n] <= '9' && n < 11; ++n)
            value = value * 10 + static_cast<uint64_t>(p[n] - '0');
        p += n;
        if (n == 0 || value > 2147483647u || g_inherited.live_count == kVfsLiveExecFds || (*p && *p != ',')) {
            config_error(err, kEnvLiveFds, text,
                         "expected up to 16 descriptor numbers from 0 to 2147483647 separated by commas, as the shim "
                         "writes them at exec");
            g_inherited.live_count = 0;
            return false;
        }
        g_inherited.live_fds[g_inherited.live_count++] = static_cast<int>(value);
        if (!*p)
            return true;
    }
}

bool read_inherited(ConfigError* err) {
    Inherited& in = g_inherited;
    return parse_descriptor(kEnvStateFd, env_get(kEnvStateFd), &in.state_fd, err) &&
           parse_inherited_affinity(kEnvAffinity, env_get(kEnvAffinity), &in.affinity, &in.since, &in.has_affinity,
                                    err) &&
           check_absolute_path(kEnvCwd, env_get(kEnvCwd), kVfsPathMax, err) && read_inherited_mempolicy(err) &&
           read_inherited_live_fds(err);
}

/* LIBOS_AFFINITY=LIST@CLOCK, written at exec by the process before: the exec'ing thread's mask and
 * the launch's clock at that moment. CPUs beyond this machine are dropped, as the kernel ignores
 * mask bits at nr_cpu_ids and above; a mask with none left leaves the whole machine. */
bool inherited_affinity(CpuBits* mask, uint32_t* since) {
    if (!g_inherited.has_affinity)
        return false;
    CpuBits parsed = g_inherited.affinity;
    trim_to_machine(&parsed);
    if (!parsed.empty())
        *mask = parsed;
    *since = g_inherited.since;
    return true;
}

/* LIBOS_CPUS_FROM_QUOTA=1 with a count given another way: the two would disagree. */
[[noreturn]] void refuse_from_quota(const char* other) {
    ConfigError error;
    FixedText<160> why;
    why.add("the count comes from the cgroup's quota, so ").add(other).add(" cannot give one too");
    config_error(&error, kEnvCpusFromQuota, "1", why.data());
    refuse(error.text);
}

LIBOS_STARTUP int init_machine() {
    const char* count_text = env_get(kEnvCpus);
    const char* map_text = env_get(kEnvCpuMap);
    const char* topology_text = env_get(kEnvTopology);
    const char* numa_text = env_get(kEnvNuma);
    const char* quota_text = env_get(kEnvCpuQuota);
    ConfigError error;
    bool from_quota = false;
    if (!parse_switch(kEnvCpusFromQuota, env_get(kEnvCpusFromQuota), &from_quota, &error))
        refuse(error.text);
    if (!(count_text && *count_text) && !(map_text && *map_text)) {
        /* A shape of sockets and cores alone is a machine of their product; a quota alone, one of the
         * CPUs the process may run on; LIBOS_CPUS_FROM_QUOTA=1, one of its cgroup's quota. */
        static constinit char shape_count[16] = {};
        static constinit char found_quota[24] = {};
        uint32_t n;
        if (!count_from_shape(kEnvTopology, topology_text, kEnvNuma, numa_text, &n, &error))
            refuse(error.text);
        if (from_quota && n)
            refuse_from_quota(kEnvTopology);
        if (n == 0 && (from_quota || (quota_text && *quota_text))) {
            ScratchOf<CpuBits> scratch;
            if (!scratch)
                refuse("libos: no memory to set the virtual machine up");
            CpuBits& allowed = *scratch;
            host_affinity(&allowed);
            n = allowed.count();
            if (from_quota) {
                n = count_from_quota(n, host_cgroup_quota(nullptr, 0), found_quota, sizeof(found_quota));
                if (found_quota[0] && !(quota_text && *quota_text))
                    quota_text = found_quota;
            }
        }
        if (n == 0)
            return kIdentity;
        format_decimal(shape_count, n);
        count_text = shape_count;
    } else if (from_quota) {
        refuse_from_quota((count_text && *count_text) ? kEnvCpus : kEnvCpuMap);
    }
    /* A machine: the CPU sets in scratch memory (4 KiB: the first call of a process, which sets the
     * machine up, may come on a 16 KiB thread stack; libos_scratch.h). A process without one
     * claims none (the pool's word lies on a page it would not touch otherwise). */
    struct Sets {
        CpuBits allowed, current, everything, online;
    };
    ScratchOf<Sets> sets;
    if (!sets)
        refuse("libos: no memory to set the virtual machine up");

    Machine& m = g_machine;
    const SettingNames names = {kEnvCpus, kEnvCpuMap};
    CpuBits& current = sets->current; /* the host mask read at start-up, when it was */
    bool have_current = false;
    /* An exec'ed process of a launch: its parent validated the map, and the shared state holds it.
     * If the state is still there and describes the same map, the host need not be asked again. */
    bool trusted = false;
    if (g_inherited.state_fd >= 0 && map_text && *map_text) {
        CpuBits& everything = sets->everything;
        memset(&everything, 0xff, sizeof(everything));
        if (build_cpu_map(names, count_text, map_text, everything, everything, everything, &m.map, &error)) {
            set_machine_shape();
            if (!configure_shape(kEnvTopology, topology_text, kEnvNuma, numa_text, &error) ||
                !configure_quota(kEnvCpuQuota, quota_text, m.map.count, &error))
                refuse(error.text);
            trusted = attach_region(g_inherited.state_fd);
        }
    }
    if (trusted) {
        /* Only the kernel's cpumask size is needed from the host (sched_setaffinity's length), and
         * the host mask, which comes with it. */
        long size = host_affinity(&current);
        have_current = size > 0;
        m.topo.kernel_mask_size = size > 0 ? static_cast<uint32_t>(size) : 0;
    } else {
        CpuBits &online = sets->online, &allowed = sets->allowed;
        long size = host_affinity(&current);
        have_current = size > 0;
        if (map_text && *map_text) {
            /* A map names host CPUs, which must be online. */
            PalHostTopology(&m.topo);
            memcpy(online.words, m.topo.online_mask, sizeof(online.words));
        } else {
            /* A count spreads over this thread's CPUs, which the kernel keeps to active ones: no
             * need to read sysfs at every start-up. */
            online = current;
            m.topo.kernel_mask_size = size > 0 ? static_cast<uint32_t>(size) : 0;
        }
        allowed = current;
        if (!build_cpu_map(names, count_text, map_text, online, allowed, current, &m.map, &error)) {
            /* A CPU outside this thread's affinity may still be one the cpuset allows. */
            cpuset_allowed(&allowed);
            if (!build_cpu_map(names, count_text, map_text, online, allowed, current, &m.map, &error))
                refuse(error.text);
        }
        set_machine_shape();
        if (!configure_shape(kEnvTopology, topology_text, kEnvNuma, numa_text, &error) ||
            !configure_quota(kEnvCpuQuota, quota_text, m.map.count, &error))
            refuse(error.text);
    }

    /* The first thread: the mask its exec'ing parent had, or the whole machine. */
    CpuBits& initial = m.first_mask;
    initial = m.all;
    uint32_t since = 0;
    bool from_parent = inherited_affinity(&initial, &since);
    t_tid = PalThreadGetId();
    m.first_tid = t_tid;
    m.first_inherited = from_parent;
    m.first_since = since;
    m.owner_pid = PalProcessGetId();
    CpuBits placed = initial;
    if (trusted) {
        /* An exec'ed process of a launch joins the state at once: the others may ask about it. Its
         * slot may hold a newer mask than the one it inherited (set for it by another process). */
        g_region_state.store(kRegionMapped, std::memory_order_release);
        set_thread_slot(claim(t_tid, initial.words, from_parent, since));
        if (t_slot && !read_mask(t_slot, t_tid, &placed))
            placed = initial;
    }
    /* The process runs on the host CPUs of its mask, unless it already does: the launcher and an
     * exec'ing process of the launch put it there; plain LD_PRELOAD, or a mask given by hand in
     * LIBOS_AFFINITY, did not. */
    CpuBits host;
    to_host(placed, &host);
    const size_t bytes = host_mask_bytes();
    if (!have_current || memcmp(current.words, host.words, bytes) != 0)
        PalThreadSetCpuAffinity(0, bytes, host.words);
    install_fault_handling();
    /* The program's cpuid shows the machine (docs/machine.md, "cpuid"), once its SIGSEGV is handled. */
    if (g_cpuid && fault_handling_installed())
        enable_cpuid_faulting();
    capture_inherited_cwd();
    if (g_inherited.has_mempolicy)
        numa_set_inherited(g_inherited.mempolicy_mode, g_inherited.mempolicy_nodes);
    return kVirtual;
}

}  // namespace

/* LIBOS_STRICT=TAG: 16 hex digits, the tag the launch's seccomp filter lets through (launcher/). */
constinit char g_strict_tag_text[17] = {};

void refuse(const char* line) {
    PalDebugLog(line, strlen(line));
    PalDebugLog("\n", 1);
    PalProcessExit(125);
}

bool set_strict_tag(const char* text, ConfigError* err) {
    uint64_t tag = 0;
    if (!parse_strict_tag(kEnvStrict, text, &tag, err))
        return false;
    if (tag) {
        memcpy(g_strict_tag_text, text, 17);
        PalSetStrictTag(tag);
    }
    return true;
}

/* LIBOS_HOST_SYSTEM_FD=N: strict mode's views (launcher/strict/views.cpp) hide the host's
 * /sys/devices/system/{cpu,node} under generated trees; N is a descriptor of the host's
 * /sys/devices/system that the launcher opened before, through which the PAL reads them. A number that
 * is no longer a sysfs directory (a program closed it, and the number was reused) is ignored. */
constinit int g_host_system_fd = -1;

bool is_sysfs_directory(int fd) {
    struct stat st;
    struct statfs fs;
    constexpr long kSysfsMagic = 0x62656572;
    return fd >= 0 && PalFileStat(fd, &st) == 0 && S_ISDIR(st.st_mode) && PalFileSystemStat(fd, nullptr, &fs) == 0 &&
           static_cast<long>(fs.f_type) == kSysfsMagic;
}

LIBOS_STARTUP bool set_host_system_dir(const char* text, ConfigError* err) {
    int fd = -1;
    if (!parse_descriptor(kEnvHostSystemFd, text, &fd, err))
        return false;
    if (fd < 0)
        return true;
    if (!is_sysfs_directory(fd)) {
        /* A parent that closed every descriptor before exec (Python's subprocess does) still has its
         * own: /proc/<ppid>/fd/N leads to the very directory, in the host's mount. */
        char path[64];
        TextBuilder(path, sizeof(path)).add("/proc/").unum(static_cast<uint64_t>(PalProcessGetParentId())).add("/fd/").unum(
            static_cast<uint64_t>(fd));
        long copy = PalFileOpen(AT_FDCWD, path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
        if (copy < 0)
            return true;
        long moved = PalFileMoveHigh(static_cast<int>(copy), fd, false);
        if (moved < 0 || !is_sysfs_directory(static_cast<int>(moved))) {
            PalFileClose(static_cast<int>(moved < 0 ? copy : moved));
            return true;
        }
        fd = static_cast<int>(moved);
        PalFileSetCloseOnExec(fd, false);
    }
    g_host_system_fd = fd;
    PalSetHostSystemDir(fd);
    return true;
}

int host_system_fd() {
    return g_host_system_fd;
}

const char* strict_tag_text() {
    return g_strict_tag_text[0] ? g_strict_tag_text : nullptr;
}

LIBOS_STARTUP void set_preload_library(const char* shim) {
    g_preload_path = shim;
}

const char* preload_library() {
    return g_preload_path;
}

bool cpuid_requested() {
    return g_cpuid;
}

bool propagates() {
    return g_propagate;
}

LIBOS_STARTUP void init() {
    /* Too early: something called in before libc set up the environment (a .preinit_array function,
     * a sanitizer's start-up). Answer as the host this time and look again on the next call. */
    if (!environ)
        return;
    int expected = kUninitialized;
    if (!g_init_state.compare_exchange_strong(expected, kInitializing, std::memory_order_acq_rel)) {
        while (g_init_state.load(std::memory_order_acquire) == kInitializing)
            PalThreadYield();
        return;
    }
    /* Strict mode: from here on the PAL's own calls carry the launch's tag past the filter. First,
     * before any of them (tracing may open its file). */
    /* Every setting is checked before the program runs: a value outside the documented ones stops it
     * with one line (libos_settings.h), as a bad machine does. */
    ConfigError error;
    env_index_begin();
    if (!set_strict_tag(env_get(kEnvStrict), &error) || !set_host_system_dir(env_get(kEnvHostSystemFd), &error) ||
        !trace_init(&error) ||
        !parse_switch(kEnvPropagate, env_get(kEnvPropagate), &g_propagate, &error) ||
        !parse_switch(kEnvCpuid, env_get(kEnvCpuid), &g_cpuid, &error) || !read_inherited(&error))
        refuse(error.text);
    int state = init_machine();
    env_index_end();
    /* Tracing without a machine still needs its own faults reported. */
    if (state == kIdentity && g_tracing)
        install_fault_handling();
    g_init_state.store(state, std::memory_order_release);
    /* Generated files exist only on a machine. */
    if (state != kIdentity)
        for (int i = 0; i < g_inherited.live_count; ++i)
            vfs_live_adopt(g_inherited.live_fds[i]);
}

}  // namespace libos
