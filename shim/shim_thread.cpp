/* pthread_create: new threads inherit their creator's virtual mask, or take the one of their
 * attribute (pthread_attr_setaffinity_np), which glibc would otherwise hand to the host as if it
 * named host CPUs. The creator claims the new thread's slot before the thread runs any application
 * code, so a pthread_getaffinity_np right after pthread_create already sees it. */
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "libos/libos_init.h"
#include "libos/libos_machine.h"
#include "libos/libos_numa.h"
#include "libos/libos_threads.h"
#include "pal/pal.h"
#include "shim.h"

namespace shim {
void watch_thread_exit();
}

namespace {

/* The attribute functions of libc, looked up when a thread is first created with an attribute, not
 * bound at load: -z now would cost every process's start a symbol look-up for each of them (about 20,
 * some 900 instructions of ld.so's each), for the few programs that create threads with attributes. */
struct AttrFunctions {
    decltype(&::pthread_attr_destroy) pthread_attr_destroy;
    decltype(&::pthread_attr_getaffinity_np) pthread_attr_getaffinity_np;
    decltype(&::pthread_attr_getdetachstate) pthread_attr_getdetachstate;
    decltype(&::pthread_attr_getguardsize) pthread_attr_getguardsize;
    decltype(&::pthread_attr_getinheritsched) pthread_attr_getinheritsched;
    decltype(&::pthread_attr_getschedparam) pthread_attr_getschedparam;
    decltype(&::pthread_attr_getschedpolicy) pthread_attr_getschedpolicy;
    decltype(&::pthread_attr_getscope) pthread_attr_getscope;
    decltype(&::pthread_attr_getsigmask_np) pthread_attr_getsigmask_np;
    decltype(&::pthread_attr_getstack) pthread_attr_getstack;
    decltype(&::pthread_attr_getstacksize) pthread_attr_getstacksize;
    decltype(&::pthread_attr_init) pthread_attr_init;
    decltype(&::pthread_attr_setdetachstate) pthread_attr_setdetachstate;
    decltype(&::pthread_attr_setguardsize) pthread_attr_setguardsize;
    decltype(&::pthread_attr_setinheritsched) pthread_attr_setinheritsched;
    decltype(&::pthread_attr_setschedparam) pthread_attr_setschedparam;
    decltype(&::pthread_attr_setschedpolicy) pthread_attr_setschedpolicy;
    decltype(&::pthread_attr_setscope) pthread_attr_setscope;
    decltype(&::pthread_attr_setsigmask_np) pthread_attr_setsigmask_np;
    decltype(&::pthread_attr_setstack) pthread_attr_setstack;
    decltype(&::pthread_attr_setstacksize) pthread_attr_setstacksize;
};
constinit AttrFunctions g_attr = {};
#define ATTR(name) ::shim::real(g_attr.name, #name)

struct StartInfo {
    void* (*routine)(void*);
    void* arg;
    libos::ThreadSlot* slot;
    pid_t tid;
    std::atomic<int> ready; /* kStarting, kReady, or kWaiting while the new thread sleeps on it */
    libos::InheritedPolicy policy; /* the creator's memory policy, as the kernel copies its own */
};

/* The start hand-off: the creator sets kReady once the slot is claimed, and wakes the new thread
 * only if it went to sleep (kWaiting) first. Usually the creator is done before the new thread runs
 * at all, and the hand-off costs no system call, as native thread creation has none. */
constexpr int kStarting = 0, kReady = 1, kWaiting = 2;

void* start_thread(void* p) {
    auto* info = static_cast<StartInfo*>(p);
    int state = kStarting;
    /* Fails only when the creator was done (kReady): only this thread ever writes kWaiting. */
    if (info->ready.load(std::memory_order_acquire) == kStarting &&
        info->ready.compare_exchange_strong(state, kWaiting, std::memory_order_acquire)) {
        while (info->ready.load(std::memory_order_acquire) != kReady)
            PalSyscall(SYS_futex, reinterpret_cast<long>(&info->ready), FUTEX_WAIT_PRIVATE, kWaiting, 0, 0, 0);
    }
    libos::adopt_thread(info->slot, info->tid);
    libos::numa_adopt_thread_policy(info->policy);
    void* (*routine)(void*) = info->routine;
    void* arg = info->arg;
    free(info);
    shim::watch_thread_exit();
    if (shim::g_unwind_thread_start)
        shim::g_unwind_thread_start();
    return routine(arg);
}

/* Without a machine: glibc's thread, which, when stacks are traced, first allocates its blocks of
 * libos_unwind.so's libraries' thread-local storage (libos_unwind_tls.cpp). */
struct PlainStart {
    void* (*routine)(void*);
    void* arg;
};

void* start_plain(void* p) {
    auto* info = static_cast<PlainStart*>(p);
    void* (*routine)(void*) = info->routine;
    void* arg = info->arg;
    free(info);
    shim::g_unwind_thread_start();
    return routine(arg);
}

int create_plain(pthread_t* thread, const pthread_attr_t* attr, void* (*routine)(void*), void* arg) {
    if (!shim::g_unwind_thread_start)
        return SHIM_REAL(pthread_create)(thread, attr, routine, arg);
    auto* info = static_cast<PlainStart*>(malloc(sizeof(PlainStart)));
    if (!info)
        return EAGAIN;
    *info = {routine, arg};
    int ret = SHIM_REAL(pthread_create)(thread, attr, &start_plain, info);
    if (ret != 0)
        free(info);
    return ret;
}

/* glibc reports "no affinity in this attribute" as a mask of all ones. */
bool all_ones(const libos::CpuBits& bits) {
    for (uint64_t w : bits.words)
        if (w != ~0ULL)
            return false;
    return true;
}

/* A copy of `attr` with everything but the CPU affinity. */
void copy_without_affinity(const pthread_attr_t* attr, pthread_attr_t* copy) {
    ATTR(pthread_attr_init)(copy);
    int value;
    size_t size;
    struct sched_param param;
    if (ATTR(pthread_attr_getdetachstate)(attr, &value) == 0)
        ATTR(pthread_attr_setdetachstate)(copy, value);
    if (ATTR(pthread_attr_getinheritsched)(attr, &value) == 0)
        ATTR(pthread_attr_setinheritsched)(copy, value);
    if (ATTR(pthread_attr_getschedpolicy)(attr, &value) == 0)
        ATTR(pthread_attr_setschedpolicy)(copy, value);
    if (ATTR(pthread_attr_getschedparam)(attr, &param) == 0)
        ATTR(pthread_attr_setschedparam)(copy, &param);
    if (ATTR(pthread_attr_getscope)(attr, &value) == 0)
        ATTR(pthread_attr_setscope)(copy, value);
    if (ATTR(pthread_attr_getguardsize)(attr, &size) == 0)
        ATTR(pthread_attr_setguardsize)(copy, size);
    /* glibc stores the stack's end and reports base = end - size: with no stack of the caller's, end
     * is NULL and base + size wraps to 0. */
    void* base = nullptr;
    if (ATTR(pthread_attr_getstack)(attr, &base, &size) == 0 && reinterpret_cast<uintptr_t>(base) + size != 0)
        ATTR(pthread_attr_setstack)(copy, base, size);
    else if (ATTR(pthread_attr_getstacksize)(attr, &size) == 0)
        ATTR(pthread_attr_setstacksize)(copy, size);
    sigset_t mask;
    if (ATTR(pthread_attr_getsigmask_np)(attr, &mask) == 0)
        ATTR(pthread_attr_setsigmask_np)(copy, &mask);
}

}  // namespace

