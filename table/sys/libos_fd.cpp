/* The descriptors of generated files (libos_vfs.h), which are memfds underneath: fstat(2), fstatfs(2),
 * statfs(2), readlink(2), readlinkat(2), mmap(2) and lseek(2) answer for them as the real file's
 * would, and read(2), readv(2), pread64(2), preadv(2), preadv2(2), lseek(2), dup(2), dup2(2) and dup3(2)
 * keep a changing one live (table/vfs/live.cpp), the real file (the host file that stands for the generated one) being the oracle. A
 * generated file's descriptor is told by the host's own answer first (a regular file with no link:
 * a memfd), then by its memfd's name, so every other descriptor costs one comparison.
 *
 * In-process only: strict mode's filter traps none of these calls (a program without the shim sees
 * the memfd; docs/strict-mode.md). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include "libos/libos_caller.h"
#include "libos/libos_numa.h"
#include "libos/libos_scratch.h"
#include "libos/libos_table.h"
#include "libos/libos_vfs.h"
#include "pal/pal.h"

using libos::Caller;
using libos::LeaveToHost;
using libos::SyscallResult;
using libos::UserPtr;
using libos::VfsKind;
using libos::VfsPath;

namespace {

bool in_process_vm(Caller caller) {
    return !caller.is_remote() && libos::vfs_active();
}

/* The generated file behind descriptor fd, if it is one. */
bool generated(int fd, VfsPath* p) {
    struct stat st;
    return PalFileStat(fd, &st) == 0 && libos::vfs_generated_fd(fd, st.st_mode, st.st_nlink, p);
}

/* readlink's answer, `n` bytes of `text`, as the kernel gives it: cut to the buffer, no NUL. */
SyscallResult link_out(Caller caller, UserPtr<char> buf, size_t size, const char* text, size_t n) {
    if (n > size)
        n = size;
    if (long ret = caller.copy_out(buf, text, n); ret < 0)
        return ret;
    return static_cast<long>(n);
}

SyscallResult readlink_at(Caller caller, int dirfd, UserPtr<const char> path, UserPtr<char> buf, int size) {
    if (!in_process_vm(caller) || size <= 0)
        return LeaveToHost{};
    VfsPath p;
    if (libos::vfs_resolve(caller, dirfd, path.address(), &p, libos::VfsFollow::NotLast)) {
        if (p.kind == VfsKind::Error)
            return p.error;
        if (p.kind == VfsKind::Link)
            return link_out(caller, buf, static_cast<size_t>(size), p.source, strlen(p.source));
        if (!S_ISLNK(p.mode))
            return -EINVAL;
        char target[libos::kVfsPathMax];
        long n = PalFileReadLink(p.real, target, sizeof(target));
        if (n < 0)
            return n;
        return link_out(caller, buf, static_cast<size_t>(size), target, static_cast<size_t>(n));
    }
    /* The host's answer, read here and then copied out (the kernel writes nothing past the link's
     * length): a /proc/<pid>/fd/N link to a generated file names the memfd, and gives the path on the
     * machine instead. */
    libos::Scratch scratch(PATH_MAX + 1); /* not on the caller's stack (libos_scratch.h) */
    char* target = scratch.data();
    if (!target)
        return -ENOMEM;
    long n = PalFileReadLinkAt(dirfd, path.for_kernel(), target, PATH_MAX);
    if (n < 0)
        return n;
    size_t length = static_cast<size_t>(n);
    if (!libos::vfs_generated_link(target, length, &length))
        length = static_cast<size_t>(n);
    return link_out(caller, buf, static_cast<size_t>(size), target, length);
}

}  // namespace

/* fstat(2) */
SyscallResult libos_syscall_fstat(Caller caller, int fd, UserPtr<struct stat> buf) {
    if (!in_process_vm(caller))
        return LeaveToHost{};
    struct stat st;
    if (long ret = PalFileStat(fd, &st); ret < 0)
        return ret;
    VfsPath p;
    if (libos::vfs_generated_fd(fd, st.st_mode, st.st_nlink, &p)) {
        if (long ret = PalFileStatAt(AT_FDCWD, p.real, &st, 0); ret < 0)
            return ret;
    } else if ((S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode) || S_ISCHR(st.st_mode)) && libos::vfs_fd_path(fd, p.virt)) {
        /* A directory opened through the views, a link of the machine opened with O_PATH, or vCPU V's
         * cpuid or msr device: its inode as stat gives it (fts compares them), and the device's
         * minor V. */
        if (uint32_t v; S_ISCHR(st.st_mode) && libos::vfs_cpu_device_vcpu(p.virt, &v))
            st.st_rdev = makedev(major(st.st_rdev), v);
        st.st_ino = libos::vfs_machine_ino(p.virt, st.st_ino);
        st.st_nlink = libos::vfs_machine_nlink(p.virt, st.st_mode, st.st_nlink);
    }
    return caller.copy_out(buf, &st, sizeof(st));
}

