/* The slots of the shared state (machine_internal.h): one per live thread of the launch, each with a
 * sequence lock around its mask, found by tid and claimed by new threads. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "libos/libos_sections.h"
#include "libos/libos_text.h"
#include "libos/libos_threads.h"
#include "machine/machine_internal.h"
#include "pal/pal.h"

namespace libos {

constinit thread_local ThreadSlot* t_slot __attribute__((tls_model("initial-exec"))) = nullptr;
constinit thread_local pid_t t_tid __attribute__((tls_model("initial-exec"))) = 0;
constinit thread_local uint32_t t_fork_clock __attribute__((tls_model("initial-exec"))) = 0;

namespace {

LIBOS_FORK_PATH void copy_in(ThreadSlot* slot, const uint64_t* words) {
    uint32_t n = g_machine.mask_words;
    uint32_t inline_n = n < kInlineWords ? n : kInlineWords;
    for (uint32_t i = 0; i < inline_n; ++i)
        slot->bits[i].store(words[i], std::memory_order_relaxed);
    if (n > kInlineWords) {
        std::atomic<uint64_t>* ext = ext_words_of(slot);
        for (uint32_t i = kInlineWords; i < n; ++i)
            ext[i - kInlineWords].store(words[i], std::memory_order_relaxed);
    }
}

/* Was the slot written after the launch's clock read `since`? (The clock may wrap.) */
LIBOS_FORK_PATH bool written_after(const ThreadSlot* slot, uint32_t since) {
    return static_cast<int32_t>(slot->stamp.load(std::memory_order_relaxed) - since) > 0;
}

/* Slots are taken from the bottom of the array and searched up to the high-water mark: a launch of
 * t threads touches t * 64 bytes of shared memory, not pages spread over the whole array. Lookups by
 * tid (a call about another thread, a new thread's claim) scan the used part; the calling thread's
 * own slot is cached in TLS and never looked up. */
LIBOS_FORK_PATH uint32_t used_slots() {
    if (!g_machine.header)
        return 0;
    uint32_t n = g_machine.header->high_water.load(std::memory_order_acquire);
    return n < kSlotCount ? n : kSlotCount;
}

/* Frees the slots whose thread no longer exists (kill(tid, 0) finds any thread by its tid, in this
 * process's PID namespace: a slot claimed from another namespace is never judged from this one).
 * Returns whether any was freed. */
LIBOS_FORK_PATH bool collect_dead_slots() {
    bool freed = false, foreign = false;
    for (uint32_t i = 0, n = used_slots(); i < n; ++i) {
        int32_t t = g_machine.slots[i].tid.load(std::memory_order_acquire);
        if (t <= 0)
            continue;
        if (!same_pid_namespace(g_machine.slots[i].ns.load(std::memory_order_relaxed))) {
            foreign = true;
            continue;
        }
        if (PalThreadExists(t) == -ESRCH &&
            g_machine.slots[i].tid.compare_exchange_strong(t, kFreedTid, std::memory_order_acq_rel))
            freed = true;
    }
    /* Another namespace's slots: judged as a whole, by whether the namespace still exists. */
    if (foreign && collect_gone_namespaces())
        freed = true;
    return freed;
}

/* Claims made across the launch since dead slots were last collected (the header's
 * claims_since_collect). A process that starts short-lived children which end with _exit (a fork
 * loop, a shell) leaves one dead slot per child, since no destructor runs to free it; were they
 * collected only when the array is full, every claim would scan thousands of them (a fork, its
 * child's first call, a lookup), a cost that grows with the number of children ever started.
 * Collecting whenever the mark must rise and at least half as many claims as there are used slots
 * came since the last collection keeps the used part near the number of live threads, at about two
 * kill(tid, 0) per claim while it grows. The count is the launch's, not one process's: the claims
 * that raise the mark are often each the only one of its process (`sh -c CMD` in a shell's loop
 * execs, and every process it becomes claims once), whose own count would never reach the half. */
constexpr uint32_t kCollectFloor = 64; /* below it, scans are short: never collect early */

