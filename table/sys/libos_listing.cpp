/* Directory listings of the views (libos_vfs.h: vfs_read_listing): getdents64(2) and getdents(2) on a
 * descriptor of /sys/devices/system/cpu, /sys/devices/system/node, nodeN, cpuV, /sys/bus/cpu/devices,
 * /sys/bus/node/devices or /dev/cpu list the machine's entries, as the shim's readdir does. Every other descriptor is the
 * host's. lseek(2) on such a descriptor is the host's own: the listing's positions are the host file
 * offset (listing.cpp).
 *
 * In-process only: strict mode's filter traps none of these calls (docs/strict-mode.md). */
#include <errno.h>

#include "libos/libos_caller.h"
#include "libos/libos_table.h"
#include "libos/libos_vfs.h"

using libos::Caller;
using libos::LeaveToHost;
using libos::SyscallResult;
using libos::UserPtr;

namespace {

SyscallResult listing(Caller caller, unsigned int fd, UserPtr<void> dirent, unsigned int count,
                      libos::DirentFormat format) {
    libos::VfsDir dir;
    int32_t node;
    if (caller.is_remote() || !libos::vfs_listing_of(static_cast<int>(fd), &dir, &node))
        return LeaveToHost{};
    return libos::vfs_read_listing(caller, static_cast<int>(fd), dir, node, dirent.address(), count, format);
}

}  // namespace

/* getdents64(2) */
SyscallResult libos_syscall_getdents64(Caller caller, unsigned int fd, UserPtr<void> dirent, unsigned int count) {
    return listing(caller, fd, dirent, count, libos::DirentFormat::Linux64);
}

/* getdents(2): the same entries as struct linux_dirent (the type in each record's last byte). */
SyscallResult libos_syscall_getdents(Caller caller, unsigned int fd, UserPtr<void> dirent, unsigned int count) {
    return listing(caller, fd, dirent, count, libos::DirentFormat::Linux);
}
