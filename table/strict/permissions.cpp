/* The kernel's permission checks for a remote caller (libos_caller.h: may_change, may_open). The
 * supervisor acts with its own rights, which may be more than the caller's; where the host would
 * check against the supervisor, these check against the caller, as the kernel would have. */
#include <fcntl.h>
#include <sys/stat.h>

#include "libos/libos_caller.h"
#include "libos/libos_strict.h"
#include "pal/pal.h"

namespace libos {

/* sched_setaffinity's check: the caller's effective uid must be the target's real or effective uid,
 * or the caller must have CAP_SYS_NICE. The target is looked up first, as the kernel does: ESRCH
 * before EPERM. A caller may always change itself. */
long Caller::remote_may_change(pid_t target) const {
    if (target <= 0 || target == remote_->tid)
        return 0;
    PalCredentials mine, theirs;
    long ret = PalThreadCredentials(target, &theirs);
    if (ret < 0)
        return ret == -ENOENT ? -ESRCH : ret;
    if (PalThreadCredentials(remote_->tid, &mine) < 0)
        return -ESRCH;
    constexpr uint64_t kCapSysNice = 1ULL << 23;
    if (mine.euid == theirs.euid || mine.euid == theirs.uid || (mine.cap_effective & kCapSysNice))
        return 0;
    return -EPERM;
}

/* Unless the caller has the supervisor's effective uid or CAP_DAC_OVERRIDE, the open goes ahead only
 * if the file's permission bits for everyone grant the access asked for: a stricter test than the
 * kernel's (groups and ACLs are not looked at), so a caller never gets more than it could have
 * opened itself. */
long Caller::remote_may_open(const char* path, int flags) const {
    PalCredentials task, own;
    if (PalThreadCredentials(remote_->tid, &task) < 0)
        return -ESRCH;
    if (PalThreadCredentials(PalThreadGetId(), &own) == 0 && task.euid == own.euid)
        return 0;
    constexpr uint64_t kCapDacOverride = 1ULL << 1;
    if (task.cap_effective & kCapDacOverride)
        return 0;
    struct stat st;
    long ret = PalFileStatAt(AT_FDCWD, path, &st, 0);
    if (ret < 0)
        return ret;
    const int access = flags & O_ACCMODE;
    const bool reads = access == O_RDONLY || access == O_RDWR;
    const bool writes = access != O_RDONLY || (flags & O_TRUNC);
    if ((reads && !(st.st_mode & S_IROTH)) || (writes && !(st.st_mode & S_IWOTH)) ||
        (S_ISDIR(st.st_mode) && !(st.st_mode & S_IXOTH)))
        return -EACCES;
    return 0;
}

}  // namespace libos
