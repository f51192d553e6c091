/* The memfds of contents that change at every open (/proc/stat, the status files, a task's stat...),
 * reused (vfs_internal.h: pooled_open).
 *
 * Making a memfd, filling its page and freeing both at the last close cost more than the host's own
 * read of /proc/stat (docs/performance.md). A content that cannot be kept must still be written
 * anew at every open, and an open's content must never change under it: so a memfd is written
 * again only when nobody has it open any more. The kernel says so: a write lease is granted only
 * to the only open of a file (PalFileSoleOpen), whoever else holds it, a dup'ed, inherited
 * (fork), passed (SCM_RIGHTS) or mapped descriptor included. The program's descriptors are
 * read-only reopens (a write gives EBADF, as on the real file), so the memfd itself stays
 * writable, unsealed; a program opening one for writing gets a sealed one of its own
 * (generated.cpp).
 *
 * Each slot is one memfd, named for its file as every generated one is (fstat and readlink read the
 * name back), held by this process at a high number, close-on-exec. A slot is claimed with a
 * compare-and-swap, so threads and signal handlers never share one and never wait; one that another
 * thread holds is passed over. A fork child does not use its parent's slots (their descriptors are
 * the same open files as the parent's, which would write them); an exec'ed program starts with
 * none. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <atomic>

#include "libos/libos_sections.h"
#include "libos/libos_threads.h"
#include "vfs/vfs_internal.h"

namespace libos {
namespace {

enum : int { kEmpty = 0, kClaimed = 1, kReady = 2 };

struct PooledFile {
    std::atomic<int> state;
    int fd;           /* the memfd, open for reading and writing (kReady, kClaimed) */
    pid_t owner;      /* the process that made it */
    uint64_t dev, ino; /* the memfd, to notice if the program closed its number */
    size_t size;      /* its content's length, as its last fstat or writing left it */
    char* page;       /* its first page, mapped shared (nullptr: none could be) */
    bool signalled;   /* the lease's signal is set (PalFileSoleOpen) */
    char virt[kVfsPathMax];
};
constexpr int kPooledFiles = 16;
constexpr int kPoolFdFloor = 900; /* with the cached memfds of generated.cpp */
constexpr size_t kPoolPage = 4096; /* the mapped part of each memfd */
LIBOS_LARGE_BSS constinit PooledFile g_pool[kPooledFiles] = {};
/* This process's id, asked once (pool_pid) and forgotten in a fork child (pool_after_fork), for
 * writing a content again (pooled_refresh). A vfork child reads its parent's, and may write as its
 * parent: it shares its memory, its slots and their pages, and its descriptors are copies of the
 * same open files; it makes and takes no slot (pooled_open asks the real id). A vfork child that
 * finds no id kept stores none: that memory is its parent's, which would take the child's id for
 * its own and find none of its slots again. */
LIBOS_FORK_DATA constinit std::atomic<pid_t> g_pool_pid{0};

pid_t pool_pid() {
    pid_t pid = g_pool_pid.load(std::memory_order_relaxed);
    if (pid == 0) {
        pid = self_pid();
        if (!in_parent_memory())
            g_pool_pid.store(pid, std::memory_order_relaxed);
    }
    return pid;
}

/* The host refused a lease (leases disabled, a file of another owner after setuid): no reuse. */
constinit std::atomic<bool> g_no_leases{false};

/* p's descriptor is still its memfd; its length, which a fork child's writing may have changed, is
 * then p.size. */
bool still_ours(PooledFile& p) {
    struct stat st;
    if (PalFileStat(p.fd, &st) != 0 || st.st_dev != p.dev || st.st_ino != p.ino)
        return false;
    p.size = static_cast<size_t>(st.st_size);
    return true;
}

bool claim(PooledFile& p, int from) {
    int expected = from;
    return p.state.load(std::memory_order_acquire) == from &&
           p.state.compare_exchange_strong(expected, kClaimed, std::memory_order_acq_rel);
}

