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
#include "libos/libos_numa_shared.h"
#include "libos/libos_test_hooks.h"
#include "libos/libos_text.h"
#include "libos/libos_threads.h"
#include "libos/libos_topology.h"
#include "libos_numa_internal.h"
#include "pal/pal.h"

namespace libos {

struct NumaRemote {
    uint32_t range_count;
    bool task_valid;
    bool pages_live;
    int current;
    uint32_t remap_count;
    VirtualPolicy task;
    RangeSlot ranges[kRangeSlots];
    uint64_t pages[kPageSlots];
    uint32_t stamps[kPageSlots];
    RemapRecord remaps[kRemapSlots];
};

/* The maps files, read in turn, when the directory must be looked for. */
struct MapsText {
    char text[1 << 20];
};

namespace {

constexpr uintptr_t kPageBytes = 4096;
/* A copy's memory kept for the next reading. */
constinit std::atomic<void*> g_spare{nullptr};

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
uintptr_t remote_directory(MapsText* r, pid_t pid) {
    const uintptr_t own = reinterpret_cast<uintptr_t>(&g_numa_directory);
    long len = PalReadFile("/proc/self/maps", r->text, sizeof(r->text));
    if (len <= 0)
        return 0;
    /* The key (device, inode, path) of the shim's mapping, kept apart from the buffer that the
     * other file is read into. */
    char key[512];
    size_t key_length = 0;
    uint64_t offset = 0;
    uintptr_t delta = 0;
    bool found = each_maps_line(r->text, static_cast<size_t>(len), [&](const MapsLine& l) {
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
    const ProcPath path = ProcPath(pid).leaf("maps");
    len = PalReadFile(path.c_str(), r->text, sizeof(r->text));
    if (len <= 0)
        return 0;
    uintptr_t at = 0;
    each_maps_line(r->text, static_cast<size_t>(len), [&](const MapsLine& l) {
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

/* Where `field` of this process's records is in the other process, whose directory is at `at`: every
 * process of the launch loads the same shim, so its records lie at the same offsets from the directory
 * (which the directory read back confirms, field by field). */
uintptr_t there(uintptr_t at, const void* field) {
    return at + (reinterpret_cast<uintptr_t>(field) - reinterpret_cast<uintptr_t>(&g_numa_directory));
}

/* The directory at `at` is this build's, naming its own address and records where this build has them. */
bool same_layout(const NumaDirectory& dir, uintptr_t at) {
    const NumaDirectory& own = g_numa_directory;
    auto moved = [at](const void* theirs, const void* mine) { return reinterpret_cast<uintptr_t>(theirs) == there(at, mine); };
    return dir.magic == kNumaDirectoryMagic && reinterpret_cast<uintptr_t>(dir.self) == at &&
           dir.range_slots == kRangeSlots && dir.page_slots == kPageSlots && dir.range_bytes == sizeof(RangeSlot) &&
           dir.policy_bytes == sizeof(VirtualPolicy) && moved(dir.ranges, own.ranges) &&
           moved(dir.range_used, own.range_used) && moved(dir.range_seq, own.range_seq) && moved(dir.pages, own.pages) &&
           moved(dir.page_stamps, own.page_stamps) && moved(dir.task_seq, own.task_seq) &&
           moved(dir.task_valid, own.task_valid) && moved(dir.task_policy, own.task_policy) &&
           moved(dir.remaps, own.remaps) && moved(dir.remap_count, own.remap_count) && moved(dir.adopted, own.adopted) &&
           moved(dir.live_pages, own.live_pages) && moved(dir.taken_beyond, own.taken_beyond) &&
           moved(dir.adopt_seq, own.adopt_seq);
}

/* How far the other process took the moves posted for it: its taken index and the marks past it. */
struct Taken {
    uint64_t adopted;
    uint64_t beyond[kTakenWords];
};

/* The other process's records, in one or two process_vm_readv: the directory, the counts and the task
 * policy between two readings of its sequence number; then, when it has any, the ranges in use and the
 * moved pages, between two readings of the range table's (which must be the number the count was read
 * under). All of it between two equal even readings of the number its taker of moves keeps
 * (numa_adopt_moves), so that the moves taken and the taken index are of one moment: a migration
 * taken between them would otherwise be applied again on top of the records it already moved. A few
 * tries while the other process writes; each record is then checked. */
bool read_records(NumaRemote* r, pid_t pid, uintptr_t at, Taken* taken) {
    const NumaDirectory& own = g_numa_directory;
    if (!at)
        return false;
    for (int attempt = 0; attempt < 8; ++attempt) {
        if (attempt)
            PalThreadYield();
        NumaDirectory dir;
        uint32_t range_seq, used, task_before, task_after, valid, remaps, live, adopt_before, adopt_after;
        const PalReadRange first[] = {
            {&dir, at, sizeof(dir)},
            {&adopt_before, there(at, own.adopt_seq), sizeof(adopt_before)},
            {&task_before, there(at, own.task_seq), sizeof(task_before)},
            {&range_seq, there(at, own.range_seq), sizeof(range_seq)},
            {&used, there(at, own.range_used), sizeof(used)},
            {&valid, there(at, own.task_valid), sizeof(valid)},
            {&r->task, there(at, own.task_policy), sizeof(r->task)},
            {&taken->adopted, there(at, own.adopted), sizeof(taken->adopted)},
            {taken->beyond, there(at, own.taken_beyond), sizeof(taken->beyond)},
            {&remaps, there(at, own.remap_count), sizeof(remaps)},
            {r->remaps, there(at, own.remaps), sizeof(r->remaps)},
            {&live, there(at, own.live_pages), sizeof(live)},
            {&task_after, there(at, own.task_seq), sizeof(task_after)},
            {&adopt_after, there(at, own.adopt_seq), sizeof(adopt_after)},
        };
        if (PalProcessReadRanges(pid, first, sizeof(first) / sizeof(first[0])) != 0 || !same_layout(dir, at))
            return false;
        if ((task_before & 1) || task_before != task_after || (range_seq & 1) || (adopt_before & 1) ||
            adopt_before != adopt_after)
            continue;
        used = used < kRangeSlots ? used : kRangeSlots;
        if (used || live) {
            test_point(TestPoint::kNumaRemoteBetweenReads);
            uint32_t before, after, adopt_again;
            const PalReadRange second[] = {
                {&before, there(at, own.range_seq), sizeof(before)},
                {r->ranges, there(at, own.ranges), used * sizeof(RangeSlot)},
                {r->pages, there(at, own.pages), live ? sizeof(r->pages) : 0},
                {r->stamps, there(at, own.page_stamps), live ? sizeof(r->stamps) : 0},
                {&after, there(at, own.range_seq), sizeof(after)},
                {&adopt_again, there(at, own.adopt_seq), sizeof(adopt_again)},
            };
            if (PalProcessReadRanges(pid, second, sizeof(second) / sizeof(second[0])) != 0)
                return false;
            if (before != range_seq || after != range_seq || adopt_again != adopt_before)
                continue;
        }
        r->pages_live = live != 0;
        r->range_count = 0;
        for (uint32_t i = 0; i < used; ++i) {
            const RangeSlot& slot = r->ranges[i];
            if (slot.start < slot.end && slot.start % kPageBytes == 0 && valid_policy(slot.policy))
                r->ranges[r->range_count++] = slot;
        }
        r->task_valid = valid == 1 && valid_policy(r->task);
        r->remap_count = 0;
        for (uint32_t i = 0; i < remaps && i < kRemapSlots; ++i)
            if (r->remaps[i].from && r->remaps[i].to)
                r->remaps[r->remap_count++] = r->remaps[i];
        return true;
    }
    return false;
}

/* The latest stamp among the copied records: the moves applied on top come after it. */
uint32_t latest_stamp(const NumaRemote* r) {
    uint32_t latest = 0;
    auto later = [&latest](uint32_t stamp) {
        if (static_cast<int32_t>(stamp - latest) > 0)
            latest = stamp;
    };
    for (uint32_t i = 0; i < r->range_count; ++i)
        later(r->ranges[i].policy.stamp);
    for (uint32_t i = 0; r->pages_live && i < kPageSlots; ++i)
        if (r->pages[i])
            later(r->stamps[i]);
    for (uint32_t i = 0; i < r->remap_count; ++i)
        later(r->remaps[i].stamp);
    return latest;
}

/* A move of page `number` to `node` in the copy, as the process records one (its hash window; a full
 * window forgets its head). */
void copy_record_page(NumaRemote* r, uint64_t number, uint32_t node, uint32_t stamp) {
    if (!r->pages_live) {
        /* Not read (the process has none): what an earlier reading left is cleared first. */
        memset(r->pages, 0, sizeof(r->pages));
        memset(r->stamps, 0, sizeof(r->stamps));
        r->pages_live = true;
    }
    const uint64_t entry = (number << 12) | (node + 1);
    const uint32_t first = numa_page_hash(number);
    uint32_t free_at = kPageSlots;
    for (uint32_t i = 0; i < kPageProbe; ++i) {
        const uint32_t at = (first + i) % kPageSlots;
        if (r->pages[at] && (r->pages[at] >> 12) == number) {
            free_at = at;
            break;
        }
        if (!r->pages[at] && free_at == kPageSlots)
            free_at = at;
    }
    const uint32_t at = free_at < kPageSlots ? free_at : first;
    r->pages[at] = entry;
    r->stamps[at] = stamp;
    r->pages_live = true;
}

/* The moves other processes posted for `pid` that it has not taken yet (`taken`), applied to the copy
 * as it would take them. A move still being written is passed over: the process takes it later. */
void apply_pending(NumaRemote* r, pid_t pid, const Taken& taken) {
    const uint64_t head = numa_move_head(false);
    const uint64_t adopted = taken.adopted;
    if (adopted >= head)
        return;
    uint64_t from = head - adopted > kNumaMoveSlots ? head - kNumaMoveSlots : adopted;
    uint64_t nonce = 0;
    bool nonce_read = false, nonce_known = false;
    uint32_t stamp = latest_stamp(r);
    const uint32_t nodes = numa_node_count();
    for (uint64_t i = from; i < head; ++i) {
        NumaMoveData m;
        if (numa_move_taken(taken.beyond, adopted, i) || numa_read_move(i, &m) != MoveState::kWhole || m.pid != pid ||
            !numa_same_pid_namespace(m.ns))
            continue;
        if (!nonce_read) {
            nonce_read = true;
            nonce_known = numa_process_nonce(pid, &nonce);
        }
        if (!nonce_known || m.nonce != nonce)
            continue;
        if (m.kind == kNumaMovePages && m.node < nodes && m.pages <= kNumaMovePagesMax &&
            m.first_page < (~uintptr_t{0} / kPageBytes) - m.pages) {
            ++stamp;
            for (uint64_t p = m.first_page; p < m.first_page + m.pages; ++p)
                copy_record_page(r, p, m.node, stamp);
        } else if (m.kind == kNumaMoveRemap && m.from && m.to) {
            for (uint32_t at = 0; r->pages_live && at < kPageSlots; ++at) {
                if (!r->pages[at])
                    continue;
                const int to = numa_remap_node(static_cast<uint32_t>((r->pages[at] & 0xfff) - 1), m.from, m.to);
                if (to >= 0 && static_cast<uint32_t>(to) < nodes)
                    r->pages[at] = (r->pages[at] & ~0xfffULL) | static_cast<uint64_t>(to + 1);
            }
            if (r->remap_count < kRemapSlots)
                r->remaps[r->remap_count++] = RemapRecord{++stamp, 0, m.from, m.to};
        }
    }
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
    /* The copy's memory: the one kept from the last reading when no other thread holds it (no
     * mapping, and no page faults, per reading), else a mapping of its own. */
    void* memory = g_spare.exchange(nullptr, std::memory_order_acquire);
    if (!memory && PalMemoryAllocate(sizeof(NumaRemote), &memory) != 0)
        return nullptr;
    NumaRemote* r = static_cast<NumaRemote*>(memory);
    /* Where its records are: the hint its slot holds (shared by it, or by an earlier reader), else
     * found through both maps files, and left as the hint for the next reader. */
    Taken taken = {};
    bool read = read_records(r, pid, numa_directory_hint(pid), &taken);
    if (!read) {
        void* text;
        uintptr_t at = 0;
        if (PalMemoryAllocate(sizeof(MapsText), &text) == 0) {
            at = remote_directory(static_cast<MapsText*>(text), pid);
            PalMemoryFree(text, sizeof(MapsText));
        }
        read = at && read_records(r, pid, at, &taken);
        if (read)
            numa_note_directory_hint(pid, at);
    }
    if (!read) {
        numa_remote_close(r);
        return nullptr;
    }
    apply_pending(r, pid, taken);
    r->current = task_node(pid);
    return r;
}

void numa_remote_close(NumaRemote* remote) {
    void* expected = nullptr;
    if (remote && !g_spare.compare_exchange_strong(expected, remote, std::memory_order_release))
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
    if (!remote->pages_live)
        return -1;
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

uint32_t numa_remote_remaps(const NumaRemote* remote, const RemapRecord** out) {
    *out = remote->remaps;
    return remote->remap_count;
}

}  // namespace libos
