/* libos_unwind.so (libos_unwind.h): libunwind's local unwinder, _dl_find_object for object names, and
 * libiberty's callback demangler for C++ names. */
#define UNW_LOCAL_ONLY
#include "libos_unwind.h"
#include "libos_unwind_stack.h"
#ifdef LIBOS_UNWIND_ARENA
#include "libos_unwind_arena.h"
#endif

#include <dlfcn.h>
#include <link.h>
#include <unistd.h>
#include <libunwind.h>
#include <string.h>
#include <ucontext.h>

/* libiberty's demangler (linked statically from libiberty.a): the callback form formats on the stack
 * and hands the text out in pieces, with no malloc, unlike __cxa_demangle. Declared here: libiberty's
 * own header clashes with glibc's basename. Its options: DMGL_PARAMS | DMGL_ANSI. */
extern "C" int cplus_demangle_v3_callback(const char* mangled, int options,
                                          void (*sink)(const char*, size_t, void*), void* opaque);
namespace {
constexpr int kDemangleOptions = 1 | 2;
/* Names longer than this are left mangled: the demangler's stack use grows with the name. */
constexpr size_t kDemangleMax = 1024;

struct DemangleOut {
    char* buf;
    size_t size, used;
};

void demangle_sink(const char* s, size_t n, void* opaque) {
    auto* out = static_cast<DemangleOut*>(opaque);
    size_t room = out->size - 1 - out->used;
    if (n > room)
        n = room;
    memcpy(out->buf + out->used, s, n);
    out->used += n;
    out->buf[out->used] = '\0';
}

/* `name` demangled in place when it is a whole C++ name ("_Z..."); cut to the buffer's size. */
void demangle_in_place(char* name, size_t size) {
    if (name[0] != '_' || name[1] != 'Z' || strlen(name) > kDemangleMax)
        return;
    char out[sizeof(LibosFrame::function)];
    DemangleOut sink{out, sizeof(out) < size ? sizeof(out) : size, 0};
    out[0] = '\0';
    if (cplus_demangle_v3_callback(name, kDemangleOptions, demangle_sink, &sink) && out[0])
        memcpy(name, out, sink.used + 1);
}
}  // namespace

/* The main program's link map has an empty name: its path, read once (not on a signal path: at the
 * first stack, or from the plugin's constructor). */
static char g_program[256];
static const char* program_name() {
    return g_program[0] ? g_program : "?";
}
__attribute__((constructor)) static void read_program_name() {
    ssize_t n = readlink("/proc/self/exe", g_program, sizeof(g_program) - 1);
    g_program[n > 0 ? n : 0] = '\0';
}

namespace {

/* Whether `ip` is in this library's own code: its frames (the entry, the switch to its own stack)
 * are not the caller's stack. */
bool in_this_library(uintptr_t ip) {
    struct dl_find_object self, found;
    return _dl_find_object(reinterpret_cast<void*>(&in_this_library), &self) == 0 &&
           _dl_find_object(reinterpret_cast<void*>(ip), &found) == 0 && found.dlfo_link_map == self.dlfo_link_map;
}

__attribute__((noinline)) int walk(void* ucontext, LibosFrame* frames, int max) {
    unw_context_t context;
    unw_cursor_t cursor;
    if (ucontext) {
        /* A signal context is a complete machine context; libunwind starts from it as a signal frame. */
        memcpy(&context, ucontext, sizeof(ucontext_t) < sizeof(context) ? sizeof(ucontext_t) : sizeof(context));
        if (unw_init_local2(&cursor, &context, UNW_INIT_SIGNAL_FRAME) != 0)
            return 0;
    } else {
        unw_getcontext(&context);
        if (unw_init_local(&cursor, &context) != 0)
            return 0;
        /* This library's frames: this function's, the entry's and the switch to its own stack. */
        unw_word_t ip = 0;
        do {
            if (unw_step(&cursor) <= 0 || unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0)
                return 0;
        } while (in_this_library(ip));
    }
    int n = 0;
    do {
        unw_word_t ip = 0, offset = 0;
        if (unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0 || ip == 0)
            break;
        LibosFrame& f = frames[n];
        f.address = ip;
        f.offset = 0;
        f.function[0] = '\0';
        f.object[0] = '\0';
        /* -UNW_ENOMEM: the name did not fit; libunwind still wrote its start, NUL-terminated. */
        int named = unw_get_proc_name(&cursor, f.function, sizeof(f.function), &offset);
        if (named == 0) {
            f.offset = offset;
            demangle_in_place(f.function, sizeof(f.function));
        } else if (named == -UNW_ENOMEM) {
            f.offset = offset; /* a cut mangled name cannot be demangled: it stays as it is */
        } else {
            f.function[0] = '\0';
        }
        f.module_offset = 0;
        /* The object that holds the address, through glibc's _dl_find_object: lock-free and
         * async-signal-safe (dladdr takes the loader's lock). Return addresses point past their
         * call: ip - 1 is inside the calling function. Names stay as libunwind gives them (not
         * demangled: demangling allocates). */
        struct dl_find_object found;
        if (_dl_find_object(reinterpret_cast<void*>(n == 0 ? ip : ip - 1), &found) == 0 && found.dlfo_link_map &&
            found.dlfo_link_map->l_name) {
            const char* name = found.dlfo_link_map->l_name;
            if (!name[0])
                name = program_name();
            size_t len = strlen(name);
            if (len >= sizeof(f.object))
                len = sizeof(f.object) - 1;
            memcpy(f.object, name, len);
            f.object[len] = '\0';
            f.module_offset = ip - found.dlfo_link_map->l_addr;
        }
        ++n;
    } while (n < max && unw_step(&cursor) > 0);
    return n;
}

}  // namespace

namespace {

struct Walk {
    void* ucontext;
    LibosFrame* frames;
    int max, n;
};

void walk_on_own_stack(void* arg) {
    auto* w = static_cast<Walk*>(arg);
#ifdef LIBOS_UNWIND_ARENA
    /* libunwind allocates as it reads an object's unwind tables: from the arena, on this thread only
     * (libos_unwind_arena.cpp). */
    const unsigned long outer = libos_arena_enter();
    w->n = walk(w->ucontext, w->frames, w->max);
    libos_arena_leave(outer);
#else
    w->n = walk(w->ucontext, w->frames, w->max);
#endif
}

}  // namespace

/* On a stack of the library's own (libos_unwind_stack.cpp): libunwind needs more than a small
 * thread's or a signal handler's stack has left. */
extern "C" __attribute__((visibility("default"))) int libos_unwind_backtrace(void* ucontext, LibosFrame* frames,
                                                                             int max) {
    Walk w{ucontext, frames, max, 0};
    libos_on_own_stack(walk_on_own_stack, &w);
    return w.n;
}
