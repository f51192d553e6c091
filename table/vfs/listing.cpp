/* Listings of the views' directories (libos_vfs.h: vfs_read_listing), as getdents64(2), getdents(2)
 * and the shim's readdir give them.
 *
 * A listing is the host directory's, in the host's order, with each numbered entry ("cpuH", "nodeH",
 * or "H" in /dev/cpu) standing for the machine's entry of the same name when the machine has one, and
 * dropped when it has not; the machine's entries that the host directory lacks (cpu2..cpu7 of eight
 * vCPUs on two host CPUs) follow the host's last entry. So on a machine equal to the host a listing
 * is the host's, byte for byte, and a machine entry keeps the inode of the host entry behind it.
 *
 * The position is the host's own file offset, so that descriptors that share it (dup, fork) share
 * the listing's as the kernel's share theirs, and lseek(fd, d_off, SEEK_SET) resumes where the entry
 * left off, with the host's lseek. Among the host's entries a position is the host's cookie. The
 * machine's own entries take positions just below INT_MAX (sysfs's largest offset, and its end of
 * listing): a window of as many values as numbers, moved down where a host cookie (a name's hash on
 * sysfs) falls inside it. Number V's entry is resumed from window top - (V - 1); number 0's from the
 * host's end of listing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "libos/libos_machine.h"
#include "libos/libos_topology.h"
#include "vfs/vfs_internal.h"

namespace libos {
namespace {

struct HostDirent {
    uint64_t ino;
    int64_t off;
    uint16_t reclen;
    uint8_t type;
    char name[1];
};

constexpr long kTop = INT_MAX - 1;
constexpr int kWindows = 4;

const char* prefix_of(VfsDir dir) {
    switch (dir) {
        case VfsDir::NodeRoot:
        case VfsDir::Cpu:
            return "node";
        case VfsDir::DevCpu:
            return "";
        default:
            return "cpu";
    }
}

unsigned char type_of(VfsDir dir) {
    return dir == VfsDir::Node || dir == VfsDir::Cpu || dir == VfsDir::BusCpu ? DT_LNK : DT_DIR;
}

/* How many numbers a listing of `dir` may hold. */
uint32_t range_of(VfsDir dir) {
    return dir == VfsDir::NodeRoot || dir == VfsDir::Cpu ? vnode_count() : vcpu_count();
}

/* Whether the machine's listing of `dir` has the entry numbered `number`, and the number of the host
 * entry that stands for it (cpuH of vCPU V, the first host node of node K). */
bool machine_entry(VfsDir dir, int32_t node, uint32_t number, uint32_t* host) {
    switch (dir) {
        case VfsDir::Plain:
            return false;
        case VfsDir::CpuRoot:
        case VfsDir::BusCpu:
        case VfsDir::DevCpu:
            if (number >= vcpu_count())
                return false;
            *host = host_cpu_of(number);
            return true;
        case VfsDir::Node:
            if (number >= vcpu_count() || vcpu_place(number).node != static_cast<uint32_t>(node))
                return false;
            *host = host_cpu_of(number);
            return true;
        case VfsDir::NodeRoot:
        case VfsDir::Cpu: {
            if (dir == VfsDir::NodeRoot ? number >= vnode_count()
                                        : number != vcpu_place(static_cast<uint32_t>(node)).node)
                return false;
            CpuBits hosts;
            vnode_host_nodes(number, &hosts);
            uint32_t h = 0;
            while (h < kMaxVcpus && !hosts.has(h))
                ++h;
            *host = h;
            return true;
        }
    }
    return false;
}

/* What one pass over the host's listing tells: its numbered entries, their inodes (below 256), and
 * the window of the machine's own positions. */
struct HostScan {
    CpuBits present;
    uint64_t ino[256];
    long top; /* the window's top: number V resumes from top - (V - 1) */
};

