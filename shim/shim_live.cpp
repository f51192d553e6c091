/* The entry points through which a program reads a generated file that changes (/proc/stat, a status
 * file, a node's meminfo...) again: read, pread, readv, preadv, preadv2 and their fortified (_chk) and
 * 64-bit names, dup, dup2, dup3, close, fclose, and the stdio seeks (rewind, fseek, fseeko, fsetpos)
 * and fflush. The
 * table keeps such files live as Linux's seq files are (table/vfs/live.cpp); lseek is shim_fd.cpp's.
 *
 * Until the program opens such a file, each of these costs one predictable branch before libc's own
 * function: read, pread, close, fclose and fflush call glibc's exported __read, __pread64, __close,
 * _IO_fclose and _IO_fflush (the same functions, bound at load time, cancellation points as they are), the others libc's function found with
 * dlsym(RTLD_NEXT). dup, dup2 and dup3 are not cancellation points and go through the table.
 *
 * A read that another thread's making of the content overlapped is made again (whole()).
 *
 * A stdio stream reads through glibc's internal calls, which no override sees, and may answer a seek
 * from its buffer without any: so a seek on a stream of a live file writes the content again at once
 * and empties the stream's buffer first, and the seek then reaches the file. It writes through them
 * too: fflush, fclose and the seeks, which write a stream's buffer, give a refused file's errno where
 * that write failed with the sealed memfd's EPERM (refused_errno). */
#undef _FILE_OFFSET_BITS

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "libos/libos_table.h"
#include "libos/libos_vfs.h"
#include "shim.h"

extern "C" ssize_t __read(int fd, void* buf, size_t count);
extern "C" ssize_t __pread64(int fd, void* buf, size_t count, off64_t offset);
extern "C" int _IO_fflush(FILE* stream);
extern "C" int __close(int fd);
extern "C" int __fcntl(int fd, int cmd, ...);
extern "C" int _IO_fclose(FILE* stream);
extern "C" [[noreturn]] void __chk_fail(void);

