/* aarch64 assembly of the Linux PAL: the fault-tolerant copy and the signal restorer.
 *
 * pal_user_copy_raw(dst, src, size) copies (x0, x1, x2): 4 and 8 bytes with one load and one store (a
 * CPU number, a mask of up to 64 CPUs), anything else byte by byte. If an instruction of the copy
 * faults, the PAL's SIGSEGV/SIGBUS handler sees the fault address inside
 * [pal_user_copy_fault_begin, pal_user_copy_fault_end) and resumes at pal_user_copy_fixup, which
 * returns -EFAULT; the function is a leaf that keeps the link register, so the fixup's `ret` returns
 * straight to the caller.
 *
 * pal_signal_restorer is the sa_restorer of the PAL's handlers: it enters rt_sigreturn(2) (139). */
__asm__(
    ".text\n"
    ".globl pal_user_copy_raw\n"
    ".hidden pal_user_copy_raw\n"
    ".type pal_user_copy_raw, %function\n"
    ".p2align 2\n"
    "pal_user_copy_raw:\n"
    ".globl pal_user_copy_fault_begin\n"
    ".hidden pal_user_copy_fault_begin\n"
    "pal_user_copy_fault_begin:\n"
    "    cmp x2, #4\n"
    "    b.eq 4f\n"
    "    cmp x2, #8\n"
    "    b.eq 8f\n"
    "    cbz x2, 1f\n"
    "2:  ldrb w3, [x1], #1\n"
    "    strb w3, [x0], #1\n"
    "    subs x2, x2, #1\n"
    "    b.ne 2b\n"
    "    b 1f\n"
    "4:  ldr w3, [x1]\n"
    "    str w3, [x0]\n"
    "    b 1f\n"
    "8:  ldr x3, [x1]\n"
    "    str x3, [x0]\n"
    "1:\n"
    ".globl pal_user_copy_fault_end\n"
    ".hidden pal_user_copy_fault_end\n"
    "pal_user_copy_fault_end:\n"
    "    mov x0, #0\n"
    "    ret\n"
    ".globl pal_user_copy_fixup\n"
    ".hidden pal_user_copy_fixup\n"
    "pal_user_copy_fixup:\n"
    "    mov x0, #-14\n" /* -EFAULT */
    "    ret\n"
    ".size pal_user_copy_raw, . - pal_user_copy_raw\n"
    "\n"
    ".globl pal_signal_restorer\n"
    ".hidden pal_signal_restorer\n"
    ".type pal_signal_restorer, %function\n"
    ".p2align 2\n"
    "pal_signal_restorer:\n"
    "    mov x8, #139\n" /* __NR_rt_sigreturn */
    "    svc #0\n"
    "    brk #0\n"
    ".size pal_signal_restorer, . - pal_signal_restorer\n");
