/* The dispatcher: a handler when the table has one, the host otherwise, and the host again for what a
 * handler leaves to it. */
#include "libos/libos_caller.h"
#include "libos/libos_init.h"
#include "libos/libos_table.h"
#include "libos/libos_trace.h"
#include "pal/pal.h"

namespace libos {

const char* syscall_name(long nr) {
    return syscall_entry(nr).name;
}

namespace {

/* A call a handler left to the host: `call` holds the six arguments, then the number. Out of line,
 * and reading them from memory, so that the common path keeps nothing in registers across the
 * handler's call. */
__attribute__((noinline, cold)) long leave_to_host(const long call[7]) {
    return PalSyscall(call[6], call[0], call[1], call[2], call[3], call[4], call[5]);
}

/* The dispatch of the calling thread, inlined into both entry points: a pass-through is a table
 * load, a test and the PAL's call. */
__attribute__((always_inline)) inline long route(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    /* Without a machine (and without tracing, which dispatch has looked at) every handler leaves
     * every call to the host: the shim is invisible then (conformance/compare checks it). */
    RawHandler handler = syscall_handler(nr);
    if (handler && __builtin_expect(g_init_state.load(std::memory_order_relaxed) != kIdentity, 1)) {
        const long call[7] = {a0, a1, a2, a3, a4, a5, nr};
        SyscallResult result = handler(Caller::self(), call);
        if (__builtin_expect(!result.leaves_to_host(), 1))
            return result.value();
        return leave_to_host(call);
    }
    /* Unknown numbers included: the host gives them the ENOSYS they get natively. */
    return PalSyscall(nr, a0, a1, a2, a3, a4, a5);
}

}  // namespace

long dispatch(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    /* Tracing off: this one predictable branch is all it costs. */
    if (__builtin_expect(g_tracing, 0)) {
        const long args[6] = {a0, a1, a2, a3, a4, a5};
        return trace_dispatch(Caller::self(), nr, args).value();
    }
    return route(nr, a0, a1, a2, a3, a4, a5);
}

long dispatch_shown(const ShownCall& shown, long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    if (__builtin_expect(g_tracing, 0)) {
        const long args[6] = {a0, a1, a2, a3, a4, a5};
        return trace_dispatch_shown(Caller::self(), shown, nr, args).value();
    }
    return route(nr, a0, a1, a2, a3, a4, a5);
}

SyscallResult dispatch_for(Caller caller, long nr, const long args[6]) {
    if (!caller.is_remote())
        return route(nr, args[0], args[1], args[2], args[3], args[4], args[5]);
    RawHandler handler = syscall_handler(nr);
    return handler ? handler(caller, args) : SyscallResult(LeaveToHost{});
}

}  // namespace libos
