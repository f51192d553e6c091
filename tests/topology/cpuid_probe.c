/* Prints what cpuid says of the CPU the program runs on: "x2apic=ID smt=N package=N" (leaf 0xB's x2APIC
 * id and its two levels' logical processor counts). Built static too, for strict mode's case. */
#include <stdio.h>

static void cpuid(unsigned leaf, unsigned subleaf, unsigned r[4]) {
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(subleaf));
}

int main(void) {
    unsigned smt[4], core[4];
    cpuid(0xb, 0, smt);
    cpuid(0xb, 1, core);
    printf("x2apic=%u smt=%u package=%u\n", smt[3], smt[1] & 0xffff, core[1] & 0xffff);
    return 0;
}