/* fstatfs(2): a generated file is on the file system of the file it stands for (sysfs, proc). */
SyscallResult libos_syscall_fstatfs(Caller caller, int fd, UserPtr<struct statfs> buf) {
    if (!in_process_vm(caller))
        return LeaveToHost{};
    struct statfs sf;
    if (long ret = PalFileSystemStat(fd, nullptr, &sf); ret < 0)
        return ret;
    VfsPath p;
    if (sf.f_type == TMPFS_MAGIC && generated(fd, &p)) {
        if (long ret = PalFileSystemStat(-1, p.real, &sf); ret < 0)
            return ret;
    }
    return caller.copy_out(buf, &sf, sizeof(sf));
}

/* statfs(2): a path of the views is on its host file's file system (cpuV/ on cpuH/'s). */
SyscallResult libos_syscall_statfs(Caller caller, UserPtr<const char> path, UserPtr<struct statfs> buf) {
    VfsPath p;
    if (!libos::vfs_resolve(caller, AT_FDCWD, path.address(), &p))
        return LeaveToHost{};
    if (p.kind == VfsKind::Error)
        return p.error;
    struct statfs sf;
    if (long ret = PalFileSystemStat(-1, p.real, &sf); ret < 0)
        return ret;
    return caller.copy_out(buf, &sf, sizeof(sf));
}

/* readlink(2) */
SyscallResult libos_syscall_readlink(Caller caller, UserPtr<const char> path, UserPtr<char> buf, int size) {
    return readlink_at(caller, AT_FDCWD, path, buf, size);
}

/* readlinkat(2) */
SyscallResult libos_syscall_readlinkat(Caller caller, int dirfd, UserPtr<const char> path, UserPtr<char> buf,
                                       int size) {
    return readlink_at(caller, dirfd, path, buf, size);
}

namespace {

/* A generated file's mapping: what mapping the real file, opened with the descriptor's access mode,
 * gives (sysfs: ENODEV; /proc: EIO; before them the kernel's checks of the arguments and of the access
 * mode). The real file is mapped nowhere in particular (MAP_FIXED dropped), so nothing of the
 * program's is replaced; should it map, the generated file still cannot be (ENODEV). */
SyscallResult map_generated(Caller caller, unsigned long length, unsigned long prot, unsigned long flags, int fd,
                            unsigned long offset) {
    VfsPath p;
    if (fd < 0 || (flags & MAP_ANONYMOUS) || !in_process_vm(caller) || !generated(fd, &p))
        return LeaveToHost{};
    long mode = PalFileGetFlags(fd);
    if (mode < 0)
        return mode;
    long real = PalFileOpen(AT_FDCWD, p.real, static_cast<int>(mode & O_ACCMODE) | O_CLOEXEC, 0);
    if (real < 0)
        return real;
    long mapped = PalMemoryMap(nullptr, length, static_cast<int>(prot),
                               static_cast<int>(flags & ~(MAP_FIXED | MAP_FIXED_NOREPLACE)), static_cast<int>(real),
                               static_cast<long>(offset));
    PalFileClose(static_cast<int>(real));
    if (mapped < 0 && mapped > -4096)
        return mapped;
    PalMemoryFree(reinterpret_cast<void*>(mapped), length);
    return -ENODEV;
}

}  // namespace

/* mmap(2): a generated file's descriptor as map_generated says; others are the host's. A MAP_FIXED
 * mapping replaces what was there, and the NUMA records of the range are forgotten with it
 * (libos_memory.cpp), when there are any. */
SyscallResult libos_syscall_mmap(Caller caller, unsigned long addr, unsigned long length, unsigned long prot,
                                 unsigned long flags, int fd, unsigned long offset) {
    SyscallResult generated = map_generated(caller, length, prot, flags, fd, offset);
    if (!generated.leaves_to_host() || !(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) ||
        __builtin_expect(!libos::numa_records_live(), 1) || caller.is_remote())
        return generated;
    long mapped = PalMemoryMap(reinterpret_cast<void*>(addr), length, static_cast<int>(prot), static_cast<int>(flags), fd,
                               static_cast<long>(offset));
    if (mapped >= 0 || mapped < -4095)
        libos::numa_forget_memory(static_cast<uintptr_t>(mapped),
                                  static_cast<uintptr_t>(mapped) + ((length + 4095) & ~4095UL));
    return mapped;
}

/* lseek(2): where SEEK_END, SEEK_DATA and SEEK_HOLE lead is the real file's answer (sysfs files are
 * 4096 bytes long whatever they hold; /proc's refuse SEEK_END); the generated file's offset goes there.
 * SEEK_SET and SEEK_CUR move a live file's offset as seq_lseek does: its content is made anew when
 * the offset changes (table/vfs/live.cpp). */