long scan_host(int fd, VfsDir dir, uint32_t range, HostScan* scan) {
    memset(&scan->present, 0, sizeof(scan->present));
    memset(scan->ino, 0, sizeof(scan->ino));
    if (long ret = PalFileSeek(fd, 0, SEEK_SET); ret < 0)
        return ret;
    /* Host cookies in the windows' span, which no window may hold. */
    const long low = kTop - static_cast<long>(kWindows) * (range + 1);
    long taken[32];
    int taken_count = 0;
    alignas(8) char buf[4096];
    const char* prefix = prefix_of(dir);
    for (;;) {
        long n = PalFileReadDir(fd, buf, sizeof(buf));
        if (n < 0)
            return n;
        if (n == 0)
            break;
        for (long at = 0; at < n;) {
            const auto* e = reinterpret_cast<const HostDirent*>(buf + at);
            at += e->reclen;
            if (e->off > low && e->off <= kTop && taken_count < 32)
                taken[taken_count++] = e->off;
            uint32_t number;
            if (numbered(e->name, strlen(e->name), prefix, &number) && number < kMaxVcpus) {
                scan->present.add(number);
                if (number < 256)
                    scan->ino[number] = e->ino;
            }
        }
    }
    for (int w = 0; w < kWindows; ++w) {
        const long top = kTop - static_cast<long>(w) * (range + 1);
        bool clear = true;
        for (int i = 0; i < taken_count; ++i)
            clear = clear && !(taken[i] <= top && taken[i] > top - static_cast<long>(range));
        if (clear) {
            scan->top = top;
            return 0;
        }
    }
    return -EIO; /* four windows each hit by a host cookie: not seen on any file system */
}

/* A listing being written into the caller's buffer. */
struct Writer {
    Caller caller;
    uintptr_t buf;
    size_t size;
    DirentFormat format;
    size_t written = 0;
    long error = 0; /* the first entry's failure: -EINVAL (no room) or -EFAULT */
    bool full = false;

    /* Appends one entry; false when it does not fit or faults (the listing stops there). */
    bool put(uint64_t ino, int64_t off, unsigned char type, const char* name) {
        const size_t len = strlen(name);
        alignas(8) char record[320];
        size_t reclen;
        if (format == DirentFormat::Linux64) {
            reclen = (19 + len + 1 + 7) & ~size_t{7};
            memset(record, 0, reclen);
            memcpy(record, &ino, 8);
            memcpy(record + 8, &off, 8);
            memcpy(record + 16, &reclen, 2);
            record[18] = static_cast<char>(type);
            memcpy(record + 19, name, len);
        } else {
            /* struct linux_dirent: d_ino, d_off, d_reclen, d_name, a NUL, and d_type in the last byte. */
            reclen = (18 + len + 2 + 7) & ~size_t{7};
            memset(record, 0, reclen);
            memcpy(record, &ino, 8);
            memcpy(record + 8, &off, 8);
            memcpy(record + 16, &reclen, 2);
            memcpy(record + 18, name, len);
            record[reclen - 1] = static_cast<char>(type);
        }
        if (written + reclen > size) {
            if (written == 0)
                error = -EINVAL;
            full = true;
            return false;
        }
        if (caller.copy_out(buf + written, record, reclen) < 0) {
            if (written == 0)
                error = -EFAULT;
            full = true;
            return false;
        }
        written += reclen;
        return true;
    }
};

