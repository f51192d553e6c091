/* The cpuid instruction against the machine's other views: run natively (the host's own answers must
 * agree with the host's sysfs) and on virtual machines (where the LibOS answers it, with CPUID
 * faulting: docs/machine.md, "cpuid"). For each CPU, pinned to it: the x2APIC id (leaf 0xB, and AMD's
 * leaf 0x8000001E) is /proc/cpuinfo's apicid; the leaf 0xB levels' shifts split the APIC ids into the
 * sysfs thread and package sets, and their counts are those sets' sizes; leaf 1's and AMD's legacy
 * fields agree; each cache's sharing splits the ids as its sysfs shared_cpu_list does. And the program's
 * own SIGSEGV handler still gets the program's own faults; threads, fork children and exec'd programs
 * keep the answers.
 *
 * LIBOS_EXPECT_CPUID_FAULTING=1 (set for the virtual machines): the LibOS must have turned CPUID faulting
 * on (arch_prctl ARCH_GET_CPUID answers 0); skipped where the host has no CPUID faulting. */
#include <asm/prctl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace {

struct Regs {
    uint32_t a, b, c, d;
};

Regs cpuid(uint32_t leaf, uint32_t subleaf) {
    Regs r;
    __asm__ volatile("cpuid" : "=a"(r.a), "=b"(r.b), "=c"(r.c), "=d"(r.d) : "a"(leaf), "c"(subleaf));
    return r;
}

std::string text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    while (!s.empty() && s.back() == '\n')
        s.pop_back();
    return s;
}

std::set<int> parse_list(const std::string& list) {
    std::set<int> out;
    std::stringstream ss(list);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (item.empty())
            continue;
        size_t dash = item.find('-');
        int lo = atoi(item.c_str()), hi = dash == std::string::npos ? lo : atoi(item.c_str() + dash + 1);
        for (int i = lo; i <= hi; ++i)
            out.insert(i);
    }
    return out;
}

std::string cpu_dir(int v) {
    return "/sys/devices/system/cpu/cpu" + std::to_string(v);
}

/* processor -> apicid, from /proc/cpuinfo. */
std::map<int, uint32_t> cpuinfo_apic_ids() {
    std::ifstream in("/proc/cpuinfo");
    std::map<int, uint32_t> out;
    std::string line;
    int processor = -1;
    while (std::getline(in, line)) {
        size_t colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
        long value = strtol(line.c_str() + colon + 1, nullptr, 10);
        if (key == "processor")
            processor = static_cast<int>(value);
        else if (key == "apicid" && processor >= 0)
            out[processor] = static_cast<uint32_t>(value);
    }
    return out;
}

bool pin(int v) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(v, &set);
    return sched_setaffinity(0, sizeof(set), &set) == 0;
}

uint32_t ceil_log2(uint32_t v) {
    uint32_t bits = 0;
    while ((1u << bits) < v)
        ++bits;
    return bits;
}

bool is_amd() {
    Regs r = cpuid(0, 0);
    return r.b == 0x68747541u || r.b == 0x6f677948u;
}

uint32_t max_basic() {
    return cpuid(0, 0).a;
}

uint32_t max_extended() {
    return cpuid(0x80000000u, 0).a;
}

bool has_leaf_b() {
    return max_basic() >= 0xb && (cpuid(0xb, 0).b & 0xffff) != 0;
}

class Cpuid : public ::testing::Test {
  protected:
    void SetUp() override {
        apic_ = cpuinfo_apic_ids();
        ASSERT_FALSE(apic_.empty()) << "no apicid in /proc/cpuinfo";
        cpus_ = parse_list(text("/sys/devices/system/cpu/online"));
        ASSERT_FALSE(cpus_.empty());
        sched_getaffinity(0, sizeof(saved_), &saved_);
        const char* expect = getenv("LIBOS_EXPECT_CPUID_FAULTING");
        if (expect && *expect == '1') {
            /* Under the LibOS the thread's cpuid faults (0: not allowed). A host without the feature
             * answers 1 (allowed) or fails: nothing to test there. */
            long allowed = syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0);
            if (allowed != 0)
                GTEST_SKIP() << "this host has no CPUID faulting (ARCH_GET_CPUID: " << allowed << ")";
        }
    }
    void TearDown() override { sched_setaffinity(0, sizeof(saved_), &saved_); }

    /* Whether vCPUs u and v agree above `shift` bits of their APIC ids exactly when u is in `set`. */
    void expect_split(int v, uint32_t shift, const std::set<int>& set, const char* what) {
        for (int u : cpus_) {
            bool same = (apic_[u] >> shift) == (apic_[v] >> shift);
            EXPECT_EQ(same, set.count(u) == 1) << what << ": cpu " << v << " and cpu " << u << ", APIC ids "
                                                << apic_[v] << " and " << apic_[u] << ", shift " << shift;
        }
    }

    std::map<int, uint32_t> apic_;
    std::set<int> cpus_;
    cpu_set_t saved_;
};

