/* The PAL on the Linux host: raw results (-errno, never errno), the affinity and CPU calls against
 * libc's view of the same facts, the topology against sysfs, the debug log, and strict mode's calls
 * (another process's memory and identity, and the tag its filter lets through). */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "pal/pal.h"
#include "raw_syscall.h"
#include "test_util.h"

using libos_test::parse_cpu_list;
using libos_test::read_file;

namespace {

/* Above the kernel's largest pid_max (2^22): no task ever has it. */
constexpr pid_t kNoSuchTid = 0x3fffffff;

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

/* The memory-policy calls: the host's results and -errno, errno untouched (this host's nodes). */
TEST(PalNuma, PolicyCallsReachTheHost) {
    LIBOS_SKIP_UNDER_EMULATION("the memory-policy calls (ENOSYS)");
    errno = 1234;
    unsigned long node0 = 1, got = 0;
    int mode = -1;
    EXPECT_EQ(PalMemPolicySet(2 /* MPOL_BIND */, &node0, 65), 0);
    EXPECT_EQ(PalMemPolicyGet(&mode, &got, 65, 0, 0), 0);
    EXPECT_EQ(mode, 2);
    EXPECT_EQ(got, 1UL);
    EXPECT_EQ(PalMemPolicySet(99, &node0, 65), -EINVAL);
    EXPECT_EQ(PalMemPolicySet(0, nullptr, 0), 0);
    EXPECT_EQ(PalMemoryBind(1, 4096, 2, &node0, 65, 0), -EINVAL); /* unaligned start */
    EXPECT_EQ(PalMemorySetHomeNode(1, 4096, 0, 0), -EINVAL);
    EXPECT_EQ(PalProcessMigratePages(0x3fffffff, 65, &node0, &node0), -ESRCH);
    int status = 0;
    void* page = &status;
    EXPECT_EQ(PalProcessMovePages(0, 1, &page, nullptr, &status, 0), 0);
    EXPECT_GE(status, 0);
    EXPECT_EQ(PalProcessMovePages(0x3fffffff, 1, &page, nullptr, &status, 0), -ESRCH);
    EXPECT_EQ(errno, 1234);
}

TEST(PalFile, OpensExaminesAndWritesLikeTheKernel) {
    LIBOS_SKIP_UNDER_EMULATION("/proc/self/exe (it stands in a file of its own)");
    errno = 4242;
    long fd = PalFileOpen(AT_FDCWD, "/proc/self/exe", O_RDONLY | O_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    struct stat by_fd, by_path, linked;
    EXPECT_EQ(PalFileStat(static_cast<int>(fd), &by_fd), 0);
    EXPECT_EQ(PalFileStatAt(AT_FDCWD, "/proc/self/exe", &by_path, 0), 0);
    EXPECT_EQ(by_fd.st_ino, by_path.st_ino);
    EXPECT_EQ(PalFileStatAt(AT_FDCWD, "/proc/self/exe", &linked, AT_SYMLINK_NOFOLLOW), 0);
    EXPECT_TRUE(S_ISLNK(linked.st_mode));
    struct statx sx;
    EXPECT_EQ(PalFileStatx(AT_FDCWD, "/proc/self/exe", 0, STATX_INO, &sx), 0);
    EXPECT_EQ(sx.stx_ino, by_fd.st_ino);
    EXPECT_EQ(PalFileSeek(static_cast<int>(fd), 4, SEEK_SET), 4);
    EXPECT_EQ(PalFileClose(static_cast<int>(fd)), 0);
    EXPECT_EQ(PalFileClose(static_cast<int>(fd)), -EBADF);
    EXPECT_EQ(PalFileOpen(AT_FDCWD, "/nonexistent/x", O_RDONLY, 0), -ENOENT);
    EXPECT_EQ(PalFileStat(-1, &by_fd), -EBADF);
    EXPECT_EQ(PalFileStatAt(AT_FDCWD, "/nonexistent", &by_fd, 0), -ENOENT);
    EXPECT_EQ(PalFileAccess(AT_FDCWD, "/proc/self/exe", F_OK, 0), 0);
    EXPECT_EQ(PalFileAccess(AT_FDCWD, "/proc/self/exe", F_OK, AT_SYMLINK_NOFOLLOW), 0);
    EXPECT_EQ(PalFileAccess(AT_FDCWD, "/nonexistent", F_OK, 0), -ENOENT);
    EXPECT_EQ(PalFileAccess(AT_FDCWD, "/", F_OK, 0x7777), -EINVAL);
    char link[64], expected[64];
    ASSERT_GT(PalFileReadLink("/proc/self", link, sizeof(link)), 0);
    snprintf(expected, sizeof(expected), "%d", getpid());
    EXPECT_STREQ(link, expected);
    EXPECT_EQ(PalFileReadLink("/proc/self", link, 2), 1); /* cut to fit, and terminated */
    EXPECT_EQ(strlen(link), 1u);
    EXPECT_EQ(PalFileReadLink("/nonexistent", link, sizeof(link)), -ENOENT);
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    EXPECT_EQ(PalFileWriteAll(pipe_fds[1], "whole", 5), 0);
    char got[8] = {};
    EXPECT_EQ(read(pipe_fds[0], got, sizeof(got)), 5);
    EXPECT_STREQ(got, "whole");
    close(pipe_fds[0]);
    void (*previous)(int) = signal(SIGPIPE, SIG_IGN);
    EXPECT_EQ(PalFileWriteAll(pipe_fds[1], "x", 1), -EPIPE);
    signal(SIGPIPE, previous);
    close(pipe_fds[1]);
    EXPECT_EQ(PalFileWriteAll(-1, "x", 1), -EBADF);
    EXPECT_EQ(errno, 4242);
}

TEST(PalFile, MovesADescriptorHighAndSetsItsFlags) {
    errno = 4242;
    long fd = PalFileOpen(AT_FDCWD, "/dev/null", O_RDONLY, 0);
    ASSERT_GE(fd, 0);
    long dup = PalFileDuplicateHigh(static_cast<int>(fd), 700, true);
    ASSERT_GE(dup, 700);
    EXPECT_EQ(fcntl(static_cast<int>(dup), F_GETFD), FD_CLOEXEC);
    EXPECT_GE(fcntl(static_cast<int>(fd), F_GETFD), 0); /* a duplicate: the original stays */
    close(static_cast<int>(dup));
    long moved = PalFileMoveHigh(static_cast<int>(fd), 700, false);
    ASSERT_GE(moved, 700);
    EXPECT_EQ(fcntl(static_cast<int>(fd), F_GETFD), -1); /* moved: the original is closed */
    EXPECT_EQ(fcntl(static_cast<int>(moved), F_GETFD), 0);
    EXPECT_EQ(PalFileMoveHigh(static_cast<int>(moved), 700, false), moved); /* already high: unchanged */
    EXPECT_EQ(PalFileSetCloseOnExec(static_cast<int>(moved), true), 0);
    EXPECT_EQ(fcntl(static_cast<int>(moved), F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(PalFileSetCloseOnExec(static_cast<int>(moved), false), 0);
    EXPECT_EQ(fcntl(static_cast<int>(moved), F_GETFD), 0);
    close(static_cast<int>(moved));
    errno = 4242; /* the checks above set it (fcntl of a closed descriptor) */
    EXPECT_EQ(PalFileMoveHigh(-1, 700, false), -EBADF);
    EXPECT_EQ(PalFileSetCloseOnExec(-1, true), -EBADF);
    EXPECT_EQ(errno, 4242);
    /* The limit, and a floor at or above it: EINVAL, and the descriptor stays where it was. */
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        struct rlimit low = {256, 256};
        if (setrlimit(RLIMIT_NOFILE, &low) != 0 || PalFileDescriptorLimit() != 256)
            _exit(2);
        if (PalFileDuplicateHigh(0, 1000, false) != -EINVAL || PalFileMoveHigh(0, 256, false) != -EINVAL)
            _exit(3);
        long high = PalFileDuplicateHigh(0, 200, false);
        _exit(high >= 200 && high < 256 && fcntl(0, F_GETFD) >= 0 ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

/* dup, dup3 and dup2's rules, as the kernel's calls (the live files' dup handlers use them). */
TEST(PalFile, DuplicatesAsDupDup2AndDup3) {
    errno = 4242;
    long fd = PalFileOpen(AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    long copy = PalFileDuplicate(static_cast<int>(fd));
    ASSERT_GE(copy, 0);
    EXPECT_EQ(fcntl(static_cast<int>(copy), F_GETFD), 0); /* dup's copy is never close-on-exec */
    EXPECT_EQ(PalFileDuplicateOnto(static_cast<int>(fd), static_cast<int>(copy), O_CLOEXEC, false), copy);
    EXPECT_EQ(fcntl(static_cast<int>(copy), F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(PalFileDuplicateOnto(static_cast<int>(fd), static_cast<int>(fd), 0, true), fd); /* dup2 */
    EXPECT_EQ(PalFileDuplicateOnto(static_cast<int>(fd), static_cast<int>(fd), 0, false), -EINVAL); /* dup3 */
    EXPECT_EQ(PalFileDuplicateOnto(static_cast<int>(copy), 4000, 0, true), 4000);
    close(4000);
    close(static_cast<int>(copy));
    close(static_cast<int>(fd));
    errno = 4242;
    EXPECT_EQ(PalFileDuplicate(-1), -EBADF);
    EXPECT_EQ(PalFileDuplicateOnto(-1, 5, 0, true), -EBADF);
    EXPECT_EQ(PalFileDuplicateOnto(static_cast<int>(fd), static_cast<int>(fd), 0, true), -EBADF); /* closed */
    EXPECT_EQ(errno, 4242);
}

TEST(PalFile, MemfdsAreSizedAndSealed) {
    errno = 4242;
    long fd = PalMemfdCreate("pal-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(PalFileTruncate(static_cast<int>(fd), 8192), 0);
    struct stat st;
    ASSERT_EQ(PalFileStat(static_cast<int>(fd), &st), 0);
    EXPECT_EQ(st.st_size, 8192);
    EXPECT_EQ(PalFileSeal(static_cast<int>(fd), F_SEAL_GROW | F_SEAL_SHRINK), 0);
    EXPECT_EQ(PalFileTruncate(static_cast<int>(fd), 1), -EPERM);
    EXPECT_EQ(PalFileSeal(-1, F_SEAL_GROW), -EBADF);
    EXPECT_EQ(PalMemfdCreate("bad", 0x7777), -EINVAL);
    void* shared = nullptr;
    ASSERT_EQ(PalMemoryMapShared(static_cast<int>(fd), 8192, &shared), 0);
    static_cast<char*>(shared)[100] = 'x';
    char back = 0;
    ASSERT_EQ(pread(static_cast<int>(fd), &back, 1, 100), 1);
    EXPECT_EQ(back, 'x');
    EXPECT_EQ(PalMemoryFree(shared, 8192), 0);
    EXPECT_EQ(PalMemoryMapShared(-1, 8192, &shared), -EBADF);
    close(static_cast<int>(fd));
    void* mem = nullptr;
    ASSERT_EQ(PalMemoryAllocate(1 << 20, &mem), 0);
    EXPECT_EQ(static_cast<char*>(mem)[12345], 0);
    static_cast<char*>(mem)[12345] = 1;
    EXPECT_EQ(PalMemoryFree(mem, 1 << 20), 0);
    EXPECT_EQ(PalMemoryAllocate(0, &mem), -EINVAL);
    EXPECT_EQ(errno, 4242);
}

TEST(PalFile, TheCurrentDirectory) {
    errno = 4242;
    char before[4096], now[4096];
    ASSERT_NE(getcwd(before, sizeof(before)), nullptr);
    EXPECT_EQ(PalFileGetCwd(now, sizeof(now)), static_cast<long>(strlen(before) + 1));
    EXPECT_STREQ(now, before);
    EXPECT_EQ(PalFileGetCwd(now, 1), -ERANGE);
    EXPECT_EQ(PalFileChangeDir("/proc"), 0);
    EXPECT_EQ(PalFileGetCwd(now, sizeof(now)), 6);
    EXPECT_STREQ(now, "/proc");
    EXPECT_EQ(PalFileChangeDir("/nonexistent"), -ENOENT);
    int dir = open(before, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(dir, 0);
    EXPECT_EQ(PalFileChangeDirFd(dir), 0);
    close(dir);
    EXPECT_EQ(PalFileChangeDirFd(-1), -EBADF);
    ASSERT_NE(getcwd(now, sizeof(now)), nullptr);
    EXPECT_STREQ(now, before);
    EXPECT_EQ(errno, 4242);
}

TEST(PalProcess, IdsForkExecAndExit) {
    LIBOS_SKIP_UNDER_EMULATION("execveat(2)");
    errno = 4242;
    EXPECT_EQ(PalProcessGetId(), getpid());
    EXPECT_EQ(PalProcessGetParentId(), getppid());
    EXPECT_EQ(PalThreadExists(gettid()), 0);
    EXPECT_EQ(PalThreadExists(kNoSuchTid), -ESRCH);
    PalThreadYield();
    long child = PalProcessFork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        /* In the child: its own ids and memory, then an exec that fails and one that works. */
        if (PalProcessGetParentId() == 0 || PalProcessCompareMemory(PalProcessGetId(), PalProcessGetParentId()) != 1)
            PalProcessExit(3);
        char* const argv[] = {const_cast<char*>("true"), nullptr};
        char* const envp[] = {nullptr};
        if (PalProcessExec("/nonexistent", argv, envp) != -ENOENT)
            PalProcessExit(4);
        if (PalProcessExecAt(AT_FDCWD, "/nonexistent", argv, envp, 0) != -ENOENT)
            PalProcessExit(5);
        char* const shell[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), const_cast<char*>("exit 7"), nullptr};
        PalProcessExec("/bin/sh", shell, envp);
        PalProcessExit(6);
    }
    int status = 0;
    ASSERT_EQ(waitpid(static_cast<pid_t>(child), &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 7);
    EXPECT_EQ(PalProcessCompareMemory(getpid(), getpid()), 0);
    child = PalProcessClone(SIGCHLD, 0, nullptr, nullptr, 0);
    ASSERT_GE(child, 0);
    if (child == 0)
        PalProcessExit(9);
    ASSERT_EQ(waitpid(static_cast<pid_t>(child), &status, 0), child);
    EXPECT_EQ(WEXITSTATUS(status), 9);
    EXPECT_EQ(PalThreadSignal(getpid(), gettid(), 0), 0);
    EXPECT_EQ(PalThreadSignal(getpid(), kNoSuchTid, 0), -ESRCH);
    EXPECT_EQ(errno, 4242);
}

TEST(PalSignal, SetMaskReplacesTheBlockedSet) {
    sigset_t saved, now;
    ASSERT_EQ(sigprocmask(SIG_SETMASK, nullptr, &saved), 0);
    errno = 4242;
    EXPECT_EQ(PalSignalSetMask(1ULL << (SIGUSR1 - 1)), 0);
    ASSERT_EQ(sigprocmask(SIG_SETMASK, nullptr, &now), 0);
    EXPECT_TRUE(sigismember(&now, SIGUSR1));
    EXPECT_FALSE(sigismember(&now, SIGUSR2));
    EXPECT_EQ(errno, 4242);
    sigprocmask(SIG_SETMASK, &saved, nullptr);
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

/* ---- strict mode's calls ------------------------------------------------------------------------ */

/* A pid no process has: above the kernel's PID_MAX_LIMIT. */
constexpr pid_t kNoSuchPid = 0x3fffffff;

/* Runs `body` in a fork child and returns its exit status (the child's own checks decide it). */
template <typename Body>
int in_child(Body body) {
    fflush(nullptr);
    pid_t pid = fork();
    if (pid == 0)
        _exit(body());
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

char g_shared[64];

TEST(PalProcess, ReadsAndWritesAnotherProcessLikeTheKernelsCopies) {
    LIBOS_SKIP_UNDER_EMULATION("process_vm_readv(2) and process_vm_writev(2)");
    int to_child[2], to_parent[2];
    ASSERT_EQ(pipe(to_child), 0);
    ASSERT_EQ(pipe(to_parent), 0);
    strcpy(g_shared, "before fork");
    /* Mapped before the fork, so that the child has it too. */
    libos_test::GuardedBuffer guarded(16);
    pid_t child = fork();
    if (child == 0) {
        strcpy(g_shared, "the child's");
        char c = 1;
        if (write(to_parent[1], &c, 1) != 1 || read(to_child[0], &c, 1) != 1)
            _exit(2);
        _exit(strcmp(g_shared, "the parent's") == 0 ? 0 : 1);
    }
    char c;
    ASSERT_EQ(read(to_parent[0], &c, 1), 1);
    char got[64] = {};
    /* Fork keeps the layout: g_shared is at the same address in the child. */
    EXPECT_EQ(PalProcessRead(child, got, reinterpret_cast<uintptr_t>(g_shared), sizeof(got)), 0);
    EXPECT_STREQ(got, "the child's");
    const char mine[] = "the parent's";
    EXPECT_EQ(PalProcessWrite(child, reinterpret_cast<uintptr_t>(g_shared), mine, sizeof(mine)), 0);
    /* Unmapped memory in the target is EFAULT, in both directions, and so is a range that runs
     * into it. */
    EXPECT_EQ(PalProcessRead(child, got, 8, 4), -EFAULT);
    EXPECT_EQ(PalProcessWrite(child, 8, mine, 4), -EFAULT);
    EXPECT_EQ(PalProcessRead(child, got, reinterpret_cast<uintptr_t>(guarded.data()), 32), -EFAULT);
    EXPECT_EQ(PalProcessRead(child, got, reinterpret_cast<uintptr_t>(guarded.data()), 16), 0);
    ASSERT_EQ(write(to_child[1], &c, 1), 1);
    int status = 0;
    waitpid(child, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child did not see the parent's write";
    /* A process that is gone. */
    EXPECT_EQ(PalProcessRead(child, got, reinterpret_cast<uintptr_t>(g_shared), 4), -ESRCH);
    for (int fd : {to_child[0], to_child[1], to_parent[0], to_parent[1]})
        close(fd);
}

TEST(PalProcess, ThreadIdentityAndLastCpu) {
    LIBOS_SKIP_UNDER_EMULATION("/proc/<pid>/stat of its own process (it writes one without the last CPU)");
    pid_t tgid = 0, ppid = 0;
    ASSERT_EQ(PalThreadProcess(gettid(), &tgid, &ppid), 0);
    EXPECT_EQ(tgid, getpid());
    EXPECT_EQ(ppid, getppid());
    pid_t thread_tid = 0;
    pid_t thread_tgid = 0, thread_ppid = 0;
    long thread_ret = -1;
    std::thread t([&] {
        thread_tid = gettid();
        thread_ret = PalThreadProcess(thread_tid, &thread_tgid, &thread_ppid);
    });
    t.join();
    EXPECT_EQ(thread_ret, 0);
    EXPECT_NE(thread_tid, getpid());
    EXPECT_EQ(thread_tgid, getpid());
    EXPECT_EQ(PalThreadProcess(kNoSuchPid, &tgid, &ppid), -ENOENT);

    PalCredentials creds = {};
    ASSERT_EQ(PalThreadCredentials(gettid(), &creds), 0);
    EXPECT_EQ(creds.uid, getuid());
    EXPECT_EQ(creds.euid, geteuid());
    EXPECT_EQ(PalThreadCredentials(kNoSuchPid, &creds), -ENOENT);
    if (geteuid() == 0) {
        /* A child that gave up root shows it. */
        EXPECT_EQ(in_child([] {
                      if (setresuid(65534, 65534, 65534) != 0)
                          return 2;
                      PalCredentials c = {};
                      if (PalThreadCredentials(gettid(), &c) != 0)
                          return 3;
                      return c.uid == 65534 && c.euid == 65534 && (c.cap_effective & (1ULL << 23)) == 0 ? 0 : 1;
                  }),
                  0);
    }

    /* Pinned to one CPU, the thread last ran there. */
    cpu_set_t original;
    ASSERT_EQ(sched_getaffinity(0, sizeof(original), &original), 0);
    int last = -1;
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &original))
            last = c;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(last, &one);
    ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
    EXPECT_EQ(PalThreadLastCpu(gettid()), last);
    ASSERT_EQ(sched_setaffinity(0, sizeof(original), &original), 0);
    EXPECT_EQ(PalThreadLastCpu(kNoSuchPid), -ENOENT);
}

/* sched_getaffinity without the PAL: the raw instruction with a zero sixth argument register. */
long untagged_getaffinity(void* mask, size_t size) {
    return libos_test::raw_syscall(SYS_sched_getaffinity, 0, static_cast<long>(size), reinterpret_cast<long>(mask));
}

TEST(PalCredentials, AThreadsIdsGroupsCapabilitiesAndUserNamespace) {
    errno = 4242;
    PalCredentials c = {};
    ASSERT_EQ(PalThreadCredentials(gettid(), &c), 0);
    uid_t r, e, sv;
    gid_t gr, ge, gs;
    ASSERT_EQ(getresuid(&r, &e, &sv), 0);
    ASSERT_EQ(getresgid(&gr, &ge, &gs), 0);
    EXPECT_EQ(c.uid, r);
    EXPECT_EQ(c.euid, e);
    EXPECT_EQ(c.suid, sv);
    EXPECT_EQ(c.fsuid, e);
    EXPECT_EQ(c.gid, gr);
    EXPECT_EQ(c.egid, ge);
    EXPECT_EQ(c.sgid, gs);
    EXPECT_EQ(c.fsgid, ge);
    gid_t groups[PAL_MAX_GROUPS];
    int n = getgroups(PAL_MAX_GROUPS, groups);
    ASSERT_GE(n, 0);
    ASSERT_EQ(c.ngroups, static_cast<uint32_t>(n));
    for (int i = 0; i < n; ++i)
        EXPECT_EQ(c.groups[i], groups[i]);
    struct stat ns;
    ASSERT_EQ(stat("/proc/self/ns/user", &ns), 0);
    EXPECT_EQ(c.user_ns, ns.st_ino);
    errno = 4242;
    EXPECT_EQ(PalThreadCredentials(kNoSuchTid, &c), -ENOENT);
    EXPECT_EQ(errno, 4242);
}

TEST(PalCredentials, UserNamespacesTheirParentAndOwner) {
    LIBOS_SKIP_UNDER_EMULATION("the namespace ioctls (NS_GET_PARENT, NS_GET_OWNER_UID)");
    long own = PalUserNamespaceOpen(0);
    ASSERT_GE(own, 0);
    struct stat a, b;
    ASSERT_EQ(fstat(static_cast<int>(own), &a), 0);
    ASSERT_EQ(stat("/proc/self/ns/user", &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino);
    EXPECT_EQ(PalUserNamespaceOpen(kNoSuchTid), -ENOENT);
    /* A child in a new user namespace: seen from here, its parent is ours, and we (our euid) own it.
     * (From inside, its parent is out of reach: EPERM.) */
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        char byte = unshare(CLONE_NEWUSER) == 0 ? 'y' : 'n';
        if (byte == 'y') {
            long inner = PalUserNamespaceOpen(0);
            if (inner < 0 || PalUserNamespaceParent(static_cast<int>(inner)) != -EPERM)
                byte = 'x';
        }
        if (write(ready[1], &byte, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char byte = 0;
    ASSERT_EQ(read(ready[0], &byte, 1), 1);
    close(ready[0]);
    close(ready[1]);
    if (byte == 'y') {
        long theirs = PalUserNamespaceOpen(child);
        ASSERT_GE(theirs, 0);
        long parent = PalUserNamespaceParent(static_cast<int>(theirs));
        ASSERT_GE(parent, 0);
        struct stat p;
        ASSERT_EQ(fstat(static_cast<int>(parent), &p), 0);
        EXPECT_EQ(p.st_ino, a.st_ino);
        EXPECT_EQ(PalUserNamespaceOwner(static_cast<int>(theirs)), static_cast<long>(geteuid()));
        close(static_cast<int>(parent));
        close(static_cast<int>(theirs));
    }
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    EXPECT_NE(byte, 'x') << "inside the new namespace, its parent should be out of reach (EPERM)";
    EXPECT_EQ(PalUserNamespaceParent(static_cast<int>(own)) == -EPERM || geteuid() != 0, true)
        << "the initial namespace has no parent";
    if (byte == 'n')
        GTEST_SKIP() << "unshare(CLONE_NEWUSER) is not permitted here";
    close(static_cast<int>(own));
}

TEST(PalCredentials, FileRightsAreTheThreadsOwn) {
    errno = 4242;
    PalFileRights before;
    ASSERT_EQ(PalThreadGetFileRights(&before), 0);
    EXPECT_EQ(before.fsuid, geteuid());
    EXPECT_EQ(before.fsgid, getegid());
    EXPECT_EQ(PalThreadSetFileRights(&before), 0); /* the same rights: nothing changes */
    EXPECT_EQ(errno, 4242);
    if (geteuid() != 0)
        GTEST_SKIP() << "taking another user's rights needs root";
    /* As user 65534 with no capabilities, this thread may not read a root-only file; another thread
     * of the process still may, and the thread gets its rights back. */
    int fd = open("/tmp", O_RDONLY | O_DIRECTORY);
    ASSERT_GE(fd, 0);
    char name[64];
    snprintf(name, sizeof(name), "/tmp/pal-rights-%d", getpid());
    int secret = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(secret, 0);
    close(secret);
    close(fd);
    PalFileRights nobody = {};
    nobody.fsuid = 65534;
    nobody.fsgid = 65534;
    nobody.ngroups = 0;
    nobody.cap_effective = 0;
    /* The other thread exists before the change (a new thread would copy its creator's rights). */
    std::atomic<int> step{0};
    bool other_thread_opens = false;
    std::thread other([&] {
        while (step.load() != 1)
            sched_yield();
        long fd = PalFileOpen(AT_FDCWD, name, O_RDONLY, 0);
        other_thread_opens = fd >= 0;
        if (fd >= 0)
            close(static_cast<int>(fd));
        step.store(2);
    });
    const long taken = PalThreadSetFileRights(&nobody);
    EXPECT_EQ(taken, 0);
    EXPECT_EQ(PalFileOpen(AT_FDCWD, name, O_RDONLY, 0), -EACCES);
    step.store(1);
    other.join();
    ASSERT_EQ(taken, 0);
    EXPECT_TRUE(other_thread_opens);
    PalFileRights now;
    ASSERT_EQ(PalThreadGetFileRights(&now), 0);
    EXPECT_EQ(now.fsuid, 65534u);
    EXPECT_EQ(now.cap_effective, 0u);
    ASSERT_EQ(PalThreadSetFileRights(&before), 0);
    long back = PalFileOpen(AT_FDCWD, name, O_RDONLY, 0);
    EXPECT_GE(back, 0);
    if (back >= 0)
        close(static_cast<int>(back));
    ASSERT_EQ(PalThreadGetFileRights(&now), 0);
    EXPECT_EQ(now.fsuid, before.fsuid);
    EXPECT_EQ(now.cap_effective, before.cap_effective);
    unlink(name);
}

/* A caller with supplementary groups: taking its rights drops every capability, among them the
 * CAP_SETGID that setgroups needs to give the thread its own groups back. The thread must get its own
 * rights back all the same, never keep the caller's. In a thread of its own, so that a failure leaves
 * the test's thread as it was. */
TEST(PalCredentials, RightsWithGroupsAreGivenBack) {
    if (geteuid() != 0)
        GTEST_SKIP() << "taking another user's rights needs root";
    PalFileRights before = {}, during = {}, after = {};
    long taken = -1, back = -1;
    std::thread worker([&] {
        PalThreadGetFileRights(&before);
        PalFileRights caller = {};
        caller.fsuid = 65534;
        caller.fsgid = 65534;
        caller.ngroups = 2;
        caller.groups[0] = 65534;
        caller.groups[1] = 4242;
        caller.cap_effective = 0;
        taken = PalThreadSetFileRights(&caller);
        PalThreadGetFileRights(&during);
        back = PalThreadSetFileRights(&before);
        PalThreadGetFileRights(&after);
    });
    worker.join();
    ASSERT_EQ(taken, 0);
    EXPECT_EQ(during.fsuid, 65534u);
    EXPECT_EQ(during.ngroups, 2u);
    EXPECT_EQ(during.cap_effective, 0u);
    EXPECT_EQ(back, 0) << "the thread's own rights were not given back";
    EXPECT_EQ(after.fsuid, before.fsuid);
    EXPECT_EQ(after.fsgid, before.fsgid);
    EXPECT_EQ(after.ngroups, before.ngroups);
    EXPECT_EQ(after.cap_effective, before.cap_effective);
}

TEST(PalStrict, TheTagRidesInTheSixthArgumentOfTheTrappedCalls) {
    LIBOS_SKIP_UNDER_EMULATION("seccomp filters");
    /* A filter like strict mode's, with EPERM instead of a supervisor: sched_getaffinity passes only
     * with the tag in args[5]. Installed in a child, which reports each finding as a bit. */
    const uint64_t tag = 0x1234567890abcdefULL;
    int status = in_child([tag] {
        constexpr uint32_t kLow = offsetof(seccomp_data, args) + 5 * sizeof(uint64_t);
        sock_filter code[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_sched_getaffinity, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kLow),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(tag), 0, 2),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kLow + 4),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(tag >> 32), 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        sock_fprog prog = {sizeof(code) / sizeof(code[0]), code};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            PalSyscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, reinterpret_cast<long>(&prog), 0, 0, 0) != 0)
            return 100;
        cpu_set_t set;
        int bits = 0;
        if (PalThreadGetCpuAffinity(0, sizeof(set), &set) == -EPERM)
            bits |= 1; /* no tag yet: trapped */
        PalSetStrictTag(tag);
        if (PalThreadGetCpuAffinity(0, sizeof(set), &set) > 0)
            bits |= 2; /* the PAL's own call carries it */
        if (PalSyscall(SYS_sched_getaffinity, 0, sizeof(set), reinterpret_cast<long>(&set), 0, 0, 0) > 0)
            bits |= 4; /* also through the pass-through door */
        if (untagged_getaffinity(&set, sizeof(set)) == -EPERM)
            bits |= 8; /* the program's own raw call is still trapped */
        if (PalSyscall(SYS_getpid, 0, 0, 0, 0, 0, 0) == getpid())
            bits |= 16; /* other calls are untouched */
        PalSetStrictTag(0);
        if (PalThreadGetCpuAffinity(0, sizeof(set), &set) == -EPERM)
            bits |= 32; /* 0 turns it off */
        return bits;
    });
    EXPECT_EQ(status, 63) << "bits: 1 untagged trapped, 2 tagged PAL call allowed, 4 PalSyscall tagged, "
                             "8 raw call trapped, 16 getpid untouched, 32 tag 0 = off";
}

}  // namespace
