/* The virtual CPU files: /sys/devices/system/{cpu,node} and /proc/{cpuinfo,stat,<pid>/status} as a
 * machine of n vCPUs shows them. The code is in table/vfs/ (vfs_internal.h names its files).
 *
 * A path is resolved as the kernel resolves it (vfs_classify): component by component, each looked
 * up on the machine (cpuV/ is the host's cpuH/ underneath, cpu9 of 8 vCPUs does not exist) and on the
 * host (which says what exists, what is a directory and where a symbolic link points), "." and ".."
 * taken in place, links followed up to the kernel's 40, a trailing slash demanding a directory. The
 * result names the file the kernel would have reached, or the error it would have given.
 *
 * Generated files are written into a memfd at open time and handed out under the program's access
 * mode, so reads, partial reads, pread and fork behave as on any file; the memfd's name carries the
 * virtual path ("libos-vcpu:/sys/devices/system/cpu/online"), by which fstat, fstatfs, readlink of
 * /proc/self/fd/N, mmap and lseek(SEEK_END) answer as the real file's would (a content that changes
 * reuses a memfd of its file that nobody has open any more: table/vfs/generated_pool.cpp). Files
 * under cpuV/ that the LibOS does not rewrite are redirected to the mapped host CPU's own file;
 * directories are opened for real (the host's cpuH/ for cpuV/) and their listings filtered by the
 * shim. Everything else is untouched. */
#ifndef LIBOS_VFS_H
#define LIBOS_VFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>

#include "libos/libos_caller.h"

