/* The descriptors libdw, libelf and libunwind open inside libos_unwind.so, out of the program's way.
 *
 * libdw and libelf open each object whose lines are looked up (and its detached debug file) and keep
 * it open for the process's life; libunwind opens a pipe to check memory. At the lowest free numbers
 * those would shift every descriptor the program opens afterwards (a traced program's openat returned
 * 6 where it returns 3 natively). Loaded with RTLD_DEEPBIND, this library's open, dup and pipe2 are
 * the ones those libraries call (as its malloc is, libos_unwind_arena.cpp): each calls libc's and
 * moves the new descriptor to kFloor or above, close-on-exec (the program's children need none of
 * them). Async-signal-safe: a lookup may run in a signal handler; libc's functions are found at load. */
/* Meson builds with _FILE_OFFSET_BITS=64, under which <fcntl.h> renames open to open64: this file
 * defines the name libdw calls, open, and open64 too. */
#undef _FILE_OFFSET_BITS

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <unistd.h>

#ifdef LIBOS_UNWIND_ARENA
#include "libos_unwind_arena.h"
#endif

namespace {

/* Below the trace's own descriptors (900 and up) and the summary's (950 and up). */
constexpr int kFloor = 700;

using OpenFn = int (*)(const char*, int, ...);
using DupFn = int (*)(int);
using Pipe2Fn = int (*)(int*, int);
using FcntlFn = int (*)(int, int, ...);
using CloseFn = int (*)(int);
using GetrlimitFn = int (*)(int, struct rlimit*);

OpenFn g_open = nullptr;
DupFn g_dup = nullptr;
Pipe2Fn g_pipe2 = nullptr;
FcntlFn g_fcntl = nullptr;
CloseFn g_close = nullptr;
GetrlimitFn g_getrlimit = nullptr;

__attribute__((constructor)) void find_libc() {
    void* libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    if (!libc)
        return;
    g_open = reinterpret_cast<OpenFn>(dlsym(libc, "open"));
    g_dup = reinterpret_cast<DupFn>(dlsym(libc, "dup"));
    g_pipe2 = reinterpret_cast<Pipe2Fn>(dlsym(libc, "pipe2"));
    g_fcntl = reinterpret_cast<FcntlFn>(dlsym(libc, "fcntl"));
    g_close = reinterpret_cast<CloseFn>(dlsym(libc, "close"));
    g_getrlimit = reinterpret_cast<GetrlimitFn>(dlsym(libc, "getrlimit"));
    dlclose(libc);
}

/* Where the descriptors go under a RLIMIT_NOFILE of kFloor or less (F_DUPFD at kFloor is EINVAL
 * there): the top quarter of the numbers the limit allows, still above those a program opens first
 * (ulimit -n 64: 48 and up); 0 when the limit cannot be read. */
int floor_under_limit() {
    struct rlimit limit;
    if (!g_getrlimit || g_getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur < 4)
        return 0;
    const rlim_t top = limit.rlim_cur < kFloor ? limit.rlim_cur : kFloor;
    return static_cast<int>(top - top / 4);
}

/* `fd` moved to kFloor or above (close-on-exec), or under a lower descriptor limit to the top of
 * what it allows; `fd` itself when no number is free there. */
int high(int fd) {
    if (fd < 0 || fd >= kFloor || !g_fcntl || !g_close)
        return fd;
#ifdef LIBOS_UNWIND_ARENA
    /* Only the LibOS's own: zlib and the other libraries libdw needs are the program's too once it
     * loads them itself (the copies this library loaded), and a gzopen of the program's gets the
     * number and the flags it gets natively. */
    if (!libos_arena_in_lookup())
        return fd;
#endif
    int moved = g_fcntl(fd, F_DUPFD_CLOEXEC, kFloor);
    if (moved < 0) {
        const int saved = errno; /* the EINVAL is the LibOS's, not the program's */
        const int lower = floor_under_limit();
        moved = lower > fd ? g_fcntl(fd, F_DUPFD_CLOEXEC, lower) : -1;
        errno = saved;
        if (moved < 0)
            return fd;
    }
    g_close(fd);
    return moved;
}

}  // namespace

#define LIBOS_FDS_API extern "C" __attribute__((visibility("default")))

LIBOS_FDS_API int open(const char* path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | __O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = static_cast<mode_t>(va_arg(ap, int));
        va_end(ap);
    }
    return high(g_open ? g_open(path, flags, mode) : -1);
}

LIBOS_FDS_API int open64(const char* path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | __O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = static_cast<mode_t>(va_arg(ap, int));
        va_end(ap);
    }
    return high(g_open ? g_open(path, flags, mode) : -1); /* one function on 64-bit */
}

LIBOS_FDS_API int dup(int fd) {
    return high(g_dup ? g_dup(fd) : -1);
}

LIBOS_FDS_API int pipe2(int fds[2], int flags) {
    if (!g_pipe2)
        return -1;
    int ret = g_pipe2(fds, flags);
    if (ret == 0) {
        fds[0] = high(fds[0]);
        fds[1] = high(fds[1]);
    }
    return ret;
}
