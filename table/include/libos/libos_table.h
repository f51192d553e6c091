/* The LibOS system call table: handler prototypes, the table's entry type and the dispatcher.
 *
 * Handlers are named libos_syscall_<name>. Each takes its caller (libos_caller.h: the calling thread,
 * or strict mode's remote thread) and the syscall's arguments with their kernel types, and returns a
 * libos::SyscallResult: a non-negative result, -errno on failure, or libos::LeaveToHost when the call
 * is the host's to answer as the program issued it. Which syscalls have a handler is decided by the
 * per-architecture list (table/arch/<arch>/libos_syscalls.def); an entry there with a handler but
 * without a prototype here does not compile. */
#ifndef LIBOS_TABLE_H
#define LIBOS_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <array>

#include "libos/libos_caller.h"
#include "libos/libos_user.h"

/* sched_setaffinity(2), sched_getaffinity(2), getcpu(2): table/sys/libos_sched.cpp */
libos::SyscallResult libos_syscall_sched_setaffinity(libos::Caller caller, pid_t pid, unsigned int len,
                                                     libos::UserPtr<const unsigned long> user_mask_ptr);
libos::SyscallResult libos_syscall_sched_getaffinity(libos::Caller caller, pid_t pid, unsigned int len,
                                                     libos::UserPtr<unsigned long> user_mask_ptr);
libos::SyscallResult libos_syscall_getcpu(libos::Caller caller, libos::UserPtr<unsigned> cpu,
                                          libos::UserPtr<unsigned> node, libos::UserPtr<void> cache);

/* mbind(2), set_mempolicy(2), get_mempolicy(2), migrate_pages(2), move_pages(2),
 * set_mempolicy_home_node(2): table/sys/libos_numa.cpp */
libos::SyscallResult libos_syscall_mbind(libos::Caller caller, unsigned long start, unsigned long len,
                                         unsigned long mode, libos::UserPtr<const unsigned long> nmask,
                                         unsigned long maxnode, unsigned int flags);
libos::SyscallResult libos_syscall_set_mempolicy(libos::Caller caller, int mode, libos::UserPtr<const unsigned long> nmask,
                                                 unsigned long maxnode);
libos::SyscallResult libos_syscall_get_mempolicy(libos::Caller caller, libos::UserPtr<int> policy,
                                                 libos::UserPtr<unsigned long> nmask, unsigned long maxnode,
                                                 unsigned long addr, unsigned long flags);
libos::SyscallResult libos_syscall_migrate_pages(libos::Caller caller, pid_t pid, unsigned long maxnode,
                                                 libos::UserPtr<const unsigned long> old_nodes,
                                                 libos::UserPtr<const unsigned long> new_nodes);
libos::SyscallResult libos_syscall_move_pages(libos::Caller caller, pid_t pid, unsigned long nr_pages,
                                              libos::UserPtr<const uintptr_t> pages, libos::UserPtr<const int> nodes,
                                              libos::UserPtr<int> status, int flags);
libos::SyscallResult libos_syscall_set_mempolicy_home_node(libos::Caller caller, unsigned long start,
                                                           unsigned long len, unsigned long home_node,
                                                           unsigned long flags);

/* munmap(2), mremap(2), madvise(2): table/sys/libos_memory.cpp (the NUMA records follow the memory) */
libos::SyscallResult libos_syscall_munmap(libos::Caller caller, unsigned long addr, unsigned long len);
libos::SyscallResult libos_syscall_mremap(libos::Caller caller, unsigned long addr, unsigned long old_len,
                                          unsigned long new_len, unsigned long flags, unsigned long new_addr);
libos::SyscallResult libos_syscall_madvise(libos::Caller caller, unsigned long addr, unsigned long len, int advice);

struct PalKernelSigaction;

/* rt_sigaction(2): table/sys/libos_signal.cpp */
libos::SyscallResult libos_syscall_rt_sigaction(libos::Caller caller, int sig,
                                                libos::UserPtr<const PalKernelSigaction> act,
                                                libos::UserPtr<PalKernelSigaction> oact, size_t sigsetsize);

