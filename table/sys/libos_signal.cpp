/* The signal family: rt_sigaction(2) for the signals the LibOS itself handles.
 *
 * On a virtual machine, and while tracing, the PAL owns the host's handlers of SIGSEGV, SIGBUS,
 * SIGILL, SIGFPE and SIGABRT (libos_signal.h): faults of PalUserCopy become EFAULT, and a crash inside
 * the LibOS is reported with its stack. The application's actions for them are kept here instead, exactly as the kernel would keep them:
 * rt_sigaction sets and returns them, and a fault that is not the LibOS's own runs them, with the
 * application's mask and flags. Every other signal passes to the host. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>

#include <atomic>

#include "libos/libos_cpuid.h"
#include "libos/libos_sections.h"
#include "libos/libos_signal.h"
#include "libos/libos_table.h"
#include "libos/libos_trace.h"
#include "libos/libos_user.h"
#include "libos_arch.h" /* table/arch/<arch>/ */
#include "pal/pal.h"

namespace libos {
namespace {

/* The application's action for SIGSEGV (index 0) and SIGBUS (index 1). Each field is atomic: two
 * threads racing to set the same signal may interleave fields, as the program's own race allows. */
struct AppAction {
    std::atomic<void*> handler;
    std::atomic<unsigned long> flags;
    std::atomic<uint64_t> mask;
    std::atomic<void*> restorer; /* kept and given back, as the kernel keeps sa_restorer */
};

constinit AppAction g_app_actions[PAL_FAULT_SIGNALS] = {};
constinit std::atomic<bool> g_installed{false};
using UnwinderLoader = void (*)();
constinit UnwinderLoader g_unwinder_loader = nullptr;

void load_unwinder_for_crash() {
    if (!unwinder() && g_unwinder_loader)
        g_unwinder_loader();
}

int index_of(int sig) {
    for (int i = 0; i < PAL_FAULT_SIGNALS; ++i)
        if (g_pal_fault_signals[i] == sig)
            return i;
    return -1;
}

/* The crash is the LibOS's own: the faulting instruction is in its code, or (SIGABRT, raised inside
 * libc's abort) the first frame outside libc is. */
bool inside_libos(int sig, void* ucontext) {
    uintptr_t ip = context_ip(ucontext);
    if (is_own_code(ip))
        return true;
    if (sig != SIGABRT || !unwinder())
        return false;
    LibosFrame frames[8];
    int n = unwinder()(ucontext, frames, 8);
    for (int i = 0; i < n; ++i) {
        if (is_own_code(frames[i].address))
            return true;
        if (!strstr(frames[i].object, "libc.so"))
            return false;
    }
    return false;
}

LIBOS_STARTUP void store(AppAction& a, const PalKernelSigaction& k) {
    a.handler.store(k.handler, std::memory_order_relaxed);
    a.flags.store(k.flags, std::memory_order_relaxed);
    a.restorer.store(k.restorer, std::memory_order_relaxed);
    a.mask.store(k.mask, std::memory_order_release);
}

PalKernelSigaction load(const AppAction& a) {
    PalKernelSigaction k = {};
    k.mask = a.mask.load(std::memory_order_acquire);
    k.handler = a.handler.load(std::memory_order_relaxed);
    k.flags = a.flags.load(std::memory_order_relaxed);
    k.restorer = a.restorer.load(std::memory_order_relaxed);
    return k;
}

/* Runs the application's action for a SIGSEGV/SIGBUS the LibOS did not cause. */
void fault_upcall(int sig, siginfo_t* info, void* ucontext) {
    /* A cpuid that faulted because start-up turned CPUID faulting on: answered, not a fault. */
    if (emulate_cpuid(sig, info, ucontext))
        return;
    int i = index_of(sig);
    /* A fault, or an abort() of this very process (raised with tgkill, so si_code <= 0). */
    bool own_signal = info && (info->si_code > 0 ||
                               (sig == SIGABRT && info->si_pid == PalProcessGetId()));
    if (own_signal && sig == SIGABRT)
        load_unwinder_for_crash(); /* to see past libc's frames */
    if (own_signal && inside_libos(sig, ucontext)) {
        /* A bug of ours: say so, then die of the same signal. The report may load the unwinder, whose
         * libraries may run cpuid while this signal is blocked: no CPUID faulting for this thread any
         * more (the process is ending). */
        disable_cpuid_faulting();
        load_unwinder_for_crash();
        report_own_crash(sig, info, ucontext);
        PalSignalSetDefault(sig);
        if (sig == SIGABRT)
            PalThreadSignal(PalProcessGetId(), PalThreadGetId(), sig);
        return;
    }
    PalKernelSigaction act = load(g_app_actions[i]);
    void* handler = act.handler;
    if (handler == reinterpret_cast<void*>(SIG_DFL) || handler == reinterpret_cast<void*>(SIG_IGN)) {
        /* Default action. A real fault re-executes and kills the process; an ignored real fault is
         * fatal too (the kernel forces the default for synchronous faults). A signal sent by kill is
         * sent again for the default action, and an ignored one is dropped. */
        bool sent = info && info->si_code <= 0;
        if (sent && handler == reinterpret_cast<void*>(SIG_IGN))
            return;
        PalSignalSetDefault(sig);
        if (sent)
            PalThreadSignal(PalProcessGetId(), PalThreadGetId(), sig);
        return;
    }
    if (act.flags & SA_RESETHAND) {
        PalKernelSigaction dfl = {};
        dfl.handler = reinterpret_cast<void*>(SIG_DFL);
        store(g_app_actions[i], dfl);
    }
    /* The mask the kernel would apply: the interrupted code's mask, the action's mask, and the signal
     * itself unless SA_NODEFER. */
    auto* uc = static_cast<ucontext_t*>(ucontext);
    uint64_t blocked = 0;
    memcpy(&blocked, &uc->uc_sigmask, sizeof(blocked));
    blocked |= act.mask;
    if (!(act.flags & SA_NODEFER))
        blocked |= 1ULL << (sig - 1);
    else
        blocked &= ~(1ULL << (sig - 1));
    PalSignalSetMask(blocked);
    if (act.flags & SA_SIGINFO)
        reinterpret_cast<void (*)(int, siginfo_t*, void*)>(handler)(sig, info, ucontext);
    else
        reinterpret_cast<void (*)(int)>(handler)(sig);
    /* Returning restores uc_sigmask, as the kernel's sigreturn would. */
}

}  // namespace

LIBOS_STARTUP void install_fault_handling() {
    if (g_installed.load(std::memory_order_acquire))
        return;
    PalKernelSigaction previous[PAL_FAULT_SIGNALS] = {};
    PalFaultFixupRegister(libos_store_fault_begin, libos_store_fault_end, libos_store_fault_fixup);
    if (PalFaultHandlerInstall(&fault_upcall, previous) == 0) {
        for (int i = 0; i < PAL_FAULT_SIGNALS; ++i)
            store(g_app_actions[i], previous[i]);
        g_installed.store(true, std::memory_order_release);
    }
}

LIBOS_STARTUP void set_unwinder_loader(void (*loader)()) {
    g_unwinder_loader = loader;
}

LIBOS_STARTUP bool fault_handling_installed() {
    return g_installed.load(std::memory_order_acquire);
}

}  // namespace libos

/* rt_sigaction(2). The kernel checks sigsetsize first, copies the new action in, installs it, and
 * then copies the old one out; an EFAULT on the way out leaves the new action installed. */
libos::SyscallResult libos_syscall_rt_sigaction(libos::Caller caller, int sig,
                                                libos::UserPtr<const PalKernelSigaction> act,
                                                libos::UserPtr<PalKernelSigaction> oact, size_t sigsetsize) {
    int i = libos::index_of(sig);
    if (i < 0 || !libos::fault_handling_installed())
        return libos::LeaveToHost{};
    if (sigsetsize != sizeof(uint64_t))
        return -EINVAL;
    PalKernelSigaction incoming = {};
    if (!act.is_null() && caller.copy_in(&incoming, act, sizeof(incoming)) < 0)
        return -EFAULT;
    PalKernelSigaction old = libos::load(libos::g_app_actions[i]);
    if (!act.is_null()) {
        /* SIGKILL and SIGSTOP can never be blocked; the kernel strips them from every action mask. */
        incoming.mask &= ~((1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1)));
        libos::store(libos::g_app_actions[i], incoming);
    }
    if (!oact.is_null() && caller.copy_out(oact, &old, sizeof(old)) < 0)
        return -EFAULT;
    return 0;
}