namespace {

using libos::Caller;

/* errno stays the program's: the table's calls return -errno and never set it, but a check here
 * costs nothing next to writing a file. */
struct KeepErrno {
    int saved = errno;
    ~KeepErrno() { errno = saved; }
};

void before_read(int fd) {
    if (libos::vfs_live_tracked(fd)) {
        KeepErrno keep;
        libos::vfs_live_before_read(Caller::self(), fd);
    }
}

void before_pread(int fd, long offset) {
    if (libos::vfs_live_tracked(fd)) {
        KeepErrno keep;
        libos::vfs_live_before_pread(Caller::self(), fd, offset);
    }
}

/* A read that returned bytes left the offset past 0. */
ssize_t after_read(int fd, ssize_t n) {
    libos::vfs_live_after_read(fd, n);
    return n;
}

/* Where a pread stopped is where the next read at another offset makes the content anew. */
ssize_t after_pread(int fd, off_t offset, ssize_t n) {
    libos::vfs_live_after_pread(fd, offset, n);
    return n;
}

/* A stream of a live file, byte-oriented (a wide stream keeps glibc's own behaviour). */
bool live_stream(FILE* fp) {
    return fp && libos::vfs_live_any() && fp->_mode <= 0 && libos::vfs_live_tracked(fp->_fileno);
}

/* With the stream locked: its buffer emptied, so that glibc's seek cannot be answered from it (it
 * would otherwise reuse bytes of the old content), and the content written again. The kernel offset
 * glibc remembers (_offset) now stands for the buffer's empty end, as after a read that returned
 * nothing. */
void renew_stream(FILE* fp) {
    KeepErrno keep;
    __fpurge(fp);
    fp->_IO_read_base = fp->_IO_read_ptr = fp->_IO_read_end = fp->_IO_buf_base;
    libos::vfs_live_write_now(Caller::self(), fp->_fileno);
}

/* fseeko's and fsetpos's rule: where Linux's seq file would generate anew (the offset changes, or
 * goes to 0). SEEK_CUR is made absolute first, since emptying the buffer moves the stream's position
 * to the kernel's. */
template <typename Seek>
int seek_stream(FILE* fp, off64_t offset, int whence, Seek seek) {
    flockfile(fp);
    off64_t at = ftello64(fp);
    off64_t to = whence == SEEK_SET ? offset : -1;
    if (whence == SEEK_CUR && at >= 0 && __builtin_add_overflow(at, offset, &to))
        to = -1; /* glibc's own answer (EINVAL or EOVERFLOW) */
    if (at >= 0 && (whence == SEEK_END || to == 0 || (to >= 0 && to != at))) {
        if (whence == SEEK_CUR) {
            offset = to;
            whence = SEEK_SET;
        }
        renew_stream(fp);
    }
    int ret = seek(offset, whence);
    funlockfile(fp);
    return ret;
}

/* A read of a live descriptor, made again while another thread's making of the content overlapped
 * it (libos_vfs.h: vfs_live_read_begin), so that each read holds one content, as under the seq
 * file's mutex natively. `moves_offset`: read and readv, whose bytes are given back to the offset
 * first. An error or the end of the file is returned as it is. */
template <typename Read>
ssize_t whole(int fd, bool moves_offset, Read read_once) {
    for (int tries = 0;; ++tries) {
        libos::VfsLiveRead mark = libos::vfs_live_read_begin(fd);
        ssize_t n = read_once();
        /* Not quiet even after the wait: a making this thread interrupted (a signal handler), which
         * no retry outlasts. */
        if (n <= 0 || !mark.quiet || tries == libos::kVfsLiveRetries || libos::vfs_live_read_whole(mark))
            return n;
        if (moves_offset && !libos::vfs_live_read_undo(fd, n))
            return n;
    }
}

/* A stream's write of its buffer (fflush, fclose, a seek, rewind) that failed with the sealed memfd's
 * EPERM, on a descriptor whose writes the real file refuses (a generated file opened "r+"): errno
 * becomes the file's (the buffer is the stream's own and holds bytes: EIO, or EINVAL for a status
 * file). glibc writes through its internal __write, which no override sees; its stream takes the
 * failure the same whatever the errno. */
void refused_errno(int fd) {
    if (errno != EPERM)
        return;
    if (const long error = libos::vfs_refused_write(fd, libos::VfsWriteKind::Stream, 0); error != 0)
        errno = static_cast<int>(-error);
}

template <typename Call>
int refused_stream(FILE* fp, Call call) {
    const int ret = call();
    if (ret != 0)
        refused_errno(fp->_fileno);
    return ret;
}

/* fclose: the descriptor is asked before the stream (and its number) is gone. */
__attribute__((noinline, cold)) int fclose_refused(FILE* fp) {
    const int fd = fp->_fileno;
    const long error = libos::vfs_refused_write(fd, libos::VfsWriteKind::Stream, 0);
    libos::vfs_refuse_forget(fd);
    const int ret = _IO_fclose(fp);
    if (ret != 0 && errno == EPERM && error != 0)
        errno = static_cast<int>(-error);
    return ret;
}

}  // namespace

/* The hooks themselves: each tail-calls either libc's function or its own slow path (cold, out of
 * line), so that the common path saves no register and adds only the branch (bench_icount). */
