/* The supervisor (strict.h): threads that receive each trapped call and answer it with the LibOS's own
 * handler (libos::dispatch_remote), for every thread of every process of the launch. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/audit.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <new>
#include <vector>

#include "libos/libos_strict.h"
#include "strict/strict.h"

namespace launcher::strict {
namespace {

/* One line on standard error, the first time `flag` is raised. Formatted on the stack: a supervisor
 * thread allocates nothing once the program runs (an allocation that failed then would end the
 * launcher, and with it the launch). */
__attribute__((format(printf, 2, 3))) void warn_once(std::atomic<bool>& flag, const char* format, ...) {
    if (flag.exchange(true))
        return;
    char line[512];
    va_list args;
    va_start(args, format);
    vsnprintf(line, sizeof(line), format, args);
    va_end(args);
    fprintf(stderr, "%s\n", line);
}

std::atomic<bool> g_warned_foreign{false};
std::atomic<bool> g_warned_unreachable{false};

void warn_foreign(const seccomp_notif& req) {
    warn_once(g_warned_foreign,
              "libos-run: strict mode does not virtualize 32-bit system calls: pid %u made one (%s #%d); it runs on "
              "the host",
              req.pid, req.data.arch == AUDIT_ARCH_I386 ? "i386" : "x32", req.data.nr & ~static_cast<int>(kX32Bit));
}

void warn_unreachable(const seccomp_notif& req) {
    warn_once(g_warned_unreachable,
              "libos-run: strict mode cannot reach the memory of pid %u (it made itself non-dumpable, or the "
              "kernel's ptrace rules forbid it): its trapped calls run on the host",
              req.pid);
}

std::atomic<bool> g_warned_lost{false};
/* The supervisor threads still answering: a thread that lost its own rights ends when another is left
 * to answer, and otherwise stays, leaving every call to the host. */
std::atomic<int> g_answering{0};

void warn_lost(const seccomp_notif& req) {
    warn_once(g_warned_lost,
              "libos-run: a supervisor thread could not take back its own rights after acting for a caller "
              "(pid %u): it answers no more calls%s",
              req.pid, g_answering.load() > 1 ? "" : "; trapped calls now run on the host, unvirtualized");
}

/* Whether a thread that lost its rights may end: another thread still answers. */
bool hand_over() {
    int n = g_answering.load();
    while (n > 1)
        if (g_answering.compare_exchange_weak(n, n - 1))
            return true;
    return false;
}

bool opens_file(long nr) {
#ifdef SYS_open
    if (nr == SYS_open)
        return true;
#endif
    return nr == SYS_openat || nr == SYS_openat2;
}

/* The notification being answered, for RemoteTask::still_waiting. */
struct Pending {
    int listener;
    uint64_t id;
};

bool still_waiting(const void* notification) {
    const auto* pending = static_cast<const Pending*>(notification);
    uint64_t id = pending->id;
    int ret;
    while ((ret = ioctl(pending->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id)) != 0 && errno == EINTR) {
    }
    return ret == 0;
}

#ifdef LIBOS_TEST_HOOKS
/* For tests (strict_raw's "stall"): a getcpu whose third argument (unused since Linux 2.6.24) is this
 * mark holds the thread that answers it until another call has been answered meanwhile, which only a
 * thread taking over from it can do. */
constexpr uint64_t kStallMark = 0x574111ed;
constinit std::atomic<uint64_t> g_answered{0};

void stall_if_asked(const seccomp_notif& req) {
    if (req.data.nr != SYS_getcpu || req.data.args[2] != kStallMark)
        return;
    const uint64_t at = g_answered.load();
    while (g_answered.load() == at)
        usleep(1000);
}
#endif

/* Answers one notification. A failed answer (ENOENT) means the caller is gone or was interrupted by
 * a signal, and will ask again if it restarts. Whether the caller still waits is asked only where it
 * matters (RemoteTask::still_waiting): after the handler reads the caller's memory, and when it meets
 * a caller it does not hold a pidfd of; a caller it holds one of, still alive, is still the tid's
 * owner, and an answer to a call that no longer waits (SEND, ADDFD) fails with ENOENT. */
