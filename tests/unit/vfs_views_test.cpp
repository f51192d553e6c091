/* The classification of the files elsewhere that name CPUs (table/vfs/cgroup.cpp, devices.cpp,
 * procfs_cpus.cpp), on paths alone: cgroup v2's names are checked here because this project's
 * machine has a v1 hierarchy only (tests/integration/host_leaks.sh reads the real files). */
#include <gtest/gtest.h>

#include "vfs/vfs_internal.h"

namespace {

libos::VfsFile classified(const char* path) {
    libos::VfsPath p;
    if (!libos::classify_canonical(path, &p) || p.kind != libos::VfsKind::Generated)
        return libos::VfsFile::None;
    return p.file;
}

TEST(CgroupViews, V1AndV2NamesAnywhereUnderTheCgroupRoot) {
    using libos::VfsFile;
    for (const char* path : {"/sys/fs/cgroup/cpuset/cpuset.cpus", "/sys/fs/cgroup/cpuset/docker/abc/cpuset.effective_cpus",
                             "/sys/fs/cgroup/user.slice/user-0.slice/cpuset.cpus.effective",
                             "/sys/fs/cgroup/cpuset.cpus.effective", "/sys/fs/cgroup/unified/a/cpuset.cpus",
                             "/sys/fs/cgroup/system.slice/cpuset.cpus.exclusive.effective",
                             "/sys/fs/cgroup/cpuset.cpus.isolated"})
        EXPECT_EQ(classified(path), VfsFile::CgroupCpus) << path;
    for (const char* path : {"/sys/fs/cgroup/cpuset/cpuset.mems", "/sys/fs/cgroup/cpuset/a/cpuset.effective_mems",
                             "/sys/fs/cgroup/user.slice/cpuset.mems.effective", "/sys/fs/cgroup/cpuset.mems"})
        EXPECT_EQ(classified(path), VfsFile::CgroupMems) << path;
    for (const char* path : {"/sys/fs/cgroup/cpuset/cpuset.cpu_exclusive", "/sys/fs/cgroup/a/cpuset.cpus.partition",
                             "/sys/fs/cgroup/a/cpu.max.burst", "/sys/fs/cgroupx/cpuset.cpus", "/tmp/cpuset.cpus",
                             "/sys/fs/cgroup/a/cpuset.cpus/x", "/sys/fs/cgroup/a/cpuset.cpus2"})
        EXPECT_EQ(classified(path), VfsFile::None) << path;
    EXPECT_TRUE(libos::cgroup_may_name("/sys/fs/cgroup/a/b/cpuset.cpus.effective"));
    EXPECT_FALSE(libos::cgroup_may_name("/sys/fs/cgroup/a/b/memory.max"));
}

/* The quota files: v2's cpu.max anywhere, v1's cpu.cfs_quota_us below a controller's mount; the
 * period and the rest of the controller's files are the host's. */
TEST(CgroupViews, QuotaFiles) {
    using libos::VfsFile;
    for (const char* path : {"/sys/fs/cgroup/cpu.max", "/sys/fs/cgroup/user.slice/cpu.max",
                             "/sys/fs/cgroup/unified/a/cpu.max"})
        EXPECT_EQ(classified(path), VfsFile::CgroupCpuMax) << path;
    for (const char* path : {"/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu,cpuacct/docker/x/cpu.cfs_quota_us"})
        EXPECT_EQ(classified(path), VfsFile::CgroupCfsQuota) << path;
    for (const char* path : {"/sys/fs/cgroup/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us",
                             "/sys/fs/cgroup/a/cpu.stat", "/sys/fs/cgroup/a/cpu.weight", "/tmp/cpu.max"})
        EXPECT_EQ(classified(path), VfsFile::None) << path;
    EXPECT_TRUE(libos::cgroup_may_name("/sys/fs/cgroup/a/cpu.max"));
    EXPECT_TRUE(libos::cgroup_may_name("/sys/fs/cgroup/cpu/a/cpu.cfs_quota_us"));
}

TEST(DeviceViews, LocalCpusUnderDevicesOnly) {
    using libos::VfsFile;
    EXPECT_EQ(classified("/sys/devices/pci0000:00/0000:00:00.0/local_cpulist"), VfsFile::DeviceCpuList);
    libos::VfsPath p;
    ASSERT_TRUE(libos::classify_canonical("/sys/devices/pci0000:00/0000:00:00.0/local_cpus", &p));
    EXPECT_EQ(p.file, VfsFile::DeviceCpuMask);
    EXPECT_STREQ(p.source, "/sys/devices/pci0000:00/0000:00:00.0/local_cpulist");
    EXPECT_EQ(classified("/sys/bus/pci/devices/0000:00:00.0/local_cpus"), VfsFile::None); /* a link: resolved first */
    EXPECT_TRUE(libos::device_may_name("/sys/bus/pci/devices/0000:00:00.0/local_cpus"));
    EXPECT_TRUE(libos::device_may_name("/sys/class/net/eth0/device/local_cpulist"));
}

TEST(ProcCpuViews, TaskStatInterruptsAndIrqMasks) {
    using libos::VfsFile;
    EXPECT_EQ(classified("/proc/12/stat"), VfsFile::TaskStat);
    EXPECT_EQ(classified("/proc/12/task/13/stat"), VfsFile::TaskStat);
    EXPECT_EQ(classified("/proc/12/net/softnet_stat"), VfsFile::SoftnetStat);
    EXPECT_EQ(classified("/proc/interrupts"), VfsFile::Interrupts);
    EXPECT_EQ(classified("/proc/softirqs"), VfsFile::Softirqs);
    EXPECT_EQ(classified("/proc/irq/default_smp_affinity"), VfsFile::IrqMask);
    EXPECT_EQ(classified("/proc/irq/24/smp_affinity"), VfsFile::IrqMask);
    EXPECT_EQ(classified("/proc/irq/24/effective_affinity_list"), VfsFile::IrqList);
    for (const char* path : {"/proc/stat2", "/proc/012/stat", "/proc/12/statm", "/proc/12/task/13/stat/x",
                             "/proc/irq/24/node", "/proc/irq/024/smp_affinity", "/proc/irq/x/smp_affinity"})
        EXPECT_EQ(classified(path), VfsFile::None) << path;
    EXPECT_EQ(classified("/proc/stat"), VfsFile::Stat);
    libos::CpuBits bits;
    ASSERT_TRUE(libos::parse_cpu_mask("1,00000003\n", &bits));
    EXPECT_TRUE(bits.has(0) && bits.has(1) && bits.has(32) && !bits.has(2));
    EXPECT_FALSE(libos::parse_cpu_mask("xyz", &bits));
}

}  // namespace