/* execve(2), execveat(2), fork(2), clone(2): table/sys/libos_process.cpp */
libos::SyscallResult libos_syscall_execve(libos::Caller caller, libos::UserPtr<const char> path,
                                          libos::UserPtr<char* const> argv, libos::UserPtr<char* const> envp);
libos::SyscallResult libos_syscall_execveat(libos::Caller caller, int dirfd, libos::UserPtr<const char> path,
                                            libos::UserPtr<char* const> argv, libos::UserPtr<char* const> envp,
                                            int flags);
libos::SyscallResult libos_syscall_fork(libos::Caller caller);
libos::SyscallResult libos_syscall_clone(libos::Caller caller, unsigned long flags, unsigned long newsp,
                                         libos::UserPtr<int> parent_tid, libos::UserPtr<int> child_tid,
                                         unsigned long tls);

/* open(2), openat(2), openat2(2), stat(2), lstat(2), newfstatat(2), statx(2), access(2), faccessat(2),
 * faccessat2(2), chdir(2), fchdir(2), getcwd(2): table/sys/libos_fs.cpp */
libos::SyscallResult libos_syscall_open(libos::Caller caller, libos::UserPtr<const char> path, int flags,
                                        mode_t mode);
libos::SyscallResult libos_syscall_openat(libos::Caller caller, int dirfd, libos::UserPtr<const char> path, int flags,
                                          mode_t mode);
/* The first fields of struct open_how (<linux/openat2.h>), all that openat2's handler reads. */
struct open_how_v0 {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};
libos::SyscallResult libos_syscall_openat2(libos::Caller caller, int dirfd, libos::UserPtr<const char> path,
                                           libos::UserPtr<const open_how_v0> how, size_t size);
libos::SyscallResult libos_syscall_stat(libos::Caller caller, libos::UserPtr<const char> path,
                                        libos::UserPtr<struct stat> buf);
libos::SyscallResult libos_syscall_lstat(libos::Caller caller, libos::UserPtr<const char> path,
                                         libos::UserPtr<struct stat> buf);
libos::SyscallResult libos_syscall_newfstatat(libos::Caller caller, int dirfd, libos::UserPtr<const char> path,
                                              libos::UserPtr<struct stat> buf, int flags);
libos::SyscallResult libos_syscall_statx(libos::Caller caller, int dirfd, libos::UserPtr<const char> path, int flags,
                                         unsigned int mask, libos::UserPtr<void> buf);
libos::SyscallResult libos_syscall_access(libos::Caller caller, libos::UserPtr<const char> path, int mode);
libos::SyscallResult libos_syscall_faccessat(libos::Caller caller, int dirfd, libos::UserPtr<const char> path,
                                             int mode);
libos::SyscallResult libos_syscall_faccessat2(libos::Caller caller, int dirfd, libos::UserPtr<const char> path,
                                              int mode, int flags);
libos::SyscallResult libos_syscall_chdir(libos::Caller caller, libos::UserPtr<const char> path);
libos::SyscallResult libos_syscall_fchdir(libos::Caller caller, int fd);
libos::SyscallResult libos_syscall_getcwd(libos::Caller caller, libos::UserPtr<char> buf, unsigned long size);

/* fstat(2), fstatfs(2), statfs(2), readlink(2), readlinkat(2), mmap(2), lseek(2): the descriptors of
 * generated files, table/sys/libos_fd.cpp */
libos::SyscallResult libos_syscall_fstat(libos::Caller caller, int fd, libos::UserPtr<struct stat> buf);
libos::SyscallResult libos_syscall_fstatfs(libos::Caller caller, int fd, libos::UserPtr<struct statfs> buf);
libos::SyscallResult libos_syscall_statfs(libos::Caller caller, libos::UserPtr<const char> path,
                                          libos::UserPtr<struct statfs> buf);
