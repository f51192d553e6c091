/* The socket option that names a CPU: getsockopt(2) and setsockopt(2) of SO_INCOMING_CPU (SOL_SOCKET),
 * the CPU that last processed the socket's incoming packets, which servers read to keep a connection on
 * the CPU its packets arrive on, and which SO_REUSEPORT groups use to pick a listener.
 *
 * getsockopt gives a vCPU: the host CPU the kernel reports is turned into the vCPU that runs there.
 * When several vCPUs share that host CPU, the lowest one the calling thread's mask allows is given
 * (the thread may run on it, so pinning there keeps it on that host CPU), else the lowest of them.
 * -1 ("none yet") stays -1, and so does a host CPU no vCPU runs on (the machine has no CPU there).
 * setsockopt takes a vCPU and gives the kernel its host CPU. The kernel takes any int (no range check;
 * only an option shorter than an int is EINVAL) and gives it back: a negative number is passed as it
 * is, and a number n or above, which names no CPU of the machine, is passed shifted past every host CPU
 * number (by 8192, the LibOS's limit: so it names no host CPU either, and reads back as it was set;
 * one beyond INT_MAX - 8192 is passed as it is).
 * Every other option is the host's.
 *
 * In-process only: strict mode's filter traps neither call. */
#include <errno.h>
#include <limits.h>
#include <sys/socket.h>

#include "libos/libos_caller.h"
#include "libos/libos_machine.h"
#include "libos/libos_table.h"
#include "libos/libos_threads.h"
#include "libos/libos_vfs.h"
#include "pal/pal.h"

using libos::Caller;
using libos::LeaveToHost;
using libos::SyscallResult;
using libos::UserPtr;

namespace {

/* Past every host CPU number (the LibOS's limit, which no host kernel's NR_CPUS exceeds here). */
constexpr int kShift = static_cast<int>(libos::kMaxVcpus);

bool incoming_cpu(Caller caller, int level, int name) {
    return level == SOL_SOCKET && name == SO_INCOMING_CPU && !caller.is_remote() && libos::vfs_active();
}

/* The vCPU that stands for host CPU `host` (see above), or -1. */
int vcpu_on(int host) {
    libos::CpuBits mask;
    libos::current_mask(&mask);
    int lowest = -1;
    for (uint32_t v = 0; v < libos::vcpu_count(); ++v) {
        if (libos::host_cpu_of(v) != host)
            continue;
        if (mask.has(v))
            return static_cast<int>(v);
        if (lowest < 0)
            lowest = static_cast<int>(v);
    }
    return lowest;
}

}  // namespace

/* getsockopt(2) */
SyscallResult libos_syscall_getsockopt(Caller caller, int fd, int level, int name, UserPtr<void> value,
                                       UserPtr<socklen_t> length) {
    if (!incoming_cpu(caller, level, name))
        return LeaveToHost{};
    /* The kernel checks the socket, the length and the buffers, and writes min(length, 4) bytes. */
    if (long ret = PalSocketGetOption(fd, level, name, value.for_kernel(), length.for_kernel()); ret < 0)
        return ret;
    socklen_t written;
    int host = -1;
    if (long ret = caller.copy_in(&written, length, sizeof(written)); ret < 0)
        return ret;
    if (written > sizeof(host))
        written = sizeof(host);
    if (long ret = caller.copy_in(&host, value, written); ret < 0)
        return ret;
    if (written < sizeof(host))
        return 0; /* part of an int: nothing a CPU number can be read from */
    int shown = host;
    if (host >= kShift) {
        shown = host - kShift; /* a number of the program's own, shifted by setsockopt */
    } else if (host >= 0) {
        bool mapped = false;
        for (uint32_t v = 0; v < libos::vcpu_count() && !mapped; ++v)
            mapped = libos::host_cpu_of(v) == host;
        if (mapped)
            shown = vcpu_on(host);
        else
            shown = -1; /* a host CPU outside the machine */
    }
    return caller.copy_out(value, &shown, sizeof(shown));
}

/* setsockopt(2) */
SyscallResult libos_syscall_setsockopt(Caller caller, int fd, int level, int name, UserPtr<const void> value,
                                       unsigned int length) {
    if (!incoming_cpu(caller, level, name) || length < sizeof(int))
        return LeaveToHost{};
    int cpu;
    if (long ret = caller.copy_in(&cpu, value, sizeof(cpu)); ret < 0)
        return LeaveToHost{}; /* the kernel's EFAULT, or its EBADF/ENOTSOCK first */
    if (cpu >= 0 && static_cast<uint32_t>(cpu) < libos::vcpu_count())
        cpu = libos::host_cpu_of(static_cast<uint32_t>(cpu));
    else if (cpu >= 0 && cpu <= INT_MAX - kShift)
        cpu += kShift;
    return PalSocketSetOption(fd, level, name, &cpu, sizeof(cpu));
}
