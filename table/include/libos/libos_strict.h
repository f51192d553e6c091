/* Strict mode, on the LibOS's side: what the supervisor (launcher/) needs to answer the calls of a
 * thread of another process with the LibOS's own handlers. */
#ifndef LIBOS_STRICT_H
#define LIBOS_STRICT_H

#include <sys/types.h>

#include "libos/libos_config.h"

namespace libos {

/* For thread `tid` of the launch that has no slot and runs on host CPUs `host`: the mask it
 * inherited from its creator, when that can be told. Linux copies the creator's mask into a new
 * thread or fork child; in a process without the shim (seen by strict mode's supervisor) nothing
 * recorded the creation, so the creator is looked for among the slots of the threads whose mask
 * runs on exactly `host`: for a fork child, the parent process's thread that forked it (the
 * kernel's /proc/<pid>/task/<tid>/children names it); for a new thread, whose creator the kernel
 * does not name, its process's main thread when that fits, else the most recently written slot of
 * its process. A creator process without a fitting slot inherited its mask the same way, so its
 * parent is searched next. False when none fits. */
bool inherited_mask(pid_t tid, const CpuBits& host, CpuBits* out);

}  // namespace libos

#endif
