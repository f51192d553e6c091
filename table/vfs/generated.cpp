/* Generated files as descriptors (libos_vfs.h: vfs_open_generated): each content is written into a
 * sealed memfd, handed out read-only, and cached per process when it cannot change. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <atomic>

#include "libos/libos_sections.h"
#include "vfs/vfs_internal.h"

namespace libos {
namespace {

/* Contents that cannot change while the machine runs (the sysfs files, /proc/cpuinfo) are generated
 * once per process and kept in a memfd (O_CLOEXEC, placed high); each open reopens it read-only, so
 * that every open still has an offset of its own. /proc/stat and the status files change, and are
 * generated at every open. A fork child shares the cache; an exec'ed program starts without one. */
struct CachedFile {
    std::atomic<int> fd_plus_one; /* 0: free; -1: being filled */
    uint64_t dev, ino;            /* the memfd, to notice if the program closed its number */
    mode_t host_mode;             /* the host file's type and permissions, found by the walk */
    char virt[kVfsPathMax];
};
constexpr int kCachedFiles = 64;
constexpr int kCacheFdFloor = 900; /* where the cached memfds go (PalFileMoveHigh) */
LIBOS_LARGE_BSS constinit CachedFile g_cache[kCachedFiles] = {};

bool cacheable(const VfsPath& path) {
    switch (path.file) {
        case VfsFile::Stat:
        case VfsFile::Status:
        case VfsFile::NodeMeminfo: /* free memory changes */
        case VfsFile::NodeNumastat:
        case VfsFile::NodeVmstat:
        case VfsFile::TaskStat:
        case VfsFile::Interrupts:
        case VfsFile::Softirqs:
        case VfsFile::SoftnetStat:
        case VfsFile::IrqMask:
        case VfsFile::IrqList:
        case VfsFile::CgroupCpus:
        case VfsFile::CgroupMems:
        case VfsFile::CgroupCpuMax: /* the process may move to another cgroup */
        case VfsFile::CgroupCfsQuota:
        case VfsFile::NumaMaps:
            return false;
        default:
            return true;
    }
}

/* A descriptor of its own for memfd `fd`, with the program's access mode and status flags, as opening
 * the real file gives (a read-only one fails writes with EBADF; the content is sealed, so one opened
 * for writing fails them with EPERM); -errno if /proc cannot be used. It takes the lowest free number,
 * as the program's open would. /proc/self/fd/N is a link that must be followed, so the program's
 * O_NOFOLLOW (which the real file, not a link, satisfies) is not passed on, and neither is what the
 * real file's open has already judged (O_CREAT, O_EXCL, O_TRUNC). */
}  // namespace

bool vfs_generated_changes(const VfsPath& path) {
    return !cacheable(path);
}

long reopen_memfd(long fd, int flags) {
    constexpr int kPassed = O_ACCMODE | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | O_NOATIME | O_APPEND | O_PATH;
    return PalFileOpen(AT_FDCWD, ProcPath::self().leaf("fd").number(static_cast<uint64_t>(fd)).c_str(),
                       flags & kPassed, 0);
}

namespace {

/* The memfd's name: the prefix, then the path on the machine, which fstat and readlink read back
 * (vfs_generated_fd). memfd_create takes 249 bytes. */
constexpr char kNamePrefix[] = "libos-vcpu:";
constexpr size_t kNameMax = kMemfdNameMax;

/* The cached memfd of `virt` that still is what it was, or -1. */
long cached_fd(const char* virt) {
    for (CachedFile& c : g_cache) {
        int fd = c.fd_plus_one.load(std::memory_order_acquire) - 1;
        if (fd < 0 || strcmp(c.virt, virt) != 0)
            continue;
        struct stat st;
        if (PalFileStat(fd, &st) == 0 && st.st_dev == c.dev && st.st_ino == c.ino)
            return fd;
        return -1;
    }
    return -1;
}

/* Keeps memfd `fd` (already rewound) for `virt`, moved out of the program's way; it is closed when it
 * cannot be kept (the cache is full). */
void keep(const char* virt, mode_t host_mode, long fd) {
    long high = strlen(virt) < kVfsPathMax ? PalFileMoveHigh(static_cast<int>(fd), kCacheFdFloor, true) : -ENAMETOOLONG;
    if (high < 0) {
        PalFileClose(static_cast<int>(fd));
        return;
    }
    struct stat st;
    if (PalFileStat(static_cast<int>(high), &st) < 0) {
        PalFileClose(static_cast<int>(high));
        return;
    }
    for (CachedFile& c : g_cache) {
        int current = c.fd_plus_one.load(std::memory_order_acquire);
        bool stale = current > 0 && strcmp(c.virt, virt) == 0; /* the program closed the old one */
        if (!(current == 0 || stale) || !c.fd_plus_one.compare_exchange_strong(current, -1))
            continue;
        /* The old descriptor's number may be the program's own file by now: only a number that
         * still is the old memfd is closed. */
        if (stale) {
            struct stat old;
            if (PalFileStat(current - 1, &old) == 0 && old.st_dev == c.dev && old.st_ino == c.ino)
                PalFileClose(current - 1);
        }
        c.dev = st.st_dev;
        c.ino = st.st_ino;
        c.host_mode = host_mode;
        memcpy(c.virt, virt, strlen(virt) + 1);
        c.fd_plus_one.store(static_cast<int>(high) + 1, std::memory_order_release);
        return;
    }
    PalFileClose(static_cast<int>(high));
}

}  // namespace

