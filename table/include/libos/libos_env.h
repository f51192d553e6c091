/* The environment as the LibOS reads it: a scan of environ without libc's getenv, which is not safe
 * everywhere the LibOS runs (before libc's own start-up, in a vfork child). */
#ifndef LIBOS_ENV_H
#define LIBOS_ENV_H

namespace libos {

/* The value of environment variable `name`, or nullptr. */
const char* env_get(const char* name);

}  // namespace libos

#endif
