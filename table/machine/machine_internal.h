/* The machine's own data, shared by the files of table/machine/ and by start-up (libos_init.cpp), and
 * by nothing else: the rest of the LibOS reaches the machine through libos_machine.h,
 * libos_threads.h and libos_current_cpu.h.
 *
 * The files, bottom up (each uses only those above it in this list):
 *   shape_settings.cpp  reading LIBOS_TOPOLOGY and LIBOS_NUMA (uses none of the machine)
 *   map.cpp          the vCPU -> host CPU map, the machine's sizes and the translation of masks
 *   topology.cpp     the machine's shape: each vCPU's package, die, core, thread and node
 *   slots.cpp        one slot per thread in the shared state: the sequence lock, finding and claiming
 *   state.cpp        the shared state itself: created, attached from a parent, or private
 *   numa_shared.cpp  the state's virtual NUMA area: directory hints per slot, the ring of moves
 *   threads.cpp      the calling thread's slot, new threads, fork and exit
 *   current_cpu.cpp  the vCPU a thread runs on, and getcpu's per-thread cache */
#ifndef LIBOS_MACHINE_INTERNAL_H
#define LIBOS_MACHINE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <atomic>

#include "libos/libos_config.h"
#include "libos/libos_machine.h"
#include "libos/libos_threads.h"
#include "pal/pal.h"