libos::SyscallResult libos_syscall_readlink(libos::Caller caller, libos::UserPtr<const char> path,
                                            libos::UserPtr<char> buf, int size);
libos::SyscallResult libos_syscall_readlinkat(libos::Caller caller, int dirfd, libos::UserPtr<const char> path,
                                              libos::UserPtr<char> buf, int size);
libos::SyscallResult libos_syscall_mmap(libos::Caller caller, unsigned long addr, unsigned long length,
                                        unsigned long prot, unsigned long flags, int fd, unsigned long offset);
libos::SyscallResult libos_syscall_lseek(libos::Caller caller, int fd, long offset, int whence);

/* read(2), readv(2), pread64(2), preadv(2), preadv2(2): a live generated file is written again where
 * Linux's seq files generate anew (table/vfs/live.cpp), then the host reads it; table/sys/libos_fd.cpp */
libos::SyscallResult libos_syscall_read(libos::Caller caller, int fd, unsigned long buf, unsigned long count);
libos::SyscallResult libos_syscall_readv(libos::Caller caller, int fd, unsigned long vec, unsigned long vlen);
libos::SyscallResult libos_syscall_pread64(libos::Caller caller, int fd, unsigned long buf, unsigned long count,
                                           long pos);
libos::SyscallResult libos_syscall_preadv(libos::Caller caller, int fd, unsigned long vec, unsigned long vlen,
                                          unsigned long pos_l, unsigned long pos_h);
/* dup(2), dup2(2), dup3(2): a live generated file's copy is live too; table/sys/libos_fd.cpp */
libos::SyscallResult libos_syscall_dup(libos::Caller caller, unsigned int fd);
libos::SyscallResult libos_syscall_dup2(libos::Caller caller, unsigned int fd, unsigned int target);
libos::SyscallResult libos_syscall_dup3(libos::Caller caller, unsigned int fd, unsigned int target, int flags);
/* fcntl(2): F_DUPFD and F_DUPFD_CLOEXEC as dup; table/sys/libos_fd.cpp */
libos::SyscallResult libos_syscall_fcntl(libos::Caller caller, int fd, int cmd, unsigned long arg);
libos::SyscallResult libos_syscall_preadv2(libos::Caller caller, int fd, unsigned long vec, unsigned long vlen,
                                           unsigned long pos_l, unsigned long pos_h, int flags);
/* write(2), pwrite64(2), writev(2), pwritev(2), pwritev2(2): a generated file opened for reading and
 * writing refuses as the real file does (EIO, EINVAL; ESPIPE), not with its sealed memfd's EPERM.
 * Routed only once such a file was opened (syscall_route_writes); table/sys/libos_write.cpp */
libos::SyscallResult libos_syscall_write(libos::Caller caller, int fd, unsigned long buf, unsigned long count);
libos::SyscallResult libos_syscall_pwrite64(libos::Caller caller, int fd, unsigned long buf, unsigned long count,
                                            long pos);
libos::SyscallResult libos_syscall_writev(libos::Caller caller, int fd, unsigned long vec, unsigned long vlen);
libos::SyscallResult libos_syscall_pwritev(libos::Caller caller, int fd, unsigned long vec, unsigned long vlen,
                                           unsigned long pos_l, unsigned long pos_h);
libos::SyscallResult libos_syscall_pwritev2(libos::Caller caller, int fd, unsigned long vec, unsigned long vlen,
                                            unsigned long pos_l, unsigned long pos_h, int flags);

/* getdents64(2), getdents(2): the listings of the views' directories, table/sys/libos_listing.cpp */
libos::SyscallResult libos_syscall_getdents64(libos::Caller caller, unsigned int fd, libos::UserPtr<void> dirent,
                                             unsigned int count);
libos::SyscallResult libos_syscall_getdents(libos::Caller caller, unsigned int fd, libos::UserPtr<void> dirent,
                                           unsigned int count);