namespace {

__attribute__((noinline, cold)) ssize_t read_live(int fd, void* buf, size_t count) {
    before_read(fd);
    return after_read(fd, whole(fd, true, [&] { return __read(fd, buf, count); }));
}

__attribute__((noinline, cold)) ssize_t pread_live(int fd, void* buf, size_t count, off_t offset) {
    before_pread(fd, offset);
    return after_pread(fd, offset, whole(fd, false, [&] { return __pread64(fd, buf, count, offset); }));
}

__attribute__((noinline, cold)) ssize_t readv_live(int fd, const struct iovec* iov, int count) {
    before_read(fd);
    return after_read(fd, whole(fd, true, [&] { return SHIM_REAL(readv)(fd, iov, count); }));
}

__attribute__((noinline, cold)) ssize_t preadv_live(int fd, const struct iovec* iov, int count, off_t offset) {
    before_pread(fd, offset);
    return after_pread(fd, offset, whole(fd, false, [&] { return SHIM_REAL(preadv)(fd, iov, count, offset); }));
}

__attribute__((noinline, cold)) ssize_t preadv2_live(int fd, const struct iovec* iov, int count, off_t offset,
                                                      int flags) {
    if (offset == -1)
        before_read(fd);
    else
        before_pread(fd, offset);
    ssize_t n = whole(fd, offset == -1, [&] { return SHIM_REAL(preadv2)(fd, iov, count, offset, flags); });
    return offset == -1 ? after_read(fd, n) : after_pread(fd, offset, n);
}

}  // namespace

SHIM_EXPORT ssize_t read(int fd, void* buf, size_t count) {
    if (libos::vfs_live_any() && libos::vfs_live_tracked(fd))
        return read_live(fd, buf, count);
    return __read(fd, buf, count);
}

/* The fortified calls reach the shim's read and pread by their hidden names: glibc's __read_chk and
 * __pread_chk call its own, never a read or pread the program defines. */
SHIM_SAME_NAME(read);
SHIM_EXPORT ssize_t __read_chk(int fd, void* buf, size_t count, size_t buflen) {
    if (count > buflen)
        __chk_fail();
    return SHIM_SAME(read)(fd, buf, count);
}

SHIM_EXPORT ssize_t pread(int fd, void* buf, size_t count, off_t offset) {
    if (libos::vfs_live_any() && libos::vfs_live_tracked(fd))
        return pread_live(fd, buf, count, offset);
    return __pread64(fd, buf, count, offset);
}

SHIM_SAME_NAME(pread);
SHIM_EXPORT ssize_t pread64(int fd, void* buf, size_t count, off64_t offset) {
    return SHIM_SAME(pread)(fd, buf, count, static_cast<off_t>(offset));
}

SHIM_EXPORT ssize_t __pread_chk(int fd, void* buf, size_t count, off_t offset, size_t buflen) {
    if (count > buflen)
        __chk_fail();
    return SHIM_SAME(pread)(fd, buf, count, offset);
}

SHIM_SAME_NAME(__pread_chk);
SHIM_EXPORT ssize_t __pread64_chk(int fd, void* buf, size_t count, off64_t offset, size_t buflen) {
    return SHIM_SAME(__pread_chk)(fd, buf, count, static_cast<off_t>(offset), buflen);
}

SHIM_EXPORT ssize_t readv(int fd, const struct iovec* iov, int count) {
    if (libos::vfs_live_any() && libos::vfs_live_tracked(fd))
        return readv_live(fd, iov, count);
    return SHIM_REAL(readv)(fd, iov, count);
}

SHIM_EXPORT ssize_t preadv(int fd, const struct iovec* iov, int count, off_t offset) {
    if (libos::vfs_live_any() && libos::vfs_live_tracked(fd))
        return preadv_live(fd, iov, count, offset);
    return SHIM_REAL(preadv)(fd, iov, count, offset);
}

SHIM_SAME_NAME(preadv);
SHIM_EXPORT ssize_t preadv64(int fd, const struct iovec* iov, int count, off64_t offset) {
    return SHIM_SAME(preadv)(fd, iov, count, static_cast<off_t>(offset));
}

SHIM_EXPORT ssize_t preadv2(int fd, const struct iovec* iov, int count, off_t offset, int flags) {
    if (libos::vfs_live_any() && libos::vfs_live_tracked(fd))
        return preadv2_live(fd, iov, count, offset, flags);
    return SHIM_REAL(preadv2)(fd, iov, count, offset, flags);
}

SHIM_SAME_NAME(preadv2);
SHIM_EXPORT ssize_t preadv64v2(int fd, const struct iovec* iov, int count, off64_t offset, int flags) {
    return SHIM_SAME(preadv2)(fd, iov, count, static_cast<off_t>(offset), flags);
}

