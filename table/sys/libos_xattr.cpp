/* The extended-attribute calls on the views' paths: getxattr(2), lgetxattr(2), listxattr(2),
 * llistxattr(2), setxattr(2), lsetxattr(2), removexattr(2), lremovexattr(2), and the *xattrat(2) calls
 * of Linux 6.13. A path of the views is resolved as stat resolves it (cpu9 of 8 vCPUs: ENOENT), and the
 * call is made on the host file that stands for it (cpuV/ is the host's cpuH/, a generated file the
 * host file it is made from, nodeN/cpuV the host's link of the same host CPU): `ls -l` and `getfattr`
 * get the kernel's answers for the real sysfs file. Any other path is the host's. The descriptor forms
 * (fgetxattr...) are the host's: a view's directory descriptor is the host directory's.
 *
 * In-process only: strict mode's filter traps none of these calls. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "libos/libos_caller.h"
#include "libos/libos_table.h"
#include "libos/libos_vfs.h"
#include "pal/pal.h"

using libos::Caller;
using libos::LeaveToHost;
using libos::SyscallResult;
using libos::UserPtr;
using libos::VfsKind;
using libos::VfsPath;

namespace {

/* The host file behind a path of the views, or false for the host's own paths. */
bool resolve(Caller caller, int dirfd, UserPtr<const char> path, libos::VfsFollow follow, VfsPath* p) {
    return !caller.is_remote() && libos::vfs_resolve(caller, dirfd, path.address(), p, follow);
}

/* The kernel takes the attribute's name in before it looks the path up: a bad name's EFAULT, or an
 * empty or too long one's ERANGE, comes before a missing path's ENOENT. */
long name_error(Caller caller, PalXattrOp op, UserPtr<const char> name) {
    if (op == PAL_XATTR_LIST)
        return 0;
    char text[256]; /* XATTR_NAME_MAX + 1 */
    long n = caller.copy_string_in(text, name.address(), sizeof(text));
    return n == -ENAMETOOLONG || n == 0 ? -ERANGE : n < 0 ? n : 0;
}

SyscallResult on_path(Caller caller, PalXattrOp op, UserPtr<const char> path, libos::VfsFollow follow,
                      UserPtr<const char> name, UserPtr<void> value, size_t size, int flags) {
    VfsPath p;
    if (!resolve(caller, AT_FDCWD, path, follow, &p))
        return LeaveToHost{};
    if (p.kind == VfsKind::Error) {
        long bad_name = name_error(caller, op, name);
        return bad_name ? bad_name : p.error;
    }
    /* The walk followed what was to be followed: the host file is taken as it stands. */
    return PalFileXattr(op, p.real, name.for_kernel(), value.for_kernel(), size, flags);
}

libos::VfsFollow follow_of(unsigned at_flags) {
    return (at_flags & AT_SYMLINK_NOFOLLOW) ? libos::VfsFollow::NotLast : libos::VfsFollow::Last;
}

SyscallResult on_path_at(Caller caller, PalXattrOp op, int dirfd, UserPtr<const char> path, unsigned at_flags,
                         UserPtr<const char> name, UserPtr<void> args, size_t size) {
    VfsPath p;
    /* AT_EMPTY_PATH names the descriptor itself: the host's. */
    if (!resolve(caller, dirfd, path, follow_of(at_flags), &p))
        return LeaveToHost{};
    if (p.kind == VfsKind::Error) {
        long bad_name = name_error(caller, op, name);
        return bad_name ? bad_name : p.error;
    }
    return PalFileXattrAt(op, AT_FDCWD, p.real, (at_flags & ~AT_EMPTY_PATH) | AT_SYMLINK_NOFOLLOW,
                          name.for_kernel(), args.for_kernel(), size);
}

}  // namespace

/* getxattr(2) */
SyscallResult libos_syscall_getxattr(Caller caller, UserPtr<const char> path, UserPtr<const char> name,
                                     UserPtr<void> value, size_t size) {
    return on_path(caller, PAL_XATTR_GET, path, libos::VfsFollow::Last, name, value, size, 0);
}