SyscallResult libos_syscall_lseek(Caller caller, int fd, long offset, int whence) {
    if (whence != SEEK_END && whence != SEEK_DATA && whence != SEEK_HOLE) {
        if (libos::vfs_live_any() && !caller.is_remote())
            libos::vfs_live_before_seek(caller, fd, offset, whence);
        return LeaveToHost{};
    }
    VfsPath p;
    if (!in_process_vm(caller) || !generated(fd, &p))
        return LeaveToHost{};
    long real = PalFileOpen(AT_FDCWD, p.real, O_RDONLY | O_CLOEXEC, 0);
    if (real < 0)
        return real;
    long to = PalFileSeek(static_cast<int>(real), offset, whence);
    PalFileClose(static_cast<int>(real));
    if (to < 0)
        return to;
    return PalFileSeek(fd, to, SEEK_SET);
}

/* read(2), readv(2): a live generated file read at offset 0 again is made anew first, as seq_read_iter
 * does (table/vfs/live.cpp); every read is then the host's. One predictable branch for a program that
 * never opened such a file. */
SyscallResult libos_syscall_read(Caller caller, int fd, unsigned long, unsigned long) {
    if (libos::vfs_live_any() && !caller.is_remote())
        libos::vfs_live_before_read(caller, fd);
    return LeaveToHost{};
}

SyscallResult libos_syscall_readv(Caller caller, int fd, unsigned long, unsigned long) {
    if (libos::vfs_live_any() && !caller.is_remote())
        libos::vfs_live_before_read(caller, fd);
    return LeaveToHost{};
}

/* pread64(2): at offset 0, the same. */
SyscallResult libos_syscall_pread64(Caller caller, int fd, unsigned long, unsigned long, long pos) {
    if (libos::vfs_live_any() && !caller.is_remote())
        libos::vfs_live_before_pread(caller, fd, pos);
    return LeaveToHost{};
}

/* preadv(2): the offset is pos_l on a 64-bit kernel (pos_h is shifted out). */
SyscallResult libos_syscall_preadv(Caller caller, int fd, unsigned long, unsigned long, unsigned long pos_l,
                                   unsigned long) {
    if (libos::vfs_live_any() && !caller.is_remote())
        libos::vfs_live_before_pread(caller, fd, static_cast<long>(pos_l));
    return LeaveToHost{};
}

/* preadv2(2): offset -1 is the current offset, as readv. */
SyscallResult libos_syscall_preadv2(Caller caller, int fd, unsigned long, unsigned long, unsigned long pos_l,
                                    unsigned long, int) {
    if (libos::vfs_live_any() && !caller.is_remote()) {
        if (static_cast<long>(pos_l) == -1)
            libos::vfs_live_before_read(caller, fd);
        else
            libos::vfs_live_before_pread(caller, fd, static_cast<long>(pos_l));
    }
    return LeaveToHost{};
}

namespace {

/* Copies are followed once the program has a live file or one whose writes are refused. */
bool follows_copies(Caller caller) {
    return (libos::vfs_live_any() || libos::vfs_refusing_any()) && !caller.is_remote();
}

/* `copy` (>= 0) was just made of `fd`: it is live, and refuses writes, as `fd` does. */
long copied(int fd, long copy) {
    if (copy >= 0) {
        if (libos::vfs_live_any())
            libos::vfs_live_dup(fd, static_cast<int>(copy));
        if (libos::vfs_refusing_any())
            libos::vfs_refuse_dup(fd, static_cast<int>(copy));
    }
    return copy;
}

}  // namespace

/* dup(2), dup2(2), dup3(2): made here once the program has a live file (or a refused one), so that
 * the copy is followed too (table/vfs/live.cpp, refused_writes.cpp); a copy onto a live file's number
 * ends that one. */
SyscallResult libos_syscall_dup(Caller caller, unsigned int fd) {
    if (!follows_copies(caller))
        return LeaveToHost{};
    return copied(static_cast<int>(fd), PalFileDuplicate(static_cast<int>(fd)));
}

SyscallResult libos_syscall_dup2(Caller caller, unsigned int fd, unsigned int target) {
    if (!follows_copies(caller))
        return LeaveToHost{};
    return copied(static_cast<int>(fd), PalFileDuplicateOnto(static_cast<int>(fd), static_cast<int>(target), 0, true));
}

SyscallResult libos_syscall_dup3(Caller caller, unsigned int fd, unsigned int target, int flags) {
    if (!follows_copies(caller))
        return LeaveToHost{};
    return copied(static_cast<int>(fd),
                  PalFileDuplicateOnto(static_cast<int>(fd), static_cast<int>(target), flags, false));
}

/* fcntl(2) F_DUPFD, F_DUPFD_CLOEXEC: the same, at the lowest free number from `arg` up. The kernel
 * takes the floor as an int (do_fcntl's argi: the word's higher bits are ignored). Every other
 * command, and a negative floor the kernel refuses anyway, is the host's. */
SyscallResult libos_syscall_fcntl(Caller caller, int fd, int cmd, unsigned long arg) {
    const int floor = static_cast<int>(arg);
    if (!follows_copies(caller) || (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC) || floor < 0)
        return LeaveToHost{};
    return copied(fd, PalFileDuplicateHigh(fd, floor, cmd == F_DUPFD_CLOEXEC));
}
