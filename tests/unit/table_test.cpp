/* The syscall table: generated from the one list, complete against the kernel headers, dispatching
 * to handlers or to the host, and reporting support consistently. */
#include <errno.h>
#include <regex>
#include <sched.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "libos/libos_table.h"
#include "pal/pal.h"
#include "test_util.h"

using libos_test::read_file;
using libos_test::required_env;

namespace {

#if defined(__aarch64__)
/* arm64's numbers are asm-generic's, some spelt through __NR3264_* aliases: the build dumps the
 * macros of <asm/unistd.h> as the cross compiler sees them (tests/cross/meson.build). */
std::map<long, std::string> kernel_header_syscalls() {
    std::map<long, std::string> out;
    std::string text = read_file(required_env("LIBOS_UNISTD_DEFINES"));
    std::map<std::string, long> aliases;
    std::regex alias(R"(#define __NR3264_(\w+) (\d+))");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), alias); it != std::sregex_iterator(); ++it)
        aliases[(*it)[1]] = std::stol((*it)[2]);
    std::regex define(R"(#define __NR_(\w+) (?:(\d+)|__NR3264_(\w+)))");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), define); it != std::sregex_iterator(); ++it) {
        const std::string name = (*it)[1];
        if (name == "syscalls" || name == "arch_specific_syscall")
            continue;
        if ((*it)[2].matched)
            out[std::stol((*it)[2])] = name;
        else if (aliases.count((*it)[3]))
            out[aliases[(*it)[3]]] = name;
    }
    return out;
}
constexpr size_t kListedAtLeast = 300;
#else
std::map<long, std::string> kernel_header_syscalls() {
    std::map<long, std::string> out;
    std::string text = read_file("/usr/include/x86_64-linux-gnu/asm/unistd_64.h");
    std::regex define(R"(#define __NR_(\w+)\s+(\d+))");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), define); it != std::sregex_iterator(); ++it)
        out[std::stol((*it)[2])] = (*it)[1];
    return out;
}
constexpr size_t kListedAtLeast = 380;
#endif

TEST(Table, EverySyscallInTheKernelHeaderIsListedWithItsNumber) {
    auto header = kernel_header_syscalls();
    ASSERT_GT(header.size(), 300u) << "could not read <asm/unistd_64.h>";
    for (const auto& [nr, name] : header) {
        const char* listed = libos::syscall_name(nr);
        ASSERT_NE(listed, nullptr) << "syscall " << nr << " (" << name << ") is missing from libos_syscalls.def";
        EXPECT_EQ(name, listed) << "syscall " << nr;
    }
}

TEST(Table, EveryListedEntryResolvesAndHasAConsistentSupportKind) {
    size_t named = 0;
    for (size_t nr = 0; nr < libos::syscall_table_size(); ++nr) {
        const libos::SyscallEntry e = libos::syscall_entry(static_cast<long>(nr));
        if (!e.name) {
            EXPECT_EQ(e.support, libos::Support::Unknown);
            EXPECT_EQ(e.handler, nullptr);
            continue;
        }
        ++named;
        EXPECT_EQ(libos::has_handler(e.support), e.handler != nullptr) << e.name;
        EXPECT_TRUE(!e.trapped || e.handler != nullptr) << e.name << ": trapped without a handler";
        EXPECT_NE(e.note, nullptr) << e.name;
    }
    EXPECT_GE(named, kListedAtLeast);
}

TEST(Table, NamesMatchTheSyscallMacros) {
    EXPECT_STREQ(libos::syscall_name(SYS_read), "read");
    EXPECT_STREQ(libos::syscall_name(SYS_sched_setaffinity), "sched_setaffinity");
    EXPECT_STREQ(libos::syscall_name(SYS_sched_getaffinity), "sched_getaffinity");
    EXPECT_STREQ(libos::syscall_name(SYS_getcpu), "getcpu");
    EXPECT_STREQ(libos::syscall_name(470), "listns");
    EXPECT_EQ(libos::syscall_name(-1), nullptr);
    EXPECT_EQ(libos::syscall_name(400), nullptr); /* 387-423 are unused on x86_64 */
    EXPECT_EQ(libos::syscall_name(100000), nullptr);
}

TEST(Table, AffinityFamilyHasHandlers) {
    for (long nr : {SYS_sched_setaffinity, SYS_sched_getaffinity, SYS_getcpu}) {
        const libos::SyscallEntry e = libos::syscall_entry(nr);
        EXPECT_EQ(e.support, libos::Support::Full) << e.name;
        EXPECT_NE(e.handler, nullptr) << e.name;
    }
}

