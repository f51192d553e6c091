/* PalCpuidFaulting, PalCpuidHost: CPUID faulting (arch_prctl ARCH_SET_CPUID), which makes the cpuid
 * instruction of the calling thread raise SIGSEGV so that the LibOS can answer it, and the host's own
 * answer for a thread that has it on. */
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>

#include "pal/pal.h"
#include "pal_linux.h"

#if defined(__x86_64__)
#include <asm/prctl.h>

extern "C" long PalCpuidFaulting(int on) {
    /* ARCH_SET_CPUID's argument says whether cpuid is allowed: 0 turns faulting on. */
    return pal_raw(SYS_arch_prctl, ARCH_SET_CPUID, on ? 0 : 1);
}

extern "C" long PalCpuidHost(uint32_t leaf, uint32_t subleaf, uint32_t regs[4]) {
    /* Faulting is off for the instruction alone, with every signal blocked: a handler that ran in
     * between would see the host's cpuid, and one that jumped out (siglongjmp) would leave the thread
     * without faulting for good. */
    uint64_t all = ~0ULL, old = 0;
    long ret = pal_raw(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&all), reinterpret_cast<long>(&old),
                       sizeof(all));
    if (ret < 0)
        return ret;
    ret = pal_raw(SYS_arch_prctl, ARCH_SET_CPUID, 1);
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(leaf), "c"(subleaf));
    if (ret == 0)
        pal_raw(SYS_arch_prctl, ARCH_SET_CPUID, 0);
    pal_raw(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&old), 0, sizeof(old));
    regs[0] = a;
    regs[1] = b;
    regs[2] = c;
    regs[3] = d;
    return 0;
}

#else
/* cpuid is an x86 instruction: other architectures have neither the instruction nor its faulting. */
extern "C" long PalCpuidFaulting(int) {
    return -ENODEV;
}

extern "C" long PalCpuidHost(uint32_t, uint32_t, uint32_t regs[4]) {
    regs[0] = regs[1] = regs[2] = regs[3] = 0;
    return -ENOSYS;
}
#endif