/* A claimed slot of this process whose memfd for `virt` nobody has open; with *fatal set when the
 * host refuses leases (then no slot can be reused, and none is). */
PooledFile* reusable(const char* virt, pid_t self, bool* fatal) {
    for (PooledFile& p : g_pool) {
        if (p.owner != self || strcmp(p.virt, virt) != 0 || !claim(p, kReady))
            continue;
        if (!still_ours(p)) { /* the program closed our number: that memfd is gone */
            p.state.store(kEmpty, std::memory_order_release);
            continue;
        }
        long sole = PalFileSoleOpen(p.fd, p.signalled);
        p.signalled = true;
        if (sole == 1)
            return &p;
        p.state.store(kReady, std::memory_order_release);
        if (sole < 0) {
            g_no_leases.store(true, std::memory_order_relaxed);
            *fatal = true;
            return nullptr;
        }
    }
    return nullptr;
}

/* A claimed slot to make a memfd in: an empty one, or one of this process for another file that
 * nobody has open (its memfd closed). */
PooledFile* free_slot(pid_t self) {
    for (PooledFile& p : g_pool)
        if (claim(p, kEmpty))
            return &p;
    for (PooledFile& p : g_pool) {
        if (p.owner != self || !claim(p, kReady))
            continue;
        if (!still_ours(p))
            return &p;
        const bool signalled = p.signalled;
        p.signalled = true;
        if (PalFileSoleOpen(p.fd, signalled) == 1) {
            PalFileClose(p.fd);
            return &p;
        }
        p.state.store(kReady, std::memory_order_release);
    }
    return nullptr;
}

/* A new memfd for `virt` in claimed slot p: true, or false with p empty again. The memfd's own
 * descriptor is traded for a reopen for reading and writing: the kernel counts the writers of a
 * memfd_create descriptor so that a lease is never granted on it. */
bool make(PooledFile& p, const char* virt, pid_t self) {
    char name[kMemfdNameMax + 1];
    long created = strlen(virt) < kVfsPathMax && memfd_name(virt, name)
                       ? PalMemfdCreate(name, MFD_CLOEXEC) : -ENAMETOOLONG;
    long rw = created >= 0 ? reopen_memfd(created, O_RDWR | O_CLOEXEC) : created;
    if (created >= 0)
        PalFileClose(static_cast<int>(created));
    /* Under a low descriptor limit it cannot go high: then no slot (the program's numbers are
     * its own). */
    long high = rw >= 0 ? PalFileMoveHigh(static_cast<int>(rw), kPoolFdFloor, true) : rw;
    struct stat st;
    if (high < 0 || high == rw || PalFileStat(static_cast<int>(high), &st) < 0) {
        if (rw >= 0)
            PalFileClose(static_cast<int>(high >= 0 ? high : rw));
        p.state.store(kEmpty, std::memory_order_release);
        return false;
    }
    p.fd = static_cast<int>(high);
    p.owner = self;
    p.dev = st.st_dev;
    p.ino = st.st_ino;
    p.size = 0;
    p.signalled = false;
    /* The content is written through this mapping, which no descriptor number the program may close
     * or reuse can take away: no write call, and no check of the number while the length stays. The
     * old slot's mapping, if any, is this slot's own page still (a slot keeps its address). */
    if (!p.page) {
        void* page = nullptr;
        if (PalMemoryMapShared(p.fd, kPoolPage, &page) == 0)
            p.page = static_cast<char*>(page);
    } else if (PalMemoryMapFixed(p.page, kPoolPage, p.fd) < 0) {
        p.page = nullptr; /* the old page is gone with the old memfd's mapping: nothing to write */
    }
    memcpy(p.virt, virt, strlen(virt) + 1);
    return true;
}

