/* Application memory as the LibOS sees it.
 *
 * A pointer that came from the application travels as UserPtr<T>. It cannot be dereferenced: the
 * ways to use it are to hand its address to the host kernel through a Pal* call, which then gives
 * EFAULT exactly where Linux would, or to copy through the caller (libos_caller.h: copy_in,
 * copy_out), which does the same for the calling thread and for strict mode's remote callers. Code
 * that must touch application memory itself has to call unchecked() and say in a comment why that
 * is safe. */
#ifndef LIBOS_USER_H
#define LIBOS_USER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pal/pal.h"

namespace libos {

template <typename T>
class UserPtr {
public:
    constexpr UserPtr() = default;
    constexpr explicit UserPtr(uintptr_t address) : address_(address) {}

    constexpr uintptr_t address() const { return address_; }
    constexpr bool is_null() const { return address_ == 0; }

    /* For passing to the host kernel, which checks the memory itself. */
    T* for_kernel() const { return reinterpret_cast<T*>(address_); }

    /* Direct access. The caller must know the memory is valid (and say why). */
    T* unchecked() const { return reinterpret_cast<T*>(address_); }

private:
    uintptr_t address_ = 0;
};

}  // namespace libos

/* getcpu's stores into application memory, inline and fault-safe (arch/<arch>/libos_user_asm.cpp):
 * 0, or -EFAULT if either pointer faults (then the node may not have been written). */
extern "C" {
long libos_store_cpu_node(unsigned* cpu, unsigned vcpu, unsigned* node, unsigned vnode);
extern const char libos_store_fault_begin[], libos_store_fault_end[], libos_store_fault_fixup[];
}

#endif /* LIBOS_USER_H */
