/* The Platform Adaptation Layer (PAL): the only door from the LibOS to the host.
 *
 * Everything the LibOS (table/) needs from the host kernel goes through a Pal* call declared here.
 * The calls have C linkage and are exported from libpal.so through pal.map, which the build generates
 * from pal/pal_symbols. Adding a call means declaring it here, implementing it under pal/src/host/,
 * and listing its name in pal/pal_symbols (docs/implementing-new-syscall.md, step 4).
 *
 * Conventions shared by every call:
 * - Results are `long`: zero or a non-negative value on success, -errno on failure, exactly as the
 *   host kernel returned it. The PAL never translates errno values, so EPERM stays EPERM.
 * - Pointers that came from the application are handed to the kernel untouched, so a bad pointer
 *   yields the kernel's EFAULT at the same point it would natively.
 * - Every call is async-signal-safe, allocates nothing, takes no lock and leaves errno alone. */
#ifndef PAL_PAL_H
#define PAL_PAL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <asm/unistd.h>
#include <sys/stat.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exported from libpal.so; callers reach them through the GOT (noplt): no PLT stub on the hot paths,
 * at the price of binding these few symbols at load time. */
#define PAL_API __attribute__((visibility("default"), noplt))
#define PAL_DATA __attribute__((visibility("default")))

/* The largest number of CPUs (host or virtual) the project describes. CPU numbers are below it. */
#define PAL_MAX_CPUS 8192
#define PAL_CPU_MASK_WORDS (PAL_MAX_CPUS / 64)

/* Passes a system call to the host unchanged: the pass-through for every syscall the LibOS does
 * not handle itself. Returns the raw kernel result (-errno on failure). */
PAL_API long PalSyscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5);

/* syscall(3)'s pass-through of a number that strict mode's filter never traps (the shim's, for a
 * number the table has no handler for; the syscall list lets only a call with a handler be trapped):
 * PalSyscall without the check for the tag, made to be tail-called. The kernel's entry and exit
 * leave the CPU's return predictions behind, so every return level between the `syscall`
 * instruction and the program costs a mispredicted `ret` (about 5 ns on the machines measured in
 * docs/performance.md); tail-called, this returns straight to the program, as libc's syscall()
 * does. A success returns the result; a failure (-4095..-1) goes, by a jump, to the handler set with
 * PalSetSyscallFailureHandler, whose result it becomes (before one is set: the raw -errno). Given a
 * trapped number it is still correct, only slower: under --strict the supervisor answers it. */
PAL_API long PalSyscallUntrapped(long nr, long a0, long a1, long a2, long a3, long a4, long a5);

/* The handler of PalSyscallUntrapped's failures: given the raw -errno, returns what the caller gets
 * (the shim's sets errno and returns -1). Set it before the first PalSyscallUntrapped call. */
PAL_API void PalSetSyscallFailureHandler(long (*handler)(long raw));

/* sched_getaffinity(2) on the host for thread `tid` (0 = the calling thread). `mask` may be an
 * application pointer. Returns the number of bytes the kernel wrote, or -errno. */
PAL_API long PalThreadGetCpuAffinity(pid_t tid, size_t mask_size, void* mask);

/* sched_setaffinity(2) on the host for thread `tid` (0 = the calling thread). `mask` may be an
 * application pointer. Returns 0 or -errno. */
PAL_API long PalThreadSetCpuAffinity(pid_t tid, size_t mask_size, const void* mask);

/* The host CPU and NUMA node the calling thread runs on now, as getcpu(2) gives them. Either pointer
 * may be NULL; both may be application pointers. Returns 0 or -errno. */
PAL_API long PalGetCpu(unsigned* cpu, unsigned* node);

/* The host CPU the calling thread runs on now, read from the thread's rseq area (no system call),
 * otherwise from getcpu(2). */
PAL_API unsigned PalGetCurrentCpu(void);
/* The same from getcpu(2) (the vDSO's or the system call), never the rseq area: for a vfork child,
 * which shares its parent's area while the kernel keeps it up to date for the parent only. */