bool answer(int listener, const seccomp_notif& req, seccomp_notif_resp* resp, libos::CallerCache* callers) {
#ifdef LIBOS_TEST_HOOKS
    stall_if_asked(req);
    struct Count {
        ~Count() { g_answered.fetch_add(1); }
    } count;
#endif
    memset(resp, 0, sizeof(*resp));
    resp->id = req.id;
    libos::SyscallResult outcome = libos::LeaveToHost{};
    bool lost = false;
    if (req.data.arch == kNativeArch && !(req.data.nr & kX32Bit)) {
        long args[6];
        for (int i = 0; i < 6; ++i)
            args[i] = static_cast<long>(req.data.args[i]);
        libos::RemoteTask task;
        task.tid = static_cast<pid_t>(req.pid);
        task.callers = callers;
        const Pending pending = {listener, req.id};
        task.still_waiting = still_waiting;
        task.notification = &pending;
        outcome = libos::dispatch_remote(&task, req.data.nr, args);
        lost = task.rights_lost;
        if (lost)
            warn_lost(req);
        else if (task.unreachable)
            warn_unreachable(req);
    } else {
        warn_foreign(req);
    }
    const long result = outcome.value();
    if (outcome.leaves_to_host()) {
        resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else if (opens_file(req.data.nr) && result >= 0) {
        /* A virtual file, opened here: it becomes the caller's lowest free descriptor, with the
         * close-on-exec flag it asked for, and its number is the call's result. */
        int fd = static_cast<int>(result);
        int fd_flags = fcntl(fd, F_GETFD);
        /* A content that changes: a file of the live files' FUSE server instead of the snapshot, so
         * that later reads of the descriptor see it change (live.cpp). */
        if (int live = live_file_for(fd, static_cast<pid_t>(req.pid)); live >= 0) {
            close(fd);
            fd = live;
        }
        seccomp_notif_addfd addfd = {};
        addfd.id = req.id;
        addfd.flags = SECCOMP_ADDFD_FLAG_SEND;
        addfd.srcfd = static_cast<uint32_t>(fd);
        addfd.newfd_flags = fd_flags >= 0 && (fd_flags & FD_CLOEXEC) ? O_CLOEXEC : 0;
        int installed = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
        int err = errno;
        close(fd);
        if (installed >= 0 || err == ENOENT)
            return lost;
        /* Not installed (EMFILE: the caller's table is full): that is the call's error. */
        resp->error = -err;
    } else if (result < 0) {
        resp->error = static_cast<int32_t>(result);
    } else {
        resp->val = result;
    }
    ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
    return lost;
}

/* ---- one receiver at a time ------------------------------------------------------------------
 *
 * The kernel wakes every thread that waits in SECCOMP_IOCTL_NOTIF_RECV at each notification (they
 * wait on the listener's queue, none of them exclusively), and with SYNC_WAKE_UP it moves each one to
 * the caller's CPU: one takes the notification, the others run only to wait again. Each thread that
 * waits there costs every trapped call about 2 us (measured: 4.7 us a call with one, 7.4 with two,
 * 18 with eight). So one thread receives (the holder); the others stand by, and one of them (the
 * watcher) looks every kWatchMs whether every receiving thread has been answering since its last
 * look without finishing any call (blocked: a page of the caller's that is slow to come in, a
 * directory on a dead network file system): then it receives too, and another stand-by thread
 * becomes the watcher. A thread that finds another holder once it has answered stands by again. Two
 * receivers for a while only cost time; there is always one that is not blocked, while a thread
 * stands by. The receivers are counted, not told apart by the parity of one shared counter: with
 * two of them blocked at once (the second the watcher's), the parity said "not answering", and no
 * third thread took over. */
constexpr long kWatchMs = 100;

constinit std::atomic<int> g_next_index{0};
constinit std::atomic<int> g_holder{-1};  /* the receiving thread's index; -1: none */
constinit std::atomic<int> g_watcher{-1}; /* the stand-by thread that watches the holder; -1: none */
/* The threads out of stand-by (the holder, and former holders until they have answered), how many of
 * them answer a notification now, and how many answers have been made. */
constinit std::atomic<int> g_receivers{0};
constinit std::atomic<int> g_busy{0};
constinit std::atomic<uint64_t> g_finished{0};

/* Is every receiving thread answering (blocked, if no answer is made meanwhile)? */
bool all_busy() {
    const int busy = g_busy.load();
    return busy > 0 && busy >= g_receivers.load();
}
/* Where stand-by threads sleep: changed (and waited on) at each hand-over. */
constinit std::atomic<uint32_t> g_standby{0};

void standby_wait(uint32_t seen, long ms) {
    timespec timeout = {ms / 1000, (ms % 1000) * 1000000};
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&g_standby), FUTEX_WAIT_PRIVATE, seen, ms > 0 ? &timeout : nullptr,
            nullptr, 0);
}

