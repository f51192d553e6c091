/* Strict mode, on the LibOS's side: what the supervisor (launcher/strict/) needs to answer the calls
 * of a thread of another process with the LibOS's own handlers. The remote caller's answers
 * (libos_caller.h) are worked out in table/strict/: remote.cpp (identity, memory, directories,
 * namespaces), permissions.cpp (the kernel's checks, with the caller's rights) and creator.cpp (the
 * mask a thread without the shim inherited). */
#ifndef LIBOS_STRICT_H
#define LIBOS_STRICT_H

#include <stdint.h>
#include <sys/types.h>

#include "libos/libos_caller.h"
#include "libos/libos_config.h"

namespace libos {

/* What a supervisor thread remembers of the callers it answered: each one's PID namespace, whose look
 * through /proc costs more than the rest of an answer. A task's namespace never changes; the pidfd
 * tells when the task has ended, and its tid may then be another task's. */
struct CallerCache {
    static constexpr unsigned kEntries = 16;
    struct Entry {
        pid_t tid = 0;
        int pidfd = -1;
        uint64_t ns = 0;    /* its PID namespace (the inode number of /proc/<tid>/ns/pid) */
        pid_t slot_tid = 0; /* its tid in that namespace */
    };
    Entry entries[kEntries];
};

/* A thread of another process that trapped in the launch's seccomp filter, for one call. */
struct RemoteTask {
    pid_t tid;                /* the trapping thread */
    pid_t tgid = 0;           /* its process; 0 until looked up */
    int8_t same_files = -1;   /* its root and mount namespace are the supervisor's: 1, 0, -1 unknown */
    int8_t same_pids = -1;    /* its pid namespace is the supervisor's: 1, 0, -1 unknown */
    int8_t in_views = -1;     /* it is in the launch's mount namespace, with the views: 1, 0, -1 unknown */
    bool unreachable = false; /* its memory could not be reached (EPERM): see dispatch_remote */
    int8_t rights = -1;       /* its rights on files: 1 taken (file_rights holds them), 0 cannot be, -1 unknown */
    bool rights_lost = false; /* this supervisor thread lost its own rights: see dispatch_remote */
    PalFileRights file_rights;
    CallerCache* callers = nullptr; /* the answering thread's, if it keeps one */
    /* Whether the trapped call still waits for its answer (SECCOMP_IOCTL_NOTIF_ID_VALID on the
     * supervisor's side), so that the tid is still the caller's and nobody else's: asked after each
     * read of the caller's memory (what was read was the caller's), and when a caller is met anew,
     * once its pidfd is held (the pidfd is then the caller's, and later calls need not ask: a pidfd of
     * a task still alive says its tid is still its own). nullptr: the supervisor asked before the call. */
    bool (*still_waiting)(const void* notification) = nullptr;
    const void* notification = nullptr;
    bool waits() const { return !still_waiting || still_waiting(notification); }
};

/* Strict mode's views (launcher/strict/views.cpp, docs/strict-mode.md): the launch's private mount
 * namespace, in which generated trees are mounted over /sys/devices/system/cpu and node. Its callers
 * name files as the supervisor does, but the directories of those trees are theirs: a directory of the
 * views is opened by the kernel in their namespace (its listing is the machine's), and a descriptor
 * of one (device cpu_dev or node_dev) names its path on the machine. */
struct LaunchViews {
    uint64_t ns_dev, ns_ino;    /* the namespace (/proc/<pid>/ns/mnt) */
    uint64_t cpu_dev, node_dev; /* the two trees' file systems */
};
/* Set once, before the program runs. */
void set_launch_views(const LaunchViews& views);

/* Set once, before the program runs, when the listener wakes the caller on the answering thread's
 * CPU (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, Linux 6.6): a trapped getcpu is then answered with that
 * CPU, where the caller resumes, rather than from /proc/<tid>/stat (Caller::resume_cpu). */
void set_wakes_on_answer_cpu(bool yes);

/* For tests: resolve a remote caller's pids of another PID namespace by searching /proc, as on a
 * kernel without NS_GET_PID_FROM_PIDNS (Caller::resolve, table/strict/pids.cpp). */
void set_pid_search_only(bool yes);

/* Runs syscall `nr`'s handler for remote thread `task`: its result, or LeaveToHost when the call is
 * not the LibOS's to answer. For open, openat and openat2 a non-negative result is a descriptor of
 * the supervisor, to be installed in the task. A task whose memory the supervisor may not reach (a
 * process that made itself non-dumpable, under a supervisor without root) is marked unreachable, and
 * its call left to the host. */
SyscallResult dispatch_remote(RemoteTask* task, long nr, const long args[6]);

/* Whether the calling supervisor thread lost its own rights: it took a caller's rights on files for
 * an open and could not give them back (PalThreadSetFileRights failed both ways). Such a thread must
 * not answer for anyone again, since every check it made would be made with the wrong rights:
 * dispatch_remote then leaves each call to the host and sets task->rights_lost. */
bool rights_lost();

/* For thread `tid` of the launch that has no slot and runs on host CPUs `host`: the mask it
 * inherited from its creator, when that can be told. Linux copies the creator's mask into a new
 * thread or fork child; in a process without the shim (seen by strict mode's supervisor) nothing
 * recorded the creation, so the creator is looked for among the slots of the threads whose mask
 * runs on exactly `host`: for a fork child, the parent process's thread that forked it (the
 * kernel's /proc/<pid>/task/<tid>/children names it); for a new thread, whose creator the kernel
 * does not name, its process's main thread when that fits, else the most recently written slot of
 * its process. A creator process without a fitting slot inherited its mask the same way, so its
 * parent is searched next. False when none fits. */
bool inherited_mask(pid_t tid, const CpuBits& host, CpuBits* out);

}  // namespace libos

#endif
