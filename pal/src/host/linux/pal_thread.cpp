/* PalThreadGetCpuAffinity, PalThreadSetCpuAffinity, PalGetCpu: the host's CPU placement of threads.
 * Application pointers go to the kernel untouched so that EFAULT arises exactly where Linux gives it. */
#include <sys/syscall.h>
#include <time.h>

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

/* glibc 2.35+ publishes where its rseq area sits relative to the thread pointer. Weak, so that the
 * PAL still loads on a libc without rseq. */
extern "C" {
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));
}

extern "C" const volatile int32_t* PalThreadCpuIdLocation(void) {
    if (!&__rseq_size || __rseq_size == 0)
        return nullptr;
    /* struct rseq: u32 cpu_id_start, u32 cpu_id, ... */
    return reinterpret_cast<volatile int32_t*>(pal_arch_thread_pointer() + __rseq_offset) + 1;
}

extern "C" unsigned PalGetCurrentCpu(void) {
    if (&__rseq_size && __rseq_size > 0) {
        /* struct rseq: u32 cpu_id_start, u32 cpu_id, ... The kernel keeps cpu_id current; it is
         * negative while the area is not registered. */
        auto* area = reinterpret_cast<volatile int32_t*>(pal_arch_thread_pointer() + __rseq_offset);
        int32_t cpu = area[1];
        if (cpu >= 0)
            return static_cast<unsigned>(cpu);
    }
    unsigned cpu = 0;
    pal_raw(SYS_getcpu, reinterpret_cast<long>(&cpu), 0, 0);
    return cpu;
}

extern "C" long PalThreadExists(pid_t tid) {
    return pal_raw(SYS_kill, tid, 0);
}

extern "C" long PalThreadSignal(pid_t tgid, pid_t tid, int sig) {
    return pal_raw(SYS_tgkill, tgid, tid, sig);
}

extern "C" void PalThreadYield(void) {
    pal_raw(SYS_sched_yield);
}

extern "C" uint64_t PalClockMonotonic(void) {
    struct timespec t = {};
    pal_raw(SYS_clock_gettime, CLOCK_MONOTONIC, reinterpret_cast<long>(&t));
    return static_cast<uint64_t>(t.tv_sec) * 1000000000ull + static_cast<uint64_t>(t.tv_nsec);
}
