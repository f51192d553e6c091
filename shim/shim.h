/* Shared helpers of the shim's adapters. The adapters own libc's calling conventions (-1 plus errno,
 * positive errno values for pthread calls, zero-filling) and nothing else: every call goes through
 * the LibOS table. */
#ifndef SHIM_H
#define SHIM_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <atomic>

#include "libos/libos_vfs.h"
#include "libos_unwind.h"

/* Symbols that override libc. Everything else in libshim.so is hidden (and shim.map says the same). */
#define SHIM_EXPORT extern "C" __attribute__((visibility("default")))

/* A hidden second name of the export `name`, which must be defined in the same file, for the shim's
 * other names of the same function (X64 of X, _Exit of _exit, bsd_signal of signal): a call through
 * SHIM_SAME(name) is bound when libshim.so is linked, as glibc's other names are one function with
 * X, where a call of the exported name costs every process's start a symbol look-up in ld.so (the
 * shim is bound at load, -z now). The shim's other calls of its exports (its walkers' open, stat,
 * fchdir...) keep the exported name, which a program's own definition may take over. */
#define SHIM_SAME_NAME(name) \
    extern "C" __attribute__((visibility("hidden"), alias(#name), copy(::name))) decltype(::name) shim_same_##name
#define SHIM_SAME(name) shim_same_##name

namespace shim {

/* syscall(number, ...) of the read family (read, pread64, readv, preadv, preadv2) made as the shim's
 * own read of a live file (shim_live.cpp): true with its result in libc's convention in *n. */
bool live_syscall_read(long number, long a0, long a1, long a2, long a3, long a4, long a5, long* n) noexcept;

/* Around a posix_spawn: the copies of live descriptors its file actions make, listed for the new
 * program (shim_spawn_actions.cpp); the list of a posix_spawn this one interrupted (a signal
 * handler's) is saved into `outer` first and put back at the end. */
void spawn_actions_begin(const posix_spawn_file_actions_t* actions, libos::VfsSpawnCopies* outer);
void spawn_actions_end(const libos::VfsSpawnCopies& outer);

/* A raw kernel-style result in [-4095, -1] is an error, as in glibc's syscall(): errno is set and -1
 * returned. errno is not touched on success. */
inline long syscall_result(long ret) {
    if (static_cast<unsigned long>(ret) > static_cast<unsigned long>(-4096L)) {
        errno = static_cast<int>(-ret);
        return -1;
    }
    return ret;
}

/* The libc functions the shim forwards to when it does not change a call's meaning, resolved once
 * with dlsym(RTLD_NEXT) by init(). */
struct RealFunctions {
    long (*sysconf)(int);
    int (*getcpu)(unsigned*, unsigned*);
    int (*sched_getcpu)();
    int (*get_nprocs)();
    int (*get_nprocs_conf)();
    int (*pthread_create)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
    pid_t (*fork)();
    int (*unshare)(int);
    int (*setns)(int, int);
    int (*execvpe)(const char*, char* const*, char* const*);
    int (*fexecve)(int, char* const*, char* const*);
    int (*posix_spawn)(pid_t*, const char*, const posix_spawn_file_actions_t*, const posix_spawnattr_t*,
                       char* const*, char* const*);
    int (*posix_spawnp)(pid_t*, const char*, const posix_spawn_file_actions_t*, const posix_spawnattr_t*,
                        char* const*, char* const*);
    FILE* (*fopen)(const char*, const char*);
    ssize_t (*readv)(int, const struct iovec*, int);
    ssize_t (*preadv)(int, const struct iovec*, int, off_t);
    ssize_t (*preadv2)(int, const struct iovec*, int, off_t, int);
    ssize_t (*writev)(int, const struct iovec*, int);
    ssize_t (*pwritev)(int, const struct iovec*, int, off_t);
    ssize_t (*pwritev2)(int, const struct iovec*, int, off_t, int);
    void (*rewind)(FILE*);
    int (*fseek)(FILE*, long, int);
    int (*fseeko)(FILE*, off_t, int);
    int (*fsetpos)(FILE*, const fpos_t*);
    char* (*getcwd)(char*, size_t);
    char* (*realpath)(const char*, char*);
    DIR* (*opendir)(const char*);
    DIR* (*fdopendir)(int);
    struct dirent* (*readdir)(DIR*);
    void (*rewinddir)(DIR*);
    long (*telldir)(DIR*);
    void (*seekdir)(DIR*, long);
    int (*closedir)(DIR*);
    int (*scandir)(const char*, struct dirent***, int (*)(const struct dirent*),
                   int (*)(const struct dirent**, const struct dirent**));
    int (*sigaction)(int, const struct sigaction*, struct sigaction*);
    sighandler_t (*signal)(int, sighandler_t);
    sighandler_t (*sysv_signal)(int, sighandler_t);
    sighandler_t (*sigset)(int, sighandler_t);
};
extern RealFunctions g_real;

/* The libc function behind `slot`, looked up with dlsym(RTLD_NEXT) the first time it is needed, not
 * at start-up: a program pays only for the lookups of the calls it makes. Racing threads store the
 * same value. */
void* resolve_next(const char* name);
template <typename F>
inline F real(F& slot, const char* name) {
    F f = __atomic_load_n(&slot, __ATOMIC_ACQUIRE);
    if (__builtin_expect(!f, 0)) {
        f = reinterpret_cast<F>(resolve_next(name));
        __atomic_store_n(&slot, f, __ATOMIC_RELEASE);
    }
    return f;
}
#define SHIM_REAL(name) ::shim::real(::shim::g_real.name, #name)
extern std::atomic<bool> g_ready;
/* Set up and not tracing: syscall() may pass a number without a handler straight to the host. One
 * flag, so that the pass-through tests one byte rather than two. */
extern std::atomic<bool> g_direct;
/* syscall()'s failure convention for PalSyscallUntrapped (shim_syscall.cpp): errno, then -1. */
long syscall_failure(long raw) noexcept;

/* Sets the shim and the LibOS up; runs once, from the constructor or from whichever intercepted
 * call comes first (another library's constructor may call before ours runs). */
void init();
/* The thread running init, while it does (shim_init.cpp). */
extern constinit thread_local bool t_initializing __attribute__((tls_model("initial-exec")));
/* libos_unwind.so's libos_unwind_thread_start, when stacks are on (null otherwise): each new thread
 * calls it as it starts. */
extern LibosUnwindThreadStart g_unwind_thread_start;
inline void ensure() {
    if (__builtin_expect(!g_ready.load(std::memory_order_acquire), 0))
        init();
}

/* getcpu's inline fault-safe stores (shim_sched.cpp), registered with the PAL by init. */
extern "C" const char shim_getcpu_store_begin[], shim_getcpu_store_end[], shim_getcpu_store_fixup[];

/* The kernel thread id behind a pthread_t (see shim_sched.cpp). */
pid_t tid_of(pthread_t thread);

}  // namespace shim

#endif
