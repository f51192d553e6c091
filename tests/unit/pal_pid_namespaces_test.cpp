// The PAL's view of PID namespaces, for strict mode's supervisor (pal/src/host/linux/pal_pid_namespaces.cpp):
// a thread's ids in each namespace from /proc's down (NSpid, NStgid), its namespace, and pidfds that
// hold a thread and tell when it has ended. The kernel is the oracle: gettid(), getpid(), and a child
// that is pid 1 of a namespace of its own.
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "pal/pal.h"
#include "test_util.h"

namespace {

constexpr pid_t kNoSuchTid = 0x3fffffff;

TEST(PalPidNamespaces, OwnIdsAreTheKernels) {
    pid_t pids[33], tgids[33];
    long levels = PalThreadNamespaceIds(gettid(), pids, tgids, 33);
    ASSERT_GE(levels, 1);
    EXPECT_EQ(pids[levels - 1], gettid());
    EXPECT_EQ(tgids[levels - 1], getpid());
    pid_t tid = 0;
    long thread_levels = 0;
    pid_t thread_pids[33], thread_tgids[33];
    std::thread t([&] {
        tid = gettid();
        thread_levels = PalThreadNamespaceIds(tid, thread_pids, thread_tgids, 33);
    });
    t.join();
    ASSERT_EQ(thread_levels, levels);
    EXPECT_EQ(thread_pids[levels - 1], tid);
    EXPECT_EQ(thread_tgids[levels - 1], getpid());
    EXPECT_EQ(PalThreadNamespaceIds(kNoSuchTid, pids, tgids, 33), -ENOENT);
}

/* In a helper process (unshare(CLONE_NEWPID) changes the namespace of its caller's later children for
 * good): a child in a new namespace is pid 1 there, one level below, and its namespace's parent is
 * the helper's. Exit status: 0 ok, 77 not permitted here, else the failed step. */
int child_namespace_checks() {
    if (unshare(CLONE_NEWPID) != 0)
        return 77;
    int go[2];
    if (pipe(go) != 0)
        return 2;
    pid_t child = fork();
    if (child < 0)
        return 3;
    if (child == 0) {
        char byte;
        close(go[1]);
        _exit(read(go[0], &byte, 1) == 1 ? 0 : 1);
    }
    close(go[0]);
    int status = 0;
    pid_t mine[33], mine_t[33], theirs[33], theirs_t[33];
    long own = PalThreadNamespaceIds(getpid(), mine, mine_t, 33);
    long levels = PalThreadNamespaceIds(child, theirs, theirs_t, 33);
    if (own < 1 || levels != own + 1)
        status = 4;
    else if (theirs[levels - 1] != 1 || theirs_t[levels - 1] != 1 || theirs[own - 1] != child)
        status = 5;
    else if (PalThreadNamespaceIds(child, theirs, theirs_t, static_cast<size_t>(own)) != -E2BIG)
        status = 10; /* too small a buffer says so rather than cutting the list */
    long nsfd = PalPidNamespaceOpen(child), own_fd = PalPidNamespaceOpen(getpid());
    long parent = nsfd >= 0 ? PalUserNamespaceParent(static_cast<int>(nsfd)) : -1;
    struct stat a = {}, b = {}, p = {};
    if (status == 0 && (nsfd < 0 || own_fd < 0 || parent < 0 || fstat(static_cast<int>(nsfd), &a) != 0 ||
                        fstat(static_cast<int>(own_fd), &b) != 0 || fstat(static_cast<int>(parent), &p) != 0))
        status = 6;
    else if (status == 0 && (a.st_ino == b.st_ino || p.st_ino != b.st_ino))
        status = 7;
    /* The kernel's translation, where it has one: pid 1 of the new namespace is the child. */
    if (status == 0 && nsfd >= 0) {
        long translated = PalPidNamespaceTranslate(static_cast<int>(nsfd), 1);
        if (translated != child && translated != -ENOTTY && translated != -EINVAL)
            status = 11;
        else if (translated == child && PalPidNamespaceTranslate(static_cast<int>(nsfd), 2) != -ESRCH)
            status = 12; /* the namespace has no pid 2 */
    }
    if (write(go[1], "g", 1) != 1 && status == 0)
        status = 8;
    int child_status = 0;
    if (waitpid(child, &child_status, 0) != child && status == 0)
        status = 9;
    return status;
}

TEST(PalPidNamespaces, ChildOfANewNamespace) {
    LIBOS_SKIP_UNDER_EMULATION("the namespace ioctls (NS_GET_PARENT, NS_GET_PID_FROM_PIDNS)");
    pid_t helper = fork();
    ASSERT_GE(helper, 0);
    if (helper == 0)
        _exit(child_namespace_checks());
    int status = 0;
    ASSERT_EQ(waitpid(helper, &status, 0), helper);
    ASSERT_TRUE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        GTEST_SKIP() << "unshare(CLONE_NEWPID) is not permitted here";
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the step that failed (child_namespace_checks)";
}

TEST(PalPidNamespaces, PidfdHoldsAThreadUntilItEnds) {
    std::atomic<pid_t> tid{0};
    std::atomic<bool> go{false};
    std::thread t([&] {
        tid = gettid();
        while (!go)
            std::this_thread::yield();
    });
    while (!tid)
        std::this_thread::yield();
    long fd = PalThreadPidfd(tid);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(PalPidfdEnded(static_cast<int>(fd)), 0);
    go = true;
    t.join();
    /* join returns once the thread has released its memory, a moment before the kernel reaps it
     * (a thread reaps itself): wait for the pidfd to say so (one that never did would hang here). */
    struct pollfd p = {static_cast<int>(fd), POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, -1), 1);
    long ended;
    while ((ended = PalPidfdEnded(static_cast<int>(fd))) == 0)
        sched_yield();
    EXPECT_EQ(ended, 1);
    close(static_cast<int>(fd));
    EXPECT_LT(PalThreadPidfd(kNoSuchTid), 0);
}

