/* The topology conformance suite: every view of the machine's shape, read as a program reads it, must
 * describe one machine, and that machine must be the one asked for.
 *
 * Coherence holds on any machine, natively too: the sets of sysfs's topology directory partition the
 * CPUs, their lists and masks agree, /proc/cpuinfo says what sysfs says, caches nest in cores and
 * packages, nodes partition the CPUs and their links lead both ways. The expected shape comes from
 * the environment, each value optional (unset: only coherence is checked):
 *   LIBOS_EXPECT_CPUS, LIBOS_EXPECT_SOCKETS, LIBOS_EXPECT_CORES (per socket),
 *   LIBOS_EXPECT_THREADS (per core), LIBOS_EXPECT_NODES, LIBOS_EXPECT_NODE_LISTS ("0-7:8-15"). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

const std::string kCpu = "/sys/devices/system/cpu";
const std::string kNode = "/sys/devices/system/node";

int expected(const char* name) {
    const char* v = getenv(name);
    return v && *v ? atoi(v) : 0;
}

bool read_text(const std::string& path, std::string* out) {
    std::ifstream in(path);
    if (!in)
        return false;
    std::stringstream ss;
    ss << in.rdbuf();
    *out = ss.str();
    return true;
}

std::string text(const std::string& path) {
    std::string s;
    EXPECT_TRUE(read_text(path, &s)) << path;
    while (!s.empty() && s.back() == '\n')
        s.pop_back();
    return s;
}

bool exists(const std::string& path) {
    return access(path.c_str(), F_OK) == 0;
}

std::set<int> parse_list(const std::string& list) {
    std::set<int> out;
    std::stringstream ss(list);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (item.empty())
            continue;
        size_t dash = item.find('-');
        int first = std::stoi(item.substr(0, dash));
        int last = dash == std::string::npos ? first : std::stoi(item.substr(dash + 1));
        for (int c = first; c <= last; ++c)
            out.insert(c);
    }
    return out;
}

/* A %*pb mask: 32-bit hex groups, most significant first. */
std::set<int> parse_mask(const std::string& mask) {
    std::set<int> out;
    std::vector<std::string> groups;
    std::stringstream ss(mask);
    std::string g;
    while (std::getline(ss, g, ','))
        groups.push_back(g);
    for (size_t i = 0; i < groups.size(); ++i) {
        unsigned long word = std::stoul(groups[groups.size() - 1 - i], nullptr, 16);
        for (int b = 0; b < 32; ++b)
            if (word >> b & 1)
                out.insert(static_cast<int>(i * 32 + b));
    }
    return out;
}

std::string cpu_dir(int c) {
    return kCpu + "/cpu" + std::to_string(c);
}

/* The CPUs sysfs lists as possible (the views and the host agree on the rule: every one of them has
 * a cpuN directory with a topology). */
std::vector<int> cpus() {
    std::set<int> s = parse_list(text(kCpu + "/possible"));
    return std::vector<int>(s.begin(), s.end());
}

std::vector<std::string> listing(const std::string& dir) {
    std::vector<std::string> names;
    DIR* d = opendir(dir.c_str());
    if (!d)
        return names;
    while (struct dirent* e = readdir(d))
        names.push_back(e->d_name);
    closedir(d);
    return names;
}

/* Sets of a topology file (list and mask) for every CPU: they must partition the CPUs, each CPU in its
 * own set, and the list and the mask must agree. Returns the distinct sets. */
std::set<std::set<int>> partition(const std::string& name) {
    std::set<std::set<int>> sets;
    std::map<int, std::set<int>> of;
    for (int c : cpus()) {
        std::string list_path = cpu_dir(c) + "/topology/" + name + "_list";
        if (!exists(list_path))
            continue;
        std::set<int> s = parse_list(text(list_path));
        EXPECT_EQ(s, parse_mask(text(cpu_dir(c) + "/topology/" + name))) << name << " of cpu" << c;
        EXPECT_TRUE(s.count(c)) << name << "_list of cpu" << c << " leaves it out";
        of[c] = s;
        sets.insert(s);
    }
    for (auto& [c, s] : of)
        for (int other : s) {
            EXPECT_EQ(of[other], s) << name << ": cpu" << c << " and cpu" << other << " disagree";
        }
    return sets;
}

