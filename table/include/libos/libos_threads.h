/* Every thread's virtual affinity, shared by the processes of a launch.
 *
 * One launch is one machine. Every process of the launch maps the same shared state: a memfd whose
 * descriptor number travels in LIBOS_STATE_FD. It holds the map and one 64-byte slot per live thread
 * (tid, a sequence counter and the virtual mask), found by tid, so a call about another thread or
 * another process of the launch sees what that thread set. A thread's own slot is cached in
 * initial-exec TLS, so reading one's own mask is a few loads.
 *
 * A machine's first process creates the state when it first needs it (a CPU call, fork, vfork, exec
 * or a new thread), not at start-up. A thread may find no slot: a vfork child of a process that had
 * no state yet must not create one in its parent's memory, and a launch holds at most 32768 live
 * threads. Callers handle a null slot. */
#ifndef LIBOS_THREADS_H
#define LIBOS_THREADS_H

#include <stdint.h>
#include <sys/types.h>

#include "libos/libos_config.h"
#include "pal/pal.h"

namespace libos {

struct ThreadSlot;

extern constinit thread_local ThreadSlot* t_slot __attribute__((tls_model("initial-exec")));
/* Sets t_slot, and empties the calling thread's CPU cache (libos_current_cpu.h), which is valid only
 * for the slot it was filled from: every change of t_slot goes through it, so that a cache hit needs
 * no compare of the slot. */
void set_thread_slot(ThreadSlot* slot);

/* The shared state, created now by a machine's first process if it was not yet. False when the
 * process goes without one: not virtual, a vfork child of a process that had none, or no memory. */
bool ensure_region();
/* Whether the calling process runs in its parent's memory (a vfork child before its exec): it must
 * then write nothing there that the parent reads as its own. */
bool in_parent_memory();
/* The process's id for the length of one call of the LibOS (an open's walk, its /proc/<pid> paths,
 * its pool and its table), asked of the host once (PidScope) rather than at each question: several
 * getpid calls made an open of /proc/self/status. Outside a scope it is asked each time: a process id
 * cannot be kept longer, since a vfork child runs in its parent's memory, its thread-local
 * storage included. Inside one, nothing forks, and a vfork child's call opens a scope of its own. */
extern constinit thread_local pid_t t_call_pid __attribute__((tls_model("initial-exec")));
/* 0: no scope; -1: a scope that has not asked yet (an open of a path outside the views asks nothing);
 * else the id. */
inline pid_t self_pid() {
    pid_t pid = t_call_pid;
    if (__builtin_expect(pid > 0, 1))
        return pid;
    const pid_t asked = PalProcessGetId();
    if (pid < 0)
        t_call_pid = asked;
    return asked;
}
class PidScope {
public:
    PidScope() : outer_(t_call_pid) {
        if (!outer_)
            t_call_pid = -1;
    }
    ~PidScope() { t_call_pid = outer_; }
    PidScope(const PidScope&) = delete;
    PidScope& operator=(const PidScope&) = delete;

private:
    pid_t outer_;
};
/* The shared state's descriptor (creating the state if needed), or -1 if it is private or absent. */
int state_fd();
/* Is `fd` the shared state's file (same device and inode)? 1 or 0; -1 when the file is not known
 * (no shared state mapped). */
int is_state_file(int fd);
/* For strict mode's supervisor, before init: the process cannot go on without the shared state, so
 * state_fd() gives -1, with nothing printed, when it cannot be created (the supervisor refuses and
 * says why), instead of falling back to private state with a warning as a program does. */
void require_shared_state();
/* The launch's clock: how many masks have been written. LIBOS_AFFINITY carries it across exec. */
uint32_t state_clock();

extern constinit thread_local pid_t t_tid __attribute__((tls_model("initial-exec")));
ThreadSlot* self_slot_slow();
pid_t self_tid_slow();

/* The calling thread's slot, claimed on first use if the thread was not started by the shim. Inline:
 * every call about the thread's own mask asks. */
inline ThreadSlot* self_slot() {
    if (__builtin_expect(t_slot != nullptr, 1))
        return t_slot;
    return self_slot_slow();
}
/* The calling thread's kernel tid as the LibOS knows it. */
inline pid_t self_tid() {
    if (__builtin_expect(t_tid != 0, 1))
        return t_tid;
    return self_tid_slow();
}
/* The slot of thread `tid` of this launch, or nullptr when no process of the launch runs it. */
ThreadSlot* find_slot(pid_t tid);
/* Reads a slot's mask consistently. Returns false if the slot no longer belongs to `tid`. */
bool read_mask(ThreadSlot* slot, pid_t tid, CpuBits* out);
/* The same without waiting: false also when a writer is in the middle of the slot (for scans). */
bool peek_mask(ThreadSlot* slot, pid_t tid, CpuBits* out);
/* Replaces a slot's mask; called between begin_change and end_change. */
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
/* Copies the calling thread's mask, vcpu_mask_size() bytes, into `words` (kMaskWords long): the
 * fast path of sched_getaffinity, which needs no full CpuBits. */
void copy_own_mask(uint64_t* words);

/* Claims the slot of `tid` with `mask`, for a thread or process of the launch that has none yet: a
 * new thread (the creator claims it before the thread runs any application code, and the thread
 * then adopts it), a fork child or a freshly exec'ed program that sched_setaffinity reaches before
 * its own shim did (the task keeps this slot). */
ThreadSlot* register_thread(pid_t tid, const CpuBits& mask);
/* The same for a mask a reader inferred (strict mode's creator inference) after it looked for the
 * slot of `tid` (find_slot) and found none: a slot of `tid` there now was claimed since (a
 * sched_setaffinity on the thread that raced with the read), is newer than the inference, and is kept
 * as it is, whatever its stamp (a claim stamps the mask before it publishes the tid). Returns the
 * slot, whose mask is then the answer. */
ThreadSlot* register_inferred(pid_t tid, const CpuBits& mask);
void adopt_thread(ThreadSlot* slot, pid_t tid);
/* vfork: the parent notes, before it, that its thread may next run a vfork child, which shares the
 * parent's memory and TLS (its t_slot, t_tid) but is a task of its own. vfork_child_tid() is 0 in
 * the thread that noted it (and forgets the note there, the one system call it costs), the child's
 * own tid in the child, which must then name itself by that tid and write nothing into the
 * parent's slot nor its TLS. */
void note_vfork();
pid_t vfork_child_tid();
/* In the parent after fork: the child's slot, with the forking thread's mask, so that the parent can
 * ask about its child at once. */
void register_fork_child(pid_t child);
/* unshare(CLONE_NEWPID) or setns into a PID namespace succeeded: this process's next children may
 * live in another PID namespace, where the tids the launch's state holds mean other threads. A fork
 * child looks up its own namespace again. */
void note_pid_namespace_change();
/* A thread is ending: its slot is freed. */
void thread_exiting();
/* Around fork: before_fork runs in the parent, after_fork_child in the child, whose only thread then
 * claims a slot with the forking thread's mask (unless another thread already set one for it). */
void before_fork();
void after_fork_child();

/* A thread's slot is claimed under its tid in its own PID namespace (by the shim, in-process).
 * Strict mode's supervisor acts for threads of other namespaces too: while a SlotNamespace lives, the
 * calling thread finds and claims slots as a process of PID namespace `ns_ino` (the inode number of
 * its /proc/<pid>/ns/pid) does, so tids given to find_slot and register_thread are that namespace's.
 * 0 leaves the thread in its own. */
class SlotNamespace {
public:
    explicit SlotNamespace(uint64_t ns_ino) {
        if (__builtin_expect(ns_ino != 0, 0))
            active_ = enter(ns_ino);
    }
    ~SlotNamespace() {
        if (__builtin_expect(active_, 0))
            leave();
    }
    SlotNamespace(const SlotNamespace&) = delete;
    SlotNamespace& operator=(const SlotNamespace&) = delete;

private:
    static bool enter(uint64_t ns_ino);
    static void leave();
    bool active_ = false;
};

/* The slots in use, for strict mode's creator inference (table/strict/): index < used_slot_count().
 * read_slot gives a slot's thread, its mask and the launch's clock at its last write; false for a
 * slot without a live thread, and for one being written (a scan never waits for a writer: a process
 * that damaged the state could otherwise make it wait once per slot). */
uint32_t used_slot_count();
bool read_slot(uint32_t index, pid_t* tid, CpuBits* mask, uint32_t* stamp);

}  // namespace libos

#endif
