/* The write family's entry points: write, pwrite, pwrite64, writev, pwritev, pwritev64, pwritev2 and
 * pwritev64v2. A generated file opened for reading and writing (root may open /proc/stat O_RDWR) is
 * a sealed memfd, whose writes fail with EPERM; the real file refuses them with EIO or EINVAL
 * (pwrite: ESPIPE), which the table recorded at the open (table/vfs/refused_writes.cpp).
 *
 * Until the program opens such a file, each costs one predictable branch before libc's own function:
 * write and pwrite call glibc's exported __write and __pwrite64 (the same functions, cancellation
 * points as they are), the others libc's function found with dlsym(RTLD_NEXT). syscall(SYS_write) and
 * the rest of the family reach the table's handlers (table/sys/libos_write.cpp). stdio writes through
 * glibc's internal calls, which no override sees: fflush, fclose and the stdio seeks, which write a
 * stream's buffer, give the file's errno where that write failed with the memfd's EPERM
 * (shim/shim_live.cpp: refused_stream); docs/machine.md says what stays EPERM. */
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

/* The refusal of fd's writes of this kind: -errno, or 0 when the host's own write answers. */
__attribute__((noinline, cold)) long refusal(int fd, VfsWriteKind kind, long offset) {
    return libos::vfs_refused_write(fd, kind, offset);
}

ssize_t refuse(long error) {
    errno = static_cast<int>(-error);
    return -1;
}

/* EIO is the file's answer once the kernel has judged the arguments (a buffer or vector outside user
 * space: EFAULT; a vector's bad length: EINVAL; a vector of nothing: 0, with no write asked of the
 * file). The sealed memfd's write judges them alike, then refuses with EPERM: that EPERM is the
 * file's EIO (libos_vfs.h: vfs_refused_after_checks). (EINVAL, a description that cannot write, and
 * ESPIPE come before any such check.) */
ssize_t answer_after_checks(ssize_t ret, long error, const void* buf = nullptr, size_t count = 0) {
    if (ret >= 0)
        return ret;
    const long answer = libos::vfs_refused_after_checks(-errno, error, buf, count);
    errno = static_cast<int>(-answer);
    return -1;
}

}  // namespace

SHIM_EXPORT ssize_t write(int fd, const void* buf, size_t count) {
    if (libos::vfs_refusing_any()) {
        const long error = refusal(fd, VfsWriteKind::Stream, 0);
        /* A write of nothing still reaches the file's write function (EIO). */
        if (error == -EIO && count > 0) {
            /* The real file never reads the buffer: the kernel checks only its range (access_ok), so
             * an unreadable buffer in user space's range is the file's EIO; some kernels' memfds
             * fault it in before their seal's EPERM (a QEMU guest's did: EFAULT). */
            return answer_after_checks(__write(fd, buf, count), error, buf, count);
        }
        if (error != 0)
            return refuse(error);
    }
    return __write(fd, buf, count);
}

SHIM_EXPORT ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
    if (libos::vfs_refusing_any()) {
        if (const long error = refusal(fd, VfsWriteKind::Positional, offset); error != 0)
            return refuse(error);
    }
    return __pwrite64(fd, buf, count, offset);
}

SHIM_SAME_NAME(pwrite);
SHIM_EXPORT ssize_t pwrite64(int fd, const void* buf, size_t count, off64_t offset) {
    return SHIM_SAME(pwrite)(fd, buf, count, static_cast<off_t>(offset));
}

SHIM_EXPORT ssize_t writev(int fd, const struct iovec* iov, int count) {
    if (libos::vfs_refusing_any()) {
        const long error = refusal(fd, VfsWriteKind::Stream, 0);
        if (error == -EIO)
            return answer_after_checks(SHIM_REAL(writev)(fd, iov, count), error);
        if (error != 0)
            return refuse(error);
    }
    return SHIM_REAL(writev)(fd, iov, count);
}

SHIM_EXPORT ssize_t pwritev(int fd, const struct iovec* iov, int count, off_t offset) {
    if (libos::vfs_refusing_any()) {
        if (const long error = refusal(fd, VfsWriteKind::Positional, offset); error != 0)
            return refuse(error);
    }
    return SHIM_REAL(pwritev)(fd, iov, count, offset);
}

SHIM_SAME_NAME(pwritev);
SHIM_EXPORT ssize_t pwritev64(int fd, const struct iovec* iov, int count, off64_t offset) {
    return SHIM_SAME(pwritev)(fd, iov, count, static_cast<off_t>(offset));
}

/* At offset -1, the descriptor's own offset: a write. */
SHIM_EXPORT ssize_t pwritev2(int fd, const struct iovec* iov, int count, off_t offset, int flags) {
    if (libos::vfs_refusing_any()) {
        const bool stream = offset == -1;
        const long error = refusal(fd, stream ? VfsWriteKind::Stream : VfsWriteKind::Positional, offset);
        if (error == -EIO && stream)
            return answer_after_checks(SHIM_REAL(pwritev2)(fd, iov, count, offset, flags), error);
        if (error != 0)
            return refuse(error);
    }
    return SHIM_REAL(pwritev2)(fd, iov, count, offset, flags);
}

SHIM_SAME_NAME(pwritev2);
SHIM_EXPORT ssize_t pwritev64v2(int fd, const struct iovec* iov, int count, off64_t offset, int flags) {
    return SHIM_SAME(pwritev2)(fd, iov, count, static_cast<off_t>(offset), flags);
}
