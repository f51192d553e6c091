/* PalThreadGetCpuAffinity, PalThreadSetCpuAffinity, PalGetCpu: the host's CPU placement of threads.
 * Application pointers go to the kernel untouched so that EFAULT arises exactly where Linux gives it. */
#include <sys/syscall.h>

#include "pal/pal.h"
#include "pal_linux.h"

extern "C" long PalThreadGetCpuAffinity(pid_t tid, size_t mask_size, void* mask) {
    return pal_raw(SYS_sched_getaffinity, tid, static_cast<long>(mask_size),
                   reinterpret_cast<long>(mask));
}

extern "C" long PalThreadSetCpuAffinity(pid_t tid, size_t mask_size, const void* mask) {
    return pal_raw(SYS_sched_setaffinity, tid, static_cast<long>(mask_size),
                   reinterpret_cast<long>(mask));
}

extern "C" long PalGetCpu(unsigned* cpu, unsigned* node) {
    return pal_raw(SYS_getcpu, reinterpret_cast<long>(cpu), reinterpret_cast<long>(node), 0);
}
