/* Exec keeps a program on the machine: the environment a new program gets. */
#ifndef LIBOS_EXEC_H
#define LIBOS_EXEC_H

namespace libos {

/* Builds the environment for an exec: `envp` (an application pointer, may be null) with LD_PRELOAD,
 * the machine's settings, LIBOS_STATE_FD and the caller's LIBOS_AFFINITY added or replaced, so that
 * the new program runs on the same machine even when the caller scrubbed its environment. Returns
 * envp itself when nothing needs adding (no machine, or LIBOS_PROPAGATE=0), a new array otherwise
 * (release it with release_exec_environment), or nullptr with *error = -EFAULT / -ENOMEM. */
char* const* exec_environment(char* const* envp, long* error);
void release_exec_environment(char* const* built, char* const* envp);

}  // namespace libos

#endif
