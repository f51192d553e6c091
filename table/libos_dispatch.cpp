/* The dispatcher: a handler when the table has one, the host otherwise. */
#include "libos/libos_table.h"
#include "libos/libos_trace.h"
#include "pal/pal.h"

namespace libos {

const char* syscall_name(long nr) {
    const SyscallEntry* entry = syscall_entry(nr);
    return entry ? entry->name : nullptr;
}

namespace {

/* The dispatch itself, inlined into both entry points: a pass-through is a table load, a test and
 * the PAL's call. */
__attribute__((always_inline)) inline long route(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    const SyscallEntry* entry = syscall_entry(nr);
    if (entry && entry->handler) {
        const long args[6] = {a0, a1, a2, a3, a4, a5};
        return entry->handler(args);
    }
    /* Unknown numbers included: the host gives them the ENOSYS they get natively. */
    return PalSyscall(nr, a0, a1, a2, a3, a4, a5);
}

}  // namespace

long dispatch(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    /* Tracing off: this one predictable branch is all it costs. */
    if (__builtin_expect(g_tracing, 0))
        return trace_dispatch(nr, a0, a1, a2, a3, a4, a5);
    return route(nr, a0, a1, a2, a3, a4, a5);
}

long dispatch_untraced(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    return route(nr, a0, a1, a2, a3, a4, a5);
}

}  // namespace libos
