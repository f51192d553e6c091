/* aarch64 pieces of the Linux PAL that are not the syscall stub: the signal context and the thread
 * pointer. */
#ifndef PAL_ARCH_H
#define PAL_ARCH_H

#include <stdint.h>
#include <ucontext.h>

/* The kernel flag that says sa_restorer is set (arm64 has it too; glibc leaves it to the vDSO's
 * trampoline, the PAL names its own restorer as on x86_64). */
#define PAL_SA_RESTORER 0x04000000

/* RSEQ_SIG of arm64: the instruction word the kernel checks before an abort handler (`brk #0x45e0`). */
#define PAL_RSEQ_SIG 0xd428bc00u

static inline uintptr_t pal_arch_context_ip(void* uc) {
    return static_cast<uintptr_t>(static_cast<ucontext_t*>(uc)->uc_mcontext.pc);
}

static inline void pal_arch_context_set_ip(void* uc, uintptr_t ip) {
    static_cast<ucontext_t*>(uc)->uc_mcontext.pc = ip;
}

static inline char* pal_arch_thread_pointer(void) {
    return static_cast<char*>(__builtin_thread_pointer());
}

#endif
