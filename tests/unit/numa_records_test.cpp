/* The NUMA records of ranges and pages (table/sys/libos_numa_ranges.cpp), on addresses alone: how they
 * follow the memory calls (cut, moved, grown, forgotten), the home node's split, the count that keeps
 * the memory calls free while no record exists, a writer interrupted by its own signal handler, and
 * the task policy published for other processes (by a fork child, and by a signal handler).
 * Each test runs in a fork child: the tables are the process's. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <thread>

#include <gtest/gtest.h>

#include "libos/libos_numa.h"
#include "pal/pal.h"
#include "sys/libos_numa_internal.h"
#include "test_util.h"

namespace {

using libos::VirtualPolicy;

constexpr uintptr_t kPage = 4096;
constexpr uintptr_t kBase = 0x100000000000ULL; /* addresses only: nothing is mapped there */

VirtualPolicy bind_policy() {
    VirtualPolicy p = {};
    p.mode = libos::kMpolBind;
    p.host_mode = libos::kMpolBind;
    p.home = -1;
    p.nodes.add(0);
    return p;
}

int home_at(uintptr_t addr) {
    VirtualPolicy p;
    return libos::numa_find_range(addr, &p) ? p.home : -100;
}

bool recorded(uintptr_t addr) {
    VirtualPolicy p;
    return libos::numa_find_range(addr, &p);
}

/* Runs `body` in a fork child, which exits with the number of its failed checks. */
template <class Body>
void in_child(Body body) {
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0)
        _exit(body());
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 0) << "failed checks in the child";
}

TEST(NumaRecords, CountedLiveOnlyWhileTheyExist) {
    in_child([] {
        int bad = libos::numa_records_live();
        bad += !libos::numa_record_range(kBase, kBase + kPage, bind_policy());
        bad += !libos::numa_records_live();
        libos::numa_forget_memory(kBase, kBase + kPage);
        bad += libos::numa_records_live();
        libos::numa_record_page(kBase, 1);
        bad += !libos::numa_pages_live();
        libos::numa_forget_memory(kBase, kBase + kPage);
        bad += libos::numa_records_live() + libos::numa_pages_live();
        return bad;
    });
}

TEST(NumaRecords, FollowTheMemoryCalls) {
    in_child([] {
        int bad = 0;
        const uintptr_t a = kBase, b = kBase + 64 * kPage;
        libos::numa_record_range(a, a + 2 * kPage, bind_policy());
        libos::numa_record_page(a + kPage, 1);
        /* Moved: the record and the page go to b; nothing stays at a. */
        libos::numa_move_memory(a, 2 * kPage, b, 2 * kPage, false);
        uint32_t stamp;
        bad += recorded(a) + !recorded(b + kPage) + recorded(b + 2 * kPage);
        bad += libos::numa_find_page(a + kPage, &stamp) != -1;
        bad += libos::numa_find_page(b + kPage, &stamp) != 1;
        /* MREMAP_DONTUNMAP: the old range keeps its policy. */
        libos::numa_move_memory(b, 2 * kPage, a, 2 * kPage, true);
        bad += !recorded(a) + !recorded(b);
        /* Grown in place: a record reaching the old end grows with it; shrunk: the tail is dropped. */
        libos::numa_move_memory(a, 2 * kPage, a, 4 * kPage, false);
        bad += !recorded(a + 3 * kPage);
        libos::numa_move_memory(a, 4 * kPage, a, kPage, false);
        bad += !recorded(a) + recorded(a + kPage);
        /* Unmapped in the middle: split. */
        libos::numa_forget_memory(b + kPage / 2, b + kPage);
        bad += !recorded(b) + recorded(b + kPage / 2) + !recorded(b + kPage);
        return bad;
    });
}

/* set_mempolicy_home_node on the middle of a recorded range: the home node holds there only. */
TEST(NumaRecords, HomeNodeSplitsTheRange) {
    in_child([] {
        int bad = !libos::numa_record_range(kBase, kBase + 4 * kPage, bind_policy());
        libos::numa_set_range_home(kBase + kPage, kBase + 2 * kPage, 1);
        bad += home_at(kBase) != -1;
        bad += home_at(kBase + kPage) != 1;
        bad += home_at(kBase + 2 * kPage) != -1;
        bad += home_at(kBase + 3 * kPage) != -1;
        return bad;
    });
}

/* A signal handler that records a range while its own thread is inside the range table's write
 * section must not wait for itself, nor take the section over: it records nothing, and its range is
 * cut when the interrupted write ends. The write is interrupted deterministically: with the table
 * full, recording collects the records the host no longer confirms, asking the host with
 * get_mempolicy, which a seccomp filter turns into SIGSYS. */
volatile sig_atomic_t g_nested_calls = 0;
volatile sig_atomic_t g_nested_recorded = 0;
constexpr uintptr_t kHandlerRange = kBase + 1000 * kPage;

void on_sigsys(int, siginfo_t*, void* context) {
    g_nested_calls = g_nested_calls + 1;
    if (libos::numa_record_range(kHandlerRange, kHandlerRange + kPage, bind_policy()))
        g_nested_recorded = g_nested_recorded + 1;
#if defined(__aarch64__)
    static_cast<ucontext_t*>(context)->uc_mcontext.regs[0] = static_cast<uint64_t>(-ENOSYS);
#else
    static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#endif
}

