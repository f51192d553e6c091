/* Conformance of the CPU files as files: how their paths resolve, how an open's flags are judged, what
 * a descriptor of one says about itself, and which descriptor number an open takes. Natively these
 * are the kernel's answers; on a virtual machine the shim must give the same ones (conformance/compare
 * checks the recorded outcomes line by line, and each expectation here holds on any Linux). */
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "conformance.h"
#include "raw_syscall.h"

using conformance::machine;
using conformance::record;

namespace {

const std::string kCpu = "/sys/devices/system/cpu";
const std::string kNode = "/sys/devices/system/node";

/* "ok" or the errno's name, for the three ways a path is asked about. */
std::string name_of(int err) {
    switch (err) {
        case 0: return "ok";
        case ENOENT: return "ENOENT";
        case ENOTDIR: return "ENOTDIR";
        case ELOOP: return "ELOOP";
        case EEXIST: return "EEXIST";
        case EINVAL: return "EINVAL";
        case EACCES: return "EACCES";
        case EISDIR: return "EISDIR";
        case ENODEV: return "ENODEV";
        default: return "errno " + std::to_string(err);
    }
}

std::string open_outcome(const std::string& path, int flags) {
    errno = 0;
    int fd = open(path.c_str(), flags, 0644);
    int err = fd < 0 ? errno : 0;
    if (fd >= 0)
        close(fd);
    return name_of(err);
}

std::string stat_outcome(const std::string& path) {
    struct stat st;
    errno = 0;
    return name_of(stat(path.c_str(), &st) == 0 ? 0 : errno);
}

std::string access_outcome(const std::string& path) {
    errno = 0;
    return name_of(access(path.c_str(), R_OK) == 0 ? 0 : errno);
}

/* The node that vCPU 0 is on (its nodeN link), or -1. */
int node_of_cpu0() {
    for (int n = 0; n < 64; ++n)
        if (access((kNode + "/node" + std::to_string(n) + "/cpu0").c_str(), F_OK) == 0)
            return n;
    return -1;
}

/* A pid no process has. */
pid_t unused_pid() {
    for (pid_t p = 4194000; p > 1000; --p)
        if (kill(p, 0) != 0 && errno == ESRCH)
            return p;
    return 0;
}

struct Case {
    std::string path;
    const char* expected; /* open, stat and access all give it */
};

TEST(CpuPaths, ResolveAsTheKernelResolvesThem) {
    const std::string n = std::to_string(machine().configured);
    std::vector<Case> cases = {
        {kCpu + "/online", "ok"},
        {kCpu + "//online", "ok"},
        {kCpu + "/./online", "ok"},
        {kCpu + "/cpu0/../online", "ok"},
        {kCpu + "/online/", "ENOTDIR"},
        {kCpu + "/online/.", "ENOTDIR"},
        {kCpu + "/online/..", "ENOTDIR"},
        {kCpu + "/online/x", "ENOTDIR"},
        {kCpu + "/nonexistent/../online", "ENOENT"},
        {kCpu + "/cpu" + n, "ENOENT"},
        {kCpu + "/cpu" + n + "/online", "ENOENT"},
        {kCpu + "/cpu0/topology/nonexistent_list", "ENOENT"},
        {kCpu + "/cpu0/cache/index99/size", "ENOENT"},
        {kCpu + "/cpu0/topology/core_id/", "ENOTDIR"},
        {"/proc/cpuinfo/", "ENOTDIR"},
        {"/proc/stat/.", "ENOTDIR"},
        {"/proc/self/status/", "ENOTDIR"},
        {"/proc/" + std::to_string(unused_pid()) + "/status", "ENOENT"},
        {"/proc/self/task/" + std::to_string(getpid()) + "/status", "ok"},
        {"/proc/self/root" + kCpu + "/online", "ok"},
        {kNode + "/node999/cpulist", "ENOENT"},
    };
    if (int node = node_of_cpu0(); node >= 0) {
        const std::string link = kNode + "/node" + std::to_string(node) + "/cpu0";
        cases.push_back({link + "/../online", "ok"}); /* ".." after a link: the link's target's parent */
        cases.push_back({link + "/topology/core_id", "ok"});
        cases.push_back({kNode + "/node" + std::to_string(node) + "/cpu" + n, "ENOENT"});
    }
    for (const Case& c : cases) {
        EXPECT_EQ(open_outcome(c.path, O_RDONLY), c.expected) << "open " << c.path;
        EXPECT_EQ(stat_outcome(c.path), c.expected) << "stat " << c.path;
        EXPECT_EQ(access_outcome(c.path), c.expected) << "access " << c.path;
        /* The transcript names no pid: it is compared between runs. */
        record(c.path.find("/task/") == std::string::npos ? c.path : "/proc/self/task/PID/status", c.expected);
    }
    /* Through a link, the content is the target's. */
    if (int node = node_of_cpu0(); node >= 0)
        EXPECT_EQ(libos_test::read_file(kNode + "/node" + std::to_string(node) + "/cpu0/../online"),
                  libos_test::read_file(kCpu + "/online"));
}

TEST(CpuPaths, TheRealFileJudgesTheOpen) {
    const std::string online = kCpu + "/online";
    struct FlagCase {
        const char* name;
        int flags;
        const char* expected;
    };
    const FlagCase cases[] = {
        {"O_CREAT", O_CREAT | O_RDONLY, "ok"},
        {"O_CREAT|O_EXCL", O_CREAT | O_EXCL | O_RDONLY, "EEXIST"},
        {"O_DIRECT", O_DIRECT | O_RDONLY, "EINVAL"},
        {"O_TMPFILE", O_TMPFILE | O_RDWR, "ENOTDIR"},
        {"O_DIRECTORY", O_DIRECTORY | O_RDONLY, "ENOTDIR"},
        {"O_NOFOLLOW", O_NOFOLLOW | O_RDONLY, "ok"},
        {"O_PATH", O_PATH, "ok"},
        {"O_WRONLY", O_WRONLY, "EACCES"},
    };
    for (const FlagCase& c : cases) {
        EXPECT_EQ(open_outcome(online, c.flags), c.expected) << c.name;
        record(std::string("online ") + c.name, c.expected);
    }
    EXPECT_EQ(open_outcome("/proc/cpuinfo", O_CREAT | O_EXCL | O_RDONLY), "EEXIST");
    EXPECT_EQ(open_outcome(kCpu + "/cpu" + std::to_string(machine().configured), O_CREAT | O_RDONLY), "EACCES");
    EXPECT_EQ(open_outcome(kCpu + "/newfile/", O_CREAT | O_RDONLY), "EISDIR");
    if (int node = node_of_cpu0(); node >= 0) {
        const std::string link = kNode + "/node" + std::to_string(node) + "/cpu0";
        EXPECT_EQ(open_outcome(link, O_NOFOLLOW | O_RDONLY), "ELOOP");
        EXPECT_EQ(open_outcome(link, O_CREAT | O_EXCL | O_RDONLY), "EEXIST");
        struct stat st;
        ASSERT_EQ(lstat(link.c_str(), &st), 0);
        EXPECT_TRUE(S_ISLNK(st.st_mode));
        char target[64] = {};
        ASSERT_GT(readlink(link.c_str(), target, sizeof(target) - 1), 0);
        EXPECT_EQ(std::string(target), "../../cpu/cpu0");
        errno = 0;
        EXPECT_EQ(readlink(online.c_str(), target, sizeof(target)), -1);
        EXPECT_EQ(errno, EINVAL);
    }
}

TEST(CpuPaths, OPathNoFollowOpensALink) {
    SKIP_WITHOUT_SHIM("an O_PATH descriptor of a link the host names differently cannot be handed over");
    int node = node_of_cpu0();
    if (node < 0)
        GTEST_SKIP() << "vCPU 0 has no node link";
    const std::string link = kNode + "/node" + std::to_string(node) + "/cpu0";
    int fd = open(link.c_str(), O_PATH | O_NOFOLLOW);
    ASSERT_GE(fd, 0) << link;
    struct stat st;
    ASSERT_EQ(fstatat(fd, "", &st, AT_EMPTY_PATH), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode));
    close(fd);
    record(link, "O_PATH|O_NOFOLLOW: the link");
}

