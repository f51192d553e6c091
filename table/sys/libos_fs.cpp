/* The file family: the paths of the virtual CPU files (libos_vfs.h).
 *
 * Implements open(2), openat(2), openat2(2), stat(2), lstat(2), newfstatat(2), statx(2), access(2),
 * faccessat(2), faccessat2(2), and chdir(2), fchdir(2) and getcwd(2), which keep the current
 * directory's virtual path when it is in the views (so that `cd /sys/devices/system/cpu; cat online`
 * and a cd into cpuV/ work). Each one looks at the path first: a path outside the virtual views
 * (nearly all of them) is left to the host, with the program's own arguments, so results and errors
 * are the host's; a virtual path is opened, examined or refused as the machine has it. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "libos/libos_caller.h"
#include "libos/libos_scratch.h"
#include "libos/libos_table.h"
#include "libos/libos_threads.h"
#include "libos/libos_vfs.h"
#include "pal/pal.h"

using libos::Caller;
using libos::LeaveToHost;
using libos::SyscallResult;
using libos::UserPtr;
using libos::VfsKind;
using libos::VfsPath;

namespace {

/* What follows a path's last component when it is a link: O_NOFOLLOW, and O_CREAT with O_EXCL (which
 * never opens through a link), take the link itself. */
libos::VfsFollow follow_of_open(int flags) {
    bool nofollow = (flags & O_NOFOLLOW) || (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL);
    return nofollow ? libos::VfsFollow::NotLast : libos::VfsFollow::Last;
}

/* The flags with which opening a readable file depends on nothing but the path. */
constexpr int kPlainOpen = O_ACCMODE | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | O_LARGEFILE | O_NOFOLLOW;

SyscallResult open_generated(Caller caller, const VfsPath& p, int flags, mode_t mode) {
    if (flags & O_DIRECTORY)
        return -ENOTDIR; /* a file, whatever else is asked (O_PATH too) */
    /* An O_PATH descriptor reads nothing, but it can be opened again through /proc/self/fd: it is one
     * of the generated content, which fstat and readlink tell apart as any generated descriptor. */
    if (flags & O_PATH)
        return libos::vfs_open_generated(caller, p, flags);
    /* The real file judges the open as the kernel judges it (O_CREAT|O_EXCL: EEXIST, O_DIRECT: EINVAL,
     * O_TMPFILE: ENOTDIR, writing a read-only sysfs file: EACCES, a caller's own permissions); a
     * read-only open of a file everyone may read needs no asking. */
    const bool plain = (flags & ~kPlainOpen) == 0 && (flags & O_ACCMODE) == O_RDONLY && (p.mode & 0444) == 0444;
    long write_error = 0, pwrite_error = 0;
    if (!plain) {
        long fd = caller.open_file(p.real, flags | O_CLOEXEC, mode);
        if (fd < 0)
            return fd;
        const bool refuses = !(p.mode & 0222) && !caller.is_remote();
        /* Only for writing, a file nobody may write (/proc/stat, a status file: root's open
         * succeeds): the real file itself, whose writes fail as natively (EIO, EINVAL), since its
         * content is never read through this descriptor. */
        if ((flags & O_ACCMODE) == O_WRONLY && refuses) {
            PalFileSetCloseOnExec(static_cast<int>(fd), (flags & O_CLOEXEC) != 0);
            return fd;
        }
        /* For reading and writing: the generated content, whose writes fail as the real file's
         * (refused_writes.cpp), asked now, before its number is given back for the program's. */
        if ((flags & O_ACCMODE) == O_RDWR && refuses) {
            write_error = PalFileWriteNothing(static_cast<int>(fd), false);
            pwrite_error = PalFileWriteNothing(static_cast<int>(fd), true);
        }
        PalFileClose(static_cast<int>(fd));
    }
    long fd = libos::vfs_open_generated(caller, p, flags);
    if (fd >= 0 && (write_error != 0 || pwrite_error != 0)) {
        libos::vfs_refuse_record(static_cast<int>(fd), write_error, pwrite_error);
        libos::syscall_route_writes(); /* syscall(SYS_write) of it answers as write() does */
    }
    return fd;
}

