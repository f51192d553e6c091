/* The scheduler family: CPU affinity and the current CPU.
 *
 * Implements sched_setaffinity(2), sched_getaffinity(2) and getcpu(2).
 *
 * With no configuration the program sees the host (identity): each handler leaves the call to the
 * host. On a virtual machine of n vCPUs the handlers are Linux's with nr_cpu_ids = n and a cpumask of
 * BITS_TO_LONGS(n) longs: masks in and out are virtual, every thread's virtual mask lives in the
 * shared state (libos_threads.h) and is authoritative, and the host is asked about the target
 * thread whenever the kernel would look it up, so that ESRCH and EPERM are the host's own. The
 * caller is the calling thread or, in strict mode, a thread of another process (libos_caller.h). */
#include <errno.h>
#include <string.h>

#include "libos/libos_caller.h"
#include "libos/libos_current_cpu.h"
#include "libos/libos_init.h"
#include "libos/libos_machine.h"
#include "libos/libos_topology.h"
#include "libos/libos_table.h"
#include "libos/libos_threads.h"
#include "pal/pal.h"

using libos::Caller;
using libos::LeaveToHost;
using libos::SyscallResult;
using libos::UserPtr;

namespace {

/* The virtual mask of thread `pid` (not the caller): the host is asked first, for ESRCH; then the
 * thread's slot is the truth unless the host runs the thread elsewhere and no set of the launch
 * explains it: then it was changed from outside the launch (or is outside it), and is seen through
 * the map. Returns 0 or -errno. */
long other_mask(Caller caller, const libos::TargetTask& task, libos::CpuBits* vmask) {
    /* Its slot is named as its own PID namespace names it (the host's calls take the host's tid). */
    libos::SlotNamespace acting_in(task.slot_ns);
    const pid_t pid = task.tid;
    libos::ThreadSlot* slot = libos::find_slot(task.slot_tid);
    libos::SlotSnapshot before = slot ? libos::snapshot(slot) : libos::SlotSnapshot{};
    libos::CpuBits host;
    memset(&host, 0, sizeof(host));
    long ret = PalThreadGetCpuAffinity(pid, libos::host_mask_bytes(), host.words);
    if (ret < 0)
        return ret;
    bool trusted = slot && libos::read_mask(slot, task.slot_tid, vmask);
    if (trusted && !libos::changed_since(slot, before)) {
        libos::CpuBits expected_host;
        libos::to_host(*vmask, &expected_host);
        trusted = memcmp(expected_host.words, host.words, libos::host_mask_bytes()) == 0;
    }
    /* (Inference reads the creators' slots by the supervisor's tids: its own namespace only.) */
    if (!trusted && !slot && task.slot_ns == 0 && caller.inherited_mask(pid, host, vmask)) {
        /* A thread of a process without the shim, created by a thread of the launch whose mask
         * it still has: it keeps that mask from now on, as its own slot; unless a set claimed the
         * slot since it was looked for (the thread's own first call can race with its creator's
         * pthread_setaffinity_np on it): that mask is newer, stays, and is the answer. */
        libos::ThreadSlot* kept = libos::register_inferred(pid, *vmask);
        if (kept && !libos::read_mask(kept, pid, vmask))
            libos::to_virtual(host, vmask);
        return 0;
    }
    if (!trusted)
        libos::to_virtual(host, vmask);
    return 0;
}

}  // namespace

/* sched_setaffinity(2). Kernel order: copy the mask in (min(len, cpumask size) bytes, the rest
 * zero), then find the task (ESRCH), check permission (EPERM), and intersect with the allowed CPUs
 * (EINVAL when nothing is left). The host performs the last three on the translated mask: an empty
 * virtual mask becomes an empty host mask, which the host refuses with EINVAL only after its own
 * ESRCH and EPERM checks, in the kernel's order. */
SyscallResult libos_syscall_sched_setaffinity(Caller caller, pid_t pid, unsigned int len,
                                              UserPtr<const unsigned long> user_mask_ptr) {
    if (!libos::is_virtual())
        return LeaveToHost{};
    /* Only the machine's words and the kernel's cpumask are touched: this runs at every pin. */
    const size_t machine_bytes = libos::vcpu_mask_size();
    const size_t host_words = libos::host_mask_bytes() / sizeof(uint64_t);
    libos::CpuBits vmask;
    memset(vmask.words, 0, machine_bytes);
    size_t size = len < machine_bytes ? len : machine_bytes;
    if (long copied = caller.copy_in(vmask.words, user_mask_ptr, size); copied < 0)
        return copied;
    if (uint32_t tail = libos::vcpu_count() % 64) /* bits at nr_cpu_ids and above are ignored */
        vmask.words[machine_bytes / sizeof(uint64_t) - 1] &= (1ULL << tail) - 1;
    uint64_t host[libos::kMaskWords];
    libos::to_host_words(vmask.words, host, host_words);
    /* The task, as the host names it (a pid of another PID namespace is looked up there). */
    libos::TargetTask target;
    if (long missing = caller.resolve(pid, &target); missing < 0)
        return missing;
    pid = target.tid;
    if (long denied = caller.may_change(pid); denied < 0)
        return denied;
    /* A vfork child runs on its parent's thread: it names itself by its own tid, and its mask is
     * not the parent's slot (whose mask the parent finds unchanged when it resumes). */
    bool self = caller.is_self(pid);
    if (self && !caller.is_remote()) {
        if (pid_t child = libos::vfork_child_tid(); child > 0) {
            pid = target.slot_tid = child;
            self = false;
        }
    }
    /* Its slot is named as its own PID namespace names it (the host's calls take the host's tid). */
    libos::SlotNamespace acting_in(target.slot_ns);
    /* The host's change and the slot's are one step for other writers of the same thread. */
    libos::ThreadSlot* slot = self ? libos::self_slot() : libos::find_slot(target.slot_tid);
    libos::begin_change(slot);
    long ret = PalThreadSetCpuAffinity(pid, host_words * sizeof(uint64_t), host);
    if (ret < 0) {
        libos::end_change(slot);
        return ret;
    }
    /* A task found in another PID namespace that ended meanwhile: its tid may be another's now,
     * whose slot is left alone (the host's change went to a task the caller could not name only if
     * the tid was reused within this call). */
    if (target.gone()) {
        libos::end_change(slot);
        return -ESRCH;
    }
    if (slot) {
        libos::write_mask(slot, vmask);
        libos::end_change(slot);
    } else if (!self) {
        /* The task exists (the host just changed it) but has no slot: a fork child or a freshly
         * exec'ed program of the launch that has not claimed one yet (it will keep this one), or a
         * task outside the launch (whose slot is then checked against the host at every read). A
         * thread without a slot of its own (no state to keep one in) is seen through the map. */
        libos::register_thread(target.slot_tid, vmask);
    }
    return 0;
}