TEST(CpuPaths, ADescriptorSaysWhatTheRealFileSays) {
    SKIP_WITHOUT_SHIM("fstat, fstatfs, readlink, mmap and lseek of a generated file's descriptor are the memfd's");
    struct FileCase {
        std::string path;
        std::string canonical; /* what /proc/self/fd/N names */
        long f_type;
        long seek_end; /* lseek(0, SEEK_END): the size, or -EINVAL; kHostSize: the host's st_size */
        int mmap_errno;
    };
    /* A sysfs file's end is its size as the kernel declares it: 4096 for an ordinary attribute, but
     * the topology lists are binary attributes on Linux 6.0 and later, sized for the kernel's
     * NR_CPUS (28672 on Debian's 6.1, tests/hosts). The real file, asked with the instruction
     * itself, says which. */
    constexpr long kHostSize = LONG_MIN;
    const std::string pid = std::to_string(getpid());
    const FileCase cases[] = {
        {kCpu + "/online", kCpu + "/online", SYSFS_MAGIC, kHostSize, ENODEV},
        {kCpu + "/cpu0/topology/thread_siblings_list", kCpu + "/cpu0/topology/thread_siblings_list", SYSFS_MAGIC,
         kHostSize, ENODEV},
        {"/proc/cpuinfo", "/proc/cpuinfo", PROC_SUPER_MAGIC, -EINVAL, EIO},
        {"/proc/self/status", "/proc/" + pid + "/status", PROC_SUPER_MAGIC, -EINVAL, ENODEV},
    };
    for (const FileCase& c : cases) {
        int fd = open(c.path.c_str(), O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0) << c.path;
        struct stat by_fd, by_path;
        ASSERT_EQ(fstat(fd, &by_fd), 0);
        ASSERT_EQ(stat(c.path.c_str(), &by_path), 0);
        EXPECT_EQ(by_fd.st_mode, by_path.st_mode) << c.path;
        EXPECT_EQ(by_fd.st_nlink, by_path.st_nlink) << c.path;
        EXPECT_EQ(by_fd.st_size, by_path.st_size) << c.path;
        EXPECT_EQ(by_fd.st_ino, by_path.st_ino) << c.path;
        EXPECT_EQ(by_fd.st_dev, by_path.st_dev) << c.path;
        EXPECT_EQ(by_fd.st_mode & 07777, 0444u) << c.path;
        struct stat empty_path;
        ASSERT_EQ(fstatat(fd, "", &empty_path, AT_EMPTY_PATH), 0);
        EXPECT_EQ(empty_path.st_ino, by_path.st_ino) << c.path;
        struct statfs sf;
        ASSERT_EQ(fstatfs(fd, &sf), 0);
        EXPECT_EQ(static_cast<long>(sf.f_type), c.f_type) << c.path;
        char link[PATH_MAX] = {};
        std::string self_fd = "/proc/self/fd/" + std::to_string(fd);
        ASSERT_GT(readlink(self_fd.c_str(), link, sizeof(link) - 1), 0);
        EXPECT_EQ(std::string(link), c.canonical);
        errno = 0;
        EXPECT_EQ(mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE, fd, 0), MAP_FAILED) << c.path;
        EXPECT_EQ(errno, c.mmap_errno) << c.path;
        errno = 0;
        off_t end = lseek(fd, 0, SEEK_END);
        long want_end = c.seek_end;
        if (want_end == kHostSize) {
            struct stat host;
            /* Under strict mode's views the path names the launch's generated tree: the real file is
             * the host's, reached through the descriptor of the host's /sys/devices/system that the
             * launcher passes (LIBOS_HOST_SYSTEM_FD). */
            const char* host_dir = getenv("LIBOS_HOST_SYSTEM_FD");
            const std::string system = "/sys/devices/system/";
            const bool through_host = machine().views && host_dir && c.path.rfind(system, 0) == 0;
            ASSERT_EQ(through_host ? libos_test::raw_syscall(SYS_newfstatat, atol(host_dir),
                                                             reinterpret_cast<long>(c.path.c_str() + system.size()),
                                                             reinterpret_cast<long>(&host), 0)
#ifdef SYS_stat
                                   : libos_test::raw_syscall(SYS_stat, reinterpret_cast<long>(c.path.c_str()),
                                                             reinterpret_cast<long>(&host)),
#else /* arm64: fstatat alone */
                                   : libos_test::raw_syscall(SYS_newfstatat, AT_FDCWD,
                                                             reinterpret_cast<long>(c.path.c_str()),
                                                             reinterpret_cast<long>(&host), 0),
#endif
                      0)
                << c.path;
            want_end = host.st_size;
        }
        EXPECT_EQ(end < 0 ? -errno : end, want_end) << c.path;
        EXPECT_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND), O_RDONLY);
        close(fd);
        record(c.path, c.canonical == c.path ? "itself" : "by its pid");
    }
}

