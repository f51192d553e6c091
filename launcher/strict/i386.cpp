/* The trapped calls' numbers for 32-bit x86 programs (and int 0x80), from the same list as the
 * x86_64 ones: not virtualized, but reported. This file sees the i386 numbers (<asm/unistd_32.h>), so
 * it includes no other system header that would bring the x86_64 ones. */
#include <asm/unistd_32.h>
#include <stddef.h>

#include "strict/strict.h"

namespace launcher::strict {

#define LIBOS_TRAPPED_TRAP(name) __NR_##name,
#define LIBOS_TRAPPED_NOTRAP(name)
#define LIBOS_SYSCALL(nr, name, support, strict, note, arguments) LIBOS_TRAPPED_##strict(name)
const long kTrappedI386[] = {
#include "libos_syscalls.def"
};
#undef LIBOS_SYSCALL
const size_t kTrappedI386Count = sizeof(kTrappedI386) / sizeof(kTrappedI386[0]);

}  // namespace launcher::strict
