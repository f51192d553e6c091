/* The virtual CPU machine: the vCPU -> host CPU map, every thread's virtual affinity, and the
 * translation between virtual and host masks.
 *
 * One launch is one machine. Every process of the launch maps the same shared state: a memfd whose
 * descriptor number travels in LIBOS_STATE_FD. It holds the map and one 64-byte slot per live thread
 * (tid, a sequence counter and the virtual mask), found by tid, so a call about another thread or
 * another process of the launch sees what that thread set. A thread's own slot is cached in
 * initial-exec TLS, so reading one's own mask is a few loads.
 *
 * Configuration (read from the environment by init(); the launcher sets these):
 *   LIBOS_CPUS=N          N vCPUs, spread round-robin over the process's host CPUs
 *   LIBOS_CPU_MAP=LIST    vCPU i on the i-th host CPU of LIST ("0-3", "0,0,1,1")
 *   LIBOS_PROPAGATE=0     do not put scrubbed-environment children back on the machine
 *   LIBOS_STRICT=TAG      strict mode: the tag the launch's seccomp filter lets through
 * and, between the processes of a launch (written by the shim at every exec):
 *   LIBOS_STATE_FD=FD     the shared state
 *   LIBOS_AFFINITY=LIST   the virtual mask of the thread that called exec */
#ifndef LIBOS_VCPU_H
#define LIBOS_VCPU_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <atomic>

#include "libos/libos_config.h"
#include "pal/pal.h"