TEST(CpuPaths, AnOpenTakesTheLowestFreeDescriptor) {
    const std::string paths[] = {kCpu + "/online", "/proc/self/status", "/proc/stat", "/proc/cpuinfo",
                                 kCpu + "/cpu0/topology/core_id", kCpu + "/cpu0"};
    int saved = dup(0);
    ASSERT_GE(saved, 0);
    for (const std::string& path : paths) {
        close(0);
        int fd = open(path.c_str(), O_RDONLY);
        EXPECT_EQ(fd, 0) << path;
        if (fd >= 0)
            close(fd);
        /* And past a descriptor in use: the next free one. */
        int a = open("/dev/null", O_RDONLY);
        ASSERT_EQ(a, 0);
        int next = fcntl(0, F_DUPFD, 0);
        close(next);
        int b = open(path.c_str(), O_RDONLY);
        EXPECT_EQ(b, next) << path;
        if (b >= 0)
            close(b);
        close(a);
        record(path, "lowest");
    }
    dup2(saved, 0);
    close(saved);
}

/* "a" "/b" repeated: a path as long as the caller likes that names what "a" names. */
std::string repeated(const std::string& head, const std::string& step, size_t times, const std::string& tail) {
    std::string out = head;
    for (size_t i = 0; i < times; ++i)
        out += step;
    return out + tail;
}

