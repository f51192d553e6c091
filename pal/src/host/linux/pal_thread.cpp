/* PalThreadGetCpuAffinity, PalThreadSetCpuAffinity, PalGetCpu: the host's CPU placement of threads.
 * Application pointers go to the kernel untouched so that EFAULT arises exactly where Linux gives it. */
#include <errno.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>

#include "pal/pal.h"
#include "pal_linux.h"

extern "C" __attribute__((section(".text.startup"))) long PalThreadGetCpuAffinity(pid_t tid, size_t mask_size, void* mask) {
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

namespace {

/* The PAL's own rseq area, for a thread that glibc registered none for: on a virtual machine the
 * program runs with glibc's registration off (GLIBC_TUNABLES glibc.pthread.rseq=0, libos_exec.h), so
 * that no code reads a host CPU from glibc's area; the PAL then registers this one, which only the
 * LibOS reads, and keeps its CPU question free of system calls. struct rseq as the kernel's ABI
 * has it (32 bytes, 32-aligned); cpu_id is negative until the kernel fills it in. */
struct alignas(32) RseqArea {
    uint32_t cpu_id_start;
    int32_t cpu_id;
    uint64_t rseq_cs;
    uint32_t flags;
    uint32_t node_id;
    uint32_t mm_cid;
    uint32_t padding;
};
static_assert(sizeof(RseqArea) == 32, "the kernel's original struct rseq");
constexpr unsigned kRseqSignature = PAL_RSEQ_SIG; /* the architecture's RSEQ_SIG (pal_arch.h) */
constexpr int kRseqAreaUnregistered = -1;       /* RSEQ_CPU_ID_UNINITIALIZED */

constinit thread_local RseqArea t_rseq __attribute__((tls_model("initial-exec"))) = {0, kRseqAreaUnregistered,
                                                                                      0, 0, 0, 0, 0};
/* 0: not tried in this thread; 1: registered; -1: the kernel refused (another area is registered, or
 * no rseq), the CPU is then asked with getcpu. */
constinit thread_local int t_rseq_state __attribute__((tls_model("initial-exec"))) = 0;

bool glibc_rseq() {
    return &__rseq_size && __rseq_size > 0;
}

/* This thread's own area, registered at its first use (a fork child inherits the registration with
 * its memory; a vfork child and an exec'ed program have none, and register again). */
volatile int32_t* own_rseq_cpu_id() {
    if (__builtin_expect(t_rseq_state == 0, 0)) {
        long ret = pal_raw(SYS_rseq, reinterpret_cast<long>(&t_rseq), sizeof(RseqArea), 0, kRseqSignature);
        /* EBUSY: this very area is registered already (a signal handler registered it while this
         * thread was in the middle of doing so). */
        t_rseq_state = ret == 0 || ret == -EBUSY ? 1 : -1;
    }
    return t_rseq_state > 0 ? &t_rseq.cpu_id : nullptr;
}

}  // namespace

extern "C" const volatile int32_t* PalThreadCpuIdLocation(void) {
    if (glibc_rseq()) {
        /* struct rseq: u32 cpu_id_start, u32 cpu_id, ... */
        return reinterpret_cast<volatile int32_t*>(pal_arch_thread_pointer() + __rseq_offset) + 1;
    }
    return own_rseq_cpu_id();
}

extern "C" unsigned PalGetCurrentCpu(void) {
    /* The kernel keeps cpu_id current; it is negative while the area is not registered. */
    if (const volatile int32_t* location = PalThreadCpuIdLocation()) {
        int32_t cpu = *location;
        if (cpu >= 0)
            return static_cast<unsigned>(cpu);
    }
    unsigned cpu = 0;
    pal_raw(SYS_getcpu, reinterpret_cast<long>(&cpu), 0, 0);
    return cpu;
}

extern "C" unsigned PalGetCurrentCpuByCall(void) {
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