bool memfd_name(const char* virt, char* name) {
    const size_t prefix = sizeof(kNamePrefix) - 1, length = strlen(virt);
    if (prefix + length > kNameMax)
        return false;
    memcpy(name, kNamePrefix, prefix);
    memcpy(name + prefix, virt, length + 1);
    return true;
}

long write_content(Caller caller, const VfsPath& path, Out& out) {
    switch (path.file) {
        case VfsFile::CpuInfo:
            return write_cpuinfo(caller, out);
        case VfsFile::Stat:
            return write_stat(caller, out);
        case VfsFile::Status:
            return write_status(caller, path, out);
        case VfsFile::TaskStat:
        case VfsFile::Interrupts:
        case VfsFile::Softirqs:
        case VfsFile::SoftnetStat:
        case VfsFile::IrqMask:
        case VfsFile::IrqList:
            return write_proc_cpus(caller, path, out);
        case VfsFile::CgroupCpus:
        case VfsFile::CgroupMems:
        case VfsFile::CgroupCpuMax:
        case VfsFile::CgroupCfsQuota:
            return write_cgroup(caller, path, out);
        case VfsFile::DeviceCpuMask:
        case VfsFile::DeviceCpuList:
            return write_device(caller, path, out);
        case VfsFile::NumaMaps:
            return write_numa_maps(caller, path, out);
        case VfsFile::None:
            return -ENOENT;
        default:
            return write_sysfs(caller, path, out);
    }
}