TEST(Topology, EveryCpuHasItsDirectoryAndTheListingShowsExactlyThem) {
    std::vector<int> all = cpus();
    if (int n = expected("LIBOS_EXPECT_CPUS")) {
        EXPECT_EQ(static_cast<int>(all.size()), n);
    }
    EXPECT_EQ(static_cast<long>(all.size()), sysconf(_SC_NPROCESSORS_CONF));
    std::set<int> listed;
    for (const std::string& name : listing(kCpu)) {
        if (name.size() > 3 && name.compare(0, 3, "cpu") == 0 && isdigit(static_cast<unsigned char>(name[3])))
            listed.insert(std::stoi(name.substr(3)));
    }
    EXPECT_EQ(listed, std::set<int>(all.begin(), all.end()));
}

TEST(Topology, SiblingSetsPartitionTheCpusAndNest) {
    auto cores = partition("thread_siblings");
    EXPECT_EQ(cores, partition("core_cpus"));
    auto packages = partition("core_siblings");
    EXPECT_EQ(packages, partition("package_cpus"));
    partition("die_cpus");
    partition("cluster_cpus");
    for (const auto& core : cores) {
        bool inside = false;
        for (const auto& package : packages)
            inside = inside || std::includes(package.begin(), package.end(), core.begin(), core.end());
        EXPECT_TRUE(inside) << "a core spans two packages";
    }
    if (int s = expected("LIBOS_EXPECT_SOCKETS")) {
        EXPECT_EQ(static_cast<int>(packages.size()), s);
    }
    if (int c = expected("LIBOS_EXPECT_CORES")) {
        EXPECT_EQ(cores.size(), packages.size() * c);
    }
    if (int t = expected("LIBOS_EXPECT_THREADS"))
        for (const auto& core : cores) {
            EXPECT_EQ(static_cast<int>(core.size()), t);
        }
    /* smt/active: whether any core has two threads. */
    if (exists(kCpu + "/smt/active")) {
        bool smt = false;
        for (const auto& core : cores)
            smt = smt || core.size() > 1;
        EXPECT_EQ(text(kCpu + "/smt/active"), smt ? "1" : "0");
    }
}

TEST(Topology, IdsNameTheSets) {
    /* Same package id <=> same package set; same (package, core id) <=> same core set. */
    std::map<int, std::set<int>> by_package;
    std::map<std::pair<int, int>, std::set<int>> by_core;
    for (int c : cpus()) {
        int package = std::stoi(text(cpu_dir(c) + "/topology/physical_package_id"));
        int core = std::stoi(text(cpu_dir(c) + "/topology/core_id"));
        by_package[package].insert(c);
        by_core[{package, core}].insert(c);
    }
    for (int c : cpus()) {
        int package = std::stoi(text(cpu_dir(c) + "/topology/physical_package_id"));
        int core = std::stoi(text(cpu_dir(c) + "/topology/core_id"));
        EXPECT_EQ(by_package[package], parse_list(text(cpu_dir(c) + "/topology/package_cpus_list"))) << "cpu" << c;
        EXPECT_EQ((by_core[{package, core}]), parse_list(text(cpu_dir(c) + "/topology/core_cpus_list")))
            << "cpu" << c;
    }
}

/* /proc/cpuinfo's blocks, by processor. */
std::map<int, std::map<std::string, std::string>> cpuinfo() {
    std::map<int, std::map<std::string, std::string>> blocks;
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    std::map<std::string, std::string> block;
    auto flush = [&] {
        if (block.count("processor"))
            blocks[std::stoi(block["processor"])] = block;
        block.clear();
    };
    while (std::getline(in, line)) {
        if (line.empty()) {
            flush();
            continue;
        }
        size_t colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        std::string key = line.substr(0, colon);
        while (!key.empty() && (key.back() == '\t' || key.back() == ' '))
            key.pop_back();
        std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
        block[key] = value;
    }
    flush();
    return blocks;
}

