/* The LibOS system call table: handler prototypes, the table's entry type and the dispatcher.
 *
 * Handlers are named libos_syscall_<name>, take the syscall's arguments with their kernel types,
 * and return long: a non-negative result, or -errno on failure. Which syscalls have a handler is
 * decided by the per-architecture list (table/arch/<arch>/libos_syscalls.def); an IMPL entry there
 * without a prototype here does not compile. */
#ifndef LIBOS_TABLE_H
#define LIBOS_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "libos/libos_user.h"

/* sched_setaffinity(2): table/sys/libos_sched.cpp */
long libos_syscall_sched_setaffinity(pid_t pid, unsigned int len, libos::UserPtr<const unsigned long> user_mask_ptr);
/* sched_getaffinity(2): table/sys/libos_sched.cpp */
long libos_syscall_sched_getaffinity(pid_t pid, unsigned int len, libos::UserPtr<unsigned long> user_mask_ptr);
/* getcpu(2): table/sys/libos_sched.cpp */
long libos_syscall_getcpu(libos::UserPtr<unsigned> cpu, libos::UserPtr<unsigned> node, libos::UserPtr<void> cache);

struct PalKernelSigaction;

/* rt_sigaction(2): table/sys/libos_signal.cpp */
long libos_syscall_rt_sigaction(int sig, libos::UserPtr<const PalKernelSigaction> act,
                                libos::UserPtr<PalKernelSigaction> oact, size_t sigsetsize);

/* execve(2), execveat(2), fork(2), clone(2): table/sys/libos_process.cpp */
long libos_syscall_execve(libos::UserPtr<const char> path, libos::UserPtr<char* const> argv,
                          libos::UserPtr<char* const> envp);
long libos_syscall_execveat(int dirfd, libos::UserPtr<const char> path, libos::UserPtr<char* const> argv,
                            libos::UserPtr<char* const> envp, int flags);
long libos_syscall_fork();
long libos_syscall_clone(unsigned long flags, unsigned long newsp, libos::UserPtr<int> parent_tid,
                         libos::UserPtr<int> child_tid, unsigned long tls);

/* open(2), openat(2), openat2(2), stat(2), lstat(2), newfstatat(2), statx(2), access(2), faccessat(2),
 * faccessat2(2), chdir(2), fchdir(2), getcwd(2): table/sys/libos_fs.cpp */
long libos_syscall_open(libos::UserPtr<const char> path, int flags, mode_t mode);
long libos_syscall_openat(int dirfd, libos::UserPtr<const char> path, int flags, mode_t mode);
/* The first fields of struct open_how (<linux/openat2.h>), all that openat2's handler reads. */
struct open_how_v0 {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};
long libos_syscall_openat2(int dirfd, libos::UserPtr<const char> path, libos::UserPtr<const open_how_v0> how,
                           size_t size);
long libos_syscall_stat(libos::UserPtr<const char> path, libos::UserPtr<struct stat> buf);
long libos_syscall_lstat(libos::UserPtr<const char> path, libos::UserPtr<struct stat> buf);
long libos_syscall_newfstatat(int dirfd, libos::UserPtr<const char> path, libos::UserPtr<struct stat> buf, int flags);
long libos_syscall_statx(int dirfd, libos::UserPtr<const char> path, int flags, unsigned int mask,
                         libos::UserPtr<void> buf);
long libos_syscall_access(libos::UserPtr<const char> path, int mode);
long libos_syscall_faccessat(int dirfd, libos::UserPtr<const char> path, int mode);
long libos_syscall_faccessat2(int dirfd, libos::UserPtr<const char> path, int mode, int flags);
long libos_syscall_chdir(libos::UserPtr<const char> path);
long libos_syscall_fchdir(int fd);
long libos_syscall_getcwd(libos::UserPtr<char> buf, unsigned long size);

namespace libos {

/* How the LibOS treats a system call; the support report prints these. */
enum class Support : uint8_t {
    Unknown,     /* a number the architecture's list does not name: passed to the host */
    PassThrough, /* listed, no handler: passed to the host unchanged */
    Implemented, /* a libos_syscall_<name> handler runs */
};

/* A handler as the table stores it: the six raw argument words in, long out. The typed handler is
 * reached through libos::Adapter (libos_adapter.h), generated for each IMPL entry. */
using RawHandler = long (*)(const long args[6]);

/* What the table knows of one number. */
struct SyscallEntry {
    const char* name;   /* nullptr for numbers the list does not name */
    Support support;
    const char* note;   /* what a handler does or leaves out; "" when there is nothing to say */
    RawHandler handler; /* nullptr: pass through to the host */
};

/* The table, defined per architecture (arch/<arch>/libos_table.cpp), in two parts so that loading
 * libshim.so relocates only the handlers' addresses: the handlers, one word per number (nullptr for
 * the pass-through ones: the dispatcher's one load), and the names and notes, as offsets into one
 * string block. */
extern const RawHandler* const g_syscall_handlers;
extern const size_t g_syscall_count; /* one past the highest number in the list */

/* One past the highest syscall number in the list. */
inline size_t syscall_table_size() {
    return g_syscall_count;
}

/* The handler of `nr`, or nullptr (pass through; also for numbers outside the table). Inline: every
 * routed call asks. */
inline RawHandler syscall_handler(long nr) {
    return static_cast<unsigned long>(nr) < g_syscall_count ? g_syscall_handlers[nr] : nullptr;
}

/* Everything the table says of `nr`; a number outside the table or not listed has no name, support
 * Unknown and no handler. */
SyscallEntry syscall_entry(long nr);

/* The name of syscall `nr`, or nullptr when the list does not name it. */
const char* syscall_name(long nr);

/* Runs syscall `nr`: its handler when the table has one, otherwise the host through PalSyscall,
 * unchanged. Returns the raw result: -errno on failure. Safe in any context (no allocation, no
 * lock, errno untouched). */
long dispatch(long nr, long a0, long a1, long a2, long a3, long a4, long a5);

/* dispatch without tracing: what dispatch does when tracing is off, and what the tracer runs. */
long dispatch_untraced(long nr, long a0, long a1, long a2, long a3, long a4, long a5);

}  // namespace libos

#endif /* LIBOS_TABLE_H */