namespace libos {

enum class VfsKind : uint8_t {
    NotVirtual, /* not ours: the host's file, unchanged, and its own path resolution */
    Error,      /* the kernel's lookup fails: `error` (ENOENT for cpu9 of 8 vCPUs, ENOTDIR, ELOOP) */
    Generated,  /* content written by the LibOS; `real` is the host file that stands for it */
    Redirect,   /* the host's file or directory at `real` (cpuV/... -> cpuH/..., or where a path
                   through the views' links leads) */
    Directory,  /* a directory of the views: the host's directory at `real` */
    Link,       /* a symbolic link of the views not followed (O_NOFOLLOW, lstat, readlink): `target` */
};

enum class VfsFile : uint8_t {
    None,
    AllCpus,      /* cpu/online, possible, present: 0-(n-1) */
    Offline,      /* cpu/offline: empty */
    KernelMax,    /* cpu/kernel_max: n-1 */
    CpuOnline,    /* cpuV/online: 1 */
    CpuSetList,   /* a host CPU list under cpuV/, translated ("thread_siblings_list") */
    CpuSetMask,   /* a host CPU mask under cpuV/, translated ("thread_siblings"); read from its _list twin */
    TopologyId,   /* cpuV/topology/{physical_package_id,die_id,cluster_id,core_id}: the model's (item) */
    TopologyList, /* cpuV/topology/SET_list: the model's set (item: a SiblingSet) */
    TopologyMask, /* cpuV/topology/<set>: the same as a mask */
    CacheList,    /* cpuV/cache/indexI/shared_cpu_list (source: the host's indexI directory) */
    CacheMask,    /* cpuV/cache/indexI/shared_cpu_map */
    CacheId,      /* cpuV/cache/indexI/id */
    SmtActive,    /* cpu/smt/active */
    SmtControl,   /* cpu/smt/control */
    NodeList,     /* node/{online,possible,has_cpu,has_memory,has_normal_memory}: every node */
    NodeCpuList,  /* nodeN/cpulist */
    NodeCpuMap,   /* nodeN/cpumap */
    NodeDistance, /* nodeN/distance */
    NodeMeminfo,  /* nodeN/meminfo: the host nodes' memory shared among the nodes on them */
    NodeNumastat, /* nodeN/numastat: the host nodes' counters shared among the nodes on them */
    NodeVmstat,   /* nodeN/vmstat: the same */
    CpuInfo,      /* /proc/cpuinfo */
    Stat,         /* /proc/stat */
    Status,       /* /proc/<pid>[/task/<tid>]/status */
    /* The files elsewhere that name CPUs (procfs_cpus.cpp, cgroup.cpp, devices.cpp): */
    TaskStat,      /* /proc/<pid>[/task/<tid>]/stat: field 39, the CPU it last ran on */
    Interrupts,    /* /proc/interrupts: a column per CPU */
    Softirqs,      /* /proc/softirqs: a column per CPU */
    SoftnetStat,   /* /proc/<pid>/net/softnet_stat: a row per CPU */
    IrqMask,       /* /proc/irq/default_smp_affinity, irq/N/{smp,effective}_affinity, affinity_hint */
    IrqList,       /* /proc/irq/N/{smp,effective}_affinity_list */
    CgroupCpus,    /* a cgroup's cpuset.cpus, effective_cpus, cpus.effective... */
    CgroupMems,    /* a cgroup's cpuset.mems, effective_mems, mems.effective */
    CgroupCpuMax,  /* a cgroup v2 cpu.max: the machine's quota in the program's cgroup and above */
    CgroupCfsQuota, /* a cgroup v1 cpu.cfs_quota_us: the same */
    DeviceCpuMask, /* a PCI device's local_cpus (source: its local_cpulist) */
    DeviceCpuList, /* a PCI device's local_cpulist */
    NumaMaps,      /* /proc/<pid>[/task/<tid>]/numa_maps: node columns on the virtual nodes */
};

/* Directories whose listing the shim filters. */
enum class VfsDir : uint8_t {
    Plain,   /* listed as the host lists it */
    CpuRoot, /* /sys/devices/system/cpu: cpu0..cpu(n-1) instead of the host's cpuN */
    Node,    /* /sys/devices/system/node/nodeN: cpuV links for the vCPUs on node N */
    NodeRoot, /* /sys/devices/system/node: node0..node(k-1) instead of the host's nodeN */
    Cpu,     /* /sys/devices/system/cpu/cpuV: its nodeN link instead of the host CPU's */
    BusCpu,  /* /sys/bus/cpu/devices: cpuV links for the vCPUs */
    BusNode, /* /sys/bus/node/devices: nodeK links for the machine's nodes */
    DevCpu,  /* /dev/cpu: a directory V for each vCPU (the host CPU's, with its msr and cpuid) */
    /* A directory below cpuV/ (node: V) or nodeK/ (node: K) whose host directory a lower-numbered
     * entry shares: the host's listing, its directories and links with the inodes stat gives them
     * (vfs_machine_ino). Never classify's: vfs_listing_kind's. */
    BelowCpu,
    BelowNode,
};

constexpr size_t kVfsPathMax = 512;

struct VfsPath {
    VfsKind kind;
    VfsFile file;
    VfsDir dir;
    int32_t node;  /* nodeN, or -1 */
    uint32_t vcpu; /* cpuV/...: V */
    uint8_t item;  /* which id or set (TopologyId, TopologyList, TopologyMask) */
    pid_t tid;     /* the thread whose status this is */
    int error;     /* Error: -errno */
    mode_t mode;   /* the type and permissions of `real` on the host (lstat), 0 if unknown */
    bool trailing_slash; /* the path ended in "/": it names a directory */
    bool mapped;         /* the host reaches `real` by another path than the program's */
    bool last_missing;   /* Error ENOENT: only the last component is missing (an O_CREAT would make it) */
    char real[kVfsPathMax];   /* the host file or directory behind it */
    char source[kVfsPathMax]; /* Generated: the host file its content is made from (a mask's _list
                                 twin); Link: the link's target as the machine has it */
    char virt[kVfsPathMax];   /* the path as the kernel would name it (resolved, canonical) */
};

/* Which way a path's last component is taken when it is a symbolic link. */
enum class VfsFollow : uint8_t { Last, NotLast };

/* True on a virtual machine: the views are active. */
bool vfs_active();

/* Resolves a path that `caller` named ("/proc/self" is the caller's) and classifies what it
 * reaches: an absolute path, or one relative to directory `start` (a canonical path), with
 * openat2's RESOLVE_* flags `resolve` (NO_XDEV, NO_MAGICLINKS, NO_SYMLINKS, BENEATH and IN_ROOT are
 * applied as the kernel applies them; CACHED asks nothing more). Returns false for paths that are
 * certainly not ours, cheaply, without touching `out`'s strings: then the host resolves the path
 * itself, and its answer is the kernel's. */
bool vfs_classify(Caller caller, const char* path, VfsPath* out, VfsFollow follow = VfsFollow::Last,
                  uint64_t resolve = 0, const char* start = nullptr);

/* Resolves the path at `user_path`, which `caller` names relative to `dirfd` (or absolutely).
 * False: not a virtual path (or not readable: the host reports that), and the call is the host's. */
bool vfs_resolve(Caller caller, int dirfd, uintptr_t user_path, VfsPath* out, VfsFollow follow = VfsFollow::Last,
                 uint64_t resolve = 0);

/* Joins a directory's path and a relative path into out (kVfsPathMax bytes), as the kernel starts a
 * relative lookup there: nothing is collapsed ("x/.." stays for the lookup to judge). */
bool vfs_join(const char* dir, const char* relative, char* out);

/* A descriptor of a generated file, known by its memfd's name: what it is into `out` (its path on
 * the machine, and the host file that stands for it). False for every other descriptor; cheap unless
 * `mode` and `nlink`, the host's fstat of it, look like a memfd's (a regular file with no link). */
bool vfs_generated_fd(int fd, mode_t mode, uint64_t nlink, VfsPath* out);
/* The same for the target of a /proc/<pid>/fd/N link as the host reads it: the machine's path
 * (in place, NUL-terminated), or false when it is not a generated file's. */
bool vfs_generated_link(char* target, size_t length, size_t* new_length);

/* Opens a Generated path for `caller`: a fresh read-only descriptor with the content (O_CLOEXEC as
 * asked). Returns the descriptor or -errno. */
long vfs_open_generated(Caller caller, const VfsPath& path, int flags);
/* Writes a Generated path's content into `fd` (strict mode's views fill their files with it): 0 or
 * -errno. */
long vfs_write_generated(Caller caller, const VfsPath& path, int fd);

/* Generated files opened for reading and writing (table/vfs/refused_writes.cpp): their writes fail as
 * the real file's do (EIO, EINVAL; pwrite's ESPIPE), not with the sealed memfd's EPERM. The open
 * records the descriptor with the real file's answers to a write of nothing (-errno, 0 when it
 * takes one), and dup, dup2, dup3 and fcntl(F_DUPFD) its copies (vfs_refuse_dup); the shim's write
 * calls and the table's write handlers ask vfs_refused_write (0: the host's own write) once any was
 * recorded; close forgets the number. */
extern std::atomic<int> g_vfs_refusing;
inline bool vfs_refusing_any() {
    return __builtin_expect(g_vfs_refusing.load(std::memory_order_relaxed) != 0, 0);
}
enum class VfsWriteKind { Stream, Positional };
void vfs_refuse_record(int fd, long write_error, long pwrite_error);
long vfs_refused_write(int fd, VfsWriteKind kind, long offset);
void vfs_refuse_forget(int fd);
/* `to` was made a copy of `from` (dup, dup2, dup3, fcntl(F_DUPFD)): it refuses as `from` does, or,
 * when `from` refuses nothing, no more than its new file does. */
void vfs_refuse_dup(int from, int to);
/* A refused write of the EIO kind that the host made on the memfd (`ret`: its result or -errno), so
 * that the kernel judged its arguments first: the file's `error` where the memfd said EPERM, and where
 * it said EFAULT of a buffer (`buf`, `count`, null included; count 0 for a vector, whose array the
 * kernel does read) within user space's range, which the real file never reads; the host's answer
 * otherwise. */
long vfs_refused_after_checks(long ret, long error, const void* buf, size_t count);

/* Live generated files (table/vfs/live.cpp): the descriptors of contents that change (/proc/stat,
 * the status files, a node's meminfo, the cgroup files...) are written again where Linux's seq files
 * generate anew: a read at offset 0 after an earlier read, a read or pread elsewhere than where the
 * last read stopped, an lseek elsewhere than the current offset, a stdio seek. Descriptors below
 * kVfsLiveFds are followed in a table indexed by number; up to kVfsLiveHighFds higher ones in a
 * small table of their own. Each call checks that the number is still the file it was (fstat)
 * before writing. In-process callers only. */
constexpr int kVfsLiveFds = 4096;
constexpr int kVfsLiveHighFds = 64;
/* How many descriptors were ever marked: 0 for a program that never opened such a file, whose calls
 * then pay one predictable branch. */
extern std::atomic<int> g_vfs_live_count;
inline bool vfs_live_any() {
    return __builtin_expect(g_vfs_live_count.load(std::memory_order_relaxed) != 0, 0);
}
/* fd was just opened onto a changing content (vfs_open_generated). */
void vfs_live_mark(int fd);
/* What a stat found may be a generated file's memfd (a regular file of no name on the memfds' device,
 * once one was marked): cheap, for the open of a path that may lead to one. */
bool vfs_maybe_memfd(const struct stat& st);
/* fd came from elsewhere (inherited across exec): marked if it is a generated file's memfd that
 * changes. */
void vfs_live_adopt(int fd);
/* The live descriptors an exec keeps open (no close-on-exec), as "N,N,..." in `out` (at most
 * kVfsLiveExecFds): its length, 0 for none. The new program adopts them (LIBOS_LIVE_FDS). */
constexpr int kVfsLiveExecFds = 16;
size_t vfs_live_exec_list(char* out, size_t size);
/* A posix_spawn's file actions, the dup2 ones in order (from[i] onto to[i]): the copies of live
 * descriptors they make are listed too by this thread's next vfs_live_exec_list (the spawn's
 * environment), since glibc's child makes them where no override sees it. count 0 forgets them. */
void vfs_live_spawn_copies(const int* from, const int* to, int count);
/* This thread's list of such copies, saved by each posix_spawn before it makes its own and put back
 * after it: a posix_spawn in a signal handler that interrupted another one on the same thread must
 * not leave the outer one's list empty (or its own in its place) when the handler returns. */
struct VfsSpawnCopies {
    int count;
    int fd[kVfsLiveExecFds];
};
void vfs_live_spawn_save(VfsSpawnCopies* out);
void vfs_live_spawn_restore(const VfsSpawnCopies& saved);
/* dup, dup2, dup3, fcntl(F_DUPFD) made `to` a copy of `from` (`to` is no live file when `from` is
 * none). */
void vfs_live_dup(int from, int to);
/* fd is being closed (close, fclose): it is no live file any more. */
void vfs_live_forget(int fd);
/* The table: per descriptor number, the memfd's inode number (0: no live file), whether it was
 * read since its content was made, and where the last pread stopped (-1: the last read was at the
 * descriptor's offset, or there was none since an lseek), which Linux's seq file keeps as read_pos. */
struct VfsLiveFd {
    std::atomic<uint64_t> ino;
    std::atomic<uint8_t> used;
    std::atomic<long> read_pos;
    std::atomic<uint8_t> shortcut; /* the offset's state may be known without asking (live.cpp) */
};
extern VfsLiveFd g_vfs_live[kVfsLiveFds];
/* Descriptors at or above kVfsLiveFds: whether any was ever marked, and the slow look-up. */
extern std::atomic<int> g_vfs_live_high;
bool vfs_live_tracked_high(int fd);
/* fd is (or was, and may still be) a live file: one load, no system call (a number of kVfsLiveFds
 * or more: one more load, and the small table's look-up once such a number was ever marked). */
inline bool vfs_live_tracked(int fd) {
    if (__builtin_expect(static_cast<unsigned>(fd) < static_cast<unsigned>(kVfsLiveFds), 1))
        return g_vfs_live[fd].ino.load(std::memory_order_acquire) != 0;
    return fd >= 0 && g_vfs_live_high.load(std::memory_order_relaxed) != 0 && vfs_live_tracked_high(fd);
}
/* Before read, readv, or preadv2 at the current offset (-1) of fd. */
void vfs_live_before_read(Caller caller, int fd);
/* Before pread, preadv, preadv2 at `offset`; after it, with what it returned. */
void vfs_live_before_pread(Caller caller, int fd, long offset);
void vfs_live_after_pread(int fd, long offset, long result);
/* After read, readv, preadv2 at the current offset, with what it returned. */
void vfs_live_after_read(int fd, long result);
/* Before lseek(fd, offset, whence). */
void vfs_live_before_seek(Caller caller, int fd, long offset, int whence);
/* Writes fd's content again now (a stdio stream's seek: its reads are glibc's own). */
void vfs_live_write_now(Caller caller, int fd);
/* A read of a live descriptor that another thread's making of its content overlapped may hold part
 * of each (the content is written in place): the shim's read, pread, readv and preadv mark the
 * start of the read, and read again when it was not whole, up to kVfsLiveRetries times. The start
 * waits for another thread's making to end (up to 200 ms), never for its own thread's. */
struct VfsLiveRead {
    int seq;          /* 0: fd was no live file */
    uint32_t written; /* the makings ended when the read began */
    bool quiet;       /* nobody was making it then */
};
constexpr int kVfsLiveRetries = 64;
VfsLiveRead vfs_live_read_begin(int fd);
/* Whether the read since `mark` was of one content, whole. */
bool vfs_live_read_whole(const VfsLiveRead& mark);
/* In a fork child: no thread is making a content any more (the fork hooks, after after_fork_child). */
void vfs_live_after_fork();
/* Moves fd's offset back by `count` bytes, for a read(2) or readv(2) made again: false if it fails. */
bool vfs_live_read_undo(int fd, long count);

/* Listings (listing.cpp). Whether directory descriptor `fd` is one of the views' directories whose
 * listing is the machine's, and which (its kind, and the node of a nodeN or the V of a cpuV). */
bool vfs_listing_of(int fd, VfsDir* dir, int32_t* node);
/* The inode the machine gives the entry at canonical path `virt` of the views, whose host entry has
 * inode host_ino: the host's, except for the directories and links at or below a vCPU's or a node's
 * entry whose host entry a lower-numbered one shares, which get inodes of their own (inodes.cpp).
 * vfs_machine_ino_of leaves other types (mode) the host's. */
uint64_t vfs_machine_ino(const char* virt, uint64_t host_ino);
/* Whether the directory `p` names (classified) is listed by the LibOS (vfs_read_listing), and how:
 * its VfsDir and node, which are classify's, or BelowCpu/BelowNode. */
bool vfs_listing_kind(const VfsPath& p, VfsDir* dir, int32_t* node);
uint64_t vfs_machine_ino_of(const char* virt, mode_t mode, uint64_t host_ino);
/* The link count the machine gives directory `virt` (of type `mode`), whose host directory has
 * host_nlink: for /sys/devices/system/cpu, /sys/devices/system/node and /dev/cpu, 2 and one per
 * subdirectory as the kernel counts them, with the machine's vCPUs' or nodes' directories in place
 * of the host's; the host's for anything else (inodes.cpp). */
uint64_t vfs_machine_nlink(const char* virt, mode_t mode, uint64_t host_nlink);
/* The records getdents64(2) (Linux64) and getdents(2) (Linux) write. */
enum class DirentFormat : uint8_t { Linux64, Linux };
/* Reads the listing of such a directory from its current position into the caller's `buf` (`size`
 * bytes) as the kernel's getdents calls do: the bytes written, 0 at the end, -EINVAL when the first
 * entry does not fit, -EFAULT when it cannot be written. The host host's entries keep their order and
 * the host's cookies (d_off), which lseek(SEEK_SET) resumes from; the machine's entries the host
 * lacks follow. */
long vfs_read_listing(Caller caller, int fd, VfsDir dir, int32_t node, uintptr_t buf, size_t size,
                      DirentFormat format);

/* Whether `path` is a CPU's device node under /dev/cpu/V/ (msr, cpuid), whose minor number is the
 * CPU's: stat shows V's, not the host CPU's it opens (cpu_devices.cpp). */
bool vfs_cpu_device_minor(const VfsPath& path);
/* The V of a device path on the machine "/dev/cpu/V/cpuid" (or msr): whether it is one. */
bool vfs_cpu_device_vcpu(const char* virt, uint32_t* vcpu);

/* The current directory of the views: set up when first needed (from LIBOS_CWD, which exec passes on),
 * and the virtual path exec passes on (nullptr when the current directory is not in the views). */
void init_cwd();
const char* exec_cwd();
/* The current directory's virtual path into out (kVfsPathMax bytes), when it is in the views. */
bool vfs_cwd(char* out);
/* Sets it (chdir into a view), or clears it (nullptr). */
void vfs_set_cwd(const char* virt);
/* After a chdir the host made: is the new directory one of the views'? */
void vfs_note_host_cwd();
/* Keeps LIBOS_CWD for init_cwd; at start-up. */
void capture_inherited_cwd();
/* `path` as an absolute path for vfs_classify: itself, or joined to the current directory when
 * that is in the views. False otherwise (a relative path elsewhere is never virtual). */
bool vfs_absolute(const char* path, char* out);
/* vfs_classify of a path the program names in-process (absolute, or relative to a current directory
 * in the views), of any length up to PATH_MAX. */
bool vfs_classify_named(Caller caller, const char* path, VfsPath* out);

/* Directory descriptors opened on virtual directories, remembered so that openat(dirfd, relative)
 * resolves against the virtual path (cpuV/ is the host's cpuH/ underneath); and descriptors of the
 * machine's links opened with O_PATH|O_NOFOLLOW and of /dev/cpu/V's devices, so that fstat gives the
 * link's or device's inode (and minor) on the machine.
 * vfs_dir_path answers for directories only, vfs_fd_path for both. */
void vfs_remember_dir(int fd, const char* virt);
bool vfs_dir_path(int fd, char* out);
bool vfs_fd_path(int fd, char* out);
/* For fdopendir: the path on the machine of directory descriptor `fd` (kVfsPathMax bytes), when it
 * was opened through the views, or is a copy (dup) of a listed root (the CPU, node, bus and /dev/cpu
 * directories), which the host names as the machine does. */
bool vfs_listed_dir(int fd, char* out);

}  // namespace libos

#endif
