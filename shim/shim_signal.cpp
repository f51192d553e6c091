/* sigaction, signal, bsd_signal, sysv_signal, __sysv_signal, sigset and __sigaction for SIGSEGV,
 * SIGBUS, SIGILL, SIGFPE and SIGABRT. On a virtual machine, and while tracing, the LibOS handles those
 * signals itself (to turn bad pointers into EFAULT, and to report its own crashes) and keeps the
 * program's actions for them; glibc's functions would install the program's
 * handler on the host and undo that, because they reach rt_sigaction through internal calls no
 * override sees. So for these signals the shim does what glibc does, through the table; for
 * every other signal, and on the host machine, it calls glibc. */
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>

#include "libos/libos_init.h"
#include "libos/libos_signal.h"
#include "libos/libos_table.h"
#include "pal/pal.h"
#include "shim.h"

namespace {

/* The flag glibc adds to every action it gives the kernel: SA_RESTORER on x86_64, with its own
 * restorer; none on aarch64, whose glibc leaves the return to the kernel's vDSO trampoline (a program
 * reads back exactly the flags it gave). */
#if defined(__x86_64__)
constexpr unsigned long kLibcAddedFlags = 0x04000000; /* SA_RESTORER */
#else
constexpr unsigned long kLibcAddedFlags = 0;
#endif

bool virtualized(int sig) {
    shim::ensure();
    if (!libos::fault_handling_installed())
        return false;
    for (int s : g_pal_fault_signals)
        if (s == sig)
            return true;
    return false;
}

/* glibc's sigaction, for the two virtualized signals: the same conversion to and from the kernel's
 * struct, through the table. */
int virtual_sigaction(int sig, const struct sigaction* act, struct sigaction* oact) {
    PalKernelSigaction kact = {}, koact = {};
    if (act) {
        kact.handler = reinterpret_cast<void*>(act->sa_handler);
        kact.flags = static_cast<unsigned long>(act->sa_flags) | kLibcAddedFlags;
        memcpy(&kact.mask, &act->sa_mask, sizeof(kact.mask));
        /* A restorer with SA_RESTORER, as glibc gives its own: the one of the host's action for the
         * signal, the LibOS's handler (glibc's is private). The trace shows it as strace shows
         * glibc's, and a program reading the action back gets one that works. */
        if (kLibcAddedFlags) {
            PalKernelSigaction host = {};
            if (PalSyscall(SYS_rt_sigaction, sig, 0, reinterpret_cast<long>(&host), sizeof(host.mask), 0, 0) == 0)
                kact.restorer = host.restorer;
        }
    }
    long ret = libos::dispatch(SYS_rt_sigaction, sig, act ? reinterpret_cast<long>(&kact) : 0,
                               oact ? reinterpret_cast<long>(&koact) : 0, sizeof(kact.mask), 0, 0);
    if (ret < 0)
        return static_cast<int>(shim::syscall_result(ret));
    if (oact) {
        memset(oact, 0, sizeof(*oact));
        oact->sa_handler = reinterpret_cast<sighandler_t>(koact.handler);
        oact->sa_flags = static_cast<int>(koact.flags);
        oact->sa_restorer = reinterpret_cast<void (*)()>(koact.restorer);
        memcpy(&oact->sa_mask, &koact.mask, sizeof(koact.mask));
    }
    return 0;
}

/* signal() with the given flags and mask, as glibc's bsd_signal and sysv_signal build it. */
sighandler_t set_handler(int sig, sighandler_t handler, int flags, bool mask_self) {
    if (handler == SIG_ERR) {
        errno = EINVAL;
        return SIG_ERR;
    }
    struct sigaction act = {}, old = {};
    act.sa_handler = handler;
    act.sa_flags = flags;
    sigemptyset(&act.sa_mask);
    if (mask_self)
        sigaddset(&act.sa_mask, sig);
    if (virtual_sigaction(sig, &act, &old) < 0)
        return SIG_ERR;
    return old.sa_handler;
}

}  // namespace

SHIM_EXPORT int sigaction(int sig, const struct sigaction* act, struct sigaction* oact) noexcept {
    if (virtualized(sig))
        return virtual_sigaction(sig, act, oact);
    return SHIM_REAL(sigaction)(sig, act, oact);
}

SHIM_SAME_NAME(sigaction);
SHIM_EXPORT int __sigaction(int sig, const struct sigaction* act, struct sigaction* oact) noexcept {
    return SHIM_SAME(sigaction)(sig, act, oact);
}

/* glibc's signal() has BSD semantics: SA_RESTART, and the signal blocked in its handler. */
SHIM_EXPORT sighandler_t signal(int sig, sighandler_t handler) noexcept {
    if (virtualized(sig))
        return set_handler(sig, handler, SA_RESTART, true);
    return SHIM_REAL(signal)(sig, handler);
}

SHIM_SAME_NAME(signal);
SHIM_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler) noexcept {
    return SHIM_SAME(signal)(sig, handler);
}

/* System V semantics: one-shot, not blocked in its handler. */
SHIM_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler) noexcept {
    if (virtualized(sig))
        return set_handler(sig, handler, static_cast<int>(SA_RESETHAND | SA_NODEFER | SA_INTERRUPT), false);
    return SHIM_REAL(sysv_signal)(sig, handler);
}

SHIM_SAME_NAME(sysv_signal);
SHIM_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t handler) noexcept {
    return SHIM_SAME(sysv_signal)(sig, handler);
}

/* sigset(3): SIG_HOLD blocks the signal; anything else installs it (no flags, empty mask) and
 * unblocks it. Returns SIG_HOLD if the signal was blocked before, else the previous handler. */
SHIM_EXPORT sighandler_t sigset(int sig, sighandler_t disposition) noexcept {
    if (!virtualized(sig))
        return SHIM_REAL(sigset)(sig, disposition);
    sigset_t one, before;
    sigemptyset(&one);
    sigaddset(&one, sig);
    struct sigaction old = {};
    if (disposition == SIG_HOLD) {
        if (virtual_sigaction(sig, nullptr, &old) < 0 || pthread_sigmask(SIG_BLOCK, &one, &before) != 0)
            return SIG_ERR;
    } else {
        struct sigaction act = {};
        act.sa_handler = disposition;
        sigemptyset(&act.sa_mask);
        if (virtual_sigaction(sig, &act, &old) < 0 || pthread_sigmask(SIG_UNBLOCK, &one, &before) != 0)
            return SIG_ERR;
    }
    return sigismember(&before, sig) ? SIG_HOLD : old.sa_handler;
}
