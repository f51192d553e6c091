/* The ring of moves made on another process's pages (table/machine/numa_shared.cpp,
 * table/sys/libos_numa_moves.cpp, table/sys/libos_numa_remote.cpp), in the races between its writer,
 * the moved process that takes its moves, and a reader of that process's records. Each race is played
 * deterministically at a test point (libos_test_hooks.h, meson option test_hooks): the hook does, in
 * the middle of one party's steps, what the other party would do there. Each test runs in a fork
 * child of its own, on a machine of its own (LIBOS_CPUS, LIBOS_NUMA) whose shared state it creates;
 * the moves it posts name that child, which is both the moved process and, through process_vm_readv
 * on itself, the reader of its records. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "libos/libos_init.h"
#include "libos/libos_numa.h"
#include "libos/libos_numa_shared.h"
#include "libos/libos_test_hooks.h"
#include "libos/libos_threads.h"
#include "pal/pal.h"
#include "test_util.h"
#include "sys/libos_numa_internal.h"

namespace {

#ifdef LIBOS_TEST_HOOKS

constexpr uintptr_t kPage = 4096;
constexpr uintptr_t kBase = 0x100000000000ULL; /* addresses only: records, nothing mapped */
constexpr uintptr_t kOther = kBase + 64 * kPage;

/* Runs `body` in a fork child, which exits with the number of its failed checks (100 and up: the
 * machine could not be set up). */
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

/* A machine of 8 vCPUs on `nodes` nodes, with its shared state: 0, or 100 and up. */
int machine(const char* nodes, uint32_t count) {
    setenv("LIBOS_CPUS", "8", 1);
    setenv("LIBOS_NUMA", nodes, 1);
    if (!libos::is_virtual() || !libos::ensure_region())
        return 100;
    if (!libos::numa_virtual() || libos::numa_node_count() != count)
        return 101;
    if (!libos::find_slot(getpid()))
        return 102;
    return 0;
}

/* A move of one page of this process to `node`, as another process of the launch posts it. */
libos::NumaMoveData page_move(pid_t pid, uintptr_t page, uint32_t node) {
    libos::NumaMoveData m = {};
    m.pid = pid;
    m.ns = libos::numa_pid_namespace();
    m.kind = libos::kNumaMovePages;
    m.first_page = page / kPage;
    m.pages = 1;
    m.node = node;
    libos::numa_own_nonce(&m.nonce); /* a fork child's are its parent's: the pid tells them apart */
    return m;
}

libos::NodeBits nodes_of(std::initializer_list<uint32_t> list) {
    libos::NodeBits bits = {};
    for (uint32_t n : list)
        bits.add(n);
    return bits;
}

int page_node(uintptr_t page) {
    uint32_t stamp;
    return libos::numa_find_page(page, &stamp);
}

bool all_taken() {
    return libos::g_adopted_moves.load() == libos::numa_move_head(false);
}

struct Hooked {
    explicit Hooked(libos::TestHook hook) { libos::g_test_hook = hook; }
    ~Hooked() { libos::g_test_hook = nullptr; }
};

int g_calls = 0;

/* The moved process looks while a move for it is still being written: the move is left for its next
 * look, not marked taken and lost. */
void look_while_written(libos::TestPoint point) {
    if (point == libos::TestPoint::kNumaPostWriting && g_calls++ == 0)
        libos::numa_adopt_moves();
}

TEST(NumaMoves, MoveBeingWrittenIsTakenOnceFinished) {
    LIBOS_SKIP_UNDER_EMULATION("the memory-policy calls (ENOSYS): the host's node count is not found");
    in_child([] {
        if (int failed = machine("2", 2))
            return failed;
        int bad = 0;
        {
            Hooked hook(look_while_written);
            bad += !libos::numa_post_move(page_move(getpid(), kBase, 1));
        }
        bad += g_calls != 1;
        bad += all_taken();      /* the taken index stopped before the unfinished move */
        bad += page_node(kBase) != -1;
        libos::numa_adopt_moves(); /* the next look takes it */
        bad += page_node(kBase) != 1;
        bad += !all_taken();
        return bad;
    });
}

/* While a move is being written, a later one is posted and taken: it is marked taken beyond the taken
 * index, and not taken again when the first is. The later one is a migration of nodes 0-1 onto 1-2,
 * which taken twice would carry a page from 0 past 1 to 2. */
