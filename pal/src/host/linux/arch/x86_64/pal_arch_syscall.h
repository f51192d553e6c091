/* x86_64 system call stub. The System V syscall ABI: number in rax, arguments in rdi, rsi, rdx, r10,
 * r8, r9; the kernel clobbers rcx and r11 and returns -errno in rax on failure. */
#ifndef PAL_ARCH_SYSCALL_H
#define PAL_ARCH_SYSCALL_H

static inline long pal_arch_syscall6(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    register long r10 __asm__("r10") = a3;
    register long r8 __asm__("r8") = a4;
    register long r9 __asm__("r9") = a5;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

#endif
