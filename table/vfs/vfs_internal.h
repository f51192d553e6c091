/* What the files of table/vfs/ share, and nothing else uses.
 *
 * The files:
 *   resolve.cpp    a program's path, made absolute and resolved as the kernel resolves it
 *   classify.cpp   what a resolved path names on the machine: which view, and the host file behind it
 *   sysfs.cpp      the contents of /sys/devices/system/{cpu,node} files
 *   procfs.cpp     the contents of /proc/cpuinfo, /proc/stat and the status files
 *   generated.cpp  generated files as descriptors: a sealed memfd per content, cached per process
 *   generated_pool.cpp  the memfds reused for contents that change at every open (/proc/stat)
 *   dirs.cpp       directories: listings, remembered descriptors, the virtual current directory
 *   procfs_cpus.cpp  a task's stat, /proc/interrupts, softirqs, net/softnet_stat and irq/ masks
 *   cgroup.cpp     the cgroup cpuset files
 *   devices.cpp    the devices' local_cpus and local_cpulist
 *   cpu_devices.cpp  /sys/bus/cpu/devices, /sys/bus/node/devices and /dev/cpu: CPUs and nodes as devices
 *   listing.cpp    the listings of the views' directories (getdents64, getdents, readdir)
 *   procfs_numa.cpp  /proc/<pid>/numa_maps on the virtual nodes
 *   live.cpp       the descriptors of changing generated files, written again as seq files are
 * New views (topology, NUMA, cgroups) get a file each beside these. */
#ifndef LIBOS_VFS_INTERNAL_H
#define LIBOS_VFS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <atomic>

#include "libos/libos_caller.h"
#include "libos/libos_config.h"
#include "libos/libos_scratch.h"
#include "libos/libos_text.h"
#include "libos/libos_vfs.h"
#include "pal/pal.h"

