/* Writes to a generated file opened for reading and writing (libos_vfs.h: vfs_refuse_*). Root may
 * open /proc/stat or a status file O_RDWR; the kernel then refuses each write as the file has it:
 * EIO where /proc's file has no write function (/proc/stat, /proc/interrupts, /proc/cpuinfo), EINVAL
 * where the descriptor cannot write at all (a process's status and stat files), ESPIPE for pwrite.
 * The program's descriptor is a sealed memfd of its own (it must read the generated content), whose
 * writes fail with EPERM: so the open asks the real file what it answers a write of nothing, and
 * the shim's write, pwrite, writev, pwritev and pwritev2 give that answer for that descriptor (EIO
 * once the sealed memfd's own write has judged the arguments: shim/shim_writes.cpp), and so do the
 * table's write handlers for syscall() (table/sys/libos_write.cpp).
 *
 * A small table of such descriptors, by number and memfd inode; a hit is confirmed with fstat (the
 * program may have closed the number where the shim does not see it), a miss costs one predictable
 * branch once such a file was ever opened, none before. A copy (dup, dup2, dup3, fcntl(F_DUPFD)) takes
 * an entry of its own; a fork child has its parent's table. A vfork child's copies are not noted (the
 * table is its parent's memory). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

#include <atomic>

#include "libos/libos_threads.h"
#include "vfs/vfs_internal.h"

namespace libos {

constinit std::atomic<int> g_vfs_refusing{0};

namespace {

struct RefusedFd {
    std::atomic<int> fd_plus_one; /* 0: free; -1: being filled */
    uint64_t dev, ino;
    int write_error, pwrite_error; /* -errno, or 0: the kernel takes a write of nothing */
};
constexpr int kRefusedFds = 16;
constinit RefusedFd g_refused[kRefusedFds] = {};

/* Within user space's range, as the kernel's access_ok judges it (4-level paging's top on x86_64). */
bool in_user_range(const void* buf, size_t count) {
#if defined(__x86_64__)
    constexpr uintptr_t kTop = (uintptr_t{1} << 47) - 4096;
#else
    constexpr uintptr_t kTop = uintptr_t{1} << 48;
#endif
    const uintptr_t start = reinterpret_cast<uintptr_t>(buf);
    return start <= kTop && count <= kTop - start;
}

}  // namespace

void vfs_refuse_record(int fd, long write_error, long pwrite_error) {
    if (fd < 0 || (write_error == 0 && pwrite_error == 0) || in_parent_memory())
        return;
    struct stat st;
    if (PalFileStat(fd, &st) < 0)
        return;
    for (RefusedFd& r : g_refused) {
        int v = r.fd_plus_one.load(std::memory_order_acquire);
        /* A free entry, or one whose descriptor is the program's other file by now. */
        if (v > 0) {
            struct stat old;
            if (v - 1 != fd && PalFileStat(v - 1, &old) == 0 && old.st_dev == r.dev && old.st_ino == r.ino)
                continue;
        } else if (v < 0) {
            continue;
        }
        if (!r.fd_plus_one.compare_exchange_strong(v, -1, std::memory_order_acq_rel))
            continue;
        r.dev = st.st_dev;
        r.ino = st.st_ino;
        r.write_error = static_cast<int>(write_error);
        r.pwrite_error = static_cast<int>(pwrite_error);
        r.fd_plus_one.store(fd + 1, std::memory_order_release);
        if (v == 0)
            g_vfs_refusing.fetch_add(1, std::memory_order_relaxed);
        return;
    }
}

long vfs_refused_write(int fd, VfsWriteKind kind, long offset) {
    for (RefusedFd& r : g_refused) {
        if (r.fd_plus_one.load(std::memory_order_acquire) != fd + 1 || fd < 0)
            continue;
        struct stat st;
        if (PalFileStat(fd, &st) < 0 || st.st_dev != r.dev || st.st_ino != r.ino) {
            if (!in_parent_memory()) {
                int v = fd + 1;
                r.fd_plus_one.compare_exchange_strong(v, 0, std::memory_order_acq_rel);
            }
            return 0;
        }
        /* The kernel's order: a negative offset is EINVAL before the descriptor is looked at; a
         * descriptor without positional writes is ESPIPE before the write is tried. */
        if (kind == VfsWriteKind::Positional) {
            if (offset < 0)
                return -EINVAL;
            return r.pwrite_error;
        }
        return r.write_error;
    }
    return 0;
}

void vfs_refuse_dup(int from, int to) {
    if (from == to || to < 0 || in_parent_memory())
        return;
    vfs_refuse_forget(to);
    for (RefusedFd& r : g_refused) {
        if (from < 0 || r.fd_plus_one.load(std::memory_order_acquire) != from + 1)
            continue;
        const int write_error = r.write_error, pwrite_error = r.pwrite_error;
        struct stat st;
        if (PalFileStat(from, &st) == 0 && st.st_dev == r.dev && st.st_ino == r.ino)
            vfs_refuse_record(to, write_error, pwrite_error);
        return;
    }
}

long vfs_refused_after_checks(long ret, long error, const void* buf, size_t count) {
    if (ret == -EPERM)
        return error;
    /* Some kernels' memfds fault the buffer in before their seal's EPERM (a QEMU guest's did). A null
     * buffer is judged too: it is within user space's range (access_ok passes it), so the real file
     * answers EIO to write(fd, NULL, 2); only a vector's call (count 0 here) is left to the host. */
    if (ret == -EFAULT && count != 0 && in_user_range(buf, count))
        return error;
    return ret;
}

void vfs_refuse_forget(int fd) {
    if (fd < 0)
        return;
    for (RefusedFd& r : g_refused) {
        int v = fd + 1;
        if (r.fd_plus_one.load(std::memory_order_acquire) == v && !in_parent_memory())
            r.fd_plus_one.compare_exchange_strong(v, 0, std::memory_order_acq_rel);
    }
}

}  // namespace libos
