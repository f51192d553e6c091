/* Strict mode's creator inference (libos_strict.h): which mask a thread of a process without the shim
 * inherited, found among the slots of the launch. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "libos/libos_caller.h"
#include "libos/libos_machine.h"
#include "libos/libos_scratch.h"
#include "libos/libos_strict.h"
#include "libos/libos_text.h"
#include "libos/libos_threads.h"
#include "pal/pal.h"

namespace libos {
namespace {

/* Does /proc/<process>/task/<thread>/children (the processes that thread forked and that still
 * run) list `child`? */
/* creator_slot's buffers, in scratch memory: another thread's sched_getaffinity may come on a small
 * stack (libos_scratch.h). */
struct CreatorWork {
    CpuBits mask, image;
    char text[4096];
};

bool forked_by(CreatorWork& work, pid_t process, pid_t thread, pid_t child) {
    ProcPath path(process);
    path.leaf("task").number(static_cast<uint64_t>(thread)).leaf("children");
    char* text = work.text;
    if (PalReadFile(path.c_str(), text, sizeof(work.text)) <= 0)
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
    ScratchOf<CreatorWork> work;
    if (!work)
        return false;
    CpuBits &mask = work->mask, &image = work->image;
    if (child == 0) {
        if (ThreadSlot* main = find_slot(process); main && peek_mask(main, process, &mask)) {
            to_host(mask, &image);
            if (memcmp(image.words, host.words, host_bytes) == 0) {
                *out = mask;
                return true;
            }
        }
    }
    bool found = false;
    uint32_t best_stamp = 0;
    for (uint32_t i = 0, n = used_slot_count(); i < n; ++i) {
        pid_t t;
        uint32_t stamp;
        if (!read_slot(i, &t, &mask, &stamp))
            continue;
        to_host(mask, &image);
        if (memcmp(image.words, host.words, host_bytes) != 0)
            continue;
        if (child > 0 && forked_by(*work, process, t, child)) {
            *out = mask;
            return true;
        }
        if (found && static_cast<int32_t>(stamp - best_stamp) <= 0)
            continue;
        /* Is thread t one of the process's threads? */
        ProcPath task(process);
        if (PalFileAccess(AT_FDCWD, task.leaf("task").number(static_cast<uint64_t>(t)).c_str(), F_OK, 0) != 0)
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
    const size_t host_bytes = host_mask_bytes();
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

}  // namespace libos

namespace libos {

bool Caller::inherited_mask(pid_t tid, const CpuBits& host, CpuBits* out) const {
    return remote_ && libos::inherited_mask(tid, host, out);
}

}  // namespace libos