void post_and_look_while_written(libos::TestPoint point) {
    if (point != libos::TestPoint::kNumaPostWriting || g_calls++ != 0)
        return;
    libos::numa_post_remote_remap(getpid(), nodes_of({0, 1}), nodes_of({1, 2}));
    libos::numa_adopt_moves();
}

TEST(NumaMoves, LaterMovesAreTakenOnceAroundAnUnfinishedOne) {
    LIBOS_SKIP_UNDER_EMULATION("the memory-policy calls (ENOSYS): the host's node count is not found");
    in_child([] {
        if (int failed = machine("4", 4))
            return failed;
        int bad = 0;
        libos::numa_record_page(kBase, 0);
        {
            Hooked hook(post_and_look_while_written);
            bad += !libos::numa_post_move(page_move(getpid(), kOther, 3));
        }
        bad += (g_calls != 2) * 10; /* the hook, and the migration's own post inside it */
        bad += page_node(kBase) != 1; /* the migration was taken at the look inside the write */
        bad += page_node(kOther) != -1;
        bad += all_taken();
        libos::numa_adopt_moves();
        bad += page_node(kOther) != 3;
        bad += page_node(kBase) != 1; /* not migrated again */
        const libos::RemapRecord* remaps;
        bad += libos::numa_own_remaps(&remaps) != 1;
        bad += !all_taken();
        return bad;
    });
}

/* A writer that died in the middle of its move holds nothing up: its move is passed by (its writer
 * is gone), the taken index reaches the head, and later moves are taken. */
void die_while_writing(libos::TestPoint point) {
    if (point == libos::TestPoint::kNumaPostWriting)
        _exit(0);
}

