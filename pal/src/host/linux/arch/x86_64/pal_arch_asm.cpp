/* x86_64 assembly of the Linux PAL: the fault-tolerant copy and the signal restorer.
 *
 * pal_user_copy_raw(dst, src, size) copies with `rep movsb` (4 and 8 bytes with plain moves, which
 * start faster). If an instruction of the copy faults, the PAL's
 * SIGSEGV/SIGBUS handler sees the fault address inside [pal_user_copy_fault_begin,
 * pal_user_copy_fault_end) and resumes at pal_user_copy_fixup, which returns -EFAULT; the function
 * has no stack frame, so the fixup's `ret` returns straight to the caller.
 *
 * pal_signal_restorer is the sa_restorer of the PAL's handlers: it enters rt_sigreturn(2). */
__asm__(
    ".text\n"
    ".globl pal_user_copy_raw\n"
    ".hidden pal_user_copy_raw\n"
    ".type pal_user_copy_raw, @function\n"
    "pal_user_copy_raw:\n"
    "    mov %rdx, %rcx\n"
    ".globl pal_user_copy_fault_begin\n"
    ".hidden pal_user_copy_fault_begin\n"
    "pal_user_copy_fault_begin:\n"
    "    cmp $4, %rdx\n" /* a CPU number (getcpu): one plain load and store */
    "    je 4f\n"
    "    cmp $8, %rdx\n" /* a mask of up to 64 CPUs */
    "    je 8f\n"
    "    rep movsb\n"
    "    jmp 1f\n"
    "4:  mov (%rsi), %eax\n"
    "    mov %eax, (%rdi)\n"
    "    jmp 1f\n"
    "8:  mov (%rsi), %rax\n"
    "    mov %rax, (%rdi)\n"
    "1:\n"
    ".globl pal_user_copy_fault_end\n"
    ".hidden pal_user_copy_fault_end\n"
    "pal_user_copy_fault_end:\n"
    "    xor %eax, %eax\n"
    "    ret\n"
    ".globl pal_user_copy_fixup\n"
    ".hidden pal_user_copy_fixup\n"
    "pal_user_copy_fixup:\n"
    "    mov $-14, %rax\n" /* -EFAULT */
    "    ret\n"
    ".size pal_user_copy_raw, . - pal_user_copy_raw\n"
    "\n"
    ".globl pal_signal_restorer\n"
    ".hidden pal_signal_restorer\n"
    ".type pal_signal_restorer, @function\n"
    "pal_signal_restorer:\n"
    "    mov $15, %eax\n" /* __NR_rt_sigreturn */
    "    syscall\n"
    "    hlt\n"
    ".size pal_signal_restorer, . - pal_signal_restorer\n");
