/* A system call made with the instruction itself, for tests and benchmarks that must stay out of
 * sight of every interposer (libshim.so replaces libc's syscall()), as a static binary or inline
 * assembly in a program would. The only syscall instructions outside pal/ are in tests/ (and in the
 * benchmarks, through this header). x86_64 and aarch64; the registers a call does not use are zero,
 * so that a strict-mode filter never sees stale values in them. */
#ifndef LIBOS_TEST_RAW_SYSCALL_H
#define LIBOS_TEST_RAW_SYSCALL_H

namespace libos_test {

inline long raw_syscall(long nr, long a0 = 0, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0) {
#if defined(__aarch64__)
    register long x8 __asm__("x8") = nr;
    register long x0 __asm__("x0") = a0;
    register long x1 __asm__("x1") = a1;
    register long x2 __asm__("x2") = a2;
    register long x3 __asm__("x3") = a3;
    register long x4 __asm__("x4") = a4;
    register long x5 __asm__("x5") = a5;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    return x0;
#else
    register long r10 __asm__("r10") = a3;
    register long r8 __asm__("r8") = a4;
    register long r9 __asm__("r9") = a5;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
#endif
}

}  // namespace libos_test

#endif