/* getxattr(2), lgetxattr(2), listxattr(2), llistxattr(2), setxattr(2), lsetxattr(2), removexattr(2),
 * lremovexattr(2) and the *xattrat(2) calls on the views' paths: table/sys/libos_xattr.cpp */
libos::SyscallResult libos_syscall_getxattr(libos::Caller caller, libos::UserPtr<const char> path,
                                            libos::UserPtr<const char> name, libos::UserPtr<void> value, size_t size);
libos::SyscallResult libos_syscall_lgetxattr(libos::Caller caller, libos::UserPtr<const char> path,
                                             libos::UserPtr<const char> name, libos::UserPtr<void> value,
                                             size_t size);
libos::SyscallResult libos_syscall_listxattr(libos::Caller caller, libos::UserPtr<const char> path,
                                             libos::UserPtr<char> list, size_t size);
libos::SyscallResult libos_syscall_llistxattr(libos::Caller caller, libos::UserPtr<const char> path,
                                              libos::UserPtr<char> list, size_t size);
libos::SyscallResult libos_syscall_setxattr(libos::Caller caller, libos::UserPtr<const char> path,
                                            libos::UserPtr<const char> name, libos::UserPtr<const void> value,
                                            size_t size, int flags);
libos::SyscallResult libos_syscall_lsetxattr(libos::Caller caller, libos::UserPtr<const char> path,
                                             libos::UserPtr<const char> name, libos::UserPtr<const void> value,
                                             size_t size, int flags);
libos::SyscallResult libos_syscall_removexattr(libos::Caller caller, libos::UserPtr<const char> path,
                                               libos::UserPtr<const char> name);
libos::SyscallResult libos_syscall_lremovexattr(libos::Caller caller, libos::UserPtr<const char> path,
                                                libos::UserPtr<const char> name);
libos::SyscallResult libos_syscall_getxattrat(libos::Caller caller, int dirfd, libos::UserPtr<const char> path,
                                              unsigned at_flags, libos::UserPtr<const char> name,
                                              libos::UserPtr<void> args, size_t size);
libos::SyscallResult libos_syscall_setxattrat(libos::Caller caller, int dirfd, libos::UserPtr<const char> path,
                                              unsigned at_flags, libos::UserPtr<const char> name,
                                              libos::UserPtr<void> args, size_t size);
libos::SyscallResult libos_syscall_listxattrat(libos::Caller caller, int dirfd, libos::UserPtr<const char> path,
                                               unsigned at_flags, libos::UserPtr<char> list, size_t size);
libos::SyscallResult libos_syscall_removexattrat(libos::Caller caller, int dirfd, libos::UserPtr<const char> path,
                                                 unsigned at_flags, libos::UserPtr<const char> name);

/* getsockopt(2), setsockopt(2): SO_INCOMING_CPU, table/sys/libos_socket.cpp */
libos::SyscallResult libos_syscall_getsockopt(libos::Caller caller, int fd, int level, int name,
                                              libos::UserPtr<void> value, libos::UserPtr<socklen_t> length);
libos::SyscallResult libos_syscall_setsockopt(libos::Caller caller, int fd, int level, int name,
                                              libos::UserPtr<const void> value, unsigned int length);

