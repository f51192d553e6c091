/* Conformance of the CPU files: /sys/devices/system/{cpu,node}, /proc/cpuinfo, /proc/stat and the
 * status files, on the machine under test (conformance.h). Natively these are the host kernel's
 * files; on a virtual machine the shim's. Either way they must parse and agree with one another and
 * with sched_getaffinity and sysconf, and reading them must behave as reading a file does. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <thread>

#include "conformance.h"

using conformance::cpu_list;
using conformance::machine;
using conformance::record;
using libos_test::parse_cpu_list;
using libos_test::read_file;

namespace {

const std::string kCpu = "/sys/devices/system/cpu";
const std::string kNode = "/sys/devices/system/node";

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

/* A kernel CPU mask ("ff", "00000001,ffffffff") as a set. */
std::set<int> parse_mask(const std::string& text) {
    std::set<int> cpus;
    std::string hex;
    for (char c : trimmed(text))
        if (c != ',')
            hex += c;
    int bit = 0;
    for (size_t i = hex.size(); i-- > 0;) {
        int v = (hex[i] >= 'a') ? hex[i] - 'a' + 10 : (hex[i] >= 'A') ? hex[i] - 'A' + 10 : hex[i] - '0';
        for (int b = 0; b < 4; ++b, ++bit)
            if (v & (1 << b))
                cpus.insert(bit);
    }
    return cpus;
}

/* The CPUs online, and the last of them: on a virtual machine 0 to n-1; on a host whatever it has,
 * holes included (nothing here assumes CPU 0 online or contiguous numbers). */
const std::set<int>& online_cpus() {
    return machine().online_cpus;
}
int last_online() {
    return online_cpus().empty() ? 0 : *online_cpus().rbegin();
}

std::set<int> my_affinity() {
    alignas(cpu_set_t) unsigned char mask[1024] = {};
    EXPECT_EQ(sched_getaffinity(0, sizeof(mask), reinterpret_cast<cpu_set_t*>(mask)), 0);
    std::set<int> s;
    for (int c = 0; c < 8192; ++c)
        if (mask[c / 8] & (1 << (c % 8)))
            s.insert(c);
    return s;
}

std::set<std::string> listing(const std::string& dir) {
    std::set<std::string> names;
    DIR* d = opendir(dir.c_str());
    EXPECT_NE(d, nullptr) << dir;
    if (!d)
        return names;
    while (struct dirent* e = readdir(d))
        names.insert(e->d_name);
    closedir(d);
    return names;
}

std::set<int> numbered_entries(const std::set<std::string>& names, const std::string& prefix) {
    std::set<int> out;
    for (const auto& n : names) {
        if (n.rfind(prefix, 0) != 0 || n.size() == prefix.size())
            continue;
        bool digits = true;
        for (size_t i = prefix.size(); i < n.size(); ++i)
            digits = digits && isdigit(static_cast<unsigned char>(n[i]));
        if (digits)
            out.insert(std::stoi(n.substr(prefix.size())));
    }
    return out;
}

/* The values of "key\t: value" in /proc/cpuinfo, one per processor block. */
std::vector<std::map<std::string, std::string>> cpuinfo_blocks() {
    std::vector<std::map<std::string, std::string>> blocks;
    std::string text = read_file("/proc/cpuinfo");
    std::map<std::string, std::string> block;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos)
            end = text.size();
        std::string line = text.substr(pos, end - pos);
        pos = end + 1;
        if (line.empty()) {
            if (!block.empty())
                blocks.push_back(block);
            block.clear();
            if (end == text.size())
                break;
            continue;
        }
        size_t colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        std::string key = trimmed(line.substr(0, colon));
        while (!key.empty() && (key.back() == '\t' || key.back() == ' '))
            key.pop_back();
        std::string value = line.substr(colon + 1);
        if (!value.empty() && value[0] == ' ')
            value.erase(0, 1);
        block[key] = value;
    }
    if (!block.empty())
        blocks.push_back(block);
    return blocks;
}

