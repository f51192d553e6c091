/* The libc scheduler wrappers: sched_setaffinity, sched_getaffinity, getcpu, sched_getcpu,
 * pthread_setaffinity_np and pthread_getaffinity_np, with glibc 2.36's conventions. */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#include "libos/libos_current_cpu.h"
#include "libos/libos_init.h"
#include "libos/libos_machine.h"
#include "libos/libos_table.h"
#include "libos/libos_trace.h"
#include "libos/libos_user.h"
#include "pal/pal.h"
#include "shim.h"

namespace {

long call(long nr, long a0, long a1 = 0, long a2 = 0) {
    shim::ensure();
    return libos::dispatch(nr, a0, a1, a2, 0, 0, 0);
}

long as_word(const void* p) {
    return reinterpret_cast<long>(p);
}

/* glibc's sched_getaffinity and pthread_getaffinity_np clear the part of the caller's mask that the
 * kernel did not write, and pass at most INT_MAX as the length. Returns 0 or -errno. */
long get_affinity(pid_t tid, size_t cpusetsize, cpu_set_t* cpuset) {
    size_t len = cpusetsize < INT_MAX ? cpusetsize : INT_MAX;
    long written = call(SYS_sched_getaffinity, tid, static_cast<long>(len), as_word(cpuset));
    if (written < 0)
        return written;
    memset(reinterpret_cast<char*>(cpuset) + written, 0, cpusetsize - static_cast<size_t>(written));
    return 0;
}

}  // namespace

/* The kernel thread id behind a pthread_t. glibc keeps it in its private struct pthread; the public
 * way to read it is the thread's CPU-time clock id, which the kernel ABI defines as
 * (~tid << 3) | CPUCLOCK_SCHED(2) | CPUCLOCK_PERTHREAD(4). */
pid_t shim::tid_of(pthread_t thread) {
    clockid_t clock;
    /* A thread that has exited (not yet joined) has the tid 0, which the kernel wrote at its exit:
     * glibc's pthread_getcpuclockid refuses it (ESRCH), and its pthread_{get,set}affinity_np pass the
     * 0 on, which names the calling thread. So does the shim. */
    if (pthread_getcpuclockid(thread, &clock) != 0)
        return 0;
    return static_cast<pid_t>(~(clock >> 3));
}

SHIM_EXPORT int sched_setaffinity(pid_t pid, size_t cpusetsize, const cpu_set_t* cpuset) noexcept {
    return static_cast<int>(shim::syscall_result(
        call(SYS_sched_setaffinity, pid, static_cast<long>(cpusetsize), as_word(cpuset))));
}

SHIM_EXPORT int sched_getaffinity(pid_t pid, size_t cpusetsize, cpu_set_t* cpuset) noexcept {
    return static_cast<int>(shim::syscall_result(get_affinity(pid, cpusetsize, cpuset)));
}

SHIM_EXPORT int pthread_setaffinity_np(pthread_t thread, size_t cpusetsize, const cpu_set_t* cpuset) noexcept {
    long ret = call(SYS_sched_setaffinity, shim::tid_of(thread), static_cast<long>(cpusetsize), as_word(cpuset));
    return ret < 0 ? static_cast<int>(-ret) : 0;
}

SHIM_EXPORT int pthread_getaffinity_np(pthread_t thread, size_t cpusetsize, cpu_set_t* cpuset) noexcept {
    long ret = get_affinity(shim::tid_of(thread), cpusetsize, cpuset);
    return ret < 0 ? static_cast<int>(-ret) : 0;
}

namespace {

/* getcpu's every path but the hot one: before set-up, with tracing, on the host, on a cache miss and
 * after a faulting store. */
__attribute__((noinline)) int getcpu_slow(unsigned int* cpu, unsigned int* node) noexcept {
    shim::ensure();
    if (libos::g_tracing)
        return static_cast<int>(shim::syscall_result(call(SYS_getcpu, as_word(cpu), as_word(node), 0)));
    if (!libos::is_virtual())
        return SHIM_REAL(getcpu)(cpu, node);
    unsigned vcpu, vnode;
    if (!libos::cached_vcpu_and_node(&vcpu, &vnode))
        libos::current_vcpu_and_node(&vcpu, &vnode);
    if (__builtin_expect(libos_store_cpu_node(cpu, vcpu, node, vnode) < 0, 0)) {
        /* As the kernel: both stores are attempted, EFAULT if either faulted. */
        if (node)
            PalUserCopy(node, &vnode, sizeof(vnode));
        errno = EFAULT;
        return -1;
    }
    return 0;
}

}  // namespace

