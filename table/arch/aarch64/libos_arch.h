/* aarch64 pieces of the LibOS outside the syscall list: the program counter of a signal context. */
#ifndef LIBOS_ARCH_H
#define LIBOS_ARCH_H

#include <stdint.h>
#include <ucontext.h>

namespace libos {

inline uintptr_t context_ip(const void* ucontext) {
    return static_cast<uintptr_t>(static_cast<const ucontext_t*>(ucontext)->uc_mcontext.pc);
}

}  // namespace libos

#endif
