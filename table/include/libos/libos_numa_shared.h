/* What the processes of a launch share about virtual NUMA, in the launch's shared state
 * (table/machine/numa_shared.cpp), beside the thread slots and not in them:
 *   - per slot, a hint: where the records of the process whose first thread holds the slot are, in
 *     its own address space (its g_numa_directory), so that a reader of another process's records
 *     (libos_numa_remote.cpp) need not read two maps files to find them;
 *   - a ring of moves made on another process's pages by move_pages(pid, ..., nodes) and
 *     migrate_pages(pid, ...) between virtual nodes the host cannot tell apart (it moved nothing):
 *     the moved process takes them into its own records, and readers apply those it has not taken
 *     yet (libos_numa_moves.cpp).
 * Everything here is written by other processes: input, checked by whoever reads it. */
#ifndef LIBOS_NUMA_SHARED_H
#define LIBOS_NUMA_SHARED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <atomic>

namespace libos {

/* One move, as posted and read. The moved process is named by its pid in the mover's PID namespace
 * (`ns`), and by `nonce`, the first 8 bytes the kernel gave it at exec (AT_RANDOM): an exec or a reused
 * pid is another. */
enum NumaMoveKind : uint32_t { kNumaMovePages = 1, kNumaMoveRemap = 2 };
struct NumaMoveData {
    int32_t pid;
    uint32_t ns;
    uint32_t kind;
    uint32_t pages;
    uint64_t nonce;
    uint64_t first_page; /* kNumaMovePages: pages [first_page, first_page + pages) went to `node` */
    uint64_t from;       /* kNumaMoveRemap: the kernel's node_remap of `from` onto `to` (nodes < 64) */
    uint64_t to;
    uint32_t node;
    uint32_t unused;
};
/* The ring's entry. `seq` is 2 * (index + 1) when the entry at ring index `index` is whole, and
 * 2 * index + 1 while thread `writer` of PID namespace `ns` (the post's namespace too) writes it: both
 * are written before the odd number, so a reader that finds a move unfinished knows whose it is. */
struct NumaMoveBody {
    int32_t pid;
    uint32_t kind;
    uint32_t pages;
    uint32_t node;
    uint64_t nonce;
    uint64_t first_page;
    uint64_t from;
    uint64_t to;
};
struct NumaMove {
    std::atomic<uint32_t> seq;
    std::atomic<uint32_t> writer;
    std::atomic<uint32_t> ns;
    uint32_t unused;
    NumaMoveBody body;
};
static_assert(sizeof(NumaMove) == 64, "a move is a cache line");
constexpr uint32_t kNumaMoveSlots = 256; /* the ring: older moves not yet taken are lost */

/* The calling process's records are at `directory` (written for its first thread's slot, only when
 * the shared state is already mapped: nothing is created for it). */
void numa_share_directory(uintptr_t directory);
/* Process `pid`'s directory as written for its first thread's slot (by it, or by a reader that found
 * it), or 0: a hint to be checked. */
uintptr_t numa_directory_hint(pid_t pid);
void numa_note_directory_hint(pid_t pid, uintptr_t directory);

/* The ring: the index the next move gets (0 when there is no shared state, or none mapped yet and
 * `map` is false), and a move posted (its seq, writer and namespace filled in here). */
uint64_t numa_move_head(bool map);
bool numa_post_move(const NumaMoveData& move);
/* The move at `index`: whole (copied out), pending (its writer has not finished it, or has not begun:
 * the index is given out before the entry is written), or lost (overwritten by a later move, or
 * nothing the ring can hold). */
enum class MoveState { kWhole, kPending, kLost };
MoveState numa_read_move(uint64_t index, NumaMoveData* out);
/* Whether the pending move at `index` will never be finished, so that the process taking its moves
 * may pass it by: its writer is gone (no such thread in its namespace) at once; otherwise, for the
 * first pending move of a pass (`first`), once it has stayed pending for the budget of a wait on
 * another thread (machine_internal.h: 20 ms, 2 s for a live thread of the launch, and for a move not
 * begun, whose writer is unknown) since this process first found it so. A stopped writer that comes
 * back later finishes a move no one takes. */
bool numa_move_abandoned(uint64_t index, bool first);
/* This process's PID namespace tag, as the slots are tagged (0: unknown, matches every tag). */
uint32_t numa_pid_namespace();
bool numa_same_pid_namespace(uint32_t ns);

}  // namespace libos

#endif