SyscallResult open_virtual(Caller caller, const VfsPath& p, int flags, mode_t mode) {
    /* The host files behind a view are opened and read with the caller's rights: the path was
     * resolved with them (strict mode's supervisor leaves the call to the host where it cannot take
     * them, and then no path is virtual). */
    if ((flags & O_PATH) && caller.is_remote() && p.kind != VfsKind::Error) {
        /* The kernel hands over no O_PATH descriptor (SECCOMP_IOCTL_NOTIF_ADDFD takes only a file
         * that can be read or written). Where the program's own path reaches the same file, the
         * host opens it; a mapped one (cpuV/ of cpuH/) gets a read-only descriptor instead. */
        if (!p.mapped)
            return LeaveToHost{};
        flags = (flags & ~(O_PATH | O_ACCMODE)) | O_RDONLY;
    }
    if ((flags & O_CREAT) && p.trailing_slash && p.kind != VfsKind::Error)
        return -EISDIR; /* the kernel's answer once the directory above is found */
    /* Strict mode's views: the caller's kernel has the machine's directories mounted, whose listings
     * are the machine's; the host's would list the host's CPUs. (An open that asks for more than
     * reading is judged by the host's directory, as without the views.) */
    constexpr int kTmpfileBit = O_TMPFILE & ~O_DIRECTORY;
    if (caller.sees_views() && (flags & (O_ACCMODE | O_CREAT | O_TRUNC | kTmpfileBit)) == O_RDONLY &&
        (p.kind == VfsKind::Directory || (p.kind == VfsKind::Redirect && S_ISDIR(p.mode))))
        return LeaveToHost{};
    switch (p.kind) {
        case VfsKind::Error:
            /* A last component that does not exist would be created, in a directory of sysfs or
             * /proc that cannot hold one. */
            if ((flags & O_CREAT) && p.error == -ENOENT && p.last_missing)
                return p.trailing_slash ? -EISDIR : -EACCES;
            return p.error;
        case VfsKind::Link:
            /* Not followed: O_NOFOLLOW refuses it, O_PATH opens the link, and O_CREAT|O_EXCL finds it
             * there. */
            if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
                return -EEXIST;
            if (!(flags & O_PATH))
                return -ELOOP;
            {
                /* The descriptor of the link: remembered, for fstat's inode of the machine's link
                 * (cpuV/nodeK of two vCPUs on one host CPU is one host link). */
                long fd = caller.open_file(p.real, flags, mode);
                if (fd >= 0 && !caller.is_remote())
                    libos::vfs_remember_dir(static_cast<int>(fd), p.virt);
                return fd;
            }
        case VfsKind::Generated:
            return open_generated(caller, p, flags, mode);
        case VfsKind::Redirect:
        case VfsKind::Directory: {
            long fd = caller.open_file(p.real, flags, mode);
            /* A remote caller's descriptor is the supervisor's until it is handed over: nothing to
             * remember here (its listing is the host's: see docs/strict-mode.md). */
            if (fd >= 0 && !caller.is_remote() &&
                (p.kind == VfsKind::Directory || S_ISDIR(p.mode) || libos::vfs_cpu_device_minor(p)))
                libos::vfs_remember_dir(static_cast<int>(fd), p.virt);
            return fd;
        }
        case VfsKind::NotVirtual:
            break;
    }
    return -ENOENT;
}

/* stat of a virtual path: the host file that stands for it, examined by the host and copied out as the
 * kernel copies it, after the lookup (a missing path is ENOENT before a bad buffer is EFAULT). A link
 * of the machine is the host's link of the same host CPU (sysfs gives its links no size). */
SyscallResult stat_virtual(Caller caller, const VfsPath& p, UserPtr<struct stat> buf, int flags) {
    if (p.kind == VfsKind::Error)
        return p.error;
    struct stat st;
    if (long ret = PalFileStatAt(AT_FDCWD, p.real, &st, flags | AT_SYMLINK_NOFOLLOW); ret < 0)
        return ret;
    if (S_ISCHR(st.st_mode) && libos::vfs_cpu_device_minor(p))
        st.st_rdev = makedev(major(st.st_rdev), p.vcpu);
    st.st_ino = libos::vfs_machine_ino_of(p.virt, st.st_mode, st.st_ino);
    st.st_nlink = libos::vfs_machine_nlink(p.virt, st.st_mode, st.st_nlink);
    return caller.copy_out(buf, &st, sizeof(st));
}

SyscallResult access_virtual(const VfsPath& p, int mode, int flags) {
    if (p.kind == VfsKind::Error)
        return p.error;
    /* The walk followed what was to be followed: only a link it stopped at is examined as a link. */
    return PalFileAccess(AT_FDCWD, p.real, mode, S_ISLNK(p.mode) ? flags | AT_SYMLINK_NOFOLLOW : flags);
}

/* fstatat(fd, "", AT_EMPTY_PATH) and statx(fd, "", AT_EMPTY_PATH) examine descriptor fd itself (glibc's
 * fstat is the first): a generated file's is the host file's it stands for. In-process only: strict
 * mode's filter does not trap these calls. */
