/* The tasks a remote caller names (libos_caller.h: Caller::resolve). A thread of another PID
 * namespace (`unshare -fp`, a container) names tasks by the ids they have there: its pid 1 is its
 * namespace's init, not the host's, and its pid 7 may be no task at all there while the host has
 * one. The kernel translates the notification's pid for the supervisor, but not the arguments.
 *
 * /proc/<tid>/status lists a task's ids in every namespace from /proc's own down to the task's
 * (NSpid, NStgid), so the task a caller at depth d names p is the one whose id at depth d is p and
 * whose namespace at depth d is the caller's. The caller itself and its own process are recognised
 * from its own line; any other task is looked for among its process's threads, then among every
 * process of /proc (only those deep enough, and in the caller's namespace or below it, are looked
 * at closely); a kernel with NS_GET_PID_FROM_PIDNS (Linux 6.9) translates at once. The task found is held with a pidfd before it is checked once more, so that a tid
 * reused after the check cannot pass for it; the handler asks TargetTask::gone() after acting. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>

#include "libos/libos_caller.h"
#include "libos/libos_strict.h"
#include "libos/libos_text.h"
#include "libos/libos_threads.h"
#include "pal/pal.h"

namespace libos {
namespace {

/* Nested PID namespaces go 32 deep at most (the kernel's MAX_PID_NS_LEVEL). */
constexpr size_t kMaxLevels = 33;

struct NamespaceIds {
    pid_t pids[kMaxLevels];
    pid_t tgids[kMaxLevels];
    long levels = 0; /* > 0 once read */
    bool read(pid_t tid) {
        levels = PalThreadNamespaceIds(tid, pids, tgids, kMaxLevels);
        return levels > 0;
    }
};

struct NamespaceId {
    dev_t dev = 0;
    ino_t ino = 0;
    bool operator==(const NamespaceId& o) const { return dev == o.dev && ino == o.ino; }
};

bool identify(long fd, NamespaceId* out) {
    struct stat st;
    if (fd < 0 || PalFileStat(static_cast<int>(fd), &st) != 0)
        return false;
    out->dev = st.st_dev;
    out->ino = st.st_ino;
    return true;
}

/* The PID namespace `up` levels above thread tid's own. */
bool namespace_above(pid_t tid, long up, NamespaceId* out) {
    long fd = PalPidNamespaceOpen(tid);
    while (fd >= 0 && up-- > 0) {
        long parent = PalUserNamespaceParent(static_cast<int>(fd));
        PalFileClose(static_cast<int>(fd));
        fd = parent;
    }
    bool ok = identify(fd, out);
    if (fd >= 0)
        PalFileClose(static_cast<int>(fd));
    return ok;
}

/* Where to look, and what for: id `pid` at depth `depth` in namespace `ns`. */
struct Search {
    pid_t pid;
    long depth;
    NamespaceId ns;

    /* Does thread `tid` (whose ids are `ids`) live in the namespace or below it? */
    bool in_namespace(pid_t tid, const NamespaceIds& ids) const {
        NamespaceId at;
        return ids.levels > depth && namespace_above(tid, ids.levels - 1 - depth, &at) && at == ns;
    }
    /* Is thread `tid` the one? */
    bool named(pid_t tid) const {
        NamespaceIds ids;
        return ids.read(tid) && ids.pids[depth] == pid && in_namespace(tid, ids);
    }
};

struct DirRecord { /* linux_dirent64 */
    uint64_t ino;
    int64_t off;
    uint16_t reclen;
    uint8_t type;
    char name[1];
};

pid_t decimal(const char* text) {
    long n = 0;
    if (!*text)
        return 0;
    for (; *text; ++text) {
        if (*text < '0' || *text > '9' || n > 0x3fffffff)
            return 0;
        n = n * 10 + (*text - '0');
    }
    return static_cast<pid_t>(n);
}

/* Calls visit(tid) for each numeric entry of directory `path` until it returns a tid (> 0). */
template <typename Visit>
pid_t each_entry(const char* path, Visit visit) {
    long fd = PalFileOpen(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    alignas(8) char buf[4096];
    pid_t found = 0;
    long n;
    while (!found && (n = PalFileReadDir(static_cast<int>(fd), buf, sizeof(buf))) > 0) {
        for (long at = 0; at < n && !found;) {
            const auto* rec = reinterpret_cast<const DirRecord*>(buf + at);
            at += rec->reclen;
            if (pid_t tid = decimal(rec->name); tid > 0)
                found = visit(tid);
        }
    }
    PalFileClose(static_cast<int>(fd));
    return found;
}

/* The thread of process `tgid` (host ids) whose id at the search's depth is its pid. */
pid_t among_threads(pid_t tgid, const Search& search) {
    ProcPath tasks(tgid);
    return each_entry(tasks.leaf("task").c_str(), [&](pid_t tid) -> pid_t {
        NamespaceIds ids;
        return ids.read(tid) && ids.levels > search.depth && ids.pids[search.depth] == search.pid ? tid : 0;
    });
}

/* Every process of /proc in the caller's namespace or below, and their threads. */
pid_t among_processes(pid_t skip, const Search& search) {
    return each_entry("/proc", [&](pid_t tgid) -> pid_t {
        NamespaceIds ids;
        if (tgid == skip || !ids.read(tgid) || ids.levels <= search.depth)
            return 0;
        /* Its threads are in its namespace; one look at it serves them all. */
        if (!search.in_namespace(tgid, ids))
            return 0;
        if (ids.tgids[search.depth] == search.pid)
            return tgid;
        return among_threads(tgid, search);
    });
}

/* The inode number of thread tid's PID namespace (0: self, the supervisor's), or 0. */
uint64_t pid_namespace_of(pid_t tid) {
    ProcPath path = tid ? ProcPath(tid) : ProcPath::self();
    struct stat st;
    return PalFileStatAt(AT_FDCWD, path.leaf("ns/pid").c_str(), &st, 0) == 0 ? st.st_ino : 0;
}

uint64_t own_pid_namespace() {
    static constinit std::atomic<uint64_t> mine{0};
    uint64_t ns = mine.load(std::memory_order_relaxed);
    if (ns == 0) {
        ns = pid_namespace_of(0);
        mine.store(ns, std::memory_order_relaxed);
    }
    return ns;
}

/* Host task `tid`, and its slot's name: its shim (if it runs one) claims its slot under its tid in its
 * own namespace, and the supervisor does the same for it. `ns` is its namespace when known. */
long place(pid_t tid, uint64_t ns, TargetTask* out) {
    out->tid = out->slot_tid = tid;
    out->slot_ns = 0;
    if (ns == 0)
        ns = pid_namespace_of(tid);
    if (ns == 0 || ns == own_pid_namespace())
        return 0;
    NamespaceIds ids;
    if (!ids.read(tid))
        return 0; /* gone: the host's call says ESRCH */
    out->slot_tid = ids.pids[ids.levels - 1];
    out->slot_ns = ns;
    return 0;
}

constinit std::atomic<bool> g_search_only{false};

}  // namespace