PAL_API unsigned PalGetCurrentCpuByCall(void);

/* Where the kernel keeps the calling thread's current CPU number up to date (its rseq area's cpu_id),
 * so that the LibOS can read it with a single load: glibc's area, or, where glibc registered none
 * (on a virtual machine it is turned off, libos_exec.h), one of the PAL's own, registered for the
 * thread at this first call; NULL when the kernel takes no rseq area for the thread (one of the
 * program's own is registered). The value read is negative while the area is not registered.
 * Valid for the calling thread only. */
PAL_API const volatile int32_t* PalThreadCpuIdLocation(void);

/* The kernel thread id of the calling thread (gettid(2)). */
PAL_API pid_t PalThreadGetId(void);

/* The host's CPU topology, read from /sys/devices/system/{cpu,node}. */
struct PalTopology {
    /* Number of possible CPU ids (the kernel's nr_cpu_ids): the highest possible CPU plus one. */
    uint32_t possible_count;
    /* Number of online CPUs. */
    uint32_t online_count;
    /* Size in bytes of the kernel's cpumask: what sched_getaffinity returns for a large buffer. */
    uint32_t kernel_mask_size;
    /* Bit i set: host CPU i is online. */
    uint64_t online_mask[PAL_CPU_MASK_WORDS];
    /* NUMA node of each possible CPU (0 on hosts without node information). Filled by
     * PalHostCpuNodes, not by PalHostTopology: most processes never ask for a node. Last, so that
     * filling the rest touches no page of it. */
    uint16_t node_of_cpu[PAL_MAX_CPUS];
};

/* Fills `node_of_cpu` (PAL_MAX_CPUS entries) with each CPU's NUMA node, from
 * /sys/devices/system/node (0 where there is no node information). Returns 0 or -errno. */
PAL_API long PalHostCpuNodes(uint16_t* node_of_cpu);

/* Fills `topo` with the host topology (but for node_of_cpu, see PalHostCpuNodes). Returns 0 or -errno (for example when /sys is not mounted,
 * in which case the online set falls back to the calling thread's affinity). */
PAL_API long PalHostTopology(struct PalTopology* topo);

/* Copies `size` bytes from `src` to `dst` where either may be an application pointer: a fault while
 * copying makes the call return -EFAULT instead of killing the process, the way the kernel's
 * copy_to_user/copy_from_user do. Returns 0 or -EFAULT. Bytes before the faulting one may have been
 * copied. Faults are only caught once PalFaultHandlerInstall has run; before that a bad pointer
 * faults as it would in any code. */
PAL_API long PalUserCopy(void* dst, const void* src, size_t size);

/* Called for every signal of g_pal_fault_signals that is not a PalUserCopy fault, inside the PAL's signal
 * handler, with the handler's arguments. The LibOS decides: run the application's own handler, or
 * restore the default action so that the fault kills the process as it would natively. */
typedef void (*PalFaultUpcall)(int sig, siginfo_t* info, void* ucontext);

/* The signals the PAL handles: the faults (for PalUserCopy, and to report a crash inside the LibOS)
 * and SIGABRT. */
#define PAL_FAULT_SIGNALS 5
PAL_DATA extern const int g_pal_fault_signals[PAL_FAULT_SIGNALS]; /* SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT */

/* Installs the PAL's handlers for g_pal_fault_signals (SA_SIGINFO | SA_ONSTACK) and the upcall.
 * Stores the actions that were installed before, in the same order, as raw kernel sigactions, when
 * `previous` is not NULL. Returns 0 or -errno. */
struct PalKernelSigaction {
    void* handler;
    unsigned long flags;
    void* restorer;
    uint64_t mask;
};
PAL_API long PalFaultHandlerInstall(PalFaultUpcall upcall, struct PalKernelSigaction previous[PAL_FAULT_SIGNALS]);

