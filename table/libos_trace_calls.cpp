/* Where a traced call's record (tracer::Call) lives while the call runs: its paths, its CPU or node
 * mask and its structures make it some 2.7 KiB, which the caller's stack may not have beside the
 * call's own frames (a handler on an 8 KiB signal stack; a 16 KiB thread). So it is one of a static
 * set (untouched, so not resident, until tracing uses it), claimed with one atomic step, as the
 * line buffers are; on the stack only when all are in use.
 *
 * A thread keeps the set of records it holds in initial-exec TLS, so that a fork child, which has
 * only the forking thread, keeps exactly those (the fork's own record, and those of the handlers it
 * runs in) and frees the others' (their threads are not in it). A vfork child whose exec succeeds
 * never gives its exec's record back to the parent, whose memory it is: one record of 64 for good,
 * and with all 64 so lost, every traced call's record is on its stack, as before this set. (exit
 * and exit_group give theirs back before they end: a vfork child's _exit after a failed exec.) */
#include <new>

#include <atomic>

#include "libos/libos_sections.h"
#include "libos_trace_internal.h"

namespace libos::tracer {
namespace {

constexpr int kCallRecords = 64;
alignas(Call) LIBOS_LARGE_BSS constinit unsigned char g_records[kCallRecords][sizeof(Call)] = {};
constinit std::atomic<uint64_t> g_records_busy{0};
constinit thread_local uint64_t t_records_held __attribute__((tls_model("initial-exec"))) = 0;

}  // namespace

Call* claim_call(int* slot) {
    uint64_t busy = g_records_busy.load(std::memory_order_relaxed);
    while (~busy) {
        const int i = __builtin_ctzll(~busy);
        if (g_records_busy.compare_exchange_weak(busy, busy | 1ULL << i, std::memory_order_acquire,
                                                 std::memory_order_relaxed)) {
            /* A handler that interrupts this update holds and gives back its own record before it
             * returns: the word is the same again when this thread's store lands. */
            t_records_held |= 1ULL << i;
            *slot = i;
            return new (g_records[i]) Call{};
        }
    }
    *slot = -1;
    return nullptr;
}

void release_call(int slot) {
    if (slot < 0)
        return;
    t_records_held &= ~(1ULL << slot);
    g_records_busy.fetch_and(~(1ULL << slot), std::memory_order_release);
}

void calls_after_fork() {
    g_records_busy.store(t_records_held, std::memory_order_relaxed);
}

}  // namespace libos::tracer
