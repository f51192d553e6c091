/* The shim's initialisation: where libshim.so lives (for exec), the libc functions it forwards to,
 * the LibOS's machine, and the hooks that follow threads and forks. */
#include <dlfcn.h>
#include <link.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "libos/libos_signal.h"
#include "libos/libos_trace.h"
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
constinit char g_pal_path[4096] = {};

void on_fork_prepare() {
    libos::before_fork();
}

void on_fork_child() {
    libos::after_fork_child();
    libos::trace_reset_stats();
}

void on_thread_exit(void*) {
    libos::thread_exiting();
}

/* The LibOS's own code: the executable segments of libshim.so, libpal.so and libos_unwind.so. */
int note_own_code(struct dl_phdr_info* info, size_t, void*) {
    const char* name = info->dlpi_name ? strrchr(info->dlpi_name, '/') : nullptr;
    name = name ? name + 1 : info->dlpi_name;
    if (!name || !(strcmp(name, "libshim.so") == 0 || strcmp(name, "libpal.so") == 0 ||
                   strcmp(name, "libos_unwind.so") == 0))
        return 0;
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X))
            libos::add_own_code(info->dlpi_addr + ph.p_vaddr, info->dlpi_addr + ph.p_vaddr + ph.p_memsz);
    }
    return 0;
}

/* libos_unwind.so, next to libshim.so (installed) or in the build tree's unwind/. */
constinit std::atomic<bool> g_unwinder_tried{false};
void load_unwinder() {
    if (g_unwinder_tried.exchange(true))
        return;
    const char* dir_end = strrchr(g_self_path, '/');
    if (!dir_end)
        return;
    size_t dir = static_cast<size_t>(dir_end - g_self_path) + 1;
    static const char* const kCandidates[] = {"libos_unwind.so", "../unwind/libos_unwind.so"};
    for (const char* candidate : kCandidates) {
        char path[sizeof(g_self_path) + 32];
        if (dir + strlen(candidate) >= sizeof(path))
            continue;
        memcpy(path, g_self_path, dir);
        strcpy(path + dir, candidate);
        if (void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL)) {
            auto fn = reinterpret_cast<LibosUnwindBacktrace>(dlsym(handle, "libos_unwind_backtrace"));
            dl_iterate_phdr(&note_own_code, nullptr);
            libos::set_unwinder(fn);
            return;
        }
    }
}

#ifdef LIBOS_TEST_HOOKS
/* Test builds only: LIBOS_TEST_CRASH=segv|ill|fpe|abort makes the shim crash right after start-up,
 * inside this function, so that tests can see the crash report name it. */
__attribute__((noinline)) void libos_crash_test_hook(const char* kind) {
    if (strcmp(kind, "segv") == 0)
        *static_cast<volatile int*>(nullptr) = 1;
    else if (strcmp(kind, "ill") == 0)
        __builtin_trap();
    else if (strcmp(kind, "fpe") == 0)
        __asm__ volatile("xor %%ecx, %%ecx\n\tmov $1, %%eax\n\tcltd\n\tidivl %%ecx" ::: "eax", "ecx", "edx");
    else if (strcmp(kind, "abort") == 0)
        abort();
}
#endif

}  // namespace

/* Marks the calling thread so that its slot is released when it ends. */
void watch_thread_exit() {
    pthread_setspecific(g_exit_key, reinterpret_cast<void*>(1));
}

void init() {
    /* Before libc set up the environment (a .preinit_array function, a sanitizer's start-up) the
     * configuration cannot be read yet: forward to libc for now (the lookups are lazy), and set up
     * on a later call. */
    if (!environ)
        return;
    int expected = 0;
    if (!g_init_step.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
        while (!g_ready.load(std::memory_order_acquire))
            PalSyscall(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
        return;
    }
    libos::init();
    /* Only exec needs the libraries' paths (to put them back into a child's LD_PRELOAD), and only
     * with a machine or tracing: a transparent process does not look them up. */
    if (libos::is_virtual() || libos::g_tracing) {
        Dl_info info;
        if (dladdr(reinterpret_cast<void*>(&init), &info) && info.dli_fname && info.dli_fname[0] == '/' &&
            strlen(info.dli_fname) < sizeof(g_self_path)) {
            strcpy(g_self_path, info.dli_fname);
            /* libpal.so goes first in a child's LD_PRELOAD, so that ld.so finds it loaded instead of
             * searching the shim's run path for it (a dozen failed opens per process). */
            Dl_info pal;
            if (dladdr(reinterpret_cast<void*>(&PalSyscall), &pal) && pal.dli_fname && pal.dli_fname[0] == '/' &&
                strlen(pal.dli_fname) < sizeof(g_pal_path))
                strcpy(g_pal_path, pal.dli_fname);
            libos::set_preload_library(g_self_path, g_pal_path[0] ? g_pal_path : nullptr);
        }
    }
    if (libos::fault_handling_installed())
        PalFaultFixupRegister(shim_getcpu_store_begin, shim_getcpu_store_end, shim_getcpu_store_fixup);
    if (libos::is_virtual() || libos::g_tracing)
        pthread_atfork(&on_fork_prepare, nullptr, &on_fork_child);
    if (libos::is_virtual())
        pthread_key_create(&g_exit_key, &on_thread_exit);
    if (libos::fault_handling_installed()) {
        dl_iterate_phdr(&note_own_code, nullptr);
        libos::set_unwinder_loader(&load_unwinder);
    }
    if (libos::trace_wants_stacks())
        load_unwinder();
    g_ready.store(true, std::memory_order_release);
#ifdef LIBOS_TEST_HOOKS
    if (const char* crash = getenv("LIBOS_TEST_CRASH"))
        libos_crash_test_hook(crash);
#endif
}

void* resolve_next(const char* name) {
    return dlsym(RTLD_NEXT, name);
}

}  // namespace shim

/* Runs when libshim.so is loaded, before main; a bad configuration stops the program here. */
__attribute__((constructor)) static void shim_constructor() {
    shim::ensure();
}

/* The main thread's slot is released when the process exits normally. */
__attribute__((destructor)) static void shim_destructor() {
    if (!shim::g_ready.load(std::memory_order_acquire))
        return;
    libos::trace_finish();
    if (libos::g_init_state.load() == libos::kVirtual)
        libos::thread_exiting();
}