void standby_wake() {
    g_standby.fetch_add(1);
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&g_standby), FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0);
}

/* Waits until thread `me` is to receive. */
void stand_by(int me) {
    for (;;) {
        /* Read first: a hand-over after it makes the wait below return at once. */
        const uint32_t handovers = g_standby.load();
        int holder = g_holder.load();
        if (holder == me || (holder < 0 && g_holder.compare_exchange_strong(holder, me)))
            break;
        int watcher = g_watcher.load();
        if (watcher != me && !(watcher < 0 && g_watcher.compare_exchange_strong(watcher, me))) {
            standby_wait(handovers, 0); /* until a hand-over */
            continue;
        }
        /* The watcher: has every receiver been on one call since the last look? */
        const uint64_t seen = g_finished.load();
        const bool busy = all_busy();
        standby_wait(handovers, kWatchMs);
        if (g_holder.load() != holder || !busy || g_finished.load() != seen || !all_busy())
            continue;
        if (g_holder.compare_exchange_strong(holder, me)) {
            g_watcher.store(-1);
            standby_wake(); /* another thread watches now */
            break;
        }
    }
}

/* Thread `me` ends (the listener is gone, or it lost its rights): another receives. */
void leave(int me) {
    g_receivers.fetch_sub(1);
    int holder = me;
    int watcher = me;
    g_watcher.compare_exchange_strong(watcher, -1);
    if (g_holder.compare_exchange_strong(holder, -1))
        standby_wake();
}

}  // namespace

SupervisorThread::SupervisorThread(int listener_fd, seccomp_notif_sizes sizes)
    : listener(listener_fd),
      /* The kernel's structs may have grown past this build's: buffers of the sizes it gave. */
      request(std::max<size_t>(sizes.seccomp_notif, sizeof(seccomp_notif))),
      response(std::max<size_t>(sizes.seccomp_notif_resp, sizeof(seccomp_notif_resp))),
      callers(new (std::nothrow) libos::CallerCache) {}

void supervise(SupervisorThread* self) {
    const int listener = self->listener;
    std::vector<char>& req_buf = self->request;
    auto* req = reinterpret_cast<seccomp_notif*>(req_buf.data());
    auto* resp = reinterpret_cast<seccomp_notif_resp*>(self->response.data());
    const int me = g_next_index.fetch_add(1);
    g_answering.fetch_add(1);
    bool receiving = false;
    for (;;) {
        if (g_holder.load(std::memory_order_relaxed) != me) {
            if (receiving)
                g_receivers.fetch_sub(1);
            receiving = false;
            stand_by(me);
        }
        if (!receiving)
            g_receivers.fetch_add(1);
        receiving = true;
        memset(req_buf.data(), 0, req_buf.size());
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) {
            if (errno == EINTR)
                continue;
            if (errno != ENOENT)
                return leave(me); /* the listener is gone: the launcher is ending */
            /* ENOENT: a caller went away mid-notification, or no process uses the filter any more,
             * when every further receive fails at once. Wait for the next notification; hang-up
             * (no process left) ends this thread instead of spinning. */
            pollfd p = {listener, POLLIN, 0};
            while (poll(&p, 1, -1) < 0 && errno == EINTR) {
            }
            if ((p.revents & (POLLHUP | POLLERR | POLLNVAL)) && !(p.revents & POLLIN))
                return leave(me);
            continue;
        }
        g_busy.fetch_add(1);
        /* A thread that lost its own rights answers with CONTINUE (the host's answer, with the
         * caller's own rights) until it may end. */
        const bool lost = answer(listener, *req, resp, self->callers);
        g_finished.fetch_add(1);
        g_busy.fetch_sub(1);
        if (lost && hand_over())
            return leave(me);
    }
}

}  // namespace launcher::strict
