/* _exit(2) and _Exit(3), which a program calls to end without running its exit handlers (dash ends
 * every shell so, and a fork child before it execs): with tracing on, the call goes through the
 * table as the exit_group it is, so that it has its line, as strace shows `exit_group(0) = ?`, and
 * the launch's summary of --stats is printed before the process ends, as at exit(3). glibc's own
 * exit(3) reaches its _exit by an internal name, not this one: its summary is printed by the shim's
 * destructor. Without tracing, straight to the host. */
#include <sys/syscall.h>

#include "libos/libos_sections.h"
#include "libos/libos_table.h"
#include "libos/libos_trace.h"
#include "pal/pal.h"
#include "shim.h"

SHIM_EXPORT __attribute__((noreturn)) void _exit(int status) noexcept;
SHIM_EXPORT __attribute__((noreturn)) void _Exit(int status) noexcept;

/* With the fork path's code: a fork child that ends with _exit runs no other page of the shim's. */
SHIM_EXPORT LIBOS_FORK_PATH void _exit(int status) noexcept {
    if (libos::g_tracing)
        libos::dispatch(SYS_exit_group, status, 0, 0, 0, 0, 0);
    PalProcessExit(status);
}

SHIM_SAME_NAME(_exit);
SHIM_EXPORT void _Exit(int status) noexcept {
    SHIM_SAME(_exit)(status);
}
