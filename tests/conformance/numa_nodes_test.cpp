/* The nodes' counter files, /sys/devices/system/node/nodeN/{numastat,vmstat} (issue 15): on the
 * machine under test they list the host's counters, in the host's order, and the machine's nodes add
 * up to the host's nodes. Natively that is trivially so; on numa/numa-2 and numa/numa-4 the one host
 * node's counters are shared among the virtual nodes; on numa/compare-numa-1 (one virtual node on the
 * one host node) the file is the host's own, which the transcript records. The host's files are read
 * with raw system calls, which no interposer sees. */
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "conformance.h"
#include "raw_syscall.h"

namespace {

using conformance::record;
using libos_test::raw_syscall;

using Counters = std::vector<std::pair<std::string, unsigned long long>>;

Counters parse(const std::string& text) {
    Counters out;
    size_t at = 0;
    while (at < text.size()) {
        size_t end = text.find('\n', at);
        if (end == std::string::npos)
            end = text.size();
        std::string line = text.substr(at, end - at);
        size_t space = line.find(' ');
        EXPECT_NE(space, std::string::npos) << "a counter line without a value: " << line;
        if (space != std::string::npos)
            out.emplace_back(line.substr(0, space), std::stoull(line.substr(space + 1)));
        at = end + 1;
    }
    return out;
}

/* A host file read with the raw instructions, or "" when it is missing. */
std::string host_read(const std::string& path) {
    long fd = raw_syscall(SYS_openat, AT_FDCWD, reinterpret_cast<long>(path.c_str()), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return {};
    std::string out;
    char buf[4096];
    long n;
    while ((n = raw_syscall(SYS_read, fd, reinterpret_cast<long>(buf), sizeof(buf))) > 0)
        out.append(buf, static_cast<size_t>(n));
    raw_syscall(SYS_close, fd);
    return out;
}

/* The machine's nodes (as the program sees them) and the host's (raw). */
std::vector<int> nodes_of(const std::string& possible) {
    std::vector<int> out;
    for (int node : libos_test::parse_cpu_list(possible))
        out.push_back(node);
    return out;
}

/* Each counter summed over the host's nodes. */
std::map<std::string, unsigned long long> host_sums(const char* file) {
    std::map<std::string, unsigned long long> sums;
    for (int h : nodes_of(host_read("/sys/devices/system/node/possible")))
        for (auto& [name, value] : parse(host_read("/sys/devices/system/node/node" + std::to_string(h) + "/" + file)))
            sums[name] += value;
    return sums;
}

/* One reading of every node's `file` between two readings of the host's sums: the counters that held
 * still meanwhile must sum to the host's and (on a one-node host) be shared evenly. Returns what
 * disagreed, empty when nothing did; `exact` counts the counters checked. */
std::string read_counters_once(const char* file, const std::vector<int>& nodes, const Counters& host_order,
                               int& exact) {
    auto before = host_sums(file);
    std::vector<Counters> machine;
    for (int node : nodes) {
        std::string text = libos_test::read_file("/sys/devices/system/node/node" + std::to_string(node) + "/" + file);
        if (text.empty() || text.back() != '\n')
            return "node" + std::to_string(node) + "/" + file + " is empty or does not end in a newline";
        machine.push_back(parse(text));
    }
    auto after = host_sums(file);

    std::string names;
    for (const Counters& c : machine) {
        if (c.size() != host_order.size())
            return std::string(file) + ": " + std::to_string(c.size()) + " counters, the host has " +
                   std::to_string(host_order.size());
        for (size_t i = 0; i < c.size(); ++i)
            if (c[i].first != host_order[i].first)
                return std::string(file) + " line " + std::to_string(i) + ": " + c[i].first + ", the host's is " +
                       host_order[i].first;
    }
    for (auto& [name, value] : host_order)
        names += name + " ";
    record(std::string(file) + " counters", names);

    const bool one_host_node = nodes_of(host_read("/sys/devices/system/node/possible")).size() == 1;
    exact = 0;
    for (size_t i = 0; i < host_order.size(); ++i) {
        const std::string& name = host_order[i].first;
        if (before[name] != after[name])
            continue;
        unsigned long long sum = 0, low = ~0ULL, high = 0;
        for (const Counters& c : machine) {
            sum += c[i].second;
            low = std::min(low, c[i].second);
            high = std::max(high, c[i].second);
        }
        if (sum != before[name])
            return std::string(file) + ": " + name + " over the machine's nodes is " + std::to_string(sum) +
                   ", the host's " + std::to_string(before[name]);
        /* On a one-node host every virtual node shares it, evenly. */
        if (one_host_node && high - low > 1)
            return std::string(file) + ": " + name + " is not shared evenly (" + std::to_string(low) + " to " +
                   std::to_string(high) + ")";
        ++exact;
    }
    return exact > 0 ? "" : std::string(file) + ": no counter held still long enough to be checked";
}

void check_counters(const char* file) {
    const std::vector<int> nodes = nodes_of(libos_test::read_file("/sys/devices/system/node/possible"));
    ASSERT_FALSE(nodes.empty());
    const std::string host0 = host_read("/sys/devices/system/node/node0/" + std::string(file));
    if (host0.empty())
        GTEST_SKIP() << "the host has no node0/" << file;
    const Counters host_order = parse(host0);

    /* The counters move while the files are read. A counter is checked exactly only where the host's
     * sum was the same before and after, but a gauge (nr_free_pages) can move and come back between
     * the two host readings, so a disagreement is read again, up to 5 times: a wrong sum or split
     * disagrees every time. */
    std::string failures;
    for (int attempt = 0; attempt < 5; ++attempt) {
        int exact = 0;
        std::string failure = read_counters_once(file, nodes, host_order, exact);
        if (failure.empty())
            return;
        failures += "\n  " + failure;
    }
    ADD_FAILURE() << file << ": 5 readings disagreed with the host:" << failures;
}

TEST(NodeFiles, NumastatIsTheHostsShared) {
    check_counters("numastat");
}

TEST(NodeFiles, VmstatIsTheHostsShared) {
    check_counters("vmstat");
}

/* A node that is one host node of its own reads the host's own file (byte for byte, whatever its
 * counters do meanwhile): the descriptor is the host file's inode. */
TEST(NodeFiles, OneNodePerHostNodeIsTheHostsFile) {
    const std::vector<int> nodes = nodes_of(libos_test::read_file("/sys/devices/system/node/possible"));
    const size_t host_nodes = nodes_of(host_read("/sys/devices/system/node/possible")).size();
    for (const char* file : {"numastat", "vmstat"}) {
        std::string path = "/sys/devices/system/node/node0/" + std::string(file);
        int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0) << path;
        struct stat mine{}, host{};
        ASSERT_EQ(raw_syscall(SYS_fstat, fd, reinterpret_cast<long>(&mine)), 0);
        ASSERT_EQ(raw_syscall(SYS_newfstatat, AT_FDCWD, reinterpret_cast<long>(path.c_str()),
                              reinterpret_cast<long>(&host), 0),
                  0);
        close(fd);
        const bool own = mine.st_dev == host.st_dev && mine.st_ino == host.st_ino;
        if (nodes.size() == host_nodes)
            EXPECT_TRUE(own) << path << " is generated on a machine whose nodes are the host's";
        else
            EXPECT_FALSE(own) << path << " is the host's on a machine of " << nodes.size() << " nodes";
        record(std::string(file) + " is the host file", own ? "yes" : "no");
    }
}

/* Every node's counter files and meminfo read on a thread of a 16 KiB stack (a size the views' paths
 * are made for): classifying their paths and writing their shares take little of it. */
TEST(NodeFiles, CountersReadOnASmallStack) {
    if (getenv("LIBOS_TEST_SANITIZERS"))
        GTEST_SKIP() << "a sanitizer build: the sanitizers' own frames outgrow a 16 KiB stack";
    struct Job {
        std::vector<std::string> paths;
        std::vector<int> errors;
    } job;
    for (int node : nodes_of(libos_test::read_file("/sys/devices/system/node/possible")))
        for (const char* file : {"numastat", "vmstat", "meminfo"}) {
            job.paths.push_back("/sys/devices/system/node/node" + std::to_string(node) + "/" + file);
            /* Read once here first: the first call's own one-time set-up is not what is measured. */
            EXPECT_FALSE(libos_test::read_file(job.paths.back()).empty()) << job.paths.back();
        }
    job.errors.assign(job.paths.size(), -1);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    const long least = sysconf(_SC_THREAD_STACK_MIN);
    ASSERT_EQ(pthread_attr_setstacksize(&attr, least > 16384 ? static_cast<size_t>(least) : 16384), 0);
    auto body = [](void* arg) -> void* {
        auto* j = static_cast<Job*>(arg);
        for (size_t i = 0; i < j->paths.size(); ++i) {
            char buf[256];
            int fd = open(j->paths[i].c_str(), O_RDONLY | O_CLOEXEC);
            j->errors[i] = fd < 0 ? errno : read(fd, buf, sizeof(buf)) > 0 ? 0 : errno;
            if (fd >= 0)
                close(fd);
        }
        return nullptr;
    };
    pthread_t thread;
    ASSERT_EQ(pthread_create(&thread, &attr, body, &job), 0);
    pthread_join(thread, nullptr);
    pthread_attr_destroy(&attr);
    for (size_t i = 0; i < job.paths.size(); ++i)
        EXPECT_EQ(job.errors[i], 0) << job.paths[i];
}

}  // namespace
