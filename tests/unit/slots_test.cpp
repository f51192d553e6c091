// The slots of the shared state (libos_threads.h) when a set and strict mode's creator inference race
// for a thread that has no slot yet: the supervisor's answer to the thread's own first
// sched_getaffinity infers its creator's mask from what the host said before the set, while another
// supervisor thread answers the creator's pthread_setaffinity_np on it and claims the slot with the
// new mask. Whichever comes second, the slot must end with the set's mask (register_inferred keeps a
// slot claimed since the reader looked for it and found none; the set overwrites an inference). The
// orders are played here one after the other, in a process of their own with an 8-vCPU machine.
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "libos/libos_init.h"
#include "libos/libos_threads.h"
#include "pal/pal.h"

namespace {

int g_hold[2];

void* waiting(void* out) {
    *static_cast<pid_t*>(out) = static_cast<pid_t>(PalThreadGetId());
    char byte;
    (void)!read(g_hold[0], &byte, 1);
    return nullptr;
}

libos::CpuBits bits(std::initializer_list<unsigned> cpus) {
    libos::CpuBits b = {};
    for (unsigned c : cpus)
        b.words[c / 64] |= uint64_t{1} << (c % 64);
    return b;
}

/* A live thread's tid (slots are judged by whether their thread lives), waiting until the end. */
pid_t live_thread(pthread_t* thread) {
    static pid_t tid;
    tid = 0;
    if (pthread_create(thread, nullptr, waiting, &tid) != 0)
        return 0;
    while (__atomic_load_n(&tid, __ATOMIC_ACQUIRE) == 0)
        usleep(100);
    return tid;
}

/* 0, or the number of the check that failed. */
int race_checks() {
    setenv("LIBOS_CPUS", "8", 1);
    libos::ensure_init();
    if (!libos::is_virtual() || !libos::ensure_region())
        return 1;
    if (pipe(g_hold) != 0)
        return 2;
    pthread_t a, b;
    const pid_t first = live_thread(&a), second = live_thread(&b);
    if (first <= 0 || second <= 0)
        return 3;
    const libos::CpuBits set = bits({7}), inferred = bits({0, 1, 2, 3, 4, 5, 6, 7});
    libos::CpuBits got;

    /* The set claims first, after the reader looked for the slot: the inference is older and gives
     * way, whatever the slot's stamp (a claim stamps a new slot's mask before it publishes the tid,
     * so the set's stamp can be older than the reader's look). */
    libos::ThreadSlot* claimed = libos::register_thread(first, set);
    libos::ThreadSlot* kept = libos::register_inferred(first, inferred);
    if (!claimed || kept != claimed)
        return 4;
    if (!libos::read_mask(kept, first, &got) || got.words[0] != set.words[0])
        return 5;

    /* The inference claims first: the set that follows overwrites it. */
    libos::ThreadSlot* guessed = libos::register_inferred(second, inferred);
    if (!guessed || !libos::read_mask(guessed, second, &got) || got.words[0] != inferred.words[0])
        return 6;
    if (libos::register_thread(second, set) != guessed || !libos::read_mask(guessed, second, &got) ||
        got.words[0] != set.words[0])
        return 7;
    close(g_hold[1]);
    pthread_join(a, nullptr);
    pthread_join(b, nullptr);
    return 0;
}

TEST(Slots, AnInferenceNeverOverwritesARacingSet) {
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0)
        _exit(race_checks());
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the check that failed (race_checks)";
}

}  // namespace
