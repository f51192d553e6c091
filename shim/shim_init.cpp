/* The shim's initialisation: where libshim.so lives (for exec), the libc functions it forwards to,
 * the LibOS's machine, and the hooks that follow threads and forks. */
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "libos/libos_vcpu.h"
#include "pal/pal.h"
#include "shim.h"

namespace shim {

constinit RealFunctions g_real = {};
constinit std::atomic<bool> g_ready{false};

namespace {

constinit std::atomic<int> g_init_step{0};
constinit pthread_key_t g_exit_key = 0;
constinit char g_self_path[4096] = {};

void on_fork_prepare() {
    libos::before_fork();
}

void on_fork_child() {
    libos::after_fork_child();
}

void on_thread_exit(void*) {
    libos::thread_exiting();
}

template <typename F>
void resolve(F& slot, const char* name) {
    slot = reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

}  // namespace

/* Marks the calling thread so that its slot is released when it ends. */
void watch_thread_exit() {
    pthread_setspecific(g_exit_key, reinterpret_cast<void*>(1));
}

void resolve_all();

void init() {
    /* Before libc set up the environment (a .preinit_array function, a sanitizer's start-up) the
     * configuration cannot be read yet: forward to libc for now, and set up on a later call. */
    if (!environ) {
        resolve_all();
        return;
    }
    int expected = 0;
    if (!g_init_step.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
        while (!g_ready.load(std::memory_order_acquire))
            PalSyscall(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
        return;
    }
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&init), &info) && info.dli_fname && info.dli_fname[0] == '/' &&
        strlen(info.dli_fname) < sizeof(g_self_path)) {
        strcpy(g_self_path, info.dli_fname);
        libos::set_preload_library(g_self_path);
    }
    resolve_all();
    libos::init();
    if (libos::is_virtual()) {
        pthread_atfork(&on_fork_prepare, nullptr, &on_fork_child);
        pthread_key_create(&g_exit_key, &on_thread_exit);
    }
    g_ready.store(true, std::memory_order_release);
}

/* The libc functions the shim forwards to. Idempotent: it may run again before init completes. */
void resolve_all() {
    resolve(g_real.sysconf, "sysconf");
    resolve(g_real.getcpu, "getcpu");
    resolve(g_real.sched_getcpu, "sched_getcpu");
    resolve(g_real.get_nprocs, "get_nprocs");
    resolve(g_real.get_nprocs_conf, "get_nprocs_conf");
    resolve(g_real.pthread_create, "pthread_create");
    resolve(g_real.fork, "fork");
    resolve(g_real.execvpe, "execvpe");
    resolve(g_real.fexecve, "fexecve");
    resolve(g_real.posix_spawn, "posix_spawn");
    resolve(g_real.posix_spawnp, "posix_spawnp");
    resolve(g_real.fopen, "fopen");
    resolve(g_real.opendir, "opendir");
    resolve(g_real.fdopendir, "fdopendir");
    resolve(g_real.readdir, "readdir");
    resolve(g_real.rewinddir, "rewinddir");
    resolve(g_real.closedir, "closedir");
    resolve(g_real.scandir, "scandir");
    resolve(g_real.sigaction, "sigaction");
    resolve(g_real.signal, "signal");
    resolve(g_real.sysv_signal, "sysv_signal");
    resolve(g_real.sigset, "sigset");
}

}  // namespace shim

/* Runs when libshim.so is loaded, before main; a bad configuration stops the program here. */
__attribute__((constructor)) static void shim_constructor() {
    shim::ensure();
}

/* The main thread's slot is released when the process exits normally. */
__attribute__((destructor)) static void shim_destructor() {
    if (shim::g_ready.load(std::memory_order_acquire) && libos::g_init_state.load() == libos::kVirtual)
        libos::thread_exiting();
}
