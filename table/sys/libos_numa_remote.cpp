/* Another process's records (libos_numa.h, "another process's records"): what /proc/<pid>/numa_maps
 * and move_pages(pid) without nodes need to answer about another process of the launch as a real
 * machine of these nodes would.
 *
 * Every process of a launch loads the same shim, so its records sit at the same offset from the
 * shim's mapping in each. The reader finds, in its own /proc/self/maps, the mapping of the shim's
 * file that holds g_numa_directory (its start, file offset, device, inode and path); in
 * /proc/<pid>/maps, the other process's mapping of the same file at the same offset; and reads the
 * directory there, then the records it names, with process_vm_readv. The host permits that only
 * with the right to attach to the process (PTRACE_MODE_ATTACH), which is more than numa_maps and
 * move_pages require (PTRACE_MODE_READ): nothing is read that the host would not give. What is read
 * is input from another process: the directory must name its own address and have this build's
 * sizes, the range table is taken only between two equal even sequence numbers, and each record
 * is checked (aligned, ordered ranges; known modes; nodes of the machine); the rest is dropped.
 *
 * Not on a hot path: a read of numa_maps or a move_pages query of another process. The copy lives
 * in a mapping of its own (no allocator, no lock), unmapped by numa_remote_close. */
#include <string.h>

#include "libos/libos_machine.h"
#include "libos/libos_numa.h"
#include "libos/libos_threads.h"
#include "libos/libos_topology.h"
#include "libos_numa_internal.h"
#include "pal/pal.h"

