/* The descriptor entry points of libc that a generated file answers differently from its memfd
 * (table/sys/libos_fd.cpp): fstat, fstatfs, statfs, readlink, readlinkat, mmap and lseek, and their
 * 64-bit names; and getsockopt and setsockopt, whose SO_INCOMING_CPU names a CPU. Each is a system call and goes through the table; with no machine configured every
 * one of them is the host's, unchanged. */
/* This file defines both the plain and the 64-bit names itself (see shim_fs.cpp). */
#undef _FILE_OFFSET_BITS

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "libos/libos_table.h"
#include "libos/libos_trace.h"
#include "pal/pal.h"
#include "shim.h"

namespace {

long as_word(const void* p) {
    return reinterpret_cast<long>(p);
}

/* Through the table, but for the calls the shim's set-up makes itself (the unwinder's library reads
 * /proc/self/exe, libunwind maps memory): those are the host's, and no trace shows them. */
long call(long nr, long a0, long a1, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0) {
    if (__builtin_expect(shim::t_initializing, 0))
        return PalSyscall(nr, a0, a1, a2, a3, a4, a5);
    return libos::dispatch(nr, a0, a1, a2, a3, a4, a5);
}

}  // namespace

/* glibc 2.33 and later make fstat newfstatat(fd, "", buf, AT_EMPTY_PATH), on x86_64 and arm64 alike:
 * the trace shows that, as strace does natively; fstat(2) itself runs, which the LibOS answers the
 * same (table/sys/libos_fs.cpp's fstatat_empty is fstat's handler). A negative descriptor is
 * glibc's EBADF with no call at all (newfstatat(AT_FDCWD, "", ...) would stat the directory): no
 * line either, as strace shows none. */
SHIM_EXPORT int fstat(int fd, struct stat* buf) noexcept {
    if (__builtin_expect(fd < 0, 0)) {
        errno = EBADF;
        return -1;
    }
    /* Tracing off: the call as dispatch makes it, one branch; the shown call is built only when traced. */
    if (__builtin_expect(!libos::g_tracing || shim::t_initializing, 1))
        return static_cast<int>(shim::syscall_result(call(SYS_fstat, fd, as_word(buf))));
    static const char kEmpty[] = "";
    const libos::ShownCall shown = {SYS_newfstatat, {fd, as_word(kEmpty), as_word(buf), AT_EMPTY_PATH, 0, 0}};
    return static_cast<int>(
        shim::syscall_result(libos::dispatch_shown(shown, SYS_fstat, fd, as_word(buf), 0, 0, 0, 0)));
}

SHIM_SAME_NAME(fstat);
SHIM_EXPORT int fstat64(int fd, struct stat64* buf) noexcept {
    return SHIM_SAME(fstat)(fd, reinterpret_cast<struct stat*>(buf)); /* the same layout on x86_64 */
}

SHIM_EXPORT int fstatfs(int fd, struct statfs* buf) noexcept {
    return static_cast<int>(shim::syscall_result(call(SYS_fstatfs, fd, as_word(buf))));
}

SHIM_SAME_NAME(fstatfs);
SHIM_EXPORT int fstatfs64(int fd, struct statfs64* buf) noexcept {
    return SHIM_SAME(fstatfs)(fd, reinterpret_cast<struct statfs*>(buf));
}

SHIM_EXPORT int statfs(const char* path, struct statfs* buf) noexcept {
    return static_cast<int>(
        shim::syscall_result(call(SYS_statfs, as_word(path), as_word(buf))));
}

SHIM_SAME_NAME(statfs);
SHIM_EXPORT int statfs64(const char* path, struct statfs64* buf) noexcept {
    return SHIM_SAME(statfs)(path, reinterpret_cast<struct statfs*>(buf));
}

SHIM_EXPORT ssize_t readlink(const char* path, char* buf, size_t size) noexcept {
    return shim::syscall_result(
#ifdef SYS_readlink
        call(SYS_readlink, as_word(path), as_word(buf), static_cast<long>(size)));
#else /* arm64: readlinkat(2) alone */
        call(SYS_readlinkat, AT_FDCWD, as_word(path), as_word(buf), static_cast<long>(size)));
#endif
}

SHIM_EXPORT ssize_t readlinkat(int dirfd, const char* path, char* buf, size_t size) noexcept {
    return shim::syscall_result(
        call(SYS_readlinkat, dirfd, as_word(path), as_word(buf), static_cast<long>(size)));
}

SHIM_EXPORT void* mmap(void* addr, size_t length, int prot, int flags, int fd, off_t offset) noexcept {
    long ret = shim::syscall_result(call(SYS_mmap, as_word(addr), static_cast<long>(length), prot,
                                                    flags, fd, static_cast<long>(offset)));
    return ret == -1 ? MAP_FAILED : reinterpret_cast<void*>(ret);
}

SHIM_SAME_NAME(mmap);
SHIM_EXPORT void* mmap64(void* addr, size_t length, int prot, int flags, int fd, off64_t offset) noexcept {
    return SHIM_SAME(mmap)(addr, length, prot, flags, fd, static_cast<off_t>(offset));
}

SHIM_EXPORT off_t lseek(int fd, off_t offset, int whence) noexcept {
    return shim::syscall_result(call(SYS_lseek, fd, static_cast<long>(offset), whence));
}

SHIM_SAME_NAME(lseek);
SHIM_EXPORT off64_t lseek64(int fd, off64_t offset, int whence) noexcept {
    return SHIM_SAME(lseek)(fd, static_cast<off_t>(offset), whence);
}

/* getsockopt and setsockopt: SO_INCOMING_CPU names a CPU (table/sys/libos_socket.cpp). */
SHIM_EXPORT int getsockopt(int fd, int level, int name, void* value, socklen_t* length) noexcept {
    return static_cast<int>(
        shim::syscall_result(call(SYS_getsockopt, fd, level, name, as_word(value), as_word(length))));
}

SHIM_EXPORT int setsockopt(int fd, int level, int name, const void* value, socklen_t length) noexcept {
    return static_cast<int>(
        shim::syscall_result(call(SYS_setsockopt, fd, level, name, as_word(value), static_cast<long>(length))));
}
