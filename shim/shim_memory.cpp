/* munmap, mremap and madvise: libc entry points routed through the table (table/sys/libos_memory.cpp),
 * so that the NUMA records of ranges and pages follow the memory they describe. While no record is
 * live the table leaves each call to the host at once. (libc's own calls, such as free's munmap,
 * reach no symbol and are not seen: docs/numa.md.) */
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "libos/libos_table.h"
#include "pal/pal.h"
#include "shim.h"

namespace {

long as_word(const void* p) {
    return reinterpret_cast<long>(p);
}

/* Through the table, but for the calls the shim's set-up makes itself: those are the host's. */
long call(long nr, long a0, long a1, long a2, long a3 = 0, long a4 = 0) {
    if (__builtin_expect(shim::t_initializing, 0))
        return PalSyscall(nr, a0, a1, a2, a3, a4, 0);
    return libos::dispatch(nr, a0, a1, a2, a3, a4, 0);
}

}  // namespace

SHIM_EXPORT int munmap(void* addr, size_t length) noexcept {
    return static_cast<int>(shim::syscall_result(call(SYS_munmap, as_word(addr), static_cast<long>(length), 0)));
}

/* glibc reads the new address only with MREMAP_FIXED. */
SHIM_EXPORT void* mremap(void* old_address, size_t old_size, size_t new_size, int flags, ...) noexcept {
    void* new_address = nullptr;
    if (flags & MREMAP_FIXED) {
        va_list args;
        va_start(args, flags);
        new_address = va_arg(args, void*);
        va_end(args);
    }
    long ret = shim::syscall_result(call(SYS_mremap, as_word(old_address), static_cast<long>(old_size),
                                         static_cast<long>(new_size), flags, as_word(new_address)));
    return ret == -1 ? MAP_FAILED : reinterpret_cast<void*>(ret);
}

SHIM_EXPORT int madvise(void* addr, size_t length, int advice) noexcept {
    return static_cast<int>(shim::syscall_result(call(SYS_madvise, as_word(addr), static_cast<long>(length), advice)));
}
