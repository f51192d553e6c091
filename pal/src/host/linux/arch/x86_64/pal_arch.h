/* x86_64 pieces of the Linux PAL that are not the syscall stub: the signal context and the thread
 * pointer. */
#ifndef PAL_ARCH_H
#define PAL_ARCH_H

#include <stdint.h>
#include <ucontext.h>

/* The kernel flag that says sa_restorer is set (not exported by glibc's headers). */
#define PAL_SA_RESTORER 0x04000000

/* RSEQ_SIG of x86: the four bytes the kernel checks before an abort handler. */
#define PAL_RSEQ_SIG 0x53053053u

static inline uintptr_t pal_arch_context_ip(void* uc) {
    return static_cast<uintptr_t>(static_cast<ucontext_t*>(uc)->uc_mcontext.gregs[REG_RIP]);
}

static inline void pal_arch_context_set_ip(void* uc, uintptr_t ip) {
    static_cast<ucontext_t*>(uc)->uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(ip);
}

static inline char* pal_arch_thread_pointer(void) {
    return static_cast<char*>(__builtin_thread_pointer());
}

#endif