struct LongCase {
    std::string path;
    std::string same_as; /* the short path it names ("" when it must fail) */
    const char* expected;
};

std::vector<LongCase> long_cases() {
    const std::string last = "/cpu" + std::to_string(machine().configured - 1);
    return {
        /* Up to the kernel's PATH_MAX (4096 with the NUL), any spelling reaches the file. */
        {repeated(kCpu, "/.", 300, last + "/topology/core_id"), kCpu + last + "/topology/core_id", "ok"},
        {repeated(kCpu, "/cpu0/..", 200, last + "/topology/core_id"), kCpu + last + "/topology/core_id", "ok"},
        {repeated(kCpu + "/cpu0/topology", "/../../cpu0/topology", 150, "/../.." + last + "/topology/thread_siblings_list"),
         kCpu + last + "/topology/thread_siblings_list", "ok"},
        {repeated(kCpu, "//", 1000, "online"), kCpu + "/online", "ok"},
        {repeated(kCpu, "/.", 2030, last), kCpu + last, "ok"},
        /* A missing vCPU is missing however it is spelt; 4096 bytes and more is ENAMETOOLONG. */
        {repeated(kCpu, "/.", 300, "/cpu" + std::to_string(machine().configured) + "/online"), "", "ENOENT"},
        {repeated(kCpu, "/.", 2046, "/online"), "", "errno 36"},
    };
}

void check_long_paths() {
    for (const LongCase& c : long_cases()) {
        const std::string shown = std::to_string(c.path.size()) + " bytes ending " + c.path.substr(c.path.size() - 40);
        EXPECT_EQ(open_outcome(c.path, O_RDONLY), c.expected) << "open " << shown;
        EXPECT_EQ(stat_outcome(c.path), c.expected) << "stat " << shown;
        EXPECT_EQ(access_outcome(c.path), c.expected) << "access " << shown;
        if (!c.same_as.empty()) {
            struct stat mine{}, theirs{};
            ASSERT_EQ(stat(c.path.c_str(), &mine), 0) << shown;
            ASSERT_EQ(stat(c.same_as.c_str(), &theirs), 0) << c.same_as;
            EXPECT_EQ(mine.st_ino, theirs.st_ino) << shown;
            if (S_ISREG(mine.st_mode)) {
                EXPECT_EQ(libos_test::read_file(c.path), libos_test::read_file(c.same_as)) << shown;
            }
        }
    }
}