namespace libos {

/* How the LibOS treats a system call, in gVisor's manner; the support report prints these. */
enum class Support : uint8_t {
    Unknown,     /* a number the architecture's list does not name: passed to the host */
    PassThrough, /* listed, no handler: passed to the host unchanged */
    Partial,     /* a libos_syscall_<name> handler runs; the note says what it leaves out */
    Full,        /* a libos_syscall_<name> handler runs, with Linux's semantics on the machine */
};

/* Whether a handler runs for calls of this support. */
constexpr bool has_handler(Support support) {
    return support == Support::Partial || support == Support::Full;
}

/* A handler as the table stores it: the caller and the six raw argument words in. The typed handler
 * is reached through libos::Adapter (libos_adapter.h), generated for each entry with a handler. */
using RawHandler = SyscallResult (*)(Caller caller, const long args[6]);

/* What the table knows of one number. */
struct SyscallEntry {
    const char* name;   /* nullptr for numbers the list does not name */
    Support support;
    const char* note;   /* what a handler does or leaves out; "" when there is nothing to say */
    RawHandler handler; /* nullptr: pass through to the host */
    bool trapped;       /* strict mode's filter traps it for the supervisor */
    const char* arguments; /* one letter per argument, for the trace (libos_syscalls.def); "" for none */
};

/* The table, built from the architecture's list (libos_table.cpp, from arch/<arch>/libos_syscalls.def),
 * in two parts so that loading libshim.so relocates only the handlers' addresses: the handlers, one
 * word per number (nullptr for the pass-through ones: the dispatcher's one load), and the names and
 * notes, as offsets into one string block. */
extern const RawHandler* const g_syscall_handlers;
extern const size_t g_syscall_count; /* one past the highest number in the list */

/* One past the highest syscall number in the list. */
inline size_t syscall_table_size() {
    return g_syscall_count;
}

/* One byte per number below kRoutedNumbers, 1 where the table has a handler: the shim's pass-through
 * test, one load of a table with no pointer to follow. Numbers from kRoutedNumbers up (none of them
 * exists) take the routed path. The write family's handlers (write, pwrite64, writev, pwritev,
 * pwritev2) are routed only from the first open of a generated file for reading and writing
 * (syscall_route_writes): until then syscall(SYS_write) costs what it did without them. */
constexpr size_t kRoutedNumbers = 1024;
extern std::array<uint8_t, kRoutedNumbers> g_syscall_routed;

/* Whether `nr` is below kRoutedNumbers and routed to no handler: the host may take it straight. A
 * plain load, one compare with memory (an atomic load is a load and a test, one instruction more on
 * every pass-through): a byte changes only once, from 0 to 1, before the descriptor it is about is
 * handed out, and a call that still read 0 goes the host's way, as before the change. */
inline bool syscall_unrouted(long nr) {
    return static_cast<unsigned long>(nr) < kRoutedNumbers && !g_syscall_routed[static_cast<size_t>(nr)];
}

/* Whether `nr` is one of the write family's numbers routed on demand. */
bool syscall_routed_on_demand(long nr);
/* Routes the write family's numbers to their handlers from now on, in this process and its fork
 * children (an exec'ed program starts without). */
void syscall_route_writes();

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
/* The argument letters of syscall `nr` (libos_syscalls.def), or nullptr when the list does not name
 * it. */
const char* syscall_arguments(long nr);

/* Runs syscall `nr` for the calling thread: its handler when the table has one, and the host through
 * PalSyscall, unchanged, when there is none or the handler leaves the call to it. Returns the raw
 * result: -errno on failure. Safe in any context (no allocation, no lock, errno untouched). */
long dispatch(long nr, long a0, long a1, long a2, long a3, long a4, long a5);

/* The call a libc function makes natively, as strace would show it: its number and arguments. */
struct ShownCall {
    long nr;
    long args[6];
};

/* dispatch(nr, args...), where glibc would make another, equivalent system call for the function
 * the shim overrides (its fstat is newfstatat(fd, "", buf, AT_EMPTY_PATH)): the trace, its filter
 * and the summary see `shown`, so that they show what strace shows natively; the call that runs is
 * `nr`. With tracing off it is dispatch's one branch, and `shown` is not looked at. */
long dispatch_shown(const ShownCall& shown, long nr, long a0, long a1, long a2, long a3, long a4, long a5);

/* Runs syscall `nr` for `caller`, without tracing: what dispatch does when tracing is off, and what
 * the tracer and strict mode's supervisor run. For the calling thread a call left to the host is run
 * there; for a remote caller the LeaveToHost is returned (the kernel then runs the call itself). */
SyscallResult dispatch_for(Caller caller, long nr, const long args[6]);

}  // namespace libos

#endif /* LIBOS_TABLE_H */
