/* The shared state (libos_threads.h): created by a machine's first process when it is first needed,
 * attached by every later process of the launch from LIBOS_STATE_FD (or, when a parent closed that
 * descriptor before exec, from the parent's copy), or private to a process when no shared one can be
 * had. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "libos/libos_init.h"
#include "libos/libos_text.h"
#include "libos/libos_threads.h"
#include "libos/libos_sections.h"
#include "machine/machine_internal.h"
#include "pal/pal.h"

namespace libos {

constinit std::atomic<int> g_region_state{kRegionNone};

size_t region_size() {
    size_t ext = g_machine.ext_words ? static_cast<size_t>(kSlotCount) * g_machine.ext_words * 8 : 0;
    return kHeaderBytes + static_cast<size_t>(kSlotCount) * sizeof(ThreadSlot) + ext + kNumaAreaBytes;
}

namespace {

/* Where the state's descriptor goes: 1000 (bash, for one, takes 63 and down for process substitution
 * and 10 and up for its own, and would close the state under its children), or 64 below a descriptor
 * limit that is lower than that; with a limit of 128 or less, where it is. */
int state_fd_floor() {
    long limit = PalFileDescriptorLimit();
    if (limit < 0 || limit >= kStateFdFloor + 64)
        return kStateFdFloor;
    return limit > 128 ? static_cast<int>(limit) - 64 : 0;
}

/* Moves the state's descriptor to its floor (a descriptor already at or above it stays). */
int move_state_fd(int fd) {
    int floor = state_fd_floor();
    if (fd >= floor)
        return fd;
    long high = PalFileMoveHigh(fd, floor, false);
    return high >= 0 ? static_cast<int>(high) : fd;
}

/* The state's file, to know it again under its descriptor. */
constinit uint64_t g_state_dev = 0, g_state_ino = 0;

/* A program that unmaps or protects the shared state, by mistake or on purpose, must not crash the
 * LibOS in it: a fault on the state maps it again, from its descriptor if that still is the state's
 * file, else as zeros of this process's own (its threads are then seen through the map). */
bool repair_region(void*) {
    void* base = g_machine.header;
    const size_t size = region_size();
    struct stat st;
    const int fd = g_machine.state_fd;
    if (fd >= 0 && PalFileStat(fd, &st) == 0 && st.st_dev == g_state_dev && st.st_ino == g_state_ino &&
        PalMemoryMapFixed(base, size, fd) == 0)
        return true;
    return PalMemoryMapFixed(base, size, -1) == 0;
}

void map_region(void* base) {
    PalFaultRepairRegister(base, static_cast<char*>(base) + region_size(), &repair_region);
    g_machine.header = static_cast<SharedHeader*>(base);
    g_machine.slots = reinterpret_cast<ThreadSlot*>(static_cast<char*>(base) + kHeaderBytes);
    g_machine.ext = reinterpret_cast<std::atomic<uint64_t>*>(
        static_cast<char*>(base) + kHeaderBytes + static_cast<size_t>(kSlotCount) * sizeof(ThreadSlot));
}

/* The launch's state was laid out by a LibOS of another version (a libshim.so or launcher of another
 * release in the same launch): said once, since nothing else would show it. This process goes on with
 * a state of its own, as when the state cannot be reached; it and the others see each other's
 * threads through the map. */
void say_other_version(uint32_t version) {
    static constinit std::atomic<bool> said{false};
    if (said.exchange(true, std::memory_order_relaxed))
        return;
    char line[200];
    TextBuilder(line, sizeof(line)).add("libos: the launch's shared state has layout version ")
        .unum(version).add(", this libshim.so's is ").unum(kStateVersion)
        .add(" (two releases of the LibOS in one launch); this process keeps a state of its own\n");
    PalDebugLog(line, strlen(line));
}

/* Maps the state behind descriptor `fd` if it is the launch's and describes this machine. */
bool map_existing(long fd) {
    const size_t size = region_size();
    void* base;
    if (PalMemoryMapShared(static_cast<int>(fd), size, &base) < 0)
        return false;
    auto* header = static_cast<SharedHeader*>(base);
    struct stat st;
    if (header->magic == kStateMagic && header->version != kStateVersion)
        say_other_version(header->version);
    bool ok = PalFileStat(static_cast<int>(fd), &st) == 0 && st.st_size == static_cast<off_t>(size) &&
              header->magic == kStateMagic && header->version == kStateVersion &&
              header->vcpu_count == g_machine.count && header->slot_count == kSlotCount &&
              memcmp(header->host_of, g_machine.map.host_of, g_machine.count * sizeof(uint16_t)) == 0;
    if (!ok) {
        PalMemoryFree(base, size);
        return false;
    }
    map_region(base);
    g_machine.state_fd = static_cast<int>(fd);
    g_state_dev = st.st_dev;
    g_state_ino = st.st_ino;
    return true;
}