TEST(Table, MemoryPolicyFamilyHasHandlers) {
    for (long nr : {long{SYS_set_mempolicy}, long{SYS_get_mempolicy}, long{SYS_mbind}, long{SYS_migrate_pages},
                    long{SYS_move_pages},
                    450L /* set_mempolicy_home_node */}) /* the set_mempolicy family */ {
        const libos::SyscallEntry e = libos::syscall_entry(nr);
        EXPECT_NE(e.support, libos::Support::PassThrough) << e.name;
        EXPECT_NE(e.handler, nullptr) << e.name;
        /* Not trapped in strict mode: docs/strict-mode.md says why. */
        EXPECT_FALSE(e.trapped) << e.name;
    }
}

TEST(Table, StrictModeTrapsTheAffinityCallsAndTheOpens) {
    std::set<std::string> trapped;
    for (size_t nr = 0; nr < libos::syscall_table_size(); ++nr)
        if (const libos::SyscallEntry e = libos::syscall_entry(static_cast<long>(nr)); e.trapped)
            trapped.insert(e.name);
#ifdef SYS_open
    EXPECT_EQ(trapped, (std::set<std::string>{"open", "openat", "openat2", "sched_setaffinity", "sched_getaffinity",
                                              "getcpu"}));
#else /* arm64: no open(2) */
    EXPECT_EQ(trapped, (std::set<std::string>{"openat", "openat2", "sched_setaffinity", "sched_getaffinity", "getcpu"}));
#endif
}

/* The PAL tags its own calls of exactly the list's TRAP entries (it reads the list at build time):
 * under a filter that fails every untagged call of those numbers with an errno no such call gives
 * (ENOTRECOVERABLE), the PAL's calls of all of them pass once the tag is set, and not before; the
 * PAL's calls of other numbers carry no tag. Zero arguments make every call harmless. */
TEST(Table, ThePalTagsExactlyTheTrappedCalls) {
    LIBOS_SKIP_UNDER_EMULATION("seccomp filters");
    std::vector<long> trapped;
    for (size_t nr = 0; nr < libos::syscall_table_size(); ++nr)
        if (libos::syscall_entry(static_cast<long>(nr)).trapped)
            trapped.push_back(static_cast<long>(nr));
    ASSERT_FALSE(trapped.empty());
    const uint64_t tag = 0x5a5a0123456789a5ULL;
    constexpr uint32_t kNr = offsetof(seccomp_data, nr);
    constexpr uint32_t kLow = offsetof(seccomp_data, args) + 5 * sizeof(uint64_t);
    /* Trapped numbers: untagged fails; getpid: tagged fails (the PAL must not tag it). */
    std::vector<sock_filter> code = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kNr),
                                     BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpid, 0, 4),
                                     BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kLow),
                                     BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(tag), 0, 1),
                                     BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOTRECOVERABLE),
                                     BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    for (long nr : trapped) {
        code.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 5));
        code.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kLow));
        code.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(tag), 0, 2));
        code.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kLow + 4));
        code.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(tag >> 32), 1, 0));
        code.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOTRECOVERABLE));
        code.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kNr));
    }
    code.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        sock_fprog prog = {static_cast<unsigned short>(code.size()), code.data()};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            PalSyscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, reinterpret_cast<long>(&prog), 0, 0, 0) != 0)
            _exit(100);
        int failures = 0;
        for (long nr : trapped)
            failures += PalSyscall(nr, 0, 0, 0, 0, 0, 0) != -ENOTRECOVERABLE; /* no tag yet: trapped */
        PalSetStrictTag(tag);
        for (long nr : trapped)
            failures += PalSyscall(nr, 0, 0, 0, 0, 0, 0) == -ENOTRECOVERABLE; /* tagged by the PAL */
        failures += PalSyscall(SYS_getpid, 0, 0, 0, 0, 0, 0) == -ENOTRECOVERABLE; /* never tagged */
        _exit(failures);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 0) << "calls the PAL tagged wrongly (100: no filter could be installed)";
}

TEST(Dispatch, UnhandledSyscallsPassThroughUnchanged) {
    EXPECT_EQ(libos::dispatch(SYS_getpid, 0, 0, 0, 0, 0, 0), getpid());
    EXPECT_EQ(libos::dispatch(SYS_getppid, 0, 0, 0, 0, 0, 0), getppid());
    EXPECT_EQ(libos::dispatch(SYS_gettid, 0, 0, 0, 0, 0, 0), gettid());
    EXPECT_EQ(libos::dispatch(SYS_close, -1, 0, 0, 0, 0, 0), -EBADF);
    struct utsname a, b;
    ASSERT_EQ(libos::dispatch(SYS_uname, reinterpret_cast<long>(&a), 0, 0, 0, 0, 0), 0);
    ASSERT_EQ(uname(&b), 0);
    EXPECT_STREQ(a.release, b.release);
    EXPECT_STREQ(a.machine, b.machine);
}