namespace libos {

/* One round of a spin-wait: the architecture's hint that the thread is spinning. */
inline void cpu_relax() {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#endif
}

/* One thread of the launch: 64 bytes in the shared state. The first kInlineWords words of the mask
 * live here; machines of more than 320 vCPUs keep the rest in the extension area, at the slot's
 * index. `seq` is a sequence lock: odd while a writer changes the mask. A tid means a thread only in
 * the PID namespace it was written from (`ns`): the processes of a launch may live in several
 * (`unshare -fp`, a container started inside a launch). */
constexpr uint32_t kInlineWords = 5;
struct alignas(64) ThreadSlot {
    std::atomic<int32_t> tid;     /* 0: never used, -1: freed, -2: being claimed */
    std::atomic<uint32_t> seq;
    std::atomic<uint32_t> writer; /* tid of the thread changing this mask (host and slot), or 0 */
    std::atomic<uint32_t> stamp;  /* the launch's clock at the last write of the mask */
    std::atomic<uint32_t> ns;     /* the claimer's PID namespace (pid_namespace_tag), set before tid */
    uint32_t unused;
    std::atomic<uint64_t> bits[kInlineWords];
};
static_assert(sizeof(ThreadSlot) == 64, "a thread costs 64 bytes of shared state");

constexpr uint32_t kStateMagic = 0x4c425643; /* "CVBL" */
constexpr uint32_t kStateVersion = 6;
constexpr uint32_t kSlotCount = 32768; /* live threads of one launch; a power of two */
constexpr int32_t kFreedTid = -1;
constexpr int32_t kClaimingTid = -2;
constexpr size_t kPageSize = 4096;
/* Where the state's descriptor goes: high, out of the programs' way (state.cpp: state_fd_floor). */
constexpr int kStateFdFloor = 1000;

/* The head of the shared state, followed by the slots and the extension area. */
struct SharedHeader {
    uint32_t magic;
    uint32_t version;
    uint32_t vcpu_count;
    uint32_t slot_count;
    std::atomic<uint32_t> clock;      /* counts mask writes across the launch */
    std::atomic<uint32_t> high_water; /* slots [0, high_water) have been used */
    /* The PID namespace (pid_namespace_tag) of the process that created the state: every process of
     * the launch lives in it or in a namespace below it, which its /proc shows. */
    std::atomic<uint32_t> root_ns;
    /* Claims made across the launch since dead slots were last collected (slots.cpp: claim). */
    std::atomic<uint32_t> claims_since_collect;
    uint16_t host_of[kMaxVcpus];
};
constexpr size_t kHeaderBytes = (sizeof(SharedHeader) + kPageSize - 1) / kPageSize * kPageSize;

/* The fields that start-up and every fork write come first, together: the first page of g_machine is
 * the one page of it that a fork child and its parent copy on writing after the fork (the large
 * arrays after them are touched only at their heads, or when asked for). */
struct Machine {
    uint32_t count;
    uint32_t mask_words;
    uint64_t last_word; /* the bits of the mask's last word that are vCPUs */
    size_t mask_bytes;
    SharedHeader* header;
    ThreadSlot* slots;
    std::atomic<uint64_t>* ext;
    uint32_t ext_words;
    int state_fd;
    /* A machine's first process creates the shared state when it is first needed (realize_region),
     * not at start-up: a program that never asks about CPUs, forks, execs or starts a thread never
     * pays for it. Until then, the initializing thread's first mask waits here. */
    pid_t owner_pid;     /* the process the deferred state is for: a vfork child must not create it */
    pid_t first_tid;     /* the thread that ran init() */
    bool first_inherited;
    uint32_t first_since;
    ThreadSlot* first_slot; /* its slot, when another thread realized the state */
    size_t map_text_length;
    CpuBits all;
    CpuBits first_mask;
    CpuMap map;
    PalTopology topo;
    char map_text[kMaxVcpus * 6];
};
extern constinit Machine g_machine;

/* The shared state: not there yet (deferred, or not virtual), being created, mapped (header, slots
 * and ext may be used), or none could be had (every thread goes without a slot). */
enum RegionState : int { kRegionNone = 0, kRegionCreating = 1, kRegionMapped = 2, kRegionUnavailable = 3 };
extern constinit std::atomic<int> g_region_state;

/* The launch's clock when the thread last called fork (its tid and slot, t_tid and t_slot, are in
 * libos_threads.h). */
extern constinit thread_local uint32_t t_fork_clock __attribute__((tls_model("initial-exec")));

/* ---- waiting ------------------------------------------------------------------------------- */

/* How long a thread waits for another thread of the launch before it goes on without it. The shared
 * state is input from every process of the launch, not truth: a thread that died or stopped inside a
 * short critical section (a writer between its two increments, a claimer filling a slot), or a
 * process that damaged the state, must not hang the others. A critical section takes well under a
 * microsecond, a change of a mask (the host's affinity, then the slot) a few; a thread seen to be
 * alive and of the launch (launch_thread) was preempted, which on a loaded machine takes tens of
 * milliseconds, and is waited for longer than one that is gone or unknown: a tid written into the
 * state by a process that damaged it (init's, 1, which is always alive) earns no longer wait. Each
 * wait is bounded once for the operation it is part of, never once per slot: scans of many slots
 * (creator inference) pass over a slot being written instead of waiting for it (read_slot). */
constexpr uint64_t kWaitBudgetNs = 20 * 1000 * 1000;
constexpr uint64_t kLiveWaitBudgetNs = 2000 * 1000 * 1000ull;

/* A bounded wait: pauses for the first rounds, then yields the CPU, and gives up once its budget
 * (kWaitBudgetNs, or kLiveWaitBudgetNs once the thread waited for is known to be alive) has passed
 * since its yielding began. The clock is first read at the 65th round, so a short wait never reads
 * it. One Wait may span several waits of one operation (a claim's scan). */
class Wait {
public:
    /* One round: false, without waiting, once the budget is spent. */
    bool again() {
        if (expired_)
            return false;
        if (++rounds_ <= kPauses) {
            cpu_relax();
            return true;
        }
        if ((rounds_ - kPauses) % kClockEvery == 1) {
            uint64_t now = PalClockMonotonic();
            if (start_ == 0) {
                start_ = now;
            } else if (now - start_ >= budget_) {
                expired_ = true;
                return false;
            }
        }
        PalThreadYield();
        return true;
    }
    bool expired() const { return expired_; }
    /* Whether it has begun yielding, and this round is one to look further (a liveness check). */
    bool looking() const { return rounds_ > kPauses && (rounds_ - kPauses) % kClockEvery == 1; }
    /* The thread waited for was seen alive: it is waited for up to kLiveWaitBudgetNs. */
    void holder_alive() { budget_ = kLiveWaitBudgetNs; }
    /* Whether the holder is still to be looked at: once per wait (a look costs a few system calls). */
    bool holder_unchecked() {
        bool first = !checked_;
        checked_ = true;
        return first;
    }

private:
    static constexpr int kPauses = 64;
    static constexpr int kClockEvery = 64;
    int rounds_ = 0;
    uint64_t start_ = 0;
    uint64_t budget_ = kWaitBudgetNs;
    bool expired_ = false;
    bool checked_ = false;
};

/* ---- map.cpp ------------------------------------------------------------------------------- */

/* The calling thread's host mask; returns the kernel's cpumask size (what sched_getaffinity returns
 * for a large buffer), or -errno. */
long host_affinity(CpuBits* out);
/* The calling thread's host mask seen through the map, or the whole machine when none of its host
 * CPUs is on the map. */
void host_view(CpuBits* out);
/* What the process's cpuset permits, as the kernel computes it. */
void cpuset_allowed(CpuBits* out);
/* The sizes that follow from g_machine.map. */
void set_machine_shape();

/* ---- the slots' sequence lock: the read side, inline (every read of a mask takes it) ---------- */

/* A slot's extension words (machines of more than 320 vCPUs), at the slot's index. */
inline std::atomic<uint64_t>* ext_words_of(const ThreadSlot* slot) {
    return g_machine.ext + static_cast<size_t>(slot - g_machine.slots) * g_machine.ext_words;
}

inline void copy_out(const ThreadSlot* slot, uint64_t* words) {
    uint32_t n = g_machine.mask_words;
    uint32_t inline_n = n < kInlineWords ? n : kInlineWords;
    for (uint32_t i = 0; i < inline_n; ++i)
        words[i] = slot->bits[i].load(std::memory_order_relaxed);
    if (n > kInlineWords) {
        std::atomic<uint64_t>* ext = ext_words_of(slot);
        for (uint32_t i = kInlineWords; i < n; ++i)
            words[i] = ext[i - kInlineWords].load(std::memory_order_relaxed);
    }
    words[n - 1] &= g_machine.last_word;
}

/* The calling process's PID namespace, as a tag for the slots it claims: the inode number of
 * /proc/self/ns/pid, looked up once per process (again in a fork child whose parent may have moved
 * its children to another namespace: note_pid_namespace_change), or 0 when it cannot be known (no
 * /proc), which matches every tag, as before namespaces were told apart. */
uint32_t pid_namespace_tag();
/* Is a tid written under tag `ns` a thread this process can name by that tid? */
inline bool same_pid_namespace(uint32_t ns) {
    uint32_t mine = pid_namespace_tag();
    return ns == 0 || mine == 0 || ns == mine;
}
/* In the parent after fork: whether child `child` lives in this process's PID namespace (true unless
 * this process moved its children to another: note_pid_namespace_change). */
bool child_in_own_namespace(pid_t child);
/* In a fork child: forgets the parent's tag if the parent noted a change, or if the child cannot see
 * its parent (a namespace change the parent made around libc). */
void pid_namespace_after_fork();
/* Frees the slots claimed from PID namespaces that no longer exist (no process in /proc lives in one
 * any more: its threads all ended, most without a word, as the namespace's init took them with it).
 * Only a process of the state's root namespace judges, which sees every process of the launch;
 * anything it cannot be sure of (a process whose namespace it may not look at) keeps the slots.
 * Returns whether any was freed (pid_namespaces.cpp). */
bool collect_gone_namespaces();

/* What a tid found holding a slot (its `writer`) is: gone (no such thread: the slot may be taken over
 * at once), a live thread of a process of the launch (one that maps this launch's state: worth the
 * long wait), or anything else, a tid the state's writer cannot have written (state.cpp). */
enum class Holder { kGone, kOfLaunch, kOther };
Holder holder_kind(uint32_t tid);

/* A slot's change holder that is a live thread of the launch is waited for longer (slots.cpp). */
void note_live_writer(const ThreadSlot* slot, Wait& wait);

/* Reads a slot's mask consistently: retries while a writer is in the middle. A writer that holds the
 * slot past the wait's budget died or stopped there (or the state was damaged): the slot is declared
 * consistent as it is, and a writer that comes back writes again, whole (locked_write). The words
 * read are the machine's: bits at vcpu_count() and above, which no writer of the LibOS sets, are
 * cleared. */
inline void locked_read(ThreadSlot* slot, uint64_t* words, Wait& wait) {
    for (;;) {
        uint32_t before = slot->seq.load(std::memory_order_acquire);
        if (before & 1) {
            if (wait.looking())
                note_live_writer(slot, wait);
            if (!wait.again())
                slot->seq.compare_exchange_strong(before, before + 1, std::memory_order_acq_rel);
            continue;
        }
        copy_out(slot, words);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (slot->seq.load(std::memory_order_relaxed) == before || !wait.again())
            return;
    }
}
inline void locked_read(ThreadSlot* slot, uint64_t* words) {
    Wait wait;
    locked_read(slot, words, wait);
}

/* ---- slots.cpp ----------------------------------------------------------------------------- */

/* Writes a slot's mask. `changing`: the caller holds the slot's change (begin_change), so no other
 * change writes it: a write found in the middle was left by a writer that died there (whose change
 * begin_change took over), and it is taken over at the first look rather than after the budget. */
void locked_write(ThreadSlot* slot, const uint64_t* words, bool changing = false, Wait* budget = nullptr);
/* Gives `tid` a slot holding `mask` (see slots.cpp for the rules). */
ThreadSlot* claim(pid_t tid, const uint64_t* mask, bool keep_newer = false, uint32_t since = 0, bool keep_any = false);
ThreadSlot* lookup(pid_t tid);

/* ---- state.cpp ----------------------------------------------------------------------------- */

size_t region_size();
/* The virtual NUMA area after the extension words (numa_shared.cpp, libos_numa_shared.h). */
extern const size_t kNumaAreaBytes;
void* numa_area();
/* Maps the state behind LIBOS_STATE_FD's descriptor `fd` (or its parent's copy) if it is the launch's
 * and describes this machine. */
bool attach_region(int fd);

}  // namespace libos

#endif
