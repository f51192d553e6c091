/* The shim's initialisation: where libshim.so lives (for exec), the libc functions it forwards to,
 * the LibOS's machine, and the hooks that follow threads and forks. */
#include <dlfcn.h>
#include <link.h>
#include <stdlib.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "libos/libos_config.h"
#include "libos/libos_env.h"
#include "libos/libos_init.h"
#include "libos/libos_sections.h"
#include "libos/libos_signal.h"
#include "libos/libos_text.h"
#include "libos/libos_threads.h"
#include "libos/libos_trace.h"
#include "libos/libos_vfs.h"
#include "pal/pal.h"
#include "shim.h"

namespace shim {

constinit RealFunctions g_real = {};
constinit std::atomic<bool> g_ready{false};
constinit std::atomic<bool> g_direct{false};
constinit LibosUnwindThreadStart g_unwind_thread_start = nullptr;

namespace {

constinit std::atomic<int> g_init_step{0};
constinit pthread_key_t g_exit_key = 0;
/* The path libshim.so was loaded from: the loader's own copy of the name (its link map's), which lives
 * as long as the library; nothing is copied, and no page of this library's is written for it. */
constinit const char* g_self_path = nullptr;
constexpr size_t kPathMax = 4096;

/* The last '/' of `path`, or nullptr: written out, no call into libc at start-up. */
const char* last_slash(const char* path) {
    const char* last = nullptr;
    for (const char* p = path; *p; ++p)
        if (*p == '/')
            last = p;
    return last;
}

bool same_text(const char* a, const char* b) {
    while (*a && *a == *b)
        ++a, ++b;
    return *a == *b;
}

LIBOS_FORK_PATH void on_fork_prepare() {
    libos::before_fork();
}

LIBOS_FORK_PATH void on_fork_child() {
    libos::after_fork_child();
    libos::vfs_live_after_fork();
    /* Only a traced process has trace state to reset: an untraced fork child must not write (and so
     * fault in, page by page) the 12 KiB of a summary it never keeps. */
    if (libos::g_tracing)
        libos::trace_after_fork();
}

void on_thread_exit(void*) {
    libos::thread_exiting();
}

/* One walk over the loaded objects (dl_iterate_phdr, which takes no symbol-table search as dladdr
 * would): the path libshim.so was loaded from, which is the object holding `self`, and, when
 * `own_code` is set, the executable segments of the LibOS's own code (libshim.so, with the PAL linked
 * in, and libos_unwind.so) for the crash reports. */
struct ObjectWalk {
    uintptr_t self;
    bool own_code;
};

LIBOS_STARTUP int walk_object(struct dl_phdr_info* info, size_t, void* arg) {
    const auto* walk = static_cast<const ObjectWalk*>(arg);
    bool is_self = false;
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph.p_vaddr;
        if (ph.p_type == PT_LOAD && walk->self >= start && walk->self < start + ph.p_memsz)
            is_self = true;
    }
    const char* path = info->dlpi_name;
    if (is_self && path && path[0] == '/')
        g_self_path = path;
    if (!walk->own_code)
        return 0;
    const char* base = path ? last_slash(path) : nullptr;
    base = base ? base + 1 : path;
    if (!(is_self || (base && same_text(base, "libos_unwind.so"))))
        return 0;
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X))
            libos::add_own_code(info->dlpi_addr + ph.p_vaddr, info->dlpi_addr + ph.p_vaddr + ph.p_memsz);
    }
    return 0;
}

void walk_objects(bool own_code) {
    ObjectWalk walk = {reinterpret_cast<uintptr_t>(&walk_objects), own_code};
    dl_iterate_phdr(&walk_object, &walk);
}

/* libos_unwind.so, next to libshim.so (installed) or in the build tree's unwind/. */
constinit std::atomic<bool> g_unwinder_tried{false};
void load_unwinder() {
    if (g_unwinder_tried.exchange(true))
        return;
    const char* dir_end = g_self_path ? strrchr(g_self_path, '/') : nullptr;
    if (!dir_end)
        return;
    size_t dir = static_cast<size_t>(dir_end - g_self_path) + 1;
    static const char* const kCandidates[] = {"libos_unwind.so", "../unwind/libos_unwind.so"};
    for (const char* candidate : kCandidates) {
        char path[kPathMax + 32];
        if (dir >= kPathMax)
            return;
        if (dir + strlen(candidate) >= sizeof(path))
            continue;
        memcpy(path, g_self_path, dir);
        strcpy(path + dir, candidate);
        /* RTLD_DEEPBIND: libdw, loaded with it, allocates from libos_unwind.so's arena rather than the
         * program's malloc (unwind/libos_unwind_arena.cpp). ASan's runtime refuses the flag: there,
         * libdw's copy is left on libc's malloc and libos_unwind.so gives no file:line. */
        int flags = RTLD_NOW | RTLD_LOCAL;
        if (!dlsym(RTLD_DEFAULT, "__asan_init"))
            flags |= RTLD_DEEPBIND;
        if (void* handle = dlopen(path, flags)) {
            auto fn = reinterpret_cast<LibosUnwindBacktrace>(dlsym(handle, "libos_unwind_backtrace"));
            walk_objects(true);
            /* Absent from a build without libdw: stacks without file:line. */
            libos::set_source_resolver(reinterpret_cast<LibosUnwindSource>(dlsym(handle, "libos_unwind_source")));
            libos::set_unwinder(fn);
            /* The thread-local blocks of libunwind and libdw, for this thread now and each new one
             * at its start (shim_thread.cpp), not at a first lookup in a signal handler. */
            shim::g_unwind_thread_start =
                reinterpret_cast<LibosUnwindThreadStart>(dlsym(handle, "libos_unwind_thread_start"));
            if (shim::g_unwind_thread_start)
                shim::g_unwind_thread_start();
            return;
        }
    }
}

