/* syscall(3): every number goes through the LibOS table.
 *
 * glibc's syscall() always reads six argument words whatever the number; so does this one. It is
 * defined here as shim_syscall, with seven fixed `long` parameters, under the symbol name `syscall`
 * (libc's `long syscall(long, ...)` is declared too, by the system headers): on x86_64 and aarch64 a variadic call passes integer
 * arguments exactly where a fixed one does, and the callee may ignore the vector-register count in
 * %al, so the two are the same function to every caller. That spares the va_list spill of all six
 * argument registers on every call. A number without a handler, with tracing off, goes straight to
 * the PAL: the pass-through costs a flag's load (set up, not tracing: shim::g_direct), a compare and a
 * byte of a constant table (table/: which numbers have a handler), then a jump to the PAL's
 * pass-through without the strict tag's check (only numbers with a handler can be trapped), which
 * returns to the program itself and hands a failure to shim::syscall_failure for errno. */
#include "libos/libos_table.h"
#include "libos/libos_trace.h"
#include "libos/libos_vfs.h"
#include "pal/pal.h"
#include "shim.h"

/* The symbol name libc gives the function (an assembler label: a name, not an instruction). */
#define SHIM_LIBC_SYMBOL(name) #name

SHIM_EXPORT long shim_syscall(long number, long a0, long a1, long a2, long a3, long a4, long a5) noexcept
    __asm__(SHIM_LIBC_SYMBOL(syscall));

namespace {

/* Everything but the pass-through of a ready shim: the first call (which sets the shim up), traced
 * calls and numbers with a handler. Kept out of line, so that the pass-through needs no frame. */
__attribute__((noinline, cold)) long routed_syscall(long number, long a0, long a1, long a2, long a3, long a4,
                                                    long a5) noexcept {
    shim::ensure();
    /* A read of a live generated file: the shim's own read, which reads again when another thread's
     * making of the content overlapped it (shim_live.cpp). */
    if (libos::vfs_live_any() && !libos::g_tracing && libos::vfs_live_tracked(static_cast<int>(a0)))
        if (long n; shim::live_syscall_read(number, a0, a1, a2, a3, a4, a5, &n))
            return n;
    long ret;
    if (!libos::g_tracing && !libos::syscall_handler(number))
        ret = PalSyscall(number, a0, a1, a2, a3, a4, a5);
    else
        ret = libos::dispatch(number, a0, a1, a2, a3, a4, a5);
    return shim::syscall_result(ret);
}

}  // namespace

namespace shim {

/* PalSyscallUntrapped's failures (set by init before g_direct): libc's convention. */
long syscall_failure(long raw) noexcept {
    return syscall_result(raw);
}

}  // namespace shim

/* Both calls are tail calls with this function's own arguments (a jump; the sixth argument stays
 * where the caller put it): no frame, and on the pass-through the PAL's `ret` is the only one after
 * the kernel's return (PalSyscallUntrapped says why that matters). */
SHIM_EXPORT long shim_syscall(long number, long a0, long a1, long a2, long a3, long a4, long a5) noexcept {
    /* The kernel takes the number's low 32 bits, as an int (x86-64's and arm64's entry code): so does
     * the shim, or a number with higher bits set would run a virtualized call on the host. */
    number = static_cast<int>(number);
    if (__builtin_expect(!shim::g_direct.load(std::memory_order_acquire) || !libos::syscall_unrouted(number), 0))
        return routed_syscall(number, a0, a1, a2, a3, a4, a5);
    return PalSyscallUntrapped(number, a0, a1, a2, a3, a4, a5);
}
