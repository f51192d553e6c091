/* libos_unwind_source (libos_unwind.h): a frame's source file and line, read from the object's DWARF
 * line table with libdw (elfutils), as strace -k does. libdw and libelf are linked in statically and
 * allocate only from libos_unwind_arena.cpp's arena; objects are reported to libdw one by one, as
 * frames name them (no /proc/self/maps, which libdw would read with stdio), and what libdw reads of
 * an object stays for the process's life, so that a later frame in it costs a lookup only.
 *
 * One thread at a time: a lookup claims libdw with one atomic step and, when another thread holds
 * it, returns at once with no line (it never waits). libdw's own read-write locks are therefore
 * never contended. A call traced inside a signal handler cannot re-enter a lookup of its own thread:
 * the tracer traces no call made while it formats a line. */
#include "libos_unwind.h"

#include <elfutils/libdwfl.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <setjmp.h>
#include <string.h>
#include <unistd.h>

#include <atomic>

#include "libos_unwind_arena.h"
#include "libos_unwind_stack.h"

namespace {

std::atomic<bool> g_busy{false};
bool g_broken = false; /* libdw ran out of memory once: not used again */
Dwfl* g_dwfl = nullptr;
/* Where libdw's out-of-memory exit jumps back to, for the thread in a lookup. */
sigjmp_buf g_escape;
/* The thread whose lookup set g_escape (pthread_self's value), 0 for none: the arena's owner may
 * also be a thread unwinding, which has no escape set. */
std::atomic<unsigned long> g_escape_owner{0};

int no_elf(Dwfl_Module*, void**, const char*, Dwarf_Addr, char**, Elf**) {
    return -1; /* every module is reported with its file */
}

/* A module without DWARF of its own: Debian's detached debug information, by build id
 * (/usr/lib/debug/.build-id/ab/cdef....debug, installed by the -dbg and -dbgsym packages). */
int find_debuginfo(Dwfl_Module* mod, void**, const char*, Dwarf_Addr, const char*, const char*, GElf_Word,
                   char** name) {
    *name = nullptr;
    const unsigned char* bits = nullptr;
    GElf_Addr vaddr = 0;
    int len = dwfl_module_build_id(mod, &bits, &vaddr);
    if (len < 2 || len > 64)
        return -1;
    static const char kDir[] = "/usr/lib/debug/.build-id/";
    static const char kHex[] = "0123456789abcdef";
    char path[sizeof(kDir) + 2 * 64 + 16];
    size_t at = sizeof(kDir) - 1;
    memcpy(path, kDir, at);
    for (int i = 0; i < len; ++i) {
        path[at++] = kHex[bits[i] >> 4];
        path[at++] = kHex[bits[i] & 15];
        if (i == 0)
            path[at++] = '/';
    }
    memcpy(path + at, ".debug", 7);
    return open(path, O_RDONLY | O_CLOEXEC);
}

const Dwfl_Callbacks kCallbacks = {no_elf, find_debuginfo, nullptr, nullptr};

/* `text` of `n` bytes at most, NUL included; false when it did not fit. */
bool put(char*& out, size_t& room, const char* text, size_t n) {
    if (n >= room)
        return false;
    memcpy(out, text, n);
    out += n;
    room -= n;
    *out = '\0';
    return true;
}

bool lookup(uintptr_t address, const char* object, uintptr_t bias, char* out, size_t size) {
    Dwfl_Module* mod = dwfl_addrmodule(g_dwfl, address);
    if (!mod) {
        if (!object || object[0] != '/' || libos_arena_nearly_full())
            return false;
        dwfl_report_begin_add(g_dwfl);
        mod = dwfl_report_elf(g_dwfl, object, object, -1, bias, false);
        dwfl_report_end(g_dwfl, nullptr, nullptr);
        if (!mod)
            return false;
    }
    Dwfl_Line* line = dwfl_module_getsrc(mod, address);
    if (!line)
        return false;
    int number = 0;
    const char* file = dwfl_lineinfo(line, nullptr, &number, nullptr, nullptr, nullptr);
    if (!file || number <= 0)
        return false;
    char digits[16];
    size_t n = 0;
    for (unsigned v = static_cast<unsigned>(number); v; v /= 10)
        digits[n++] = static_cast<char>('0' + v % 10);
    char* at = out;
    size_t room = size;
    /* A file named relative to its compilation directory is shown joined to it, as addr2line and
     * eu-addr2line show it. */
    const char* dir = file[0] == '/' ? nullptr : dwfl_line_comp_dir(line);
    if (dir && dir[0] && (!put(at, room, dir, strlen(dir)) || !put(at, room, "/", 1)))
        return false;
    if (!put(at, room, file, strlen(file)) || !put(at, room, ":", 1))
        return false;
    while (n)
        if (!put(at, room, &digits[--n], 1))
            return false;
    return true;
}

/* At load (the shim's start-up, or a crash report): the arena and libdw's session. libdw must have
 * allocated it from the arena; when it did not (the program had loaded libdw itself, so its copy
 * is bound to libc's malloc, or the library was loaded without RTLD_DEEPBIND, as under ASan,
 * whose runtime refuses it), libdw is not used on the trace's path: no file:line. */
__attribute__((constructor)) void start_libdw() {
    if (!libos_arena_reserve()) {
        g_broken = true;
        return;
    }
    const size_t before = libos_arena_used();
    const unsigned long outer = libos_arena_enter();
    g_dwfl = dwfl_begin(&kCallbacks);
    libos_arena_leave(outer);
    if (!g_dwfl || libos_arena_used() == before)
        g_broken = true;
}

}  // namespace