/* The inode of host entry `prefix``host` in directory fd: the scan's, or the host's lstat of it. */
uint64_t host_ino(int fd, const char* prefix, uint32_t host, const HostScan* scan, uint64_t fallback) {
    if (scan && host < 256 && scan->ino[host])
        return scan->ino[host];
    char name[32];
    TextBuilder(name, sizeof(name)).add(prefix).unum(host);
    struct stat st;
    return PalFileStatAt(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st.st_ino : fallback;
}

/* The host's entries from the current position. Returns 1 when the host's listing ended (the
 * machine's own entries follow), 0 when the buffer is full, or -errno from the host. */
long list_host(int fd, VfsDir dir, int32_t node, Writer& out, long* position) {
    const char* prefix = prefix_of(dir);
    alignas(8) char buf[4096];
    for (;;) {
        long n = PalFileReadDir(fd, buf, sizeof(buf));
        if (n <= 0)
            return n == 0 ? 1 : n;
        for (long at = 0; at < n;) {
            const auto* e = reinterpret_cast<const HostDirent*>(buf + at);
            at += e->reclen;
            uint32_t number, host;
            bool show = true;
            uint64_t ino = e->ino;
            if (numbered(e->name, strlen(e->name), prefix, &number)) {
                show = machine_entry(dir, node, number, &host);
                if (show && host != number)
                    ino = host_ino(fd, prefix, host, nullptr, e->ino);
            }
            if (show && !out.put(ino, e->off, e->type, e->name))
                return 0;
            *position = e->off;
        }
    }
}

}  // namespace

long vfs_read_listing(Caller caller, int fd, VfsDir dir, int32_t node, uintptr_t buf, size_t size,
                      DirentFormat format) {
    /* The kernel's access_ok(): a range beyond user space faults before anything is read. */
    if (buf + size < buf || buf + size > 0x7ffffffff000ul)
        return -EFAULT;
    Writer out{caller, buf, size, format};
    long position = PalFileSeek(fd, 0, SEEK_CUR);
    if (position < 0)
        return position;
    const uint32_t range = range_of(dir);
    HostScan scan;
    bool scanned = false;
    uint32_t first = 0; /* the machine's own entries start at this number */
    bool own = false;
    if (position > kTop - static_cast<long>(kWindows) * (range + 1) && position <= kTop) {
        if (long ret = scan_host(fd, dir, range, &scan); ret < 0)
            return ret;
        scanned = true;
        if (position <= scan.top && position > scan.top - static_cast<long>(range)) {
            own = true;
            first = static_cast<uint32_t>(scan.top - position) + 1;
        }
        PalFileSeek(fd, position, SEEK_SET);
    }
    if (!own) {
        long ret = list_host(fd, dir, node, out, &position);
        if (ret < 0 && out.written == 0)
            return ret;
        own = ret == 1;
        if (own)
            position = PalFileSeek(fd, 0, SEEK_CUR); /* the host's end of listing: number 0's position */
    }
    if (own && !out.full) {
        if (!scanned) {
            if (long ret = scan_host(fd, dir, range, &scan); ret < 0)
                return out.written ? static_cast<long>(out.written) : ret;
        }
        const char* prefix = prefix_of(dir);
        const bool from_host_end = first == 0;
        bool any = false;
        for (uint32_t v = first; v < range; ++v) {
            uint32_t host;
            if (!machine_entry(dir, node, v, &host) || scan.present.has(v))
                continue;
            char name[32];
            TextBuilder(name, sizeof(name)).add(prefix).unum(v);
            const uint64_t ino = host_ino(fd, prefix, host, &scan, 0x4c000000u + v);
            if (!out.put(ino, scan.top - static_cast<long>(v), type_of(dir), name))
                break;
            position = scan.top - static_cast<long>(v);
            any = true;
        }
        /* The end: every number listed. With none of its own to list, the listing ends where the
         * host's does, at the host's own end position (a machine equal to the host lists as it). */
        if (!out.full && (any || !from_host_end))
            position = scan.top - static_cast<long>(range) + 1;
    }
    PalFileSeek(fd, position, SEEK_SET);
    if (out.written == 0 && out.error)
        return out.error;
    return static_cast<long>(out.written);
}

bool vfs_listing_of(int fd, VfsDir* dir, int32_t* node) {
    char virt[kVfsPathMax];
    VfsPath p;
    if (!vfs_active() || !vfs_listed_dir(fd, virt) || !vfs_classify(Caller::self(), virt, &p) ||
        p.kind != VfsKind::Directory || p.dir == VfsDir::Plain)
        return false;
    *dir = p.dir;
    *node = p.node;
    return true;
}

}  // namespace libos
