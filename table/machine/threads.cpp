/* The threads of the launch (libos_threads.h): the calling thread's own slot, slots for new threads
 * and fork children, the end of a thread, and the two-step change of another thread's mask. */
#include <errno.h>
#include <string.h>

#include "libos/libos_current_cpu.h"
#include "libos/libos_init.h"
#include "libos/libos_numa.h"
#include "libos/libos_threads.h"
#include "libos/libos_sections.h"
#include "machine/machine_internal.h"
#include "pal/pal.h"

namespace libos {

ThreadSlot* find_slot(pid_t tid) {
    if (tid <= 0 || !ensure_region())
        return nullptr;
    return lookup(tid);
}

void begin_change(ThreadSlot* slot) {
    if (!slot)
        return;
    uint32_t me = static_cast<uint32_t>(self_tid());
    Wait wait;
    for (;;) {
        uint32_t holder = slot->writer.load(std::memory_order_relaxed);
        /* Free; or its holder is gone (killed in the middle of a change: nothing will free it), or has
         * held it past the budget (stopped, or the state was damaged). A holder seen alive is waited
         * for longer: it was preempted in the middle of its change. */
        bool take = holder == 0 || wait.expired();
        if (!take && wait.looking()) {
            if (holder >= 0x40000000u || PalThreadExists(static_cast<pid_t>(holder)) == -ESRCH)
                take = true;
            else if (wait.holder_unchecked() && holder_kind(holder) == Holder::kOfLaunch)
                wait.holder_alive();
        }
        if (take && slot->writer.compare_exchange_weak(holder, me, std::memory_order_acquire))
            return;
        wait.again();
    }
}

void end_change(ThreadSlot* slot) {
    if (!slot)
        return;
    uint32_t me = static_cast<uint32_t>(self_tid());
    slot->writer.compare_exchange_strong(me, 0, std::memory_order_release);
}

pid_t self_tid_slow() {
    self_slot();
    if (t_tid == 0) /* no state to join: nothing is cached */
        return static_cast<pid_t>(PalThreadGetId());
    return t_tid;
}

namespace {
/* A fork child's claim, put off until the child first needs its slot (after_fork_child): the mask
 * its forking thread had, copied before the fork into this thread's own memory, which the child
 * reads without a fault. A child that never asks (one that execs or exits at once) writes nothing to
 * the shared state: its parent gave it its slot already (register_fork_child). */
constinit thread_local bool t_fork_claim_pending __attribute__((tls_model("initial-exec"))) = false;
constinit thread_local uint64_t t_fork_mask[8] __attribute__((tls_model("initial-exec"))) = {};
}  // namespace

ThreadSlot* self_slot_slow() {
    /* Without a state to join (a vfork child of a process that had none, which must not write
     * into its parent's memory), nothing is cached. */
    if (!ensure_region())
        return nullptr;
    if (t_slot)
        return t_slot; /* this thread ran init, and the state was created just now */
    if (t_fork_claim_pending) {
        /* A fork child's first need: the claim it put off. Its parent's claim for it, or a mask set
         * for it since the fork by another thread, is newer than the fork's clock and stays. The
         * flag goes last: a signal handler that interrupts this claims too, and finds the same slot. */
        ThreadSlot* slot = claim(t_tid, t_fork_mask, true, t_fork_clock);
        set_thread_slot(slot);
        std::atomic_signal_fence(std::memory_order_seq_cst);
        t_fork_claim_pending = false;
        return slot;
    }
    pid_t tid = PalThreadGetId();
    /* The thread that ran init, when another thread created the state. */
    if (ThreadSlot* first = g_machine.first_slot;
        first && tid == g_machine.first_tid && first->tid.load(std::memory_order_acquire) == tid) {
        t_tid = tid;
        set_thread_slot(first);
        return first;
    }
    /* A thread the shim did not start (a raw clone): what the host runs it on is its mask. */
    CpuBits mask;
    host_view(&mask);
    t_tid = tid;
    set_thread_slot(claim(tid, mask.words));
    return t_slot;
}

namespace {
constinit thread_local bool t_vfork_noted __attribute__((tls_model("initial-exec"))) = false;
}  // namespace

void note_vfork() {
    t_vfork_noted = true;
    /* The child shares this thread's TLS, so its sched_getcpu would read this cache, filled for
     * this thread's mask and host CPU (and its rseq area, which the kernel does not update for the
     * child): emptied, every call misses until the parent fills it again; the child never fills it
     * (current_cpu.cpp). */
    t_vcpu_cache.entry.store(kEmptyEntry, std::memory_order_relaxed);
}

LIBOS_FORK_PATH pid_t vfork_child_tid() {
    if (__builtin_expect(!t_vfork_noted, 1))
        return 0;
    pid_t tid = static_cast<pid_t>(PalThreadGetId());
    if (tid == self_tid()) {
        t_vfork_noted = false; /* the parent, resumed */
        return 0;
    }
    return tid;
}

namespace {

/* The fork path's masks on the stack: a machine of up to 512 vCPUs needs 64 bytes, not the 1 KiB of a
 * CpuBits, and each page of stack a process first writes after a fork costs it (parent and child) a
 * page fault. Larger machines take the out-of-line paths below, with a whole CpuBits. */
constexpr uint32_t kSmallWords = 8;
static_assert(sizeof(t_fork_mask) == kSmallWords * sizeof(uint64_t), "the fork's mask is a small machine's");

/* copy_own_mask's fallback, out of line so that its CpuBits is no part of the common path's frame. */
__attribute__((noinline)) void host_view_words(uint64_t* words) {
    CpuBits mask;
    host_view(&mask);
    memcpy(words, mask.words, g_machine.mask_bytes);
}

__attribute__((noinline)) void register_large_fork_child(pid_t child) {
    CpuBits mask;
    current_mask(&mask);
    claim(child, mask.words, true, t_fork_clock);
}

/* The forking thread's mask (its slot's, else every vCPU), mask_words words of it. */
LIBOS_FORK_PATH void forking_mask(uint64_t* words) {
    if (t_slot)
        locked_read(t_slot, words);
    else
        memcpy(words, g_machine.all.words, g_machine.mask_bytes);
}

__attribute__((noinline)) ThreadSlot* claim_large_fork_child(pid_t tid) {
    CpuBits mask;
    memset(&mask, 0, sizeof(mask));
    forking_mask(mask.words);
    return claim(tid, mask.words, true, t_fork_clock);
}

}  // namespace

LIBOS_FORK_PATH void current_mask(CpuBits* out) {
    memset(out, 0, sizeof(*out));
    copy_own_mask(out->words);
}

LIBOS_FORK_PATH void copy_own_mask(uint64_t* words) {
    ThreadSlot* slot = self_slot();
    /* A vfork child that set its own mask has a slot of its own (its parent's is t_slot). */
    if (pid_t child = vfork_child_tid(); __builtin_expect(child > 0, 0)) {
        if (ThreadSlot* own = find_slot(child))
            slot = own;
    }
    if (__builtin_expect(slot != nullptr, 1)) {
        locked_read(slot, words);
        uint64_t any = 0;
        for (uint32_t w = 0; w < g_machine.mask_words; ++w)
            any |= words[w];
        if (__builtin_expect(any != 0, 1))
            return;
        /* No thread has an empty mask: the slot was damaged (the state is every process's input);
         * what the host runs the thread on is the answer then. */
    }
    /* No slot (no state to keep one in, or a full one). */
    host_view_words(words);
}

ThreadSlot* register_thread(pid_t tid, const CpuBits& mask) {
    ensure_region();
    return claim(tid, mask.words);
}

ThreadSlot* register_inferred(pid_t tid, const CpuBits& mask) {
    ensure_region();
    return claim(tid, mask.words, false, 0, /*keep_any=*/true);
}

LIBOS_FORK_PATH void register_fork_child(pid_t child) {
    if (g_init_state.load(std::memory_order_acquire) != kVirtual || child <= 0 || !child_in_own_namespace(child))
        return;
    if (g_machine.mask_words > kSmallWords) {
        register_large_fork_child(child);
        return;
    }
    uint64_t words[kSmallWords] = {};
    copy_own_mask(words); /* creates the state if the parent had none yet */
    claim(child, words, true, t_fork_clock);
}

void adopt_thread(ThreadSlot* slot, pid_t tid) {
    set_thread_slot(slot);
    t_tid = tid;
}

LIBOS_STARTUP void thread_exiting() {
    ThreadSlot* slot = t_slot;
    /* The thread that ran init, when another thread created the state and this one never asked. */
    if (!slot && g_machine.first_slot && PalThreadGetId() == g_machine.first_tid) {
        slot = g_machine.first_slot;
        t_tid = g_machine.first_tid;
    }
    /* A fork child that never needed its slot: the one its parent claimed for it at the fork
     * (register_fork_child) is still its own, and goes back like any other. */
    if (!slot && t_fork_claim_pending) {
        t_fork_claim_pending = false;
        if (g_region_state.load(std::memory_order_acquire) == kRegionMapped)
            slot = lookup(t_tid);
    }
    if (slot && slot->tid.load(std::memory_order_relaxed) == t_tid)
        slot->tid.store(kFreedTid, std::memory_order_release);
    set_thread_slot(nullptr);
    t_tid = 0;
}

LIBOS_FORK_PATH void before_fork() {
    /* Parent and child share the state only if it exists before the fork. */
    if (g_init_state.load(std::memory_order_acquire) == kVirtual && ensure_region()) {
        self_slot(); /* the child's first mask is the forking thread's, from its own slot */
        t_fork_clock = state_clock();
        /* Copied now, for a child that puts its claim off (after_fork_child): the same mask the
         * child would read from the slot just after the fork. */
        if (g_machine.mask_words <= kSmallWords)
            forking_mask(t_fork_mask);
        numa_before_fork();
    }
}

LIBOS_FORK_PATH void after_fork_child() {
    if (g_init_state.load(std::memory_order_acquire) != kVirtual)
        return;
    /* The one page of the shim's own memory a fork child writes (the thread's block aside, which the
     * kernel writes for it anyway): its pid, so that it never takes itself for a vfork child, which
     * would be asked of the kernel (kcmp), and a kernel that refuses (a container's seccomp profile)
     * gets the safe answer, "yes". */
    g_machine.owner_pid = PalProcessGetId();
    g_machine.first_slot = nullptr;
    pid_namespace_after_fork();
    /* A fork child's only thread leads its thread group: its tid is the process's id. */
    const pid_t tid = g_machine.owner_pid;
    t_tid = tid;
    /* The forking thread is the child's first thread: its memory policy is the one to publish. */
    numa_after_fork_child();
    if (g_machine.mask_words <= kSmallWords && g_region_state.load(std::memory_order_acquire) == kRegionMapped) {
        /* The claim waits for the child's first need of its slot (self_slot_slow). */
        set_thread_slot(nullptr);
        t_fork_claim_pending = true;
        return;
    }
    set_thread_slot(claim_large_fork_child(tid));
}

}  // namespace libos
