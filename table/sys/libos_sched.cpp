/* The scheduler family: CPU affinity and the current CPU.
 *
 * Implements sched_setaffinity(2), sched_getaffinity(2) and getcpu(2). For now the machine the
 * program sees is the host itself (identity semantics): each handler passes its arguments to the
 * host through the PAL, so results and errno values are the kernel's own. */
#include "libos/libos_table.h"
#include "pal/pal.h"

/* sched_setaffinity(2). */
long libos_syscall_sched_setaffinity(pid_t pid, unsigned int len, libos::UserPtr<const unsigned long> user_mask_ptr) {
    return PalThreadSetCpuAffinity(pid, len, user_mask_ptr.for_kernel());
}

/* sched_getaffinity(2). The raw syscall returns the number of bytes written; zero-filling the rest
 * of the caller's buffer is libc's job (shim/), not the kernel's. */
long libos_syscall_sched_getaffinity(pid_t pid, unsigned int len, libos::UserPtr<unsigned long> user_mask_ptr) {
    return PalThreadGetCpuAffinity(pid, len, user_mask_ptr.for_kernel());
}

/* getcpu(2). The third argument (a cache) has been unused by the kernel since Linux 2.6.24. */
long libos_syscall_getcpu(libos::UserPtr<unsigned> cpu, libos::UserPtr<unsigned> node, libos::UserPtr<void>) {
    return PalGetCpu(cpu.for_kernel(), node.for_kernel());
}
