/* Fault handling for the virtual machine: the PAL catches SIGSEGV and SIGBUS so that PalUserCopy can
 * turn a bad application pointer into EFAULT, and the LibOS keeps the application's own actions for
 * those two signals (sys/libos_signal.cpp) and runs them for faults of the application's own. */
#ifndef LIBOS_SIGNAL_H
#define LIBOS_SIGNAL_H

namespace libos {

/* Installs the PAL's handlers and adopts whatever actions were installed before as the
 * application's. Called by init() on a virtual machine. */
void install_fault_handling();

/* True once install_fault_handling() has run: rt_sigaction of SIGSEGV and SIGBUS is then virtual. */
bool fault_handling_installed();

}  // namespace libos

#endif
