/* libos_unwind_thread_start (libos_unwind.h): the thread-local blocks of the libraries loaded with
 * libos_unwind.so (libunwind's, libdw's and libelf's, and its own), allocated when a thread starts.
 *
 * They are dynamic TLS: the library is dlopen'ed, and those libraries' variables are general-dynamic,
 * so glibc allocates a thread's block of each (and grows its DTV) at the thread's first access, with
 * the program's malloc. Left alone, that first access is the thread's first stack or file:line
 * lookup: inside a traced call, which may be in a signal handler (2 calls of the program's malloc,
 * measured). So the shim calls this at each thread's start (its pthread_create wrapper) and on the
 * thread that loads the library: __tls_get_addr of each module allocates the blocks then, where
 * malloc is allowed, and the lookups find them present. The modules are found once, at load, with
 * dl_iterate_phdr. */
#include "libos_unwind.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>

namespace {

struct TlsIndex {
    unsigned long module;
    unsigned long offset;
};
using TlsGetAddr = void* (*)(TlsIndex*);

constexpr int kMaxModules = 8;
unsigned long g_modules[kMaxModules];
int g_module_count = 0;
TlsGetAddr g_tls_get_addr = nullptr;

bool ours(const char* path) {
    const char* base = strrchr(path, '/');
    base = base ? base + 1 : path;
    static const char* const kNames[] = {"libos_unwind.so", "libunwind", "libdw.", "libdw-", "libelf."};
    for (const char* name : kNames)
        if (strncmp(base, name, strlen(name)) == 0)
            return true;
    return false;
}

int note_module(struct dl_phdr_info* info, size_t, void*) {
    if (info->dlpi_tls_modid && info->dlpi_name && ours(info->dlpi_name) && g_module_count < kMaxModules)
        g_modules[g_module_count++] = info->dlpi_tls_modid;
    return 0;
}

/* At load, on the loading thread (the shim's start-up): the modules, and the blocks of this thread. */
__attribute__((constructor)) void find_modules() {
    /* Not in a program built with AddressSanitizer: its __tls_get_addr, first in the global scope,
     * records each block in the calling thread's sanitizer state, which at a thread's start (the
     * shim's wrapper runs before the sanitizer's) is not made yet, and LeakSanitizer's tracer then
     * crashed walking it at exit. Such a program's malloc is the sanitizer's own anyway. */
    if (dlsym(RTLD_DEFAULT, "__asan_init"))
        return;
    g_tls_get_addr = reinterpret_cast<TlsGetAddr>(dlsym(RTLD_DEFAULT, "__tls_get_addr"));
    if (g_tls_get_addr)
        dl_iterate_phdr(note_module, nullptr);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) void libos_unwind_thread_start() {
    for (int i = 0; i < g_module_count && g_tls_get_addr; ++i) {
        TlsIndex index{g_modules[i], 0};
        g_tls_get_addr(&index);
    }
}