SHIM_EXPORT int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*routine)(void*),
                               void* arg) noexcept {
    shim::ensure();
    if (!libos::is_virtual())
        return create_plain(thread, attr, routine, arg);

    libos::CpuBits mask;
    bool from_attr = false;
    pthread_attr_t copy;
    const pthread_attr_t* use = attr;
    if (attr) {
        memset(&mask, 0, sizeof(mask));
        if (ATTR(pthread_attr_getaffinity_np)(attr, sizeof(mask.words), reinterpret_cast<cpu_set_t*>(mask.words)) == 0 &&
            !all_ones(mask)) {
            libos::trim_to_machine(&mask);
            if (mask.empty())
                return EINVAL; /* as glibc: the attribute names no CPU of the machine */
            from_attr = true;
            copy_without_affinity(attr, &copy);
            use = &copy;
        }
    }
    if (!from_attr)
        libos::current_mask(&mask);

    auto* info = static_cast<StartInfo*>(malloc(sizeof(StartInfo)));
    if (!info) {
        if (use == &copy)
            ATTR(pthread_attr_destroy)(&copy);
        return EAGAIN;
    }
    info->routine = routine;
    info->arg = arg;
    info->ready.store(kStarting, std::memory_order_relaxed);
    libos::numa_copy_thread_policy(&info->policy);
    int ret = SHIM_REAL(pthread_create)(thread, use, &start_thread, info);
    if (use == &copy)
        ATTR(pthread_attr_destroy)(&copy);
    if (ret != 0) {
        free(info);
        return ret;
    }
    pid_t tid = shim::tid_of(*thread);
    if (from_attr) {
        libos::CpuBits host;
        libos::to_host(mask, &host);
        PalThreadSetCpuAffinity(tid, libos::host_mask_bytes(), host.words);
    }
    info->slot = libos::register_thread(tid, mask);
    info->tid = tid;
    if (info->ready.exchange(kReady, std::memory_order_acq_rel) == kWaiting)
        PalSyscall(SYS_futex, reinterpret_cast<long>(&info->ready), FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
    return 0;
}