/* lgetxattr(2) */
SyscallResult libos_syscall_lgetxattr(Caller caller, UserPtr<const char> path, UserPtr<const char> name,
                                      UserPtr<void> value, size_t size) {
    return on_path(caller, PAL_XATTR_GET, path, libos::VfsFollow::NotLast, name, value, size, 0);
}

/* listxattr(2) */
SyscallResult libos_syscall_listxattr(Caller caller, UserPtr<const char> path, UserPtr<char> list, size_t size) {
    return on_path(caller, PAL_XATTR_LIST, path, libos::VfsFollow::Last, UserPtr<const char>(),
                   UserPtr<void>(list.address()), size, 0);
}

/* llistxattr(2) */
SyscallResult libos_syscall_llistxattr(Caller caller, UserPtr<const char> path, UserPtr<char> list, size_t size) {
    return on_path(caller, PAL_XATTR_LIST, path, libos::VfsFollow::NotLast, UserPtr<const char>(),
                   UserPtr<void>(list.address()), size, 0);
}

/* setxattr(2) */
SyscallResult libos_syscall_setxattr(Caller caller, UserPtr<const char> path, UserPtr<const char> name,
                                     UserPtr<const void> value, size_t size, int flags) {
    return on_path(caller, PAL_XATTR_SET, path, libos::VfsFollow::Last, name, UserPtr<void>(value.address()), size,
                   flags);
}

/* lsetxattr(2) */
SyscallResult libos_syscall_lsetxattr(Caller caller, UserPtr<const char> path, UserPtr<const char> name,
                                      UserPtr<const void> value, size_t size, int flags) {
    return on_path(caller, PAL_XATTR_SET, path, libos::VfsFollow::NotLast, name, UserPtr<void>(value.address()),
                   size, flags);
}

/* removexattr(2) */
SyscallResult libos_syscall_removexattr(Caller caller, UserPtr<const char> path, UserPtr<const char> name) {
    return on_path(caller, PAL_XATTR_REMOVE, path, libos::VfsFollow::Last, name, UserPtr<void>(), 0, 0);
}

/* lremovexattr(2) */
SyscallResult libos_syscall_lremovexattr(Caller caller, UserPtr<const char> path, UserPtr<const char> name) {
    return on_path(caller, PAL_XATTR_REMOVE, path, libos::VfsFollow::NotLast, name, UserPtr<void>(), 0, 0);
}

/* getxattrat(2): `args` is a struct xattr_args, `size` its size. */
SyscallResult libos_syscall_getxattrat(Caller caller, int dirfd, UserPtr<const char> path, unsigned at_flags,
                                       UserPtr<const char> name, UserPtr<void> args, size_t size) {
    return on_path_at(caller, PAL_XATTR_GET, dirfd, path, at_flags, name, args, size);
}

/* setxattrat(2) */
SyscallResult libos_syscall_setxattrat(Caller caller, int dirfd, UserPtr<const char> path, unsigned at_flags,
                                       UserPtr<const char> name, UserPtr<void> args, size_t size) {
    return on_path_at(caller, PAL_XATTR_SET, dirfd, path, at_flags, name, args, size);
}

/* listxattrat(2) */
SyscallResult libos_syscall_listxattrat(Caller caller, int dirfd, UserPtr<const char> path, unsigned at_flags,
                                        UserPtr<char> list, size_t size) {
    return on_path_at(caller, PAL_XATTR_LIST, dirfd, path, at_flags, UserPtr<const char>(),
                      UserPtr<void>(list.address()), size);
}

/* removexattrat(2) */
SyscallResult libos_syscall_removexattrat(Caller caller, int dirfd, UserPtr<const char> path, unsigned at_flags,
                                          UserPtr<const char> name) {
    return on_path_at(caller, PAL_XATTR_REMOVE, dirfd, path, at_flags, name, UserPtr<void>(), 0);
}
