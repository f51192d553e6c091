/* The kernel's permission checks for a remote caller (libos_caller.h). The supervisor acts with its own
 * rights, which may be more than the caller's (libos-run as root, the program as another user, or with
 * capabilities that count only in a user namespace of its own). Where the host would check the
 * supervisor, the caller is checked instead, as the kernel would have checked it:
 *   - a change of another task's mask (may_change): cap_capable's rules, capabilities counting only
 *     in the caller's user namespace and the namespaces below it;
 *   - a host file opened or read on the caller's behalf: the supervisor's thread takes the caller's
 *     rights on files for the length of the open, so the kernel's own checks (permission bits, ACLs,
 *     /proc's hidepid) apply to the caller. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "libos/libos_caller.h"
#include "libos/libos_strict.h"
#include "pal/pal.h"

namespace libos {
namespace {

constexpr int kCapSysNice = 23;

/* A namespace descriptor, closed when it goes. */
class NamespaceFd {
public:
    explicit NamespaceFd(long fd) : fd_(fd) {}
    ~NamespaceFd() {
        if (fd_ >= 0)
            PalFileClose(static_cast<int>(fd_));
    }
    NamespaceFd(const NamespaceFd&) = delete;
    NamespaceFd& operator=(const NamespaceFd&) = delete;
    void reset(long fd) {
        if (fd_ >= 0)
            PalFileClose(static_cast<int>(fd_));
        fd_ = fd;
    }
    int get() const { return static_cast<int>(fd_); }
    bool ok() const { return fd_ >= 0; }

private:
    long fd_;
};

bool same_namespace(int a, int b) {
    struct stat sa, sb;
    return PalFileStat(a, &sa) == 0 && PalFileStat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* How many parents user namespace `fd` has within the supervisor's reach. */
int depth_of(int fd) {
    int depth = 0;
    NamespaceFd ns(PalUserNamespaceParent(fd));
    while (ns.ok() && depth < 64) {
        ++depth;
        ns.reset(PalUserNamespaceParent(ns.get()));
    }
    return depth;
}

/* The kernel's cap_capable(): whether a thread with credentials `caller`, whose user namespace is
 * `caller_ns`, has capability `cap` over the user namespace `target_ns`. Its capabilities count in
 * its own namespace; in a namespace below it, it has every capability if it owns the namespace's
 * ancestor just below its own; above or beside it, none. */
bool capable(const PalCredentials& caller, int caller_ns, int target_ns, int cap) {
    const int caller_depth = depth_of(caller_ns);
    NamespaceFd ns(PalFileDuplicateHigh(target_ns, 0, true));
    while (ns.ok()) {
        if (same_namespace(ns.get(), caller_ns))
            return (caller.cap_effective >> cap) & 1;
        if (depth_of(ns.get()) <= caller_depth)
            return false;
        NamespaceFd parent(PalUserNamespaceParent(ns.get()));
        if (!parent.ok())
            return false;
        if (same_namespace(parent.get(), caller_ns) &&
            PalUserNamespaceOwner(ns.get()) == static_cast<long>(caller.euid))
            return true;
        ns.reset(PalFileDuplicateHigh(parent.get(), 0, true));
    }
    return false;
}

/* The rights on files to take for `task`: its fsuid, fsgid and groups, and its capabilities where
 * they count (its user namespace is the supervisor's; elsewhere, none: a capability of a namespace of
 * its own does not reach the supervisor's files), within the supervisor's own. False when they cannot
 * be known or taken exactly. */
bool rights_of(RemoteTask* task) {
    if (task->rights >= 0)
        return task->rights == 1;
    task->rights = 0;
    PalCredentials theirs, mine;
    PalFileRights own;
    if (PalThreadCredentials(task->tid, &theirs) < 0 || PalThreadCredentials(PalThreadGetId(), &mine) < 0 ||
        PalThreadGetFileRights(&own) < 0 || theirs.ngroups > PAL_MAX_GROUPS)
        return false;
    PalFileRights& r = task->file_rights;
    r.fsuid = theirs.fsuid;
    r.fsgid = theirs.fsgid;
    r.ngroups = theirs.ngroups;
    for (uint32_t i = 0; i < theirs.ngroups; ++i)
        r.groups[i] = theirs.groups[i];
    r.cap_effective = theirs.user_ns == mine.user_ns ? theirs.cap_effective & own.cap_effective : 0;
    /* A caller with a capability the supervisor lacks gets fewer rights here than the kernel would
     * give it: never more. Whether they can be taken at all is found out at the first file. */
    task->rights = 1;
    return true;
}

/* The caller whose rights this supervisor thread holds now, inside a CallerRights. */
constinit thread_local RemoteTask* t_holding __attribute__((tls_model("initial-exec"))) = nullptr;
/* This supervisor thread could not get its own rights back after a caller's: it holds rights that
 * are neither, and must answer nothing more (rights_lost). */
constinit thread_local bool t_lost __attribute__((tls_model("initial-exec"))) = false;

/* Takes `rights` for this thread; a failure that left the thread with neither marks it lost. */
long take_rights(const PalFileRights& rights) {
    long ret = PalThreadSetFileRights(&rights);
    if (ret == -ENOTRECOVERABLE)
        t_lost = true;
    return ret;
}

/* Gives this thread its own rights back (`own`, read before it took a caller's), trying twice; the
 * thread is lost if it cannot. */
void restore_rights(const PalFileRights& own) {
    if (PalThreadSetFileRights(&own) < 0 && PalThreadSetFileRights(&own) < 0)
        t_lost = true;
    t_holding = nullptr;
}

/* The caller's rights on files, taken by this supervisor thread while it exists. Inside another for
 * the same caller (an open within a path walk's), nothing is taken twice. */
class CallerRights {
public:
    explicit CallerRights(RemoteTask* task) {
        if (t_holding == task) {
            taken_ = true;
            return;
        }
        if (!rights_of(task) || PalThreadGetFileRights(&saved_) < 0)
            return;
        long ret = take_rights(task->file_rights);
        taken_ = ret == 0;
        restore_ = taken_;
        if (taken_)
            t_holding = task;
        else
            task->rights = 0; /* the supervisor may not take them: the call is the host's */
    }
    ~CallerRights() {
        if (restore_)
            restore_rights(saved_);
    }
    CallerRights(const CallerRights&) = delete;
    CallerRights& operator=(const CallerRights&) = delete;
    bool taken() const { return taken_; }

private:
    PalFileRights saved_;
    bool taken_ = false;
    bool restore_ = false;
};

}  // namespace

