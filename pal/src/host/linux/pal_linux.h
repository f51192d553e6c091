/* Internal helpers of the Linux host PAL. Not installed, not exported. */
#ifndef PAL_LINUX_H
#define PAL_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include <asm/unistd.h>

#include "pal/pal.h"
#include "pal_arch.h"
#include "pal_arch_syscall.h"
#include "pal_strict_syscalls.h" /* generated from the syscall list's TRAP column */

/* Strict mode's tag (PalSetStrictTag): 0 outside strict mode. */
extern uint64_t g_pal_strict_tag __attribute__((visibility("hidden")));

/* The system calls a strict-mode filter traps unless they carry the tag (PAL_STRICT_SYSCALLS, the TRAP
 * entries of table/arch/<arch>/libos_syscalls.def). None of them has a sixth argument, so the tag rides
 * in that register and the kernel ignores it. */
static inline bool pal_strict_trapped(long nr) {
#define PAL_STRICT_CASE(nr) case nr:
    switch (nr) {
        PAL_STRICT_SYSCALLS(PAL_STRICT_CASE)
            return true;
        default:
            return false;
    }
#undef PAL_STRICT_CASE
}

/* Every host syscall of the PAL goes through this one inline function. With a constant number (all
 * callers but PalSyscall) the tag check folds away at compile time. */
static inline long pal_raw(long nr, long a0 = 0, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0,
                           long a5 = 0) {
    if (pal_strict_trapped(nr))
        a5 = static_cast<long>(g_pal_strict_tag);
    return pal_arch_syscall6(nr, a0, a1, a2, a3, a4, a5);
}

/* Reads a small file whole into buf (NUL-terminated). Returns the length or -errno. */
long pal_read_small_file(const char* path, char* buf, size_t size);
/* Strict mode's views (pal_host_views.cpp): when a host directory was set and `path` is absolute
 * under /sys/devices/system/{cpu,node}, points dirfd and path at the host's file; true if it did. */
bool pal_host_path(int* dirfd, const char** path);

/* /proc/<tid>/status and its fields (pal_process.cpp). */
void pal_proc_path(char* out, pid_t tid, const char* leaf); /* "/proc/<tid>/<leaf>" */
long pal_read_status(pid_t tid, char* buf, size_t size);    /* its length, or -errno */
long pal_status_value(const char* buf, long len, const char* key); /* where "\n<key>"'s value starts */
long pal_read_number(const char* buf, long len, long* at, int base); /* at *at, blanks skipped; -1: none */
long pal_status_field(const char* buf, long len, const char* key);  /* the number after "\n<key>" */



/* Defined in arch/<arch>/pal_arch_asm.cpp. */
extern "C" {
long pal_user_copy_raw(void* dst, const void* src, size_t size);
extern const char pal_user_copy_fault_begin[];
extern const char pal_user_copy_fault_end[];
extern const char pal_user_copy_fixup[];
void pal_signal_restorer(void);
}
#endif
