/* The scheduler family: CPU affinity and the current CPU.
 *
 * Implements sched_setaffinity(2), sched_getaffinity(2) and getcpu(2).
 *
 * With no configuration the program sees the host (identity): each handler passes its arguments to
 * the host unchanged. On a virtual machine of n vCPUs the handlers are Linux's with nr_cpu_ids = n
 * and a cpumask of BITS_TO_LONGS(n) longs: masks in and out are virtual, every thread's virtual mask
 * lives in the shared state (libos_threads.h) and is authoritative, and the host is asked about the
 * target thread whenever the kernel would look it up, so that ESRCH and EPERM are the host's own.
 * The same handlers serve strict mode's supervisor (libos_user.h: remote_task()). */
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>

#include "libos/libos_current_cpu.h"
#include "libos/libos_init.h"
#include "libos/libos_machine.h"
#include "libos/libos_strict.h"
#include "libos/libos_table.h"
#include "libos/libos_threads.h"
#include "pal/pal.h"

namespace {

bool is_self(pid_t pid) {
    return pid == 0 || pid == libos::self_tid();
}

/* In strict mode's supervisor, "pid 0" is the remote thread that trapped. It is then asked about as
 * any other thread is: through the host first (so a thread that died answers ESRCH) and then its
 * slot, if it has one (a static program's threads have none until they set a mask). */
pid_t target_of(pid_t pid) {
    libos::RemoteTask* remote = libos::remote_task();
    return remote && pid == 0 ? remote->tid : pid;
}

/* The kernel's permission check of sched_setaffinity, made by strict mode's supervisor for a remote
 * caller that names another thread (the supervisor's own rights are not the caller's): the caller's
 * effective uid must be the target's real or effective uid, or the caller must have CAP_SYS_NICE.
 * The target is looked up first, as the kernel does: ESRCH before EPERM. */
long remote_may_change(pid_t caller, pid_t target) {
    PalCredentials mine, theirs;
    long ret = PalThreadCredentials(target, &theirs);
    if (ret < 0)
        return ret == -ENOENT ? -ESRCH : ret;
    if (PalThreadCredentials(caller, &mine) < 0)
        return -ESRCH;
    constexpr uint64_t kCapSysNice = 1ULL << 23;
    if (mine.euid == theirs.euid || mine.euid == theirs.uid || (mine.cap_effective & kCapSysNice))
        return 0;
    return -EPERM;
}

/* The virtual mask of thread `pid` (not the caller): the host is asked first, for ESRCH; then the
 * thread's slot is the truth unless the host runs the thread elsewhere and no set of the launch
 * explains it: then it was changed from outside the launch (or is outside it), and is seen through
 * the map. Returns 0 or -errno. */
long other_mask(pid_t pid, libos::CpuBits* vmask) {
    libos::ThreadSlot* slot = libos::find_slot(pid);
    libos::SlotSnapshot before = slot ? libos::snapshot(slot) : libos::SlotSnapshot{};
    libos::CpuBits host;
    memset(&host, 0, sizeof(host));
    long ret = PalThreadGetCpuAffinity(pid, libos::host_mask_bytes(), host.words);
    if (ret < 0)
        return ret;
    bool trusted = slot && libos::read_mask(slot, pid, vmask);
    if (trusted && !libos::changed_since(slot, before)) {
        libos::CpuBits expected_host;
        libos::to_host(*vmask, &expected_host);
        trusted = memcmp(expected_host.words, host.words, libos::host_mask_bytes()) == 0;
    }
    if (!trusted && !slot && libos::remote_task() && libos::inherited_mask(pid, host, vmask)) {
        /* A thread of a process without the shim, created by a thread of the launch whose mask
         * it still has: it keeps that mask from now on, as its own slot. */
        libos::register_thread(pid, *vmask);
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
long libos_syscall_sched_setaffinity(pid_t pid, unsigned int len, libos::UserPtr<const unsigned long> user_mask_ptr) {
    if (!libos::is_virtual())
        return PalThreadSetCpuAffinity(pid, len, user_mask_ptr.for_kernel());
    /* Only the machine's words and the kernel's cpumask are touched: this runs at every pin. */
    const size_t machine_bytes = libos::vcpu_mask_size();
    const size_t host_words = libos::host_mask_bytes() / sizeof(uint64_t);
    libos::CpuBits vmask;
    memset(vmask.words, 0, machine_bytes);
    size_t size = len < machine_bytes ? len : machine_bytes;
    if (long copied = libos::copy_from_user(vmask.words, user_mask_ptr, size); copied < 0)
        return copied;
    if (uint32_t tail = libos::vcpu_count() % 64) /* bits at nr_cpu_ids and above are ignored */
        vmask.words[machine_bytes / sizeof(uint64_t) - 1] &= (1ULL << tail) - 1;
    uint64_t host[libos::kMaskWords];
    libos::to_host_words(vmask.words, host, host_words);
    /* The host's change and the slot's are one step for other writers of the same thread. */
    pid = target_of(pid);
    const bool self = !libos::remote_task() && is_self(pid);
    if (libos::RemoteTask* remote = libos::remote_task(); remote && pid != remote->tid) {
        /* A pid of another pid namespace names another task here: the host resolves it. */
        if (!libos::remote_same_pids())
            return libos::kRemoteContinue;
        if (pid > 0)
            if (long denied = remote_may_change(remote->tid, pid); denied < 0)
                return denied;
    }
    libos::ThreadSlot* slot = self ? libos::self_slot() : libos::find_slot(pid);
    libos::begin_change(slot);
    long ret = PalThreadSetCpuAffinity(pid, host_words * sizeof(uint64_t), host);
    if (ret < 0) {
        libos::end_change(slot);
        return ret;
    }
    if (slot) {
        libos::write_mask(slot, vmask);
        libos::end_change(slot);
    } else if (!self) {
        /* The task exists (the host just changed it) but has no slot: a fork child or a freshly
         * exec'ed program of the launch that has not claimed one yet (it will keep this one), or a
         * task outside the launch (whose slot is then checked against the host at every read). A
         * thread without a slot of its own (no state to keep one in) is seen through the map. */
        libos::register_thread(pid, vmask);
    }
    return 0;
}

/* sched_getaffinity(2). Kernel order: len * 8 < nr_cpu_ids or len not a multiple of
 * sizeof(long) -> EINVAL; no such task -> ESRCH; the copy out faults -> EFAULT. Returns the number
 * of bytes written, min(len, cpumask size); zero-filling the rest of the caller's buffer is libc's
 * job (shim/), not the kernel's. The calling thread's own mask is served from memory; for another
 * task the host is asked first, for ESRCH. A task outside the launch is seen through the map: the
 * vCPUs whose host CPU it may run on. */
long libos_syscall_sched_getaffinity(pid_t pid, unsigned int len, libos::UserPtr<unsigned long> user_mask_ptr) {
    if (!libos::is_virtual())
        return PalThreadGetCpuAffinity(pid, len, user_mask_ptr.for_kernel());
    if (static_cast<uint64_t>(len) * 8 < libos::vcpu_count() || (len & (sizeof(unsigned long) - 1)))
        return -EINVAL;
    size_t size = len < libos::vcpu_mask_size() ? len : libos::vcpu_mask_size();
    if (!libos::remote_task() && is_self(pid)) {
        /* The common case, served from memory: only the machine's words are copied. */
        uint64_t words[libos::kMaskWords];
        libos::copy_own_mask(words);
        if (PalUserCopy(user_mask_ptr.for_kernel(), words, size) < 0)
            return -EFAULT;
        return static_cast<long>(size);
    }
    libos::CpuBits vmask;
    if (libos::RemoteTask* remote = libos::remote_task(); remote && pid != 0 && pid != remote->tid &&
                                                          !libos::remote_same_pids())
        return libos::kRemoteContinue; /* a pid of another pid namespace: the host resolves it */
    if (long ret = other_mask(target_of(pid), &vmask); ret < 0)
        return ret;
    if (long copied = libos::copy_to_user(user_mask_ptr, vmask.words, size); copied < 0)
        return copied;
    return static_cast<long>(size);
}

/* getcpu(2). The kernel writes the CPU, then the node, to whichever pointers are not NULL, and
 * returns EFAULT if either write faults. On a virtual machine the CPU is the vCPU of the thread's
 * mask that runs on the current host CPU, and the node is that host CPU's. The third argument (a
 * cache) has been unused since Linux 2.6.24. */
long libos_syscall_getcpu(libos::UserPtr<unsigned> cpu, libos::UserPtr<unsigned> node, libos::UserPtr<void>) {
    if (!libos::is_virtual())
        return PalGetCpu(cpu.for_kernel(), node.for_kernel());
    unsigned host, vcpu;
    if (libos::RemoteTask* remote = libos::remote_task()) {
        /* A thread blocked in the supervisor's hands is where it last ran. */
        long last = PalThreadLastCpu(remote->tid);
        if (last < 0)
            return last == -ENOENT ? -ESRCH : last;
        libos::CpuBits vmask;
        if (long ret = other_mask(remote->tid, &vmask); ret < 0)
            return ret;
        host = static_cast<unsigned>(last);
        vcpu = libos::vcpu_on_host(vmask.words, host);
    } else {
        host = PalGetCurrentCpu();
        vcpu = libos::current_vcpu(host);
    }
    unsigned host_node = libos::host_node_of(host);
    long fault = 0;
    if (!cpu.is_null())
        fault |= libos::copy_to_user(cpu, &vcpu, sizeof(vcpu));
    if (!node.is_null())
        fault |= libos::copy_to_user(node, &host_node, sizeof(host_node));
    return fault ? -EFAULT : 0;
}
