/* Who a handler serves, and what it may answer.
 *
 * Every handler receives its caller explicitly, as gVisor's receive their *kernel.Task. In-process
 * (the shim) the caller is the calling thread itself. In strict mode the supervisor (launcher/strict/)
 * runs the same handlers for a thread of another process that trapped in the launch's seccomp
 * filter: a remote caller. A handler asks its caller for the task a pid names (target), for the
 * kernel's permission to change it (may_change, may_open) and for copies of its memory (copy_in,
 * copy_out); the answers for a remote caller are worked out in table/strict/.
 *
 * A handler returns a SyscallResult: a result, -errno, or LeaveToHost when the call is not the
 * LibOS's to answer (a path outside the views, a machine-less process): the dispatcher then passes
 * the program's own arguments to the host unchanged, and for a remote caller the kernel runs the
 * call as the program issued it (SECCOMP_USER_NOTIF_FLAG_CONTINUE). */
#ifndef LIBOS_CALLER_H
#define LIBOS_CALLER_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "libos/libos_config.h"
#include "libos/libos_threads.h"
#include "libos/libos_user.h"
#include "pal/pal.h"

namespace libos {

struct RemoteTask; /* libos_strict.h */

/* The outcome "the host answers this call, as the program issued it". */
struct LeaveToHost {};

/* What a handler returns: a result (>= 0), -errno, or LeaveToHost. */
class SyscallResult {
public:
    constexpr SyscallResult(long value) : value_(value), to_host_(false) {}
    constexpr SyscallResult(LeaveToHost) : value_(0), to_host_(true) {}
    constexpr bool leaves_to_host() const { return to_host_; }
    /* The result or -errno; meaningless when the call leaves to the host. */
    constexpr long value() const { return value_; }

private:
    long value_;
    bool to_host_;
};

/* A handle on the caller: copy it freely. */
/* A task a handler acts on or asks about (Caller::resolve): the host's tid for it and, when it was
 * looked up in another PID namespace, a pidfd that holds it. A tid found by lookup may name another
 * task once its own has been reaped (tids are reused): after acting, a handler asks gone(), and
 * answers as the kernel does for a task that is no more (ESRCH) rather than with what the host said
 * about whichever task has the tid now. A zombie is not gone: the kernel still finds it by its pid. */
class TargetTask {
public:
    TargetTask() = default;
    ~TargetTask() {
        if (pidfd_ >= 0)
            PalFileClose(pidfd_);
    }
    TargetTask(const TargetTask&) = delete;
    TargetTask& operator=(const TargetTask&) = delete;
    /* Keeps `pidfd`, a pidfd of tid, until the end. */
    void hold(int pidfd) { pidfd_ = pidfd; }
    bool gone() const { return pidfd_ >= 0 && PalPidfdEnded(pidfd_) != 0; }

    pid_t tid = 0; /* as the host names it: what the PAL's calls are given */
    /* Its slot's name (libos_threads.h): its tid in its own PID namespace, and that namespace
     * (SlotNamespace; 0: the LibOS's own, where slot_tid is tid). */
    pid_t slot_tid = 0;
    uint64_t slot_ns = 0;

private:
    int pidfd_ = -1;
};

class Caller {
public:
    /* The thread that called into the LibOS. */
    static constexpr Caller self() { return Caller(nullptr); }
    /* A thread of another process, served by strict mode's supervisor. */
    explicit constexpr Caller(RemoteTask* remote) : remote_(remote) {}

    bool is_remote() const { return remote_ != nullptr; }
    RemoteTask* remote() const { return remote_; }

    /* The calling thread's kernel tid, and its process's pid. */
    pid_t tid() const { return remote_ ? remote_tid() : PalThreadGetId(); }
    pid_t process() const { return remote_ ? remote_process() : PalProcessGetId(); }

    /* The task that `pid` names, as the host is to be asked about it: "0", the calling thread, is the
     * remote thread's tid; in-process 0 stays 0, which the host reads the same way. */
    pid_t target(pid_t pid) const { return remote_ && pid == 0 ? remote_tid() : pid; }
    /* Whether `pid` names the very thread running this handler (in-process: 0 or its own tid), whose
     * mask is its own slot and which runs on a host CPU right now. */
    bool is_self(pid_t pid) const { return !remote_ && (pid == 0 || pid == self_tid()); }

    /* The task `pid` names as the host names it, into *out: 0, or -ESRCH where the kernel finds no
     * such task. In-process the pid is passed on as it is (0: the calling thread), and so it is for a
     * remote caller of the supervisor's PID namespace (0: the remote thread). A remote caller of
     * another namespace (`unshare -fp`, a container) names the tasks of its own namespace, which
     * may be other tasks, or none, under the same numbers here: they are looked up there, and
     * `out` holds the task found, so that gone() tells whether it ended meanwhile
     * (table/strict/pids.cpp). */
    long resolve(pid_t pid, TargetTask* out) const {
        if (!remote_) {
            out->tid = out->slot_tid = pid;
            return 0;
        }
        return remote_resolve(pid, out);
    }
    /* Whether a path the caller names means the same file to the LibOS: not for a remote caller in
     * another root directory or mount namespace (a chroot, a container). */
    bool shares_files() const { return !remote_ || remote_shares_files(); }
    /* Whether the caller is a remote one in strict mode's views (libos_strict.h: LaunchViews), whose
     * kernel shows the machine's directories of /sys/devices/system/{cpu,node} itself. */
    bool sees_views() const { return remote_ && remote_in_views(); }

