/* The NUMA records of ranges and pages (table/sys/libos_numa_ranges.cpp), on addresses alone: how they
 * follow the memory calls (cut, moved, grown, forgotten), the home node's split, and the count that
 * keeps the memory calls free while no record exists.
 * Each test runs in a fork child: the tables are the process's. */
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "libos/libos_numa.h"
#include "pal/pal.h"

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

}  // namespace
