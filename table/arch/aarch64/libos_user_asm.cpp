/* aarch64: getcpu's two fault-safe stores, in the LibOS itself.
 *
 * libos_store_cpu_node(cpu, vcpu, node, vnode) (x0, w1, x2, w3) writes vcpu to *cpu and vnode to
 * *node (either pointer may be null) and returns 0, or -EFAULT when a store faults: init registers
 * [libos_store_fault_begin, libos_store_fault_end) with PalFaultFixupRegister, and the PAL's fault
 * handler resumes such a fault at libos_store_fault_fixup. The function is a leaf that keeps the link
 * register, so the fixup's ret returns to the caller. */
__asm__(
    ".text\n"
    ".globl libos_store_cpu_node\n"
    ".hidden libos_store_cpu_node\n"
    ".type libos_store_cpu_node, %function\n"
    ".p2align 2\n"
    "libos_store_cpu_node:\n"
    ".globl libos_store_fault_begin\n"
    ".hidden libos_store_fault_begin\n"
    "libos_store_fault_begin:\n"
    "    cbz x0, 1f\n"
    "    str w1, [x0]\n"
    "1:  cbz x2, 2f\n"
    "    str w3, [x2]\n"
    "2:  mov x0, #0\n"
    ".globl libos_store_fault_end\n"
    ".hidden libos_store_fault_end\n"
    "libos_store_fault_end:\n"
    "    ret\n"
    ".globl libos_store_fault_fixup\n"
    ".hidden libos_store_fault_fixup\n"
    "libos_store_fault_fixup:\n"
    "    mov x0, #-14\n" /* -EFAULT */
    "    ret\n"
    ".size libos_store_cpu_node, . - libos_store_cpu_node\n");