/* Makes a fault at an instruction in [begin, end) resume at `fixup`, as PalUserCopy's do: for the
 * LibOS's own inline fault-safe stores (getcpu's), which a call into the PAL would make slower
 * than the vDSO they stand in for. Up to 4 ranges. Returns 0 or -ENOSPC. */
PAL_API long PalFaultFixupRegister(const void* begin, const void* end, const void* fixup);

/* Repairs faults on the LibOS's own memory that a program may have unmapped or protected (its shared
 * state): a SIGSEGV or SIGBUS whose address is in [begin, end) calls `repair` with the address, and
 * when it answers true the faulting instruction runs again. One range; a range repaired over and over
 * (64 times) is given up, and its fault handled as any other.
 * Returns 0. */
typedef bool (*PalFaultRepair)(void* address);
PAL_API long PalFaultRepairRegister(const void* begin, const void* end, PalFaultRepair repair);

/* Sets the host action of `sig` to its default (SIG_DFL). Used to let a fault kill the process. */
PAL_API long PalSignalSetDefault(int sig);

/* Replaces the calling thread's blocked signals with `mask` (rt_sigprocmask SIG_SETMASK, the kernel's
 * 64-bit set). Returns 0 or -errno. */
PAL_API long PalSignalSetMask(uint64_t mask);

/* CPUID faulting, where the host has it (arch_prctl ARCH_SET_CPUID): with `on`, the calling thread's
 * cpuid instructions raise SIGSEGV (si_code SI_KERNEL) instead of running; the threads it creates and
 * its fork children inherit that, and execve turns it off. Returns 0, or -ENODEV (or -EINVAL) where
 * the host cannot (always -ENODEV on an architecture other than x86_64, which has no cpuid). */
PAL_API long PalCpuidFaulting(int on);

/* The host's cpuid answer for `leaf` and `subleaf`, on a thread that has faulting on: faulting is
 * turned off around the instruction alone, with every signal blocked. Costs two arch_prctl calls (a
 * model-specific register write each). Returns 0 or -errno. */
PAL_API long PalCpuidHost(uint32_t leaf, uint32_t subleaf, uint32_t regs[4]);

/* Reads the host file at `path` whole into `buf` (at most size - 1 bytes, then a NUL): the LibOS's
 * way to read the host's /proc and /sys. Returns the length or -errno. */
PAL_API long PalReadFile(const char* path, char* buf, size_t size);

/* ---- files ------------------------------------------------------------------------------------
 * The host files the LibOS itself reads, writes and generates (its views, its shared state, its
 * trace). `path` arguments may be application pointers where a comment says so: the kernel then
 * reads them, and gives EFAULT where Linux would. */

/* openat(2). Returns the descriptor or -errno. */
PAL_API long PalFileOpen(int dirfd, const char* path, int flags, mode_t mode);

/* close(2). Returns 0 or -errno. */
PAL_API long PalFileClose(int fd);

/* fstat(2) of descriptor `fd` into `st`. Returns 0 or -errno. */
PAL_API long PalFileStat(int fd, struct stat* st);

/* newfstatat(2): `path` relative to `dirfd`, with AT_* `flags`. Returns 0 or -errno. */
PAL_API long PalFileStatAt(int dirfd, const char* path, struct stat* st, int flags);

/* statx(2) into `buf` (a struct statx). Returns 0 or -errno. */
PAL_API long PalFileStatx(int dirfd, const char* path, int flags, unsigned mask, void* buf);

/* faccessat(2), or faccessat2(2) when `flags` is not 0. Returns 0 or -errno. */
PAL_API long PalFileAccess(int dirfd, const char* path, int mode, int flags);

/* readlink(2) of `path` into buf, NUL-terminated (at most size - 1 bytes). Returns the length or
 * -errno. */
PAL_API long PalFileReadLink(const char* path, char* buf, size_t size);

/* readlinkat(2) as a program asks it: `path` and `buf` may be application pointers (EFAULT where
 * Linux gives it), and nothing is added to what the kernel writes. Returns the length or -errno. */
PAL_API long PalFileReadLinkAt(int dirfd, const char* path, char* buf, size_t size);