[[noreturn]] void refuse_without_unwinder() {
    const char* why = dlerror();
    libos::ConfigError error;
    char text[400];
    libos::TextBuilder(text, sizeof(text)).add("the stacks need libos_unwind.so, next to ")
        .add(g_self_path ? g_self_path : "libshim.so").add(", which cannot be loaded (")
        .add(why ? why : "no libos_unwind_backtrace in it").add(")");
    libos::config_error(&error, libos::kEnvTraceStack, "1", text);
    libos::refuse(error.text);
}

#ifdef LIBOS_TEST_HOOKS
/* Test builds only: LIBOS_TEST_CRASH=segv|ill|fpe|abort makes the shim crash right after start-up,
 * inside this function, so that tests can see the crash report name it. Any other value is refused
 * as every setting's is (empty: no crash). The faults are instructions, not C++: a store through a
 * null pointer is undefined behaviour, which a sanitizer build catches before the store is made
 * (UBSan's trap, SIGILL). */
__attribute__((noinline)) void libos_crash_test_hook(const char* kind) {
    if (strcmp(kind, "segv") == 0) {
#if defined(__x86_64__)
        __asm__ volatile("movl $1, 0" ::: "memory");
#else
        __asm__ volatile("mov x9, #0\n\tstr w9, [x9]" ::: "x9", "memory");
#endif
    } else if (strcmp(kind, "ill") == 0) {
        __builtin_trap();
    } else if (strcmp(kind, "fpe") == 0) {
#if defined(__x86_64__)
        __asm__ volatile("xor %%ecx, %%ecx\n\tmov $1, %%eax\n\tcltd\n\tidivl %%ecx" ::: "eax", "ecx", "edx");
#else
        raise(SIGFPE); /* arm64's integer division by zero does not trap */
#endif
    } else if (strcmp(kind, "abort") == 0) {
        abort();
    } else if (*kind) {
        libos::ConfigError error;
        libos::config_error(&error, libos::kEnvTestCrash, kind, "expected segv, ill, fpe or abort");
        libos::refuse(error.text);
    }
}
#endif

}  // namespace

/* Marks the calling thread so that its slot is released when it ends. */
void watch_thread_exit() {
    pthread_setspecific(g_exit_key, reinterpret_cast<void*>(1));
}

constinit thread_local bool t_initializing __attribute__((tls_model("initial-exec"))) = false;

LIBOS_STARTUP void init() {
    /* Before libc set up the environment (a .preinit_array function, a sanitizer's start-up) the
     * configuration cannot be read yet: forward to libc for now (the lookups are lazy), and set up
     * on a later call. */
    if (!environ)
        return;
    /* A call made by the set-up itself (the unwinder's library, loaded below, reads /proc/self/exe)
     * comes after the LibOS is set up: it goes on, rather than wait for itself. */
    if (t_initializing)
        return;
    int expected = 0;
    if (!g_init_step.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
        while (!g_ready.load(std::memory_order_acquire))
            PalSyscall(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
        return;
    }
    t_initializing = true;
    libos::init();
    /* Only exec (which puts the shim back into a child's LD_PRELOAD) and the unwinder's loading need
     * the shim's path, and only with a machine or tracing: a transparent process does not walk the
     * loaded objects at all. Those modes also install the fault handlers, which need the LibOS's own
     * code ranges from the same walk. */
    const bool machine_or_tracing = libos::is_virtual() || libos::g_tracing;
    if (machine_or_tracing) {
        walk_objects(libos::fault_handling_installed());
        if (g_self_path)
            libos::set_preload_library(g_self_path);
    }
    /* Only those modes install the fault handlers: a transparent process does not read the flag,
     * which lies on a page of the shim's globals that it would otherwise never touch. */
    if (machine_or_tracing && libos::fault_handling_installed()) {
        PalFaultFixupRegister(shim_getcpu_store_begin, shim_getcpu_store_end, shim_getcpu_store_fixup);
        libos::set_unwinder_loader(&load_unwinder);
    }
    if (libos::is_virtual() || libos::g_tracing)
        pthread_atfork(&on_fork_prepare, nullptr, &on_fork_child);
    if (libos::is_virtual())
        pthread_key_create(&g_exit_key, &on_thread_exit);
    /* Stacks asked for and no unwinder to take them (libos_unwind.so missing, or no memory to load it):
     * refused, as any setting that cannot be honoured, rather than lines without their stacks. */
    if (libos::trace_wants_stacks()) {
        load_unwinder();
        if (!libos::unwinder())
            refuse_without_unwinder();
    }
    t_initializing = false;
    g_ready.store(true, std::memory_order_release);
    PalSetSyscallFailureHandler(&syscall_failure);
    g_direct.store(!libos::g_tracing, std::memory_order_release);
#ifdef LIBOS_TEST_HOOKS
    if (const char* crash = getenv(libos::kEnvTestCrash))
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
    /* The summary exists only with tracing (LIBOS_STATS turns it on); trace_finish's frame is large
     * enough that merely calling it touches a new page of the stack. */
    if (libos::g_tracing)
        libos::trace_finish();
    if (libos::g_init_state.load() == libos::kVirtual)
        libos::thread_exiting();
}
