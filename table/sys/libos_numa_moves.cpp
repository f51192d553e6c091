/* Moves of another process's pages between virtual nodes (libos_numa_shared.h).
 *
 * move_pages(pid, ..., nodes) and migrate_pages(pid, ...) on another process of the launch are made
 * on the host first, which judges the right to them as the kernel does (the task, ESRCH;
 * PTRACE_MODE_READ_REALCREDS, EPERM; MPOL_MF_MOVE_ALL and new nodes outside the target's allowed ones
 * without CAP_SYS_NICE, EPERM). When the virtual nodes share a host node the host moves nothing, and
 * the other process's records are its own memory: so the mover posts what it moved to the launch's
 * ring, naming the process by pid and by the bytes the kernel gave it at exec (AT_RANDOM: an exec or
 * a reused pid is another process). The moved process takes the posts naming it into its own records
 * at its next memory-policy look-up (pages: recorded as moved; a migration: the pages recorded as
 * moved follow it, and it is kept, with its stamp, for the pages its policies place); a reader of its
 * records (libos_numa_remote.cpp) applies those it has not taken yet. A move still being written when
 * the process looks is taken at a later look (the taken index stops before it; the moves after it are
 * taken and marked), unless its writer will never finish it (numa_move_abandoned). A post is input
 * from another process: its nodes must be the machine's and its pages user addresses. */
#include <string.h>
#include <sys/auxv.h>

#include "libos/libos_numa.h"
#include "libos/libos_numa_shared.h"
#include "libos/libos_sections.h"
#include "libos/libos_test_hooks.h"
#include "libos/libos_text.h"
#include "libos/libos_threads.h"
#include "libos_numa_internal.h"
#include "pal/pal.h"