/* A zombie keeps its pid: the kernel still finds it by it (sched_getaffinity answers), so it has not
 * ended for a handler that acts on it by that pid; once reaped, its pid may be another task's. */
TEST(PalPidNamespaces, PidfdOfAZombieHasNotEndedUntilReaped) {
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0)
        _exit(0);
    long fd = PalThreadPidfd(child);
    ASSERT_GE(fd, 0);
    siginfo_t info;
    ASSERT_EQ(waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT), 0);
    cpu_set_t set;
    ASSERT_EQ(sched_getaffinity(child, sizeof(set), &set), 0) << "the kernel finds a zombie by its pid";
    EXPECT_EQ(PalPidfdEnded(static_cast<int>(fd)), 0);
    ASSERT_EQ(waitpid(child, nullptr, 0), child);
    EXPECT_EQ(PalPidfdEnded(static_cast<int>(fd)), 1);
    close(static_cast<int>(fd));
}

/* NSpid and NStgid come after Groups, which may be long: a thread in 800 supplementary groups (a
 * status file of some 7 KiB) still has its ids read. */
TEST(PalPidNamespaces, IdsOfAThreadInManyGroups) {
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        static gid_t groups[800];
        for (int i = 0; i < 800; ++i)
            groups[i] = static_cast<gid_t>(100000 + i);
        if (setgroups(800, groups) != 0)
            _exit(77);
        pid_t pids[33], tgids[33];
        long levels = PalThreadNamespaceIds(getpid(), pids, tgids, 33);
        _exit(levels >= 1 && pids[levels - 1] == getpid() && tgids[levels - 1] == getpid() ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        GTEST_SKIP() << "setgroups is not permitted here";
    EXPECT_EQ(WEXITSTATUS(status), 0) << "PalThreadNamespaceIds failed for a thread in 800 groups";
}

}  // namespace
