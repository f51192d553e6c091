/* PalThreadNamespaceIds, PalPidNamespaceOpen, PalPidNamespaceTranslate, PalThreadPidfd, PalPidfdEnded: a thread as the PID
 * namespaces below the supervisor's name it, for strict mode's supervisor, which acts on the tids a
 * program of another PID namespace names (table/strict/pids.cpp). */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

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
    /* NStgid and NSpid follow Groups, which may list 65536 groups (hundreds of KiB): the file is read
     * in pieces, and each line kept as far as a line buffer holds it (theirs fit: 33 ids at most). */
    char path[48];
    pal_proc_path(path, tid, "status");
    long fd = pal_raw(SYS_openat, AT_FDCWD, reinterpret_cast<long>(path), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fd;
    char chunk[1024];
    char line[512] = {'\n'}; /* "\n<line>", as status_list looks for keys */
    long used = 1, levels = -EINVAL, groups = -EINVAL, n = 0;
    bool whole = true;
    while (levels == -EINVAL || groups == -EINVAL) {
        n = pal_raw(SYS_read, fd, reinterpret_cast<long>(chunk), sizeof(chunk));
        if (n == -EINTR)
            continue;
        if (n <= 0)
            break;
        for (long i = 0; i < n; ++i) {
            if (chunk[i] != '\n') {
                if (used < static_cast<long>(sizeof(line)))
                    line[used++] = chunk[i];
                else
                    whole = false;
                continue;
            }
            if (whole && levels == -EINVAL)
                levels = status_list(line, used, "NSpid:", pids, max);
            if (whole && groups == -EINVAL)
                groups = status_list(line, used, "NStgid:", tgids, max);
            used = 1;
            whole = true;
        }
    }
    pal_raw(SYS_close, fd);
    if (n < 0)
        return n == -ESRCH ? -ENOENT : n;
    if (levels < 0)
        return levels;
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
    /* Signal 0 checks that the task is still there: a zombie is (its tid is still its own, and the
     * kernel still finds it by it), a reaped task is not (ESRCH). A pidfd polls readable as soon as
     * the task is a zombie, which is too soon. */
    long sent = pal_raw(SYS_pidfd_send_signal, fd, 0, 0, 0);
    if (sent == -ESRCH)
        return 1;
    return sent == 0 || sent == -EPERM || sent == -EACCES ? 0 : sent;
}