TEST(Dispatch, UnknownNumbersGetTheHostsEnosys) {
    for (long nr : {400L, 1000L, 100000L, -1L, 0x40000000L + 1000})
        EXPECT_EQ(libos::dispatch(nr, 0, 0, 0, 0, 0, 0), -ENOSYS) << nr;
}

TEST(Dispatch, HandlersNarrowArgumentsLikeTheKernel) {
    /* The kernel reads `unsigned int len`: the high half of the register is ignored. */
    cpu_set_t set;
    long big_len = (1L << 32) | sizeof(set);
    long ret = libos::dispatch(SYS_sched_getaffinity, 0, big_len, reinterpret_cast<long>(&set), 0, 0, 0);
    long native = syscall(SYS_sched_getaffinity, 0, big_len, &set);
    EXPECT_EQ(ret, native);
    EXPECT_GT(ret, 0);
}

TEST(SupportReport, CommittedReportMatchesTheList) {
    std::string tool = required_env("LIBOS_SUPPORT_REPORT");
    std::string root = required_env("LIBOS_SOURCE_ROOT");
    int status = -1;
    std::string generated = libos_test::run_command(tool, &status);
    ASSERT_EQ(status, 0);
#if defined(__aarch64__)
    const std::string doc = "docs/syscall-support-aarch64.md", build = "build-aarch64";
#else
    const std::string doc = "docs/syscall-support.md", build = "build";
#endif
    std::string committed = read_file(root + "/" + doc);
    EXPECT_EQ(generated, committed) << doc << " is stale: regenerate it with " << build
                                    << "/table/libos-support-report > " << doc;
}

TEST(SupportReport, ListsEverySyscallOnceWithItsSupport) {
    std::string tool = required_env("LIBOS_SUPPORT_REPORT");
    std::string json = libos_test::run_command(tool + " --json");
    for (size_t nr = 0; nr < libos::syscall_table_size(); ++nr) {
        const libos::SyscallEntry e = libos::syscall_entry(static_cast<long>(nr));
        if (!e.name)
            continue;
        std::string needle = "\"nr\": " + std::to_string(nr) + ", \"name\": \"" + e.name + "\"";
        EXPECT_NE(json.find(needle), std::string::npos) << needle;
    }
    EXPECT_NE(json.find("\"name\": \"sched_getaffinity\", \"support\": \"full\", \"trapped\": true"), std::string::npos);
    EXPECT_NE(json.find("\"name\": \"statx\", \"support\": \"partial\", \"trapped\": false"), std::string::npos);
    EXPECT_NE(json.find("\"name\": \"write\", \"support\": \"partial\", \"trapped\": false"), std::string::npos);
    EXPECT_NE(json.find("\"name\": \"read\", \"support\": \"partial\", \"trapped\": false"), std::string::npos);
}

}  // namespace

/* The pass-through test's table says "routed" exactly for the numbers with a handler (it is built
 * from the list's support column, the handlers from the same column), but for the write family's,
 * which are routed from the first open of a generated file for reading and writing. */
TEST(Table, RoutedNumbersAreExactlyThoseWithAHandler) {
    int on_demand = 0;
    for (long nr = 0; nr < static_cast<long>(libos::kRoutedNumbers); ++nr) {
        if (libos::syscall_routed_on_demand(nr)) {
            ++on_demand;
            EXPECT_NE(libos::syscall_handler(nr), nullptr) << "number " << nr;
            EXPECT_TRUE(libos::syscall_unrouted(nr)) << "number " << nr;
            continue;
        }
        EXPECT_EQ(libos::syscall_unrouted(nr), libos::syscall_handler(nr) == nullptr) << "number " << nr;
    }
    EXPECT_EQ(on_demand, 5);
    EXPECT_TRUE(libos::syscall_routed_on_demand(SYS_write));
    EXPECT_TRUE(libos::syscall_routed_on_demand(SYS_pwritev2));
}

TEST(Table, WritesAreRoutedOnDemand) {
    ASSERT_TRUE(libos::syscall_unrouted(SYS_writev));
    libos::syscall_route_writes();
    for (long nr : {SYS_write, SYS_pwrite64, SYS_writev, SYS_pwritev, SYS_pwritev2})
        EXPECT_FALSE(libos::syscall_unrouted(nr)) << "number " << nr;
    EXPECT_TRUE(libos::syscall_unrouted(SYS_getpid));
}