/* statfs(2) of `path`, or fstatfs(2) of `fd` when `path` is null, into `out`. Returns 0 or -errno. */
PAL_API long PalFileSystemStat(int fd, const char* path, struct statfs* out);

/* lseek(2). Returns the new offset or -errno. */
PAL_API long PalFileSeek(int fd, long offset, int whence);

/* getdents64(2): directory entries of `fd` into `buf` (struct linux_dirent64). Returns the bytes
 * written, 0 at the end, or -errno. */
PAL_API long PalFileReadDir(int fd, void* buf, size_t size);

/* The extended-attribute calls on a host path, the last component not followed (lgetxattr(2),
 * llistxattr(2), lsetxattr(2), lremovexattr(2)); `name` and `value` may be application pointers
 * (the kernel gives EFAULT where Linux would). `flags` is setxattr's. Returns the kernel's result or
 * -errno. */
enum PalXattrOp { PAL_XATTR_GET, PAL_XATTR_LIST, PAL_XATTR_SET, PAL_XATTR_REMOVE };
PAL_API long PalFileXattr(enum PalXattrOp op, const char* path, const char* name, void* value, size_t size,
                          int flags);
/* The same through the *xattrat(2) calls of Linux 6.13 (dirfd, path, AT_* flags; `args` is the
 * application's struct xattr_args for GET and SET, the list buffer for LIST, unused for REMOVE). */
PAL_API long PalFileXattrAt(enum PalXattrOp op, int dirfd, const char* path, unsigned at_flags, const char* name,
                            void* args, size_t size);

/* getsockopt(2) and setsockopt(2). `value` and `length` may be application pointers. Returns 0 or
 * -errno. */
PAL_API long PalSocketGetOption(int fd, int level, int name, void* value, void* length);
PAL_API long PalSocketSetOption(int fd, int level, int name, const void* value, unsigned length);

/* Writes `size` bytes to `fd` whole, retrying short writes and EINTR. Returns 0 or -errno. */
PAL_API long PalFileWriteAll(int fd, const void* buf, size_t size);

/* A write of no bytes to `fd` (write(2), or pwrite(2) at offset 0 when `positional`): what the file
 * answers a writer before any byte is taken (a /proc file without a write function: EIO or EINVAL;
 * pwrite of a file without positional writes: ESPIPE). Returns 0 or -errno. */
PAL_API long PalFileWriteNothing(int fd, bool positional);

/* One write(2) of `size` bytes at `buf`, an application's address, to `fd`: the count written or
 * -errno, as the host answers the program's own call (EINTR included). For a handler that answers
 * from the host's judgement of the arguments (table/sys/libos_write.cpp). */
PAL_API long PalFileWriteOnce(int fd, const void* buf, size_t size);
/* One writev(2) of `count` vectors at `iov` (an application's address) to `fd`, or with `v2`
 * pwritev2(2) at the descriptor's own offset (-1) with `flags`: the same. */
PAL_API long PalFileWriteVectorOnce(int fd, const void* iov, long count, bool v2, int flags);

/* A duplicate of descriptor `fd` out of the way of programs, which expect the lowest numbers to be
 * theirs: the lowest free number at or above `floor` (F_DUPFD), with close-on-exec when `cloexec` is
 * set. Returns it, or -errno (EINVAL when `floor` is not below the descriptor limit). */
PAL_API long PalFileDuplicateHigh(int fd, int floor, bool cloexec);

/* The same, and `fd` is closed: the file moves. Returns the descriptor that now holds it (`fd`
 * itself, untouched, when it already is at or above `floor`), or -errno when no higher one can be
 * had (`fd` is then left open). */
PAL_API long PalFileMoveHigh(int fd, int floor, bool cloexec);

/* dup(2): a duplicate of `fd` at the lowest free number; the number or -errno. */
PAL_API long PalFileDuplicate(int fd);
/* dup3(2) of `fd` onto `target` with `flags` (O_CLOEXEC); with `same_allowed`, dup2(2)'s rules
 * (`fd` onto itself is checked and left alone). `target` or -errno. */