/* libdw's "out of memory" (__libdw_oom calls error(EXIT_FAILURE, ...), which would end the
 * program), found before libc's through RTLD_DEEPBIND: back to the lookup, which gives libdw up for
 * good. Anyone else's call (a program that loads libdw itself shares this copy) goes to libc's. */
extern "C" __attribute__((visibility("default"))) void error(int status, int errnum, const char* format, ...) {
    if (g_escape_owner.load(std::memory_order_relaxed) == static_cast<unsigned long>(pthread_self()))
        siglongjmp(g_escape, 1);
    using Verror = void (*)(int, int, const char*, va_list);
    auto libc_verror = reinterpret_cast<Verror>(dlsym(RTLD_DEFAULT, "verror"));
    va_list args;
    va_start(args, format);
    if (libc_verror)
        libc_verror(status, errnum, format, args);
    va_end(args);
    if (status)
        _exit(status);
}

namespace {

struct Lookup {
    uintptr_t address;
    const char* object;
    uintptr_t bias;
    char* out;
    size_t size;
    bool found;
};

/* The lookup, on a stack of the library's own (libos_unwind_stack.cpp): libdw's first reading of an
 * object's debug information is deep. The jump back from libdw's out-of-memory exit stays on it. */
void lookup_on_own_stack(void* arg) {
    auto* l = static_cast<Lookup*>(arg);
    volatile bool found = false; /* volatile: kept across the jump back */
    const unsigned long outer = libos_arena_enter();
    if (sigsetjmp(g_escape, 0) == 0) {
        g_escape_owner.store(static_cast<unsigned long>(pthread_self()), std::memory_order_relaxed);
        found = lookup(l->address, l->object, l->bias, l->out, l->size);
    } else {
        g_broken = true;
    }
    g_escape_owner.store(0, std::memory_order_relaxed);
    libos_arena_leave(outer);
    l->found = found;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int libos_unwind_source(uintptr_t address, const char* object,
                                                                          uintptr_t bias, char* out, size_t size) {
    if (!out || size == 0)
        return 0;
    out[0] = '\0';
    if (g_broken || g_busy.exchange(true, std::memory_order_acquire))
        return 0;
    Lookup l{address, object, bias, out, size, false};
    libos_on_own_stack(lookup_on_own_stack, &l);
    g_busy.store(false, std::memory_order_release);
    if (!l.found)
        out[0] = '\0';
    return l.found ? 1 : 0;
}
