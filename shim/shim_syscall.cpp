/* syscall(3): every number goes through the LibOS table. */
#include <stdarg.h>
#include <unistd.h>

#include "libos/libos_table.h"
#include "shim.h"

/* glibc's syscall() always reads six argument words whatever the number; so does this one. */
SHIM_EXPORT long syscall(long number, ...) noexcept {
    va_list ap;
    va_start(ap, number);
    long a0 = va_arg(ap, long);
    long a1 = va_arg(ap, long);
    long a2 = va_arg(ap, long);
    long a3 = va_arg(ap, long);
    long a4 = va_arg(ap, long);
    long a5 = va_arg(ap, long);
    va_end(ap);
    shim::ensure();
    return shim::syscall_result(libos::dispatch(number, a0, a1, a2, a3, a4, a5));
}
