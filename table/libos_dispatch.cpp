/* The dispatcher: a handler when the table has one, the host otherwise; and the same handlers for
 * strict mode's supervisor, on behalf of a thread of another process (dispatch_remote). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "libos/libos_init.h"
#include "libos/libos_table.h"
#include "libos/libos_text.h"
#include "libos/libos_trace.h"
#include "libos/libos_user.h"
#include "pal/pal.h"

namespace libos {

const char* syscall_name(long nr) {
    return syscall_entry(nr).name;
}

namespace {

/* The dispatch itself, inlined into both entry points: a pass-through is a table load, a test and
 * the PAL's call. */
__attribute__((always_inline)) inline long route(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    if (RawHandler handler = syscall_handler(nr)) {
        const long args[6] = {a0, a1, a2, a3, a4, a5};
        return handler(args);
    }
    /* Unknown numbers included: the host gives them the ENOSYS they get natively. */
    return PalSyscall(nr, a0, a1, a2, a3, a4, a5);
}

}  // namespace

long dispatch(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    /* Tracing off: this one predictable branch is all it costs. */
    if (__builtin_expect(g_tracing, 0))
        return trace_dispatch(nr, a0, a1, a2, a3, a4, a5);
    return route(nr, a0, a1, a2, a3, a4, a5);
}

long dispatch_untraced(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    return route(nr, a0, a1, a2, a3, a4, a5);
}

constinit thread_local RemoteTask* t_remote_task __attribute__((tls_model("initial-exec"))) = nullptr;

pid_t remote_process() {
    RemoteTask* task = t_remote_task;
    if (task && task->tgid == 0) {
        pid_t tgid = 0, ppid = 0;
        task->tgid = PalThreadProcess(task->tid, &tgid, &ppid) == 0 ? tgid : task->tid;
    }
    return task ? task->tgid : 0;
}

long remote_copy_result(long ret) {
    if (ret == -EPERM) {
        t_remote_task->unreachable = true;
        return -EFAULT;
    }
    return ret;
}

namespace {

/* Do /proc/<tid>/<leaf> and /proc/self/<leaf> name the same object (a directory or a namespace)? */
bool same_as_mine(pid_t tid, const char* leaf) {
    ProcPath theirs(tid), mine(0);
    struct stat a, b;
    return PalFileStatAt(AT_FDCWD, theirs.leaf(leaf).c_str(), &a, 0) == 0 &&
           PalFileStatAt(AT_FDCWD, mine.leaf(leaf).c_str(), &b, 0) == 0 &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace

bool remote_same_files() {
    RemoteTask* task = t_remote_task;
    if (!task)
        return true;
    if (task->same_files < 0)
        task->same_files = same_as_mine(task->tid, "root") && same_as_mine(task->tid, "ns/mnt");
    return task->same_files;
}

bool remote_same_pids() {
    RemoteTask* task = t_remote_task;
    if (!task)
        return true;
    if (task->same_pids < 0)
        task->same_pids = same_as_mine(task->tid, "ns/pid");
    return task->same_pids;
}

long dispatch_remote(RemoteTask* task, long nr, const long args[6]) {
    RawHandler handler = syscall_handler(nr);
    /* Only calls with a handler are trapped; without a machine there is nothing to answer. */
    if (!handler || !is_virtual())
        return kRemoteContinue;
    t_remote_task = task;
    long ret = __builtin_expect(g_tracing, 0) ? trace_dispatch(nr, args[0], args[1], args[2], args[3], args[4], args[5])
                                              : handler(args);
    t_remote_task = nullptr;
    /* Memory the supervisor could not reach: the handlers fail before any effect (they copy in
     * first, and out last), so the host can still run the call, unvirtualized. */
    if (task->unreachable)
        return kRemoteContinue;
    return ret;
}

}  // namespace libos