TEST(CpuPaths, LongPathsReachTheViews) {
    check_long_paths();
    for (const LongCase& c : long_cases())
        record(std::to_string(c.path.size()) + " bytes naming " + (c.same_as.empty() ? "nothing" : "a file"),
               c.expected);
    /* Relative to a current directory in the views, and through syscall() as well as libc. */
    char saved[4096];
    ASSERT_NE(getcwd(saved, sizeof(saved)), nullptr);
    ASSERT_EQ(chdir(kCpu.c_str()), 0);
    const std::string last = "cpu" + std::to_string(machine().configured - 1);
    const std::string relative = repeated(".", "/.", 300, "/" + last + "/topology/core_id");
    EXPECT_EQ(open_outcome(relative, O_RDONLY), "ok") << relative.size() << " bytes, relative";
    struct stat st;
    EXPECT_EQ(syscall(SYS_newfstatat, AT_FDCWD, relative.c_str(), &st, 0), 0) << "syscall() of a long relative path";
    ASSERT_EQ(chdir(saved), 0);
}

/* A directory's link count is 2 and one per subdirectory, as the kernel counts them: the listings
 * of the CPU and node roots and /dev/cpu hold the machine's directories, and their stat, fstat and
 * statx say as many. Recorded: equal natively and on a machine equal to the host. */
TEST(CpuPaths, RootsCountTheirSubdirectories) {
    for (const std::string dir : {kCpu, kNode, std::string("/dev/cpu")}) {
        DIR* d = opendir(dir.c_str());
        if (!d) {
            ASSERT_EQ(errno, ENOENT) << dir;
            continue; /* no /dev/cpu without the cpuid module */
        }
        nlink_t subdirs = 0;
        while (struct dirent* e = readdir(d))
            subdirs += e->d_type == DT_DIR && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
        struct stat by_fd{}, by_path{}, by_lstat{};
        ASSERT_EQ(fstat(dirfd(d), &by_fd), 0) << dir;
        closedir(d);
        ASSERT_EQ(stat(dir.c_str(), &by_path), 0) << dir;
        ASSERT_EQ(lstat(dir.c_str(), &by_lstat), 0) << dir;
        struct statx by_statx{};
        ASSERT_EQ(statx(AT_FDCWD, dir.c_str(), 0, STATX_NLINK, &by_statx), 0) << dir;
        EXPECT_EQ(by_path.st_nlink, 2 + subdirs) << dir;
        EXPECT_EQ(by_lstat.st_nlink, 2 + subdirs) << dir;
        EXPECT_EQ(by_fd.st_nlink, 2 + subdirs) << dir;
        EXPECT_EQ(by_statx.stx_nlink, 2 + subdirs) << dir;
        record(dir + " links", by_path.st_nlink == 2 + subdirs ? "2 + subdirectories" : "other");
    }
}

/* Every descriptor of a CPU's directory, link or device, and every copy of one, is that file as the
 * path names it: fstat gives the path's inode (and a device's number), and names resolve from the
 * directory itself. On a machine whose vCPUs share host CPUs, several of those descriptors are one
 * host file: all of them are opened before any is examined, so a copy cannot pass for the latest. */
