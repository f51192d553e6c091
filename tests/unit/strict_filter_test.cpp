/* Strict mode's seccomp filter (launcher/strict/filter.cpp) against the kernel's seccomp action cache
 * (Linux >= 5.11, kernel/seccomp.c, seccomp_cache_prepare): when a filter is attached, the kernel runs
 * it once per syscall number of each of its architectures with nothing known but the architecture and
 * the number; where that run reaches "return ALLOW" through instructions it can judge without the
 * arguments or the instruction pointer, the number is marked allowed, and later calls of it skip the
 * filter. The emulation below follows the kernel's rules (only loads of `nr` and `arch`, the four
 * conditional jumps with a constant, JA, AND with a constant and a constant return can be judged; any
 * other instruction or load makes the number uncacheable), so that every number the filter does not
 * trap must come out allowed: at the floor of a filter that allows everything. */
#include <linux/audit.h>
#include <stddef.h>

#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "strict/strict.h"

namespace {

using launcher::strict::build_filter;

enum class Verdict { kAllowed, kNotAllowed, kUncacheable };

/* What the kernel's cache preparation concludes for (arch, nr): kAllowed when the run is constant and
 * returns ALLOW, kNotAllowed when it is constant and returns anything else, kUncacheable otherwise. */
Verdict cache_verdict(const std::vector<sock_filter>& code, uint32_t arch, uint32_t nr) {
    uint32_t a = 0;
    for (size_t pc = 0; pc < code.size(); ++pc) {
        const sock_filter& insn = code[pc];
        switch (insn.code) {
        case BPF_LD | BPF_W | BPF_ABS:
            if (insn.k == offsetof(seccomp_data, nr))
                a = nr;
            else if (insn.k == offsetof(seccomp_data, arch))
                a = arch;
            else
                return Verdict::kUncacheable; /* the arguments or the instruction pointer */
            break;
        case BPF_RET | BPF_K:
            return insn.k == SECCOMP_RET_ALLOW ? Verdict::kAllowed : Verdict::kNotAllowed;
        case BPF_JMP | BPF_JA:
            pc += insn.k;
            break;
        case BPF_JMP | BPF_JEQ | BPF_K:
            pc += a == insn.k ? insn.jt : insn.jf;
            break;
        case BPF_JMP | BPF_JGE | BPF_K:
            pc += a >= insn.k ? insn.jt : insn.jf;
            break;
        case BPF_JMP | BPF_JGT | BPF_K:
            pc += a > insn.k ? insn.jt : insn.jf;
            break;
        case BPF_JMP | BPF_JSET | BPF_K:
            pc += (a & insn.k) ? insn.jt : insn.jf;
            break;
        case BPF_ALU | BPF_AND | BPF_K:
            a &= insn.k;
            break;
        default:
            return Verdict::kUncacheable;
        }
    }
    ADD_FAILURE() << "the filter ran off its end for arch " << arch << " nr " << nr;
    return Verdict::kUncacheable;
}

/* The kernel prepares the cache for numbers below its syscall count; 512 covers both tables. */
constexpr uint32_t kNumbers = 512;

std::set<uint32_t> trapped_x86_64() {
#define LIBOS_TRAPPED_TRAP(nr) nr,
#define LIBOS_TRAPPED_NOTRAP(nr)
#define LIBOS_SYSCALL(nr, name, support, strict, note, arguments) LIBOS_TRAPPED_##strict(nr)
    return {
#include "libos_syscalls.def"
    };
#undef LIBOS_SYSCALL
#undef LIBOS_TRAPPED_TRAP
#undef LIBOS_TRAPPED_NOTRAP
}

TEST(StrictFilter, EveryUntrappedX86_64NumberIsCacheableAsAllowed) {
    const std::vector<sock_filter> code = build_filter(0x1234567890abcdefULL);
    const std::set<uint32_t> trapped = trapped_x86_64();
    ASSERT_FALSE(trapped.empty());
    for (uint32_t nr = 0; nr < kNumbers; ++nr) {
        Verdict v = cache_verdict(code, AUDIT_ARCH_X86_64, nr);
        if (trapped.count(nr))
            EXPECT_NE(v, Verdict::kAllowed) << "trapped call " << nr << " would be cached as allowed";
        else
            EXPECT_EQ(v, Verdict::kAllowed) << "x86_64 call " << nr << " is not cacheable";
    }
}

TEST(StrictFilter, EveryUntrappedI386NumberIsCacheableAsAllowed) {
    const std::vector<sock_filter> code = build_filter(0x1234567890abcdefULL);
    std::set<uint32_t> trapped(launcher::strict::kTrappedI386,
                               launcher::strict::kTrappedI386 + launcher::strict::kTrappedI386Count);
    ASSERT_FALSE(trapped.empty());
    for (uint32_t nr = 0; nr < kNumbers; ++nr) {
        Verdict v = cache_verdict(code, AUDIT_ARCH_I386, nr);
        if (trapped.count(nr))
            EXPECT_EQ(v, Verdict::kNotAllowed) << "i386 call " << nr << " must go to the supervisor";
        else
            EXPECT_EQ(v, Verdict::kAllowed) << "i386 call " << nr << " is not cacheable";
    }
}

/* The emulation can tell: a filter that looks at an argument on its way to ALLOW is not cacheable,
 * and the tag check the trapped calls go through is such a path. */
TEST(StrictFilter, TheEmulationSeesArgumentLoads) {
    std::vector<sock_filter> code = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    EXPECT_EQ(cache_verdict(code, AUDIT_ARCH_X86_64, 39), Verdict::kUncacheable);
    std::vector<sock_filter> ip = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, instruction_pointer)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    EXPECT_EQ(cache_verdict(ip, AUDIT_ARCH_X86_64, 39), Verdict::kUncacheable);
    const std::vector<sock_filter> ours = build_filter(1);
    EXPECT_EQ(cache_verdict(ours, AUDIT_ARCH_X86_64, *trapped_x86_64().begin()), Verdict::kUncacheable);
}

}  // namespace