/* sched_setaffinity's check (the kernel's check_same_owner, then CAP_SYS_NICE in the target's user
 * namespace). The target is looked up first, as the kernel does: ESRCH before EPERM. A caller may
 * always change itself. */
long Caller::remote_may_change(pid_t target) const {
    if (target <= 0 || target == remote_->tid)
        return 0;
    PalCredentials mine, theirs;
    long ret = PalThreadCredentials(target, &theirs);
    if (ret < 0)
        return ret == -ENOENT ? -ESRCH : ret;
    if (PalThreadCredentials(remote_->tid, &mine) < 0)
        return -ESRCH;
    /* Read by tid: if the caller ended since its call was checked and another task took its tid, these
     * are that task's rights (a root's, maybe). The call still waiting says they were the caller's. */
    if (!remote_->waits())
        return -ESRCH;
    if (mine.euid == theirs.euid || mine.euid == theirs.uid)
        return 0;
    NamespaceFd caller_ns(PalUserNamespaceOpen(remote_->tid)), target_ns(PalUserNamespaceOpen(target));
    if (!target_ns.ok())
        return -ESRCH;
    /* The same for the namespace the caller's capabilities count in: held first, then checked. */
    if (caller_ns.ok() && !remote_->waits())
        return -ESRCH;
    if (caller_ns.ok() && capable(mine, caller_ns.get(), target_ns.get(), kCapSysNice))
        return 0;
    return -EPERM;
}

long Caller::remote_open_file(const char* path, int flags, mode_t mode) const {
    CallerRights rights(remote_);
    if (!rights.taken())
        return -EACCES;
    return PalFileOpen(AT_FDCWD, path, flags, mode);
}

long Caller::remote_read_file(const char* path, char* buf, size_t size) const {
    CallerRights rights(remote_);
    if (!rights.taken())
        return -EACCES;
    return PalReadFile(path, buf, size);
}

bool FileRightsHold::acquire() {
    RemoteTask* task = caller_.remote();
    if (t_holding == task) {
        held_ = true; /* inside another hold of the same caller's */
        return true;
    }
    if (!rights_of(task) || PalThreadGetFileRights(&saved_) < 0 || take_rights(task->file_rights) < 0) {
        task->rights = 0; /* the supervisor may not take them: the call is the host's */
        refused_ = true;
        return false;
    }
    held_ = restore_ = true;
    t_holding = task;
    return true;
}

void FileRightsHold::release() {
    if (restore_)
        restore_rights(saved_);
    held_ = restore_ = false;
}

bool rights_lost() {
    return t_lost;
}

}  // namespace libos