TEST(Topology, CpuinfoSaysWhatSysfsSays) {
    auto blocks = cpuinfo();
    std::vector<int> all = cpus();
    ASSERT_EQ(blocks.size(), all.size());
    if (!blocks.begin()->second.count("physical id"))
        GTEST_SKIP() << "/proc/cpuinfo has no topology fields here";
    std::set<int> apic_ids;
    std::map<std::set<int>, std::set<int>> apic_cores; /* core set -> apic ids >> thread bits */
    for (int c : all) {
        auto& b = blocks[c];
        std::string dir = cpu_dir(c) + "/topology/";
        EXPECT_EQ(b["physical id"], text(dir + "physical_package_id")) << "cpu" << c;
        EXPECT_EQ(b["core id"], text(dir + "core_id")) << "cpu" << c;
        std::set<int> package = parse_list(text(dir + "package_cpus_list"));
        EXPECT_EQ(std::stoi(b["siblings"]), static_cast<int>(package.size())) << "cpu" << c;
        std::set<std::set<int>> cores_in_package;
        for (int u : package)
            cores_in_package.insert(parse_list(text(cpu_dir(u) + "/topology/core_cpus_list")));
        EXPECT_EQ(std::stoi(b["cpu cores"]), static_cast<int>(cores_in_package.size())) << "cpu" << c;
        if (int cores = expected("LIBOS_EXPECT_CORES")) {
            EXPECT_EQ(std::stoi(b["cpu cores"]), cores);
        }
        if (b.count("apicid")) {
            int apic = std::stoi(b["apicid"]);
            EXPECT_EQ(b["apicid"], b["initial apicid"]);
            EXPECT_TRUE(apic_ids.insert(apic).second) << "apicid " << apic << " twice";
            /* The thread field is the lowest bits, as wide as the largest core's threads need. */
            size_t threads = parse_list(text(dir + "core_cpus_list")).size();
            int bits = 0;
            while ((1u << bits) < threads)
                ++bits;
            apic_cores[parse_list(text(dir + "core_cpus_list"))].insert(apic >> bits);
        }
    }
    for (auto& [core, fields] : apic_cores) {
        EXPECT_EQ(fields.size(), 1u) << "the threads of one core have APIC ids of different cores";
    }
}

TEST(Topology, CachesNestInCoresAndPackages) {
    for (int c : cpus()) {
        std::set<int> core = parse_list(text(cpu_dir(c) + "/topology/core_cpus_list"));
        std::set<int> package = parse_list(text(cpu_dir(c) + "/topology/package_cpus_list"));
        for (int i = 0; exists(cpu_dir(c) + "/cache/index" + std::to_string(i)); ++i) {
            std::string dir = cpu_dir(c) + "/cache/index" + std::to_string(i) + "/";
            std::set<int> shared = parse_list(text(dir + "shared_cpu_list"));
            EXPECT_EQ(shared, parse_mask(text(dir + "shared_cpu_map"))) << dir;
            EXPECT_TRUE(std::includes(shared.begin(), shared.end(), core.begin(), core.end()))
                << dir << ": a cache smaller than its core";
            EXPECT_TRUE(std::includes(package.begin(), package.end(), shared.begin(), shared.end()))
                << dir << ": a cache larger than its package";
        }
    }
    /* Ids are unique per level and type: one id, one set. */
    std::map<std::string, std::map<std::string, std::set<int>>> by_id;
    for (int c : cpus()) {
        for (int i = 0; exists(cpu_dir(c) + "/cache/index" + std::to_string(i)); ++i) {
            std::string dir = cpu_dir(c) + "/cache/index" + std::to_string(i) + "/";
            if (!exists(dir + "id"))
                continue;
            std::string kind = text(dir + "level") + text(dir + "type");
            std::set<int> shared = parse_list(text(dir + "shared_cpu_list"));
            auto& seen = by_id[kind][text(dir + "id")];
            if (seen.empty())
                seen = shared;
            EXPECT_EQ(seen, shared) << dir << ": one id for two caches";
        }
    }
}

