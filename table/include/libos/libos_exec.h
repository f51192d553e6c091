/* Exec keeps a program on the machine: the environment a new program gets. */
#ifndef LIBOS_EXEC_H
#define LIBOS_EXEC_H

namespace libos {

/* Builds the environment for an exec: `envp` (an application pointer, may be null) with LD_PRELOAD,
 * the machine's settings, LIBOS_STATE_FD and the caller's LIBOS_AFFINITY added or replaced, so that
 * the new program runs on the same machine even when the caller scrubbed its environment. Returns
 * envp itself when nothing needs adding (no machine, or LIBOS_PROPAGATE=0), a new array otherwise
 * (release it with release_exec_environment), or nullptr with *error = -ENOMEM. An envp that cannot
 * be read is returned as it is, for the kernel to refuse in its own order. */
char* const* exec_environment(char* const* envp, long* error);
void release_exec_environment(char* const* built, char* const* envp);

/* glibc's rseq area holds the host CPU the thread runs on (its cpu_id), which programs and libraries
 * read without a call (sched_getcpu inlined, tcmalloc's per-CPU caches). On a machine the program
 * runs with glibc's rseq registration off, so that __rseq_size is 0 and they fall back to
 * sched_getcpu or getcpu, which the LibOS answers: GLIBC_TUNABLES gets kRseqOff, after what it
 * already held (a later setting of a tunable wins). */
constexpr char kTunablesName[] = "GLIBC_TUNABLES";
constexpr char kRseqOff[] = "glibc.pthread.rseq=0";
/* Whether the tunables `value` already end with rseq off (its last rseq setting is 0). */
bool tunables_have_rseq_off(const char* value);

}  // namespace libos

#endif
