/* PalSyscall, PalSyscallUntrapped, PalThreadGetId, PalSetStrictTag: the pass-through door to the host. */
#include <sys/syscall.h>

#include "pal/pal.h"
#include "pal_linux.h"

extern "C" long PalSyscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    return pal_raw(nr, a0, a1, a2, a3, a4, a5);
}

extern "C" long PalSyscallUntrapped(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    return pal_arch_syscall6(nr, a0, a1, a2, a3, a4, a5);
}

extern "C" pid_t PalThreadGetId(void) {
    return static_cast<pid_t>(pal_raw(SYS_gettid));
}

uint64_t g_pal_strict_tag = 0;

extern "C" void PalSetStrictTag(uint64_t tag) {
    __atomic_store_n(&g_pal_strict_tag, tag, __ATOMIC_RELAXED);
}
