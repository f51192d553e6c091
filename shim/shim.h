/* Shared helpers of the shim's adapters. The adapters own libc's calling conventions (-1 plus errno,
 * positive errno values for pthread calls, zero-filling) and nothing else: every call goes through
 * the LibOS table. */
#ifndef SHIM_H
#define SHIM_H

#include <errno.h>

/* Symbols that override libc. Everything else in libshim.so is hidden (and shim.map says the same). */
#define SHIM_EXPORT extern "C" __attribute__((visibility("default")))

namespace shim {

/* A raw kernel-style result in [-4095, -1] is an error, as in glibc's syscall(): errno is set and -1
 * returned. errno is not touched on success. */
inline long syscall_result(long ret) {
    if (static_cast<unsigned long>(ret) > static_cast<unsigned long>(-4096L)) {
        errno = static_cast<int>(-ret);
        return -1;
    }
    return ret;
}

}  // namespace shim

#endif
