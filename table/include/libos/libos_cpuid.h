/* The cpuid instruction on a virtual machine (table/machine/cpuid.cpp). Where the host has CPUID
 * faulting, start-up turns it on, and every cpuid of the program then arrives as a SIGSEGV at the
 * LibOS's fault path, which answers it: the host's answer with the topology fields (APIC ids, logical
 * processor and core counts, the x2APIC levels, cache sharing) rewritten for the calling thread's
 * current vCPU and the machine's shape. docs/machine.md, "cpuid", says which fields. */
#ifndef LIBOS_CPUID_H
#define LIBOS_CPUID_H

#include <signal.h>

namespace libos {

/* Start-up, on a virtual machine, once the fault handlers are installed: turns CPUID faulting on for
 * the calling thread, and so for the threads and fork children it creates from then on. Nothing
 * changes where the host cannot (no CPUID faulting). */
void enable_cpuid_faulting();

/* Turns it off for the calling thread: for the LibOS's own crash report, which runs with SIGSEGV
 * blocked (a cpuid there could not be answered). */
void disable_cpuid_faulting();

/* Whether start-up turned it on. */
bool cpuid_faulting_enabled();

/* The fault path, before anything else looks at a SIGSEGV: true when it was a faulting cpuid (si_code
 * SI_KERNEL, the bytes 0F A2 at the instruction pointer), which is then answered in `ucontext` (RAX,
 * RBX, RCX, RDX set, RIP past the instruction). False for every other fault, untouched. */
bool emulate_cpuid(int sig, siginfo_t* info, void* ucontext);

}  // namespace libos

#endif