void set_pid_search_only(bool yes) {
    g_search_only.store(yes, std::memory_order_relaxed);
}

long Caller::remote_resolve(pid_t pid, TargetTask* out) const {
    const pid_t caller = remote_->tid;
    /* A negative pid names nothing: the host's call says so (ESRCH). */
    if (pid < 0) {
        out->tid = out->slot_tid = pid;
        return 0;
    }
    /* The caller's namespace and its tid there: remembered while it lives (a pidfd says so). */
    CallerCache::Entry* known = remote_->callers ? &remote_->callers->entries[caller % CallerCache::kEntries] : nullptr;
    uint64_t caller_ns = 0;
    if (known && known->tid == caller && known->pidfd >= 0 && PalPidfdEnded(known->pidfd) == 0) {
        caller_ns = known->ns;
        out->tid = caller;
        out->slot_tid = known->slot_tid;
        out->slot_ns = caller_ns == own_pid_namespace() ? 0 : caller_ns;
    } else {
        /* The caller is held first, and its namespace looked up after: if it is still there then,
         * the namespace is its own, not that of a task that took its tid after it ended. */
        long pidfd = known ? PalThreadPidfd(caller) : -1;
        /* The call still waits: the tid, and the pidfd, are the caller's (and not those of a task that
         * took the tid since the call was received). */
        if (!remote_->waits()) {
            if (pidfd >= 0)
                PalFileClose(static_cast<int>(pidfd));
            return -ESRCH;
        }
        caller_ns = pid_namespace_of(caller);
        place(caller, caller_ns, out);
        if (known) {
            if (known->pidfd >= 0)
                PalFileClose(known->pidfd);
            known->pidfd = -1;
            known->tid = 0;
            if (pidfd >= 0 && (caller_ns == 0 || PalPidfdEnded(static_cast<int>(pidfd)) != 0)) {
                PalFileClose(static_cast<int>(pidfd));
                pidfd = -1;
            }
            if (pidfd >= 0) {
                known->pidfd = static_cast<int>(pidfd);
                known->tid = caller;
                known->ns = caller_ns;
                known->slot_tid = out->slot_tid;
            }
        }
    }
    if (remote_->same_pids < 0)
        remote_->same_pids = caller_ns != 0 && caller_ns == own_pid_namespace();
    if (pid == 0)
        return 0;
    out->slot_ns = 0;
    /* The supervisor's own names. */
    if (remote_->same_pids)
        return place(pid, 0, out);
    NamespaceIds own;
    if (!own.read(caller))
        return -ESRCH; /* the caller is gone: nobody waits for the answer */
    Search search = {pid, own.levels - 1, {}};
    /* The caller itself, or its process's main thread. */
    if (own.pids[search.depth] == pid)
        return place(caller, caller_ns, out);
    if (!namespace_above(caller, 0, &search.ns))
        return -ESRCH;
    /* The kernel translates (Linux 6.9); before it, the caller's process, then /proc, are searched. */
    pid_t found = 0;
    long translated = -ENOTTY;
    if (!g_search_only.load(std::memory_order_relaxed))
        if (long nsfd = PalPidNamespaceOpen(caller); nsfd >= 0) {
            translated = PalPidNamespaceTranslate(static_cast<int>(nsfd), pid);
            PalFileClose(static_cast<int>(nsfd));
        }
    if (translated > 0)
        found = static_cast<pid_t>(translated);
    else if (translated == -ESRCH)
        return -ESRCH;
    else if (!(found = own.tgids[search.depth] == pid ? own.tgids[0] : among_threads(own.tgids[0], search)))
        found = among_processes(own.tgids[0], search);
    if (!found)
        return -ESRCH;
    /* Held from here on: checked again, it is the task (its tid cannot be another's while it lives). */
    long pidfd = PalThreadPidfd(found);
    if (pidfd < 0)
        return -ESRCH;
    out->hold(static_cast<int>(pidfd));
    if (!search.named(found) || out->gone())
        return -ESRCH;
    return place(found, 0, out);
}

}  // namespace libos