std::string status_value(const std::string& path, const std::string& key) {
    std::string text = read_file(path);
    size_t at = text.find("\n" + key + ":");
    if (at == std::string::npos)
        return "(missing)";
    size_t start = text.find_first_not_of(" \t", at + key.size() + 2);
    return text.substr(start, text.find('\n', start) - start);
}

/* ---- /sys/devices/system/cpu ---------------------------------------------------------------- */

TEST(CpuFiles, OnlinePossiblePresentName0ToNMinus1) {
    const std::pair<const char*, const std::set<int>*> files[] = {
        {"online", &machine().online_cpus}, {"possible", &machine().possible_cpus}, {"present", &machine().present_cpus}};
    for (const auto& [f, want] : files) {
        std::string text = read_file(kCpu + "/" + f);
        EXPECT_EQ(parse_cpu_list(text), *want) << f << ": " << text;
        EXPECT_EQ(text.back(), '\n') << f;
        record(f, trimmed(text));
    }
    /* offline: the possible CPUs that are not online (none on a virtual machine). */
    std::set<int> offline;
    for (int c : machine().possible_cpus)
        if (!online_cpus().count(c))
            offline.insert(c);
    EXPECT_EQ(parse_cpu_list(read_file(kCpu + "/offline")), offline);
    int kernel_max = std::stoi(read_file(kCpu + "/kernel_max"));
    EXPECT_GE(kernel_max + 1, machine().nr_cpu_ids);
    EXPECT_EQ(static_cast<long>(machine().possible_cpus.size()), sysconf(_SC_NPROCESSORS_CONF));
    EXPECT_EQ(static_cast<long>(parse_cpu_list(read_file(kCpu + "/online")).size()), sysconf(_SC_NPROCESSORS_ONLN));
}