/* Creates the launch's state. The descriptor is inherited across exec (no O_CLOEXEC) and moved out
 * of the program's way. */
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
    fd = move_state_fd(fd);
    void* base;
    if (PalMemoryMapShared(fd, size, &base) < 0) {
        PalFileClose(fd);
        return false;
    }
    auto* header = static_cast<SharedHeader*>(base);
    header->vcpu_count = g_machine.count;
    header->slot_count = kSlotCount;
    memcpy(header->host_of, g_machine.map.host_of, g_machine.count * sizeof(uint16_t));
    header->root_ns.store(pid_namespace_tag(), std::memory_order_relaxed);
    header->version = kStateVersion;
    header->magic = kStateMagic;
    map_region(base);
    g_machine.state_fd = fd;
    struct stat st;
    if (PalFileStat(fd, &st) == 0) {
        g_state_dev = st.st_dev;
        g_state_ino = st.st_ino;
    }
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

/* Does this process run in its parent's memory (a vfork child, or any clone with CLONE_VM)? kcmp
 * tells; when it cannot (a kernel without it, or no right to compare), the answer is yes, the safe
 * one. */
bool shares_parent_memory(pid_t pid) {
    return PalProcessCompareMemory(pid, PalProcessGetParentId()) != 1;
}

/* Set by strict mode's supervisor, which cannot go on without the shared state: it reports the
 * failure itself, as its refusal, and the in-process fallback's warning would be a second line. */
constinit std::atomic<bool> g_state_required{false};

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
    int expected = kRegionNone;
    if (!g_region_state.compare_exchange_strong(expected, kRegionCreating, std::memory_order_acq_rel)) {
        if (expected == kRegionCreating && g_region_creator.load(std::memory_order_acquire) == tid)
            return;
        while (g_region_state.load(std::memory_order_acquire) == kRegionCreating)
            PalThreadYield();
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
        set_thread_slot(nullptr);
        t_tid = 0;
    }
    bool created = create_region();
    if (!created && g_state_required.load(std::memory_order_relaxed)) {
        g_region_state.store(kRegionUnavailable, std::memory_order_release);
        return;
    }
    if (!created && !private_region()) {
        constexpr char kLine[] = "libos: cannot map the virtual machine's shared state (out of memory); "
                                 "threads are seen through the map from now on\n";
        PalDebugLog(kLine, sizeof(kLine) - 1);
        g_region_state.store(kRegionUnavailable, std::memory_order_release);
        return;
    }
    /* The first thread's slot is in place before anyone else may look. */
    ThreadSlot* first = claim(m.first_tid, m.first_mask.words, m.first_inherited, m.first_since);
    if (tid == m.first_tid) {
        t_tid = tid;
        set_thread_slot(first);
    } else {
        m.first_slot = first;
    }
    g_region_state.store(kRegionMapped, std::memory_order_release);
}

}  // namespace

bool attach_region(int fd) {
    if (fd < 0)
        return false;
    if (map_existing(fd))
        return true;
    /* The descriptor was closed on the way (Python's subprocess closes every descriptor it did not
     * open before it execs, for one) or reused: the parent that passed it may still hold it. */
    ProcPath parent_fd(PalProcessGetParentId());
    const char* path = parent_fd.leaf("fd").number(static_cast<uint64_t>(fd)).c_str();
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
    reopened = move_state_fd(static_cast<int>(reopened));
    PalFileSetCloseOnExec(static_cast<int>(reopened), false);
    if (map_existing(reopened))
        return true;
    PalFileClose(static_cast<int>(reopened));
    return false;
}

Holder holder_kind(uint32_t tid) {
    if (tid == 0 || tid >= 0x40000000u || PalThreadExists(static_cast<pid_t>(tid)) == -ESRCH)
        return Holder::kGone;
    /* Its process maps this launch's state: it holds the state's file under the number this process
     * has it at, the number every process of the launch inherits (LIBOS_STATE_FD). */
    const int fd = g_machine.state_fd;
    if (fd < 0 || g_state_ino == 0)
        return Holder::kOther;
    ProcPath path(static_cast<pid_t>(tid));
    struct stat st;
    if (PalFileStatAt(AT_FDCWD, path.leaf("fd").number(static_cast<uint64_t>(fd)).c_str(), &st, 0) == 0 &&
        st.st_dev == g_state_dev && st.st_ino == g_state_ino)
        return Holder::kOfLaunch;
    return Holder::kOther;
}

int is_state_file(int fd) {
    if (g_state_ino == 0)
        return -1;
    struct stat st;
    return PalFileStat(fd, &st) == 0 && st.st_dev == g_state_dev && st.st_ino == g_state_ino ? 1 : 0;
}

LIBOS_FORK_PATH bool ensure_region() {
    int state = g_region_state.load(std::memory_order_acquire);
    if (__builtin_expect(state == kRegionMapped, 1))
        return true;
    if (state < kRegionMapped && g_init_state.load(std::memory_order_acquire) == kVirtual) {
        realize_region();
        state = g_region_state.load(std::memory_order_acquire);
    }
    return state == kRegionMapped;
}

void require_shared_state() {
    g_state_required.store(true, std::memory_order_relaxed);
}

constinit thread_local pid_t t_call_pid __attribute__((tls_model("initial-exec"))) = 0;

bool in_parent_memory() {
    const pid_t pid = self_pid();
    return pid != g_machine.owner_pid && shares_parent_memory(pid);
}

int state_fd() {
    return ensure_region() ? g_machine.state_fd : -1;
}

LIBOS_FORK_PATH uint32_t state_clock() {
    return g_region_state.load(std::memory_order_acquire) == kRegionMapped
               ? g_machine.header->clock.load(std::memory_order_relaxed)
               : 0;
}

}  // namespace libos