/* sched_getaffinity(2). Kernel order: len * 8 < nr_cpu_ids or len not a multiple of
 * sizeof(long) -> EINVAL; no such task -> ESRCH; the copy out faults -> EFAULT. Returns the number
 * of bytes written, min(len, cpumask size); zero-filling the rest of the caller's buffer is libc's
 * job (shim/), not the kernel's. The calling thread's own mask is served from memory; for another
 * task the host is asked first, for ESRCH. A task outside the launch is seen through the map: the
 * vCPUs whose host CPU it may run on. */
SyscallResult libos_syscall_sched_getaffinity(Caller caller, pid_t pid, unsigned int len,
                                              UserPtr<unsigned long> user_mask_ptr) {
    if (!libos::is_virtual())
        return LeaveToHost{};
    /* The kernel multiplies in 32 bits (len is an unsigned int): 0x80000000 bytes count as 0 bits. */
    if (len * 8u < libos::vcpu_count() || (len & (sizeof(unsigned long) - 1)))
        return -EINVAL;
    size_t size = len < libos::vcpu_mask_size() ? len : libos::vcpu_mask_size();
    if (caller.is_self(pid)) {
        /* The common case, served from memory: only the machine's words are copied. */
        uint64_t words[libos::kMaskWords];
        libos::copy_own_mask(words);
        if (long copied = caller.copy_out(user_mask_ptr, words, size); copied < 0)
            return copied;
        return static_cast<long>(size);
    }
    /* The task, as the host names it (a pid of another PID namespace is looked up there). */
    libos::TargetTask target;
    if (long missing = caller.resolve(pid, &target); missing < 0)
        return missing;
    libos::CpuBits vmask;
    if (long ret = other_mask(caller, target, &vmask); ret < 0)
        return ret;
    /* Never another task's mask: the one found may have ended, and its tid been reused, meanwhile. */
    if (target.gone())
        return -ESRCH;
    if (long copied = caller.copy_out(user_mask_ptr, vmask.words, size); copied < 0)
        return copied;
    return static_cast<long>(size);
}

/* getcpu(2). The kernel writes the CPU, then the node, to whichever pointers are not NULL, and
 * returns EFAULT if either write faults. On a virtual machine the CPU is the vCPU of the thread's
 * mask that runs on the current host CPU, and the node is that host CPU's. The third argument (a
 * cache) has been unused since Linux 2.6.24. */
SyscallResult libos_syscall_getcpu(Caller caller, UserPtr<unsigned> cpu, UserPtr<unsigned> node, UserPtr<void>) {
    if (!libos::is_virtual())
        return LeaveToHost{};
    unsigned host, vcpu;
    if (caller.is_self(0)) {
        host = libos::current_host_cpu();
        vcpu = libos::current_vcpu(host);
    } else {
        libos::TargetTask self;
        if (long ret = caller.resolve(0, &self); ret < 0)
            return ret;
        libos::CpuBits vmask;
        if (long ret = other_mask(caller, self, &vmask); ret < 0)
            return ret;
        /* A thread blocked in strict mode's supervisor resumes on the answering thread's CPU when the
         * kernel wakes it there and its mask has that CPU; else it is where it last ran. */
        long here = caller.resume_cpu();
        if (here >= 0 && libos::host_cpu_of(vcpu = libos::vcpu_on_host(vmask.words, static_cast<unsigned>(here))) ==
                             static_cast<unsigned>(here) && vmask.has(vcpu)) {
            host = static_cast<unsigned>(here);
        } else {
            long last = PalThreadLastCpu(caller.tid());
            if (last < 0)
                return last == -ENOENT ? -ESRCH : last;
            host = static_cast<unsigned>(last);
            vcpu = libos::vcpu_on_host(vmask.words, host);
        }
    }
    unsigned vnode = libos::vcpu_place(vcpu).node;
    long fault = 0;
    if (!cpu.is_null())
        fault |= caller.copy_out(cpu, &vcpu, sizeof(vcpu));
    if (!node.is_null())
        fault |= caller.copy_out(node, &vnode, sizeof(vnode));
    return fault ? -EFAULT : 0;
}