/* A content that was small last time is made in memory and copied into the memfd's mapped first page:
 * no system call while its length stays, one truncate when it changes (before the copy when it grows,
 * so that no byte is written past the file's end; after it when it shrinks). The file is never empty
 * once made (a content has a line at least), so no copy of the shim's touches a page wholly past its
 * end, even while another process of the launch (a fork child, through a descriptor of its own)
 * changes the length; one that truncates it to nothing from outside makes the copy fault, which
 * copy_to_page takes back. Without the page, one pwrite at offset 0 and a truncate. One that did not
 * fit in memory is made again through the sink. `checked`: p.fd was found to be the memfd a moment ago
 * (else it is, before it is truncated). */
constexpr size_t kInMemoryBelow = 3072;

long resize(PooledFile& p, size_t size, bool checked) {
    if (!checked && !still_ours(p))
        return kPoolUnavailable; /* the program closed our number: written through a reopen instead */
    return PalFileTruncate(p.fd, size);
}

/* The content into the memfd's mapped first page. The copy is fault-safe (PalUserCopy): another
 * process may have truncated the memfd to nothing since its length was last known (any process with
 * ptrace-level access to this one can open /proc/PID/fd/N of the program's descriptor for writing
 * and truncate it, the shim-less program itself included), and the page is then past the file's
 * end, where a plain copy would raise SIGBUS in the program. Such a copy is made again with pwrite
 * through the pool's number (checked first), which makes the file long enough. */
long copy_to_page(PooledFile& p, const char* data, size_t size, bool checked) {
    if (PalUserCopy(p.page, data, size) == 0)
        return 0;
    if (!checked && !still_ours(p))
        return kPoolUnavailable;
    return PalFileWriteAt(p.fd, data, size, 0);
}

/* Writes the content over the memfd's old one: 0 or -errno. */
long refill(Caller caller, const VfsPath& path, PooledFile& p, bool checked) {
    if (p.size < kInMemoryBelow) {
        Out text;
        if (long ret = write_content(caller, path, text); ret < 0)
            return ret;
        if (text.room(1)) { /* whole */
            const size_t written = text.length();
            long ret = 0;
            if (p.page && written > 0 && written <= kPoolPage) {
                if (written > p.size)
                    ret = resize(p, written, checked);
                if (ret == 0)
                    ret = copy_to_page(p, text.data(), written, checked);
                if (ret == 0 && written < p.size)
                    ret = resize(p, written, checked);
                if (ret == 0)
                    p.size = written;
                return ret;
            }
            if (!checked && !still_ours(p))
                return kPoolUnavailable;
            ret = PalFileWriteAt(p.fd, text.data(), written, 0);
            /* No shorter than before (numbers grow): nothing of the old content is left past it. */
            if (ret == 0 && written < p.size)
                ret = PalFileTruncate(p.fd, written);
            if (ret == 0 || written > p.size)
                p.size = written;
            return ret;
        }
    }
    if (!checked && !still_ours(p))
        return kPoolUnavailable;
    if (long ret = PalFileSeek(p.fd, 0, SEEK_SET); ret < 0)
        return ret;
    long ret;
    {
        Out out(p.fd);
        ret = write_content(caller, path, out);
        out.flush();
        if (ret == 0)
            ret = out.error();
    }
    long end = PalFileSeek(p.fd, 0, SEEK_CUR);
    if (end < 0)
        return end;
    size_t written = static_cast<size_t>(end);
    /* Truncated whatever p.size says: a live file's fork child may have written this memfd again
     * through a descriptor of its own (live.cpp), and its length is then not p.size. */
    if (ret == 0)
        ret = PalFileTruncate(p.fd, written);
    if (ret == 0 || written > p.size)
        p.size = written;
    return ret;
}

/* The host files kept open (read_host_kept). A pread at offset 0 of a /proc or sysfs file runs its
 * show function again, and these are single records (single_open, one sysfs attribute), which one
 * read gives whole when it fits; reads at an offset share nothing, so threads, signal handlers and
 * a fork child (which shares the descriptor) read at once. Each read checks that the number is
 * still the file (the program may have closed it); a status file whose process has gone fails
 * (ESRCH), and the path is opened again. */