namespace libos {

struct NumaRemote {
    uint32_t range_count;
    bool task_valid;
    int current;
    VirtualPolicy task;
    RangeSlot ranges[kRangeSlots];
    uint64_t pages[kPageSlots];
    uint32_t stamps[kPageSlots];
    /* The maps files, read in turn. */
    char maps[1 << 20];
};

namespace {

constexpr uintptr_t kPageBytes = 4096;

uint64_t hex_at(const char* s, const char* end, const char** after) {
    uint64_t v = 0;
    for (; s < end; ++s) {
        int d = *s >= '0' && *s <= '9' ? *s - '0' : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10 : -1;
        if (d < 0)
            break;
        v = v * 16 + static_cast<uint64_t>(d);
    }
    *after = s;
    return v;
}

/* One line of a maps file: "start-end perms offset dev inode path". */
struct MapsLine {
    uintptr_t start;
    uintptr_t end;
    uint64_t offset;
    const char* file; /* "dev inode path", to the line's end */
    size_t file_length;
};

bool parse_maps_line(const char* p, const char* end, MapsLine* out) {
    const char* q;
    out->start = hex_at(p, end, &q);
    if (q >= end || *q != '-')
        return false;
    out->end = hex_at(q + 1, end, &q);
    if (q + 6 > end || q[0] != ' ')
        return false;
    q += 5; /* " rwxp" */
    if (q >= end || *q != ' ')
        return false;
    out->offset = hex_at(q + 1, end, &q);
    while (q < end && *q == ' ')
        ++q;
    out->file = q;
    out->file_length = static_cast<size_t>(end - q);
    return out->end > out->start;
}

/* Whether the "dev inode" fields before `end` name inode 0 (not a file). */
bool inode_zero(const char* fields, const char* end) {
    const char* space = static_cast<const char*>(memchr(fields, ' ', static_cast<size_t>(end - fields)));
    if (!space)
        return true;
    for (const char* p = space; p < end; ++p)
        if (*p >= '1' && *p <= '9')
            return false;
    return true;
}

/* Calls visit(line) on each line of a maps file in buf[0, len), until it returns true. */
template <class Visit>
bool each_maps_line(const char* buf, size_t len, Visit visit) {
    const char* p = buf;
    const char* end = buf + len;
    while (p < end) {
        const char* nl = static_cast<const char*>(memchr(p, '\n', static_cast<size_t>(end - p)));
        const char* line_end = nl ? nl : end;
        MapsLine line;
        if (parse_maps_line(p, line_end, &line) && visit(line))
            return true;
        p = nl ? nl + 1 : end;
    }
    return false;
}

/* Where the other process's directory is, or 0. */
uintptr_t remote_directory(NumaRemote* r, pid_t pid) {
    const uintptr_t own = reinterpret_cast<uintptr_t>(&g_numa_directory);
    long len = PalReadFile("/proc/self/maps", r->maps, sizeof(r->maps));
    if (len <= 0)
        return 0;
    /* The key (device, inode, path) of the shim's mapping, kept apart from the buffer that the
     * other file is read into. */
    char key[512];
    size_t key_length = 0;
    uint64_t offset = 0;
    uintptr_t delta = 0;
    bool found = each_maps_line(r->maps, static_cast<size_t>(len), [&](const MapsLine& l) {
        /* A file's mapping: a path after the device and a non-zero inode. */
        const char* slash = static_cast<const char*>(memchr(l.file, '/', l.file_length));
        if (own < l.start || own >= l.end || !slash || l.file_length >= sizeof(key) || inode_zero(l.file, slash))
            return false;
        memcpy(key, l.file, l.file_length);
        key_length = l.file_length;
        offset = l.offset;
        delta = own - l.start;
        return true;
    });
    if (!found)
        return 0;
    char path[40] = "/proc/";
    size_t n = 6;
    char digits[12];
    size_t d = 0;
    for (unsigned v = static_cast<unsigned>(pid); d == 0 || v; v /= 10)
        digits[d++] = static_cast<char>('0' + v % 10);
    while (d)
        path[n++] = digits[--d];
    memcpy(path + n, "/maps", 6);
    len = PalReadFile(path, r->maps, sizeof(r->maps));
    if (len <= 0)
        return 0;
    uintptr_t at = 0;
    each_maps_line(r->maps, static_cast<size_t>(len), [&](const MapsLine& l) {
        if (l.offset != offset || l.file_length != key_length || memcmp(l.file, key, key_length) != 0 ||
            l.end - l.start <= delta)
            return false;
        at = l.start + delta;
        return true;
    });
    return at;
}

bool valid_policy(const VirtualPolicy& p) {
    const int mode = p.mode & ~kMpolModeFlags;
    if (mode < kMpolDefault || mode > kMpolWeightedInterleave || (p.mode & ~(kMpolModeFlags | 7)) != 0)
        return false;
    return p.home == -1 || (p.home >= 0 && static_cast<uint32_t>(p.home) < numa_node_count());
}

/* The range table between two equal, even sequence numbers; a few tries. */
bool read_ranges(NumaRemote* r, pid_t pid, const NumaDirectory& dir) {
    for (int attempt = 0; attempt < 8; ++attempt) {
        uint32_t before, after, used;
        if (PalProcessRead(pid, &before, reinterpret_cast<uintptr_t>(dir.range_seq), sizeof(before)) != 0 ||
            PalProcessRead(pid, &used, reinterpret_cast<uintptr_t>(dir.range_used), sizeof(used)) != 0)
            return false;
        if (before & 1) {
            PalThreadYield();
            continue;
        }
        used = used < kRangeSlots ? used : kRangeSlots;
        if (used && PalProcessRead(pid, r->ranges, reinterpret_cast<uintptr_t>(dir.ranges), used * sizeof(RangeSlot)) != 0)
            return false;
        if (PalProcessRead(pid, &after, reinterpret_cast<uintptr_t>(dir.range_seq), sizeof(after)) != 0)
            return false;
        if (after != before)
            continue;
        r->range_count = 0;
        for (uint32_t i = 0; i < used; ++i) {
            const RangeSlot& s = r->ranges[i];
            if (s.start < s.end && s.start % kPageBytes == 0 && valid_policy(s.policy))
                r->ranges[r->range_count++] = s;
        }
        return true;
    }
    return false;
}

bool read_task(NumaRemote* r, pid_t pid, const NumaDirectory& dir) {
    for (int attempt = 0; attempt < 8; ++attempt) {
        uint32_t before, after, valid;
        if (PalProcessRead(pid, &before, reinterpret_cast<uintptr_t>(dir.task_seq), sizeof(before)) != 0 ||
            PalProcessRead(pid, &valid, reinterpret_cast<uintptr_t>(dir.task_valid), sizeof(valid)) != 0 ||
            PalProcessRead(pid, &r->task, reinterpret_cast<uintptr_t>(dir.task_policy), sizeof(r->task)) != 0 ||
            PalProcessRead(pid, &after, reinterpret_cast<uintptr_t>(dir.task_seq), sizeof(after)) != 0)
            return false;
        if (!(before & 1) && before == after) {
            r->task_valid = valid == 1 && valid_policy(r->task);
            return true;
        }
        PalThreadYield();
    }
    return false;
}

/* The node of the first thread's vCPUs, when they all lie in one. */
int task_node(pid_t pid) {
    ThreadSlot* slot = find_slot(pid);
    CpuBits mask;
    if (!slot || !read_mask(slot, pid, &mask))
        return -1;
    int node = -1;
    for (uint32_t v = 0; v < vcpu_count(); ++v) {
        if (!mask.has(v))
            continue;
        const int n = vcpu_place(v).node;
        if (node >= 0 && n != node)
            return -1;
        node = n;
    }
    return node;
}

}  // namespace

NumaRemote* numa_remote_open(pid_t pid) {
    /* A process of this launch only (its first thread holds a slot of the launch's machine): one
     * outside it, under another launch of the same shim, has records of another machine's nodes. */
    if (pid <= 0 || !numa_virtual() || !find_slot(pid))
        return nullptr;
    void* memory;
    if (PalMemoryAllocate(sizeof(NumaRemote), &memory) != 0)
        return nullptr;
    NumaRemote* r = static_cast<NumaRemote*>(memory);
    const uintptr_t at = remote_directory(r, pid);
    NumaDirectory dir;
    if (!at || PalProcessRead(pid, &dir, at, sizeof(dir)) != 0 || dir.magic != kNumaDirectoryMagic ||
        reinterpret_cast<uintptr_t>(dir.self) != at || dir.range_slots != kRangeSlots || dir.page_slots != kPageSlots ||
        dir.range_bytes != sizeof(RangeSlot) || dir.policy_bytes != sizeof(VirtualPolicy) || !read_ranges(r, pid, dir) ||
        !read_task(r, pid, dir) ||
        PalProcessRead(pid, r->pages, reinterpret_cast<uintptr_t>(dir.pages), sizeof(r->pages)) != 0 ||
        PalProcessRead(pid, r->stamps, reinterpret_cast<uintptr_t>(dir.page_stamps), sizeof(r->stamps)) != 0) {
        PalMemoryFree(memory, sizeof(NumaRemote));
        return nullptr;
    }
    r->current = task_node(pid);
    return r;
}

void numa_remote_close(NumaRemote* remote) {
    if (remote)
        PalMemoryFree(remote, sizeof(NumaRemote));
}

bool numa_remote_find_range(const NumaRemote* remote, uintptr_t addr, VirtualPolicy* out) {
    for (uint32_t i = 0; i < remote->range_count; ++i)
        if (remote->ranges[i].start <= addr && addr < remote->ranges[i].end) {
            *out = remote->ranges[i].policy;
            return true;
        }
    return false;
}

const VirtualPolicy* numa_remote_task_policy(const NumaRemote* remote) {
    return remote->task_valid ? &remote->task : nullptr;
}

int numa_remote_find_page(const NumaRemote* remote, uintptr_t page, uint32_t* stamp) {
    const uint64_t number = page / kPageBytes;
    const uint32_t first = numa_page_hash(number);
    for (uint32_t i = 0; i < kPageProbe; ++i) {
        const uint32_t at = (first + i) % kPageSlots;
        const uint64_t entry = remote->pages[at];
        const uint64_t node = entry & 0xfff;
        if (entry && (entry >> 12) == number && node >= 1 && node <= numa_node_count()) {
            *stamp = remote->stamps[at];
            return static_cast<int>(node - 1);
        }
    }
    return -1;
}

int numa_remote_current_node(const NumaRemote* remote) {
    return remote->current;
}

}  // namespace libos
