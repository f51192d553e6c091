/* PalMemoryAllocate, PalMemoryMapShared, PalMemoryFree: the LibOS's own memory, which it never takes
 * from malloc (it runs in signal handlers and between vfork and exec). PalMemoryMap, PalMemoryFree,
 * PalMemoryRemap and PalMemoryAdvise also serve the application's calls whose effect the LibOS follows
 * (table/sys/libos_memory.cpp). */
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "pal/pal.h"
#include "pal_linux.h"

namespace {

long map(size_t size, int flags, int fd, void** addr) {
    long p = pal_raw(SYS_mmap, 0, static_cast<long>(size), PROT_READ | PROT_WRITE, flags, fd, 0);
    if (p < 0 && p > -4096)
        return p;
    *addr = reinterpret_cast<void*>(p);
    return 0;
}

}  // namespace

extern "C" long PalMemoryAllocate(size_t size, void** addr) {
    return map(size, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, addr);
}

extern "C" long PalMemoryMapShared(int fd, size_t size, void** addr) {
    return map(size, MAP_SHARED, fd, addr);
}

extern "C" long PalMemoryMapFixed(void* addr, size_t size, int fd) {
    long p = fd >= 0 ? pal_raw(SYS_mmap, reinterpret_cast<long>(addr), static_cast<long>(size), PROT_READ | PROT_WRITE,
                               MAP_SHARED | MAP_FIXED, fd, 0)
                     : pal_raw(SYS_mmap, reinterpret_cast<long>(addr), static_cast<long>(size), PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    return p < 0 && p > -4096 ? p : 0;
}

extern "C" long PalMemoryMap(void* addr, size_t size, int prot, int flags, int fd, long offset) {
    return pal_raw(SYS_mmap, reinterpret_cast<long>(addr), static_cast<long>(size), prot, flags, fd, offset);
}

extern "C" long PalMemoryFree(void* addr, size_t size) {
    return pal_raw(SYS_munmap, reinterpret_cast<long>(addr), static_cast<long>(size));
}

extern "C" long PalMemoryRemap(uintptr_t old_addr, size_t old_size, size_t new_size, int flags, uintptr_t new_addr) {
    return pal_raw(SYS_mremap, static_cast<long>(old_addr), static_cast<long>(old_size), static_cast<long>(new_size),
                   flags, static_cast<long>(new_addr));
}

extern "C" long PalMemoryAdvise(uintptr_t addr, size_t size, int advice) {
    return pal_raw(SYS_madvise, static_cast<long>(addr), static_cast<long>(size), advice);
}