TEST(NumaMoves, WriterThatDiedMidWayIsPassedBy) {
    LIBOS_SKIP_UNDER_EMULATION("the memory-policy calls (ENOSYS): the host's node count is not found");
    in_child([] {
        if (int failed = machine("2", 2))
            return failed;
        int bad = 0;
        const pid_t self = getpid();
        const pid_t writer = fork();
        if (writer == 0) {
            libos::g_test_hook = die_while_writing;
            libos::numa_post_move(page_move(self, kBase, 1));
            _exit(1);
        }
        int status = 0;
        if (writer < 0 || waitpid(writer, &status, 0) != writer || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            return 103;
        bad += libos::numa_move_head(false) != 1;
        bad += !libos::numa_post_move(page_move(self, kOther, 1));
        libos::numa_adopt_moves();
        bad += page_node(kOther) != 1;
        bad += page_node(kBase) != -1; /* nothing of the dead writer's is taken */
        bad += !all_taken();
        return bad;
    });
}

/* A reader of the process's records between its two reads (the counts, migrations and taken index;
 * then the moved pages) while the process takes a migration: it must not see the pages it moved with
 * the taken index from before, and apply the migration again. */
void take_between_reads(libos::TestPoint point) {
    if (point == libos::TestPoint::kNumaRemoteBetweenReads && g_calls++ == 0)
        libos::numa_adopt_moves();
}

/* Posts a migration of nodes 0-1 onto 1-2 for a process whose page at kBase is recorded on node 0:
 * taken once, the page is on node 1; twice, on node 2. */
int page_on_node_0_then_migration() {
    libos::numa_record_page(kBase, 0);
    libos::numa_share_own_directory();
    const uint64_t head = libos::numa_move_head(false);
    libos::numa_post_remote_remap(getpid(), nodes_of({0, 1}), nodes_of({1, 2}));
    return libos::numa_move_head(false) != head + 1 ? 104 : 0;
}

/* What a reader sees as the node of the page at kBase: -2 when it cannot read the records. */
int read_page_node() {
    libos::NumaRemote* remote = libos::numa_remote_open(getpid());
    if (!remote)
        return -2;
    uint32_t stamp;
    const int node = libos::numa_remote_find_page(remote, kBase, &stamp);
    libos::numa_remote_close(remote);
    return node;
}

TEST(NumaMoves, ReaderBetweenItsReadsWhileMovesAreTaken) {
    LIBOS_SKIP_UNDER_EMULATION("the memory-policy calls (ENOSYS): the host's node count is not found");
    in_child([] {
        if (int failed = machine("4", 4))
            return failed;
        if (int failed = page_on_node_0_then_migration())
            return failed;
        int bad = 0;
        int seen;
        {
            Hooked hook(take_between_reads);
            seen = read_page_node();
        }
        bad += g_calls < 1;
        bad += (seen != 1) * 10;
        bad += page_node(kBase) != 1;
        bad += !all_taken();
        return bad;
    });
}

/* A reader while the process is in the middle of taking the migration (its records changed, the
 * taken index not yet): it sees the records of before or after, or none, never the migration twice. */
int g_seen_inside = -3;

void read_while_taking(libos::TestPoint point) {
    if (point == libos::TestPoint::kNumaTaking && g_calls++ == 0)
        g_seen_inside = read_page_node();
}

TEST(NumaMoves, ReaderWhileTheProcessTakesMoves) {
    LIBOS_SKIP_UNDER_EMULATION("the memory-policy calls (ENOSYS): the host's node count is not found");
    in_child([] {
        if (int failed = machine("4", 4))
            return failed;
        if (int failed = page_on_node_0_then_migration())
            return failed;
        int bad = 0;
        {
            Hooked hook(read_while_taking);
            libos::numa_adopt_moves();
        }
        bad += g_calls != 1;
        bad += (g_seen_inside == 2) * 10;
        bad += g_seen_inside != -2 && g_seen_inside != 0 && g_seen_inside != 1;
        bad += read_page_node() != 1; /* and after it, the migration once */
        return bad;
    });
}

/* A reader while the process looks at the writer of a move still being written (system calls, where
 * it may be stopped for good, or preempted on a loaded machine): the records are whole there, so the
 * reader reads them (the migration taken before, once), rather than giving up on a sequence number
 * left odd and answering by the host's node alone. */
int g_seen_at_look = -3;

void read_while_writer_looked_at(libos::TestPoint point) {
    if (point == libos::TestPoint::kNumaPostWriting && g_calls++ == 0)
        libos::numa_adopt_moves();
    else if (point == libos::TestPoint::kNumaWriterLook && g_seen_at_look == -3)
        g_seen_at_look = read_page_node();
}

TEST(NumaMoves, ReaderWhileAPendingMovesWriterIsLookedAt) {
    LIBOS_SKIP_UNDER_EMULATION("the memory-policy calls (ENOSYS): the host's node count is not found");
    in_child([] {
        if (int failed = machine("4", 4))
            return failed;
        if (int failed = page_on_node_0_then_migration())
            return failed;
        int bad = 0;
        {
            Hooked hook(read_while_writer_looked_at);
            bad += !libos::numa_post_move(page_move(getpid(), kOther, 3));
        }
        bad += g_calls != 1;
        bad += (g_seen_at_look != 1) * 10; /* -2: the reader gave up */
        bad += page_node(kBase) != 1;
        libos::numa_adopt_moves();
        bad += page_node(kOther) != 3;
        bad += page_node(kBase) != 1;
        bad += read_page_node() != 1;
        bad += !all_taken();
        return bad;
    });
}

/* A writer stopped in the middle of its move while 256 later moves are posted, the last of them for
 * this process in the stopped writer's entry: the writer, back, leaves that later move as it is (it
 * overwrote its body and made it look unfinished, so that it was lost, after a wait of 2 s). */
void lap_while_written(libos::TestPoint point) {
    if (point != libos::TestPoint::kNumaPostWriting || g_calls++ != 0)
        return;
    for (uint32_t i = 0; i + 1 < libos::kNumaMoveSlots; ++i)
        libos::numa_post_move(page_move(getpid() + 1, kBase, 2)); /* another process's */
    libos::numa_post_move(page_move(getpid(), kOther, 3));
}

TEST(NumaMoves, StoppedWriterLappedLeavesTheLaterMove) {
    LIBOS_SKIP_UNDER_EMULATION("the memory-policy calls (ENOSYS): the host's node count is not found");
    in_child([] {
        if (int failed = machine("4", 4))
            return failed;
        int bad = 0;
        bool posted;
        {
            Hooked hook(lap_while_written);
            posted = libos::numa_post_move(page_move(getpid(), kBase, 1));
        }
        bad += posted; /* its entry was another's by then: lost */
        bad += libos::numa_move_head(false) != libos::kNumaMoveSlots + 1;
        libos::numa_adopt_moves();
        bad += (page_node(kOther) != 3) * 10;
        bad += page_node(kBase) != -1;
        bad += !all_taken();
        return bad;
    });
}

#else

TEST(NumaMoves, NeedTestHooks) {
    GTEST_SKIP() << "this build has test_hooks=false";
}

#endif

}  // namespace
