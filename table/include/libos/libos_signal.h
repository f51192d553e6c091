/* Fault handling for the virtual machine: the PAL catches SIGSEGV, SIGBUS, SIGILL, SIGFPE and
 * SIGABRT so that PalUserCopy can turn a bad application pointer into EFAULT and a crash inside the
 * LibOS is reported, and the LibOS keeps the application's own actions for those signals
 * (sys/libos_signal.cpp) and runs them for the application's own faults. */
#ifndef LIBOS_SIGNAL_H
#define LIBOS_SIGNAL_H

namespace libos {

/* Installs the PAL's handlers and adopts whatever actions were installed before as the
 * application's. Called by init() on a virtual machine. */
void install_fault_handling();

/* True once install_fault_handling() has run: rt_sigaction of those signals is then virtual. */
bool fault_handling_installed();

/* The shim's way to load the unwinder (dlopen) when a crash needs a stack and none is loaded. */
void set_unwinder_loader(void (*loader)());

}  // namespace libos

#endif
