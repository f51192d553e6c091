/* The write family through syscall(): write(2), pwrite64(2), writev(2), pwritev(2) and pwritev2(2) of
 * a generated file opened for reading and writing (root may open /proc/stat O_RDWR) answer as the real
 * file does, as the shim's libc functions do (shim/shim_writes.cpp): EIO where /proc's file has no
 * write function, once the kernel has judged the arguments (the sealed memfd's own write judges them,
 * then says EPERM); EINVAL where the descriptor cannot write; ESPIPE at an offset, EINVAL at a
 * negative one (table/vfs/refused_writes.cpp).
 *
 * The numbers are routed here only from the first such open (libos_table.h: syscall_route_writes), so
 * a program that never makes one pays nothing on syscall(SYS_write); after it, every other descriptor
 * costs one look at a 16-entry table. In-process only: strict mode's filter traps none of these
 * (docs/strict-mode.md). */
#include <errno.h>

#include "libos/libos_caller.h"
#include "libos/libos_table.h"
#include "libos/libos_vfs.h"
#include "pal/pal.h"

using libos::Caller;
using libos::LeaveToHost;
using libos::SyscallResult;
using libos::VfsWriteKind;

namespace {

/* The refusal of fd's writes of this kind (-errno), or 0: the host's own write. */
long refusal(Caller caller, int fd, VfsWriteKind kind, long offset) {
    if (!libos::vfs_refusing_any() || caller.is_remote())
        return 0;
    return libos::vfs_refused_write(fd, kind, offset);
}

}  // namespace

/* write(2): a write of nothing still reaches the file's write function (EIO). */
SyscallResult libos_syscall_write(Caller caller, int fd, unsigned long buf, unsigned long count) {
    const long error = refusal(caller, fd, VfsWriteKind::Stream, 0);
    if (error == 0)
        return LeaveToHost{};
    if (error != -EIO || count == 0)
        return error;
    const void* data = reinterpret_cast<const void*>(buf);
    return libos::vfs_refused_after_checks(PalFileWriteOnce(fd, data, count), error, data, count);
}

SyscallResult libos_syscall_pwrite64(Caller caller, int fd, unsigned long, unsigned long, long pos) {
    const long error = refusal(caller, fd, VfsWriteKind::Positional, pos);
    if (error == 0)
        return LeaveToHost{};
    return error;
}

/* writev(2): a vector of nothing writes nothing (0), with no write asked of the file. */
SyscallResult libos_syscall_writev(Caller caller, int fd, unsigned long vec, unsigned long vlen) {
    const long error = refusal(caller, fd, VfsWriteKind::Stream, 0);
    if (error == 0)
        return LeaveToHost{};
    if (error != -EIO)
        return error;
    return libos::vfs_refused_after_checks(
        PalFileWriteVectorOnce(fd, reinterpret_cast<const void*>(vec), static_cast<long>(vlen), false, 0), error,
        nullptr, 0);
}

/* pwritev(2): the offset is pos_l on a 64-bit kernel. */
SyscallResult libos_syscall_pwritev(Caller caller, int fd, unsigned long, unsigned long, unsigned long pos_l,
                                    unsigned long) {
    const long error = refusal(caller, fd, VfsWriteKind::Positional, static_cast<long>(pos_l));
    if (error == 0)
        return LeaveToHost{};
    return error;
}

/* pwritev2(2): at offset -1, the descriptor's own offset: as writev. */
SyscallResult libos_syscall_pwritev2(Caller caller, int fd, unsigned long vec, unsigned long vlen,
                                     unsigned long pos_l, unsigned long, int flags) {
    const long offset = static_cast<long>(pos_l);
    const bool stream = offset == -1;
    const long error = refusal(caller, fd, stream ? VfsWriteKind::Stream : VfsWriteKind::Positional, offset);
    if (error == 0)
        return LeaveToHost{};
    if (error != -EIO || !stream)
        return error;
    return libos::vfs_refused_after_checks(
        PalFileWriteVectorOnce(fd, reinterpret_cast<const void*>(vec), static_cast<long>(vlen), true, flags), error,
        nullptr, 0);
}
