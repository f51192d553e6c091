/* The PAL on the Linux host: raw results (-errno, never errno), the affinity and CPU calls against
 * libc's view of the same facts, the topology against sysfs, and the debug log. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pal/pal.h"
#include "test_util.h"

using libos_test::parse_cpu_list;
using libos_test::read_file;

namespace {

TEST(PalSyscall, ReturnsResultsAndNegativeErrnoWithoutTouchingErrno) {
    errno = 4242;
    EXPECT_EQ(PalSyscall(SYS_getpid, 0, 0, 0, 0, 0, 0), getpid());
    EXPECT_EQ(PalSyscall(SYS_close, -1, 0, 0, 0, 0, 0), -EBADF);
    EXPECT_EQ(PalSyscall(100000, 0, 0, 0, 0, 0, 0), -ENOSYS);
    EXPECT_EQ(PalSyscall(SYS_openat, AT_FDCWD, reinterpret_cast<long>("/nonexistent/x"), O_RDONLY, 0, 0, 0), -ENOENT);
    EXPECT_EQ(PalSyscall(SYS_sched_getaffinity, 0, 4, 0, 0, 0, 0), -EINVAL);
    EXPECT_EQ(errno, 4242);
}

TEST(PalSyscall, PassesAllSixArguments) {
    /* mmap takes six arguments; the offset (the sixth) must arrive. */
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    long page = sysconf(_SC_PAGESIZE);
    long addr = PalSyscall(SYS_mmap, 0, page, PROT_READ, MAP_PRIVATE, fd, page);
    ASSERT_GT(addr, 0);
    char expected[16];
    ASSERT_EQ(pread(fd, expected, sizeof(expected), page), static_cast<ssize_t>(sizeof(expected)));
    EXPECT_EQ(memcmp(reinterpret_cast<void*>(addr), expected, sizeof(expected)), 0);
    munmap(reinterpret_cast<void*>(addr), page);
    close(fd);
}

TEST(PalThread, AffinityMatchesLibc) {
    cpu_set_t pal_set, libc_set;
    CPU_ZERO(&pal_set);
    long written = PalThreadGetCpuAffinity(0, sizeof(pal_set), &pal_set);
    ASSERT_GT(written, 0);
    ASSERT_EQ(sched_getaffinity(0, sizeof(libc_set), &libc_set), 0);
    EXPECT_TRUE(CPU_EQUAL(&pal_set, &libc_set));
    EXPECT_EQ(PalThreadGetId(), gettid());
}

TEST(PalThread, SetAffinityPinsTheThreadAndReportsErrors) {
    cpu_set_t original;
    ASSERT_EQ(sched_getaffinity(0, sizeof(original), &original), 0);
    int first = -1;
    for (int c = 0; c < CPU_SETSIZE && first < 0; ++c)
        if (CPU_ISSET(c, &original))
            first = c;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    ASSERT_EQ(PalThreadSetCpuAffinity(0, sizeof(one), &one), 0);
    unsigned cpu = 12345, node = 12345;
    ASSERT_EQ(PalGetCpu(&cpu, &node), 0);
    EXPECT_EQ(cpu, static_cast<unsigned>(first));
    EXPECT_EQ(sched_getcpu(), first);
    cpu_set_t empty;
    CPU_ZERO(&empty);
    EXPECT_EQ(PalThreadSetCpuAffinity(0, sizeof(empty), &empty), -EINVAL);
    EXPECT_EQ(PalThreadSetCpuAffinity(0, sizeof(one), libos_test::unmapped_address()), -EFAULT);
    EXPECT_EQ(PalGetCpu(static_cast<unsigned*>(libos_test::unmapped_address()), nullptr), -EFAULT);
    ASSERT_EQ(PalThreadSetCpuAffinity(0, sizeof(original), &original), 0);
}

TEST(PalHostTopology, AgreesWithSysfsAndTheKernel) {
    static PalTopology topo; /* 17 KiB: not on the test's stack */
    ASSERT_EQ(PalHostTopology(&topo), 0);
    auto possible = parse_cpu_list(read_file("/sys/devices/system/cpu/possible"));
    auto online = parse_cpu_list(read_file("/sys/devices/system/cpu/online"));
    ASSERT_FALSE(possible.empty());
    EXPECT_EQ(topo.possible_count, static_cast<uint32_t>(*possible.rbegin() + 1));
    EXPECT_EQ(topo.online_count, online.size());
    for (int c = 0; c < PAL_MAX_CPUS; ++c)
        EXPECT_EQ((topo.online_mask[c / 64] >> (c % 64)) & 1, online.count(c) ? 1u : 0u) << "cpu " << c;
    EXPECT_EQ(static_cast<long>(topo.online_count), sysconf(_SC_NPROCESSORS_ONLN));
    /* The kernel's cpumask size is what a large sched_getaffinity buffer gets back. */
    char big[1024];
    EXPECT_EQ(static_cast<long>(topo.kernel_mask_size), syscall(SYS_sched_getaffinity, 0, sizeof(big), big));
    static uint16_t node_of_cpu[PAL_MAX_CPUS];
    ASSERT_EQ(PalHostCpuNodes(node_of_cpu), access("/sys/devices/system/node/online", F_OK) == 0 ? 0 : -ENOENT);
    for (int c : online) {
        unsigned node = node_of_cpu[c];
        std::string path = "/sys/devices/system/node/node" + std::to_string(node) + "/cpulist";
        if (access("/sys/devices/system/node", F_OK) == 0) {
            EXPECT_TRUE(parse_cpu_list(read_file(path)).count(c)) << "cpu " << c << " not in " << path;
        }
    }
}

TEST(PalDebugLog, WritesWholeMessagesToStderr) {
    int pipefd[2];
    ASSERT_EQ(pipe(pipefd), 0);
    int saved = dup(2);
    dup2(pipefd[1], 2);
    std::string message(10000, 'x');
    message += "end\n";
    PalDebugLog(message.data(), message.size());
    dup2(saved, 2);
    close(saved);
    close(pipefd[1]);
    std::string got;
    char buf[4096];
    ssize_t n;
    while ((n = read(pipefd[0], buf, sizeof(buf))) > 0)
        got.append(buf, static_cast<size_t>(n));
    close(pipefd[0]);
    EXPECT_EQ(got, message);
}

}  // namespace