namespace {

/* The content is final: no descriptor of it, the cache's included, can change it. */
void seal(int fd) {
    PalFileSeal(fd, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
}

/* A live file (live.cpp): a content that changes, opened only for reading by this process. Its memfd
 * stays unsealed, so that it can be written again in place; the program's descriptor is a read-only
 * reopen (a write fails with EBADF, as on the real file). */
bool live(Caller caller, const VfsPath& path, int flags) {
    return !cacheable(path) && !caller.is_remote() && (flags & O_ACCMODE) == O_RDONLY && !(flags & O_PATH);
}

/* Writes the content into memfd `fd` and seals it unless `sealed` is false: 0 or -errno (the memfd
 * is then closed). */
long fill(Caller caller, const VfsPath& path, int fd, bool sealed) {
    long ret;
    {
        Out out(fd);
        ret = write_content(caller, path, out);
        out.flush();
        if (ret == 0)
            ret = out.error();
    }
    if (ret < 0) {
        PalFileClose(fd);
        return ret;
    }
    PalFileSeek(fd, 0, SEEK_SET);
    if (sealed)
        seal(fd);
    return 0;
}

/* One descriptor left, which the memfd took, and generating the content needs one more (to read the
 * host's files): the content is made in memory first, then the memfd takes the last descriptor and is
 * the program's own (sealed: a write fails with EPERM, not EBADF). A content larger than the buffer
 * cannot be made so: EMFILE. */
long last_number(Caller caller, const VfsPath& path, int flags) {
    Out text(-1);
    if (long ret = write_content(caller, path, text); ret < 0)
        return ret;
    if (!text.room(1))
        return -EMFILE;
    char name[kNameMax + 1];
    const size_t prefix = sizeof(kNamePrefix) - 1, length = strlen(path.virt);
    memcpy(name, kNamePrefix, prefix);
    memcpy(name + prefix, path.virt, length + 1); /* its length was checked by vfs_open_generated */
    long fd = PalMemfdCreate(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return fd;
    text.write_to(static_cast<int>(fd));
    PalFileSeek(static_cast<int>(fd), 0, SEEK_SET);
    PalFileSeal(static_cast<int>(fd), F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
    PalFileSetCloseOnExec(static_cast<int>(fd), (flags & O_CLOEXEC) != 0);
    return fd;
}

/* The memfd stayed at `fd`, the lowest free number when the open began: the program's descriptor is
 * reopened from it and put at the lowest free number again once the memfd is closed, which is `fd`
 * (unless another thread took it meanwhile: the lowest free one then, as the kernel would give). With
 * a single descriptor free, no reopen fits: the sealed memfd itself is the program's. */
long low_number(Caller caller, const VfsPath& path, int flags, int fd) {
    if (long ret = fill(caller, path, fd, !live(caller, path, flags)); ret == -EMFILE)
        return last_number(caller, path, flags);
    else if (ret < 0)
        return ret;
    long reopened = reopen_memfd(fd, flags);
    if (reopened < 0) {
        seal(fd); /* the program's own descriptor: it must not write it */
        PalFileSetCloseOnExec(fd, (flags & O_CLOEXEC) != 0);
        return fd;
    }
    PalFileClose(fd);
    long low = PalFileDuplicateHigh(static_cast<int>(reopened), 0, (flags & O_CLOEXEC) != 0);
    if (low < 0 || low > reopened) {
        if (low >= 0)
            PalFileClose(static_cast<int>(low));
        return reopened;
    }
    PalFileClose(static_cast<int>(reopened));
    return low;
}

}  // namespace

namespace {

long open_generated(Caller caller, const VfsPath& path, int flags) {
    if (!cacheable(path)) {
        if (long fd = pooled_open(caller, path, flags); fd != kPoolUnavailable)
            return fd;
    }
    if (cacheable(path)) {
        long cached = cached_fd(path.virt);
        if (cached >= 0) {
            long fd = reopen_memfd(cached, flags);
            if (fd >= 0)
                return fd;
        }
    }
    char name[kNameMax + 1];
    if (!memfd_name(path.virt, name))
        return -ENAMETOOLONG;
    long created = PalMemfdCreate(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (created < 0)
        return created;
    /* Out of the program's way at once: the descriptor it gets is the lowest free one. Under a low
     * descriptor limit it cannot go high; it then keeps that lowest number, which the program's
     * descriptor takes over at the end (low_number), and is not cached (a cache below the limit would
     * take the program's descriptors). */
    long fd = PalFileMoveHigh(static_cast<int>(created), kCacheFdFloor, true);
    if (fd < 0 || fd == created)
        return low_number(caller, path, flags, static_cast<int>(created));
    long ret;
    if ((ret = fill(caller, path, static_cast<int>(fd), !live(caller, path, flags))) < 0)
        return ret;
    long reopened = reopen_memfd(fd, flags);
    if (reopened >= 0) {
        if (cacheable(path))
            keep(path.virt, path.mode, fd);
        else
            PalFileClose(static_cast<int>(fd));
        return reopened;
    }
    /* No /proc: hand out the memfd itself (sealed, so writes fail) at the lowest free number, and
     * cache nothing. */
    seal(static_cast<int>(fd));
    long low = PalFileDuplicateHigh(static_cast<int>(fd), 0, (flags & O_CLOEXEC) != 0);
    PalFileClose(static_cast<int>(fd));
    return low;
}

}  // namespace

long vfs_open_generated(Caller caller, const VfsPath& path, int flags) {
    long fd = open_generated(caller, path, flags);
    if (fd >= 0 && live(caller, path, flags))
        vfs_live_mark(static_cast<int>(fd));
    return fd;
}

long vfs_write_generated(Caller caller, const VfsPath& path, int fd) {
    Out out(fd);
    long ret = write_content(caller, path, out);
    out.flush();
    return ret < 0 ? ret : out.error();
}

bool cached_mode(const char* virt, mode_t* mode) {
    for (CachedFile& c : g_cache) {
        if (c.fd_plus_one.load(std::memory_order_acquire) > 0 && strcmp(c.virt, virt) == 0) {
            *mode = c.host_mode;
            /* Filled before the entry was published; the entry's number is checked at the open. */
            return *mode != 0;
        }
    }
    return false;
}

bool vfs_generated_link(char* target, size_t length, size_t* new_length) {
    constexpr char kMemfd[] = "/memfd:";
    constexpr char kDeleted[] = " (deleted)";
    const size_t head = sizeof(kMemfd) - 1 + sizeof(kNamePrefix) - 1, tail = sizeof(kDeleted) - 1;
    if (length <= head + tail || strncmp(target, kMemfd, sizeof(kMemfd) - 1) != 0 ||
        strncmp(target + sizeof(kMemfd) - 1, kNamePrefix, sizeof(kNamePrefix) - 1) != 0 ||
        memcmp(target + length - tail, kDeleted, tail) != 0 || target[head] != '/')
        return false;
    *new_length = length - head - tail;
    memmove(target, target + head, *new_length);
    target[*new_length] = '\0';
    return true;
}

bool vfs_generated_fd(int fd, mode_t mode, uint64_t nlink, VfsPath* out) {
    if (!S_ISREG(mode) || nlink != 0 || fd < 0)
        return false;
    char target[kVfsPathMax];
    long n = PalFileReadLink(ProcPath::self().leaf("fd").number(static_cast<uint64_t>(fd)).c_str(), target,
                             sizeof(target));
    size_t length;
    return n > 0 && vfs_generated_link(target, static_cast<size_t>(n), &length) &&
           classify_canonical(target, out) && out->kind == VfsKind::Generated;
}

}  // namespace libos