SHIM_EXPORT int dup(int fd) noexcept {
    return static_cast<int>(shim::syscall_result(libos::dispatch(SYS_dup, fd, 0, 0, 0, 0, 0)));
}

SHIM_EXPORT int dup2(int fd, int target) noexcept {
#ifdef SYS_dup2
    return static_cast<int>(shim::syscall_result(libos::dispatch(SYS_dup2, fd, target, 0, 0, 0, 0)));
#else /* arm64: dup3, and dup2's own rule for a descriptor onto itself */
    if (fd == target)
        return fcntl(fd, F_GETFD) < 0 ? -1 : target;
    return static_cast<int>(shim::syscall_result(libos::dispatch(SYS_dup3, fd, target, 0, 0, 0, 0)));
#endif
}

SHIM_EXPORT int dup3(int fd, int target, int flags) noexcept {
    return static_cast<int>(shim::syscall_result(libos::dispatch(SYS_dup3, fd, target, flags, 0, 0, 0)));
}

/* fcntl: F_DUPFD and F_DUPFD_CLOEXEC go through the table once the program has a live file, or one
 * whose writes are refused (the copy is followed too); everything else is glibc's own function,
 * F_SETLKW's cancellation included. The argument is one word whatever the command (glibc reads it
 * so). */
SHIM_EXPORT int fcntl(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    void* arg = va_arg(ap, void*);
    va_end(ap);
    if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && (libos::vfs_live_any() || libos::vfs_refusing_any()))
        return static_cast<int>(shim::syscall_result(
            libos::dispatch(SYS_fcntl, fd, cmd, reinterpret_cast<long>(arg), 0, 0, 0)));
    return __fcntl(fd, cmd, arg);
}

SHIM_SAME_NAME(fcntl);
SHIM_EXPORT int fcntl64(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    void* arg = va_arg(ap, void*);
    va_end(ap);
    return SHIM_SAME(fcntl)(fd, cmd, arg);
}

/* close and fclose forget the descriptor, so that the number's next file pays nothing (the table
 * checks every entry before writing anyway: glibc closes internally too, in freopen for one). */
SHIM_EXPORT int close(int fd) {
    if (libos::vfs_live_any())
        libos::vfs_live_forget(fd);
    if (libos::vfs_refusing_any())
        libos::vfs_refuse_forget(fd);
    return __close(fd);
}

SHIM_EXPORT int fclose(FILE* fp) {
    if (fp && libos::vfs_live_any())
        libos::vfs_live_forget(fp->_fileno);
    if (fp && libos::vfs_refusing_any())
        return fclose_refused(fp);
    return _IO_fclose(fp);
}

namespace {

void rewind_stream(FILE* fp) {
    if (!live_stream(fp))
        return SHIM_REAL(rewind)(fp);
    flockfile(fp);
    renew_stream(fp);
    SHIM_REAL(rewind)(fp);
    funlockfile(fp);
}

int fseeko_stream(FILE* fp, off_t offset, int whence) {
    if (!live_stream(fp))
        return SHIM_REAL(fseeko)(fp, offset, whence);
    return seek_stream(fp, offset, whence,
                       [fp](off64_t o, int w) { return SHIM_REAL(fseeko)(fp, static_cast<off_t>(o), w); });
}

int fseek_stream(FILE* fp, long offset, int whence) {
    if (!live_stream(fp))
        return SHIM_REAL(fseek)(fp, offset, whence);
    return seek_stream(fp, offset, whence,
                       [fp](off64_t o, int w) { return SHIM_REAL(fseek)(fp, static_cast<long>(o), w); });
}

int fsetpos_stream(FILE* fp, const fpos_t* position) {
    if (!live_stream(fp) || !position)
        return SHIM_REAL(fsetpos)(fp, position);
    return seek_stream(fp, position->__pos, SEEK_SET,
                       [fp, position](off64_t, int) { return SHIM_REAL(fsetpos)(fp, position); });
}

/* fflush of a stream with bytes read ahead moves the file's offset back (lseek SEEK_CUR): Linux's seq
 * file then generates anew, so the content is written again first. */
int fflush_stream(FILE* fp) {
    if (!live_stream(fp) || fp->_IO_read_ptr == fp->_IO_read_end)
        return _IO_fflush(fp);
    flockfile(fp);
    if (fp->_IO_read_ptr != fp->_IO_read_end) {
        KeepErrno keep;
        libos::vfs_live_write_now(Caller::self(), fp->_fileno);
    }
    int ret = _IO_fflush(fp);
    funlockfile(fp);
    return ret;
}

}  // namespace