    /* The kernel's permission check of a change to task `target` (sched_setaffinity's: the same
     * owner, or CAP_SYS_NICE in the target's user namespace), where the host cannot make it with the
     * caller's rights: 0, -ESRCH or -EPERM. In-process the host itself checks, at the call the
     * handler makes. */
    long may_change(pid_t target) const { return remote_ ? remote_may_change(target) : 0; }

    /* Host files opened and read on the caller's behalf, with the caller's own rights on files (its
     * filesystem uid and gid, groups and capabilities), so that the kernel checks them as it would
     * check the caller's own open. In-process the caller's rights are the thread's. */
    long open_file(const char* path, int flags, mode_t mode) const {
        return remote_ ? remote_open_file(path, flags, mode) : PalFileOpen(AT_FDCWD, path, flags, mode);
    }
    long read_file(const char* path, char* buf, size_t size) const {
        return remote_ ? remote_read_file(path, buf, size) : PalReadFile(path, buf, size);
    }

    /* Copies between the LibOS's memory and the caller's: 0, or -EFAULT where the kernel's
     * copy_from_user/copy_to_user would fault (-ESRCH: a remote caller has gone). */
    long copy_in(void* dst, uintptr_t src, size_t size) const {
        if (__builtin_expect(remote_ != nullptr, 0))
            return remote_copy_in(dst, src, size);
        return PalUserCopy(dst, reinterpret_cast<const void*>(src), size) < 0 ? -EFAULT : 0;
    }
    long copy_out(uintptr_t dst, const void* src, size_t size) const {
        if (__builtin_expect(remote_ != nullptr, 0))
            return remote_copy_out(dst, src, size);
        return PalUserCopy(reinterpret_cast<void*>(dst), src, size) < 0 ? -EFAULT : 0;
    }
    template <typename T>
    long copy_in(void* dst, UserPtr<T> src, size_t size) const {
        return copy_in(dst, src.address(), size);
    }
    template <typename T>
    long copy_out(UserPtr<T> dst, const void* src, size_t size) const {
        return copy_out(dst.address(), src, size);
    }
    /* The NUL-terminated string at `src` into dst (`size` bytes), a page at a time: its length,
     * -EFAULT if it is not readable, or -ENAMETOOLONG if it does not fit. */
    long copy_string_in(char* dst, uintptr_t src, size_t size) const;

    /* For a remote caller: the host path of the directory its relative paths start from, its current
     * directory (AT_FDCWD) or descriptor `dirfd`, read through /proc/<tid>/. False in-process, where
     * the views keep the virtual current directory and descriptors themselves (libos_vfs.h). */
    bool remote_directory(int dirfd, char* out, size_t size) const;

    /* For a remote caller: the host CPU it resumes on once answered, where the kernel wakes it on the
     * answering thread's CPU (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, libos_strict.h) and the caller may
     * run there; else -1 (and in-process). */
    long resume_cpu() const { return remote_ ? remote_resume_cpu() : -1; }

    /* For thread `tid` of the launch that has no slot and runs on host CPUs `host`: the mask it
     * inherited from its creator, when that can be told (libos_strict.h, inherited_mask). Only strict
     * mode's supervisor meets such threads, in processes without the shim; in-process: false. */
    bool inherited_mask(pid_t tid, const CpuBits& host, CpuBits* out) const;

private:
    /* The remote halves, in table/strict/. */
    pid_t remote_tid() const;
    pid_t remote_process() const;
    long remote_resolve(pid_t pid, TargetTask* out) const;
    long remote_resume_cpu() const;
    bool remote_shares_files() const;
    bool remote_in_views() const;
    long remote_may_change(pid_t target) const;
    long remote_open_file(const char* path, int flags, mode_t mode) const;
    long remote_read_file(const char* path, char* buf, size_t size) const;
    friend class FileRightsHold;
    long remote_copy_in(void* dst, uintptr_t src, size_t size) const;
    long remote_copy_out(uintptr_t dst, const void* src, size_t size) const;

    RemoteTask* remote_;
};

/* The caller's rights on files for the current thread, taken at the first take() and given back when
 * the hold ends, so that a series of file calls (a path walk's lookups and links) is checked as the
 * caller's own. In-process the thread's rights are the caller's: take() is always true. For a remote
 * caller strict mode's supervisor takes them only where the host lets it (as root; as another user,
 * only its own): take() is false where it cannot, and the call is then the host's. */
class FileRightsHold {
public:
    explicit FileRightsHold(Caller caller) : caller_(caller) {}
    ~FileRightsHold() {
        if (held_)
            release();
    }
    FileRightsHold(const FileRightsHold&) = delete;
    FileRightsHold& operator=(const FileRightsHold&) = delete;
    bool take() {
        if (!caller_.is_remote() || held_)
            return true;
        return !refused_ && acquire();
    }

private:
    bool acquire(); /* table/strict/permissions.cpp */
    void release();
    Caller caller_;
    bool held_ = false;
    bool refused_ = false;
    bool restore_ = false;
    PalFileRights saved_;
};

}  // namespace libos

#endif
