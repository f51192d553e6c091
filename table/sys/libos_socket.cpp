/* The socket option that names a CPU: getsockopt(2) and setsockopt(2) of SO_INCOMING_CPU (SOL_SOCKET),
 * the CPU that last processed the socket's incoming packets, which servers read to keep a connection on
 * the CPU its packets arrive on, and which SO_REUSEPORT groups use to pick a listener.
 *
 * getsockopt gives a vCPU: the host CPU the kernel reports is turned into the vCPU that runs there.
 * When several vCPUs share that host CPU, the lowest one the calling thread's mask allows is given
 * (the thread may run on it, so pinning there keeps it on that host CPU), else the lowest of them.
 * -1 ("none yet") stays -1. As the kernel copies min(optlen, sizeof(int)) bytes of the value, an
 * optlen of 1 to 3 gets the low bytes of the vCPU's number, not of the host CPU's.
 * setsockopt takes a vCPU and gives the kernel its host CPU. The kernel takes any int (no range check;
 * only an option shorter than an int is EINVAL) and gives it back, so every other int is passed in a
 * form that reads back exactly as it was set (table below), and names no host CPU a vCPU runs on:
 *   a negative number                     as it is;
 *   n .. INT_MAX - 8192 + n               moved up to 8192 .. INT_MAX, past every host CPU number
 *                                         (8192, the LibOS's limit);
 *   the 8192 - n numbers above those      onto the numbers below 8192 that no vCPU runs on, from
 *                                         8191 down: no host CPU's unless the host has more CPUs than
 *                                         fit beside them. A packet processed on a host CPU outside the
 *                                         machine (the kernel's own number there) so reads as one of
 *                                         these numbers, n or above, which names no CPU of the machine
 *                                         either; past them it reads -1.
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
constexpr long kShift = static_cast<long>(libos::kMaxVcpus);

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

/* The first number of the top band, the numbers that go below kShift. */
long top_band() {
    return INT_MAX - kShift + libos::vcpu_count() + 1;
}

/* The host CPUs the vCPUs run on. */
void used_hosts(libos::CpuBits* hosts) {
    libos::to_host(libos::all_vcpus(), hosts);
}

/* The value the kernel keeps for the program's `cpu`. */
int to_kernel(int cpu) {
    const long n = libos::vcpu_count();
    if (cpu < 0)
        return cpu;
    if (cpu < n)
        return libos::host_cpu_of(static_cast<uint32_t>(cpu));
    if (cpu < top_band())
        return static_cast<int>(cpu - n + kShift);
    /* The j-th number below kShift that no vCPU runs on, counting down. */
    libos::CpuBits hosts;
    used_hosts(&hosts);
    long j = cpu - top_band();
    for (long slot = kShift - 1; slot >= 0; --slot)
        if (!hosts.has(static_cast<uint32_t>(slot)) && j-- == 0)
            return static_cast<int>(slot);
    return -1; /* not reached: there are kShift - n free numbers at least */
}

/* The program's value for the kernel's `host`. */
int from_kernel(int host) {
    const long n = libos::vcpu_count();
    if (host < 0)
        return host;
    if (host >= kShift)
        return static_cast<int>(host - kShift + n);
    libos::CpuBits hosts;
    used_hosts(&hosts);
    if (hosts.has(static_cast<uint32_t>(host)))
        return vcpu_on(host);
    long j = 0; /* free numbers above `host` */
    for (long slot = kShift - 1; slot > host; --slot)
        j += hosts.has(static_cast<uint32_t>(slot)) ? 0 : 1;
    return j < kShift - n ? static_cast<int>(top_band() + j) : -1;
}

}  // namespace

/* getsockopt(2) */
SyscallResult libos_syscall_getsockopt(Caller caller, int fd, int level, int name, UserPtr<void> value,
                                       UserPtr<socklen_t> length) {
    if (!incoming_cpu(caller, level, name))
        return LeaveToHost{};
    /* The kernel checks the socket, the length and the buffers, and writes min(length, 4) bytes... */
    if (long ret = PalSocketGetOption(fd, level, name, value.for_kernel(), length.for_kernel()); ret < 0)
        return ret;
    socklen_t written;
    if (long ret = caller.copy_in(&written, length, sizeof(written)); ret < 0)
        return ret;
    /* ...of the host's value, which is read whole to be translated; those bytes are then the vCPU's. */
    int host = -1;
    socklen_t whole = sizeof(host);
    if (long ret = PalSocketGetOption(fd, level, name, &host, &whole); ret < 0)
        return ret;
    const int shown = from_kernel(host);
    return caller.copy_out(value, &shown, written < sizeof(shown) ? written : sizeof(shown));
}

/* setsockopt(2) */
SyscallResult libos_syscall_setsockopt(Caller caller, int fd, int level, int name, UserPtr<const void> value,
                                       unsigned int length) {
    if (!incoming_cpu(caller, level, name) || length < sizeof(int))
        return LeaveToHost{};
    int cpu;
    if (long ret = caller.copy_in(&cpu, value, sizeof(cpu)); ret < 0)
        return LeaveToHost{}; /* the kernel's EFAULT, or its EBADF/ENOTSOCK first */
    cpu = to_kernel(cpu);
    return PalSocketSetOption(fd, level, name, &cpu, sizeof(cpu));
}
