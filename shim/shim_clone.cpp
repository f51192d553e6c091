/* clone(3): glibc's wrapper, whose child runs `fn` on a stack of its own. Without CLONE_VM the child is
 * a new process with a copy of this one's memory, as a fork child is, but glibc runs no fork handler
 * in it, so the shim's (shim_init.cpp: on_fork_child) did not run either: the child kept its parent's
 * thread slot and thread id (its sched_setaffinity changed its parent's virtual mask) and its parent's
 * pool id (its re-read of a live file took its parent's memfds for its own). Such a clone now starts
 * its child in the shim's after-fork steps, then in `fn`; the parent prepares and claims the child's
 * slot as fork does. A clone with CLONE_VM (a thread, or a process in this memory, as vfork's), one
 * glibc refuses (no function or no stack: EINVAL) and one with CLONE_SETTLS are glibc's own,
 * unchanged: the after-fork steps write the shim's thread-local variables, which a child with a
 * thread pointer of the program's choosing does not have where the shim looks (a block of the
 * program's that ends at the pointer, or no memory at all: natively such a child runs, under the
 * steps it died of SIGSEGV). Such a child keeps its parent's remembered ids, as before. */
#include <sched.h>
#include <stdarg.h>
#include <sys/types.h>

#include "libos/libos_sections.h"
#include "libos/libos_threads.h"
#include "libos/libos_trace.h"
#include "libos/libos_vfs.h"
#include "shim.h"

extern "C" int __clone(int (*fn)(void*), void* stack, int flags, void* arg, ...);

namespace {

struct CloneStart {
    int (*fn)(void*);
    void* arg;
};

/* The child's first function. `start` is in its parent's frame, which the child has a copy of at the
 * same address (the child runs on another stack). */
LIBOS_FORK_PATH int start_child(void* start) {
    const CloneStart s = *static_cast<const CloneStart*>(start);
    libos::after_fork_child();
    libos::vfs_live_after_fork();
    if (libos::g_tracing)
        libos::trace_after_fork();
    return s.fn(s.arg);
}

}  // namespace

/* The three optional arguments are read as glibc's own clone reads them, passed or not. */
SHIM_EXPORT int clone(int (*fn)(void*), void* stack, int flags, void* arg, ...) {
    va_list ap;
    va_start(ap, arg);
    pid_t* parent_tid = va_arg(ap, pid_t*);
    void* tls = va_arg(ap, void*);
    pid_t* child_tid = va_arg(ap, pid_t*);
    va_end(ap);
    if ((flags & (CLONE_VM | CLONE_SETTLS)) || !fn || !stack)
        return __clone(fn, stack, flags, arg, parent_tid, tls, child_tid);
    shim::ensure();
    CloneStart start = {fn, arg};
    libos::before_fork();
    const int child = __clone(start_child, stack, flags, &start, parent_tid, tls, child_tid);
    /* A child in a new PID namespace claims its own slot there (libos_process.cpp's clone says why). */
    if (child > 0 && !(flags & CLONE_NEWPID))
        libos::register_fork_child(child);
    return child;
}