bool empty_path(Caller caller, UserPtr<const char> path, int flags) {
    char c;
    return (flags & AT_EMPTY_PATH) && !caller.is_remote() && libos::vfs_active() &&
           caller.copy_in(&c, path.address(), 1) == 0 && c == '\0';
}

SyscallResult fstatat_empty(Caller caller, int fd, UserPtr<const char> path, UserPtr<struct stat> buf, int flags) {
    if (!empty_path(caller, path, flags))
        return LeaveToHost{};
    return libos_syscall_fstat(caller, fd, buf);
}

/* Out of line: inlined, its VfsPath joined statx's own in one frame (3.4 KiB of any caller's stack). */
__attribute__((noinline)) SyscallResult statx_empty(Caller caller, int fd, UserPtr<const char> path, int flags,
                                                    unsigned int mask, UserPtr<void> buf) {
    if (!empty_path(caller, path, flags))
        return LeaveToHost{};
    struct statx stx;
    if (long ret = PalFileStatx(fd, "", flags, mask, &stx); ret < 0)
        return ret;
    VfsPath p;
    if (libos::vfs_generated_fd(fd, stx.stx_mode, stx.stx_nlink, &p)) {
        if (long ret = PalFileStatx(AT_FDCWD, p.real, 0, mask, &stx); ret < 0)
            return ret;
    } else if ((S_ISDIR(stx.stx_mode) || S_ISLNK(stx.stx_mode) || S_ISCHR(stx.stx_mode)) &&
               libos::vfs_fd_path(fd, p.virt)) {
        if (uint32_t v; S_ISCHR(stx.stx_mode) && libos::vfs_cpu_device_vcpu(p.virt, &v))
            stx.stx_rdev_minor = v;
        stx.stx_ino = libos::vfs_machine_ino(p.virt, stx.stx_ino);
        stx.stx_nlink = static_cast<uint32_t>(libos::vfs_machine_nlink(p.virt, stx.stx_mode, stx.stx_nlink));
    }
    return caller.copy_out(buf, &stx, sizeof(stx));
}

libos::VfsFollow follow_of_at(int flags) {
    return (flags & AT_SYMLINK_NOFOLLOW) ? libos::VfsFollow::NotLast : libos::VfsFollow::Last;
}

/* A path the host resolves that reaches a generated file's memfd through a descriptor's link
 * (/proc/self/fd/N, /dev/fd/N, /proc/PID/fd/N), opened for writing or with O_TRUNC. A changing
 * file's memfd is not sealed (it is written again in place: table/vfs/live.cpp, and the pool's), so
 * the host would let that open write or truncate the content the program's own descriptors read.
 * Natively it is a new open of the real file, which it cannot write: so it is one here, of the
 * generated file (the real file judges it, and a descriptor for writing is a sealed memfd of its
 * own, or the real file when only writing is asked). Asked only once the process has such a file
 * open, of every path opened for writing: the link may be reached by any spelling (a bare "N" in a
 * directory descriptor of /proc/self/fd, a working directory there, /dev/stdin, a symbolic link of
 * the program's), so the path is examined: one stat, and for a memfd an O_PATH open, fstat, readlink and
 * close. */