TEST(Topology, NodesPartitionTheCpusAndLinkBothWays) {
    if (!exists(kNode))
        GTEST_SKIP() << "no " << kNode;
    std::set<int> online = parse_list(text(kNode + "/online"));
    if (int n = expected("LIBOS_EXPECT_NODES")) {
        EXPECT_EQ(static_cast<int>(online.size()), n);
    }
    std::set<int> listed;
    for (const std::string& name : listing(kNode))
        if (name.size() > 4 && name.compare(0, 4, "node") == 0 && isdigit(static_cast<unsigned char>(name[4])))
            listed.insert(std::stoi(name.substr(4)));
    EXPECT_EQ(listed, online);
    /* The process may use every node: Mems_allowed names them. */
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("Mems_allowed_list:", 0) == 0) {
            EXPECT_EQ(parse_list(line.substr(line.find_first_not_of(" \t", 18))), online) << line;
        }
    std::set<int> covered;
    std::vector<std::string> lists;
    for (int node : online) {
        std::string dir = kNode + "/node" + std::to_string(node);
        std::set<int> mine = parse_list(text(dir + "/cpulist"));
        EXPECT_EQ(mine, parse_mask(text(dir + "/cpumap"))) << dir;
        lists.push_back(text(dir + "/cpulist"));
        for (int c : mine) {
            EXPECT_TRUE(covered.insert(c).second) << "cpu" << c << " on two nodes";
            char target[PATH_MAX];
            ssize_t n = readlink((dir + "/cpu" + std::to_string(c)).c_str(), target, sizeof(target) - 1);
            ASSERT_GT(n, 0) << dir << "/cpu" << c;
            target[n] = '\0';
            EXPECT_EQ(std::string(target), "../../cpu/cpu" + std::to_string(c));
            EXPECT_TRUE(exists(cpu_dir(c) + "/node" + std::to_string(node))) << "cpu" << c << " -> node" << node;
            char* real = realpath((cpu_dir(c) + "/node" + std::to_string(node)).c_str(), nullptr);
            ASSERT_NE(real, nullptr);
            EXPECT_EQ(std::string(real), dir);
            free(real);
        }
        /* The distance row: 10 to itself, one entry per node. */
        std::stringstream row(text(dir + "/distance"));
        std::vector<int> distances;
        for (int d; row >> d;)
            distances.push_back(d);
        ASSERT_EQ(distances.size(), online.size()) << dir;
        EXPECT_EQ(distances[std::distance(online.begin(), online.find(node))], 10);
        std::string meminfo = text(dir + "/meminfo");
        EXPECT_EQ(meminfo.rfind("Node " + std::to_string(node) + " MemTotal:", 0), 0u) << meminfo.substr(0, 40);
    }
    std::vector<int> all = cpus();
    EXPECT_EQ(covered, std::set<int>(all.begin(), all.end()));
    if (const char* want = getenv("LIBOS_EXPECT_NODE_LISTS"); want && *want) {
        std::string joined;
        for (size_t i = 0; i < lists.size(); ++i)
            joined += (i ? ":" : "") + lists[i];
        EXPECT_EQ(joined, want);
    }
}

}  // namespace

namespace {

TEST(Topology, GetcpuNamesTheNodeOfTheCpu) {
    if (!exists(kNode + "/online"))
        GTEST_SKIP() << "no " << kNode;
    std::map<int, int> node_of;
    for (int node : parse_list(text(kNode + "/online")))
        for (int c : parse_list(text(kNode + "/node" + std::to_string(node) + "/cpulist")))
            node_of[c] = node;
    cpu_set_t saved;
    ASSERT_EQ(sched_getaffinity(0, sizeof(saved), &saved), 0);
    for (int c : cpus()) {
        if (c >= CPU_SETSIZE || !CPU_ISSET(c, &saved))
            continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(c, &one);
        ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
        unsigned cpu = 0, node = 0;
        ASSERT_EQ(getcpu(&cpu, &node), 0);
        EXPECT_EQ(static_cast<int>(cpu), c);
        EXPECT_EQ(static_cast<int>(node), node_of[c]) << "cpu" << c;
    }
    sched_setaffinity(0, sizeof(saved), &saved);
}

}  // namespace

namespace {

/* The model is built at the first read of a file of the shape. A signal handler that reads one while
 * that build runs (a timer every half millisecond, on a machine whose model takes milliseconds to
 * build) must get its answer, not wait for the build it interrupted. */
volatile sig_atomic_t g_handler_reads = 0;

void read_in_handler(int) {
    int saved = errno;
    int fd = open("/sys/devices/system/cpu/cpu0/topology/core_id", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[32];
        if (read(fd, buf, sizeof(buf)) > 0)
            g_handler_reads = g_handler_reads + 1;
        close(fd);
    }
    errno = saved;
}

TEST(TopologyFirstRead, ASignalHandlerReadsWhileTheModelIsBuilt) {
    if (!getenv("LIBOS_TEST_FIRST_READ"))
        GTEST_SKIP() << "run by topology/first-read-in-a-handler, on a large machine";
    struct sigaction action = {};
    action.sa_handler = read_in_handler;
    action.sa_flags = SA_RESTART;
    struct sigaction old;
    ASSERT_EQ(sigaction(SIGALRM, &action, &old), 0);
    struct itimerval every = {{0, 500}, {0, 500}}, off = {};
    ASSERT_EQ(setitimer(ITIMER_REAL, &every, nullptr), 0);
    std::string first = text(cpu_dir(1) + "/topology/core_id");
    while (g_handler_reads < 3) {
        /* a few more reads from the handler, after the build */
    }
    setitimer(ITIMER_REAL, &off, nullptr);
    sigaction(SIGALRM, &old, nullptr);
    EXPECT_FALSE(first.empty());
    EXPECT_GE(g_handler_reads, 3);
}

}  // namespace
