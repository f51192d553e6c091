/* The host files the LibOS uses itself: opening, examining, writing and placing descriptors,
 * memfds, and the current directory. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "pal/pal.h"
#include "pal_linux.h"

extern "C" long PalFileOpen(int dirfd, const char* path, int flags, mode_t mode) {
    pal_host_path(&dirfd, &path);
    return pal_raw(SYS_openat, dirfd, reinterpret_cast<long>(path), flags, mode);
}

extern "C" long PalFileClose(int fd) {
    return pal_raw(SYS_close, fd);
}

extern "C" long PalFileStat(int fd, struct stat* st) {
    return pal_raw(SYS_fstat, fd, reinterpret_cast<long>(st));
}

extern "C" long PalFileStatAt(int dirfd, const char* path, struct stat* st, int flags) {
    pal_host_path(&dirfd, &path);
    return pal_raw(SYS_newfstatat, dirfd, reinterpret_cast<long>(path), reinterpret_cast<long>(st), flags);
}

extern "C" long PalFileStatx(int dirfd, const char* path, int flags, unsigned mask, void* buf) {
    pal_host_path(&dirfd, &path);
    return pal_raw(SYS_statx, dirfd, reinterpret_cast<long>(path), flags, mask, reinterpret_cast<long>(buf));
}

extern "C" long PalFileAccess(int dirfd, const char* path, int mode, int flags) {
    pal_host_path(&dirfd, &path);
    if (flags == 0)
        return pal_raw(SYS_faccessat, dirfd, reinterpret_cast<long>(path), mode);
    return pal_raw(SYS_faccessat2, dirfd, reinterpret_cast<long>(path), mode, flags);
}

extern "C" long PalFileReadLinkAt(int dirfd, const char* path, char* buf, size_t size) {
    pal_host_path(&dirfd, &path);
    return pal_raw(SYS_readlinkat, dirfd, reinterpret_cast<long>(path), reinterpret_cast<long>(buf),
                   static_cast<long>(size));
}

extern "C" long PalFileSystemStat(int fd, const char* path, struct statfs* out) {
    int dirfd = AT_FDCWD;
    if (path && pal_host_path(&dirfd, &path)) {
        long host = pal_raw(SYS_openat, dirfd, reinterpret_cast<long>(path), O_PATH | O_CLOEXEC);
        if (host < 0)
            return host;
        long ret = pal_raw(SYS_fstatfs, host, reinterpret_cast<long>(out));
        pal_raw(SYS_close, host);
        return ret;
    }
    if (path)
        return pal_raw(SYS_statfs, reinterpret_cast<long>(path), reinterpret_cast<long>(out));
    return pal_raw(SYS_fstatfs, fd, reinterpret_cast<long>(out));
}

extern "C" long PalFileReadLink(const char* path, char* buf, size_t size) {
    if (size == 0)
        return -EINVAL;
    int dirfd = AT_FDCWD;
    pal_host_path(&dirfd, &path);
    long n = pal_raw(SYS_readlinkat, dirfd, reinterpret_cast<long>(path), reinterpret_cast<long>(buf),
                     static_cast<long>(size - 1));
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

extern "C" long PalFileSeek(int fd, long offset, int whence) {
    return pal_raw(SYS_lseek, fd, offset, whence);
}

extern "C" long PalFileWriteAll(int fd, const void* buf, size_t size) {
    const char* p = static_cast<const char*>(buf);
    while (size > 0) {
        long written = pal_raw(SYS_write, fd, reinterpret_cast<long>(p), static_cast<long>(size));
        if (written == -EINTR)
            continue;
        if (written < 0)
            return written;
        if (written == 0)
            return -EIO;
        p += written;
        size -= static_cast<size_t>(written);
    }
    return 0;
}

extern "C" long PalFileWriteNothing(int fd, bool positional) {
    static const char kNothing[1] = {0};
    long ret = positional ? pal_raw(SYS_pwrite64, fd, reinterpret_cast<long>(kNothing), 0, 0)
                          : pal_raw(SYS_write, fd, reinterpret_cast<long>(kNothing), 0);
    return ret < 0 ? ret : 0;
}

extern "C" long PalFileWriteOnce(int fd, const void* buf, size_t size) {
    return pal_raw(SYS_write, fd, reinterpret_cast<long>(buf), static_cast<long>(size));
}

extern "C" long PalFileWriteVectorOnce(int fd, const void* iov, long count, bool v2, int flags) {
    if (v2) /* offset -1 in both halves' low word: the kernel's pos_from_hilo gives -1 */
        return pal_raw(SYS_pwritev2, fd, reinterpret_cast<long>(iov), count, -1, 0, flags);
    return pal_raw(SYS_writev, fd, reinterpret_cast<long>(iov), count);
}