namespace libos {

constexpr char kCpuRoot[] = "/sys/devices/system/cpu";
constexpr char kNodeRoot[] = "/sys/devices/system/node";
constexpr char kBusCpuRoot[] = "/sys/bus/cpu/devices";
constexpr char kBusNodeRoot[] = "/sys/bus/node/devices";
constexpr char kDevCpuRoot[] = "/dev/cpu";

/* ---- names ---------------------------------------------------------------------------------- */

inline bool starts_with(const char* s, const char* prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

inline bool ends_with(const char* s, const char* suffix) {
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* "cpu12" with prefix "cpu" -> 12; false unless the rest is a canonical decimal number. */
bool numbered(const char* component, size_t length, const char* prefix, uint32_t* value);

/* Collapses "//", "/./" and "/x/.." of an absolute path (followed by the relative path `then`, if
 * any) into out (kVfsPathMax bytes), lexically. False when out cannot hold a step of it. */
bool normalize(const char* path, char* out, const char* then = nullptr);

/* The kernel's PATH_MAX: the longest path (with its NUL) a call takes. */
constexpr size_t kPathMax = 4096;

/* What a canonical path (resolved: no ".", "..", repeated slashes, or links but the last component)
 * names on the machine, into out: false when it is no view's (then out->virt is the path, or "" when
 * it is too long); true with the kind otherwise (classify.cpp). */
bool classify_canonical(const char* path, VfsPath* out);

/* The host file's mode of a generated file this process has already made, which was found to exist
 * then (generated.cpp): its walk need not look it up again. */
bool cached_mode(const char* virt, mode_t* mode);

/* ---- contents ------------------------------------------------------------------------------- */

/* A generated file's content, written into its descriptor as it is built: in scratch memory (not on
 * the caller's stack, libos_scratch.h), or a small buffer of its own when there is none (the content
 * is then written in smaller pieces, or cut without a descriptor). */
struct OutStorage {
    static constexpr size_t kBytes = 4096;
    Scratch scratch{kBytes};
    char fallback[128];
};
class Out : private OutStorage, public TextBuilder {
public:
    explicit Out(int sink = -1)
        : TextBuilder(scratch.data() ? scratch.data() : fallback, scratch.data() ? kBytes : sizeof(fallback), sink) {}
};

/* ---- descriptors (generated.cpp, generated_pool.cpp) ----------------------------------------- */

/* A generated file's content, by family, into `out`: 0 or -errno. */
long write_content(Caller caller, const VfsPath& path, Out& out);
/* The content of `path` changes while the machine runs (/proc/stat, a status file...): generated at
 * every open, and kept live (live.cpp). */
bool vfs_generated_changes(const VfsPath& path);
/* A descriptor of its own onto memfd `fd`, with the program's access mode and status flags, at the
 * lowest free number (through /proc/self/fd): the descriptor or -errno. */
long reopen_memfd(long fd, int flags);
/* The memfd's name for the file at `virt` (kMemfdNameMax + 1 bytes), which fstat and readlink read
 * back; false when it does not fit. */
constexpr size_t kMemfdNameMax = 249; /* memfd_create's limit */
bool memfd_name(const char* virt, char* name);
/* A read-only descriptor onto a content that changes at every open (/proc/stat, the status files),
 * written into a memfd this process made for an earlier open of the same file and that nobody has
 * open any more, so that no memfd is made and freed per open: the descriptor, -errno, or
 * kPoolUnavailable when no such memfd can be used (then a fresh one is). */
constexpr long kPoolUnavailable = -(1L << 40);
long pooled_open(Caller caller, const VfsPath& path, int flags);
/* Whether descriptor fd is the one this thread's last pooled_open returned: its memfd's device and
 * inode then, without an fstat (the record is taken: asked once). */
bool pooled_just_opened(int fd, uint64_t* dev, uint64_t* ino);
/* Writes the content again into the pooled memfd (dev, ino) of this process, whose length is `size`
 * now, through the pool's mapping of it (or its own descriptor), for the file its slot names
 * (live.cpp): 0, -errno, -EBUSY when another thread has the slot, or kPoolUnavailable when it is not
 * one of this process's pooled memfds. */
long pooled_refresh(Caller caller, uint64_t dev, uint64_t ino, size_t size);

/* A vfork child's copy of a live descriptor, noted in its parent's memory (live.cpp): the child's pid
 * (0: free; -1: an entry a child is filling) and the copy's number. */
struct ChildCopy {
    std::atomic<pid_t> pid;
    int fd;
};
/* Notes `self`'s copy `fd` in one of the n entries: a free one, else, when every one is taken (by
 * children that ended without exec), the next in turn from *next that no child is filling, claimed
 * with a compare-and-swap as a free one is; false when all n are being filled at once. */
bool note_child_copy(ChildCopy* copies, int n, std::atomic<unsigned>* next, pid_t self, int fd);
/* In a fork child: the pool's slots are its parent's (generated_pool.cpp). */
void pool_after_fork();
/* A host file a content is made from, read whole into buf (NUL-terminated) with the caller's rights
 * (Caller::read_file): its length or -errno. /proc/stat, /proc/interrupts, /proc/softirqs, the
 * nodes' meminfo and this process's own status and stat files are read from a descriptor kept open,
 * at offset 0 (where a /proc or sysfs file is generated anew): an open and a close fewer per open of
 * the machine's file. */
long read_host_kept(Caller caller, const char* path, char* buf, size_t size);

/* A buffer of `size` bytes from mmap: large host files (/proc/cpuinfo of many CPUs) do not fit on a
 * stack, and the LibOS does not use malloc. */
struct MappedBuffer {
    /* size 0: no mapping (data is null), for a buffer needed only sometimes. */
    explicit MappedBuffer(size_t size) { map(size); }
    /* Maps `bytes` for a buffer made with size 0: whether it could. */
    bool map(size_t bytes) {
        void* p;
        size = bytes;
        data = bytes && PalMemoryAllocate(bytes, &p) == 0 ? static_cast<char*>(p) : nullptr;
        if (!data)
            size = 0;
        return data != nullptr;
    }
    ~MappedBuffer() {
        if (data)
            PalMemoryFree(data, size);
    }
    MappedBuffer(const MappedBuffer&) = delete;
    MappedBuffer& operator=(const MappedBuffer&) = delete;
    char* data;
    size_t size;
};

/* A CPU list as the kernel writes it ("0-3,8\n"). */
void put_list(Out& out, const CpuBits& set);
/* The set a host file's CPU list names (read with the caller's rights), and that set seen on the
 * machine: the vCPUs whose host CPU is in it (sysfs.cpp). 0 or -errno (-EIO when malformed). */
long read_host_set(Caller caller, const char* host_list_path, CpuBits* host);
long translated_set(Caller caller, const char* host_list_path, CpuBits* out);
/* A CPU mask as the kernel's %*pb writes it for nbits bits. */
void put_mask(Out& out, const CpuBits& set, uint32_t nbits);

/* The contents, by family: sysfs.cpp and procfs.cpp. Each returns 0 or -errno. The host files they
 * read, they read with the caller's rights (Caller::read_file). */
long write_sysfs(Caller caller, const VfsPath& path, Out& out);
/* The d_ino of entry `name` (of type `type`) in a listing of `dir` (node: its nodeK or cpuV), whose
 * host entry has inode host_ino: vfs_machine_ino's (inodes.cpp). */
uint64_t listing_ino(VfsDir dir, int32_t node, const char* name, unsigned char type, uint64_t host_ino);

/* nodeN/numastat and nodeN/vmstat (node_stats.cpp): whether node `node` shares a host node, or has
 * several (else its files are the host node's own), and the counters of host file `file` ("numastat",
 * "vmstat") shared among the nodes. */
bool node_counters_shared(uint32_t node);
long write_node_counters(Caller caller, uint32_t node, const char* file, Out& out);
long write_cpuinfo(Caller caller, Out& out);
#if defined(__aarch64__)
/* arm64's format written from the process's own view of the CPU, for a host file in another
 * architecture's format (under emulation: procfs_cpuinfo_arm64.cpp). */
bool cpuinfo_is_arm64(const char* host_text);
long write_cpuinfo_arm64(Out& out);
#endif
long write_stat(Caller caller, Out& out);
long write_status(Caller caller, const VfsPath& path, Out& out);

/* The files elsewhere that name CPUs, one file per family: the per-CPU /proc files and a task's stat
 * (procfs_cpus.cpp: `rest` follows "/proc/"), the cgroup cpusets (cgroup.cpp), the devices' local
 * CPUs (devices.cpp). *_may_name is the cheap lexical test of resolve.cpp; classify_* as
 * classify_canonical; write_* as write_sysfs. */
bool proc_cpus_may_name(const char* rest);
bool classify_proc_cpus(const char* rest, VfsPath* out);
long write_proc_cpus(Caller caller, const VfsPath& path, Out& out);
bool cgroup_may_name(const char* lexical);
bool classify_cgroup(const char* path, VfsPath* out);
long write_cgroup(Caller caller, const VfsPath& path, Out& out);
bool device_may_name(const char* lexical);
bool cpu_device_may_name(const char* lexical);
bool classify_cpu_device(const char* path, VfsPath* out);
bool classify_device(const char* path, VfsPath* out);
long write_device(Caller caller, const VfsPath& path, Out& out);
bool numa_maps_may_name(const char* rest);
bool classify_proc_numa(const char* rest, VfsPath* out);
long write_numa_maps(Caller caller, const VfsPath& path, Out& out);
inline bool may_name_cpus_elsewhere(const char* lexical) {
    return (starts_with(lexical, "/proc/") && (proc_cpus_may_name(lexical + 6) || numa_maps_may_name(lexical + 6))) ||
           cgroup_may_name(lexical) || device_may_name(lexical) || cpu_device_may_name(lexical);
}
/* A CPU mask as the kernel writes it ("ff,ffffffff") into bits. */
bool parse_cpu_mask(const char* text, CpuBits* out);

}  // namespace libos

#endif