/* glibc answers getcpu from the vDSO, with no system call; so does this, on either machine. On the
 * host glibc's own function runs. On a virtual machine the LibOS answers from memory and writes
 * with fault-safe stores: where the vDSO would fault on a bad pointer, this gives EFAULT, as the
 * system call does (LTP's getcpu01 accepts both). syscall(SYS_getcpu) takes the table's handler.
 * The hot path is a hit in the thread's cache (which only a virtual machine fills) and the two
 * stores, inline and fault-safe: shim_init.cpp registers [shim_getcpu_store_begin,
 * shim_getcpu_store_end) with PalFaultFixupRegister, and a fault there resumes at
 * shim_getcpu_store_fixup, which makes the result -EFAULT; getcpu_slow then gives the kernel's
 * answer. The labels are global, so the function must exist once: noinline, noclone. */
SHIM_EXPORT __attribute__((noinline, noclone)) int getcpu(unsigned int* cpu, unsigned int* node) noexcept {
    unsigned vcpu, vnode;
    if (__builtin_expect(!libos::g_tracing && libos::cached_vcpu_and_node(&vcpu, &vnode), 1)) {
        long fault;
#if defined(__x86_64__)
        __asm__ volatile(
            ".globl shim_getcpu_store_begin\n"
            ".hidden shim_getcpu_store_begin\n"
            "shim_getcpu_store_begin:\n"
            "    xor %%eax, %%eax\n"
            "    test %[cpu], %[cpu]\n"
            "    je 1f\n"
            "    mov %[vcpu], (%[cpu])\n"
            "1:  test %[node], %[node]\n"
            "    je 2f\n"
            "    mov %[vnode], (%[node])\n"
            "2:\n"
            ".globl shim_getcpu_store_end\n"
            ".hidden shim_getcpu_store_end\n"
            "shim_getcpu_store_end:\n"
            "    .pushsection .text.unlikely, \"ax\", @progbits\n"
            ".globl shim_getcpu_store_fixup\n"
            ".hidden shim_getcpu_store_fixup\n"
            "shim_getcpu_store_fixup:\n"
            "    mov $-14, %%rax\n" /* -EFAULT */
            "    jmp 2b\n"
            "    .popsection\n"
            : "=&a"(fault)
            : [cpu] "r"(cpu), [node] "r"(node), [vcpu] "r"(vcpu), [vnode] "r"(vnode)
            : "cc", "memory");
#elif defined(__aarch64__)
        __asm__ volatile(
            ".globl shim_getcpu_store_begin\n"
            ".hidden shim_getcpu_store_begin\n"
            "shim_getcpu_store_begin:\n"
            "    mov %[fault], #0\n"
            "    cbz %[cpu], 1f\n"
            "    str %w[vcpu], [%[cpu]]\n"
            "1:  cbz %[node], 2f\n"
            "    str %w[vnode], [%[node]]\n"
            "2:\n"
            ".globl shim_getcpu_store_end\n"
            ".hidden shim_getcpu_store_end\n"
            "shim_getcpu_store_end:\n"
            "    .pushsection .text.unlikely, \"ax\", %%progbits\n"
            ".globl shim_getcpu_store_fixup\n"
            ".hidden shim_getcpu_store_fixup\n"
            "shim_getcpu_store_fixup:\n"
            "    mov %[fault], #-14\n" /* -EFAULT */
            "    b 2b\n"
            "    .popsection\n"
            : [fault] "=&r"(fault)
            : [cpu] "r"(cpu), [node] "r"(node), [vcpu] "r"(vcpu), [vnode] "r"(vnode)
            : "memory");
#endif
        if (__builtin_expect(fault == 0, 1))
            return 0;
    }
    return getcpu_slow(cpu, node);
}

namespace {

/* sched_getcpu's every path but the cache hit: before set-up, on the host, on a miss. */
__attribute__((noinline)) int sched_getcpu_slow() noexcept {
    shim::ensure();
    if (libos::is_virtual())
        return static_cast<int>(libos::current_vcpu_fast());
    return SHIM_REAL(sched_getcpu)();
}

}  // namespace

/* glibc reads the rseq area, with no system call; so does the LibOS, then maps the host CPU to the
 * thread's vCPU. The hot path is a hit in the thread's cache, inline: only a virtual machine fills
 * it, so a hit needs no test of the set-up or the mode. On the host, glibc's own function runs. */
SHIM_EXPORT int sched_getcpu(void) noexcept {
    unsigned vcpu;
    if (__builtin_expect(libos::cached_vcpu(&vcpu), 1))
        return static_cast<int>(vcpu);
    return sched_getcpu_slow();
}