/* Waits while another thread fills slot `i` (tid == kClaiming) and returns the tid it publishes. A
 * claimer that died mid-way, or slots left claiming by a process that damaged the state, are given up
 * on when `wait`, the budget of the whole operation, is spent: then a claiming slot is passed over at
 * once. */
LIBOS_FORK_PATH int32_t settled_tid(uint32_t i, Wait& wait) {
    int32_t t = g_machine.slots[i].tid.load(std::memory_order_acquire);
    while (t == kClaimingTid && wait.again())
        t = g_machine.slots[i].tid.load(std::memory_order_acquire);
    return t;
}

}  // namespace

LIBOS_FORK_PATH void note_live_writer(const ThreadSlot* slot, Wait& wait) {
    uint32_t holder = slot->writer.load(std::memory_order_relaxed);
    if (holder != 0 && wait.holder_unchecked() && holder_kind(holder) == Holder::kOfLaunch)
        wait.holder_alive();
}

LIBOS_FORK_PATH void locked_write(ThreadSlot* slot, const uint64_t* words, bool changing, Wait* budget) {
    Wait own;
    Wait& wait = budget ? *budget : own;
    for (;;) {
        uint32_t seq = slot->seq.load(std::memory_order_relaxed);
        uint32_t mine;
        for (;;) {
            if (!(seq & 1) || wait.expired() || (changing && wait.looking())) {
                /* Even: take it. Still odd past the budget, or at the first look while this thread
                 * holds the change: its writer was stopped or died; take it over (the counter stays
                 * odd while this write runs). */
                mine = (seq & 1) ? seq + 2 : seq + 1;
                if (slot->seq.compare_exchange_weak(seq, mine, std::memory_order_acquire))
                    break;
                continue;
            }
            if (wait.looking())
                note_live_writer(slot, wait);
            wait.again();
            seq = slot->seq.load(std::memory_order_relaxed);
        }
        std::atomic_thread_fence(std::memory_order_release);
        copy_in(slot, words);
        slot->stamp.store(g_machine.header->clock.fetch_add(1, std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
        /* Publish only if no one took the slot over meanwhile; if someone did, this write may have
         * landed on top of theirs, word by word: write it again, whole, as the last one (while the
         * budget lasts: a process that keeps taking the slot over has damaged the state). */
        uint32_t expected = mine;
        if (slot->seq.compare_exchange_strong(expected, mine + 1, std::memory_order_release) || !wait.again())
            return;
    }
}

/* Is slot `i` the slot of `tid` as this process names it? */
LIBOS_FORK_PATH bool holds(uint32_t i, int32_t t, pid_t tid) {
    return t == tid && same_pid_namespace(g_machine.slots[i].ns.load(std::memory_order_relaxed));
}

LIBOS_FORK_PATH ThreadSlot* lookup(pid_t tid) {
    uint32_t n = used_slots();
    for (uint32_t i = 0; i < n; ++i)
        if (holds(i, g_machine.slots[i].tid.load(std::memory_order_acquire), tid))
            return &g_machine.slots[i];
    return nullptr;
}

/* Gives `tid` a slot holding `mask`. A slot that already carries `tid` is either left over from a
 * thread that died (tids are unique among live threads) and is taken over, or, when keep_newer is
 * set and the slot was written after the launch's clock read `since`, it was set for this very
 * thread by another one (a parent's taskset -p on its fork child before the child got here) and is
 * kept as it is. With keep_any, a slot that carries `tid` is kept whatever its stamp: the claimer looked
 * for it before and found none, so it was claimed since (its mask was written, and stamped, before its
 * tid was published: the stamp may be older than the claimer's look). Two claimers of one tid (a
 * fork's parent and child) end up with the same slot. */
LIBOS_FORK_PATH ThreadSlot* claim(pid_t tid, const uint64_t* mask, bool keep_newer, uint32_t since, bool keep_any) {
    if (!g_machine.header || tid <= 0)
        return nullptr;
    bool collected = false;
    uint32_t claims = g_machine.header->claims_since_collect.fetch_add(1, std::memory_order_relaxed) + 1;
    Wait wait;
    for (;;) {
        uint32_t n = used_slots();
        int64_t free_index = -1;
        ThreadSlot* existing = nullptr;
        for (uint32_t i = 0; i < n; ++i) {
            int32_t t = settled_tid(i, wait);
            if (holds(i, t, tid)) {
                existing = &g_machine.slots[i];
                break;
            }
            if ((t == kFreedTid || t == 0) && free_index < 0)
                free_index = i;
        }
        if (existing) {
            if (!keep_any && !(keep_newer && written_after(existing, since)))
                locked_write(existing, mask, false, &wait);
            return existing;
        }
        if (free_index < 0) {
            /* No free slot below the mark: raise it, or, when the array is full, give back the
             * slots of threads that died without a word (a process killed, or ended with _exit),
             * once, and search again. */
            uint32_t mark = n;
            if (!collected && mark >= kCollectFloor && claims >= mark / 2) {
                collected = true;
                claims = 0;
                g_machine.header->claims_since_collect.store(0, std::memory_order_relaxed);
                if (collect_dead_slots())
                    continue;
            }
            if (mark < kSlotCount) {
                g_machine.header->high_water.compare_exchange_strong(mark, mark + 1, std::memory_order_acq_rel);
                continue; /* the new slot (ours or a racer's) is searched like any other */
            }
            if (!collected && collect_dead_slots()) {
                collected = true;
                continue;
            }
            return nullptr; /* more live threads than kSlotCount */
        }
        ThreadSlot* slot = &g_machine.slots[free_index];
        int32_t expected = slot->tid.load(std::memory_order_acquire);
        if ((expected != 0 && expected != kFreedTid) ||
            !slot->tid.compare_exchange_strong(expected, kClaimingTid, std::memory_order_acq_rel))
            continue; /* someone took it first: look again */
        locked_write(slot, mask, false, &wait);
        slot->ns.store(pid_namespace_tag(), std::memory_order_relaxed);
        slot->tid.store(tid, std::memory_order_release);
        /* Another claimer of the same tid may have published it at another free slot meanwhile. The
         * lowest wins; this one is given back. */
        ThreadSlot* first = lookup(tid);
        if (first != slot && first) {
            slot->tid.store(kFreedTid, std::memory_order_release);
            return first;
        }
        return slot;
    }
}

namespace {

/* The tag of the process's PID namespace, kNotLooked until it is looked up. */
constexpr uint32_t kNotLooked = 0xffffffffu;
constinit std::atomic<uint32_t> g_pid_ns{kNotLooked};
/* Set by note_pid_namespace_change: the children of this process may be in another namespace. */
constinit std::atomic<bool> g_children_ns_changed{false};

uint32_t look_up_pid_namespace() {
    struct stat st;
    uint32_t tag = PalFileStatAt(AT_FDCWD, "/proc/self/ns/pid", &st, 0) == 0 ? static_cast<uint32_t>(st.st_ino) : 0;
    return tag == kNotLooked ? 0 : tag;
}

}  // namespace

/* SlotNamespace's: the tag a supervisor thread acts under for now, 0 when it is its own. */
constinit thread_local uint32_t t_acting_ns __attribute__((tls_model("initial-exec"))) = 0;

bool SlotNamespace::enter(uint64_t ns_ino) {
    uint32_t tag = static_cast<uint32_t>(ns_ino); /* as look_up_pid_namespace tags it */
    t_acting_ns = tag == kNotLooked ? 0 : tag;
    return t_acting_ns != 0;
}

void SlotNamespace::leave() {
    t_acting_ns = 0;
}

LIBOS_FORK_PATH uint32_t pid_namespace_tag() {
    if (__builtin_expect(t_acting_ns != 0, 0))
        return t_acting_ns;
    /* A vfork child of a process that changed its children's namespace lives in that other one; it
     * runs in its parent's memory, whose cached tag stays the parent's. */
    if (__builtin_expect(g_children_ns_changed.load(std::memory_order_relaxed), 0) && vfork_child_tid() > 0)
        return look_up_pid_namespace();
    uint32_t tag = g_pid_ns.load(std::memory_order_relaxed);
    if (__builtin_expect(tag != kNotLooked, 1))
        return tag;
    tag = look_up_pid_namespace();
    g_pid_ns.store(tag, std::memory_order_relaxed);
    return tag;
}

void note_pid_namespace_change() {
    g_children_ns_changed.store(true, std::memory_order_relaxed);
}

LIBOS_FORK_PATH bool child_in_own_namespace(pid_t child) {
    if (__builtin_expect(!g_children_ns_changed.load(std::memory_order_relaxed), 1))
        return true;
    /* After unshare(CLONE_NEWPID) or setns, the children are in the other namespace, where their pid
     * is another number (1 for the first): the child claims its slot itself, under that namespace's
     * tag and its own pid there; a claim here, under this namespace's tag and the pid fork gave,
     * would name no thread anyone looks up, held until the child's end is collected. */
    ProcPath path(child);
    struct stat st;
    if (PalFileStatAt(AT_FDCWD, path.leaf("ns/pid").c_str(), &st, 0) != 0)
        return false;
    const uint32_t tag = static_cast<uint32_t>(st.st_ino);
    return same_pid_namespace(tag == kNotLooked ? 0 : tag);
}

LIBOS_FORK_PATH void pid_namespace_after_fork() {
    /* The parent's unshare or setns may not have come through libc (syscall(SYS_unshare, ...), a raw
     * system call): a child that cannot see its parent (getppid() is 0: the parent lives in an
     * ancestor namespace) is in another namespace than the parent, whatever the parent called. */
    if (g_children_ns_changed.load(std::memory_order_relaxed) || PalProcessGetParentId() == 0) {
        g_children_ns_changed.store(false, std::memory_order_relaxed);
        g_pid_ns.store(kNotLooked, std::memory_order_relaxed);
    }
}

bool read_mask(ThreadSlot* slot, pid_t tid, CpuBits* out) {
    memset(out, 0, sizeof(*out));
    locked_read(slot, out->words);
    /* No thread has an empty mask: one is a damaged slot, which the host's answer replaces. */
    return slot->tid.load(std::memory_order_acquire) == tid && !out->empty();
}

void write_mask(ThreadSlot* slot, const CpuBits& mask) {
    locked_write(slot, mask.words, /*changing=*/true);
}

SlotSnapshot snapshot(ThreadSlot* slot) {
    return SlotSnapshot{slot->seq.load(std::memory_order_acquire), slot->writer.load(std::memory_order_acquire)};
}

bool changed_since(ThreadSlot* slot, SlotSnapshot before) {
    SlotSnapshot now = snapshot(slot);
    return before.writer != 0 || now.writer != 0 || now.seq != before.seq;
}

uint32_t used_slot_count() {
    return used_slots();
}

bool peek_mask(ThreadSlot* slot, pid_t tid, CpuBits* out) {
    memset(out, 0, sizeof(*out));
    /* A writer's critical section takes well under a microsecond: a few pauses cover it, and a slot
     * still being written after them is passed over, never waited for. */
    for (int round = 0; round < 64; ++round) {
        uint32_t before = slot->seq.load(std::memory_order_acquire);
        if (!(before & 1)) {
            copy_out(slot, out->words);
            std::atomic_thread_fence(std::memory_order_acquire);
            if (slot->seq.load(std::memory_order_relaxed) == before)
                return slot->tid.load(std::memory_order_acquire) == tid && !out->empty();
        }
        cpu_relax();
    }
    return false;
}

bool read_slot(uint32_t index, pid_t* tid, CpuBits* mask, uint32_t* stamp) {
    if (index >= used_slots())
        return false;
    ThreadSlot* slot = &g_machine.slots[index];
    int32_t t = slot->tid.load(std::memory_order_acquire);
    if (t <= 0 || !same_pid_namespace(slot->ns.load(std::memory_order_relaxed)) || !peek_mask(slot, t, mask))
        return false;
    *tid = t;
    *stamp = slot->stamp.load(std::memory_order_relaxed);
    return true;
}

}  // namespace libos
