/* x86_64: getcpu's two fault-safe stores, in the LibOS itself.
 *
 * libos_store_cpu_node(cpu, vcpu, node, vnode) writes vcpu to *cpu and vnode to *node (either pointer
 * may be null) and returns 0, or -EFAULT when a store faults: init registers
 * [libos_store_fault_begin, libos_store_fault_end) with PalFaultFixupRegister, and the PAL's fault
 * handler resumes such a fault at libos_store_fault_fixup. The function has no stack frame, so the
 * fixup's ret returns to the caller. */
__asm__(
    ".text\n"
    ".globl libos_store_cpu_node\n"
    ".hidden libos_store_cpu_node\n"
    ".type libos_store_cpu_node, @function\n"
    "libos_store_cpu_node:\n"
    ".globl libos_store_fault_begin\n"
    ".hidden libos_store_fault_begin\n"
    "libos_store_fault_begin:\n"
    "    test %rdi, %rdi\n"
    "    je 1f\n"
    "    mov %esi, (%rdi)\n"
    "1:  test %rdx, %rdx\n"
    "    je 2f\n"
    "    mov %ecx, (%rdx)\n"
    "2:  xor %eax, %eax\n"
    ".globl libos_store_fault_end\n"
    ".hidden libos_store_fault_end\n"
    "libos_store_fault_end:\n"
    "    ret\n"
    ".globl libos_store_fault_fixup\n"
    ".hidden libos_store_fault_fixup\n"
    "libos_store_fault_fixup:\n"
    "    mov $-14, %rax\n" /* -EFAULT */
    "    ret\n"
    ".size libos_store_cpu_node, . - libos_store_cpu_node\n");
