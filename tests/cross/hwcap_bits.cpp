/* How many capability bits the kernel (or the emulator) gave this process in AT_HWCAP and
 * AT_HWCAP2: each is one name on the Features line of arm64's /proc/cpuinfo (tests/cross/programs.sh
 * compares the two). */
#include <stdio.h>
#include <sys/auxv.h>

int main() {
    printf("%d\n", __builtin_popcountl(getauxval(AT_HWCAP)) + __builtin_popcountl(getauxval(AT_HWCAP2)));
    return 0;
}
