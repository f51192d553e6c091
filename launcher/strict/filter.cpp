/* Strict mode's seccomp filter (strict.h). The calls it traps are the TRAP entries of the syscall
 * list (table/arch/<arch>/libos_syscalls.def), the same list the PAL's tag comes from. */
#include <linux/audit.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>

#include "strict/strict.h"

namespace launcher::strict {
namespace {

/* The trapped calls' numbers of the architecture, from the list. */
#define LIBOS_TRAPPED_TRAP(nr) nr,
#define LIBOS_TRAPPED_NOTRAP(nr)
#define LIBOS_SYSCALL(nr, name, support, strict, note, arguments) LIBOS_TRAPPED_##strict(nr)
constexpr long kTrapped[] = {
#include "libos_syscalls.def"
};
#undef LIBOS_SYSCALL
#undef LIBOS_TRAPPED_TRAP
#undef LIBOS_TRAPPED_NOTRAP

/* A classic BPF program with forward jumps to named places, resolved at the end. */
class FilterBuilder {
public:
    void load(uint32_t offset) { code_.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offset)); }
    void ret(uint32_t action) { code_.push_back(BPF_STMT(BPF_RET | BPF_K, action)); }
    void and_k(uint32_t k) { code_.push_back(BPF_STMT(BPF_ALU | BPF_AND | BPF_K, k)); }
    /* if (A == k) goto yes; else goto no (an empty label: the next instruction). */
    void jeq(uint32_t k, const char* yes, const char* no) { jump(BPF_JEQ, k, yes, no); }
    void jset(uint32_t k, const char* yes, const char* no) { jump(BPF_JSET, k, yes, no); }
    void label(const char* name) { labels_.push_back({name, code_.size()}); }

    std::vector<sock_filter> finish() {
        for (const Fixup& f : fixups_) {
            code_[f.at].jt = offset_to(f.at, f.yes);
            code_[f.at].jf = offset_to(f.at, f.no);
        }
        return code_;
    }

private:
    struct Label {
        std::string name;
        size_t at;
    };
    struct Fixup {
        size_t at;
        std::string yes, no;
    };

    void jump(uint16_t op, uint32_t k, const char* yes, const char* no) {
        fixups_.push_back({code_.size(), yes, no});
        code_.push_back(BPF_JUMP(BPF_JMP | op | BPF_K, k, 0, 0));
    }

    uint8_t offset_to(size_t from, const std::string& name) const {
        if (name.empty())
            return 0;
        for (const Label& l : labels_)
            if (l.name == name && l.at > from && l.at - from - 1 < 256)
                return static_cast<uint8_t>(l.at - from - 1);
        fprintf(stderr, "libos-run: internal error: bad filter label %s\n", name.c_str());
        abort();
    }

    std::vector<sock_filter> code_;
    std::vector<Label> labels_;
    std::vector<Fixup> fixups_;
};

}  // namespace

std::vector<sock_filter> build_filter(uint64_t tag) {
    constexpr uint32_t kNr = offsetof(seccomp_data, nr);
    constexpr uint32_t kArch = offsetof(seccomp_data, arch);
    /* args[5], little-endian: the low word first. */
    constexpr uint32_t kTagLow = offsetof(seccomp_data, args) + 5 * sizeof(uint64_t);
    constexpr uint32_t kTagHigh = kTagLow + sizeof(uint32_t);
    FilterBuilder f;
    f.load(kArch);
#if defined(__aarch64__)
    /* arm64: AArch32 (compat) calls are not virtualized and run on the host; there is no x32. */
    f.jeq(AUDIT_ARCH_AARCH64, "", "allow");
    f.load(kNr);
#else
    f.jeq(AUDIT_ARCH_X86_64, "", "other_arch");
    f.load(kNr);
    f.jset(kX32Bit, "foreign", "");
#endif
    for (long nr : kTrapped)
        f.jeq(static_cast<uint32_t>(nr), "tagged", "");
    f.ret(SECCOMP_RET_ALLOW);
    /* One of ours: the shim's own call (it carries the tag) goes through, anything else is asked. */
    f.label("tagged");
    f.load(kTagLow);
    f.jeq(static_cast<uint32_t>(tag), "", "notify");
    f.load(kTagHigh);
    f.jeq(static_cast<uint32_t>(tag >> 32), "allow", "notify");
#if !defined(__aarch64__)
    /* 32-bit calls (i386, or x32): the supervisor reports them and lets them run. */
    f.label("other_arch");
    f.jeq(AUDIT_ARCH_I386, "", "allow");
    f.load(kNr);
    for (size_t i = 0; i < kTrappedI386Count; ++i)
        f.jeq(static_cast<uint32_t>(kTrappedI386[i]), "notify", "");
    f.ret(SECCOMP_RET_ALLOW);
    f.label("foreign");
    f.and_k(~kX32Bit);
    for (long nr : kTrapped)
        f.jeq(static_cast<uint32_t>(nr), "notify", "");
#endif
    f.label("allow");
    f.ret(SECCOMP_RET_ALLOW);
    f.label("notify");
    f.ret(SECCOMP_RET_USER_NOTIF);
    return f.finish();
}

}  // namespace launcher::strict