PAL_API long PalFileDuplicateOnto(int fd, int target, int flags, bool same_allowed);

/* The soft RLIMIT_NOFILE: descriptors are below it (capped at INT32_MAX). Returns it, or -errno. */
PAL_API long PalFileDescriptorLimit(void);

/* The file status flags and access mode of `fd` (fcntl F_GETFL). Returns them or -errno. */
PAL_API long PalFileGetFlags(int fd);

/* Whether `fd` has FD_CLOEXEC (fcntl F_GETFD): 1, 0, or -errno. */
PAL_API long PalFileGetCloseOnExec(int fd);

/* Sets or clears FD_CLOEXEC on `fd`. Returns 0 or -errno. */
PAL_API long PalFileSetCloseOnExec(int fd, bool cloexec);

/* memfd_create(2): an anonymous file named `name` with MFD_* `flags`. Returns the descriptor or
 * -errno. */
PAL_API long PalMemfdCreate(const char* name, unsigned flags);

/* ftruncate(2). Returns 0 or -errno. */
PAL_API long PalFileTruncate(int fd, size_t size);

/* Adds F_SEAL_* `seals` to a memfd (fcntl F_ADD_SEALS). Returns 0 or -errno. */
PAL_API long PalFileSeal(int fd, unsigned seals);

/* Are descriptors `a` and `b` of this process one open file description (a dup of the other, kcmp
 * KCMP_FILE)? 0: they are, 1: they are not, or -errno when the kernel cannot tell (no kcmp, or a
 * policy that refuses it). */
PAL_API long PalFileSameDescription(int a, int b);

/* pread(2): up to `size` bytes at `offset`, the descriptor's own offset untouched (a /proc file read
 * at offset 0 is generated anew). Returns the count or -errno. */
PAL_API long PalFileReadAt(int fd, void* buf, size_t size, long offset);
/* pwrite(2) of `size` bytes at `offset`, whole (short writes and EINTR retried); the offset of `fd`
 * stays. Returns 0 or -errno. */
PAL_API long PalFileWriteAt(int fd, const void* buf, size_t size, long offset);

/* Whether `fd`, a descriptor open for writing, is the only open of its file anywhere: no other open
 * file description of it, in any process (dup'ed and inherited descriptors share one), and no
 * mapping. Asked as the kernel's lease rules answer it: a write lease (F_SETLEASE F_WRLCK) is granted
 * only then, and is given back at once (an open of it by someone else in between signals this
 * process with SIGURG, ignored by default, set as the file's F_SETSIG). Returns 1, 0 (someone else
 * has it open), or -errno (leases refused: not the file's owner, leases disabled). `signal_set`: the
 * description's F_SETSIG was already set by an earlier call (it stays with the description), so
 * that only the lease's two calls are made. */
PAL_API long PalFileSoleOpen(int fd, bool signal_set);

/* chdir(2) (`path` may be an application pointer), fchdir(2) and getcwd(2) (getcwd's result: the
 * length with the NUL, or -errno). */
PAL_API long PalFileChangeDir(const char* path);
PAL_API long PalFileChangeDirFd(int fd);
PAL_API long PalFileGetCwd(char* buf, size_t size);

/* ---- memory ----------------------------------------------------------------------------------- */

/* `size` bytes of private, zeroed, read-write memory (mmap, MAP_NORESERVE) at *addr. Returns 0 or
 * -errno. */
PAL_API long PalMemoryAllocate(size_t size, void** addr);

/* Maps the first `size` bytes of file `fd` shared and read-write at *addr. Returns 0 or -errno. */
PAL_API long PalMemoryMapShared(int fd, size_t size, void** addr);

/* Maps `size` bytes at exactly `addr`, replacing whatever is there: file `fd` shared and read-write,
 * or, when `fd` is negative, private zeroed memory. Returns 0 or -errno. */
PAL_API long PalMemoryMapFixed(void* addr, size_t size, int fd);

