/* Exec keeps a program on the machine (libos_exec.h): the environment that puts the new program back
 * on the same machine, even when the caller scrubbed its own. */
#include "libos/libos_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <atomic>
#include <initializer_list>
#include <new>

#include "libos/libos_config.h"
#include "libos/libos_env.h"
#include "libos/libos_init.h"
#include "libos/libos_machine.h"
#include "libos/libos_quota.h"
#include "libos/libos_numa.h"
#include "libos/libos_topology.h"
#include "libos/libos_text.h"
#include "libos/libos_threads.h"
#include "libos/libos_trace.h"
#include "libos/libos_vfs.h"
#include "pal/pal.h"

namespace libos {
namespace {

/* The variables the LibOS writes into a child's environment; any the program passed are dropped. */
/* Does the application string `s` start with `prefix`? Reads it a byte at a time through
 * PalUserCopy, so an unmapped string is just "no" (the kernel reports it when it execs). */
bool user_starts_with(const char* s, const char* prefix) {
    for (; *prefix; ++prefix, ++s) {
        char c;
        if (PalUserCopy(&c, s, 1) < 0 || c != *prefix)
            return false;
    }
    return true;
}

/* Is the application string `entry` a setting of variable `name` ("NAME=...")? */
bool user_names(const char* entry, const char* name) {
    return user_starts_with(entry, name) && user_starts_with(entry + strlen(name), "=");
}

/* Copies the application string `s` into buf; false if it faults or does not fit. */
bool user_copy_string(const char* s, char* buf, size_t size) {
    for (size_t i = 0; i < size; ++i) {
        if (PalUserCopy(&buf[i], s + i, 1) < 0)
            return false;
        if (!buf[i])
            return true;
    }
    return false;
}

/* Is `path` one of the colon-separated entries of `list`? */
bool list_has(const char* list, const char* path) {
    size_t n = strlen(path);
    for (const char* p = list; *p;) {
        const char* end = strchr(p, ':');
        size_t len = end ? static_cast<size_t>(end - p) : strlen(p);
        if (len == n && strncmp(p, path, n) == 0)
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

/* Writes the concatenation of `parts` as one NUL-terminated string at *cursor; returns its start. */
char* put(char** cursor, std::initializer_list<const char*> parts) {
    char* start = *cursor;
    for (const char* part : parts) {
        size_t n = strlen(part);
        memcpy(*cursor, part, n);
        *cursor += n;
    }
    *(*cursor)++ = '\0';
    return start;
}

/* Is the shared state still open under its number, and will it survive the exec? */
bool state_fd_usable() {
    int fd = state_fd();
    if (fd < 0)
        return false;
    /* The program may have closed it and opened something else under the same number: the file is
     * known by its device and inode, one fstat (a readlink of /proc/self/fd/N costs a path walk
     * through procfs, whose entries a new process allocates afresh). */
    if (int known = is_state_file(fd); known >= 0) {
        if (!known)
            return false;
        PalFileSetCloseOnExec(fd, false); /* the program may have set FD_CLOEXEC on it */
        return true;
    }
    struct stat st;
    if (PalFileStat(fd, &st) < 0)
        return false;
    char link[64];
    if (PalFileReadLink(ProcPath::self().leaf("fd").number(static_cast<uint64_t>(fd)).c_str(), link, sizeof(link)) <= 0)
        return false;
    if (strncmp(link, "/memfd:libos-vcpu-state", 23) != 0)
        return false;
    PalFileSetCloseOnExec(fd, false); /* the program may have set FD_CLOEXEC on it */
    return true;
}

}  // namespace

bool tunables_have_rseq_off(const char* value) {
    const char* last = nullptr;
    for (const char* p = strstr(value, "glibc.pthread.rseq="); p; p = strstr(p + 1, "glibc.pthread.rseq="))
        last = p;
    if (!last || (last != value && last[-1] != ':'))
        return false;
    const char* v = last + strlen("glibc.pthread.rseq=");
    return v[0] == '0' && (v[1] == '\0' || v[1] == ':');
}

/* The block of this thread's exec in progress (its header names the process that made it). A vfork
 * child runs on its parent's thread, in its memory: when its exec succeeds, the block it made stays
 * behind in the parent, unreleased. The parent's thread finds it here, made by one of its children,
 * at its next exec and unmaps it, so that a program spawning children with vfork (Python's
 * subprocess) does not leak a block per child. A block made by this process, or by its parent (a
 * vfork child started from a signal handler that interrupted the parent's own exec), is still in use
 * and is left alone. */
constinit thread_local void* t_exec_block __attribute__((tls_model("initial-exec"))) = nullptr;

/* The block exec_environment returns starts kBlockHeader bytes into a mapping whose size and maker's
 * pid are stored in front of it, so that release_exec_environment can unmap it and a later exec can
 * tell whose it is. The block is published in t_exec_block only once its header is whole, and taken
 * from there by one exchange before its header is read: a signal handler's exec that interrupts this
 * thread anywhere sees either no block or a whole one, and never takes a block this thread is
 * filling or taking. */
constexpr size_t kBlockHeader = 16;
struct BlockHeader {
    size_t bytes;
    long maker;
};
static_assert(sizeof(BlockHeader) <= kBlockHeader, "the header fits in front of the block");
constexpr size_t kPreloadMax = 4096;

char* const* exec_environment(char* const* envp, long* error) {
    *error = 0;
    const bool machine = is_virtual();
    if (!(machine || g_tracing) || !propagates())
        return envp;
    size_t count = 0;
    for (; envp; ++count) {
        char* entry;
        /* An environment that cannot be read is the kernel's to refuse: passed on as it is, the
         * exec fails with the kernel's own error, in the kernel's order (Linux 6.8 and later look
         * the program up first: ENOENT for a missing one, EFAULT for an existing one). */
        if (PalUserCopy(&entry, envp + count, sizeof(entry)) < 0)
            return envp;
        if (!entry)
            break;
    }
    const char* map = machine_map_text();
    const char* shim = preload_library();
    size_t strings = 256 + strlen(map) + 4 * kPreloadMax + kMaxVcpus * 6;
    strings += kTraceVariables * 600; /* the tracing variables */
    strings += 4096; /* LIBOS_TRACE_EXEC, the exec's own trace line */
    strings += 600; /* LIBOS_CWD */
    strings += 40;  /* LIBOS_STRICT */
    strings += 40;  /* LIBOS_HOST_SYSTEM_FD */
    strings += 24 + kVfsLiveExecFds * 11; /* LIBOS_LIVE_FDS */
    const char* topology = machine ? machine_topology_text() : nullptr;
    const char* numa = machine ? machine_numa_text() : nullptr;
    strings += 40 + (topology ? strlen(topology) : 0) + (numa ? strlen(numa) : 0); /* LIBOS_TOPOLOGY, LIBOS_NUMA */
    strings += 16; /* LIBOS_CPUID */
    strings += 48; /* LIBOS_CPU_QUOTA */
    strings += 32 + kMaxNodeBits * 6; /* LIBOS_MEMPOLICY */
    /* Room for the entries kept and those written here: at most each LibOS variable once, LD_PRELOAD,
     * GLIBC_TUNABLES and the final null. */
    constexpr size_t kWritten = sizeof(kEnvironment) / sizeof(kEnvironment[0]) + 3;
    /* ...and, at its end, room to read a value of the program's (LD_PRELOAD, GLIBC_TUNABLES): 4 KiB
     * that would otherwise be on the stack of whatever calls exec (a posix_spawn child's is small). */
    size_t bytes = kBlockHeader + (count + kWritten) * sizeof(char*) + strings + kPreloadMax;
    const pid_t pid = PalProcessGetId();
    /* A block a child left behind is used again when it is large enough (it is, unless the
     * environment grew): a vfork loop then maps, unmaps and faults in no block per child. Unmapping
     * in a vfork child is costly too: it shares the parent's memory, whose TLB entries on other CPUs
     * must be flushed. */
    void* block = nullptr;
    /* Taken before its header is read: a handler's exec that interrupts this one after a mere look
     * could take the block, use it and, failing, unmap it under the look. */
    void* left = __atomic_exchange_n(&t_exec_block, nullptr, __ATOMIC_RELAXED);
    if (left) {
        const long maker = static_cast<BlockHeader*>(left)->maker;
        if (maker == pid || maker == PalProcessGetParentId()) {
            /* In use by the exec this one interrupted: put back, unless a nested handler's vfork
             * child left one of its own meanwhile (the interrupted exec holds its block anyway). */
            void* none = nullptr;
            __atomic_compare_exchange_n(&t_exec_block, &none, left, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
            left = nullptr;
        }
    }
    if (left) {
        const size_t left_bytes = static_cast<BlockHeader*>(left)->bytes;
        if (left_bytes >= bytes) {
            block = left;
            bytes = left_bytes;
        } else {
            PalMemoryFree(left, left_bytes);
        }
    }
    if (!block && PalMemoryAllocate(bytes, &block) < 0) {
        *error = -ENOMEM;
        return nullptr;
    }
    auto mem = reinterpret_cast<uintptr_t>(block);
    static_cast<BlockHeader*>(block)->bytes = bytes;
    static_cast<BlockHeader*>(block)->maker = pid;
    /* Published last, whole: a handler's exec from here on sees it as this process's, in use. */
    std::atomic_signal_fence(std::memory_order_release);
    __atomic_store_n(&t_exec_block, block, __ATOMIC_RELAXED);
    auto** out = reinterpret_cast<char**>(mem + kBlockHeader);
    char* const value = reinterpret_cast<char*>(mem + bytes - kPreloadMax);
    char* cursor = reinterpret_cast<char*>(out + count + kWritten);
    size_t used = 0;
    bool have_preload = false, have_tunables = false;
    for (size_t i = 0; i < count; ++i) {
        char* entry;
        PalUserCopy(&entry, envp + i, sizeof(entry));
        /* Every LibOS variable starts with "LIBOS_" (libos_env.h): other entries are passed over after
         * a byte or a few, rather than read against each name. */
        bool owned = false;
        if (user_starts_with(entry, "LIBOS_"))
            for (const EnvVariable& v : kEnvironment)
                owned = owned || (v.exec == AtExec::kRewritten && user_names(entry + 6, v.name + 6));
        if (owned)
            continue;
        /* Only the first of each is rewritten (the one getenv and ld.so read): the block has room for
         * one of each, however many copies the program passes. */
        if (shim && !have_preload && user_starts_with(entry, "LD_PRELOAD=")) {
            have_preload = true;
            if (user_copy_string(entry + 11, value, kPreloadMax) && !list_has(value, shim))
                entry = value[0] ? put(&cursor, {"LD_PRELOAD=", shim, ":", value})
                                 : put(&cursor, {"LD_PRELOAD=", shim});
        }
        if (machine && !have_tunables && user_names(entry, kTunablesName)) {
            have_tunables = true;
            if (user_copy_string(entry + sizeof(kTunablesName), value, kPreloadMax) &&
                !tunables_have_rseq_off(value))
                entry = value[0] ? put(&cursor, {kTunablesName, "=", value, ":", kRseqOff})
                                 : put(&cursor, {kTunablesName, "=", kRseqOff});
        }
        out[used++] = entry;
    }
    if (machine && !have_tunables)
        out[used++] = put(&cursor, {kTunablesName, "=", kRseqOff});
    if (shim && !have_preload)
        out[used++] = put(&cursor, {"LD_PRELOAD=", shim});
    const char* trace_names[kTraceVariables];
    const char* trace_values[kTraceVariables];
    size_t traced = 0;
    trace_environment(trace_names, trace_values, &traced, kTraceVariables);
    for (size_t i = 0; i < traced; ++i)
        out[used++] = put(&cursor, {trace_names[i], "=", trace_values[i]});
    trace_exec_line_copied();
    if (!machine) {
        out[used] = nullptr;
        return out;
    }
    char number[24];
    format_decimal(number, vcpu_count());
    out[used++] = put(&cursor, {kEnvCpus, "=", number});
    out[used++] = put(&cursor, {kEnvCpuMap, "=", map});
    out[used++] = put(&cursor, {kEnvTopology, "=", topology});
    if (numa)
        out[used++] = put(&cursor, {kEnvNuma, "=", numa});
    if (const char* quota = machine_quota_text())
        out[used++] = put(&cursor, {kEnvCpuQuota, "=", quota});
    if (cpuid_requested())
        out[used++] = put(&cursor, {kEnvCpuid, "=1"});
    if (const char* cwd = exec_cwd())
        out[used++] = put(&cursor, {kEnvCwd, "=", cwd});
    if (const char* tag = strict_tag_text())
        out[used++] = put(&cursor, {kEnvStrict, "=", tag});
    /* Strict mode's views: the host's /sys/devices/system, for the LibOS of the next program too. */
    if (host_system_fd() >= 0) {
        format_decimal(number, static_cast<uint64_t>(host_system_fd()));
        out[used++] = put(&cursor, {kEnvHostSystemFd, "=", number});
    }
    /* Passed also when this process no longer has it (a fork child that closed every descriptor
     * before exec, as Python's subprocess does): the new program then takes it from its parent,
     * this process's, through /proc (attach_region in machine/state.cpp). */
    if (state_fd() >= 0) {
        state_fd_usable(); /* clears close-on-exec, where it is still ours */
        format_decimal(number, state_fd());
        out[used++] = put(&cursor, {kEnvStateFd, "=", number});
    }
    /* The live generated files' descriptors that stay open, for the new program to keep live. */
    if (vfs_live_any()) {
        char* live = put(&cursor, {kEnvLiveFds, "="});
        --cursor;
        if (size_t length = vfs_live_exec_list(cursor, kVfsLiveExecFds * 11 + 1)) {
            cursor += length + 1;
            out[used++] = live;
        } else {
            cursor = live;
        }
    }
    /* The calling thread's mask becomes the new program's first thread's. Its 1 KiB goes where the
     * program's values were read, which is free again, not on the stack: a signal handler that
     * calls exec on an 8 KiB signal stack has no room for it. */
    static_assert(sizeof(CpuBits) + alignof(CpuBits) <= kPreloadMax, "the mask fits where the values were read");
    CpuBits& mask = *new (reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(value) + alignof(CpuBits) - 1) &
                                                  ~(uintptr_t{alignof(CpuBits)} - 1))) CpuBits;
    current_mask(&mask);
    char* affinity = put(&cursor, {kEnvAffinity, "="});
    --cursor; /* the list goes where the terminator is */
    cursor += format_cpu_list(mask, cursor, kMaxVcpus * 6); /* cursor is on the list's terminator */
    format_decimal(number, state_clock());
    put(&cursor, {"@", number});
    out[used++] = affinity;
    /* The calling thread's memory policy, in virtual nodes (the host keeps its own). */
    char* mempolicy = put(&cursor, {kEnvMemPolicy, "="});
    --cursor;
    if (size_t length = numa_exec_text(cursor, kMaxNodeBits * 6 + 24)) {
        cursor += length + 1;
        out[used++] = mempolicy;
    } else {
        cursor = mempolicy;
    }
    out[used] = nullptr;
    return out;
}

void release_exec_environment(char* const* built, char* const* envp) {
    if (!built || built == envp)
        return;
    char* mem = reinterpret_cast<char*>(const_cast<char**>(built)) - kBlockHeader;
    void* expected = mem;
    __atomic_compare_exchange_n(&t_exec_block, &expected, nullptr, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    PalMemoryFree(mem, reinterpret_cast<BlockHeader*>(mem)->bytes);
}

}  // namespace libos

