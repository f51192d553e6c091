/* Conformance of the NUMA memory-policy calls: set_mempolicy(2), get_mempolicy(2), mbind(2),
 * migrate_pages(2), move_pages(2), set_mempolicy_home_node(2), through syscall() as libnuma issues
 * them.
 *
 * Every rule is stated for the machine under test: nr_node_ids is the node count that
 * /sys/devices/system/node/possible shows, MAX_NUMNODES the width of Mems_allowed in
 * /proc/self/status. Natively that is the host; under the shim with LIBOS_NUMA it is the virtual
 * machine (numa/numa-2, numa/numa-4), and with one node (numa/compare-numa-1) the transcript must
 * equal the native one line for line. */
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>

#include <string>
#include <vector>

#include "conformance.h"

/* linux/mempolicy.h, spelled out: the test needs no libnuma headers. */
enum { MPOL_DEFAULT, MPOL_PREFERRED, MPOL_BIND, MPOL_INTERLEAVE, MPOL_LOCAL, MPOL_PREFERRED_MANY };
constexpr int MPOL_F_STATIC_NODES = 1 << 15, MPOL_F_RELATIVE_NODES = 1 << 14, MPOL_F_NUMA_BALANCING = 1 << 13;
constexpr unsigned long MPOL_F_NODE = 1, MPOL_F_ADDR = 2, MPOL_F_MEMS_ALLOWED = 4;

