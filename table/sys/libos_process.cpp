/* The process family: keeping every process of a launch on the same virtual machine.
 *
 * Implements execve(2) and execveat(2), which hand the new program an environment that puts it back
 * on the machine (libos::exec_environment), and fork(2) and clone(2), whose child claims its own
 * thread slot with the parent's mask. On a host machine (no configuration) all four pass through. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <initializer_list>

#include "libos/libos_exec.h"
#include "libos/libos_init.h"
#include "libos/libos_table.h"
#include "libos/libos_text.h"
#include "libos/libos_threads.h"
#include "libos/libos_trace.h"
#include "libos/libos_vfs.h"
#include "pal/pal.h"

using libos::Caller;
using libos::SyscallResult;
using libos::UserPtr;

/* execve(2). Not trapped by strict mode: the caller is the calling thread, whose pointers the kernel
 * reads. */
SyscallResult libos_syscall_execve(Caller, UserPtr<const char> path, UserPtr<char* const> argv,
                                   UserPtr<char* const> envp) {
    long error = 0;
    char* const* env = libos::exec_environment(envp.for_kernel(), &error);
    if (!env && error)
        return error;
    long ret = PalProcessExec(path.for_kernel(), argv.for_kernel(), env);
    libos::release_exec_environment(env, envp.for_kernel());
    return ret;
}

/* execveat(2) */
SyscallResult libos_syscall_execveat(Caller, int dirfd, UserPtr<const char> path, UserPtr<char* const> argv,
                                     UserPtr<char* const> envp, int flags) {
    long error = 0;
    char* const* env = libos::exec_environment(envp.for_kernel(), &error);
    if (!env && error)
        return error;
    long ret = PalProcessExecAt(dirfd, path.for_kernel(), argv.for_kernel(), env, flags);
    libos::release_exec_environment(env, envp.for_kernel());
    return ret;
}

/* fork(2): the child's only thread takes a slot of its own, with the parent's mask. */
SyscallResult libos_syscall_fork(Caller) {
    libos::before_fork();
    long ret = PalProcessFork();
    if (ret == 0) {
        libos::after_fork_child();
        libos::vfs_live_after_fork();
        libos::trace_after_fork();
    }
    else if (ret > 0)
        libos::register_fork_child(static_cast<pid_t>(ret));
    return ret;
}

/* clone(2), x86_64 argument order (flags, newsp, parent_tid, child_tid, tls). Only a fork-like clone
 * (no CLONE_VM, no new stack) can return into this function in the child; anything else passes
 * through untouched, exactly as libc's syscall() would leave it. */
SyscallResult libos_syscall_clone(Caller, unsigned long flags, unsigned long newsp, UserPtr<int> parent_tid,
                                  UserPtr<int> child_tid, unsigned long tls) {
    libos::before_fork();
    long ret = PalProcessClone(flags, newsp, parent_tid.for_kernel(), child_tid.for_kernel(), tls);
    bool fork_like = !(flags & CLONE_VM) && newsp == 0;
    if (ret == 0 && fork_like) {
        libos::after_fork_child();
        libos::vfs_live_after_fork();
        libos::trace_after_fork();
    }
    /* A child made in a new PID namespace (CLONE_NEWPID) is pid 1 there and claims its own slot under
     * that namespace (pid_namespace_after_fork: it cannot see its parent); a claim here, under this
     * namespace and the pid clone returned, would name no thread anyone looks up. */
    else if (ret > 0 && fork_like && !(flags & CLONE_NEWPID))
        libos::register_fork_child(static_cast<pid_t>(ret));
    return ret;
}
