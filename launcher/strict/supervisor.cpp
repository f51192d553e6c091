/* The supervisor (strict.h): threads that receive each trapped call and answer it with the LibOS's own
 * handler (libos::dispatch_remote), for every thread of every process of the launch. */
#include <errno.h>
#include <fcntl.h>
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

/* Answers one notification. A failed answer (ENOENT) means the caller is gone or was interrupted by
 * a signal, and will ask again if it restarts. */
bool answer(int listener, const seccomp_notif& req, seccomp_notif_resp* resp, libos::CallerCache* callers) {
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
    g_answering.fetch_add(1);
    for (;;) {
        memset(req_buf.data(), 0, req_buf.size());
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) {
            if (errno == EINTR)
                continue;
            if (errno != ENOENT)
                return; /* the listener is gone: the launcher is ending */
            /* ENOENT: a caller went away mid-notification, or no process uses the filter any more,
             * when every further receive fails at once. Wait for the next notification; hang-up
             * (no process left) ends this thread instead of spinning. */
            pollfd p = {listener, POLLIN, 0};
            while (poll(&p, 1, -1) < 0 && errno == EINTR) {
            }
            if ((p.revents & (POLLHUP | POLLERR | POLLNVAL)) && !(p.revents & POLLIN))
                return;
            continue;
        }
        /* The caller may have gone (and its tid been reused) since it was queued. */
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) != 0)
            continue;
        /* A thread that lost its own rights answers with CONTINUE (the host's answer, with the
         * caller's own rights) until it may end. */
        if (answer(listener, *req, resp, self->callers) && hand_over())
            return;
    }
}

}  // namespace launcher::strict