TEST_F(Cpuid, ApicIdsAreCpuinfos) {
    for (int v : cpus_) {
        ASSERT_TRUE(pin(v)) << v;
        EXPECT_EQ(cpuid(1, 0).b >> 24, apic_[v] & 0xff) << "leaf 1 initial APIC id, cpu " << v;
        if (has_leaf_b()) {
            EXPECT_EQ(cpuid(0xb, 0).d, apic_[v]) << "leaf 0xB x2APIC id, cpu " << v;
        }
        if (is_amd() && max_extended() >= 0x8000001eu && (cpuid(0x80000001u, 0).c & (1u << 22))) {
            EXPECT_EQ(cpuid(0x8000001eu, 0).a, apic_[v]) << "leaf 0x8000001E extended APIC id, cpu " << v;
        }
    }
}

TEST_F(Cpuid, LeafBLevelsAreTheSysfsSets) {
    if (!has_leaf_b())
        GTEST_SKIP() << "no leaf 0xB";
    for (int v : cpus_) {
        ASSERT_TRUE(pin(v)) << v;
        std::set<int> threads = parse_list(text(cpu_dir(v) + "/topology/thread_siblings_list"));
        std::set<int> package = parse_list(text(cpu_dir(v) + "/topology/core_siblings_list"));
        Regs smt = cpuid(0xb, 0), core = cpuid(0xb, 1), end = cpuid(0xb, 2);
        EXPECT_EQ((smt.c >> 8) & 0xff, 1u) << "level 0 is SMT, cpu " << v;
        EXPECT_EQ((core.c >> 8) & 0xff, 2u) << "level 1 is Core, cpu " << v;
        EXPECT_EQ((end.c >> 8) & 0xff, 0u) << "level 2 is invalid, cpu " << v;
        EXPECT_EQ(smt.b & 0xffff, threads.size()) << "threads per core, cpu " << v;
        EXPECT_EQ(core.b & 0xffff, package.size()) << "logical processors per package, cpu " << v;
        expect_split(v, smt.a & 0x1f, threads, "SMT shift");
        expect_split(v, core.a & 0x1f, package, "package shift");
    }
}

TEST_F(Cpuid, LegacyFieldsSplitPackages) {
    for (int v : cpus_) {
        ASSERT_TRUE(pin(v)) << v;
        std::set<int> package = parse_list(text(cpu_dir(v) + "/topology/core_siblings_list"));
        std::set<int> threads = parse_list(text(cpu_dir(v) + "/topology/thread_siblings_list"));
        Regs one = cpuid(1, 0);
        uint32_t addressable = (one.d & (1u << 28)) ? (one.b >> 16) & 0xff : 1;
        if (package.size() <= 128) {
            EXPECT_GE(addressable, package.size()) << "leaf 1 EBX[23:16], cpu " << v;
            expect_split(v, ceil_log2(addressable), package, "leaf 1 addressable ids");
        }
        if (!is_amd() || max_extended() < 0x80000008u)
            continue;
        Regs size = cpuid(0x80000008u, 0);
        EXPECT_EQ((size.c & 0xff) + 1, package.size()) << "0x80000008 ECX[7:0], cpu " << v;
        uint32_t bits = (size.c >> 12) & 0xf;
        if (bits)
            expect_split(v, bits, package, "0x80000008 ApicIdSize");
        if (max_extended() >= 0x8000001eu && (cpuid(0x80000001u, 0).c & (1u << 22))) {
            EXPECT_EQ(((cpuid(0x8000001eu, 0).b >> 8) & 0xff) + 1, threads.size())
                << "0x8000001E threads per core, cpu " << v;
        }
    }
}

/* Each cache of the cache leaf (AMD's 0x8000001D, Intel's 4) against the sysfs cache of the same level
 * and type: the APIC ids its sharing count splits are its shared_cpu_list. */
