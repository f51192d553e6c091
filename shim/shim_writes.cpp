/* The write family's entry points: write, pwrite, pwrite64, writev, pwritev, pwritev64, pwritev2 and
 * pwritev64v2. A generated file opened for reading and writing (root may open /proc/stat O_RDWR) is
 * a sealed memfd, whose writes fail with EPERM; the real file refuses them with EIO or EINVAL
 * (pwrite: ESPIPE), which the table recorded at the open (table/vfs/refused_writes.cpp).
 *
 * Until the program opens such a file, each costs one predictable branch before libc's own function:
 * write and pwrite call glibc's exported __write and __pwrite64 (the same functions, cancellation
 * points as they are), the others libc's function found with dlsym(RTLD_NEXT). stdio writes through
 * glibc's internal calls, which no override sees: fwrite and fflush of a stream of such a file still
 * get EPERM (docs/machine.md). */
#undef _FILE_OFFSET_BITS

#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>

#include "libos/libos_vfs.h"
#include "shim.h"

extern "C" ssize_t __write(int fd, const void* buf, size_t count);
extern "C" ssize_t __pwrite64(int fd, const void* buf, size_t count, off64_t offset);

namespace {

using libos::VfsWriteKind;

/* -1 with errno set when fd's writes are refused as the real file's; 0 otherwise. */
__attribute__((noinline, cold)) int refused(int fd, VfsWriteKind kind, long offset) {
    long error = libos::vfs_refused_write(fd, kind, offset);
    if (error == 0)
        return 0;
    errno = static_cast<int>(-error);
    return -1;
}

}  // namespace

SHIM_EXPORT ssize_t write(int fd, const void* buf, size_t count) {
    if (libos::vfs_refusing_any() && refused(fd, VfsWriteKind::Stream, 0) < 0)
        return -1;
    return __write(fd, buf, count);
}

SHIM_EXPORT ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
    if (libos::vfs_refusing_any() && refused(fd, VfsWriteKind::Positional, offset) < 0)
        return -1;
    return __pwrite64(fd, buf, count, offset);
}

SHIM_EXPORT ssize_t pwrite64(int fd, const void* buf, size_t count, off64_t offset) {
    return pwrite(fd, buf, count, static_cast<off_t>(offset));
}

SHIM_EXPORT ssize_t writev(int fd, const struct iovec* iov, int count) {
    if (libos::vfs_refusing_any() && refused(fd, VfsWriteKind::Stream, 0) < 0)
        return -1;
    return SHIM_REAL(writev)(fd, iov, count);
}

SHIM_EXPORT ssize_t pwritev(int fd, const struct iovec* iov, int count, off_t offset) {
    if (libos::vfs_refusing_any() && refused(fd, VfsWriteKind::Positional, offset) < 0)
        return -1;
    return SHIM_REAL(pwritev)(fd, iov, count, offset);
}

SHIM_EXPORT ssize_t pwritev64(int fd, const struct iovec* iov, int count, off64_t offset) {
    return pwritev(fd, iov, count, static_cast<off_t>(offset));
}

/* At offset -1, the descriptor's own offset: a write. */
SHIM_EXPORT ssize_t pwritev2(int fd, const struct iovec* iov, int count, off_t offset, int flags) {
    if (libos::vfs_refusing_any() &&
        refused(fd, offset == -1 ? VfsWriteKind::Stream : VfsWriteKind::Positional, offset) < 0)
        return -1;
    return SHIM_REAL(pwritev2)(fd, iov, count, offset, flags);
}

SHIM_EXPORT ssize_t pwritev64v2(int fd, const struct iovec* iov, int count, off64_t offset, int flags) {
    return pwritev2(fd, iov, count, static_cast<off_t>(offset), flags);
}
