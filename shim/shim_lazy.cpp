/* libc functions the shim uses only on rare paths (its walkers, its stdio of live files, fdopen),
 * looked up the first time one is called rather than bound at load. libshim.so is linked with -z now
 * (docs/layout.md, "Stack"), so each libc function it imports costs every process's start a symbol
 * look-up in ld.so, about 800 user-mode instructions, whether the process ever calls it or not.
 *
 * The link (shim/meson.build, shim_lazy_functions) rewrites the shim's references to each name below into
 * references to its __wrap_ function here (ld's --wrap): no call site changes. Each wrapper finds the
 * function with dlsym(RTLD_DEFAULT), the same global search ld.so makes at load, so a program that
 * gives its own definition (an allocator's calloc, say) still gets the shim's calls, as before.
 *
 * Only functions that are never called where dlsym may not be (a signal handler, a vfork child, a
 * small stack's first CPU-view call) belong here: none of these is async-signal-safe itself. One
 * exception, which holds only because its first call comes earlier: the readdir of a virtual
 * directory (shim_fs.cpp) calls dirfd and may run in a signal handler, but only on a DIR that the
 * shim's opendir or fdopendir made, which called dirfd first.
 * dlsym clears the calling thread's pending dlerror(), as the shim's dlsym(RTLD_NEXT) look-ups of
 * its SHIM_REAL functions do: a program that calls, say, nftw for the first time between a failed
 * dlopen and its dlerror() reads no message there (docs/layout.md says so). */
#include <dirent.h>
#include <dlfcn.h>
#include <search.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>

#include "shim.h"

namespace {

void* resolve_global(const char* name) {
    return dlsym(RTLD_DEFAULT, name);
}

template <typename F>
inline F lazy(F& slot, const char* name) {
    F f = __atomic_load_n(&slot, __ATOMIC_ACQUIRE);
    if (__builtin_expect(!f, 0)) {
        f = reinterpret_cast<F>(resolve_global(name));
        if (!f)
            abort(); /* libc without the function: as a failed load-time binding would have stopped */
        __atomic_store_n(&slot, f, __ATOMIC_RELEASE);
    }
    return f;
}

struct LazyFunctions {
    void (*flockfile)(FILE*);
    void (*funlockfile)(FILE*);
    void (*fpurge)(FILE*);
    off64_t (*ftello64)(FILE*);
    FILE* (*fdopen)(int, const char*);
    void (*qsort)(void*, size_t, size_t, int (*)(const void*, const void*));
    void* (*tfind)(const void*, void* const*, int (*)(const void*, const void*));
    void* (*tsearch)(const void*, void**, int (*)(const void*, const void*));
    void (*tdestroy)(void*, void (*)(void*));
    void* (*dlvsym)(void*, const char*, const char*);
    int (*dirfd)(DIR*);
    void* (*calloc)(size_t, size_t);
    void* (*realloc)(void*, size_t);
};
constinit LazyFunctions g_lazy = {};
#define LAZY(field, name) lazy(g_lazy.field, name)

}  // namespace

#define SHIM_WRAP extern "C" __attribute__((visibility("hidden")))

SHIM_WRAP void __wrap_flockfile(FILE* fp) { LAZY(flockfile, "flockfile")(fp); }
SHIM_WRAP void __wrap_funlockfile(FILE* fp) { LAZY(funlockfile, "funlockfile")(fp); }
SHIM_WRAP void __wrap___fpurge(FILE* fp) { LAZY(fpurge, "__fpurge")(fp); }
SHIM_WRAP off64_t __wrap_ftello64(FILE* fp) { return LAZY(ftello64, "ftello64")(fp); }
SHIM_WRAP FILE* __wrap_fdopen(int fd, const char* mode) { return LAZY(fdopen, "fdopen")(fd, mode); }
SHIM_WRAP void __wrap_qsort(void* base, size_t n, size_t size, int (*compare)(const void*, const void*)) {
    LAZY(qsort, "qsort")(base, n, size, compare);
}
SHIM_WRAP void* __wrap_tfind(const void* key, void* const* root, int (*compare)(const void*, const void*)) {
    return LAZY(tfind, "tfind")(key, root, compare);
}
SHIM_WRAP void* __wrap_tsearch(const void* key, void** root, int (*compare)(const void*, const void*)) {
    return LAZY(tsearch, "tsearch")(key, root, compare);
}
SHIM_WRAP void __wrap_tdestroy(void* root, void (*free_node)(void*)) { LAZY(tdestroy, "tdestroy")(root, free_node); }
/* dlvsym(RTLD_NEXT, ...) finds the object after its caller's: the caller is still libshim.so. */
SHIM_WRAP void* __wrap_dlvsym(void* handle, const char* name, const char* version) {
    return LAZY(dlvsym, "dlvsym")(handle, name, version);
}
SHIM_WRAP int __wrap_dirfd(DIR* dir) { return LAZY(dirfd, "dirfd")(dir); }
SHIM_WRAP void* __wrap_calloc(size_t n, size_t size) { return LAZY(calloc, "calloc")(n, size); }
SHIM_WRAP void* __wrap_realloc(void* p, size_t size) { return LAZY(realloc, "realloc")(p, size); }