TEST(CpuPaths, EveryDescriptorIsTheFileItsPathNames) {
    SKIP_WITHOUT_SHIM("fstat of a descriptor makes no call strict mode traps");
    std::vector<int> cpus;
    for (int cpu : machine().present_cpus)
        if (cpus.size() < 16 || cpu == *machine().present_cpus.rbegin())
            cpus.push_back(cpu);
    struct Opened {
        std::string path;
        int fd;
        struct stat by_path;
    };
    std::vector<Opened> opened;
    auto open_one = [&](const std::string& path, int flags) {
        struct stat st;
        if (lstat(path.c_str(), &st) != 0)
            return;
        int fd = open(path.c_str(), flags);
        ASSERT_GE(fd, 0) << path;
        opened.push_back({path, fd, st});
    };
    for (int cpu : cpus) {
        const std::string dir = kCpu + "/cpu" + std::to_string(cpu);
        open_one(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR* d = opendir(dir.c_str());
        ASSERT_NE(d, nullptr) << dir;
        while (struct dirent* e = readdir(d))
            if (strncmp(e->d_name, "node", 4) == 0)
                open_one(dir + "/" + e->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        closedir(d);
        /* The cpuid device, where its module is loaded and it may be opened. */
        const std::string cpuid = "/dev/cpu/" + std::to_string(cpu) + "/cpuid";
        if (access(cpuid.c_str(), R_OK) == 0)
            open_one(cpuid, O_RDONLY | O_CLOEXEC);
    }
    for (const Opened& o : opened) {
        int copy = fcntl(o.fd, F_DUPFD_CLOEXEC, 0);
        ASSERT_GE(copy, 0) << o.path;
        for (int fd : {o.fd, copy}) {
            struct stat st;
            ASSERT_EQ(fstat(fd, &st), 0) << o.path;
            EXPECT_EQ(st.st_ino, o.by_path.st_ino) << o.path << (fd == copy ? " (a copy)" : "");
            EXPECT_EQ(st.st_rdev, o.by_path.st_rdev) << o.path << (fd == copy ? " (a copy)" : "");
            struct statx stx;
            ASSERT_EQ(statx(fd, "", AT_EMPTY_PATH, STATX_INO, &stx), 0) << o.path;
            EXPECT_EQ(stx.stx_ino, o.by_path.st_ino) << o.path << (fd == copy ? " (a copy)" : "");
        }
        if (S_ISDIR(o.by_path.st_mode)) {
            /* A name below the copy is the directory's own: its core id is the one its path reads. */
            char by_path[64] = {}, by_copy[64] = {};
            int a = open((o.path + "/topology/core_id").c_str(), O_RDONLY | O_CLOEXEC);
            int b = openat(copy, "topology/core_id", O_RDONLY | O_CLOEXEC);
            ASSERT_GE(a, 0) << o.path;
            ASSERT_GE(b, 0) << o.path;
            EXPECT_GT(read(a, by_path, sizeof(by_path) - 1), 0);
            EXPECT_GT(read(b, by_copy, sizeof(by_copy) - 1), 0);
            EXPECT_STREQ(by_copy, by_path) << o.path;
            struct stat below_path, below_copy;
            ASSERT_EQ(fstatat(copy, "topology", &below_copy, 0), 0) << o.path;
            ASSERT_EQ(stat((o.path + "/topology").c_str(), &below_path), 0) << o.path;
            EXPECT_EQ(below_copy.st_ino, below_path.st_ino) << o.path;
            close(a);
            close(b);
        }
        close(copy);
    }
    for (const Opened& o : opened)
        close(o.fd);
    record("descriptors of CPU directories, links and devices, and their copies", "the path's inode");
}

/* A short path that a link's target makes longer than 1 KiB: "/proc/self/cwd/../.." from a deep
 * current directory, padded to just under 1 KiB, still reaches the view. */
TEST(CpuPaths, ALinkMayLengthenAPath) {
    char base[] = "/tmp/libos-longcwd-XXXXXX";
    ASSERT_NE(mkdtemp(base), nullptr);
    std::vector<std::string> made;
    std::string dir = base;
    while (dir.size() < 400) {
        dir += "/" + std::string(40, 'd');
        ASSERT_EQ(mkdir(dir.c_str(), 0700), 0) << dir;
        made.push_back(dir);
    }
    char saved[4096];
    ASSERT_NE(getcwd(saved, sizeof(saved)), nullptr);
    ASSERT_EQ(chdir(dir.c_str()), 0);
    const size_t depth = static_cast<size_t>(std::count(dir.begin(), dir.end(), '/'));
    const std::string last = "/cpu" + std::to_string(machine().configured - 1) + "/topology/core_id";
    std::string path = repeated("/proc/self/cwd", "/..", depth, kCpu);
    path = repeated(path, "/.", (1000 - path.size() - last.size()) / 2, last);
    EXPECT_EQ(stat_outcome(path), "ok") << path.size() << " bytes from " << dir.size() << " bytes of directory";
    EXPECT_EQ(open_outcome(path, O_RDONLY), "ok") << path.size() << " bytes";
    ASSERT_EQ(chdir(saved), 0);
    for (auto d = made.rbegin(); d != made.rend(); ++d)
        rmdir(d->c_str());
    rmdir(base);
}

/* A long path with no address space left: the kernel reads it into memory of its own, and answers;
 * the shim needs a mapping for it, and without one must say ENOMEM rather than let the host answer
 * for the machine (on 8 vCPUs over 2 host CPUs the host has no cpu7). Never recorded: natively it is
 * "ok", under the shim "ok" or ENOMEM. */
TEST(CpuPaths, ALongPathWithoutMemoryIsNeverTheHostsAnswer) {
    if (getenv("LIBOS_TEST_SANITIZERS"))
        GTEST_SKIP() << "a sanitizer build: the sanitizers' own mappings need the address space";
    /* qemu-user keeps RLIMIT_AS for itself: the guest's mappings would never run out. */
    LIBOS_SKIP_UNDER_EMULATION("an address-space limit (RLIMIT_AS)");
    const std::string last = "/cpu" + std::to_string(machine().configured - 1);
    const std::string paths[] = {repeated(kCpu, "/.", 300, last + "/topology/core_id"),
                                 repeated(kCpu, "/.", 600, last + "/topology/core_id")};
    for (const std::string& path : paths) {
        pid_t child = fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
            /* The address space as it is, and a few pages more, which the loop takes. */
            long pages = 0;
            FILE* statm = fopen("/proc/self/statm", "r");
            if (!statm || fscanf(statm, "%ld", &pages) != 1)
                _exit(100);
            fclose(statm);
            struct rlimit limit;
            getrlimit(RLIMIT_AS, &limit);
            limit.rlim_cur = static_cast<rlim_t>(pages + 16) * 4096;
            if (setrlimit(RLIMIT_AS, &limit) != 0)
                _exit(101);
            while (mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED) {
            }
            struct stat st;
            int stated = stat(path.c_str(), &st) == 0 ? 0 : errno;
            int fd = open(path.c_str(), O_RDONLY);
            int opened = fd >= 0 ? 0 : errno;
            int accessed = access(path.c_str(), R_OK) == 0 ? 0 : errno;
            for (int err : {stated, opened, accessed})
                if (err != 0 && err != ENOMEM)
                    _exit(err);
            _exit(0);
        }
        int status = 0;
        ASSERT_EQ(waitpid(child, &status, 0), child);
        ASSERT_TRUE(WIFEXITED(status));
        EXPECT_EQ(WEXITSTATUS(status), 0) << path.size() << " bytes: errno " << WEXITSTATUS(status)
                                          << " (100, 101: the test's own set-up failed)";
    }
}

/* The same on a thread of a 16 KiB stack: a long path costs no more of the caller's stack. */
TEST(CpuPaths, LongPathsOnASmallStack) {
    if (getenv("LIBOS_TEST_SANITIZERS"))
        GTEST_SKIP() << "a sanitizer build: ASan's own frames outgrow a 16 KiB stack";
    struct Result {
        int opened = -1, stated = -1;
    } result;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    /* 16 KiB, or the least stack the architecture allows (glibc's arm64 minimum is 128 KiB). */
    const long least = sysconf(_SC_THREAD_STACK_MIN);
    ASSERT_EQ(pthread_attr_setstacksize(&attr, least > 16384 ? static_cast<size_t>(least) : 16384), 0);
    pthread_t thread;
    auto body = [](void* arg) -> void* {
        auto* r = static_cast<Result*>(arg);
        char path[1200];
        size_t n = 0;
        const char head[] = "/sys/devices/system/cpu";
        memcpy(path, head, sizeof(head) - 1);
        n = sizeof(head) - 1;
        for (int i = 0; i < 500; ++i, n += 2)
            memcpy(path + n, "/.", 2);
        memcpy(path + n, "/online", sizeof("/online"));
        int fd = open(path, O_RDONLY);
        r->opened = fd >= 0 ? 0 : errno;
        if (fd >= 0)
            close(fd);
        struct stat st;
        r->stated = stat(path, &st) == 0 ? 0 : errno;
        return nullptr;
    };
    ASSERT_EQ(pthread_create(&thread, &attr, body, &result), 0);
    pthread_join(thread, nullptr);
    pthread_attr_destroy(&attr);
    EXPECT_EQ(result.opened, 0);
    EXPECT_EQ(result.stated, 0);
}

}  // namespace
