/* PalSyscall, PalSyscallUntrapped (and its failure handler), PalThreadGetId, PalSetStrictTag: the pass-through door to the host. */
#include <sys/syscall.h>

#include "pal/pal.h"
#include "pal_linux.h"

extern "C" long PalSyscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    return pal_raw(nr, a0, a1, a2, a3, a4, a5);
}

namespace {

long raw_failure(long raw) {
    return raw;
}

using FailureHandler = long (*)(long);
constinit FailureHandler g_syscall_failure = raw_failure;

}  // namespace

/* Called once at start-up: beside the shim's other start-up code (table/include/libos/libos_sections.h,
 * LIBOS_STARTUP; the PAL includes no header of the table's). */
extern "C" __attribute__((section(".text.startup"))) void PalSetSyscallFailureHandler(long (*handler)(long raw)) {
    __atomic_store_n(&g_syscall_failure, handler ? handler : raw_failure, __ATOMIC_RELEASE);
}

/* One `ret` after the kernel's return on success (this one, to the program: the caller tail-calls
 * it), a jump to the failure handler otherwise (whose `ret` is then the only one). */
extern "C" long PalSyscallUntrapped(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    long ret = pal_arch_syscall6(nr, a0, a1, a2, a3, a4, a5);
    if (__builtin_expect(static_cast<unsigned long>(ret) > static_cast<unsigned long>(-4096L), 0))
        return __atomic_load_n(&g_syscall_failure, __ATOMIC_RELAXED)(ret);
    return ret;
}

extern "C" __attribute__((section(".text.startup"))) pid_t PalThreadGetId(void) {
    return static_cast<pid_t>(pal_raw(SYS_gettid));
}

uint64_t g_pal_strict_tag = 0;

extern "C" void PalSetStrictTag(uint64_t tag) {
    __atomic_store_n(&g_pal_strict_tag, tag, __ATOMIC_RELAXED);
}