/* mmap(2) as asked. Returns the address, or -errno (a value in [-4095, -1]). */
PAL_API long PalMemoryMap(void* addr, size_t size, int prot, int flags, int fd, long offset);

/* munmap(2): unmaps what PalMemoryAllocate or PalMemoryMapShared gave, or an application's range.
 * Returns 0 or -errno. */
PAL_API long PalMemoryFree(void* addr, size_t size);

/* mremap(2) and madvise(2) as asked, for the application's memory. mremap returns the new address or
 * -errno (a value in [-4095, -1]); madvise 0 or -errno. */
PAL_API long PalMemoryRemap(uintptr_t old_addr, size_t old_size, size_t new_size, int flags, uintptr_t new_addr);
PAL_API long PalMemoryAdvise(uintptr_t addr, size_t size, int advice);

/* The host's NUMA memory policy calls, on host node masks (`maxnode` counts bits, as the kernel's).
 * Pointers may be application pointers: the host touches them. Each returns the kernel's result or
 * -errno. set_mempolicy(2), get_mempolicy(2) (`addr` is the kernel's unsigned long), mbind(2),
 * set_mempolicy_home_node(2), migrate_pages(2) and move_pages(2). */
PAL_API long PalMemPolicySet(int mode, const unsigned long* nodes, unsigned long maxnode);
PAL_API long PalMemPolicyGet(int* mode, unsigned long* nodes, unsigned long maxnode, uintptr_t addr,
                             unsigned long flags);
PAL_API long PalMemoryBind(uintptr_t start, unsigned long len, unsigned long mode, const unsigned long* nodes,
                           unsigned long maxnode, unsigned int flags);
PAL_API long PalMemorySetHomeNode(uintptr_t start, unsigned long len, unsigned long home_node, unsigned long flags);
PAL_API long PalProcessMigratePages(pid_t pid, unsigned long maxnode, const unsigned long* old_nodes,
                                    const unsigned long* new_nodes);
PAL_API long PalProcessMovePages(pid_t pid, unsigned long count, const void* pages, const int* nodes, int* status,
                                 int flags);

/* ---- processes -------------------------------------------------------------------------------- */

/* getpid(2) and getppid(2). */
PAL_API pid_t PalProcessGetId(void);
PAL_API pid_t PalProcessGetParentId(void);

/* Do processes `a` and `b` share their memory (kcmp KCMP_VM)? 0: they do, 1: they do not, or
 * -errno when the kernel cannot tell (no kcmp, or no right to compare). */
PAL_API long PalProcessCompareMemory(pid_t a, pid_t b);

/* fork(2), and clone(2) with its raw arguments in the architecture's order (x86_64: ..., child_tid, tls;
 * aarch64: ..., tls, child_tid), passed through as they came. The child returns 0 from the call. */
PAL_API long PalProcessFork(void);
PAL_API long PalProcessClone(unsigned long flags, unsigned long newsp, int* parent_tid, int* child_tid,
                             unsigned long tls);

/* execve(2) and execveat(2); every pointer may be an application pointer. Returns only on failure,
 * with -errno. */
PAL_API long PalProcessExec(const char* path, char* const argv[], char* const envp[]);
PAL_API long PalProcessExecAt(int dirfd, const char* path, char* const argv[], char* const envp[], int flags);

/* exit_group(2). */
PAL_API __attribute__((noreturn)) void PalProcessExit(int status);

/* Whether thread `tid` exists (kill(2) with signal 0): 0, -ESRCH when no thread has that id, or
 * another -errno (EPERM: it exists, but belongs to someone else). */
PAL_API long PalThreadExists(pid_t tid);

/* tgkill(2): `sig` to thread `tid` of process `tgid`. Returns 0 or -errno. */
PAL_API long PalThreadSignal(pid_t tgid, pid_t tid, int sig);

/* sched_yield(2). */
PAL_API void PalThreadYield(void);

/* CLOCK_MONOTONIC in nanoseconds (clock_gettime(2)), for bounding waits. */
PAL_API uint64_t PalClockMonotonic(void);

