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
 * listing): a window that starts at `base`, where number V's entry resumes from base + V + 1, moved
 * down where a host cookie (a name's hash on sysfs) falls inside it.
 *
 * The shared offset moves as the kernel's does for callers that share it: the host's entries are read
 * through a private descriptor of the same directory (openat(fd, ".")), from the offset read once at
 * the call's start and set once at its end; the machine's own entries are taken by adding to the
 * offset (lseek SEEK_CUR, atomic in the kernel), so two calls at once never list the same one. Two
 * calls that run at once on the host's entries, or step from them to the machine's, may still both
 * list the entries between one's reading of the offset and its setting (docs/machine.md).
 *
 * The path runs on any stack (small thread stacks, signal handlers on a sigaltstack): it holds one
 * small scratch buffer, through which the host's listing streams in chunks, learns which of the
 * machine's numbers the host lists a batch at a time, and looks up the inodes it does not keep. */
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
/* Numbers a call takes from the shared offset at once. Calls that run together may take the offset
 * past the window's end by this much each: positions up to kSlack past the end read as the end. */
constexpr uint32_t kClaim = 512;
constexpr long kSlack = 64 * kClaim;
/* The host's listing is read this many bytes at a time: one record of the longest name fits. */
constexpr size_t kChunkBytes = 512;
/* A scan learns which of this many consecutive numbers the host lists. */
constexpr uint32_t kBatch = 512;
/* ...and keeps the inodes of the host's entries numbered below this; others are looked up. */
constexpr uint32_t kInodesKept = 32;
/* The end of user space (TASK_SIZE_MAX): the kernel's access_ok() refuses a record beyond it. */
constexpr uintptr_t kUserEnd = 0x7ffffffff000ul;

const char* prefix_of(VfsDir dir) {
    switch (dir) {
        case VfsDir::NodeRoot:
        case VfsDir::BusNode:
        case VfsDir::Cpu:
            return "node";
        case VfsDir::DevCpu:
            return "";
        case VfsDir::BelowCpu:
        case VfsDir::BelowNode:
            return "/"; /* no name: the host's entries all stay */
        default:
            return "cpu";
    }
}

unsigned char type_of(VfsDir dir) {
    return dir == VfsDir::Node || dir == VfsDir::Cpu || dir == VfsDir::BusCpu || dir == VfsDir::BusNode ? DT_LNK
                                                                                                       : DT_DIR;
}

/* How many numbers a listing of `dir` may hold. */
uint32_t range_of(VfsDir dir) {
    if (dir == VfsDir::BelowCpu || dir == VfsDir::BelowNode)
        return 0;
    return dir == VfsDir::NodeRoot || dir == VfsDir::BusNode || dir == VfsDir::Cpu ? vnode_count() : vcpu_count();
}

/* The lowest host node of virtual node `node` (kMaxVcpus when it has no vCPU). */
uint32_t first_host_node(uint32_t node) {
    uint32_t lowest = kMaxVcpus;
    for (uint32_t v = 0; v < vcpu_count(); ++v) {
        if (vcpu_place(v).node != node)
            continue;
        const uint32_t h = host_node_of(host_cpu_of(v));
        lowest = h < lowest ? h : lowest;
    }
    return lowest;
}

/* Whether the machine's listing of `dir` has the entry numbered `number`, and the number of the host
 * entry that stands for it (cpuH of vCPU V, the first host node of node K). */
bool machine_entry(VfsDir dir, int32_t node, uint32_t number, uint32_t* host) {
    switch (dir) {
        case VfsDir::Plain:
        case VfsDir::BelowCpu:
        case VfsDir::BelowNode:
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
        case VfsDir::BusNode:
        case VfsDir::Cpu:
            if (dir != VfsDir::Cpu ? number >= vnode_count()
                                        : number != vcpu_place(static_cast<uint32_t>(node)).node)
                return false;
            *host = first_host_node(number);
            return true;
    }
    return false;
}

/* The values one window spans (its numbers, its end, and the slack past it), and window w's base. */
long spacing_of(uint32_t range) {
    return static_cast<long>(range) + 1 + kSlack;
}
long window_base(int w, uint32_t range) {
    return kTop - static_cast<long>(w + 1) * spacing_of(range) + 1;
}

/* The directory's host listing, read through a descriptor of its own: its offset is private, so the
 * descriptor the program shares (dup, fork) keeps its position while the listing is scanned. Without
 * a descriptor to spare (EMFILE) the shared one is used, its offset restored by the caller. */
struct PrivateDir {
    int fd;
    bool own;
    explicit PrivateDir(int shared) {
        long ret = PalFileOpen(shared, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        own = ret >= 0;
        fd = own ? static_cast<int>(ret) : shared;
    }
    ~PrivateDir() {
        if (own)
            PalFileClose(fd);
    }
    PrivateDir(const PrivateDir&) = delete;
    PrivateDir& operator=(const PrivateDir&) = delete;
};

/* What one pass over the host's listing tells: which numbers of one batch it lists, the inodes of
 * its lowest numbered entries, and the window of the machine's own positions. */
struct HostScan {
    uint32_t batch = 0; /* the numbers [batch, batch + kBatch) */
    bool done = false;
    uint64_t present[kBatch / 64];
    uint64_t ino[kInodesKept];
    long base; /* the window's base: number V resumes from base + V, its entry's d_off is base + V + 1 */

    bool lists(uint32_t number) const {
        return number >= batch && number - batch < kBatch && (present[(number - batch) / 64] >> (number % 64)) & 1;
    }
};

long scan_host(const PrivateDir& host, VfsDir dir, uint32_t range, uint32_t batch, char* scratch, HostScan* scan) {
    scan->batch = batch - batch % 64;
    memset(scan->present, 0, sizeof(scan->present));
    memset(scan->ino, 0, sizeof(scan->ino));
    const int fd = host.fd;
    /* On the shared descriptor (no private one) the offset is put back. */
    const long saved = host.own ? 0 : PalFileSeek(fd, 0, SEEK_CUR);
    if (long ret = PalFileSeek(fd, 0, SEEK_SET); ret < 0)
        return ret;
    /* Host cookies in the windows' span: which windows they fall in. */
    const long low = window_base(kWindows - 1, range);
    unsigned hit = 0;
    const char* prefix = prefix_of(dir);
    long n;
    while ((n = PalFileReadDir(fd, scratch, kChunkBytes)) > 0) {
        for (long at = 0; at < n;) {
            const auto* e = reinterpret_cast<const HostDirent*>(scratch + at);
            at += e->reclen;
            if (e->off >= low && e->off <= kTop)
                hit |= 1u << ((kTop - e->off) / spacing_of(range));
            uint32_t number;
            if (!numbered(e->name, strlen(e->name), prefix, &number))
                continue;
            if (number >= scan->batch && number - scan->batch < kBatch)
                scan->present[(number - scan->batch) / 64] |= 1ull << (number % 64);
            if (number < kInodesKept)
                scan->ino[number] = e->ino;
        }
    }
    if (!host.own)
        PalFileSeek(fd, saved, SEEK_SET);
    if (n < 0)
        return n;
    for (int w = 0; w < kWindows; ++w) {
        if (!(hit & (1u << w))) {
            scan->base = window_base(w, range);
            scan->done = true;
            return 0;
        }
    }
    return -EIO; /* four windows each hit by a host cookie: not seen on any file system */
}

/* A listing being written into the caller's buffer, record by record, as the kernel's filldir does. */
struct Writer {
    Caller caller;
    uintptr_t buf;
    long room; /* the kernel's int count: a count above INT_MAX leaves no room */
    DirentFormat format;
    size_t written = 0;
    long error = 0; /* the first entry's failure: -EINVAL (no room) or -EFAULT */
    bool full = false;

    /* Appends one entry; false when it does not fit or faults (the listing stops there). */
    bool put(uint64_t ino, int64_t off, unsigned char type, const char* name) {
        const size_t len = strlen(name);
        const bool linux64 = format == DirentFormat::Linux64;
        /* linux_dirent64: d_ino, d_off, d_reclen, d_type, d_name; linux_dirent: d_ino, d_off,
         * d_reclen, d_name, a NUL, and d_type in the record's last byte. */
        const size_t name_at = linux64 ? 19 : 18;
        const size_t reclen = (name_at + len + (linux64 ? 1 : 2) + 7) & ~size_t{7};
        if (static_cast<long>(reclen) > room)
            return stop(-EINVAL);
        const uintptr_t at = buf + written;
        /* The kernel's per-record access_ok(): no part of a record beyond user space. */
        if (at + reclen < at || at + reclen > kUserEnd)
            return stop(-EFAULT);
        alignas(8) char head[24] = {};
        memcpy(head, &ino, 8);
        memcpy(head + 8, &off, 8);
        memcpy(head + 16, &reclen, 2);
        if (linux64)
            head[18] = static_cast<char>(type);
        char tail[10] = {}; /* the NUL, the padding and (linux_dirent) the type */
        const size_t tail_len = reclen - name_at - len;
        if (!linux64)
            tail[tail_len - 1] = static_cast<char>(type);
        if (caller.copy_out(at, head, name_at) < 0 || caller.copy_out(at + name_at, name, len) < 0 ||
            caller.copy_out(at + name_at + len, tail, tail_len) < 0)
            return stop(-EFAULT);
        written += reclen;
        room -= static_cast<long>(reclen);
        return true;
    }

    bool stop(long why) {
        if (written == 0)
            error = why;
        full = true;
        return false;
    }
};

/* The inode of host entry `prefix``host` in directory fd: the scan's, or the host's lstat of it. */
uint64_t host_ino(int fd, const char* prefix, uint32_t host, const HostScan* scan, uint64_t fallback) {
    if (scan && scan->done && host < kInodesKept && scan->ino[host])
        return scan->ino[host];
    char name[32];
    TextBuilder(name, sizeof(name)).add(prefix).unum(host);
    struct stat st;
    return PalFileStatAt(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st.st_ino : fallback;
}

/* The host's entries from `*position` on. Returns 1 when the host's listing ended (the machine's own
 * entries follow), 0 when the buffer is full, or -errno from the host. */
long list_host(int fd, VfsDir dir, int32_t node, char* scratch, Writer& out, long* position) {
    if (long ret = PalFileSeek(fd, *position, SEEK_SET); ret < 0)
        return ret;
    const char* prefix = prefix_of(dir);
    for (;;) {
        long n = PalFileReadDir(fd, scratch, kChunkBytes);
        if (n <= 0)
            return n == 0 ? 1 : n;
        for (long at = 0; at < n;) {
            const auto* e = reinterpret_cast<const HostDirent*>(scratch + at);
            at += e->reclen;
            uint32_t number, host;
            bool show = true;
            uint64_t ino = e->ino;
            if (numbered(e->name, strlen(e->name), prefix, &number)) {
                show = machine_entry(dir, node, number, &host);
                if (show && host != number)
                    ino = host_ino(fd, prefix, host, nullptr, e->ino);
            }
            if (show && !out.put(listing_ino(dir, node, e->name, e->type, ino), e->off, e->type, e->name))
                return 0;
            *position = e->off;
        }
    }
}

/* The first of the machine's own entries from number `from` on (range when there is none), learning
 * the host's numbers a batch at a time. */
long next_own(const PrivateDir& fd, VfsDir dir, int32_t node, uint32_t range, uint32_t from, char* scratch, HostScan* scan,
              uint32_t* found) {
    for (uint32_t v = from; v < range; ++v) {
        uint32_t host;
        if (!machine_entry(dir, node, v, &host))
            continue;
        if (!scan->done || v < scan->batch || v - scan->batch >= kBatch)
            if (long ret = scan_host(fd, dir, range, v, scratch, scan); ret < 0)
                return ret;
        if (!scan->lists(v)) {
            *found = v;
            return 0;
        }
    }
    *found = range;
    return 0;
}

/* The machine's own entries, taken from the shared offset `shared` (at the window, or past it)
 * `kClaim` numbers at a time while the buffer has room. Returns 0, or -errno from the host. */
long list_own(int shared, const PrivateDir& fd, VfsDir dir, int32_t node, uint32_t range, uint32_t next,
              char* scratch, HostScan* scan, Writer& out) {
    const char* prefix = prefix_of(dir);
    char name[32];
    /* Every own name fits in the longest one's record. */
    TextBuilder(name, sizeof(name)).add(prefix).unum(range ? range - 1 : 0);
    const size_t longest = strlen(name);
    const long max_reclen = static_cast<long>((20 + longest + 7) & ~size_t{7});
    while (!out.full) {
        long count = out.room / max_reclen;
        if (count > kClaim)
            count = kClaim;
        if (count == 0) {
            /* Room for a short record only: as far as the next entry, if it fits (else EINVAL). */
            if (out.written)
                return 0;
            uint32_t v;
            if (long ret = next_own(fd, dir, node, range, next, scratch, scan, &v); ret < 0 || v >= range)
                return ret;
            TextBuilder(name, sizeof(name)).add(prefix).unum(v);
            if (static_cast<long>((20 + strlen(name) + 7) & ~size_t{7}) > out.room)
                return out.stop(-EINVAL), 0;
            count = static_cast<long>(v - next) + 1;
        }
        const long taken = PalFileSeek(shared, count, SEEK_CUR);
        if (taken < 0)
            return taken;
        const long first = taken - count - scan->base;
        if (first < 0 || first >= static_cast<long>(range))
            return 0; /* the end (or a position another call left outside the window) */
        const uint32_t end = first + count < range ? static_cast<uint32_t>(first + count) : range;
        for (uint32_t v = static_cast<uint32_t>(first); v < end; ++v) {
            uint32_t host;
            if (!machine_entry(dir, node, v, &host))
                continue;
            if (!scan->done || v < scan->batch || v - scan->batch >= kBatch)
                if (long ret = scan_host(fd, dir, range, v, scratch, scan); ret < 0)
                    return ret;
            if (scan->lists(v))
                continue;
            TextBuilder(name, sizeof(name)).add(prefix).unum(v);
            const uint64_t ino =
                listing_ino(dir, node, name, type_of(dir), host_ino(fd.fd, prefix, host, scan, 0x4c000000u + v));
            if (!out.put(ino, scan->base + v + 1, type_of(dir), name)) {
                /* Not written (no room: a short buffer raced; or a fault): the numbers from here on
                 * go back to the offset, unless another call has taken more since. */
                PalFileSeek(shared, -static_cast<long>(end - v), SEEK_CUR);
                return 0;
            }
        }
        next = end;
    }
    return 0;
}

}  // namespace

long vfs_read_listing(Caller caller, int fd, VfsDir dir, int32_t node, uintptr_t buf, size_t size,
                      DirentFormat format) {
    /* No up-front check of the whole buffer (Linux 6.x checks each record as it writes it), and the
     * count is the kernel's int: above INT_MAX not even the first entry fits (EINVAL). */
    Writer out{caller, buf, static_cast<long>(static_cast<int>(static_cast<unsigned>(size))), format};
    const long start = PalFileSeek(fd, 0, SEEK_CUR);
    if (start < 0)
        return start;
    PrivateDir host(fd);
    alignas(8) char scratch[kChunkBytes];
    const uint32_t range = range_of(dir);
    HostScan scan;
    long ret = 0;
    if (start >= window_base(kWindows - 1, range) && start <= kTop) {
        /* The batch to learn first: where the listing resumes when the window is the top one. */
        const long guess = start - window_base(0, range);
        ret = scan_host(host, dir, range, guess >= 0 && guess < range ? static_cast<uint32_t>(guess) : 0, scratch,
                        &scan);
        if (ret < 0)
            return ret;
        if (start >= scan.base && start < scan.base + spacing_of(range)) {
            if (start - scan.base < range)
                ret = list_own(fd, host, dir, node, range, static_cast<uint32_t>(start - scan.base),
                               scratch, &scan, out);
            return out.written ? static_cast<long>(out.written) : ret < 0 ? ret : out.error;
        }
    }
    long position = start;
    ret = list_host(host.fd, dir, node, scratch, out, &position);
    if (ret == 1 && !out.full) {
        /* The host's listing ended: the machine's own entries follow, from the window's base. With
         * none of its own to list, the listing ends where the host's does, at the host's own end
         * position (a machine equal to the host lists as it). */
        position = PalFileSeek(host.fd, 0, SEEK_CUR);
        uint32_t first;
        if (!scan.done)
            ret = scan_host(host, dir, range, 0, scratch, &scan);
        if (ret >= 0)
            ret = next_own(host, dir, node, range, 0, scratch, &scan, &first);
        if (ret >= 0 && first < range) {
            PalFileSeek(fd, scan.base, SEEK_SET);
            ret = list_own(fd, host, dir, node, range, 0, scratch, &scan, out);
            return out.written ? static_cast<long>(out.written) : ret < 0 ? ret : out.error;
        }
    }
    if (position != start || !host.own)
        PalFileSeek(fd, position, SEEK_SET);
    if (out.written)
        return static_cast<long>(out.written);
    return ret < 0 ? ret : out.error;
}

bool vfs_listing_of(int fd, VfsDir* dir, int32_t* node) {
    char virt[kVfsPathMax];
    VfsPath p;
    return vfs_active() && vfs_listed_dir(fd, virt) && vfs_classify(Caller::self(), virt, &p) &&
           vfs_listing_kind(p, dir, node);
}

}  // namespace libos