/* A vfork child's copy of a live descriptor, noted in its parent's memory (live.cpp): when every
 * entry is taken, the next in turn is claimed as a free one is, so an entry another child is filling
 * (-1) is passed over rather than written by two children at once. */
TEST(LiveChildCopies, AFullTableNeverTakesAnEntryBeingFilled) {
    constexpr int kEntries = 4;
    libos::ChildCopy copies[kEntries] = {};
    std::atomic<unsigned> next{0};
    for (int i = 0; i < kEntries; ++i)
        ASSERT_TRUE(libos::note_child_copy(copies, kEntries, &next, 1000 + i, 10 + i));
    EXPECT_EQ(copies[2].pid.load(), 1002);
    EXPECT_EQ(copies[2].fd, 12);
    copies[1].pid.store(-1); /* another child is filling it */
    copies[1].fd = 77;
    next.store(1);
    ASSERT_TRUE(libos::note_child_copy(copies, kEntries, &next, 42, 9));
    EXPECT_EQ(copies[1].pid.load(), -1);
    EXPECT_EQ(copies[1].fd, 77);
    EXPECT_EQ(copies[2].pid.load(), 42); /* the next in turn after it */
    EXPECT_EQ(copies[2].fd, 9);
    for (auto& c : copies)
        c.pid.store(-1);
    EXPECT_FALSE(libos::note_child_copy(copies, kEntries, &next, 43, 8)); /* all being filled */
}