/* ---- strict mode ------------------------------------------------------------------------------
 * A strict-mode launch runs every process under a seccomp filter that hands the virtualized system
 * calls (the TRAP entries of table/arch/<arch>/libos_syscalls.def: open, openat, openat2,
 * sched_setaffinity, sched_getaffinity, getcpu) to a supervisor, except those whose sixth argument
 * register holds the launch's tag. The PAL puts the tag there in its own calls of those numbers
 * (none of them has a sixth argument; the build generates the PAL's copy of the list from the
 * syscall list), so that calls the LibOS already virtualized in-process reach the host directly. */

/* Sets the tag; 0 (the default) means no strict mode. Call it before the PAL's first host call that
 * must not be trapped. */
PAL_API void PalSetStrictTag(uint64_t tag);

/* Strict mode's views: `fd` is a descriptor of the host's /sys/devices/system, opened before the
 * launch's private mount namespace mounted generated cpu/ and node/ trees over it. From then on the
 * PAL's path calls (PalFileOpen, PalFileStatAt, PalFileStatx, PalFileAccess, PalFileReadLink[At],
 * PalFileSystemStat, PalReadFile, PalHostTopology) resolve absolute paths under
 * /sys/devices/system/cpu and /sys/devices/system/node through it: the host's files, as the LibOS
 * expects. -1 (the default) turns that off. */
PAL_API void PalSetHostSystemDir(int fd);

/* Copies `size` bytes from address `src` of process (or thread) `pid` into dst, or from src to
 * address `dst` of `pid`, through process_vm_readv/writev. Returns 0, -EFAULT when the range is not
 * wholly accessible in the target (bytes before the bad one may have been copied), or -errno (ESRCH:
 * the target is gone; EPERM: no permission to reach it). */
PAL_API long PalProcessRead(pid_t pid, void* dst, uintptr_t src, size_t size);
PAL_API long PalProcessWrite(pid_t pid, uintptr_t dst, const void* src, size_t size);
/* Several ranges of process `pid` read at once, in order, by one process_vm_readv (at most
 * kPalReadRanges): a reader that wants a consistent look at records under a sequence number reads the
 * number before and after them in the same call. Returns 0, -EFAULT when any range is not wholly
 * accessible, or -errno as PalProcessRead. */
struct PalReadRange {
    void* dst;
    uintptr_t src;
    size_t size;
};
enum { kPalReadRanges = 16 };
PAL_API long PalProcessReadRanges(pid_t pid, const PalReadRange* ranges, size_t count);

/* The host CPU thread `tid` last ran on (field 39 of /proc/<tid>/stat): where a thread that is
 * blocked in a system call is. Returns the CPU or -errno. */
PAL_API long PalThreadLastCpu(pid_t tid);

/* The process (thread group) that thread `tid` belongs to and that process's parent (Tgid and PPid
 * in /proc/<tid>/status). Returns 0 or -errno. */
PAL_API long PalThreadProcess(pid_t tid, pid_t* tgid, pid_t* ppid);

/* Thread `tid`'s ids in each PID namespace, from the one of the /proc the PAL reads down to its own
 * (the NSpid and NStgid lines of /proc/<tid>/status): at most `max` of each into pids and tgids,
 * outermost first. Returns the number of levels (1: the thread lives in /proc's own namespace), or
 * -errno (-ENOENT: no such thread; -E2BIG: deeper than `max`). */
PAL_API long PalThreadNamespaceIds(pid_t tid, pid_t* pids, pid_t* tgids, size_t max);

/* A descriptor of thread `tid`'s PID namespace (/proc/<tid>/ns/pid). Returns it or -errno. Its
 * parent is PalUserNamespaceParent's NS_GET_PARENT, which works on PID namespaces alike. */
PAL_API long PalPidNamespaceOpen(pid_t tid);