extern "C" long PalFileDuplicateHigh(int fd, int floor, bool cloexec) {
    return pal_raw(SYS_fcntl, fd, cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, floor);
}

extern "C" long PalFileDuplicate(int fd) {
    return pal_raw(SYS_dup, fd);
}

extern "C" long PalFileDuplicateOnto(int fd, int target, int flags, bool same_allowed) {
    /* dup2(fd, fd) checks fd and changes nothing; dup3 refuses it (EINVAL). arm64 has no dup2 call:
     * the rest of dup2 is dup3 with no flags. */
    if (same_allowed && fd == target) {
        long ret = pal_raw(SYS_fcntl, fd, F_GETFD);
        return ret < 0 ? ret : target;
    }
    return pal_raw(SYS_dup3, fd, target, flags);
}

extern "C" long PalFileDescriptorLimit(void) {
    struct rlimit limit;
    long ret = pal_raw(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, reinterpret_cast<long>(&limit));
    if (ret < 0)
        return ret;
    return limit.rlim_cur > static_cast<rlim_t>(INT32_MAX) ? INT32_MAX : static_cast<long>(limit.rlim_cur);
}

extern "C" long PalFileMoveHigh(int fd, int floor, bool cloexec) {
    if (fd >= floor)
        return fd;
    long high = PalFileDuplicateHigh(fd, floor, cloexec);
    if (high >= 0)
        pal_raw(SYS_close, fd);
    return high;
}

extern "C" long PalFileGetFlags(int fd) {
    return pal_raw(SYS_fcntl, fd, F_GETFL);
}

extern "C" long PalFileGetCloseOnExec(int fd) {
    long flags = pal_raw(SYS_fcntl, fd, F_GETFD);
    return flags < 0 ? flags : (flags & FD_CLOEXEC) != 0;
}

extern "C" long PalFileSetCloseOnExec(int fd, bool cloexec) {
    return pal_raw(SYS_fcntl, fd, F_SETFD, cloexec ? FD_CLOEXEC : 0);
}

extern "C" long PalMemfdCreate(const char* name, unsigned flags) {
    return pal_raw(SYS_memfd_create, reinterpret_cast<long>(name), flags);
}

extern "C" long PalFileTruncate(int fd, size_t size) {
    return pal_raw(SYS_ftruncate, fd, static_cast<long>(size));
}

extern "C" long PalFileSeal(int fd, unsigned seals) {
    return pal_raw(SYS_fcntl, fd, F_ADD_SEALS, seals);
}

extern "C" long PalFileSameDescription(int a, int b) {
    constexpr long kKcmpFile = 0; /* KCMP_FILE, <linux/kcmp.h> */
    const long self = pal_raw(SYS_getpid);
    long order = pal_raw(SYS_kcmp, self, self, kKcmpFile, a, b);
    return order < 0 ? order : order == 0 ? 0 : 1;
}

extern "C" long PalFileReadAt(int fd, void* buf, size_t size, long offset) {
    long ret;
    do
        ret = pal_raw(SYS_pread64, fd, reinterpret_cast<long>(buf), static_cast<long>(size), offset);
    while (ret == -EINTR);
    return ret;
}

extern "C" long PalFileWriteAt(int fd, const void* buf, size_t size, long offset) {
    const char* p = static_cast<const char*>(buf);
    while (size > 0) {
        long written = pal_raw(SYS_pwrite64, fd, reinterpret_cast<long>(p), static_cast<long>(size), offset);
        if (written == -EINTR)
            continue;
        if (written < 0)
            return written;
        if (written == 0)
            return -EIO;
        p += written;
        size -= static_cast<size_t>(written);
        offset += written;
    }
    return 0;
}

