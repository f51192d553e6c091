/* The memory calls whose effect the LibOS's NUMA records must follow (libos_numa.h).
 *
 * Implements munmap(2), mremap(2) and madvise(2); mmap(2) with MAP_FIXED is followed in
 * table/sys/libos_fd.cpp, beside its other concern.
 *
 * The kernel drops a range's policy with its VMA (munmap, a mapping put over it), moves it with the
 * VMA (mremap), and frees pages (munmap, madvise MADV_DONTNEED, MADV_FREE, MADV_REMOVE), so that a
 * page touched again is placed by its policy, not where move_pages had put its predecessor. The
 * records do the same. These calls are frequent in malloc-heavy programs: while no record is live
 * (a program that never called mbind or move_pages) each handler reads one counter and leaves the
 * call to the host as it was made. Otherwise the host's call is made here and, when it succeeds,
 * the records follow. */
#include <errno.h>
#include <sys/mman.h>

#include "libos/libos_caller.h"
#include "libos/libos_numa.h"
#include "libos/libos_table.h"
#include "pal/pal.h"

using libos::Caller;
using libos::LeaveToHost;
using libos::SyscallResult;

namespace {

constexpr unsigned long kPageBytes = 4096;
/* linux/mman.h values that older headers lack. */
constexpr int kMadvDontneedLocked = 24;
constexpr unsigned long kMremapDontunmap = 4;

unsigned long whole_pages(unsigned long len) {
    return (len + kPageBytes - 1) & ~(kPageBytes - 1);
}

bool failed(long ret) {
    return ret < 0 && ret > -4096;
}

}  // namespace

/* munmap(2): the host unmaps; the records of the range go with it. */
SyscallResult libos_syscall_munmap(Caller caller, unsigned long addr, unsigned long len) {
    if (__builtin_expect(!libos::numa_records_live(), 1) || caller.is_remote())
        return LeaveToHost{};
    long ret = PalMemoryFree(reinterpret_cast<void*>(addr), len);
    if (ret == 0)
        libos::numa_forget_memory(addr, addr + whole_pages(len));
    return ret;
}

/* mremap(2): the host moves or resizes the mapping; its records move with it (the destination's
 * records are dropped, as its old mappings are; MREMAP_DONTUNMAP leaves the old range's policy). */
SyscallResult libos_syscall_mremap(Caller caller, unsigned long addr, unsigned long old_len, unsigned long new_len,
                                   unsigned long flags, unsigned long new_addr) {
    if (__builtin_expect(!libos::numa_records_live(), 1) || caller.is_remote())
        return LeaveToHost{};
    long ret = PalMemoryRemap(addr, old_len, new_len, static_cast<int>(flags), new_addr);
    if (!failed(ret))
        libos::numa_move_memory(addr, whole_pages(old_len), static_cast<uintptr_t>(ret), whole_pages(new_len),
                                (flags & kMremapDontunmap) != 0);
    return ret;
}

/* madvise(2): the advice that frees pages forgets where move_pages had put them. */
SyscallResult libos_syscall_madvise(Caller caller, unsigned long addr, unsigned long len, int advice) {
    const bool frees = advice == MADV_DONTNEED || advice == MADV_FREE || advice == MADV_REMOVE ||
                       advice == kMadvDontneedLocked;
    if (__builtin_expect(!frees || !libos::numa_pages_live(), 1) || caller.is_remote())
        return LeaveToHost{};
    long ret = PalMemoryAdvise(addr, len, advice);
    if (ret == 0)
        libos::numa_forget_pages(addr, addr + whole_pages(len));
    return ret;
}