TEST(CpuFiles, TheDirectoryListsExactlyTheCpus) {
    SKIP_WITHOUT_SHIM_OR_VIEWS("directory listings, stat, access and chdir of the CPU views are the host's");
    auto names = listing(kCpu);
    EXPECT_EQ(numbered_entries(names, "cpu"), machine().present_cpus);
    EXPECT_TRUE(names.count("online") && names.count("possible") && names.count("kernel_max"));
    /* scandir reads the same listing. */
    struct dirent** list = nullptr;
    int n = scandir(kCpu.c_str(), &list, nullptr, alphasort);
    ASSERT_GE(n, 0);
    std::set<std::string> scanned;
    for (int i = 0; i < n; ++i) {
        scanned.insert(list[i]->d_name);
        free(list[i]);
    }
    free(list);
    EXPECT_EQ(scanned, names);
    struct stat st;
    int last = last_online();
    EXPECT_EQ(stat((kCpu + "/cpu" + std::to_string(last)).c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    errno = 0;
    EXPECT_EQ(stat((kCpu + "/cpu" + std::to_string(machine().configured)).c_str(), &st), -1);
    EXPECT_EQ(errno, ENOENT);
    EXPECT_EQ(access((kCpu + "/cpu" + std::to_string(last) + "/topology/core_id").c_str(), R_OK), 0);
    EXPECT_EQ(open((kCpu + "/cpu" + std::to_string(machine().configured) + "/topology/core_id").c_str(), O_RDONLY), -1);
    EXPECT_EQ(errno, ENOENT);
    record("cpus", cpu_list(numbered_entries(names, "cpu")));
}

TEST(CpuFiles, TopologyIsConsistent) {
    std::map<int, std::set<int>> package_of_set;
    for (int c = 0; c < machine().configured; ++c) {
        std::string base = kCpu + "/cpu" + std::to_string(c) + "/topology/";
        for (const char* name : {"thread_siblings", "core_siblings", "core_cpus", "package_cpus", "die_cpus"}) {
            std::string list = read_file(base + name + "_list");
            std::string mask = read_file(base + name);
            if (list.empty())
                continue; /* not every kernel has every file */
            auto from_list = parse_cpu_list(list);
            EXPECT_TRUE(from_list.count(c)) << base << name << "_list does not name cpu " << c;
            EXPECT_EQ(parse_mask(mask), from_list) << base << name;
            for (int s : from_list)
                EXPECT_LT(s, machine().configured) << base << name << "_list names a CPU that does not exist";
        }
        /* Thread siblings share a core id; package siblings share a package id. */
        std::string core = trimmed(read_file(base + "core_id"));
        std::string package = trimmed(read_file(base + "physical_package_id"));
        for (int s : parse_cpu_list(read_file(base + "thread_siblings_list"))) {
            std::string sbase = kCpu + "/cpu" + std::to_string(s) + "/topology/";
            EXPECT_EQ(trimmed(read_file(sbase + "core_id")), core) << "cpu " << c << " and its sibling " << s;
            EXPECT_EQ(trimmed(read_file(sbase + "physical_package_id")), package);
        }
        std::string shared = read_file(kCpu + "/cpu" + std::to_string(c) + "/cache/index0/shared_cpu_list");
        if (!shared.empty()) {
            EXPECT_TRUE(parse_cpu_list(shared).count(c));
            EXPECT_EQ(parse_mask(read_file(kCpu + "/cpu" + std::to_string(c) + "/cache/index0/shared_cpu_map")),
                      parse_cpu_list(shared));
        }
        if (c < 4)
            record("cpu" + std::to_string(c) + " thread siblings",
                   trimmed(read_file(base + "thread_siblings_list")));
    }
}

/* lscpu's way: a descriptor of the cpu directory, and paths relative to it. */
TEST(CpuFiles, OpenatRelativeToTheCpuDirectory) {
    int dir = open(kCpu.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(dir, 0);
    for (int c : {*online_cpus().begin(), last_online()}) {
        std::string rel = "cpu" + std::to_string(c) + "/topology/thread_siblings_list";
        int fd = openat(dir, rel.c_str(), O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0) << rel;
        char buf[4096] = {};
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        ASSERT_GT(n, 0);
        EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), read_file(kCpu + "/" + rel));
    }
    int online = openat(dir, "online", O_RDONLY);
    ASSERT_GE(online, 0);
    char buf[256] = {};
    ASSERT_GT(read(online, buf, sizeof(buf) - 1), 0);
    EXPECT_EQ(parse_cpu_list(buf), online_cpus());
    close(online);
    /* A directory of one CPU, and a path relative to it. */
    std::string last = "cpu" + std::to_string(last_online());
    int cpu_dir = openat(dir, last.c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(cpu_dir, 0);
    int fd = openat(cpu_dir, "topology/core_siblings_list", O_RDONLY);
    ASSERT_GE(fd, 0);
    memset(buf, 0, sizeof(buf));
    ASSERT_GT(read(fd, buf, sizeof(buf) - 1), 0);
    EXPECT_EQ(std::string(buf), read_file(kCpu + "/" + last + "/topology/core_siblings_list"));
    close(fd);
    close(cpu_dir);
    close(dir);
}

/* The fortified entry points (_FORTIFY_SOURCE builds call them: tar does): O_DIRECTORY alone takes
 * no mode and must not abort. */
extern "C" int __open_2(const char*, int);
extern "C" int __openat_2(int, const char*, int);
TEST(CpuFiles, FortifiedOpensOfDirectoriesAndFiles) {
    int dir = __open_2(kCpu.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(dir, 0);
    int fd = __openat_2(dir, "online", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    char buf[64] = {};
    ASSERT_GT(read(fd, buf, sizeof(buf) - 1), 0);
    EXPECT_EQ(parse_cpu_list(buf), online_cpus());
    close(fd);
    int sub = __openat_2(dir, ("cpu" + std::to_string(last_online())).c_str(), O_RDONLY | O_DIRECTORY);
    EXPECT_GE(sub, 0);
    if (sub >= 0)
        close(sub);
    close(dir);
}

/* Paths relative to the current directory, once it is the cpu directory or one CPU's (a shell's
 * `cd /sys/devices/system/cpu; cat online`), and getcwd there. */
TEST(CpuFiles, RelativeToTheCurrentDirectory) {
    SKIP_WITHOUT_SHIM_OR_VIEWS("directory listings, stat, access and chdir of the CPU views are the host's");
    char saved[4096];
    ASSERT_NE(getcwd(saved, sizeof(saved)), nullptr);
    ASSERT_EQ(chdir(kCpu.c_str()), 0);
    char here[4096];
    EXPECT_STREQ(getcwd(here, sizeof(here)), kCpu.c_str());
    EXPECT_EQ(parse_cpu_list(read_file("online")), online_cpus());
    EXPECT_EQ(numbered_entries(listing("."), "cpu"), machine().present_cpus);
    std::string last = "cpu" + std::to_string(last_online());
    ASSERT_EQ(chdir(last.c_str()), 0);
    EXPECT_EQ(std::string(getcwd(here, sizeof(here))), kCpu + "/" + last);
    EXPECT_EQ(read_file("topology/thread_siblings_list"), read_file(kCpu + "/" + last + "/topology/thread_siblings_list"));
    char* allocated = getcwd(nullptr, 0);
    ASSERT_NE(allocated, nullptr);
    EXPECT_EQ(std::string(allocated), kCpu + "/" + last);
    free(allocated);
    errno = 0;
    EXPECT_EQ(chdir(("../cpu" + std::to_string(machine().configured)).c_str()), -1);
    EXPECT_EQ(errno, ENOENT);
    ASSERT_EQ(chdir(saved), 0);
    EXPECT_STREQ(getcwd(here, sizeof(here)), saved);
    record("cwd", "checked");
}

/* ---- /sys/devices/system/node ----------------------------------------------------------------- */

TEST(CpuFiles, NodesCoverEveryCpuOnce) {
    SKIP_WITHOUT_SHIM_OR_VIEWS("directory listings, stat, access and chdir of the CPU views are the host's");
    if (access(kNode.c_str(), F_OK) != 0)
        GTEST_SKIP() << kNode << " does not exist on this host";
    std::set<int> seen;
    for (int node : numbered_entries(listing(kNode), "node")) {
        std::string base = kNode + "/node" + std::to_string(node);
        auto cpus = parse_cpu_list(read_file(base + "/cpulist"));
        EXPECT_EQ(parse_mask(read_file(base + "/cpumap")), cpus) << base;
        /* A node links its present CPUs; its cpulist names those online. */
        std::set<int> linked_online;
        for (int c : numbered_entries(listing(base), "cpu")) {
            EXPECT_TRUE(machine().present_cpus.count(c)) << base << " links cpu" << c << ", which is not present";
            if (online_cpus().count(c))
                linked_online.insert(c);
        }
        EXPECT_EQ(linked_online, cpus) << base << " lists other cpuN links";
        for (int c : cpus) {
            EXPECT_FALSE(seen.count(c)) << "cpu " << c << " is on two nodes";
            seen.insert(c);
        }
        record("node" + std::to_string(node), cpu_list(cpus));
    }
    EXPECT_EQ(seen, online_cpus());
}

/* ---- /proc ------------------------------------------------------------------------------------ */

TEST(CpuFiles, CpuinfoHasOneConsistentBlockPerCpu) {
    auto blocks = cpuinfo_blocks();
    ASSERT_EQ(blocks.size(), online_cpus().size());
    std::map<std::string, int> per_package;
    std::map<std::string, std::set<std::string>> cores_per_package;
    auto cpu = online_cpus().begin();
    for (size_t i = 0; i < blocks.size(); ++i, ++cpu) {
        EXPECT_EQ(blocks[i]["processor"], std::to_string(*cpu)) << "one block per online CPU, in order";
        if (blocks[i].count("physical id")) {
            per_package[blocks[i]["physical id"]]++;
            cores_per_package[blocks[i]["physical id"]].insert(blocks[i]["core id"]);
        }
    }
    for (auto& b : blocks) {
        if (!b.count("physical id"))
            continue;
        EXPECT_EQ(b["siblings"], std::to_string(per_package[b["physical id"]])) << "processor " << b["processor"];
        EXPECT_EQ(b["cpu cores"], std::to_string(cores_per_package[b["physical id"]].size()));
        /* The sysfs view of the same CPU agrees. */
        std::string base = kCpu + "/cpu" + b["processor"] + "/topology/";
        EXPECT_EQ(trimmed(read_file(base + "core_id")), b["core id"]);
        EXPECT_EQ(trimmed(read_file(base + "physical_package_id")), b["physical id"]);
        EXPECT_EQ(static_cast<int>(parse_cpu_list(read_file(base + "core_siblings_list")).size()),
                  std::stoi(b["siblings"]));
    }
    record("processors", std::to_string(blocks.size()));
}

TEST(CpuFiles, StatHasOneLinePerCpuAndTheTotalsAddUp) {
    std::string text = read_file("/proc/stat");
    std::vector<unsigned long long> total;
    std::vector<unsigned long long> sum;
    std::set<int> cpus;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        std::string line = text.substr(pos, end - pos);
        pos = end + 1;
        if (line.rfind("cpu", 0) != 0)
            continue;
        std::vector<unsigned long long> fields;
        size_t space = line.find(' ');
        std::string name = line.substr(0, space);
        for (size_t p = line.find_first_not_of(' ', space); p != std::string::npos;
             p = line.find_first_not_of(' ', line.find(' ', p)))
            fields.push_back(std::stoull(line.substr(p)));
        if (name == "cpu") {
            total = fields;
        } else {
            cpus.insert(std::stoi(name.substr(3)));
            sum.resize(fields.size());
            for (size_t i = 0; i < fields.size(); ++i)
                sum[i] += fields[i];
        }
    }
    EXPECT_EQ(cpus, parse_cpu_list(read_file(kCpu + "/online")));
    /* The kernel converts the total and each CPU's time to clock ticks separately, so natively they
     * may differ by a tick per CPU; the machine's total is exactly the sum of its lines. */
    ASSERT_EQ(total.size(), sum.size());
    const unsigned long long slack = machine().is_virtual ? 0 : cpus.size();
    /* ...but the kernel's total sums every possible CPU, and the lines only the online ones: on a
     * host with a CPU taken offline the total also holds that CPU's past time. */
    const bool offline_time = !machine().is_virtual && machine().possible_cpus != online_cpus();
    for (size_t i = 0; i < total.size(); ++i)
        if (offline_time)
            EXPECT_GE(total[i] + slack, sum[i]) << "field " << i << ": the cpu line is less than its cpuN lines";
        else
            EXPECT_LE(total[i] > sum[i] ? total[i] - sum[i] : sum[i] - total[i], slack)
                << "field " << i << ": the cpu line is not the sum of the cpuN lines";
    EXPECT_NE(text.find("\nctxt "), std::string::npos);
    record("cpu lines", cpu_list(cpus));
}

TEST(CpuFiles, StatusShowsEachThreadsAffinity) {
    std::set<int> mine = my_affinity();
    EXPECT_EQ(parse_cpu_list(status_value("/proc/self/status", "Cpus_allowed_list")), mine);
    EXPECT_EQ(parse_mask(status_value("/proc/self/status", "Cpus_allowed")), mine);
    EXPECT_EQ(parse_cpu_list(status_value("/proc/thread-self/status", "Cpus_allowed_list")), mine);
    /* Another thread, pinned elsewhere, seen through /proc/self/task/<tid>/status. */
    const int cpu = machine().usable.back();
    std::atomic<pid_t> tid{0};
    std::atomic<bool> done{false};
    std::thread worker([&] {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        if (cpu < CPU_SETSIZE)
            sched_setaffinity(0, sizeof(one), &one);
        tid = gettid();
        while (!done)
            usleep(1000);
    });
    while (!tid)
        usleep(1000);
    std::string task = "/proc/self/task/" + std::to_string(tid.load()) + "/status";
    std::string by_pid = "/proc/" + std::to_string(getpid()) + "/task/" + std::to_string(tid.load()) + "/status";
    EXPECT_EQ(status_value(task, "Cpus_allowed_list"), std::to_string(cpu));
    EXPECT_EQ(status_value(by_pid, "Cpus_allowed_list"), std::to_string(cpu));
    EXPECT_EQ(parse_cpu_list(status_value("/proc/" + std::to_string(getpid()) + "/status", "Cpus_allowed_list")), mine);
    /* Recorded while the worker lives: after join its task directory lingers or not, as the
     * kernel's reaping goes (the hosts suite's one-CPU guest saw both). */
    record("worker", status_value(task, "Cpus_allowed_list"));
    done = true;
    worker.join();
    /* The other lines are the host's. */
    EXPECT_NE(status_value("/proc/self/status", "State"), "(missing)");
    EXPECT_NE(status_value("/proc/self/status", "Mems_allowed_list"), "(missing)");
    record("self", status_value("/proc/self/status", "Cpus_allowed_list"));
}

/* ---- reading them as files ---------------------------------------------------------------- */

/* /proc/cpuinfo without its "cpu MHz" lines, which may change from one read to the next. */
std::string steady(const std::string& text) {
    std::string out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos)
            end = text.size() - 1;
        std::string line = text.substr(pos, end - pos + 1);
        if (line.rfind("cpu MHz", 0) != 0)
            out += line;
        pos = end + 1;
    }
    return out;
}

TEST(CpuFiles, ReadsBehaveAsOnAnyFile) {
    const std::string path = "/proc/cpuinfo";
    std::string whole = read_file(path);
    ASSERT_GT(whole.size(), 100u);
    int fd = open(path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    /* Byte by byte gives the same text. */
    std::string bytes;
    char c;
    while (read(fd, &c, 1) == 1)
        bytes += c;
    EXPECT_EQ(steady(bytes), steady(whole));
    /* lseek and pread. */
    EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
    char head[32] = {};
    EXPECT_EQ(read(fd, head, 9), 9);
    EXPECT_EQ(std::string(head), whole.substr(0, 9));
    char mid[16] = {};
    EXPECT_EQ(pread(fd, mid, 10, 5), 10);
    EXPECT_EQ(std::string(mid), whole.substr(5, 10));
    /* A fork child shares the offset, as with any file. */
    pid_t child = fork();
    if (child == 0) {
        char b[4];
        _exit(read(fd, b, 4) == 4 ? 0 : 1);
    }
    int status;
    waitpid(child, &status, 0);
    EXPECT_EQ(WEXITSTATUS(status), 0);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 13);
    /* Writes fail as on the real read-only descriptor. */
    errno = 0;
    EXPECT_EQ(write(fd, "x", 1), -1);
    EXPECT_EQ(errno, EBADF);
    EXPECT_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    close(fd);
    int cloexec = open((kCpu + "/online").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(cloexec, 0);
    EXPECT_EQ(fcntl(cloexec, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    close(cloexec);
    /* sysfs's read-only files refuse a write open, even for root. */
    errno = 0;
    EXPECT_EQ(open((kCpu + "/online").c_str(), O_WRONLY), -1);
    EXPECT_EQ(errno, EACCES);
    EXPECT_EQ(open((kCpu + "/online").c_str(), O_RDONLY | O_DIRECTORY), -1);
    EXPECT_EQ(errno, ENOTDIR);
    /* fopen reads the same. */
    FILE* f = fopen(path.c_str(), "re");
    ASSERT_NE(f, nullptr);
    std::string via_stdio;
    char line[4096];
    while (fgets(line, sizeof(line), f))
        via_stdio += line;
    fclose(f);
    EXPECT_EQ(steady(via_stdio), steady(whole));
    record("write", "EBADF");
}

/* The Cpus_allowed_list of a status file's text. */
std::string allowed_list(const std::string& status) {
    const std::string key = "\nCpus_allowed_list:";
    size_t at = status.find(key);
    if (at == std::string::npos)
        return "(missing)";
    size_t begin = status.find_first_not_of(" \t", at + key.size());
    return status.substr(begin, status.find('\n', begin) - begin);
}

/* The rest of descriptor fd's file, after what was read of it already. */
std::string rest_of(int fd) {
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        text.append(buf, static_cast<size_t>(n));
    return text;
}

void set_affinity(const std::set<int>& cpus) {
    alignas(cpu_set_t) unsigned char mask[1024] = {};
    for (int c : cpus)
        mask[c / 8] |= static_cast<unsigned char>(1 << (c % 8));
    ASSERT_EQ(sched_setaffinity(0, sizeof(mask), reinterpret_cast<cpu_set_t*>(mask)), 0);
}

/* A status file's content is made at its first read (one record), and an open keeps it while any
 * descriptor of it is open: a dup's, a fork child's. Opening the file again meanwhile gives the new
 * content and leaves the old one alone (the shim reuses a file's memory only once nobody has it
 * open), and so does opening it again once they are all closed. */
TEST(CpuFiles, AnOpenKeepsItsContentWhileAnyoneHasIt) {
    const std::set<int> all = my_affinity();
    if (all.size() < 2)
        GTEST_SKIP() << "needs two CPUs to change the affinity between reads";
    const std::string path = "/proc/self/status";
    const std::set<int> one = {*all.begin()};
    int first = open(path.c_str(), O_RDONLY);
    ASSERT_GE(first, 0);
    char head[8];
    ASSERT_EQ(read(first, head, sizeof(head)), static_cast<ssize_t>(sizeof(head)));
    int copy = dup(first);
    ASSERT_GE(copy, 0);
    close(first);
    /* A child holds another open, read from already, and reads the rest once the parent has opened
     * the file again with another mask. */
    int held = open(path.c_str(), O_RDONLY);
    ASSERT_GE(held, 0);
    ASSERT_EQ(read(held, head, sizeof(head)), static_cast<ssize_t>(sizeof(head)));
    int go[2];
    ASSERT_EQ(pipe(go), 0);
    pid_t child = fork();
    if (child == 0) {
        char c;
        if (read(go[0], &c, 1) != 1)
            _exit(2);
        std::string rest = std::string(head, sizeof(head)) + rest_of(held);
        _exit(parse_cpu_list(allowed_list(rest)) == all ? 0 : 1);
    }
    close(go[0]);
    close(held);
    set_affinity(one);
    for (int round = 0; round < 3; ++round) {
        int again = open(path.c_str(), O_RDONLY);
        ASSERT_GE(again, 0);
        EXPECT_EQ(parse_cpu_list(allowed_list(rest_of(again))), one) << "round " << round;
        close(again);
    }
    ASSERT_EQ(write(go[1], "x", 1), 1);
    close(go[1]);
    int status = 0;
    waitpid(child, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child's open changed under it";
    EXPECT_EQ(parse_cpu_list(allowed_list(std::string(head, sizeof(head)) + rest_of(copy))), all);
    close(copy);
    set_affinity(all);
    EXPECT_EQ(parse_cpu_list(allowed_list(read_file(path))), all);
}

}  // namespace
