/* Which generated files strict mode's live files serve (docs/strict-mode.md, "Files that change,
 * without the shim"), and which of them are the same for every reader: the classification live.cpp's
 * FUSE server works from, kept apart from the server itself. */
#include "libos/libos_vfs.h"
#include "strict/strict.h"

namespace launcher::strict {

/* Whether a generated file's content changes while it is open, so that a snapshot of it at the open
 * goes stale: the files the LibOS makes anew at every open (and in-process at every read from 0). */
bool live_kind(const libos::VfsPath& path) {
    switch (path.file) {
        case libos::VfsFile::Stat:
        case libos::VfsFile::Interrupts:
        case libos::VfsFile::Softirqs:
        case libos::VfsFile::SoftnetStat:
        case libos::VfsFile::NodeMeminfo:
        case libos::VfsFile::NodeNumastat:
        case libos::VfsFile::NodeVmstat:
        case libos::VfsFile::Status:
        case libos::VfsFile::TaskStat:
        case libos::VfsFile::NumaMaps:
        case libos::VfsFile::IrqMask:
        case libos::VfsFile::IrqList:
        case libos::VfsFile::CgroupCpus:
        case libos::VfsFile::CgroupMems:
        case libos::VfsFile::CgroupCpuMax:
        case libos::VfsFile::CgroupCfsQuota:
            return true;
        default:
            return false;
    }
}

/* Whether the content is the same for every reader: made from world-readable host files, whatever
 * the thread that reads it (the machine's /proc/stat, a node's counters). Those are made with this
 * process's own reads, as the shim makes its own (host files kept open: no path walk, no change of
 * rights); the caller's rights were checked at the open, as the kernel checks them at the open and
 * not at each read. A task's files and a cgroup's depend on the reader (its slot, its cgroup): they
 * are made for the reading thread, with its rights. */
bool same_for_every_reader(const libos::VfsPath& path) {
    switch (path.file) {
        case libos::VfsFile::Stat:
        case libos::VfsFile::Interrupts:
        case libos::VfsFile::Softirqs:
        case libos::VfsFile::SoftnetStat:
        case libos::VfsFile::NodeMeminfo:
        case libos::VfsFile::NodeNumastat:
        case libos::VfsFile::NodeVmstat:
            return true;
        default:
            return false;
    }
}

}  // namespace launcher::strict