/* The kernel's translation (NS_GET_PID_FROM_PIDNS, Linux 6.9) of id `pid` of PID namespace `nsfd` into
 * the calling process's namespace: the tid, -ESRCH when that namespace has no such task (or it is
 * not visible here), -ENOTTY or -EINVAL on a kernel without it. */
PAL_API long PalPidNamespaceTranslate(int nsfd, pid_t pid);

/* A pidfd that holds thread `tid` (pidfd_open with PIDFD_THREAD, Linux 6.9; for a process's main
 * thread, a plain pidfd where the flag is unknown). Returns it or -errno. */
PAL_API long PalThreadPidfd(pid_t tid);

/* Whether the task of pidfd `fd` has been reaped, so that its tid may be another task's now: 1; 0 while
 * it runs or is a zombie (the kernel still finds it by its tid), or -errno. */
PAL_API long PalPidfdEnded(int fd);

/* ---- credentials, for a supervisor that acts on another thread's behalf -------------------------
 * The kernel checks a thread's own credentials; strict mode's supervisor (libos-run) acts for threads
 * of other processes, so it reads theirs and, for the files it opens for them, takes them on. */

/* The supplementary groups PalCredentials and PalFileRights carry; a thread in more is "too many"
 * (ngroups = PAL_MAX_GROUPS + 1), and a supervisor then leaves its calls to the host. */
#define PAL_MAX_GROUPS 256

/* Thread `tid`'s credentials as the kernel checks them: its user and group ids (real, effective,
 * saved, filesystem; as the calling process's user namespace maps them, which is how they compare
 * with its own), its supplementary groups, its effective capabilities, and which user namespace they
 * count in (the inode number of /proc/<tid>/ns/user). Returns 0 or -errno (-ENOENT: no such thread). */
struct PalCredentials {
    uint32_t uid, euid, suid, fsuid;
    uint32_t gid, egid, sgid, fsgid;
    uint32_t ngroups;
    uint32_t groups[PAL_MAX_GROUPS];
    uint64_t cap_effective;
    uint64_t user_ns;
};
PAL_API long PalThreadCredentials(pid_t tid, struct PalCredentials* creds);

/* A descriptor of thread `tid`'s user namespace (/proc/<tid>/ns/user; 0: the calling thread's).
 * Returns it or -errno. */
PAL_API long PalUserNamespaceOpen(pid_t tid);

/* The parent of user namespace `nsfd` (NS_GET_PARENT), as a new descriptor, or -errno: -EPERM when
 * `nsfd` is the initial namespace or its parent is outside the caller's reach. */
PAL_API long PalUserNamespaceParent(int nsfd);

/* The user who created user namespace `nsfd` (NS_GET_OWNER_UID), as the caller's namespace maps it.
 * Returns it or -errno. */
PAL_API long PalUserNamespaceOwner(int nsfd);

/* The calling thread's rights on files: what the kernel's file permission checks look at. */
struct PalFileRights {
    uint32_t fsuid, fsgid;
    uint32_t ngroups;
    uint32_t groups[PAL_MAX_GROUPS];
    uint64_t cap_effective;
};

/* Reads the calling thread's file rights. Returns 0 or -errno. */
PAL_API long PalThreadGetFileRights(struct PalFileRights* out);

/* Replaces the calling thread's file rights, for this thread alone (setgroups, setfsgid, setfsuid
 * and capset as raw system calls: unlike libc's wrappers, they change no other thread): its
 * effective capabilities become `rights->cap_effective` (which must be within its permitted set).
 * Its permitted capabilities are raised into the effective set first, so that a thread holding rights
 * without CAP_SETGID/CAP_SETUID (a caller's) can still change them. Checks that each took effect.
 * Returns 0, or -errno having put back what it had changed (-EPERM: the thread lacks the right to take
 * them), or -ENOTRECOVERABLE when even that failed: the thread's rights are then neither. */
PAL_API long PalThreadSetFileRights(const struct PalFileRights* rights);

/* Writes `size` bytes to the host's standard error, whole, retrying short writes and EINTR. */
PAL_API void PalDebugLog(const char* buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* PAL_PAL_H */
