/* The virtual CPU machine (libos_vcpu.h): configuration, shared state, thread slots, translation. */
#include "libos/libos_vcpu.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>

#include "libos/libos_signal.h"
#include "libos/libos_trace.h"
#include "libos/libos_text.h"
#include "libos/libos_vfs.h"
#include "pal/pal.h"

extern char** environ;

namespace libos {

std::atomic<int> g_init_state{kUninitialized};

const char* env_get(const char* name) {
    size_t len = strlen(name);
    for (char** e = environ; e && *e; ++e)
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
            return *e + len + 1;
    return nullptr;
}
constinit thread_local ThreadSlot* t_slot __attribute__((tls_model("initial-exec"))) = nullptr;
constinit thread_local VcpuCache t_vcpu_cache __attribute__((tls_model("initial-exec"))) = {};

/* One thread of the launch: 64 bytes in the shared state. The first kInlineWords words of the mask
 * live here; machines of more than 384 vCPUs keep the rest in the extension area, at the slot's
 * index. `seq` is a sequence lock: odd while a writer changes the mask. */
constexpr uint32_t kInlineWords = 6;
struct alignas(64) ThreadSlot {
    std::atomic<int32_t> tid;   /* 0: never used, -1: freed, -2: being claimed */
    std::atomic<uint32_t> seq;
    std::atomic<uint32_t> writer; /* tid of the thread changing this mask (host and slot), or 0 */
    std::atomic<uint32_t> stamp; /* the launch's clock at the last write of the mask */
    std::atomic<uint64_t> bits[kInlineWords];
};
static_assert(sizeof(ThreadSlot) == 64, "a thread costs 64 bytes of shared state");

namespace {

constexpr uint32_t kStateMagic = 0x4c425643; /* "CVBL" */
constexpr uint32_t kStateVersion = 2;
constexpr uint32_t kSlotCount = 32768; /* live threads of one launch; a power of two */
constexpr int32_t kFreedTid = -1;
constexpr int32_t kClaimingTid = -2;
constexpr size_t kPageSize = 4096;
/* Where the state's descriptor goes: high, out of the programs' way (PalFileMoveHigh). */
constexpr int kStateFdFloor = 1000;

struct SharedHeader {
    uint32_t magic;
    uint32_t version;
    uint32_t vcpu_count;
    uint32_t slot_count;
    uint64_t region_size;
    std::atomic<uint32_t> clock; /* counts mask writes across the launch */
    std::atomic<uint32_t> high_water; /* slots [0, high_water) have been used */
    uint16_t host_of[kMaxVcpus];
};
constexpr size_t kHeaderBytes = (sizeof(SharedHeader) + kPageSize - 1) / kPageSize * kPageSize;

struct Machine {
    uint32_t count;
    uint32_t mask_words;
    size_t mask_bytes;
    CpuMap map;
    PalTopology topo;
    CpuBits all;
    SharedHeader* header;
    ThreadSlot* slots;
    std::atomic<uint64_t>* ext;
    uint32_t ext_words;
    int state_fd;
    bool propagate;
    /* A machine's first process creates the shared state when it is first needed (realize_state),
     * not at start-up: a program that never asks about CPUs, forks, execs or starts a thread never
     * pays for it. Until then, the initializing thread's first mask waits here. */
    pid_t owner_pid;     /* the process the deferred state is for: a vfork child must not create it */
    pid_t first_tid;     /* the thread that ran init() */
    bool first_inherited;
    uint32_t first_since;
    CpuBits first_mask;
    ThreadSlot* first_slot; /* its slot, when another thread realized the state */
    const char* preload_path;
    size_t map_text_length;
    char map_text[kMaxVcpus * 6];
};

constinit Machine g_machine{};
/* 0: not read, 1: being read, 2: read. */
constinit std::atomic<int> g_nodes_state{0};
/* The shared state: 0 not there yet (deferred, or not virtual), 1 being created, 2 mapped (header,
 * slots and ext may be used), 3 none could be had (every thread goes without a slot). */
constinit std::atomic<int> g_region_state{0};

/* Each thread's own tid (its slot, t_slot, is declared in the header). */
constinit thread_local pid_t t_tid __attribute__((tls_model("initial-exec"))) = 0;
/* The launch's clock when this thread last called fork. */
constinit thread_local uint32_t t_fork_clock __attribute__((tls_model("initial-exec"))) = 0;

void cpu_relax() {
    __builtin_ia32_pause();
}

void yield() {
    PalThreadYield();
}

[[noreturn]] void refuse(const char* line) {
    PalDebugLog(line, strlen(line));
    PalDebugLog("\n", 1);
    PalProcessExit(125);
}

/* The calling thread's host mask; returns the kernel's cpumask size (what sched_getaffinity returns
 * for a large buffer), or -errno. */
long host_affinity(CpuBits* out) {
    memset(out, 0, sizeof(*out));
    return PalThreadGetCpuAffinity(0, sizeof(out->words), out->words);
}

/* What the process's cpuset permits, as the kernel computes it: ask for every CPU, see what is kept,
 * and put the old mask back. */
/* The calling thread's host mask seen through the map, or the whole machine when none of its host
 * CPUs is on the map: the thread's mask where nothing keeps one (a thread the shim did not start, a
 * thread without a slot), since every change of it went to the host. */
void host_view(CpuBits* out) {
    CpuBits host;
    host_affinity(&host);
    to_virtual(host, out);
    if (out->empty())
        *out = g_machine.all;
}

void cpuset_allowed(CpuBits* out) {
    CpuBits saved, all;
    host_affinity(&saved);
    memset(&all, 0xff, sizeof(all));
    PalThreadSetCpuAffinity(0, sizeof(all.words), all.words);
    host_affinity(out);
    PalThreadSetCpuAffinity(0, sizeof(saved.words), saved.words);
}

/* ---- the sequence lock of a slot ---------------------------------------------------------- */

/* Bounded spinning: a writer that died between its two increments must not hang every reader of
 * the launch. After the bound, a reader takes what it sees and a writer proceeds. */
constexpr int kSpinBound = 1 << 16;

std::atomic<uint64_t>* ext_words_of(const ThreadSlot* slot) {
    return g_machine.ext + static_cast<size_t>(slot - g_machine.slots) * g_machine.ext_words;
}

void copy_out(const ThreadSlot* slot, uint64_t* words) {
    uint32_t n = g_machine.mask_words;
    uint32_t inline_n = n < kInlineWords ? n : kInlineWords;
    for (uint32_t i = 0; i < inline_n; ++i)
        words[i] = slot->bits[i].load(std::memory_order_relaxed);
    if (n > kInlineWords) {
        std::atomic<uint64_t>* ext = ext_words_of(slot);
        for (uint32_t i = kInlineWords; i < n; ++i)
            words[i] = ext[i - kInlineWords].load(std::memory_order_relaxed);
    }
}

void copy_in(ThreadSlot* slot, const uint64_t* words) {
    uint32_t n = g_machine.mask_words;
    uint32_t inline_n = n < kInlineWords ? n : kInlineWords;
    for (uint32_t i = 0; i < inline_n; ++i)
        slot->bits[i].store(words[i], std::memory_order_relaxed);
    if (n > kInlineWords) {
        std::atomic<uint64_t>* ext = ext_words_of(slot);
        for (uint32_t i = kInlineWords; i < n; ++i)
            ext[i - kInlineWords].store(words[i], std::memory_order_relaxed);
    }
}

void locked_write(ThreadSlot* slot, const uint64_t* words) {
    for (;;) {
        uint32_t seq = slot->seq.load(std::memory_order_relaxed);
        uint32_t mine;
        for (int spins = 0;; ++spins) {
            if (!(seq & 1) || spins > kSpinBound) {
                /* Even: take it. Still odd after the bound: its writer was stopped or died; take it
                 * over (the counter stays odd while this write runs). */
                mine = (seq & 1) ? seq + 2 : seq + 1;
                if (slot->seq.compare_exchange_weak(seq, mine, std::memory_order_acquire))
                    break;
            } else {
                seq = slot->seq.load(std::memory_order_relaxed);
            }
            if (spins > 64)
                yield();
            else
                cpu_relax();
        }
        std::atomic_thread_fence(std::memory_order_release);
        copy_in(slot, words);
        slot->stamp.store(g_machine.header->clock.fetch_add(1, std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
        /* Publish only if no one took the slot over meanwhile; if someone did, this write may have
         * landed on top of theirs, word by word: write it again, whole, as the last one. */
        if (slot->seq.compare_exchange_strong(mine, mine + 1, std::memory_order_release))
            return;
    }
}

/* Was the slot written after the launch's clock read `since`? (The clock may wrap.) */
bool written_after(const ThreadSlot* slot, uint32_t since) {
    return static_cast<int32_t>(slot->stamp.load(std::memory_order_relaxed) - since) > 0;
}

void locked_read(const ThreadSlot* slot, uint64_t* words) {
    for (int spins = 0;; ++spins) {
        uint32_t before = slot->seq.load(std::memory_order_acquire);
        if ((before & 1) && spins < kSpinBound) {
            if (spins > 64)
                yield();
            else
                cpu_relax();
            continue;
        }
        copy_out(slot, words);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (slot->seq.load(std::memory_order_relaxed) == before || spins >= kSpinBound)
            return;
    }
}

/* ---- slots by tid: open addressing over the shared slot array ----------------------------- */

/* Slots are taken from the bottom of the array and searched up to the high-water mark: a launch of
 * t threads touches t * 64 bytes of shared memory, not pages spread over the whole array. Lookups by
 * tid (a call about another thread, a new thread's claim) scan the used part; the calling thread's
 * own slot is cached in TLS and never looked up. */
uint32_t used_slots() {
    if (!g_machine.header)
        return 0;
    uint32_t n = g_machine.header->high_water.load(std::memory_order_acquire);
    return n < kSlotCount ? n : kSlotCount;
}

ThreadSlot* lookup(pid_t tid) {
    uint32_t n = used_slots();
    for (uint32_t i = 0; i < n; ++i)
        if (g_machine.slots[i].tid.load(std::memory_order_acquire) == tid)
            return &g_machine.slots[i];
    return nullptr;
}

/* Frees the slots whose thread no longer exists (kill(tid, 0) finds any thread by its tid). Returns
 * whether any was freed. */
bool collect_dead_slots() {
    bool freed = false;
    for (uint32_t i = 0, n = used_slots(); i < n; ++i) {
        int32_t t = g_machine.slots[i].tid.load(std::memory_order_acquire);
        if (t > 0 && PalThreadExists(t) == -ESRCH &&
            g_machine.slots[i].tid.compare_exchange_strong(t, kFreedTid, std::memory_order_acq_rel))
            freed = true;
    }
    return freed;
}

/* Waits while another thread fills slot `i` (tid == kClaiming) and returns the tid it publishes. A
 * claimer that died mid-way is given up on after kSpinBound rounds. */
int32_t settled_tid(uint32_t i) {
    int32_t t = g_machine.slots[i].tid.load(std::memory_order_acquire);
    for (int spins = 0; t == kClaimingTid && spins < kSpinBound; ++spins) {
        if (spins > 64)
            yield();
        else
            cpu_relax();
        t = g_machine.slots[i].tid.load(std::memory_order_acquire);
    }
    return t;
}

/* Gives `tid` a slot holding `mask`. A slot that already carries `tid` is either left over from a
 * thread that died (tids are unique among live threads) and is taken over, or, when keep_newer is
 * set and the slot was written after the launch's clock read `since`, it was set for this very
 * thread by another one (a parent's taskset -p on its fork child before the child got here) and is
 * kept as it is. Two claimers of one tid (a fork's parent and child) end up with the same slot. */
ThreadSlot* claim(pid_t tid, const uint64_t* mask, bool keep_newer = false, uint32_t since = 0) {
    if (!g_machine.header || tid <= 0)
        return nullptr;
    bool collected = false;
    for (;;) {
        uint32_t n = used_slots();
        int64_t free_index = -1;
        ThreadSlot* existing = nullptr;
        for (uint32_t i = 0; i < n; ++i) {
            int32_t t = settled_tid(i);
            if (t == tid) {
                existing = &g_machine.slots[i];
                break;
            }
            if ((t == kFreedTid || t == 0) && free_index < 0)
                free_index = i;
        }
        if (existing) {
            if (!(keep_newer && written_after(existing, since)))
                locked_write(existing, mask);
            return existing;
        }
        if (free_index < 0) {
            /* No free slot below the mark: raise it, or, when the array is full, give back the
             * slots of threads that died without a word (a process killed, or ended with _exit),
             * once, and search again. */
            uint32_t mark = n;
            if (mark < kSlotCount) {
                g_machine.header->high_water.compare_exchange_strong(mark, mark + 1, std::memory_order_acq_rel);
                continue; /* the new slot (ours or a racer's) is searched like any other */
            }
            if (!collected && collect_dead_slots()) {
                collected = true;
                continue;
            }
            return nullptr; /* more live threads than kSlotCount */
        }
        ThreadSlot* slot = &g_machine.slots[free_index];
        int32_t expected = slot->tid.load(std::memory_order_acquire);
        if ((expected != 0 && expected != kFreedTid) ||
            !slot->tid.compare_exchange_strong(expected, kClaimingTid, std::memory_order_acq_rel))
            continue; /* someone took it first: look again */
        locked_write(slot, mask);
        slot->tid.store(tid, std::memory_order_release);
        /* Another claimer of the same tid may have published it at another free slot meanwhile. The
         * lowest wins; this one is given back. */
        ThreadSlot* first = lookup(tid);
        if (first != slot && first) {
            slot->tid.store(kFreedTid, std::memory_order_release);
            return first;
        }
        return slot;
    }
}

/* ---- the shared state --------------------------------------------------------------------- */

size_t region_size() {
    size_t ext = g_machine.ext_words ? static_cast<size_t>(kSlotCount) * g_machine.ext_words * 8 : 0;
    return kHeaderBytes + static_cast<size_t>(kSlotCount) * sizeof(ThreadSlot) + ext;
}

void map_region(void* base) {
    g_machine.header = static_cast<SharedHeader*>(base);
    g_machine.slots = reinterpret_cast<ThreadSlot*>(static_cast<char*>(base) + kHeaderBytes);
    g_machine.ext = reinterpret_cast<std::atomic<uint64_t>*>(
        static_cast<char*>(base) + kHeaderBytes + static_cast<size_t>(kSlotCount) * sizeof(ThreadSlot));
}

/* Maps the state that an earlier process of the launch created, if `fd` still is that state and
 * describes the same machine. */
/* Maps the state behind descriptor `fd` if it is the launch's and describes this machine. */
bool map_existing(long fd) {
    const size_t size = region_size();
    void* base;
    if (PalMemoryMapShared(static_cast<int>(fd), size, &base) < 0)
        return false;
    auto* header = static_cast<SharedHeader*>(base);
    struct stat st;
    bool ok = PalFileStat(static_cast<int>(fd), &st) == 0 && st.st_size == static_cast<off_t>(size) && header->magic == kStateMagic && header->version == kStateVersion &&
              header->vcpu_count == g_machine.count && header->slot_count == kSlotCount &&
              memcmp(header->host_of, g_machine.map.host_of, g_machine.count * sizeof(uint16_t)) == 0;
    if (!ok) {
        PalMemoryFree(base, size);
        return false;
    }
    map_region(base);
    g_machine.state_fd = static_cast<int>(fd);
    return true;
}

bool attach_region(const char* fd_text) {
    if (!fd_text)
        return false;
    long fd = 0;
    for (const char* p = fd_text; *p; ++p) {
        if (*p < '0' || *p > '9' || fd > 1000000)
            return false;
        fd = fd * 10 + (*p - '0');
    }
    if (map_existing(fd))
        return true;
    /* The descriptor was closed on the way (Python's subprocess closes every descriptor it did not
     * open before it execs, for one) or reused: the parent that passed it may still hold it. */
    char path[64] = "/proc/";
    size_t len = 6;
    len += format_decimal(path + len, static_cast<uint64_t>(PalProcessGetParentId()));
    memcpy(path + len, "/fd/", 4);
    len += 4;
    format_decimal(path + len, static_cast<uint64_t>(fd));
    /* Only the state itself, never whatever else the parent has under that number (a terminal, a
     * FIFO, a device): checked by name before it is opened, and opened so that it could not become
     * a controlling terminal or block. */
    char target[64];
    if (PalFileReadLink(path, target, sizeof(target)) <= 0)
        return false;
    if (strncmp(target, "/memfd:libos-vcpu-state", 23) != 0)
        return false;
    long reopened = PalFileOpen(AT_FDCWD, path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0);
    if (reopened < 0)
        return false;
    /* Inherited across exec like the original. */
    if (long high = PalFileMoveHigh(static_cast<int>(reopened), kStateFdFloor, false); high >= 0)
        reopened = high;
    PalFileSetCloseOnExec(static_cast<int>(reopened), false);
    if (map_existing(reopened))
        return true;
    PalFileClose(static_cast<int>(reopened));
    return false;
}

/* Creates the launch's state. The descriptor is inherited across exec (no O_CLOEXEC) and moved out
 * of the way (move_out_of_the_way). */
bool create_region() {
    long created = PalMemfdCreate("libos-vcpu-state", 0);
    if (created < 0)
        return false;
    int fd = static_cast<int>(created);
    size_t size = region_size();
    if (PalFileTruncate(fd, size) < 0) {
        PalFileClose(fd);
        return false;
    }
    if (long high = PalFileMoveHigh(fd, kStateFdFloor, false); high >= 0)
        fd = static_cast<int>(high);
    void* base;
    if (PalMemoryMapShared(fd, size, &base) < 0) {
        PalFileClose(fd);
        return false;
    }
    auto* header = static_cast<SharedHeader*>(base);
    header->vcpu_count = g_machine.count;
    header->slot_count = kSlotCount;
    header->region_size = size;
    memcpy(header->host_of, g_machine.map.host_of, g_machine.count * sizeof(uint16_t));
    header->version = kStateVersion;
    header->magic = kStateMagic;
    map_region(base);
    g_machine.state_fd = fd;
    return true;
}

/* A process-private state, when no shared one can be had (memfd_create refused, say): the machine
 * still works inside the process; other processes of the launch see its threads through the map. */
bool private_region() {
    void* base;
    if (PalMemoryAllocate(region_size(), &base) < 0)
        return false;
    map_region(base);
    g_machine.state_fd = -1;
    return true;
}

/* LIBOS_AFFINITY=LIST@CLOCK, written at exec by the process before: the exec'ing thread's mask and
 * the launch's clock at that moment. */
bool parse_inherited_affinity(const char* text, CpuBits* mask, uint32_t* since) {
    if (!text)
        return false;
    char list[kMaxVcpus * 6];
    size_t n = 0;
    while (text[n] && text[n] != '@' && n + 1 < sizeof(list)) {
        list[n] = text[n];
        ++n;
    }
    list[n] = '\0';
    CpuBits parsed;
    if (!parse_cpu_list(list, &parsed))
        return false;
    trim_to_machine(&parsed);
    if (!parsed.empty())
        *mask = parsed;
    uint64_t clock = 0;
    if (text[n] == '@')
        for (const char* p = text + n + 1; *p >= '0' && *p <= '9'; ++p)
            clock = clock * 10 + static_cast<uint64_t>(*p - '0');
    *since = static_cast<uint32_t>(clock);
    return true;
}

/* The sizes that follow from the map. */
void set_machine_shape() {
    Machine& m = g_machine;
    m.count = m.map.count;
    m.mask_words = (m.count + 63) / 64;
    m.mask_bytes = m.mask_words * 8;
    m.ext_words = m.mask_words > kInlineWords ? m.mask_words - kInlineWords : 0;
    memset(&m.all, 0, sizeof(m.all));
    for (uint32_t v = 0; v < m.count; ++v)
        m.all.add(v);
    m.map_text_length = format_cpu_map(m.map, m.map_text, sizeof(m.map_text));
}

/* Does this process run in its parent's memory (a vfork child, or any clone with CLONE_VM)? kcmp
 * tells; when it cannot (a kernel without it, or no right to compare), the answer is yes, the safe
 * one. */
bool shares_parent_memory(pid_t pid) {
    return PalProcessCompareMemory(pid, PalProcessGetParentId()) != 1;
}

/* The thread creating the state, so that a signal handler interrupting it there does not wait for
 * itself. */
constinit std::atomic<pid_t> g_region_creator{0};

/* Creates the first process's shared state, deferred by init_machine, and gives the thread that ran
 * init its slot; other threads asking meanwhile wait for it. A process that no fork hook saw (a
 * child of libc's clone) creates it only if it has memory of its own, as a first process itself: a
 * vfork-style child, which runs in its parent's memory with its own descriptors, must write nothing
 * there, and goes without a slot until it execs. */
void realize_region() {
    Machine& m = g_machine;
    const pid_t pid = PalProcessGetId();
    if (pid != m.owner_pid && shares_parent_memory(pid))
        return;
    const pid_t tid = PalThreadGetId();
    int expected = 0;
    if (!g_region_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
        if (expected == 1 && g_region_creator.load(std::memory_order_acquire) == tid)
            return;
        while (g_region_state.load(std::memory_order_acquire) == 1)
            yield();
        return;
    }
    g_region_creator.store(tid, std::memory_order_release);
    if (pid != m.owner_pid) {
        host_view(&m.first_mask); /* its only thread's mask is what the host runs it on */
        m.owner_pid = pid;
        m.first_tid = tid;
        m.first_inherited = false;
        m.first_since = 0;
        m.first_slot = nullptr;
        t_slot = nullptr;
        t_tid = 0;
    }
    if (!create_region() && !private_region()) {
        constexpr char kLine[] = "libos: cannot map the virtual machine's shared state (out of memory); "
                                 "threads are seen through the map from now on\n";
        PalDebugLog(kLine, sizeof(kLine) - 1);
        g_region_state.store(3, std::memory_order_release);
        return;
    }
    /* The first thread's slot is in place before anyone else may look. */
    ThreadSlot* first = claim(m.first_tid, m.first_mask.words, m.first_inherited, m.first_since);
    if (tid == m.first_tid) {
        t_tid = tid;
        t_slot = first;
    } else {
        m.first_slot = first;
    }
    g_region_state.store(2, std::memory_order_release);
}

}  // namespace

bool ensure_region() {
    int state = g_region_state.load(std::memory_order_acquire);
    if (__builtin_expect(state == 2, 1))
        return true;
    if (state < 2 && g_init_state.load(std::memory_order_acquire) == kVirtual) {
        realize_region();
        state = g_region_state.load(std::memory_order_acquire);
    }
    return state == 2;
}

namespace {

int init_machine() {
    const char* count_text = env_get("LIBOS_CPUS");
    const char* map_text = env_get("LIBOS_CPU_MAP");
    if (!(count_text && *count_text) && !(map_text && *map_text))
        return kIdentity;

    Machine& m = g_machine;
    const SettingNames names = {"LIBOS_CPUS", "LIBOS_CPU_MAP"};
    CpuBits current;           /* the host mask read at start-up, when it was */
    bool have_current = false;
    ConfigError error;
    /* An exec'ed process of a launch: its parent validated the map, and the shared state holds it.
     * If the state is still there and describes the same map, the host need not be asked again. */
    const char* state = env_get("LIBOS_STATE_FD");
    bool trusted = false;
    if (state && map_text && *map_text) {
        CpuBits everything;
        memset(&everything, 0xff, sizeof(everything));
        if (build_cpu_map(names, count_text, map_text, everything, everything, everything, &m.map, &error)) {
            set_machine_shape();
            trusted = attach_region(state);
        }
    }
    if (trusted) {
        /* Only the kernel's cpumask size is needed from the host (sched_setaffinity's length). */
        uint64_t probe[kMaskWords];
        long size = PalThreadGetCpuAffinity(0, sizeof(probe), probe);
        m.topo.kernel_mask_size = size > 0 ? static_cast<uint32_t>(size) : 0;
    } else {
        CpuBits online, allowed;
        long size = host_affinity(&current);
        have_current = size > 0;
        if (map_text && *map_text) {
            /* A map names host CPUs, which must be online. */
            PalHostTopology(&m.topo);
            memcpy(online.words, m.topo.online_mask, sizeof(online.words));
        } else {
            /* A count spreads over this thread's CPUs, which the kernel keeps to active ones: no
             * need to read sysfs at every start-up. */
            online = current;
            m.topo.kernel_mask_size = size > 0 ? static_cast<uint32_t>(size) : 0;
        }
        allowed = current;
        if (!build_cpu_map(names, count_text, map_text, online, allowed, current, &m.map, &error)) {
            /* A CPU outside this thread's affinity may still be one the cpuset allows. */
            cpuset_allowed(&allowed);
            if (!build_cpu_map(names, count_text, map_text, online, allowed, current, &m.map, &error))
                refuse(error.text);
        }
        set_machine_shape();
    }

    /* The first thread: the mask its exec'ing parent had, or the whole machine. */
    CpuBits& initial = m.first_mask;
    initial = m.all;
    uint32_t since = 0;
    bool from_parent = parse_inherited_affinity(env_get("LIBOS_AFFINITY"), &initial, &since);
    t_tid = PalThreadGetId();
    m.first_tid = t_tid;
    m.first_inherited = from_parent;
    m.first_since = since;
    m.owner_pid = PalProcessGetId();
    if (trusted) {
        /* An exec'ed process of a launch joins the state at once: the others may ask about it. */
        g_region_state.store(2, std::memory_order_release);
        t_slot = claim(t_tid, initial.words, from_parent, since);
    }
    if (!from_parent) {
        /* Without the launcher (plain LD_PRELOAD) nothing has placed the process yet, unless it
         * already runs on exactly those host CPUs. */
        CpuBits host;
        to_host(initial, &host);
        const size_t bytes = m.topo.kernel_mask_size ? m.topo.kernel_mask_size : sizeof(host.words);
        if (!have_current || memcmp(current.words, host.words, bytes) != 0)
            PalThreadSetCpuAffinity(0, bytes, host.words);
    }
    install_fault_handling();
    capture_inherited_cwd();
    return kVirtual;
}

}  // namespace

/* LIBOS_STRICT=TAG: 16 hex digits, the tag the launch's seccomp filter lets through (launcher/). */
constinit char g_strict_tag_text[17] = {};

void set_strict_tag(const char* text) {
    if (!text)
        return;
    uint64_t tag = 0;
    size_t n = 0;
    for (; text[n] && n < 16; ++n) {
        char c = text[n];
        int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (digit < 0)
            return;
        tag = tag << 4 | static_cast<uint64_t>(digit);
    }
    if (n != 16 || text[n] || tag == 0)
        return;
    memcpy(g_strict_tag_text, text, 17);
    PalSetStrictTag(tag);
}

const char* strict_tag_text() {
    return g_strict_tag_text[0] ? g_strict_tag_text : nullptr;
}

void set_preload_library(const char* shim) {
    g_machine.preload_path = shim;
}

const char* preload_library() {
    return g_machine.preload_path;
}

const char* machine_map_text() {
    return g_machine.map_text;
}

int state_fd() {
    return ensure_region() ? g_machine.state_fd : -1;
}

bool propagates() {
    return g_machine.propagate;
}

void init() {
    /* Too early: something called in before libc set up the environment (a .preinit_array function,
     * a sanitizer's start-up). Answer as the host this time and look again on the next call. */
    if (!environ)
        return;
    int expected = kUninitialized;
    if (!g_init_state.compare_exchange_strong(expected, kInitializing, std::memory_order_acq_rel)) {
        while (g_init_state.load(std::memory_order_acquire) == kInitializing)
            yield();
        return;
    }
    /* Strict mode: from here on the PAL's own calls carry the launch's tag past the filter. First,
     * before any of them (tracing may open its file). */
    set_strict_tag(env_get("LIBOS_STRICT"));
    trace_init();
    const char* propagate = env_get("LIBOS_PROPAGATE");
    g_machine.propagate = !(propagate && strcmp(propagate, "0") == 0);
    int state = init_machine();
    /* Tracing without a machine still needs its own faults reported. */
    if (state == kIdentity && g_tracing)
        install_fault_handling();
    g_init_state.store(state, std::memory_order_release);
}

uint32_t vcpu_count() {
    return g_machine.count;
}

size_t vcpu_mask_size() {
    return g_machine.mask_bytes;
}

uint16_t host_cpu_of(uint32_t v) {
    return v < g_machine.count ? g_machine.map.host_of[v] : 0;
}

uint32_t host_node_of(uint32_t host) {
    static_assert(sizeof(g_machine.topo.node_of_cpu[0]) == sizeof(uint16_t));
    if (__builtin_expect(g_nodes_state.load(std::memory_order_acquire) != 2, 0)) {
        /* Read once, by one thread; the others wait the few file reads it takes, as for init(). */
        int expected = 0;
        if (g_nodes_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
            PalHostCpuNodes(g_machine.topo.node_of_cpu);
            g_nodes_state.store(2, std::memory_order_release);
        } else {
            while (g_nodes_state.load(std::memory_order_acquire) != 2)
                yield();
        }
    }
    return host < PAL_MAX_CPUS ? g_machine.topo.node_of_cpu[host] : 0;
}

const PalTopology& host_topology() {
    return g_machine.topo;
}

void trim_to_machine(CpuBits* vmask) {
    uint32_t n = g_machine.count;
    for (uint32_t w = n / 64; w < kMaskWords; ++w) {
        uint32_t keep = w * 64 < n ? n - w * 64 : 0;
        vmask->words[w] &= keep >= 64 ? ~0ULL : (1ULL << keep) - 1;
    }
}

void to_host(const CpuBits& vmask, CpuBits* host) {
    to_host_words(vmask.words, host->words, kMaskWords);
}

void to_virtual(const CpuBits& host, CpuBits* vmask) {
    memset(vmask, 0, sizeof(*vmask));
    for (uint32_t v = 0; v < g_machine.count; ++v)
        if (host.has(g_machine.map.host_of[v]))
            vmask->add(v);
}

void to_host_words(const uint64_t* vmask, uint64_t* host, size_t host_words) {
    memset(host, 0, host_words * sizeof(uint64_t));
    for (uint32_t w = 0; w < g_machine.mask_words; ++w) {
        for (uint64_t bits = vmask[w]; bits; bits &= bits - 1) {
            uint32_t v = w * 64 + static_cast<uint32_t>(__builtin_ctzll(bits));
            uint32_t h = v < g_machine.count ? g_machine.map.host_of[v] : kMaxVcpus;
            if (h / 64 < host_words)
                host[h / 64] |= 1ULL << (h % 64);
        }
    }
}

void write_own_mask(const uint64_t* words) {
    if (ThreadSlot* slot = self_slot())
        locked_write(slot, words);
}

ThreadSlot* find_slot(pid_t tid) {
    if (tid <= 0 || !ensure_region())
        return nullptr;
    return lookup(tid);
}

bool read_mask(ThreadSlot* slot, pid_t tid, CpuBits* out) {
    memset(out, 0, sizeof(*out));
    locked_read(slot, out->words);
    return slot->tid.load(std::memory_order_acquire) == tid;
}

void write_mask(ThreadSlot* slot, const CpuBits& mask) {
    locked_write(slot, mask.words);
}

void begin_change(ThreadSlot* slot) {
    if (!slot)
        return;
    uint32_t me = static_cast<uint32_t>(self_tid());
    for (int spins = 0;; ++spins) {
        uint32_t holder = slot->writer.load(std::memory_order_relaxed);
        if ((holder == 0 || spins > kSpinBound) &&
            slot->writer.compare_exchange_weak(holder, me, std::memory_order_acquire))
            return;
        if (spins > 64)
            yield();
        else
            cpu_relax();
    }
}

void end_change(ThreadSlot* slot) {
    if (!slot)
        return;
    uint32_t me = static_cast<uint32_t>(self_tid());
    slot->writer.compare_exchange_strong(me, 0, std::memory_order_release);
}

SlotSnapshot snapshot(ThreadSlot* slot) {
    return SlotSnapshot{slot->seq.load(std::memory_order_acquire), slot->writer.load(std::memory_order_acquire)};
}

bool changed_since(ThreadSlot* slot, SlotSnapshot before) {
    SlotSnapshot now = snapshot(slot);
    return before.writer != 0 || now.writer != 0 || now.seq != before.seq;
}

pid_t self_tid() {
    if (__builtin_expect(t_tid == 0, 0)) {
        self_slot();
        if (t_tid == 0) /* no state to join: nothing is cached */
            return static_cast<pid_t>(PalThreadGetId());
    }
    return t_tid;
}

ThreadSlot* self_slot() {
    if (__builtin_expect(t_slot != nullptr, 1))
        return t_slot;
    /* Without a state to join (a vfork child of a process that had none, which must not write
     * into its parent's memory), nothing is cached. */
    if (!ensure_region())
        return nullptr;
    if (t_slot)
        return t_slot; /* this thread ran init, and the state was created just now */
    pid_t tid = PalThreadGetId();
    /* The thread that ran init, when another thread created the state. */
    if (ThreadSlot* first = g_machine.first_slot;
        first && tid == g_machine.first_tid && first->tid.load(std::memory_order_acquire) == tid) {
        t_tid = tid;
        t_slot = first;
        return first;
    }
    /* A thread the shim did not start (a raw clone): what the host runs it on is its mask. */
    CpuBits mask;
    host_view(&mask);
    t_tid = tid;
    t_slot = claim(tid, mask.words);
    return t_slot;
}

void current_mask(CpuBits* out) {
    memset(out, 0, sizeof(*out));
    copy_own_mask(out->words);
}

void copy_own_mask(uint64_t* words) {
    ThreadSlot* slot = self_slot();
    if (slot) {
        locked_read(slot, words);
        return;
    }
    /* No slot (no state to keep one in, or a full one). */
    CpuBits mask;
    host_view(&mask);
    memcpy(words, mask.words, g_machine.mask_bytes);
}

namespace {

/* Does /proc/<process>/task/<thread>/children (the processes that thread forked and that still
 * run) list `child`? */
bool forked_by(pid_t process, pid_t thread, pid_t child) {
    char path[80] = "/proc/";
    size_t len = 6;
    len += format_decimal(path + len, static_cast<uint64_t>(process));
    memcpy(path + len, "/task/", 6);
    len += 6;
    len += format_decimal(path + len, static_cast<uint64_t>(thread));
    memcpy(path + len, "/children", 10);
    char text[4096];
    if (PalReadFile(path, text, sizeof(text)) <= 0)
        return false;
    char want[16];
    want[format_decimal(want, static_cast<uint64_t>(child))] = '\0';
    size_t n = strlen(want);
    for (const char* p = text; (p = strstr(p, want)) != nullptr; p += n)
        if ((p == text || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

/* The creator's mask among the slots of the live threads of process `process` whose mask runs on
 * exactly the host CPUs `host` (host_bytes of it compared), into *out: the thread that forked
 * `child` when the kernel names it (a fork child: that thread's children file lists it); for a new
 * thread, whose creator the kernel does not name, the process's main thread, which creates most
 * threads; else the most recently written one. */
bool creator_slot(pid_t process, pid_t child, const CpuBits& host, size_t host_bytes, CpuBits* out) {
    if (child == 0) {
        if (ThreadSlot* main = lookup(process)) {
            CpuBits mask, image;
            memset(&mask, 0, sizeof(mask));
            locked_read(main, mask.words);
            to_host(mask, &image);
            if (main->tid.load(std::memory_order_acquire) == process &&
                memcmp(image.words, host.words, host_bytes) == 0) {
                *out = mask;
                return true;
            }
        }
    }
    bool found = false;
    uint32_t best_stamp = 0;
    for (uint32_t i = 0, n = used_slots(); i < n; ++i) {
        ThreadSlot* slot = &g_machine.slots[i];
        int32_t t = slot->tid.load(std::memory_order_acquire);
        if (t <= 0)
            continue;
        CpuBits mask, image;
        memset(&mask, 0, sizeof(mask));
        locked_read(slot, mask.words);
        to_host(mask, &image);
        if (memcmp(image.words, host.words, host_bytes) != 0)
            continue;
        if (child > 0 && forked_by(process, t, child)) {
            *out = mask;
            return true;
        }
        uint32_t stamp = slot->stamp.load(std::memory_order_relaxed);
        if (found && static_cast<int32_t>(stamp - best_stamp) <= 0)
            continue;
        /* Is thread t one of the process's threads? */
        char path[64] = "/proc/";
        size_t len = 6;
        len += format_decimal(path + len, static_cast<uint64_t>(process));
        memcpy(path + len, "/task/", 6);
        len += 6;
        format_decimal(path + len, static_cast<uint64_t>(t));
        if (PalFileAccess(AT_FDCWD, path, F_OK, 0) != 0)
            continue;
        found = true;
        best_stamp = stamp;
        *out = mask;
    }
    return found;
}

}  // namespace

bool inherited_mask(pid_t tid, const CpuBits& host, CpuBits* out) {
    pid_t tgid = 0, ppid = 0;
    if (PalThreadProcess(tid, &tgid, &ppid) != 0)
        return false;
    const size_t host_bytes = g_machine.topo.kernel_mask_size ? g_machine.topo.kernel_mask_size : sizeof(host.words);
    /* A process's first thread was made by fork (its creator is in the parent process); any other
     * thread by clone in its own process. A creator without a fitting slot inherited its own mask
     * the same way: the search goes on up the process tree (a few generations). */
    pid_t process = tgid == tid ? ppid : tgid;
    pid_t child = tgid == tid ? tid : 0; /* the process whose creator is sought, if it is one */
    for (int generation = 0; generation < 8 && process > 1; ++generation) {
        if (creator_slot(process, child, host, host_bytes, out))
            return true;
        pid_t parent_tgid = 0, grandparent = 0;
        if (PalThreadProcess(process, &parent_tgid, &grandparent) != 0)
            return false;
        child = process;
        process = grandparent;
    }
    return false;
}

ThreadSlot* register_thread(pid_t tid, const CpuBits& mask) {
    ensure_region();
    return claim(tid, mask.words);
}

void register_fork_child(pid_t child) {
    if (g_init_state.load(std::memory_order_acquire) != kVirtual || child <= 0)
        return;
    CpuBits mask;
    current_mask(&mask); /* creates the state if the parent had none yet */
    claim(child, mask.words, true, t_fork_clock);
}

void adopt_thread(ThreadSlot* slot, pid_t tid) {
    t_slot = slot;
    t_tid = tid;
}

void thread_exiting() {
    ThreadSlot* slot = t_slot;
    /* The thread that ran init, when another thread created the state and this one never asked. */
    if (!slot && g_machine.first_slot && PalThreadGetId() == g_machine.first_tid) {
        slot = g_machine.first_slot;
        t_tid = g_machine.first_tid;
    }
    if (slot && slot->tid.load(std::memory_order_relaxed) == t_tid)
        slot->tid.store(kFreedTid, std::memory_order_release);
    t_slot = nullptr;
    t_tid = 0;
}

uint32_t state_clock() {
    return g_region_state.load(std::memory_order_acquire) == 2 ? g_machine.header->clock.load(std::memory_order_relaxed)
                                                               : 0;
}

void before_fork() {
    /* Parent and child share the state only if it exists before the fork. */
    if (g_init_state.load(std::memory_order_acquire) == kVirtual && ensure_region()) {
        self_slot(); /* the child's first mask is the forking thread's, from its own slot */
        t_fork_clock = state_clock();
    }
}

void after_fork_child() {
    if (g_init_state.load(std::memory_order_acquire) != kVirtual)
        return;
    g_machine.owner_pid = PalProcessGetId();
    g_machine.first_slot = nullptr;
    CpuBits mask;
    if (t_slot) {
        memset(&mask, 0, sizeof(mask));
        locked_read(t_slot, mask.words);
    } else {
        mask = g_machine.all;
    }
    t_tid = PalThreadGetId();
    t_slot = claim(t_tid, mask.words, true, t_fork_clock);
}

void current_vcpu_and_node(unsigned* vcpu, unsigned* node) {
    *vcpu = current_vcpu_fast();
    VcpuCache& cache = t_vcpu_cache;
    if (__builtin_expect(cache.slot != nullptr && cache.vcpu == *vcpu, 1)) {
        if (!cache.node_known) {
            cache.node = host_node_of(cache.host);
            cache.node_known = true;
        }
        *node = cache.node;
        return;
    }
    *node = host_node_of(PalGetCurrentCpu());
}

unsigned current_vcpu_fast() {
    VcpuCache& cache = t_vcpu_cache;
    if (__builtin_expect(!cache.looked_up, 0)) {
        cache.cpu_id = PalThreadCpuIdLocation();
        cache.looked_up = true;
    }
    int32_t host = cache.cpu_id ? *cache.cpu_id : -1;
    if (__builtin_expect(host < 0, 0))
        return current_vcpu(PalGetCurrentCpu());
    const ThreadSlot* slot = t_slot;
    if (__builtin_expect(slot != nullptr, 1)) {
        uint32_t seq = slot->seq.load(std::memory_order_acquire);
        if (slot == cache.slot && seq == cache.seq && static_cast<uint32_t>(host) == cache.host)
            return cache.vcpu;
        unsigned v = current_vcpu(static_cast<unsigned>(host));
        if (!(seq & 1)) {
            cache.slot = slot;
            cache.seq_of_slot = &slot->seq;
            cache.seq = seq;
            cache.host = static_cast<uint32_t>(host);
            cache.vcpu = v;
            cache.node_known = false;
        }
        return v;
    }
    return current_vcpu(static_cast<unsigned>(host));
}

unsigned vcpu_on_host(const uint64_t* words, unsigned host) {
    const uint16_t* host_of = g_machine.map.host_of;
    unsigned first = 0;
    bool have_first = false;
    for (uint32_t w = 0; words && w < g_machine.mask_words; ++w) {
        for (uint64_t bits = words[w]; bits; bits &= bits - 1) {
            unsigned v = w * 64 + static_cast<unsigned>(__builtin_ctzll(bits));
            if (v >= g_machine.count)
                break;
            if (host_of[v] == host)
                return v;
            if (!have_first) {
                first = v;
                have_first = true;
            }
        }
    }
    /* The thread runs on a host CPU none of its vCPUs maps to: its mask changed a moment ago and the
     * host has not moved it yet. Any vCPU of the mask is the truth the program asked for. */
    if (have_first)
        return first;
    for (unsigned v = 0; v < g_machine.count; ++v)
        if (host_of[v] == host)
            return v;
    return 0;
}

unsigned current_vcpu(unsigned host) {
    ThreadSlot* slot = self_slot();
    uint64_t words[kMaskWords];
    if (slot)
        locked_read(slot, words);
    return vcpu_on_host(slot ? words : nullptr, host);
}

}  // namespace libos
