/* The remote caller (libos_caller.h, libos_strict.h): a thread of another process that trapped in
 * strict mode's filter, as the supervisor sees it. Its identity and its process, its memory (through
 * process_vm_readv/writev), its directories and its namespaces are all read from the host; and
 * dispatch_remote runs a handler for it. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <atomic>

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

/* The supervisor's own root or mount namespace, looked up once: neither changes (a look at /proc
 * costs microseconds, a good part of a trapped call). */
struct Mine {
    std::atomic<uint64_t> dev{0}, ino{0}; /* ino 0: not looked up yet */
};
constinit Mine g_my_root, g_my_mnt;

/* Do /proc/<tid>/<leaf> and the supervisor's own ("root" or "ns/mnt") name the same object? */
bool same_as_mine(pid_t tid, const char* leaf) {
    Mine& mine = leaf[0] == 'r' ? g_my_root : g_my_mnt;
    struct stat st;
    if (mine.ino.load(std::memory_order_acquire) == 0) {
        ProcPath self = ProcPath::self();
        if (PalFileStatAt(AT_FDCWD, self.leaf(leaf).c_str(), &st, 0) != 0)
            return false;
        mine.dev.store(st.st_dev, std::memory_order_relaxed);
        mine.ino.store(st.st_ino, std::memory_order_release);
    }
    ProcPath theirs(tid);
    return PalFileStatAt(AT_FDCWD, theirs.leaf(leaf).c_str(), &st, 0) == 0 &&
           st.st_dev == mine.dev.load(std::memory_order_relaxed) && st.st_ino == mine.ino.load(std::memory_order_relaxed);
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

constinit std::atomic<bool> g_wakes_on_answer_cpu{false};

void set_wakes_on_answer_cpu(bool yes) {
    g_wakes_on_answer_cpu.store(yes, std::memory_order_relaxed);
}

long Caller::remote_resume_cpu() const {
    return g_wakes_on_answer_cpu.load(std::memory_order_relaxed) ? static_cast<long>(PalGetCurrentCpu()) : -1;
}

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

/* Read by tid: if the caller ended meanwhile and another task took its tid, the bytes are that task's.
 * The call still waiting after the read says they were the caller's (a trapped call's task lives, and
 * keeps its tid, until the call ends); a caller gone gets nothing, and its handler acts on nothing. */
long Caller::remote_copy_in(void* dst, uintptr_t src, size_t size) const {
    long ret = reached(remote_, PalProcessRead(remote_->tid, dst, src, size));
    if (ret == 0 && !remote_->waits())
        return -ESRCH;
    return ret;
}

long Caller::remote_copy_out(uintptr_t dst, const void* src, size_t size) const {
    return reached(remote_, PalProcessWrite(remote_->tid, dst, src, size));
}

namespace {

/* The /proc the caller sees is the supervisor's: in the views' namespace a program may have mounted
 * another over it (`unshare -pf` and `mount -t proc`, without a mount namespace of its own), whose
 * numbers are the pids of another namespace: /proc/<pid>/status there is another task's file here.
 * Each proc mount is a file system of its own (Linux 5.8). */
bool same_proc(pid_t tid) {
    static constinit std::atomic<uint64_t> mine{0}; /* st_dev + 1, once looked up */
    uint64_t own = mine.load(std::memory_order_relaxed);
    struct stat st;
    if (own == 0) {
        if (PalFileStatAt(AT_FDCWD, "/proc", &st, 0) != 0)
            return false;
        own = static_cast<uint64_t>(st.st_dev) + 1;
        mine.store(own, std::memory_order_relaxed);
    }
    ProcPath theirs(tid);
    return PalFileStatAt(AT_FDCWD, theirs.leaf("root/proc").c_str(), &st, 0) == 0 &&
           static_cast<uint64_t>(st.st_dev) + 1 == own;
}

}  // namespace

bool Caller::remote_shares_files() const {
    if (remote_->same_files < 0)
        remote_->same_files =
            same_as_mine(remote_->tid, "root") &&
            (remote_in_views() ? same_proc(remote_->tid) : same_as_mine(remote_->tid, "ns/mnt"));
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
