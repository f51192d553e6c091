/* Application memory as the LibOS sees it.
 *
 * A pointer that came from the application travels as UserPtr<T>. It cannot be dereferenced: the
 * only way to use it is to hand its address to the host kernel through a Pal* call, which then gives
 * EFAULT exactly where Linux would. Code that must touch application memory itself has to call
 * unchecked() and say in a comment why that is safe. */
#ifndef LIBOS_USER_H
#define LIBOS_USER_H

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pal/pal.h"

namespace libos {

template <typename T>
class UserPtr {
public:
    constexpr UserPtr() = default;
    constexpr explicit UserPtr(uintptr_t address) : address_(address) {}

    constexpr uintptr_t address() const { return address_; }
    constexpr bool is_null() const { return address_ == 0; }

    /* For passing to the host kernel, which checks the memory itself. */
    T* for_kernel() const { return reinterpret_cast<T*>(address_); }

    /* Direct access. The caller must know the memory is valid (and say why). */
    T* unchecked() const { return reinterpret_cast<T*>(address_); }

private:
    uintptr_t address_ = 0;
};

/* ---- the task a handler serves -------------------------------------------------------------
 *
 * A handler normally serves the thread that calls it, and application pointers are that thread's.
 * In strict mode the supervisor (launcher/launcher_strict.cpp) runs the same handlers for a thread
 * of another process, one that trapped in a seccomp filter: then remote_task() names that thread,
 * "pid 0" and "self" mean it, and application memory is reached through the PAL's cross-process
 * copies. Handlers copy application memory only through copy_to_user/copy_from_user below, which do
 * the right thing in both cases. */
struct RemoteTask {
    pid_t tid;  /* the trapping thread */
    pid_t tgid; /* its process; 0 until remote_process() looks it up */
    int8_t same_files = -1; /* its root and mount namespace are the supervisor's: 1, 0, -1 unknown */
    int8_t same_pids = -1;  /* its pid namespace is the supervisor's: 1, 0, -1 unknown */
    bool unreachable = false; /* its memory could not be reached (EPERM): see dispatch_remote */
};

extern constinit thread_local RemoteTask* t_remote_task __attribute__((tls_model("initial-exec")));

/* The remote thread being served, or nullptr in-process. */
inline RemoteTask* remote_task() {
    return t_remote_task;
}

/* The remote thread's process id (looked up once per call). */
pid_t remote_process();

/* Whether the remote thread sees files as the supervisor does (the same root directory and mount
 * namespace), and pids (the same pid namespace). Where it does not, a path or pid it names means
 * something else to the supervisor: the call is left to the host (kRemoteContinue). */
bool remote_same_files();
bool remote_same_pids();

/* What a handler returns, in the supervisor only, when the trapped call is not the LibOS's to answer
 * (a path outside the virtual views): the host runs it as the program issued it
 * (SECCOMP_USER_NOTIF_FLAG_CONTINUE). Outside the -4095..-1 range of errors. */
constexpr long kRemoteContinue = LONG_MIN;

/* Copies between LibOS memory and application memory: 0, or -EFAULT where the kernel's
 * copy_to_user/copy_from_user would fault (or -ESRCH when a remote task has gone). A remote task
 * whose memory the supervisor may not reach (EPERM: a process that made itself non-dumpable, under
 * a supervisor without root) is marked unreachable, and the call goes to the host. */
long remote_copy_result(long ret);
inline long copy_to_user(uintptr_t dst, const void* src, size_t size) {
    if (__builtin_expect(t_remote_task != nullptr, 0))
        return remote_copy_result(PalProcessWrite(t_remote_task->tid, dst, src, size));
    return PalUserCopy(reinterpret_cast<void*>(dst), src, size) < 0 ? -EFAULT : 0;
}
inline long copy_from_user(void* dst, uintptr_t src, size_t size) {
    if (__builtin_expect(t_remote_task != nullptr, 0))
        return remote_copy_result(PalProcessRead(t_remote_task->tid, dst, src, size));
    return PalUserCopy(dst, reinterpret_cast<const void*>(src), size) < 0 ? -EFAULT : 0;
}
template <typename T>
long copy_to_user(UserPtr<T> dst, const void* src, size_t size) {
    return copy_to_user(dst.address(), src, size);
}
template <typename T>
long copy_from_user(void* dst, UserPtr<T> src, size_t size) {
    return copy_from_user(dst, src.address(), size);
}

/* Copies the NUL-terminated application string at `src` into dst (`size` bytes), a page at a time
 * (copy_from_user). Returns its length, -EFAULT if it is not readable, or -ENAMETOOLONG if it does
 * not fit. */
long copy_string_from_user(char* dst, uintptr_t src, size_t size);

/* Runs syscall `nr`'s handler for remote thread `task` (strict mode's supervisor): the result, or
 * kRemoteContinue when the call is not the LibOS's to answer. For open, openat and openat2 a
 * non-negative result is a descriptor of the supervisor, to be installed in the task. */
long dispatch_remote(RemoteTask* task, long nr, const long args[6]);

}  // namespace libos

/* getcpu's stores into application memory, inline and fault-safe (arch/<arch>/libos_user_asm.cpp):
 * 0, or -EFAULT if either pointer faults (then the node may not have been written). */
extern "C" {
long libos_store_cpu_node(unsigned* cpu, unsigned vcpu, unsigned* node, unsigned vnode);
extern const char libos_store_fault_begin[], libos_store_fault_end[], libos_store_fault_fixup[];
}

#endif /* LIBOS_USER_H */