TEST(NumaRecords, SignalHandlerInsideTheWriteDoesNotWaitForItself) {
    LIBOS_SKIP_UNDER_EMULATION("seccomp filters");
    in_child([] {
        int bad = 0;
        libos::numa_max_nodes(); /* the machine's nodes are built before the filter */
        for (uint32_t i = 0; i < libos::kRangeSlots; ++i)
            bad += !libos::numa_record_range(kBase + 2 * i * kPage, kBase + (2 * i + 1) * kPage, bind_policy());
        struct sigaction sa = {};
        sa.sa_sigaction = on_sigsys;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGSYS, &sa, nullptr);
        sock_filter code[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_get_mempolicy, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        sock_fprog prog = {static_cast<unsigned short>(sizeof(code) / sizeof(code[0])), code};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            PalSyscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, reinterpret_cast<long>(&prog), 0, 0, 0) != 0)
            return 100;
        const uintptr_t last = kBase + 4000 * kPage;
        bad += !libos::numa_record_range(last, last + kPage, bind_policy()); /* collected: every ask failed */
        bad += g_nested_calls == 0;
        bad += g_nested_recorded != 0;
        bad += recorded(kHandlerRange);
        bad += !recorded(last);
        return bad;
    });
}

/* The task policy other processes read (libos_numa_remote.cpp): the directory's copy. */
bool published(VirtualPolicy* out) {
    const libos::NumaDirectory& dir = libos::g_numa_directory;
    if (dir.task_seq->load() & 1 || *dir.task_valid != 1)
        return false;
    *out = *dir.task_policy;
    return true;
}

VirtualPolicy bind_to(uint32_t node) {
    VirtualPolicy p = bind_policy();
    p.nodes = {};
    p.nodes.add(node);
    return p;
}

/* A fork child's task policy is its only thread's, the one that forked: not the policy its parent's
 * first thread published. */
TEST(NumaRecords, ForkChildPublishesTheForkingThreadsPolicy) {
    in_child([] {
        libos::numa_set_thread_policy(bind_to(1)); /* this thread is the first: published */
        int bad = 0;
        VirtualPolicy seen;
        bad += !published(&seen) || !seen.nodes.has(1);
        std::thread other([&bad] {
            libos::numa_set_thread_policy(bind_to(2));
            pid_t child = fork();
            if (child == 0) {
                libos::numa_after_fork_child(); /* the shim's fork hook (after_fork_child) calls it */
                VirtualPolicy p;
                _exit(!published(&p) || !p.nodes.has(2) || p.nodes.has(1));
            }
            int status = 0;
            bad += child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
        });
        other.join();
        bad += !published(&seen) || !seen.nodes.has(1); /* the parent's is unchanged */
        return bad;
    });
}

/* A signal handler on the first thread setting its policy while the thread is setting its own: the
 * policy published is the thread's record, the last one set, the handler's. The handler runs
 * deterministically between the thread's record and its publication: at the second getpid of the
 * write (whether the thread is the first; the first asks whether it is a vfork child), which a
 * seccomp filter turns into SIGSYS. Every getpid, the handler's own too (reentering it, SA_NODEFER),
 * is answered by the handler. */
pid_t g_pid = 0;
volatile sig_atomic_t g_depth = 0;
volatile sig_atomic_t g_outer_calls = 0;
volatile sig_atomic_t g_handler_set = 0;

void on_getpid(int, siginfo_t*, void* context) {
    g_depth = g_depth + 1;
    if (g_depth == 1)
        g_outer_calls = g_outer_calls + 1;
    if (g_depth == 1 && g_outer_calls == 2) {
        g_handler_set = 1;
        libos::numa_set_thread_policy(bind_to(3));
    }
    g_depth = g_depth - 1;
#if defined(__aarch64__)
    static_cast<ucontext_t*>(context)->uc_mcontext.regs[0] = static_cast<uint64_t>(g_pid);
#else
    static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RAX] = g_pid;
#endif
}

TEST(NumaRecords, SignalHandlersPolicyIsTheOnePublished) {
    LIBOS_SKIP_UNDER_EMULATION("seccomp filters");
    in_child([] {
        g_pid = getpid();
        if (g_pid != static_cast<pid_t>(syscall(SYS_gettid)))
            return 100;
        struct sigaction sa = {};
        sa.sa_sigaction = on_getpid;
        sa.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigaction(SIGSYS, &sa, nullptr);
        sock_filter code[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpid, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        sock_fprog prog = {static_cast<unsigned short>(sizeof(code) / sizeof(code[0])), code};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            PalSyscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, reinterpret_cast<long>(&prog), 0, 0, 0) != 0)
            return 100;
        libos::numa_set_thread_policy(bind_to(1));
        int bad = !g_handler_set;
        VirtualPolicy seen;
        const VirtualPolicy* own = libos::numa_thread_policy();
        bad += !own || !own->nodes.has(3); /* the handler's, set after the thread's */
        bad += !published(&seen) || !seen.nodes.has(3) || seen.nodes.has(1);
        return bad;
    });
}

}  // namespace