struct KeptFile {
    std::atomic<int> fd_plus_one; /* 0: free; -1: being filled */
    uint64_t dev, ino;
    char path[96];
};
constexpr int kKeptFiles = 8;
constinit KeptFile g_kept[kKeptFiles] = {};

/* /proc/interrupts and softnet_stat are seq files of many records (a line per IRQ, per CPU), which
 * one read gives only up to the seq buffer's size (a page, at first): they are read on at the offset
 * where the last read stopped. */
bool many_records(const char* path) {
    return strcmp(path, "/proc/interrupts") == 0 || ends_with(path, "/net/softnet_stat");
}

bool keepable(const char* path) {
    if (strcmp(path, "/proc/stat") == 0 || strcmp(path, "/proc/softirqs") == 0 || many_records(path))
        return true;
    if (starts_with(path, "/sys/devices/system/node/node"))
        return ends_with(path, "/meminfo") || ends_with(path, "/numastat") || ends_with(path, "/vmstat");
    /* This process's own status and stat files, its threads' too (other processes' come and go by the
     * hundred under ps), and softnet_stat through its /proc/<pid>/net (/proc/net is a link there;
     * the counters are the CPUs', the same in every network namespace). */
    if (!ends_with(path, "/status") && !ends_with(path, "/stat") && !ends_with(path, "/net/softnet_stat"))
        return false;
    char own[32];
    TextBuilder(own, sizeof(own)).add("/proc/").unum(static_cast<uint64_t>(self_pid())).add("/");
    return starts_with(path, own);
}

long read_kept(int fd, const KeptFile& k, char* buf, size_t size) {
    struct stat st;
    if (PalFileStat(fd, &st) < 0 || st.st_dev != k.dev || st.st_ino != k.ino)
        return -EBADF;
    long n = PalFileReadAt(fd, buf, size - 1, 0);
    if (n > 0 && many_records(k.path)) {
        long more;
        while (static_cast<size_t>(n) < size - 1 &&
               (more = PalFileReadAt(fd, buf + n, size - 1 - static_cast<size_t>(n), n)) > 0)
            n += more;
    }
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

}  // namespace

