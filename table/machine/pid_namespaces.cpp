/* The slots of PID namespaces that are gone (machine_internal.h: collect_gone_namespaces).
 *
 * A slot holds a tid as the namespace it was claimed from names it; a process of another namespace
 * cannot ask the kernel about that tid (kill(tid, 0) there names another thread, or none), so
 * collect_dead_slots passes such slots over. When the namespace ends (its init exits and the kernel
 * kills the rest), its slots would stay claimed for the rest of the launch: one or two for each
 * `unshare -fp` child, each scanned by every later claim and lookup, until the state is full. A
 * namespace no process lives in any more is gone for good, and so are the threads of its slots.
 *
 * Only a process of the state's root namespace judges: every process of the launch lives there or
 * below (a PID namespace can only be entered downwards), so its /proc, which shows itself, shows
 * every one of them. A namespace is alive if some process in /proc lives in it; a process whose
 * namespace cannot be looked at (another user's, or any without CAP_SYS_PTRACE over it) is passed
 * over if its status shows it in /proc's own namespace, and otherwise makes the whole judgement void.
 * A slot written after the look began (a namespace made meanwhile) is left for the next time. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "libos/libos_text.h"
#include "libos/libos_threads.h"
#include "machine/machine_internal.h"
#include "pal/pal.h"

namespace libos {
namespace {

/* The namespaces other than the judge's own that live processes may be in, at most: a host with
 * more (a container host, seen from its root namespace) judges nothing. */
constexpr int kMaxAlive = 256;

struct DirRecord { /* linux_dirent64 */
    uint64_t ino;
    int64_t off;
    uint16_t reclen;
    uint8_t type;
    char name[1];
};

bool decimal(const char* text, uint64_t* out) {
    uint64_t n = 0;
    if (!*text)
        return false;
    for (; *text; ++text) {
        if (*text < '0' || *text > '9' || n > 0xffffffffull)
            return false;
        n = n * 10 + static_cast<uint64_t>(*text - '0');
    }
    *out = n;
    return true;
}

struct Alive {
    uint32_t tags[kMaxAlive];
    int count = 0;
    bool has(uint32_t tag) const {
        for (int i = 0; i < count; ++i)
            if (tags[i] == tag)
                return true;
        return false;
    }
};

/* Does process `pid` live in the PID namespace of /proc itself (its status's NSpid names it by one
 * number only)? Such a process is in no namespace below the judge's (whose /proc shows it, so that
 * /proc's namespace is the judge's or above). Readable where its ns/pid is not (another user's
 * process, a container's init without CAP_SYS_PTRACE). */
bool in_proc_namespace(pid_t pid) {
    ProcPath path(pid);
    char text[2048];
    long n = PalReadFile(path.leaf("status").c_str(), text, sizeof(text) - 1);
    if (n <= 0)
        return false;
    text[n] = '\0';
    const char* line = strstr(text, "\nNSpid:");
    if (!line)
        return false;
    int numbers = 0;
    bool in_number = false;
    for (const char* p = line + 8; *p && *p != '\n'; ++p) {
        bool digit = *p >= '0' && *p <= '9';
        if (digit && !in_number)
            ++numbers;
        in_number = digit;
    }
    return numbers == 1;
}

/* The PID namespaces, other than `mine`, that some process in /proc lives in. False when /proc cannot
 * be read whole, a process's namespace cannot be looked at, or there are too many: then no namespace
 * may be judged gone. */
bool find_alive(uint32_t mine, Alive* alive) {
    long fd = PalFileOpen(AT_FDCWD, "/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0)
        return false;
    alignas(8) char buf[2048];
    long n;
    bool sure = true;
    while (sure && (n = PalFileReadDir(static_cast<int>(fd), buf, sizeof(buf))) > 0) {
        for (long at = 0; at < n && sure; at += reinterpret_cast<const DirRecord*>(buf + at)->reclen) {
            const auto* e = reinterpret_cast<const DirRecord*>(buf + at);
            uint64_t pid;
            if (e->type != DT_DIR || !decimal(e->name, &pid))
                continue;
            ProcPath path(static_cast<pid_t>(pid));
            struct stat st;
            long r = PalFileStatAt(AT_FDCWD, path.leaf("ns/pid").c_str(), &st, 0);
            if (r == -ENOENT || r == -ESRCH)
                continue; /* it ended meanwhile */
            if ((r == -EACCES || r == -EPERM) && in_proc_namespace(static_cast<pid_t>(pid)))
                continue; /* one this process may not look at, but in no namespace below /proc's */
            const uint32_t tag = static_cast<uint32_t>(st.st_ino);
            if (r != 0 || (tag != mine && !alive->has(tag) && alive->count == kMaxAlive)) {
                sure = false;
                break;
            }
            if (tag != mine && !alive->has(tag))
                alive->tags[alive->count++] = tag;
        }
    }
    PalFileClose(static_cast<int>(fd));
    return sure && n == 0;
}

}  // namespace

bool collect_gone_namespaces() {
    const uint32_t mine = pid_namespace_tag();
    if (mine == 0 || !g_machine.header || g_machine.header->root_ns.load(std::memory_order_relaxed) != mine)
        return false;
    /* A namespace made after the look at /proc is in none of its entries, yet alive: the slots its
     * processes claimed are written after `since` (a claim writes the slot's mask, which stamps it
     * with the launch's clock), and are left alone. */
    const uint32_t since = g_machine.header->clock.load(std::memory_order_acquire);
    Alive alive;
    if (!find_alive(mine, &alive)) {
            return false;
    }
    bool freed = false;
    for (uint32_t i = 0, n = used_slot_count(); i < n; ++i) {
        ThreadSlot& slot = g_machine.slots[i];
        int32_t t = slot.tid.load(std::memory_order_acquire);
        uint32_t ns = slot.ns.load(std::memory_order_relaxed);
        if (t > 0 && ns != 0 && ns != mine && !alive.has(ns) &&
            static_cast<int32_t>(slot.stamp.load(std::memory_order_relaxed) - since) <= 0 &&
            slot.tid.compare_exchange_strong(t, kFreedTid, std::memory_order_acq_rel))
            freed = true;
    }
    return freed;
}

}  // namespace libos