namespace {

using conformance::outcome;
using conformance::record;

constexpr long kPage = 4096;
constexpr char kReportPolicy[] = "--numa-report-policy";

struct NumaMachine {
    int nodes = 0;      /* nr_node_ids */
    int max_nodes = 0;  /* MAX_NUMNODES */
};

const NumaMachine& numa_machine() {
    static const NumaMachine m = [] {
        NumaMachine n;
        std::set<int> possible = libos_test::parse_cpu_list(libos_test::read_file("/sys/devices/system/node/possible"));
        n.nodes = possible.empty() ? 1 : *possible.rbegin() + 1;
        std::string status = libos_test::read_file("/proc/self/status");
        size_t at = status.find("Mems_allowed:\t");
        if (at != std::string::npos) {
            for (size_t i = at + 14; i < status.size() && status[i] != '\n'; ++i)
                if (isxdigit(static_cast<unsigned char>(status[i])))
                    n.max_nodes += 4;
        }
        return n;
    }();
    return m;
}

int last_node() {
    return numa_machine().nodes - 1;
}

/* A node mask of MAX_NUMNODES bits, as a vector of longs. */
std::vector<unsigned long> mask_of(std::initializer_list<int> nodes) {
    std::vector<unsigned long> m(static_cast<size_t>(numa_machine().max_nodes / 64 + 2), 0);
    for (int n : nodes)
        m[static_cast<size_t>(n) / 64] |= 1UL << (n % 64);
    return m;
}

unsigned long maxnode_all() {
    return static_cast<unsigned long>(numa_machine().max_nodes) + 1;
}

long set_policy(int mode, std::initializer_list<int> nodes) {
    std::vector<unsigned long> m = mask_of(nodes);
    return syscall(SYS_set_mempolicy, mode, m.data(), maxnode_all());
}

std::string list_of(const unsigned long* mask, int bits) {
    std::set<int> nodes;
    for (int i = 0; i < bits; ++i)
        if ((mask[i / 64] >> (i % 64)) & 1)
            nodes.insert(i);
    return conformance::cpu_list(nodes);
}

/* The thread's policy as "mode/list". */
std::string thread_policy() {
    int mode = -1;
    std::vector<unsigned long> m = mask_of({});
    long ret = syscall(SYS_get_mempolicy, &mode, m.data(), maxnode_all(), 0, 0);
    if (ret != 0)
        return outcome(ret, errno);
    return std::to_string(mode) + "/" + list_of(m.data(), numa_machine().max_nodes);
}

/* The VMA's policy at addr as "mode/list". */
std::string range_policy(void* addr) {
    int mode = -1;
    std::vector<unsigned long> m = mask_of({});
    long ret = syscall(SYS_get_mempolicy, &mode, m.data(), maxnode_all(), addr, MPOL_F_ADDR);
    if (ret != 0)
        return outcome(ret, errno);
    return std::to_string(mode) + "/" + list_of(m.data(), numa_machine().max_nodes);
}

int page_node(void* addr) {
    int node = -1;
    if (syscall(SYS_get_mempolicy, &node, nullptr, 0, addr, MPOL_F_NODE | MPOL_F_ADDR) != 0)
        return -errno - 1000;
    return node;
}

/* Resets the thread's policy when a test ends. */
struct DefaultPolicyAfter {
    ~DefaultPolicyAfter() { syscall(SYS_set_mempolicy, MPOL_DEFAULT, nullptr, 0); }
};

struct Mapping {
    explicit Mapping(size_t pages) : size(pages * kPage) {
        base = static_cast<char*>(mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    }
    ~Mapping() { munmap(base, size); }
    char* base;
    size_t size;
};

TEST(NumaHarness, MachineIsWhatTheConfigurationSays) {
    const char* numa = getenv("LIBOS_NUMA");
    if (numa && *numa && getenv("LD_PRELOAD"))
        EXPECT_EQ(numa_machine().nodes, atoi(numa));
    EXPECT_GE(numa_machine().max_nodes, numa_machine().nodes);
    record("max_nodes", std::to_string(numa_machine().max_nodes));
}

/* The mode and its flags come first, then the mask, then the policy's rules on the nodes. */
TEST(SetMempolicy, ModesFlagsAndMasks) {
    DefaultPolicyAfter reset;
    const int n = numa_machine().nodes;
    struct Case {
        const char* name;
        int mode;
        std::vector<int> nodes;
    };
    const std::vector<Case> cases = {
        {"default, empty", MPOL_DEFAULT, {}},
        {"default, node 0", MPOL_DEFAULT, {0}},
        {"preferred, empty (local)", MPOL_PREFERRED, {}},
        {"preferred, last", MPOL_PREFERRED, {n - 1}},
        {"preferred static, empty", MPOL_PREFERRED | MPOL_F_STATIC_NODES, {}},
        {"local, empty", MPOL_LOCAL, {}},
        {"local, node 0", MPOL_LOCAL, {0}},
        {"bind, empty", MPOL_BIND, {}},
        {"bind, node 0", MPOL_BIND, {0}},
        {"bind, missing node", MPOL_BIND, {n}},
        {"bind, node 0 and a missing one", MPOL_BIND, {0, n}},
        {"bind, last MAX_NUMNODES bit", MPOL_BIND, {numa_machine().max_nodes - 1}},
        {"interleave, all", MPOL_INTERLEAVE, {0, n - 1}},
        {"preferred-many, all", MPOL_PREFERRED_MANY, {0, n - 1}},
        {"static and relative", MPOL_BIND | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES, {0}},
        {"relative, missing node folds", MPOL_BIND | MPOL_F_RELATIVE_NODES, {n}},
        {"static, missing node", MPOL_BIND | MPOL_F_STATIC_NODES, {n}},
        {"balancing with bind", MPOL_BIND | MPOL_F_NUMA_BALANCING, {0}},
        {"balancing with bind, node 0 and a missing one", MPOL_BIND | MPOL_F_NUMA_BALANCING, {0, n}},
        {"balancing with interleave", MPOL_INTERLEAVE | MPOL_F_NUMA_BALANCING, {0}},
        {"balancing with preferred", MPOL_PREFERRED | MPOL_F_NUMA_BALANCING, {0}},
        {"mode 7", 7, {0}},
        {"mode 99", 99, {0}},
    };
    for (const Case& c : cases) {
        std::vector<unsigned long> m = mask_of({});
        for (int node : c.nodes)
            m[static_cast<size_t>(node) / 64] |= 1UL << (node % 64);
        std::string got = OUTCOME(syscall(SYS_set_mempolicy, c.mode, m.data(), maxnode_all()));
        record(c.name, got + (got == "=0" ? " " + thread_policy() : ""));
        syscall(SYS_set_mempolicy, MPOL_DEFAULT, nullptr, 0);
    }
    /* The rules that do not depend on the host's modes, stated. */
    EXPECT_EQ(OUTCOME(set_policy(MPOL_BIND, {})), "errno EINVAL");
    EXPECT_EQ(OUTCOME(set_policy(MPOL_BIND, {n})), "errno EINVAL");
    EXPECT_EQ(OUTCOME(set_policy(MPOL_DEFAULT, {0})), "errno EINVAL");
    EXPECT_EQ(OUTCOME(set_policy(MPOL_BIND | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES, {0})), "errno EINVAL");
    ASSERT_EQ(OUTCOME(set_policy(MPOL_BIND, {0, n})), "=0");
    EXPECT_EQ(thread_policy(), "2/0");
    ASSERT_EQ(OUTCOME(set_policy(MPOL_BIND, {n - 1})), "=0");
    EXPECT_EQ(thread_policy(), "2/" + std::to_string(n - 1));
    ASSERT_EQ(OUTCOME(set_policy(MPOL_PREFERRED, {n - 1})), "=0");
    EXPECT_EQ(thread_policy(), "1/" + std::to_string(n - 1));
    ASSERT_EQ(OUTCOME(set_policy(MPOL_PREFERRED, {})), "=0");
    EXPECT_EQ(thread_policy(), "4/(empty)");
    /* Static and relative nodes are given back as given, not as used. */
    ASSERT_EQ(OUTCOME(set_policy(MPOL_BIND | MPOL_F_RELATIVE_NODES, {n})), "=0");
    EXPECT_EQ(thread_policy(), std::to_string(MPOL_BIND | MPOL_F_RELATIVE_NODES) + "/" + std::to_string(n));
    /* So is a mask with MPOL_F_NUMA_BALANCING (where the host allows it with bind): every mode flag
     * keeps the user's mask. */
    if (set_policy(MPOL_BIND | MPOL_F_NUMA_BALANCING, {0, n}) == 0) {
        EXPECT_EQ(thread_policy(),
                  std::to_string(MPOL_BIND | MPOL_F_NUMA_BALANCING) + "/" + conformance::cpu_list({0, n}));
    }
}

/* maxnode counts bits, of which the kernel reads maxnode - 1; above MAX_NUMNODES they must be 0. */
TEST(SetMempolicy, MaxnodeRules) {
    DefaultPolicyAfter reset;
    const int max = numa_machine().max_nodes;
    std::vector<unsigned long> m(kPage / 8 + 2, 0);
    m[0] = 1;
    for (unsigned long maxnode : {0UL, 1UL, 2UL, 64UL, 65UL, static_cast<unsigned long>(max),
                                  static_cast<unsigned long>(max) + 1, 8UL * kPage, 8UL * kPage + 1, 8UL * kPage + 2})
        record("bind {0}, maxnode " + std::to_string(maxnode),
               OUTCOME(syscall(SYS_set_mempolicy, MPOL_BIND, m.data(), maxnode)));
    EXPECT_EQ(OUTCOME(syscall(SYS_set_mempolicy, MPOL_BIND, m.data(), 1)), "errno EINVAL"); /* reads 0 bits */
    EXPECT_EQ(OUTCOME(syscall(SYS_set_mempolicy, MPOL_BIND, m.data(), 2)), "=0");
    /* A bit at MAX_NUMNODES, with maxnode past it: EINVAL; the last supported bit is a missing node. */
    std::vector<unsigned long> beyond = mask_of({0, max});
    EXPECT_EQ(OUTCOME(syscall(SYS_set_mempolicy, MPOL_BIND, beyond.data(), max + 64)), "errno EINVAL");
    EXPECT_EQ(OUTCOME(syscall(SYS_set_mempolicy, MPOL_BIND, beyond.data(), max + 1)), "=0"); /* not read */
    std::vector<unsigned long> huge(kPage / 8 + 2, 0);
    huge[0] = 1;
    EXPECT_EQ(OUTCOME(syscall(SYS_set_mempolicy, MPOL_BIND, huge.data(), 8 * kPage + 1)), "=0");
    EXPECT_EQ(OUTCOME(syscall(SYS_set_mempolicy, MPOL_BIND, huge.data(), 8 * kPage + 2)), "errno EINVAL");
}

/* The mask is read where the kernel reads it: a fault is EFAULT, unless the mode was refused first. */
TEST(SetMempolicy, FaultsAfterTheMode) {
    DefaultPolicyAfter reset;
    libos_test::GuardedBuffer buf(8);
    *static_cast<unsigned long*>(buf.data()) = 1;
    EXPECT_EQ(OUTCOME(syscall(SYS_set_mempolicy, MPOL_BIND, buf.data(), 65)), "=0");
    EXPECT_EQ(OUTCOME(syscall(SYS_set_mempolicy, MPOL_BIND, buf.data(), 129)), "errno EFAULT");
    EXPECT_EQ(OUTCOME(syscall(SYS_set_mempolicy, 99, buf.data(), 129)), "errno EINVAL");
    EXPECT_EQ(OUTCOME(syscall(SYS_set_mempolicy, MPOL_BIND, libos_test::unmapped_address(), 65)), "errno EFAULT");
    EXPECT_EQ(OUTCOME(syscall(SYS_mbind, 0, 0, MPOL_BIND, libos_test::unmapped_address(), 65, 0)), "errno EFAULT");
}

TEST(GetMempolicy, MasksOut) {
    DefaultPolicyAfter reset;
    const int n = numa_machine().nodes;
    int mode = -1;
    std::vector<unsigned long> m = mask_of({});
    /* A mask shorter than nr_node_ids: EINVAL before anything else. */
    EXPECT_EQ(OUTCOME(syscall(SYS_get_mempolicy, &mode, m.data(), n - 1, 0, 0)), "errno EINVAL");
    EXPECT_EQ(OUTCOME(syscall(SYS_get_mempolicy, &mode, nullptr, 0, 0, 0)), "=0");
    EXPECT_EQ(OUTCOME(syscall(SYS_get_mempolicy, &mode, m.data(), n, 0, 0)), "=0");
    EXPECT_EQ(OUTCOME(syscall(SYS_get_mempolicy, &mode, m.data(), 8 * kPage + 2, 0, 0)), "errno EINVAL");
    /* copy_nodes_to_user: the words past nr_node_ids are cleared up to maxnode - 1 bits, no further. */
    ASSERT_EQ(OUTCOME(set_policy(MPOL_INTERLEAVE, {0, n - 1})), "=0");
    std::vector<unsigned long> fill(m.size() + 4, ~0UL);
    ASSERT_EQ(OUTCOME(syscall(SYS_get_mempolicy, &mode, fill.data(), 129, 0, 0)), "=0");
    std::string words;
    for (size_t i = 0; i < 4; ++i)
        words += (i ? "," : "") + std::to_string(fill[i] == ~0UL ? -1 : static_cast<long>(fill[i]));
    record("interleave {0,last} into 129 bits over ~0", words);
    EXPECT_EQ(fill[2], ~0UL);
    EXPECT_EQ(fill[1], n > 64 ? fill[1] : 0UL);
    /* EFAULT: the mode, then the mask (its cleared tail faults first). */
    EXPECT_EQ(OUTCOME(syscall(SYS_get_mempolicy, libos_test::unmapped_address(), nullptr, 0, 0, 0)), "errno EFAULT");
    libos_test::GuardedBuffer buf(8);
    EXPECT_EQ(OUTCOME(syscall(SYS_get_mempolicy, &mode, buf.data(), 65, 0, 0)), "=0");
    EXPECT_EQ(OUTCOME(syscall(SYS_get_mempolicy, &mode, buf.data(), 129, 0, 0)), "errno EFAULT");
}

TEST(GetMempolicy, FlagForms) {
    DefaultPolicyAfter reset;
    const int n = numa_machine().nodes;
    int mode = -1;
    std::vector<unsigned long> m = mask_of({});
    EXPECT_EQ(OUTCOME(syscall(SYS_get_mempolicy, &mode, m.data(), maxnode_all(), 0, 8)), "errno EINVAL");
    EXPECT_EQ(OUTCOME(syscall(SYS_get_mempolicy, &mode, m.data(), maxnode_all(), 0, MPOL_F_MEMS_ALLOWED | MPOL_F_NODE)),
              "errno EINVAL");
    ASSERT_EQ(OUTCOME(syscall(SYS_get_mempolicy, &mode, m.data(), maxnode_all(), 0, MPOL_F_MEMS_ALLOWED)), "=0");
    EXPECT_EQ(mode, 0);
    EXPECT_EQ(list_of(m.data(), numa_machine().max_nodes), n == 1 ? "0" : "0-" + std::to_string(n - 1));
    /* An address without MPOL_F_ADDR, and MPOL_F_NODE alone outside interleave: EINVAL. */
    EXPECT_EQ(OUTCOME(syscall(SYS_get_mempolicy, &mode, nullptr, 0, &mode, 0)), "errno EINVAL");
    EXPECT_EQ(OUTCOME(syscall(SYS_get_mempolicy, &mode, nullptr, 0, 0, MPOL_F_NODE)), "errno EINVAL");
    /* MPOL_F_ADDR on an address without a mapping: EFAULT. */
    EXPECT_EQ(OUTCOME(syscall(SYS_get_mempolicy, &mode, nullptr, 0, libos_test::unmapped_address(), MPOL_F_ADDR)),
              "errno EFAULT");
    /* MPOL_F_NODE with an interleave policy: the next node, the first one after set_mempolicy. */
    ASSERT_EQ(OUTCOME(set_policy(MPOL_INTERLEAVE, {n - 1})), "=0");
    ASSERT_EQ(OUTCOME(syscall(SYS_get_mempolicy, &mode, nullptr, 0, 0, MPOL_F_NODE)), "=0");
    EXPECT_EQ(mode, n - 1);
}

TEST(Mbind, RangesKeepTheirPolicy) {
    const int n = numa_machine().nodes;
    Mapping map(4 * static_cast<size_t>(n) + 4);
    ASSERT_NE(map.base, MAP_FAILED);
    std::vector<unsigned long> last = mask_of({n - 1});
    EXPECT_EQ(OUTCOME(syscall(SYS_mbind, map.base + 1, kPage, MPOL_BIND, last.data(), maxnode_all(), 0)), "errno EINVAL");
    EXPECT_EQ(OUTCOME(syscall(SYS_mbind, map.base, 0, MPOL_BIND, last.data(), maxnode_all(), 0)), "=0");
    EXPECT_EQ(OUTCOME(syscall(SYS_mbind, map.base, kPage, MPOL_BIND, last.data(), maxnode_all(), 8)), "errno EINVAL");
    EXPECT_EQ(OUTCOME(syscall(SYS_mbind, libos_test::unmapped_address(), kPage, MPOL_BIND, last.data(), maxnode_all(), 0)),
              "errno EFAULT");
    std::vector<unsigned long> missing = mask_of({n});
    EXPECT_EQ(OUTCOME(syscall(SYS_mbind, map.base, kPage, MPOL_BIND, missing.data(), maxnode_all(), 0)), "errno EINVAL");
    /* Bind the first page to the last node: its policy and, once touched, its node. */
    ASSERT_EQ(OUTCOME(syscall(SYS_mbind, map.base, kPage, MPOL_BIND, last.data(), maxnode_all(), 0)), "=0");
    EXPECT_EQ(range_policy(map.base), "2/" + std::to_string(n - 1));
    EXPECT_EQ(range_policy(map.base + kPage), "0/(empty)");
    map.base[0] = 1;
    EXPECT_EQ(page_node(map.base), n - 1);
    /* Interleave the rest: page i lands on node (page number) mod n, as the kernel's interleave
     * index for anonymous memory is its page number. */
    char* rest = map.base + kPage;
    const size_t rest_pages = map.size / kPage - 1;
    std::vector<unsigned long> all = mask_of({});
    for (int v = 0; v < n; ++v)
        all[static_cast<size_t>(v) / 64] |= 1UL << (v % 64);
    ASSERT_EQ(OUTCOME(syscall(SYS_mbind, rest, rest_pages * kPage, MPOL_INTERLEAVE, all.data(), maxnode_all(), 0)), "=0");
    EXPECT_EQ(range_policy(rest), "3/" + (n == 1 ? std::string("0") : "0-" + std::to_string(n - 1)));
    std::string nodes;
    for (size_t p = 0; p < rest_pages; ++p) {
        rest[p * kPage] = 1;
        long expected = static_cast<long>((reinterpret_cast<uintptr_t>(rest) / kPage + p) % static_cast<size_t>(n));
        EXPECT_EQ(page_node(rest + p * kPage), expected) << "page " << p;
        nodes += std::to_string(page_node(rest + p * kPage) == expected);
    }
    record("interleaved pages on their index's node", nodes);
    /* MPOL_DEFAULT takes the range back to no policy of its own. */
    ASSERT_EQ(OUTCOME(syscall(SYS_mbind, map.base, map.size, MPOL_DEFAULT, nullptr, 0, 0)), "=0");
    EXPECT_EQ(range_policy(map.base), "0/(empty)");
    EXPECT_EQ(range_policy(rest), "0/(empty)");
}

TEST(MovePages, VirtualNodesInAndOut) {
    const int n = numa_machine().nodes;
    Mapping map(4);
    ASSERT_NE(map.base, MAP_FAILED);
    for (int p = 0; p < 4; ++p)
        map.base[p * kPage] = 1;
    void* pages[5] = {map.base, map.base + kPage, map.base + 2 * kPage, map.base + 3 * kPage,
                      libos_test::unmapped_address()};
    int status[5] = {-99, -99, -99, -99, -99};
    int nodes[5] = {n - 1, 0, n - 1, 0, 0};
    EXPECT_EQ(OUTCOME(syscall(SYS_move_pages, 0, 5, pages, nullptr, status, 0)), "=0");
    record("status of 4 pages and a hole", std::to_string(status[4]));
    EXPECT_EQ(status[4], -EFAULT);
    EXPECT_EQ(OUTCOME(syscall(SYS_move_pages, 0, 5, pages, nodes, status, 0)), "=0");
    std::string moved;
    for (int p = 0; p < 4; ++p) {
        EXPECT_EQ(status[p], nodes[p]) << "page " << p;
        EXPECT_EQ(page_node(pages[p]), nodes[p]) << "page " << p;
        moved += std::to_string(status[p] == nodes[p]);
    }
    record("moved pages report their node", moved);
    EXPECT_EQ(status[4], -EFAULT);
    int query[4] = {-99, -99, -99, -99};
    ASSERT_EQ(OUTCOME(syscall(SYS_move_pages, 0, 4, pages, nullptr, query, 0)), "=0");
    for (int p = 0; p < 4; ++p)
        EXPECT_EQ(query[p], nodes[p]) << "page " << p;
    /* A node the machine lacks: ENODEV; flags: EINVAL; a pid: ESRCH. */
    int missing[1] = {n};
    EXPECT_EQ(OUTCOME(syscall(SYS_move_pages, 0, 1, pages, missing, status, 0)), "errno ENODEV");
    int negative[1] = {-1};
    EXPECT_EQ(OUTCOME(syscall(SYS_move_pages, 0, 1, pages, negative, status, 0)), "errno ENODEV");
    EXPECT_EQ(OUTCOME(syscall(SYS_move_pages, 0, 1, pages, nodes, status, 8)), "errno EINVAL");
    EXPECT_EQ(OUTCOME(syscall(SYS_move_pages, conformance::kNoSuchPid, 1, pages, nodes, status, 0)), "errno ESRCH");
    EXPECT_EQ(OUTCOME(syscall(SYS_move_pages, 0, 1, pages, nodes, libos_test::unmapped_address(), 0)), "errno EFAULT");
    EXPECT_EQ(OUTCOME(syscall(SYS_move_pages, 0, 1, pages, libos_test::unmapped_address(), status, 0)),
              "errno EFAULT");
    /* The nodes are read after the flags, the pid and the right to it are checked. */
    void* bad_nodes = libos_test::unmapped_address();
    EXPECT_EQ(OUTCOME(syscall(SYS_move_pages, conformance::kNoSuchPid, 1, pages, bad_nodes, status, 0)), "errno ESRCH");
    EXPECT_EQ(OUTCOME(syscall(SYS_move_pages, 0, 1, pages, bad_nodes, status, 0x10)), "errno EINVAL");
    record("unreadable nodes with MPOL_MF_MOVE_ALL",
           OUTCOME(syscall(SYS_move_pages, 0, 1, pages, bad_nodes, status, 4 /* MPOL_MF_MOVE_ALL */)));
    record("unreadable nodes of pid 1", OUTCOME(syscall(SYS_move_pages, 1, 1, pages, bad_nodes, status, 0)));
    if (geteuid() != 0) {
        EXPECT_EQ(OUTCOME(syscall(SYS_move_pages, 0, 1, pages, bad_nodes, status, 4)), "errno EPERM");
    }
    /* A fault after the first chunk's nodes: those pages are moved, then EFAULT. */
    libos_test::GuardedBuffer tail(sizeof(int));
    *static_cast<int*>(tail.data()) = n - 1;
    void* two_pages[2] = {map.base + kPage, map.base};
    EXPECT_EQ(OUTCOME(syscall(SYS_move_pages, 0, 2, two_pages, tail.data(), status, 0)), "errno EFAULT");
    EXPECT_EQ(page_node(map.base + kPage), n - 1);
}

TEST(MigratePages, HostJudgesTheTarget) {
    const int n = numa_machine().nodes;
    std::vector<unsigned long> from = mask_of({0}), to = mask_of({n - 1}), beyond = mask_of({numa_machine().max_nodes});
    EXPECT_EQ(OUTCOME(syscall(SYS_migrate_pages, conformance::kNoSuchPid, maxnode_all(), from.data(), to.data())),
              "errno ESRCH");
    EXPECT_EQ(OUTCOME(syscall(SYS_migrate_pages, 0, maxnode_all() + 64, from.data(), beyond.data())), "errno EINVAL");
    EXPECT_EQ(OUTCOME(syscall(SYS_migrate_pages, 0, maxnode_all(), libos_test::unmapped_address(), to.data())),
              "errno EFAULT");
    long ret = syscall(SYS_migrate_pages, 0, maxnode_all(), from.data(), to.data());
    EXPECT_GE(ret, 0);
    record("migrate own pages 0 -> last", ret >= 0 ? "ok" : outcome(ret, errno));
    if (geteuid() != 0) {
        std::vector<unsigned long> missing = mask_of({n});
        EXPECT_EQ(OUTCOME(syscall(SYS_migrate_pages, 0, maxnode_all(), from.data(), missing.data())), "errno EPERM");
    }
}

TEST(HomeNode, Rules) {
    const int n = numa_machine().nodes;
    Mapping map(2);
    ASSERT_NE(map.base, MAP_FAILED);
    EXPECT_EQ(OUTCOME(syscall(450, map.base + 1, kPage, 0, 0)), "errno EINVAL");
    EXPECT_EQ(OUTCOME(syscall(450, map.base, kPage, 0, 1)), "errno EINVAL");
    EXPECT_EQ(OUTCOME(syscall(450, map.base, kPage, n, 0)), "errno EINVAL");
    record("home node of a range without policy", OUTCOME(syscall(450, map.base, kPage, n - 1, 0)));
    std::vector<unsigned long> all = mask_of({0, n - 1});
    ASSERT_EQ(OUTCOME(syscall(SYS_mbind, map.base, kPage, MPOL_BIND, all.data(), maxnode_all(), 0)), "=0");
    EXPECT_EQ(OUTCOME(syscall(450, map.base, kPage, n - 1, 0)), "=0");
    map.base[0] = 1;
    EXPECT_EQ(page_node(map.base), n - 1);
    ASSERT_EQ(OUTCOME(syscall(SYS_mbind, map.base + kPage, kPage, MPOL_INTERLEAVE, all.data(), maxnode_all(), 0)), "=0");
    EXPECT_EQ(OUTCOME(syscall(450, map.base + kPage, kPage, 0, 0)), "errno EOPNOTSUPP");
}

/* The home node holds inside [start, end) only: the kernel splits the VMA there. On the first vCPU
 * (node 0), a bind {0, last} page outside the home range is placed on node 0. */
TEST(HomeNode, OnlyInsideTheRange) {
    const int n = numa_machine().nodes;
    cpu_set_t saved, first_cpu;
    ASSERT_EQ(sched_getaffinity(0, sizeof(saved), &saved), 0);
    CPU_ZERO(&first_cpu);
    CPU_SET(0, &first_cpu);
    ASSERT_EQ(sched_setaffinity(0, sizeof(first_cpu), &first_cpu), 0);
    Mapping map(4);
    ASSERT_NE(map.base, MAP_FAILED);
    std::vector<unsigned long> all = mask_of({0, n - 1});
    ASSERT_EQ(OUTCOME(syscall(SYS_mbind, map.base, 4 * kPage, MPOL_BIND, all.data(), maxnode_all(), 0)), "=0");
    std::string nodes;
    if (syscall(450, map.base + kPage, kPage, n - 1, 0) == 0) {
        for (int p = 0; p < 4; ++p) {
            map.base[p * kPage] = 1;
            nodes += (p ? " " : "") + std::to_string(page_node(map.base + p * kPage));
        }
        EXPECT_EQ(nodes, "0 " + std::to_string(n - 1) + " 0 0");
    }
    record("pages of a range whose second page has the last node as home", nodes);
    sched_setaffinity(0, sizeof(saved), &saved);
}

/* A page's recorded move ends with the page: unmapped, mapped over, or freed by madvise, the memory
 * there is placed by its policy again. Through libc's wrappers and through syscall(). */
TEST(MovePages, MovesEndWithThePage) {
    const int n = numa_machine().nodes;
    std::vector<unsigned long> first = mask_of({0});
    char* reserve = static_cast<char*>(mmap(nullptr, 8 * kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(reserve, MAP_FAILED);
    auto moved_then = [&](const char* what, auto&& replace) {
        char* page = static_cast<char*>(
            mmap(reserve, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
        page[0] = 1;
        void* pages[1] = {page};
        int node[1] = {n - 1}, status[1] = {-99};
        EXPECT_EQ(OUTCOME(syscall(SYS_move_pages, 0, 1, pages, node, status, 0)), "=0") << what;
        EXPECT_EQ(page_node(page), n - 1) << what;
        replace(page);
        EXPECT_EQ(OUTCOME(syscall(SYS_mbind, page, kPage, MPOL_PREFERRED, first.data(), maxnode_all(), 0)), "=0")
            << what;
        page[0] = 2;
        EXPECT_EQ(page_node(page), 0) << what;
        record(std::string("node of a page preferring 0 after ") + what, std::to_string(page_node(page)));
    };
    moved_then("munmap and MAP_FIXED", [&](char* page) {
        munmap(page, kPage);
        mmap(page, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    });
    moved_then("MAP_FIXED over it", [&](char* page) {
        mmap(page, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    });
    moved_then("syscall munmap and mmap", [&](char* page) {
        syscall(SYS_munmap, page, kPage);
        syscall(SYS_mmap, page, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    });
    /* madvise frees the page; touched again, it is placed by the range's policy (preferred node 0). */
    char* page = static_cast<char*>(
        mmap(reserve, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
    ASSERT_EQ(OUTCOME(syscall(SYS_mbind, page, kPage, MPOL_PREFERRED, first.data(), maxnode_all(), 0)), "=0");
    page[0] = 1;
    void* pages[1] = {page};
    int node[1] = {n - 1}, status[1] = {-99};
    EXPECT_EQ(OUTCOME(syscall(SYS_move_pages, 0, 1, pages, node, status, 0)), "=0");
    EXPECT_EQ(page_node(page), n - 1);
    ASSERT_EQ(madvise(page, kPage, MADV_DONTNEED), 0);
    page[0] = 2;
    EXPECT_EQ(page_node(page), 0);
    record("node of a preferred-0 page after madvise(MADV_DONTNEED)", std::to_string(page_node(page)));
    munmap(reserve, 8 * kPage);
}

/* A range's policy goes with its mapping: mremap moves it, and what is mapped later at the old
 * address has none; a mapping moved onto another's old address brings its own. */
TEST(Mbind, PoliciesFollowTheMapping) {
    const int n = numa_machine().nodes;
    const std::string last = "2/" + std::to_string(n - 1);
    std::vector<unsigned long> last_mask = mask_of({n - 1}), first_mask = mask_of({0});
    char* reserve = static_cast<char*>(mmap(nullptr, 64 * kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(reserve, MAP_FAILED);
    const int rw = PROT_READ | PROT_WRITE, fixed = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    char* a = static_cast<char*>(mmap(reserve, 2 * kPage, rw, fixed, -1, 0));
    char* x = static_cast<char*>(mmap(reserve + 16 * kPage, 2 * kPage, rw, fixed, -1, 0));
    ASSERT_EQ(OUTCOME(syscall(SYS_mbind, a, 2 * kPage, MPOL_BIND, last_mask.data(), maxnode_all(), 0)), "=0");
    ASSERT_EQ(OUTCOME(syscall(SYS_mbind, x, 2 * kPage, MPOL_BIND, first_mask.data(), maxnode_all(), 0)), "=0");
    char* a_moved = static_cast<char*>(mremap(a, 2 * kPage, 2 * kPage, MREMAP_MAYMOVE | MREMAP_FIXED, reserve + 32 * kPage));
    ASSERT_EQ(a_moved, reserve + 32 * kPage);
    EXPECT_EQ(range_policy(a_moved + kPage), last);
    record("policy moved by mremap", range_policy(a_moved));
    /* X onto A's old address: X's policy, not A's. */
    char* x_moved = static_cast<char*>(mremap(x, 2 * kPage, 2 * kPage, MREMAP_MAYMOVE | MREMAP_FIXED, a));
    ASSERT_EQ(x_moved, a);
    EXPECT_EQ(range_policy(a), "2/0");
    record("policy of a mapping moved onto another's old address", range_policy(a));
    /* A new mapping at X's old address: no policy. */
    mmap(x, 2 * kPage, rw, fixed, -1, 0);
    EXPECT_EQ(range_policy(x), "0/(empty)");
    /* Shrunk, then grown again in place: the VMA keeps its policy over the new pages. */
    munmap(reserve + 34 * kPage, 4 * kPage);
    ASSERT_EQ(mremap(a_moved, 2 * kPage, kPage, 0), a_moved);
    ASSERT_EQ(mremap(a_moved, kPage, 4 * kPage, 0), a_moved);
    EXPECT_EQ(range_policy(a_moved + 3 * kPage), last);
    record("policy of pages grown in place", range_policy(a_moved + 3 * kPage));
    /* Through syscall() as well. */
    ASSERT_EQ(syscall(SYS_mremap, a_moved, 4 * kPage, 4 * kPage, MREMAP_MAYMOVE | MREMAP_FIXED, reserve + 48 * kPage),
              reinterpret_cast<long>(reserve + 48 * kPage));
    EXPECT_EQ(range_policy(reserve + 48 * kPage), last);
    mmap(a_moved, 4 * kPage, rw, fixed, -1, 0);
    EXPECT_EQ(range_policy(a_moved), "0/(empty)");
    munmap(reserve, 64 * kPage);
}

/* set_mempolicy is per thread, and fork and pthread_create copy it. */
TEST(Inheritance, ForkAndThreadsKeepThePolicy) {
    DefaultPolicyAfter reset;
    const int n = numa_machine().nodes;
    ASSERT_EQ(OUTCOME(set_policy(MPOL_BIND, {n - 1})), "=0");
    const std::string expected = "2/" + std::to_string(n - 1);
    pid_t child = fork();
    if (child == 0)
        _exit(thread_policy() == expected ? 0 : 1);
    int wstatus = 0;
    waitpid(child, &wstatus, 0);
    EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
    std::string seen;
    pthread_t thread;
    ASSERT_EQ(pthread_create(
                  &thread, nullptr,
                  [](void* out) -> void* {
                      *static_cast<std::string*>(out) = thread_policy();
                      syscall(SYS_set_mempolicy, MPOL_DEFAULT, nullptr, 0); /* this thread's alone */
                      return nullptr;
                  },
                  &seen),
              0);
    pthread_join(thread, nullptr);
    EXPECT_EQ(seen, expected);
    EXPECT_EQ(thread_policy(), expected);
    record("fork and thread inherit", seen == expected ? "yes" : seen);
}

/* A vfork child runs on its parent's thread, in its memory: the policy it sets is its own (its exec
 * takes it along), and the parent's stays as it was. */
TEST(Inheritance, VforkChildKeepsItsOwnPolicy) {
    DefaultPolicyAfter reset;
    const int n = numa_machine().nodes;
    ASSERT_EQ(OUTCOME(set_policy(MPOL_BIND, {0})), "=0");
    std::vector<unsigned long> last = mask_of({n - 1});
    const unsigned long maxnode = maxnode_all();
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t child = vfork();
    if (child == 0) {
        syscall(SYS_set_mempolicy, MPOL_BIND, last.data(), maxnode);
        dup2(fds[1], 1);
        execl("/proc/self/exe", "numa_conformance", kReportPolicy, static_cast<char*>(nullptr));
        _exit(127);
    }
    close(fds[1]);
    std::string child_policy;
    char buf[256];
    for (ssize_t got; (got = read(fds[0], buf, sizeof(buf))) > 0;)
        child_policy.append(buf, static_cast<size_t>(got));
    close(fds[0]);
    int wstatus = 0;
    waitpid(child, &wstatus, 0);
    EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
    EXPECT_EQ(child_policy, "2/" + std::to_string(n - 1));
    EXPECT_EQ(thread_policy(), "2/0");
    record("vfork child's policy after its exec", child_policy);
    record("parent's policy after the vfork child set its own", thread_policy());
}

}  // namespace

/* `numa_conformance --numa-report-policy` prints the thread's policy and exits: the program a vfork
 * child execs above. glibc passes a constructor the program's arguments. */
__attribute__((constructor)) static void report_policy_and_exit(int argc, char** argv) {
    if (argc == 2 && strcmp(argv[1], kReportPolicy) == 0) {
        printf("%s", thread_policy().c_str());
        fflush(stdout);
        _exit(0);
    }
}