namespace libos {

enum InitState : int {
    kUninitialized = 0,
    kInitializing = 1,
    kIdentity = 2, /* no configuration: every call passes through */
    kVirtual = 3,  /* a virtual CPU machine */
};

extern std::atomic<int> g_init_state;

/* The value of environment variable `name`, or nullptr: a scan of environ, without libc's getenv
 * (which is not safe everywhere the LibOS runs). */
const char* env_get(const char* name);

/* Reads the configuration and sets the machine up, once per process. A bad configuration prints one
 * line to stderr and ends the process with status 125 before the program runs. Safe to call from
 * any thread at any time, also concurrently. */
void init();

/* The fast check every entry point makes. */
inline int ensure_init() {
    int state = g_init_state.load(std::memory_order_acquire);
    if (__builtin_expect(state < kIdentity, 0)) {
        init();
        state = g_init_state.load(std::memory_order_acquire);
    }
    return state;
}

inline bool is_virtual() {
    return ensure_init() == kVirtual;
}

/* The number of vCPUs (the virtual nr_cpu_ids). Only meaningful when is_virtual(). */
uint32_t vcpu_count();

/* The size in bytes of the virtual kernel's cpumask: BITS_TO_LONGS(vcpu_count()) * 8. */
size_t vcpu_mask_size();

/* The host CPU vCPU `v` runs on (v < vcpu_count()). */
uint16_t host_cpu_of(uint32_t v);

/* The NUMA node of host CPU `host`, read from sysfs the first time a node is asked for. */
uint32_t host_node_of(uint32_t host);

/* The host topology read at init (node_of_cpu: see host_node_of). */
const PalTopology& host_topology();

/* The shim's own path, so that exec can put it back into LD_PRELOAD. Set by the shim after init,
 * when there is a machine or tracing. */
void set_preload_library(const char* shim);
const char* preload_library();
/* The map as LIBOS_CPU_MAP text ("0,1,0,1"), the shared state's descriptor (-1 if private), and
 * whether exec puts children back on the machine (LIBOS_PROPAGATE is not 0). */
const char* machine_map_text();
/* The shared state, created now by a machine's first process if it was not yet (it is deferred from
 * start-up to the first call that needs it). False when the process goes without one: not virtual,
 * a vfork child of a process that had none, or no memory. state_fd() calls it. */
bool ensure_region();
/* Strict mode's tag as LIBOS_STRICT gave it (16 hex digits; it is handed to the PAL), or nullptr
 * outside strict mode. set_strict_tag is init()'s, and the supervisor's (launcher/). */
void set_strict_tag(const char* text);
const char* strict_tag_text();
int state_fd();
bool propagates();

/* ---- masks -------------------------------------------------------------------------------- */

/* Host CPUs that the vCPUs of `vmask` run on. */
void to_host(const CpuBits& vmask, CpuBits* host);
/* vCPUs whose host CPU is in `host`: how a process outside the launch looks from inside. */
void to_virtual(const CpuBits& host, CpuBits* vmask);
/* The same on bare words, for the fast paths: `vmask` has the machine's words (vcpu_mask_size()
 * bytes), `host` gets `host_words` words (the kernel's cpumask size), all of them written. */
void to_host_words(const uint64_t* vmask, uint64_t* host, size_t host_words);
/* Replaces the calling thread's mask (the machine's words). */
void write_own_mask(const uint64_t* words);
/* Clears the bits at vcpu_count() and above. */
void trim_to_machine(CpuBits* vmask);

/* ---- threads ------------------------------------------------------------------------------ */

struct ThreadSlot;

/* The calling thread's slot, claimed on first use if the thread was not started by the shim. */
ThreadSlot* self_slot();
/* The calling thread's kernel tid as the LibOS knows it. */
pid_t self_tid();
/* The slot of thread `tid` of this launch, or nullptr when no process of the launch runs it. */
ThreadSlot* find_slot(pid_t tid);
/* Reads a slot's mask consistently. Returns false if the slot no longer belongs to `tid`. */
bool read_mask(ThreadSlot* slot, pid_t tid, CpuBits* out);
/* Replaces a slot's mask. */
void write_mask(ThreadSlot* slot, const CpuBits& mask);

/* A change of a thread's mask has two steps, the host's affinity and the slot. begin_change and
 * end_change make them one for other writers: concurrent sched_setaffinity calls on one thread take
 * turns, so the host and the slot end up describing the same mask. (A writer that stopped holding
 * it is overtaken after a bounded wait.) A null slot is allowed. */
void begin_change(ThreadSlot* slot);
void end_change(ThreadSlot* slot);

/* What a reader of another thread saw of its slot before asking the host; if the slot changed
 * afterwards, or a change was in flight, the slot's mask is the answer even when the host's differs
 * (the reader raced with a set, and the slot holds one side of it); otherwise a difference means
 * the thread was changed from outside the launch. */
struct SlotSnapshot {
    uint32_t seq;
    uint32_t writer;
};
SlotSnapshot snapshot(ThreadSlot* slot);
bool changed_since(ThreadSlot* slot, SlotSnapshot before);

/* The calling thread's virtual mask. */
void current_mask(CpuBits* out);

/* Claims the slot of `tid` with `mask`, for a thread or process of the launch that has none yet: a
 * new thread (the creator claims it before the thread runs any application code, and the thread
 * then adopts it), a fork child or a freshly exec'ed program that sched_setaffinity reaches before
 * its own shim did (the task keeps this slot). */
ThreadSlot* register_thread(pid_t tid, const CpuBits& mask);
void adopt_thread(ThreadSlot* slot, pid_t tid);
/* For thread `tid` of the launch that has no slot and runs on host CPUs `host`: the mask it
 * inherited from its creator, when that can be told. Linux copies the creator's mask into a new
 * thread or fork child; in a process without the shim (seen by strict mode's supervisor) nothing
 * recorded the creation, so the creator is looked for among the slots of the threads whose mask
 * runs on exactly `host`: for a fork child, the parent process's thread that forked it (the
 * kernel's /proc/<pid>/task/<tid>/children names it); for a new thread, whose creator the kernel
 * does not name, its process's main thread when that fits, else the most recently written slot of
 * its process. A creator process without a
 * fitting slot inherited its mask the same way, so its parent is searched next. False when none
 * fits. */
bool inherited_mask(pid_t tid, const CpuBits& host, CpuBits* out);
/* In the parent after fork: the child's slot, with the forking thread's mask, so that the parent can
 * ask about its child at once. */
void register_fork_child(pid_t child);
/* A thread is ending: its slot is freed. */
void thread_exiting();
/* Around fork: before_fork runs in the parent, after_fork_child in the child, whose only thread then
 * claims a slot with the forking thread's mask (unless another thread already set one for it). */
void before_fork();
void after_fork_child();
/* The launch's clock: how many masks have been written. LIBOS_AFFINITY carries it across exec. */
uint32_t state_clock();

/* The vCPU the calling thread runs on: the vCPU of its mask that maps to `host_cpu`, the host CPU
 * it runs on now (PalGetCurrentCpu()). */
unsigned current_vcpu(unsigned host_cpu);

/* The vCPU of mask `words` (the machine's words; nullptr: none) that runs on host CPU `host`: the
 * first one that does, else the mask's first vCPU, else the first vCPU on `host`. */
unsigned vcpu_on_host(const uint64_t* words, unsigned host);

/* The same, for sched_getcpu: reads the host CPU from the thread's rseq area and answers from a
 * per-thread cache while neither the host CPU nor the thread's mask changed. No system call. */
unsigned current_vcpu_fast();

/* That cache: the answer for (slot, its sequence number, host CPU). A write to the mask changes the
 * sequence number; a migration changes the host CPU; either makes the entry miss. */
struct VcpuCache {
    const ThreadSlot* slot;
    const std::atomic<uint32_t>* seq_of_slot;
    uint32_t seq;
    uint32_t host;
    uint32_t vcpu;
    uint32_t node;                  /* the host CPU's node, when `node_known` */
    bool node_known;
    const volatile int32_t* cpu_id; /* the thread's rseq cpu_id, once looked up */
    bool looked_up;
};
extern constinit thread_local VcpuCache t_vcpu_cache __attribute__((tls_model("initial-exec")));
extern constinit thread_local ThreadSlot* t_slot __attribute__((tls_model("initial-exec")));

/* getcpu's answer straight from the cache, inline in the caller: true on a hit. A miss (first
 * call, migration, a changed mask, another slot after fork) goes to current_vcpu_and_node. */
inline bool cached_vcpu_and_node(unsigned* vcpu, unsigned* node) {
    const VcpuCache& c = t_vcpu_cache;
    if (!c.node_known || !c.cpu_id || c.slot != t_slot)
        return false;
    if (static_cast<uint32_t>(*c.cpu_id) != c.host || c.seq_of_slot->load(std::memory_order_acquire) != c.seq)
        return false;
    *vcpu = c.vcpu;
    *node = c.node;
    return true;
}

/* getcpu(2)'s answer without a system call: the vCPU (as current_vcpu_fast) and its host CPU's
 * node. */
void current_vcpu_and_node(unsigned* vcpu, unsigned* node);

/* Copies the calling thread's mask, vcpu_mask_size() bytes, into `words` (kMaskWords long): the
 * fast path of sched_getaffinity, which needs no full CpuBits. */
void copy_own_mask(uint64_t* words);

/* ---- exec --------------------------------------------------------------------------------- */

/* Builds the environment for an exec: `envp` (an application pointer, may be null) with LD_PRELOAD,
 * the machine's settings, LIBOS_STATE_FD and the caller's LIBOS_AFFINITY added or replaced, so that
 * the new program runs on the same machine even when the caller scrubbed its environment. Returns
 * envp itself when nothing needs adding (no machine, or LIBOS_PROPAGATE=0), a new array otherwise
 * (release it with release_exec_environment), or nullptr with *error = -EFAULT / -ENOMEM. */
char* const* exec_environment(char* const* envp, long* error);
void release_exec_environment(char* const* built, char* const* envp);

}  // namespace libos

#endif
