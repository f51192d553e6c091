/* The extended-attribute entry points of libc on paths (getxattr, lgetxattr, listxattr, llistxattr,
 * setxattr, lsetxattr, removexattr, lremovexattr): system calls that go through the table, which
 * answers a path of the views as the host file behind it (table/sys/libos_xattr.cpp), so that `ls -l`
 * of /sys/devices/system/cpu/cpu9 on 16 vCPUs finds the file. With no machine configured each one is
 * the host's, unchanged. */
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/xattr.h>

#include "libos/libos_table.h"
#include "shim.h"

namespace {

long as_word(const void* p) {
    return reinterpret_cast<long>(p);
}

ssize_t call(long nr, long a0, long a1, long a2 = 0, long a3 = 0, long a4 = 0) {
    shim::ensure();
    return static_cast<ssize_t>(shim::syscall_result(libos::dispatch(nr, a0, a1, a2, a3, a4, 0)));
}

}  // namespace

SHIM_EXPORT ssize_t getxattr(const char* path, const char* name, void* value, size_t size) noexcept {
    return call(SYS_getxattr, as_word(path), as_word(name), as_word(value), static_cast<long>(size));
}

SHIM_EXPORT ssize_t lgetxattr(const char* path, const char* name, void* value, size_t size) noexcept {
    return call(SYS_lgetxattr, as_word(path), as_word(name), as_word(value), static_cast<long>(size));
}

SHIM_EXPORT ssize_t listxattr(const char* path, char* list, size_t size) noexcept {
    return call(SYS_listxattr, as_word(path), as_word(list), static_cast<long>(size));
}

SHIM_EXPORT ssize_t llistxattr(const char* path, char* list, size_t size) noexcept {
    return call(SYS_llistxattr, as_word(path), as_word(list), static_cast<long>(size));
}

SHIM_EXPORT int setxattr(const char* path, const char* name, const void* value, size_t size, int flags) noexcept {
    return static_cast<int>(
        call(SYS_setxattr, as_word(path), as_word(name), as_word(value), static_cast<long>(size), flags));
}

SHIM_EXPORT int lsetxattr(const char* path, const char* name, const void* value, size_t size, int flags) noexcept {
    return static_cast<int>(
        call(SYS_lsetxattr, as_word(path), as_word(name), as_word(value), static_cast<long>(size), flags));
}

SHIM_EXPORT int removexattr(const char* path, const char* name) noexcept {
    return static_cast<int>(call(SYS_removexattr, as_word(path), as_word(name)));
}

SHIM_EXPORT int lremovexattr(const char* path, const char* name) noexcept {
    return static_cast<int>(call(SYS_lremovexattr, as_word(path), as_word(name)));
}
