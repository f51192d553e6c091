/* PalUserCopy, PalFaultHandlerInstall, PalSignalSetDefault: copying application memory the way the
 * kernel does (a bad pointer is an error, not a crash), and the fault handler behind it. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>

#include "pal/pal.h"
#include "pal_linux.h"

namespace {

/* Set once, before the handlers are installed; read in the handler. */
constinit PalFaultUpcall g_fault_upcall = nullptr;

/* Fixups registered by the LibOS (PalFaultFixupRegister). */
struct Fixup {
    uintptr_t begin, end, resume;
};
constinit Fixup g_fixups[4] = {};
constinit int g_fixup_count = 0;

/* The range whose faults are repaired (PalFaultRepairRegister), and how many repairs it has had: a
 * range repaired over and over (a repair that does not hold, or a program that keeps unmapping it) is
 * given up. */
constinit uintptr_t g_repair_begin = 0, g_repair_end = 0;
constinit PalFaultRepair g_repair = nullptr;
constinit int g_repairs = 0;
constexpr int kMaxRepairs = 64;

bool repaired(int sig, siginfo_t* info) {
    PalFaultRepair repair = __atomic_load_n(&g_repair, __ATOMIC_ACQUIRE);
    if (!repair || !info || (sig != SIGSEGV && sig != SIGBUS) || info->si_code <= 0)
        return false;
    auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
    if (addr < g_repair_begin || addr >= g_repair_end)
        return false;
    if (__atomic_add_fetch(&g_repairs, 1, __ATOMIC_RELAXED) > kMaxRepairs)
        return false;
    return repair(info->si_addr);
}

void reraise_if_sent(int sig, siginfo_t* info) {
    /* A fault re-executes and kills the process once the default action is back. A signal sent with
     * kill/tgkill (si_code <= 0) does not come back by itself: send it again; it stays blocked until
     * this handler returns. */
    if (info && info->si_code <= 0)
        pal_raw(SYS_tgkill, pal_raw(SYS_getpid), pal_raw(SYS_gettid), sig);
}

void pal_fault_handler(int sig, siginfo_t* info, void* uc) {
    uintptr_t ip = pal_arch_context_ip(uc);
    if (ip >= reinterpret_cast<uintptr_t>(pal_user_copy_fault_begin) &&
        ip < reinterpret_cast<uintptr_t>(pal_user_copy_fault_end)) {
        pal_arch_context_set_ip(uc, reinterpret_cast<uintptr_t>(pal_user_copy_fixup));
        return;
    }
    for (int i = 0; i < __atomic_load_n(&g_fixup_count, __ATOMIC_ACQUIRE); ++i) {
        if (ip >= g_fixups[i].begin && ip < g_fixups[i].end) {
            pal_arch_context_set_ip(uc, g_fixups[i].resume);
            return;
        }
    }
    if (repaired(sig, info))
        return;
    if (g_fault_upcall) {
        g_fault_upcall(sig, info, uc);
        return;
    }
    PalSignalSetDefault(sig);
    reraise_if_sent(sig, info);
}

}  // namespace

extern "C" long PalUserCopy(void* dst, const void* src, size_t size) {
    if (size == 0)
        return 0;
    return pal_user_copy_raw(dst, src, size);
}

extern "C" long PalFaultRepairRegister(const void* begin, const void* end, PalFaultRepair repair) {
    __atomic_store_n(&g_repair, nullptr, __ATOMIC_RELEASE);
    g_repair_begin = reinterpret_cast<uintptr_t>(begin);
    g_repair_end = reinterpret_cast<uintptr_t>(end);
    __atomic_store_n(&g_repairs, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&g_repair, repair, __ATOMIC_RELEASE);
    return 0;
}

extern "C" __attribute__((section(".text.startup"))) long PalFaultFixupRegister(const void* begin, const void* end, const void* fixup) {
    int n = __atomic_load_n(&g_fixup_count, __ATOMIC_ACQUIRE);
    if (n >= 4)
        return -ENOSPC;
    g_fixups[n] = Fixup{reinterpret_cast<uintptr_t>(begin), reinterpret_cast<uintptr_t>(end),
                        reinterpret_cast<uintptr_t>(fixup)};
    __atomic_store_n(&g_fixup_count, n + 1, __ATOMIC_RELEASE);
    return 0;
}

extern "C" long PalSignalSetDefault(int sig) {
    PalKernelSigaction dfl = {};
    dfl.handler = reinterpret_cast<void*>(SIG_DFL);
    return pal_raw(SYS_rt_sigaction, sig, reinterpret_cast<long>(&dfl), 0, sizeof(dfl.mask));
}

extern "C" long PalSignalSetMask(uint64_t mask) {
    return pal_raw(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&mask), 0, sizeof(mask));
}

extern "C" const int g_pal_fault_signals[PAL_FAULT_SIGNALS] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};

extern "C" __attribute__((section(".text.startup"))) long PalFaultHandlerInstall(PalFaultUpcall upcall, PalKernelSigaction previous[PAL_FAULT_SIGNALS]) {
    g_fault_upcall = upcall;
    PalKernelSigaction act = {};
    act.handler = reinterpret_cast<void*>(&pal_fault_handler);
    /* SA_ONSTACK: a stack overflow is still delivered on the application's alternate stack, as its
     * own handler would be. */
    act.flags = SA_SIGINFO | SA_ONSTACK | PAL_SA_RESTORER;
    act.restorer = reinterpret_cast<void*>(&pal_signal_restorer);
    for (int i = 0; i < PAL_FAULT_SIGNALS; ++i) {
        long ret = pal_raw(SYS_rt_sigaction, g_pal_fault_signals[i], reinterpret_cast<long>(&act),
                           previous ? reinterpret_cast<long>(&previous[i]) : 0, sizeof(act.mask));
        if (ret < 0)
            return ret;
    }
    return 0;
}
