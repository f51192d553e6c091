/* The remote caller (libos_caller.h, libos_strict.h): a thread of another process that trapped in
 * strict mode's filter, as the supervisor sees it. Its identity and its process, its memory (through
 * process_vm_readv/writev), its directories and its namespaces are all read from the host; and
 * dispatch_remote runs a handler for it. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "libos/libos_caller.h"
#include "libos/libos_init.h"
#include "libos/libos_strict.h"
#include "libos/libos_table.h"
#include "libos/libos_text.h"
#include "libos/libos_trace.h"
#include "pal/pal.h"

namespace libos {
namespace {

/* A copy the supervisor may not make (EPERM: a process that made itself non-dumpable, under a
 * supervisor without root) marks the task unreachable: dispatch_remote then leaves its call to the
 * host. The handler sees the EFAULT the kernel would give for memory it cannot reach. */
long reached(RemoteTask* task, long ret) {
    if (ret == -EPERM) {
        task->unreachable = true;
        return -EFAULT;
    }
    return ret;
}

/* Do /proc/<tid>/<leaf> and /proc/self/<leaf> name the same object (a directory or a namespace)? */
bool same_as_mine(pid_t tid, const char* leaf) {
    ProcPath theirs(tid), mine = ProcPath::self();
    struct stat a, b;
    return PalFileStatAt(AT_FDCWD, theirs.leaf(leaf).c_str(), &a, 0) == 0 &&
           PalFileStatAt(AT_FDCWD, mine.leaf(leaf).c_str(), &b, 0) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

/* The launch's views, when it has them: written once before the program runs. */
constinit LaunchViews g_views = {};
constinit bool g_have_views = false;

/* Is /proc/<tid>/ns/mnt the views' namespace? */
bool in_views_namespace(pid_t tid) {
    if (!g_have_views)
        return false;
    ProcPath theirs(tid);
    struct stat st;
    return PalFileStatAt(AT_FDCWD, theirs.leaf("ns/mnt").c_str(), &st, 0) == 0 && st.st_dev == g_views.ns_dev &&
           st.st_ino == g_views.ns_ino;
}

bool starts_with_view_root(const char* path) {
    constexpr char kSystem[] = "/sys/devices/system/";
    constexpr size_t kLength = sizeof(kSystem) - 1;
    if (strncmp(path, kSystem, kLength) != 0)
        return false;
    const char* rest = path + kLength;
    return (strncmp(rest, "cpu", 3) == 0 && (rest[3] == '\0' || rest[3] == '/')) ||
           (strncmp(rest, "node", 4) == 0 && (rest[4] == '\0' || rest[4] == '/'));
}

}  // namespace

void set_launch_views(const LaunchViews& views) {
    g_views = views;
    g_have_views = true;
}

bool Caller::remote_in_views() const {
    if (remote_->in_views < 0)
        remote_->in_views = in_views_namespace(remote_->tid);
    return remote_->in_views;
}

pid_t Caller::remote_tid() const {
    return remote_->tid;
}

/* Looked up once per call. */
pid_t Caller::remote_process() const {
    if (remote_->tgid == 0) {
        pid_t tgid = 0, ppid = 0;
        remote_->tgid = PalThreadProcess(remote_->tid, &tgid, &ppid) == 0 ? tgid : remote_->tid;
    }
    return remote_->tgid;
}

long Caller::remote_copy_in(void* dst, uintptr_t src, size_t size) const {
    return reached(remote_, PalProcessRead(remote_->tid, dst, src, size));
}

long Caller::remote_copy_out(uintptr_t dst, const void* src, size_t size) const {
    return reached(remote_, PalProcessWrite(remote_->tid, dst, src, size));
}

bool Caller::remote_shares_pids(pid_t pid) const {
    if (pid == 0 || pid == remote_->tid)
        return true;
    if (remote_->same_pids < 0)
        remote_->same_pids = same_as_mine(remote_->tid, "ns/pid");
    return remote_->same_pids;
}

bool Caller::remote_shares_files() const {
    if (remote_->same_files < 0)
        remote_->same_files = same_as_mine(remote_->tid, "root") &&
                              (remote_in_views() || same_as_mine(remote_->tid, "ns/mnt"));
    return remote_->same_files;
}

/* The name of the caller's directory is only a name: the descriptor must be a directory (else the
 * kernel's ENOTDIR, which the host gives), and the very one the name reaches, not one of a detached
 * mount or of another namespace, whose name reads "/" or a path of another tree. */
bool Caller::remote_directory(int dirfd, char* out, size_t size) const {
    if (!remote_)
        return false;
    ProcPath link(remote_->tid);
    if (dirfd == AT_FDCWD)
        link.leaf("cwd");
    else
        link.leaf("fd").number(static_cast<unsigned>(dirfd));
    if (PalFileReadLink(link.c_str(), out, size) <= 0 || out[0] != '/')
        return false;
    struct stat fd_st, path_st;
    if (PalFileStatAt(AT_FDCWD, link.c_str(), &fd_st, 0) != 0 || !S_ISDIR(fd_st.st_mode))
        return false;
    /* A directory of the views' trees, in the caller's namespace: its name is its path on the machine. */
    if ((fd_st.st_dev == g_views.cpu_dev || fd_st.st_dev == g_views.node_dev) && g_have_views &&
        starts_with_view_root(out) && remote_in_views())
        return true;
    return PalFileStatAt(AT_FDCWD, out, &path_st, 0) == 0 && fd_st.st_dev == path_st.st_dev &&
           fd_st.st_ino == path_st.st_ino;
}

SyscallResult dispatch_remote(RemoteTask* task, long nr, const long args[6]) {
    /* Only calls with a handler are trapped; without a machine there is nothing to answer. */
    if (!syscall_handler(nr) || !is_virtual())
        return LeaveToHost{};
    if (rights_lost()) {
        task->rights_lost = true;
        return LeaveToHost{};
    }
    Caller caller(task);
    SyscallResult result = __builtin_expect(g_tracing, 0) ? trace_dispatch(caller, nr, args)
                                                          : dispatch_for(caller, nr, args);
    /* Memory the supervisor could not reach: the handlers fail before any effect (they copy in
     * first, and out last), so the host can still run the call, unvirtualized. */
    if (task->unreachable)
        return LeaveToHost{};
    return result;
}

}  // namespace libos
