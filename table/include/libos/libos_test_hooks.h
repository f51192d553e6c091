/* Test-only points in the LibOS where a test runs code of its own (meson option test_hooks; nothing
 * is there in a build without it): a test stops a writer between two of its steps, deterministically,
 * by doing there what another process or thread would do in the race it checks
 * (tests/unit/numa_moves_test.cpp). */
#ifndef LIBOS_TEST_HOOKS_H
#define LIBOS_TEST_HOOKS_H

namespace libos {

enum class TestPoint : int {
    /* numa_post_move: the move's entry is claimed (odd seq, writer named), its body not written yet */
    kNumaPostWriting,
    /* numa_adopt_moves: a move for this process taken into its records, not yet marked taken */
    kNumaTaking,
    /* another process's records read: the directory, counts and migrations read, the ranges and the
     * moved pages not yet */
    kNumaRemoteBetweenReads,
    /* numa_move_abandoned: a pending move's writer about to be looked at (system calls) */
    kNumaWriterLook,
};

#ifdef LIBOS_TEST_HOOKS
using TestHook = void (*)(TestPoint);
/* Called at every point while set. */
extern TestHook g_test_hook;
inline void test_point(TestPoint point) {
    if (TestHook hook = __atomic_load_n(&g_test_hook, __ATOMIC_ACQUIRE))
        hook(point);
}
#else
inline void test_point(TestPoint) {}
#endif

}  // namespace libos

#endif
