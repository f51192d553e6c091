/* /proc/cpuinfo in arm64's format, for an aarch64 LibOS whose host file is not one (it runs under a
 * user-mode emulator, qemu-user, on another architecture's kernel, whose /proc/cpuinfo the emulator
 * passes through). On a real arm64 kernel write_cpuinfo (procfs.cpp) renumbers the host's own
 * blocks instead.
 *
 * One block per vCPU, as arch/arm64/kernel/cpuinfo.c writes them: processor, BogoMIPS (the generic
 * timer's frequency: loops_per_jiffy is the timer's ticks per jiffy), Features (the names of the
 * AT_HWCAP and AT_HWCAP2 bits the process was given, in the kernel's order), then the fields of
 * MIDR_EL1 (read with mrs, which the kernel and qemu-user emulate for user space), each block ended
 * by an empty line. There is no physical id, core id or apicid: arm64 gives the topology in sysfs
 * only. */
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>

#include "libos/libos_machine.h"
#include "vfs/vfs_internal.h"

namespace libos {
namespace {

/* The kernel's names of the AT_HWCAP bits, bit 0 first (hwcap_str in cpuinfo.c, up to Linux 6.16's
 * bit 47; glibc's <bits/hwcap.h> names the same bits HWCAP_*). */
constexpr const char* kHwcap[] = {
    "fp",        "asimd",      "evtstrm",  "aes",         "pmull",      "sha1",      "sha2",     "crc32",
    "atomics",   "fphp",       "asimdhp",  "cpuid",       "asimdrdm",   "jscvt",     "fcma",     "lrcpc",
    "dcpop",     "sha3",       "sm3",      "sm4",         "asimddp",    "sha512",    "sve",      "asimdfhm",
    "dit",       "uscat",      "ilrcpc",   "flagm",       "ssbs",       "sb",        "paca",     "pacg",
    "gcs",       "cmpbr",      "fprcvt",   "f8mm8",       "f8mm4",      "svef16mm",  "sveeltperm", "sveaes2",
    "svebfscale", "sve2p2",    "sme2p2",   "smesbitperm", "smeaes",     "smesfexpa", "smestmop", "smesmop4",
};
/* ...and of the AT_HWCAP2 bits (HWCAP2_*), all 64 of them: the kernel prints them after AT_HWCAP's. */
constexpr const char* kHwcap2[] = {
    "dcpodp",    "sve2",       "sveaes",   "svepmull",    "svebitperm", "svesha3",   "svesm4",   "flagm2",
    "frint",     "svei8mm",    "svef32mm", "svef64mm",    "svebf16",    "i8mm",      "bf16",     "dgh",
    "rng",       "bti",        "mte",      "ecv",         "afp",        "rpres",     "mte3",     "sme",
    "smei16i64", "smef64f64",  "smei8i32", "smef16f32",   "smeb16f32",  "smef32f32", "smefa64",  "wfxt",
    "ebf16",     "sveebf16",   "cssc",     "rprfm",       "sve2p1",     "sme2",      "sme2p1",   "smei16i32",
    "smebi32i32", "smeb16b16", "smef16f16", "mops",       "hbc",        "sveb16b16", "lrcpc3",   "lse128",
    "fpmr",      "lut",        "faminmax", "f8cvt",       "f8fma",      "f8dp4",     "f8dp2",    "f8e4m3",
    "f8e5m2",    "smelutv2",   "smef8f16", "smef8f32",    "smesf8fma",  "smesf8dp4", "smesf8dp2", "poe",
};
static_assert(sizeof(kHwcap2) / sizeof(kHwcap2[0]) == 64, "one name for each AT_HWCAP2 bit");

/* Lowercase hex with at least `width` digits, after "0x" (the kernel's %02x, %03x, %x). */
void hex_field(Out& out, uint64_t v, int width) {
    static const char digits[] = "0123456789abcdef";
    char d[16];
    int n = 0;
    do {
        d[n++] = digits[v & 15];
        v >>= 4;
    } while (v);
    while (n < width)
        d[n++] = '0';
    out.add("0x");
    while (n)
        out.ch(d[--n]);
}

void features(Out& out) {
    const unsigned long hwcap = getauxval(AT_HWCAP), hwcap2 = getauxval(AT_HWCAP2);
    out.add("Features\t:");
    for (unsigned i = 0; i < sizeof(kHwcap) / sizeof(kHwcap[0]); ++i)
        if (hwcap & (1ul << i))
            out.add(" ").add(kHwcap[i]);
    for (unsigned i = 0; i < sizeof(kHwcap2) / sizeof(kHwcap2[0]); ++i)
        if (hwcap2 & (1ul << i))
            out.add(" ").add(kHwcap2[i]);
    out.add("\n");
}

}  // namespace

bool cpuinfo_is_arm64(const char* host_text) {
    return strstr(host_text, "\nCPU implementer") != nullptr || strncmp(host_text, "CPU implementer", 15) == 0;
}

long write_cpuinfo_arm64(Out& out) {
    uint64_t midr = 0, frequency = 0;
    __asm__ volatile("mrs %0, midr_el1" : "=r"(midr));
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(frequency));
    /* bogomips = loops_per_jiffy / (500000 / HZ), with loops_per_jiffy = frequency / HZ. */
    const uint64_t centi = frequency / 5000;
    const uint32_t n = vcpu_count();
    for (uint32_t v = 0; v < n; ++v) {
        out.add("processor\t: ").unum(v).add("\n");
        out.add("BogoMIPS\t: ").unum(centi / 100).add(".").ch(static_cast<char>('0' + centi % 100 / 10))
            .ch(static_cast<char>('0' + centi % 10)).add("\n");
        features(out);
        out.add("CPU implementer\t: ");
        hex_field(out, (midr >> 24) & 0xff, 2);
        out.add("\nCPU architecture: 8\nCPU variant\t: ");
        hex_field(out, (midr >> 20) & 0xf, 1);
        out.add("\nCPU part\t: ");
        hex_field(out, (midr >> 4) & 0xfff, 3);
        out.add("\nCPU revision\t: ").unum(midr & 0xf).add("\n\n");
    }
    return 0;
}

}  // namespace libos