TEST_F(Cpuid, CacheSharingIsSysfss) {
    const bool amd = is_amd();
    uint32_t leaf = amd ? 0x8000001du : 4;
    if (amd ? max_extended() < leaf || !(cpuid(0x80000001u, 0).c & (1u << 22)) : max_basic() < leaf)
        GTEST_SKIP() << "no cache leaf";
    const char* types[] = {"", "Data", "Instruction", "Unified"};
    int checked = 0;
    for (int v : cpus_) {
        ASSERT_TRUE(pin(v)) << v;
        for (uint32_t i = 0; i < 16; ++i) {
            Regs r = cpuid(leaf, i);
            uint32_t type = r.a & 0x1f, level = (r.a >> 5) & 7;
            if (type == 0)
                break;
            if (type > 3)
                continue;
            for (int index = 0; index < 16; ++index) {
                std::string dir = cpu_dir(v) + "/cache/index" + std::to_string(index);
                std::string lvl = text(dir + "/level");
                if (lvl.empty())
                    break;
                if (atoi(lvl.c_str()) != static_cast<int>(level) || text(dir + "/type") != types[type])
                    continue;
                uint32_t sharing = ((r.a >> 14) & 0xfff) + 1;
                expect_split(v, ceil_log2(sharing), parse_list(text(dir + "/shared_cpu_list")), "cache sharing");
                ++checked;
            }
        }
    }
    if (!checked)
        GTEST_SKIP() << "no cache of the cache leaf has a sysfs twin";
}

/* The x2APIC id of the CPU the caller is pinned to, or (no leaf 0xB) leaf 1's. */
uint32_t own_apic_id() {
    return has_leaf_b() ? cpuid(0xb, 0).d : cpuid(1, 0).b >> 24;
}

uint32_t expected_apic(const std::map<int, uint32_t>& apic, int v) {
    return has_leaf_b() ? apic.at(v) : apic.at(v) & 0xff;
}

TEST_F(Cpuid, ThreadsKeepIt) {
    for (int v : cpus_) {
        uint32_t seen = ~0u;
        std::thread t([&] {
            if (pin(v))
                seen = own_apic_id();
        });
        t.join();
        EXPECT_EQ(seen, expected_apic(apic_, v)) << "cpu " << v;
    }
}

TEST_F(Cpuid, ForkChildrenKeepIt) {
    int v = *cpus_.rbegin();
    uint32_t want = expected_apic(apic_, v);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0)
        _exit(pin(v) && own_apic_id() == want ? 0 : 1);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

TEST_F(Cpuid, ExecdProgramsKeepIt) {
    int v = *cpus_.rbegin();
    std::string want = std::to_string(expected_apic(apic_, v));
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        std::string arg = std::to_string(v);
        execl("/proc/self/exe", "cpuid_test", "--apic-of", arg.c_str(), want.c_str(), nullptr);
        _exit(127);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

/* ---- the program's own faults ---------------------------------------------------------------- */

sigjmp_buf g_jump;
volatile int g_code = 0;
volatile uint32_t g_cpuid_in_handler = 0;

void on_segv(int, siginfo_t* info, void*) {
    g_code = info->si_code;
    g_cpuid_in_handler = cpuid(0, 0).a; /* answered in the handler too (SA_NODEFER below) */
    siglongjmp(g_jump, 1);
}

TEST_F(Cpuid, RealFaultsReachTheProgramsHandler) {
    struct sigaction act = {}, old = {};
    act.sa_sigaction = on_segv;
    act.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&act.sa_mask);
    ASSERT_EQ(sigaction(SIGSEGV, &act, &old), 0);
    /* A page fault: SEGV_MAPERR. */
    g_code = 0;
    if (sigsetjmp(g_jump, 1) == 0)
        __asm__ volatile("movl $1, 0" ::: "memory");
    EXPECT_EQ(g_code, SEGV_MAPERR);
    EXPECT_EQ(g_cpuid_in_handler, max_basic());
    /* A general protection fault, as a faulting cpuid is: SI_KERNEL, and it is the program's. */
    g_code = 0;
    if (sigsetjmp(g_jump, 1) == 0)
        __asm__ volatile("movabs $0x8000000000000000, %%rax\n\tmovl (%%rax), %%eax" ::: "rax", "memory");
    EXPECT_EQ(g_code, SI_KERNEL);
    /* And cpuid in between is no fault of the program's. */
    g_code = 0;
    EXPECT_EQ(cpuid(0, 0).a, max_basic());
    EXPECT_EQ(g_code, 0);
    ASSERT_EQ(sigaction(SIGSEGV, &old, nullptr), 0);
}

TEST_F(Cpuid, RealFaultsStillKill) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        cpuid(0, 0);
        __asm__ volatile("movabs $0x8000000000000000, %%rax\n\tmovl (%%rax), %%eax" ::: "rax", "memory");
        _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) << "status " << status;
}

}  // namespace

int main(int argc, char** argv) {
    /* The exec'd child of ExecdProgramsKeepIt: pinned to a CPU, its APIC id must be the one given. */
    if (argc == 4 && strcmp(argv[1], "--apic-of") == 0) {
        if (!pin(atoi(argv[2])))
            return 2;
        return std::to_string(own_apic_id()) == argv[3] ? 0 : 1;
    }
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