SyscallResult reopen_for_writing(Caller caller, int dirfd, uintptr_t user_path, int flags, mode_t mode) {
    /* O_CREAT|O_EXCL makes a new file or fails: it never opens what a link leads to. */
    if (!libos::vfs_live_any() || caller.is_remote() || (flags & O_PATH) ||
        ((flags & O_ACCMODE) == O_RDONLY && !(flags & O_TRUNC)) || (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
        return LeaveToHost{};
    libos::ScratchOf<VfsPath> scratch; /* off the stack (libos_scratch.h) */
    if (!scratch)
        return LeaveToHost{};
    VfsPath& p = *scratch;
    /* The spelling first, copied as the kernel would read it (a bad pointer is the host's EFAULT). */
    char* text = p.virt;
    if (caller.copy_string_in(text, user_path, sizeof(p.virt)) < 0)
        return LeaveToHost{};
    /* First one stat of what the path reaches: only a memfd (a file of no name, on the memfds'
     * device) can be one, and only then is the path opened to read the memfd's name. */
    struct stat st;
    if (PalFileStatAt(dirfd, text, &st, (flags & O_NOFOLLOW) ? AT_SYMLINK_NOFOLLOW : 0) < 0 ||
        !libos::vfs_maybe_memfd(st))
        return LeaveToHost{};
    long probe = PalFileOpen(dirfd, text, O_PATH | O_CLOEXEC | (flags & O_NOFOLLOW), 0);
    if (probe < 0)
        return LeaveToHost{};
    bool generated = PalFileStat(static_cast<int>(probe), &st) == 0 &&
                     libos::vfs_generated_fd(static_cast<int>(probe), st.st_mode, st.st_nlink, &p);
    PalFileClose(static_cast<int>(probe));
    if (!generated)
        return LeaveToHost{};
    return open_generated(caller, p, flags, mode);
}

}  // namespace

/* openat(2). A virtual path opens in the LibOS (in strict mode's supervisor, which hands the
 * descriptor over); any other path is left to the host. */
SyscallResult libos_syscall_openat(Caller caller, int dirfd, UserPtr<const char> path, int flags, mode_t mode) {
    libos::PidScope pid_scope; /* one getpid for the walk, the pool and the table */
    VfsPath p;
    if (!libos::vfs_resolve(caller, dirfd, path.address(), &p, follow_of_open(flags)))
        return reopen_for_writing(caller, dirfd, path.address(), flags, mode);
    return open_virtual(caller, p, flags, mode);
}

/* open(2) */
SyscallResult libos_syscall_open(Caller caller, UserPtr<const char> path, int flags, mode_t mode) {
    libos::PidScope pid_scope; /* one getpid for the walk, the pool and the table */
    VfsPath p;
    if (!libos::vfs_resolve(caller, AT_FDCWD, path.address(), &p, follow_of_open(flags)))
        return reopen_for_writing(caller, AT_FDCWD, path.address(), flags, mode);
    return open_virtual(caller, p, flags, mode);
}

/* openat2(2). A virtual path given with the plain struct (24 bytes; flags, mode and RESOLVE_* flags the
 * kernel accepts) opens with how->flags and how->mode, resolved under how->resolve; everything else,
 * every other path and every error of the struct itself is the host's. */
SyscallResult libos_syscall_openat2(Caller caller, int dirfd, UserPtr<const char> path, UserPtr<const open_how_v0> how,
                                    size_t size) {
    libos::PidScope pid_scope;
    /* Only the plain form is answered here: a larger struct (whose tail the kernel checks) and flags
     * or RESOLVE_* bits the kernel does not know (EINVAL) are the host's to judge. RESOLVE_CACHED
     * (EAGAIN when the lookup would need I/O) asks nothing of the views, whose files are in memory. */
    constexpr uint64_t kKnownResolve = 0x3f;
    constexpr uint64_t kKnownFlags = O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK |
                                     O_DSYNC | FASYNC | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW |
                                     O_NOATIME | O_CLOEXEC | O_SYNC | O_PATH | __O_TMPFILE;
    if (libos::vfs_active() && size == sizeof(open_how_v0)) {
        open_how_v0 h;
        VfsPath p;
        if (caller.copy_in(&h, how, sizeof(h)) == 0 && (h.resolve & ~kKnownResolve) == 0 &&
            (h.flags & ~kKnownFlags) == 0 && (h.mode & ~07777ULL) == 0 &&
            (h.mode == 0 || (h.flags & (O_CREAT | __O_TMPFILE)))) {
            if (libos::vfs_resolve(caller, dirfd, path.address(), &p, follow_of_open(static_cast<int>(h.flags)),
                                   h.resolve))
                return open_virtual(caller, p, static_cast<int>(h.flags), static_cast<mode_t>(h.mode));
            /* RESOLVE_* flags (no magic links, beneath...) are the host's to apply. */
            if (h.resolve == 0)
                return reopen_for_writing(caller, dirfd, path.address(), static_cast<int>(h.flags),
                                          static_cast<mode_t>(h.mode));
        }
    }
    return LeaveToHost{};
}

/* newfstatat(2): fstatat, and stat/lstat in glibc 2.33+. */
SyscallResult libos_syscall_newfstatat(Caller caller, int dirfd, UserPtr<const char> path, UserPtr<struct stat> buf,
                                       int flags) {
    VfsPath p;
    if (!libos::vfs_resolve(caller, dirfd, path.address(), &p, follow_of_at(flags)))
        return fstatat_empty(caller, dirfd, path, buf, flags);
    return stat_virtual(caller, p, buf, flags);
}

/* stat(2) */
SyscallResult libos_syscall_stat(Caller caller, UserPtr<const char> path, UserPtr<struct stat> buf) {
    VfsPath p;
    if (!libos::vfs_resolve(caller, AT_FDCWD, path.address(), &p))
        return LeaveToHost{};
    return stat_virtual(caller, p, buf, 0);
}

/* lstat(2) */
SyscallResult libos_syscall_lstat(Caller caller, UserPtr<const char> path, UserPtr<struct stat> buf) {
    VfsPath p;
    if (!libos::vfs_resolve(caller, AT_FDCWD, path.address(), &p, libos::VfsFollow::NotLast))
        return LeaveToHost{};
    return stat_virtual(caller, p, buf, AT_SYMLINK_NOFOLLOW);
}

/* statx(2) */
SyscallResult libos_syscall_statx(Caller caller, int dirfd, UserPtr<const char> path, int flags, unsigned int mask,
                                  UserPtr<void> buf) {
    VfsPath p;
    if (!libos::vfs_resolve(caller, dirfd, path.address(), &p, follow_of_at(flags)))
        return statx_empty(caller, dirfd, path, flags, mask, buf);
    if (p.kind == VfsKind::Error)
        return p.error;
    struct statx stx;
    if (long ret = PalFileStatx(AT_FDCWD, p.real, flags | AT_SYMLINK_NOFOLLOW, mask, &stx); ret < 0)
        return ret;
    if (S_ISCHR(stx.stx_mode) && libos::vfs_cpu_device_minor(p))
        stx.stx_rdev_minor = p.vcpu;
    stx.stx_ino = libos::vfs_machine_ino_of(p.virt, stx.stx_mode, stx.stx_ino);
    stx.stx_nlink = static_cast<uint32_t>(libos::vfs_machine_nlink(p.virt, stx.stx_mode, stx.stx_nlink));
    return caller.copy_out(buf, &stx, sizeof(stx));
}

/* faccessat2(2) */
SyscallResult libos_syscall_faccessat2(Caller caller, int dirfd, UserPtr<const char> path, int mode, int flags) {
    VfsPath p;
    if (!libos::vfs_resolve(caller, dirfd, path.address(), &p, follow_of_at(flags)))
        return LeaveToHost{};
    return access_virtual(p, mode, flags);
}

/* faccessat(2) */
SyscallResult libos_syscall_faccessat(Caller caller, int dirfd, UserPtr<const char> path, int mode) {
    VfsPath p;
    if (!libos::vfs_resolve(caller, dirfd, path.address(), &p))
        return LeaveToHost{};
    return access_virtual(p, mode, 0);
}

/* access(2) */
SyscallResult libos_syscall_access(Caller caller, UserPtr<const char> path, int mode) {
    return libos_syscall_faccessat(caller, AT_FDCWD, path, mode);
}

/* chdir(2). A virtual directory is entered through its host directory (cpuV/ is the host's cpuH/);
 * a missing one (cpu9 of 8) gives ENOENT. Any other directory is entered by the host, and then looked
 * at: the host's path of a view's directory is its virtual path, but for cpuV/. */
SyscallResult libos_syscall_chdir(Caller caller, UserPtr<const char> path) {
    VfsPath p;
    if (!libos::vfs_resolve(caller, AT_FDCWD, path.address(), &p)) {
        long ret = PalFileChangeDir(path.for_kernel());
        if (ret == 0 && libos::vfs_active())
            libos::vfs_note_host_cwd();
        return ret;
    }
    if (p.kind == VfsKind::Error)
        return p.error;
    if (p.kind != VfsKind::Directory && !(p.kind == VfsKind::Redirect && S_ISDIR(p.mode)))
        return -ENOTDIR;
    long ret = PalFileChangeDir(p.real);
    if (ret == 0)
        libos::vfs_set_cwd(p.virt);
    return ret;
}

/* fchdir(2) */
SyscallResult libos_syscall_fchdir(Caller, int fd) {
    long ret = PalFileChangeDirFd(fd);
    if (ret == 0 && libos::vfs_active()) {
        char virt[libos::kVfsPathMax];
        if (libos::vfs_dir_path(fd, virt))
            libos::vfs_set_cwd(virt);
        else
            libos::vfs_note_host_cwd();
    }
    return ret;
}

/* getcwd(2): the virtual path when the current directory is in the views. The kernel returns the
 * length with the NUL, and ERANGE when it does not fit. */
SyscallResult libos_syscall_getcwd(Caller caller, UserPtr<char> buf, unsigned long size) {
    char virt[libos::kVfsPathMax];
    if (!libos::vfs_active() || !libos::vfs_cwd(virt))
        return LeaveToHost{};
    size_t len = strlen(virt) + 1;
    if (size < len)
        return -ERANGE;
    if (caller.copy_out(buf, virt, len) < 0)
        return -EFAULT;
    return static_cast<long>(len);
}