extern "C" long PalFileSoleOpen(int fd, bool signal_set) {
    /* The kernel grants a write lease only when the file's write and read counts are the lease
     * taker's own (check_conflicting_open): no other description, no mapping. It is held for two
     * system calls. Should someone open the file through /proc/<pid>/fd meanwhile, the kernel
     * signals the lease's owner, this process: with SIGURG, whose default is to ignore it, rather
     * than SIGIO, whose default is to kill. */
    if (!signal_set)
        pal_raw(SYS_fcntl, fd, F_SETSIG, SIGURG);
    long ret = pal_raw(SYS_fcntl, fd, F_SETLEASE, F_WRLCK);
    if (ret == -EAGAIN || ret == -EBUSY)
        return 0;
    if (ret < 0)
        return ret;
    pal_raw(SYS_fcntl, fd, F_SETLEASE, F_UNLCK);
    return 1;
}

extern "C" long PalFileChangeDir(const char* path) {
    /* Not through the host's /sys/devices/system (pal_host_views.cpp): a directory reached there is
     * outside the process's own mount tree, whose name getcwd cannot give. */
    return pal_raw(SYS_chdir, reinterpret_cast<long>(path));
}

extern "C" long PalFileChangeDirFd(int fd) {
    return pal_raw(SYS_fchdir, fd);
}

extern "C" long PalFileGetCwd(char* buf, size_t size) {
    return pal_raw(SYS_getcwd, reinterpret_cast<long>(buf), static_cast<long>(size));
}

extern "C" long PalFileReadDir(int fd, void* buf, size_t size) {
    return pal_raw(SYS_getdents64, fd, reinterpret_cast<long>(buf), static_cast<long>(size));
}

extern "C" long PalFileXattr(PalXattrOp op, const char* path, const char* name, void* value, size_t size,
                             int flags) {
    const long p = reinterpret_cast<long>(path), n = reinterpret_cast<long>(name), v = reinterpret_cast<long>(value);
    switch (op) {
        case PAL_XATTR_GET:
            return pal_raw(SYS_lgetxattr, p, n, v, static_cast<long>(size));
        case PAL_XATTR_LIST:
            return pal_raw(SYS_llistxattr, p, v, static_cast<long>(size));
        case PAL_XATTR_SET:
            return pal_raw(SYS_lsetxattr, p, n, v, static_cast<long>(size), flags);
        case PAL_XATTR_REMOVE:
            return pal_raw(SYS_lremovexattr, p, n);
    }
    return -EINVAL;
}

/* The *xattrat calls' numbers (Linux 6.13), which older headers lack. */
constexpr long kSysSetxattrat = 463, kSysGetxattrat = 464, kSysListxattrat = 465, kSysRemovexattrat = 466;

extern "C" long PalFileXattrAt(PalXattrOp op, int dirfd, const char* path, unsigned at_flags, const char* name,
                               void* args, size_t size) {
    const long p = reinterpret_cast<long>(path), n = reinterpret_cast<long>(name), a = reinterpret_cast<long>(args);
    switch (op) {
        case PAL_XATTR_GET:
            return pal_raw(kSysGetxattrat, dirfd, p, at_flags, n, a, static_cast<long>(size));
        case PAL_XATTR_LIST:
            return pal_raw(kSysListxattrat, dirfd, p, at_flags, a, static_cast<long>(size));
        case PAL_XATTR_SET:
            return pal_raw(kSysSetxattrat, dirfd, p, at_flags, n, a, static_cast<long>(size));
        case PAL_XATTR_REMOVE:
            return pal_raw(kSysRemovexattrat, dirfd, p, at_flags, n);
    }
    return -EINVAL;
}

extern "C" long PalSocketGetOption(int fd, int level, int name, void* value, void* length) {
    return pal_raw(SYS_getsockopt, fd, level, name, reinterpret_cast<long>(value), reinterpret_cast<long>(length));
}

extern "C" long PalSocketSetOption(int fd, int level, int name, const void* value, unsigned length) {
    return pal_raw(SYS_setsockopt, fd, level, name, reinterpret_cast<long>(value), length);
}
