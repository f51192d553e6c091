/* PalThreadNamespaceIds, PalPidNamespaceOpen, PalPidNamespaceTranslate, PalThreadPidfd, PalPidfdEnded: a thread as the PID
 * namespaces below the supervisor's name it, for strict mode's supervisor, which acts on the tids a
 * program of another PID namespace names (table/strict/pids.cpp). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>

#include "pal/pal.h"
#include "pal_linux.h"

#ifndef NS_GET_PID_FROM_PIDNS
#define NS_GET_PID_FROM_PIDNS _IOR(0xb7, 0x6, int) /* <linux/nsfs.h>, Linux 6.9 */
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL /* Linux 6.9 */
#endif

namespace {

/* The numbers of line "\n<key>" of a status file, at most max; their count, or -errno. */
long status_list(const char* buf, long len, const char* key, pid_t* out, size_t max) {
    long at = pal_status_value(buf, len, key);
    if (at < 0)
        return -EINVAL;
    long count = 0;
    for (;;) {
        long v = pal_read_number(buf, len, &at, 10);
        if (v < 0)
            break;
        if (static_cast<size_t>(count) == max)
            return -E2BIG;
        out[count++] = static_cast<pid_t>(v);
    }
    return count > 0 ? count : -EINVAL;
}

}  // namespace

extern "C" long PalThreadNamespaceIds(pid_t tid, pid_t* pids, pid_t* tgids, size_t max) {
    /* NStgid and NSpid follow Groups, which may be long: the whole file, or its first 4 KiB (a thread
     * in more groups than fit is refused with EINVAL, as a status without those lines is). */
    char buf[4096];
    long len = pal_read_status(tid, buf, sizeof(buf));
    if (len < 0)
        return len;
    long levels = status_list(buf, len, "NSpid:", pids, max);
    if (levels < 0)
        return levels;
    long groups = status_list(buf, len, "NStgid:", tgids, max);
    if (groups < 0)
        return groups;
    return groups == levels ? levels : -EINVAL;
}

extern "C" long PalPidNamespaceOpen(pid_t tid) {
    char path[48];
    pal_proc_path(path, tid, "ns/pid");
    return pal_raw(SYS_openat, AT_FDCWD, reinterpret_cast<long>(path), O_RDONLY | O_CLOEXEC);
}

extern "C" long PalPidNamespaceTranslate(int nsfd, pid_t pid) {
    long tid = pal_raw(SYS_ioctl, nsfd, NS_GET_PID_FROM_PIDNS, pid);
    return tid == 0 ? -ESRCH : tid; /* 0: the task is not visible from here */
}

extern "C" long PalThreadPidfd(pid_t tid) {
    long fd = pal_raw(SYS_pidfd_open, tid, PIDFD_THREAD);
    if (fd == -EINVAL) /* a kernel before 6.9: main threads only */
        fd = pal_raw(SYS_pidfd_open, tid, 0);
    return fd;
}

extern "C" long PalPidfdEnded(int fd) {
    pollfd p = {fd, POLLIN, 0};
    struct timespec now = {0, 0}; /* ppoll: arm64 has no poll(2) */
    long ready = pal_raw(SYS_ppoll, reinterpret_cast<long>(&p), 1, reinterpret_cast<long>(&now), 0, 0);
    if (ready < 0)
        return ready;
    return ready > 0 && (p.revents & (POLLIN | POLLHUP)) ? 1 : 0;
}