namespace libos {

constinit RemapRecord g_remaps[kRemapSlots] = {};
constinit std::atomic<uint32_t> g_remap_count{0};
constinit std::atomic<uint64_t> g_adopted_moves{0};
constinit uint64_t g_taken_beyond[kTakenWords] = {};
constinit std::atomic<uint32_t> g_adopt_seq{0};

namespace {

constexpr uintptr_t kPageBytes = 4096;
/* One taker at a time; another thread (or a signal handler on top of the taker) finds the flag set
 * and goes on with the records as they are: it never waits. */
constinit std::atomic<bool> g_adopting{false};

uint64_t first_nodes_mask(const NodeBits& nodes) {
    return nodes.words[0];
}

void set_taken(uint64_t* bits, uint64_t index, bool taken) {
    const uint64_t bit = uint64_t{1} << (index % 64);
    uint64_t& word = bits[(index % kNumaMoveSlots) / 64];
    word = taken ? word | bit : word & ~bit;
}

}  // namespace

bool numa_move_taken(const uint64_t* bits, uint64_t adopted, uint64_t index) {
    if (index < adopted)
        return true;
    return index - adopted < kNumaMoveSlots && ((bits[(index % kNumaMoveSlots) / 64] >> (index % 64)) & 1);
}

int numa_remap_node(uint32_t node, uint64_t from, uint64_t to) {
    if (node >= 64 || !((from >> node) & 1) || from == 0 || to == 0)
        return -1;
    const int from_count = __builtin_popcountll(from), to_count = __builtin_popcountll(to);
    if (from_count != to_count && ((to >> node) & 1))
        return -1; /* the kernel's do_migrate_pages leaves such a node's pages where they are */
    const int rank = __builtin_popcountll(from & ((1ULL << node) - 1)) % to_count;
    uint64_t rest = to;
    for (int r = 0; r < rank; ++r)
        rest &= rest - 1;
    return __builtin_ctzll(rest);
}

uint32_t numa_remapped(uint32_t node, uint32_t since, const RemapRecord* remaps, uint32_t count) {
    for (uint32_t i = 0; i < count && i < kRemapSlots; ++i) {
        if (static_cast<int32_t>(remaps[i].stamp - since) <= 0)
            continue;
        const int to = numa_remap_node(node, remaps[i].from, remaps[i].to);
        if (to >= 0 && static_cast<uint32_t>(to) < numa_node_count())
            node = static_cast<uint32_t>(to);
    }
    return node;
}

bool numa_own_nonce(uint64_t* out) {
    const unsigned long at = getauxval(AT_RANDOM);
    if (!at)
        return false;
    memcpy(out, reinterpret_cast<const void*>(at), sizeof(*out));
    return true;
}

bool numa_process_nonce(pid_t pid, uint64_t* out) {
    const ProcPath path = ProcPath(pid).leaf("auxv");
    unsigned long auxv[128];
    const long len = PalReadFile(path.c_str(), reinterpret_cast<char*>(auxv), sizeof(auxv));
    if (len <= 0)
        return false;
    for (size_t i = 0; i + 1 < static_cast<size_t>(len) / sizeof(unsigned long); i += 2) {
        if (auxv[i] == AT_NULL)
            break;
        if (auxv[i] == AT_RANDOM)
            return PalProcessRead(pid, out, auxv[i + 1], sizeof(*out)) == 0;
    }
    return false;
}

void numa_share_own_directory() {
    numa_share_directory(reinterpret_cast<uintptr_t>(&g_numa_directory));
}

namespace {

/* numa_adopt_moves' work, out of line: its frame (a move's record, two node masks) is larger than the
 * check's, and the check runs before every fork, where each page of stack the parent writes is a
 * page fault (the fork write-protected it). */
__attribute__((noinline)) void adopt_moves(uint64_t head, uint64_t from) {
    /* A vfork child runs in its parent's memory, whose records and mark are the parent's. */
    if (in_parent_memory() || g_adopting.exchange(true, std::memory_order_acquire))
        return;
    numa_share_own_directory();
    uint64_t nonce = 0;
    const bool known = numa_own_nonce(&nonce);
    const pid_t pid = static_cast<pid_t>(PalProcessGetId());
    const uint32_t nodes = numa_node_count();
    /* Readers of these records (libos_numa_remote.cpp) take the moves, the taken index and its marks
     * only between two equal even numbers. */
    g_adopt_seq.fetch_add(1, std::memory_order_acq_rel);
    std::atomic_thread_fence(std::memory_order_release);
    if (head - from > kNumaMoveSlots) {
        /* The ring has moved on past them: lost. Their marks are cleared, being those of the indices
         * kNumaMoveSlots further on. */
        const uint64_t lost = head - kNumaMoveSlots;
        for (uint64_t i = from; i < lost && i - from < kNumaMoveSlots; ++i)
            set_taken(g_taken_beyond, i, false);
        from = lost;
        /* The marks now count from the new index: readers must see the two together (below, the
         * number is even while a pending move's writer is looked at). */
        g_adopted_moves.store(from, std::memory_order_release);
    }
    bool first_pending = true;
    for (uint64_t i = from; i < head; ++i) {
        if (numa_move_taken(g_taken_beyond, from, i))
            continue;
        NumaMoveData m;
        const MoveState state = numa_read_move(i, &m);
        if (state == MoveState::kPending) {
            /* Still being written: left for a later look (the taken index stops before it), unless
             * its writer will never finish it. */
            /* The look at its writer takes system calls, where this process may be stopped for
             * good: the records, taken index and marks are whole here, so readers may read them
             * meanwhile (a reader gives up after a few tries while the number is odd). */
            g_adopt_seq.fetch_add(1, std::memory_order_release);
            const bool abandoned = numa_move_abandoned(i, first_pending);
            g_adopt_seq.fetch_add(1, std::memory_order_acq_rel);
            std::atomic_thread_fence(std::memory_order_release);
            first_pending = false;
            if (!abandoned)
                continue;
        }
        const bool mine = state == MoveState::kWhole && known && m.pid == pid && m.nonce == nonce &&
                          numa_same_pid_namespace(m.ns);
        if (mine && m.kind == kNumaMovePages && m.node < nodes && m.pages <= kNumaMovePagesMax &&
            m.first_page < (~uintptr_t{0} / kPageBytes) - m.pages) {
            for (uint64_t p = m.first_page; p < m.first_page + m.pages; ++p)
                numa_record_page(static_cast<uintptr_t>(p * kPageBytes), m.node);
        } else if (mine && m.kind == kNumaMoveRemap && m.from && m.to) {
            NodeBits from_nodes = {}, to_nodes = {};
            from_nodes.words[0] = m.from;
            to_nodes.words[0] = m.to;
            numa_remap_pages(from_nodes, to_nodes);
            const uint32_t used = g_remap_count.load(std::memory_order_relaxed);
            if (used < kRemapSlots) {
                g_remaps[used] = RemapRecord{numa_next_stamp(), 0, m.from, m.to};
                g_remap_count.store(used + 1, std::memory_order_release);
            }
        }
        if (mine)
            test_point(TestPoint::kNumaTaking);
        set_taken(g_taken_beyond, i, true);
    }
    /* The taken index moves on to the first move not taken; the marks beyond it stay. */
    while (from < head && numa_move_taken(g_taken_beyond, from, from)) {
        set_taken(g_taken_beyond, from, false);
        ++from;
    }
    g_adopted_moves.store(from, std::memory_order_release);
    g_adopt_seq.fetch_add(1, std::memory_order_release);
    g_adopting.store(false, std::memory_order_release);
}

}  // namespace

LIBOS_FORK_PATH void numa_adopt_moves() {
    const uint64_t head = numa_move_head(false);
    const uint64_t from = g_adopted_moves.load(std::memory_order_relaxed);
    if (__builtin_expect(from >= head, 1))
        return;
    adopt_moves(head, from);
}

LIBOS_FORK_PATH void numa_before_fork() {
    numa_adopt_moves();
}

LIBOS_FORK_PATH void numa_moves_after_fork_child() {
    /* The child's only thread: a taker of the parent that the fork cut short is not one of its own
     * (its readers would find the sequence number odd for good). Written only then: each page of its
     * own memory a fork child writes is copied for it. */
    if (__builtin_expect(g_adopting.load(std::memory_order_relaxed), 0))
        g_adopting.store(false, std::memory_order_relaxed);
    const uint32_t seq = g_adopt_seq.load(std::memory_order_relaxed);
    if (__builtin_expect(seq & 1, 0))
        g_adopt_seq.store(seq + 1, std::memory_order_relaxed);
}

uint32_t numa_own_remaps(const RemapRecord** out) {
    *out = g_remaps;
    return g_remap_count.load(std::memory_order_acquire);
}

/* ---- the mover ------------------------------------------------------------------------------ */

namespace {

/* The process `pid` names, when it is one of the launch (its first thread holds a slot) and its
 * AT_RANDOM bytes can be read: the post's header. */
bool post_header(pid_t pid, NumaMoveData* m) {
    pid_t tgid = 0, ppid = 0;
    if (pid <= 0 || PalThreadProcess(pid, &tgid, &ppid) != 0 || tgid <= 0 || !find_slot(tgid))
        return false;
    memset(m, 0, sizeof(*m));
    m->pid = tgid;
    m->ns = numa_pid_namespace();
    return numa_process_nonce(tgid, &m->nonce);
}

}  // namespace

bool RemoteMoves::begin(pid_t pid) {
    active_ = post_header(pid, &header_);
    count_ = 0;
    return active_;
}

void RemoteMoves::add(uintptr_t page, uint32_t node) {
    if (!active_)
        return;
    const uint64_t number = page / kPageBytes;
    if (count_ && node == node_ && number == first_ + count_ && count_ < kNumaMovePagesMax) {
        ++count_;
        return;
    }
    flush();
    first_ = number;
    node_ = node;
    count_ = 1;
}

void RemoteMoves::flush() {
    if (!active_ || !count_)
        return;
    NumaMoveData m = header_;
    m.kind = kNumaMovePages;
    m.first_page = first_;
    m.pages = count_;
    m.node = node_;
    numa_post_move(m);
    count_ = 0;
}

void numa_post_remote_remap(pid_t pid, const NodeBits& from, const NodeBits& to) {
    /* Only the machine's first 64 nodes are described; a migration naming others is not posted. */
    for (size_t w = 1; w < kNodeWords; ++w)
        if (from.words[w] || to.words[w])
            return;
    if (!first_nodes_mask(from) || !first_nodes_mask(to))
        return;
    NumaMoveData m;
    if (!post_header(pid, &m))
        return;
    m.kind = kNumaMoveRemap;
    m.from = first_nodes_mask(from);
    m.to = first_nodes_mask(to);
    numa_post_move(m);
}

}  // namespace libos