SHIM_EXPORT void rewind(FILE* fp) {
    if (__builtin_expect(libos::vfs_refusing_any(), 0) && fp) {
        /* rewind returns nothing: a failure shows only in errno. */
        const int saved = errno;
        errno = 0;
        rewind_stream(fp);
        if (errno == 0)
            errno = saved;
        else
            refused_errno(fp->_fileno);
        return;
    }
    rewind_stream(fp);
}

SHIM_EXPORT int fseeko(FILE* fp, off_t offset, int whence) {
    if (__builtin_expect(libos::vfs_refusing_any(), 0) && fp)
        return refused_stream(fp, [&] { return fseeko_stream(fp, offset, whence); });
    return fseeko_stream(fp, offset, whence);
}

SHIM_SAME_NAME(fseeko);
SHIM_EXPORT int fseeko64(FILE* fp, off64_t offset, int whence) {
    return SHIM_SAME(fseeko)(fp, static_cast<off_t>(offset), whence);
}

SHIM_EXPORT int fseek(FILE* fp, long offset, int whence) {
    if (__builtin_expect(libos::vfs_refusing_any(), 0) && fp)
        return refused_stream(fp, [&] { return fseek_stream(fp, offset, whence); });
    return fseek_stream(fp, offset, whence);
}

SHIM_EXPORT int fsetpos(FILE* fp, const fpos_t* position) {
    if (__builtin_expect(libos::vfs_refusing_any(), 0) && fp)
        return refused_stream(fp, [&] { return fsetpos_stream(fp, position); });
    return fsetpos_stream(fp, position);
}

SHIM_SAME_NAME(fsetpos);
SHIM_EXPORT int fsetpos64(FILE* fp, const fpos64_t* position) {
    return SHIM_SAME(fsetpos)(fp, reinterpret_cast<const fpos_t*>(position)); /* one layout on x86_64 */
}

SHIM_EXPORT int fflush(FILE* fp) {
    if (__builtin_expect(libos::vfs_refusing_any(), 0) && fp)
        return refused_stream(fp, [fp] { return fflush_stream(fp); });
    return fflush_stream(fp);
}

bool shim::live_syscall_read(long number, long a0, long a1, long a2, long a3, long a4, long a5, long* n) noexcept {
    const int fd = static_cast<int>(a0);
    auto* iov = reinterpret_cast<const struct iovec*>(a1);
    (void)a4;
    /* A vector count glibc's int would change is the host's to refuse (EINVAL above UIO_MAXIOV). */
    if (number != SYS_read && number != SYS_pread64 && static_cast<unsigned long>(a2) > 1024)
        return false;
    switch (number) {
        case SYS_read:
            *n = read(fd, reinterpret_cast<void*>(a1), static_cast<size_t>(a2));
            return true;
        case SYS_pread64:
            *n = pread(fd, reinterpret_cast<void*>(a1), static_cast<size_t>(a2), a3);
            return true;
        case SYS_readv:
            *n = readv(fd, iov, static_cast<int>(a2));
            return true;
        case SYS_preadv:
            *n = preadv(fd, iov, static_cast<int>(a2), a3);
            return true;
        case SYS_preadv2:
            *n = preadv2(fd, iov, static_cast<int>(a2), a3, static_cast<int>(a5));
            return true;
        default:
            return false;
    }
}