long read_host_kept(Caller caller, const char* path, char* buf, size_t size) {
    if (caller.is_remote() || size < 2 || strlen(path) >= sizeof(g_kept[0].path) || !keepable(path))
        return caller.read_file(path, buf, size);
    KeptFile* slot = nullptr;
    int current = 0;
    for (KeptFile& k : g_kept) {
        int v = k.fd_plus_one.load(std::memory_order_acquire);
        if (v > 0 && strcmp(k.path, path) == 0) {
            if (long n = read_kept(v - 1, k, buf, size); n >= 0)
                return n;
            slot = &k; /* gone: kept anew below */
            current = v;
            break;
        }
        if (v == 0 && !slot)
            slot = &k;
    }
    long fd = PalFileOpen(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return fd;
    long high = slot ? PalFileMoveHigh(static_cast<int>(fd), kPoolFdFloor, true) : -EMFILE;
    struct stat st;
    if (high < 0 || high == fd || PalFileStat(static_cast<int>(high), &st) < 0) {
        PalFileClose(static_cast<int>(high >= 0 ? high : fd));
        return caller.read_file(path, buf, size);
    }
    KeptFile probe{};
    probe.dev = st.st_dev;
    probe.ino = st.st_ino;
    memcpy(probe.path, path, strlen(path) + 1);
    long n = read_kept(static_cast<int>(high), probe, buf, size);
    /* Kept unless another thread took the entry first. A number that failed the check is not
     * closed: it is no longer ours. */
    if (n >= 0 && slot->fd_plus_one.compare_exchange_strong(current, -1, std::memory_order_acq_rel)) {
        slot->dev = st.st_dev;
        slot->ino = st.st_ino;
        memcpy(slot->path, path, strlen(path) + 1);
        slot->fd_plus_one.store(static_cast<int>(high) + 1, std::memory_order_release);
    } else {
        PalFileClose(static_cast<int>(high));
    }
    return n;
}

long pooled_refresh(Caller caller, uint64_t dev, uint64_t ino, size_t size) {
    const pid_t self = pool_pid();
    for (PooledFile& p : g_pool) {
        if (p.owner != self || p.dev != dev || p.ino != ino)
            continue;
        /* Another thread has the slot (writing it again, or asking whether it is free): its
         * content is being made now, and is not made twice. */
        if (!claim(p, kReady))
            return -EBUSY;
        /* The slot names its file: no readlink of the program's descriptor is needed. Its length is
         * the program's descriptor's, one file with the slot's memfd, as the slot says; when they
         * differ (another thread wrote it after that fstat, or a fork child through a descriptor of
         * its own), the memfd itself is asked now that the slot is held. The slot's own number is
         * otherwise checked only if the length changes (refill). */
        long ret = kPoolUnavailable;
        if (size != p.size && !still_ours(p)) {
            p.state.store(kReady, std::memory_order_release);
            return ret;
        }
        ScratchOf<VfsPath> path; /* off the stack: a read may come on a 16 KiB thread (libos_scratch.h) */
        if (!path)
            ret = -ENOMEM;
        else if (classify_canonical(p.virt, path.get()) && path->kind == VfsKind::Generated)
            ret = refill(caller, *path, p, false);
        p.state.store(kReady, std::memory_order_release);
        return ret;
    }
    return kPoolUnavailable;
}

LIBOS_FORK_PATH void pool_after_fork() {
    /* Written only when set: each page of its own memory a fork child writes is copied for it. */
    if (g_pool_pid.load(std::memory_order_relaxed) != 0)
        g_pool_pid.store(0, std::memory_order_relaxed);
    /* A fork made inside a call's scope (a signal handler's, during an open): the child asks again. */
    if (t_call_pid > 0)
        t_call_pid = -1;
}

/* The last descriptor pooled_open returned on this thread and its memfd (live.cpp marks it). */
struct JustOpened {
    int fd;
    uint64_t dev, ino;
};
constinit thread_local JustOpened t_just_opened __attribute__((tls_model("initial-exec"))) = {-1, 0, 0};

bool pooled_just_opened(int fd, uint64_t* dev, uint64_t* ino) {
    if (t_just_opened.fd != fd || fd < 0)
        return false;
    t_just_opened.fd = -1;
    *dev = t_just_opened.dev;
    *ino = t_just_opened.ino;
    return true;
}

long pooled_open(Caller caller, const VfsPath& path, int flags) {
    /* Strict mode's supervisor installs its descriptors in another process; a descriptor for
     * writing, or an O_PATH one, is a sealed memfd of its own. */
    if (caller.is_remote() || (flags & O_ACCMODE) != O_RDONLY || (flags & O_PATH) ||
        g_no_leases.load(std::memory_order_relaxed))
        return kPoolUnavailable;
    /* The real id, not pool_pid(): a vfork child, whose descriptors are its own, must not make or
     * take a slot of its parent's. */
    const pid_t self = self_pid();
    bool fatal = false;
    PooledFile* p = reusable(path.virt, self, &fatal);
    if (!p && (fatal || !(p = free_slot(self)) || !make(*p, path.virt, self)))
        return kPoolUnavailable;
    long ret = refill(caller, path, *p, true);
    long fd = ret < 0 ? ret : reopen_memfd(p->fd, flags);
    if (fd >= 0)
        t_just_opened = {static_cast<int>(fd), p->dev, p->ino};
    p->state.store(kReady, std::memory_order_release);
    /* Without /proc (no reopen) the caller's own way answers. */
    if (fd < 0 && ret == 0)
        return kPoolUnavailable;
    return fd;
}

}  // namespace libos
