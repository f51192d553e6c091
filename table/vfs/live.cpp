/* Generated files that change stay live (libos_vfs.h: vfs_live_*): a descriptor of /proc/stat, a
 * status file, a task's stat, /proc/interrupts, a node's meminfo, a cgroup file... is written again
 * when Linux would run the file's show function again. Real /proc and kernfs files are seq files:
 * a read that starts at offset 0 generates the content anew (seq_read_iter resets when ki_pos is 0),
 * and so does an lseek to an offset other than where the last read stopped (seq_lseek: traverse).
 * procps (vmstat, top, libproc2's stat and meminfo readers) keeps /proc/stat open and does
 * lseek(fd, 0) + read; stdio programs rewind.
 *
 * The content is written again in place, into the memfd behind the program's descriptor, so every
 * holder of that open file description (a dup, a fork child) sees it, as they share one seq file
 * natively. Each open of a changing file has a memfd of its own (generated_pool.cpp: written again
 * only when nobody has it open), so no other open's content changes. The writing goes through the
 * pool's own read-write descriptor of the memfd when this process made it, else through a reopen of
 * /proc/self/fd/N for writing (a fork child; a memfd made outside the pool).
 *
 * Which descriptors are live is a table indexed by descriptor number, written at the open and copied
 * by dup: the memfd's inode number, the device being every memfd's one. The program may close a
 * descriptor where the shim does not see it (glibc's fclose closes internally) and get the number
 * back for another file: so nothing is written before fstat says the number is still that memfd, and
 * an entry that is not is cleared. No lock and no allocation: entries are single words, and the
 * content is made as every generated file's is (Out, in a fixed buffer).
 *
 * The table is the process's own memory, which a vfork child shares until it execs, while its
 * descriptors are copies of its own: what such a child closes, dups over or opens changes its
 * numbers, not its parent's, so it writes nothing into the table (ours(), asked only where an entry
 * would change).
 *
 * The rules, per description as Linux keeps them (the `used` bit: a read has happened since the
 * content was made, for reads this table sees):
 *   read at offset 0, readv, preadv2 at the current offset: written again, unless nothing has been
 *     read since it was made (the open made it a moment ago);
 *   pread, preadv, preadv2 at offset 0: the same;
 *   any read at an offset other than where the last one stopped (seq_read_iter's read_pos: a pread
 *     moves it and not the descriptor's offset): written again (traverse);
 *   lseek(SEEK_SET, SEEK_CUR) to where the offset already is: nothing; to 0: the next read at 0
 *     writes it; elsewhere: written at once (traverse);
 *   the stdio seeks (rewind, fseek, fsetpos) and fflush of a stream with read-ahead: written at once
 *     (shim/shim_live.cpp), since glibc's stream then reads through calls no override sees. */
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

constinit std::atomic<int> g_vfs_live_count{0};
LIBOS_LARGE_BSS constinit VfsLiveFd g_vfs_live[kVfsLiveFds] = {};
constinit std::atomic<int> g_vfs_live_high{0};

namespace {

using LiveFd = VfsLiveFd;
/* The device of every memfd (the kernel's internal shmem mount), learnt at the first mark. */
constinit std::atomic<uint64_t> g_memfd_dev{0};

/* Descriptors of kVfsLiveFds and above (a program that raised its limit, or dup'ed high): a slot
 * per number, claimed with a compare-and-swap of its number (0: free, which no number here is). */
struct HighFd {
    std::atomic<int> fd;
    VfsLiveFd e;
};
constinit HighFd g_high[kVfsLiveHighFds] = {};

/* The table is this process's to change: not a vfork child's, which runs in its parent's memory. */
bool ours() {
    return !in_parent_memory();
}

/* The entry of number fd, live or not; nullptr for a high number without a slot. */
LiveFd* slot(int fd) {
    if (fd < 0)
        return nullptr;
    if (fd < kVfsLiveFds)
        return &g_vfs_live[fd];
    for (HighFd& h : g_high)
        if (h.fd.load(std::memory_order_acquire) == fd)
            return &h.e;
    return nullptr;
}

/* The entry to write for number fd: its own, or for a high number a slot claimed for it (a free
 * one, else one whose file is gone); nullptr when every slot holds a live file. */
LiveFd* claim_slot(int fd) {
    if (LiveFd* e = slot(fd))
        return e;
    for (HighFd& h : g_high) {
        int expected = 0;
        if (h.fd.compare_exchange_strong(expected, fd, std::memory_order_acq_rel)) {
            g_vfs_live_high.store(1, std::memory_order_relaxed);
            return &h.e;
        }
    }
    for (HighFd& h : g_high) {
        int old = h.fd.load(std::memory_order_acquire);
        if (h.e.ino.load(std::memory_order_acquire) == 0 &&
            h.fd.compare_exchange_strong(old, fd, std::memory_order_acq_rel))
            return &h.e;
    }
    return nullptr;
}

LiveFd* entry(int fd) {
    LiveFd* e = slot(fd);
    return e && e->ino.load(std::memory_order_acquire) != 0 ? e : nullptr;
}

void clear(LiveFd* e, uint64_t ino) {
    if (!ours())
        return;
    uint64_t expected = ino;
    e->ino.compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
}

/* The entry's memfd is still what descriptor fd is: its stat into *st. */
bool still_live(int fd, LiveFd* e, uint64_t ino, struct stat* st) {
    if (PalFileStat(fd, st) == 0 && st->st_ino == ino &&
        st->st_dev == g_memfd_dev.load(std::memory_order_relaxed))
        return true;
    clear(e, ino);
    return false;
}

/* Writes the content of the generated file behind live descriptor fd (stat st) anew, through a
 * descriptor of the memfd open for writing; truncated to its new length. 0 or -errno (a sealed memfd:
 * -EPERM, and its content stays). */
long write_again(Caller caller, int fd, const struct stat& st) {
    if (long ret = pooled_refresh(caller, st.st_dev, st.st_ino, static_cast<size_t>(st.st_size)); ret != kPoolUnavailable)
        return ret;
    ScratchOf<VfsPath> scratch; /* off the stack: a read may come on a 16 KiB thread (libos_scratch.h) */
    if (!scratch)
        return -ENOMEM;
    VfsPath& path = *scratch;
    if (!vfs_generated_fd(fd, st.st_mode, st.st_nlink, &path))
        return -EBADF;
    long rw = reopen_memfd(fd, O_RDWR | O_CLOEXEC);
    if (rw < 0)
        return rw;
    long ret;
    {
        Out out(static_cast<int>(rw));
        ret = write_content(caller, path, out);
        out.flush();
        if (ret == 0)
            ret = out.error();
    }
    long end = PalFileSeek(static_cast<int>(rw), 0, SEEK_CUR);
    if (ret == 0 && end >= 0)
        ret = PalFileTruncate(static_cast<int>(rw), static_cast<size_t>(end));
    PalFileClose(static_cast<int>(rw));
    return ret;
}

/* Reads against the making of a content by another thread, as a seqlock's readers: per memfd (by
 * its inode number, several memfds may share a counter, which costs only a retry), how many threads
 * are writing it now and how many writings ended. A read that began with nobody writing and ended
 * with the same count of writings ended read one content whole. The counters are in a page shared
 * with fork children (made at the first mark), which share the descriptions and write them too; the
 * process's own array until then, or when no page can be had. */
struct LiveSeq {
    std::atomic<uint32_t> writing;
    std::atomic<uint32_t> written;
};
constexpr int kLiveSeqs = 64;
constexpr size_t kSeqPage = 4096;
static_assert(sizeof(LiveSeq) * kLiveSeqs <= kSeqPage);
constinit LiveSeq g_local_seq[kLiveSeqs] = {};
constinit std::atomic<LiveSeq*> g_shared_seq{nullptr};
constinit std::atomic<bool> g_seq_tried{false};

LiveSeq* seqs() {
    LiveSeq* shared = g_shared_seq.load(std::memory_order_acquire);
    return shared ? shared : g_local_seq;
}

/* Once, before the first content can be made again (so that no making counted in the local array
 * is missed by readers of the shared one). */
void share_seqs() {
    if (g_seq_tried.load(std::memory_order_acquire) || g_seq_tried.exchange(true, std::memory_order_acq_rel))
        return;
    long at = PalMemoryMap(nullptr, kSeqPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (at < 0 && at > -4096)
        return;
    g_shared_seq.store(reinterpret_cast<LiveSeq*>(at), std::memory_order_release);
}

LiveSeq& seq_of(uint64_t ino) {
    return seqs()[ino % kLiveSeqs];
}

/* Where a description's offset is, when the shim knows without asking: at 0 (an lseek to 0 since
 * the last read), past 0 (a read that returned bytes since the last seek), or not known. Per memfd
 * (one description: each open has a memfd of its own), in the same page, one word per slot: the
 * inode number and the state, so that a slot another memfd took reads as not known. It spares the
 * lseek(SEEK_CUR) that each read of a live file otherwise asks (vmstat's lseek(0) + read + read
 * to the end: two of them). Only descriptors opened in this process or its fork children use it: the
 * offset of one inherited across exec may move in a process that does not share the page. */
enum : uint64_t { kOffsetUnknown = 0, kOffsetZero = 1, kOffsetPastZero = 2 };
static_assert(sizeof(LiveSeq) * kLiveSeqs + sizeof(std::atomic<uint64_t>) * kLiveSeqs <= kSeqPage);
constinit std::atomic<uint64_t> g_local_where[kLiveSeqs] = {};

std::atomic<uint64_t>& where_slot(uint64_t ino) {
    LiveSeq* shared = g_shared_seq.load(std::memory_order_acquire);
    auto* slots = shared ? reinterpret_cast<std::atomic<uint64_t>*>(shared + kLiveSeqs) : g_local_where;
    return slots[ino % kLiveSeqs];
}

/* Who is making a content now, per slot: the memfd's inode number, or 0 (same page, after the
 * offsets). Two makings of one memfd must not overlap, threads of one process (the pool serializes
 * those too) or processes sharing the description (a fork child writes through a descriptor of its
 * own, its parent through the pool's): each writes the content in place and sets the length it
 * found or made, and one's length over the other's text left a read, once both had ended, with
 * the shorter content followed by the longer one's tail. A making that finds another of the same
 * memfd under way makes none (that one's content is the newer; its readers wait for it); one that
 * finds the slot taken by another memfd (which shares only the counters) makes its own unclaimed. */
static_assert(sizeof(LiveSeq) * kLiveSeqs + 2 * sizeof(std::atomic<uint64_t>) * kLiveSeqs <= kSeqPage);
constinit std::atomic<uint64_t> g_local_maker[kLiveSeqs] = {};

std::atomic<uint64_t>& maker_slot(uint64_t ino) {
    LiveSeq* shared = g_shared_seq.load(std::memory_order_acquire);
    auto* slots = shared ? reinterpret_cast<std::atomic<uint64_t>*>(shared + kLiveSeqs) + kLiveSeqs : g_local_maker;
    return slots[ino % kLiveSeqs];
}

uint64_t offset_state(uint64_t ino) {
    uint64_t v = where_slot(ino).load(std::memory_order_acquire);
    return (v >> 2) == ino ? (v & 3) : kOffsetUnknown;
}

void set_offset_state(uint64_t ino, uint64_t state) {
    where_slot(ino).store(ino << 2 | state, std::memory_order_release);
}

/* Set while this thread makes a content: a read in a signal handler that interrupted it must not
 * wait for a making that cannot end before the handler returns. */
constinit thread_local bool t_making __attribute__((tls_model("initial-exec"))) = false;
/* How long a read waits for another thread's making: it takes microseconds, but a loaded machine may
 * not run that thread for a while; a thread that died making one (pthread_exit from a handler) must
 * not stop every read for good. */
constexpr uint64_t kMakingWaitNs = 200'000'000;

void refresh(Caller caller, int fd, LiveFd* e, uint64_t ino) {
    /* Claimed before the memfd's length is asked (still_live), so that no other making changes it
     * between that look and this making's writes (maker_slot); and counted as writing from the
     * claim on, so that a maker killed at any point after it is one that readers wait for, and
     * then take for dead, claim included (read_begin). */
    std::atomic<uint64_t>& maker = maker_slot(ino);
    uint64_t other = 0;
    const bool claimed = maker.compare_exchange_strong(other, ino, std::memory_order_acq_rel);
    if (!claimed && other == ino)
        return;
    LiveSeq& seq = seq_of(ino);
    const bool nested = t_making;
    t_making = true;
    seq.writing.fetch_add(1, std::memory_order_acq_rel);
    struct stat st;
    if (still_live(fd, e, ino, &st)) {
        write_again(caller, fd, st);
        seq.written.fetch_add(1, std::memory_order_acq_rel);
    }
    if (claimed) {
        uint64_t mine = ino; /* unless a reader took this making for dead (read_begin) */
        maker.compare_exchange_strong(mine, 0, std::memory_order_acq_rel);
    }
    /* Never below 0: a reader may have dropped the count of a writer it took for dead (read_begin). */
    uint32_t writing = seq.writing.load(std::memory_order_acquire);
    while (writing != 0 && !seq.writing.compare_exchange_weak(writing, writing - 1, std::memory_order_acq_rel))
        ;
    t_making = nested;
}

/* A read at `at` (-1: at the descriptor's offset, asked when it matters), as seq_read_iter takes
 * it: at offset 0 the content is made anew; elsewhere too when it is not where the last read stopped
 * (traverse). The first read since the content was made reads it as it is. A read at the
 * descriptor's offset leaves read_pos there (-1); a pread sets it after (vfs_live_after_pread). */
void read_at(Caller caller, int fd, LiveFd* e, long at) {
    uint64_t ino = e->ino.load(std::memory_order_acquire);
    const long pos = at < 0 ? e->read_pos.exchange(-1, std::memory_order_acq_rel)
                            : e->read_pos.load(std::memory_order_acquire);
    uint64_t known = kOffsetUnknown;
    if (at < 0 && e->shortcut.load(std::memory_order_relaxed)) {
        known = offset_state(ino);
        if (known != kOffsetUnknown)
            set_offset_state(ino, kOffsetUnknown); /* until this read returns (vfs_live_after_read) */
    }
    if (!e->used.exchange(1, std::memory_order_acq_rel))
        return;
    if (at < 0 && known == kOffsetZero)
        at = 0;
    else if (at < 0 && known == kOffsetPastZero && pos < 0)
        return; /* read on where the last read stopped */
    long offset = -1; /* the descriptor's, asked only when it decides */
    if (at < 0 || (at != 0 && pos < 0)) {
        offset = PalFileSeek(fd, 0, SEEK_CUR);
        if (offset < 0) { /* not seekable: not a memfd any more */
            clear(e, ino);
            return;
        }
    }
    if (at < 0)
        at = offset;
    const long last = pos >= 0 ? pos : offset; /* where the last read stopped */
    if (at == 0 || at != last)
        refresh(caller, fd, e, ino);
}

/* Marks entry e with memfd inode `ino`. */
void set_entry(LiveFd* e, uint64_t ino, uint8_t used, long read_pos, uint8_t shortcut) {
    e->used.store(used, std::memory_order_relaxed);
    e->shortcut.store(shortcut, std::memory_order_relaxed);
    e->read_pos.store(read_pos, std::memory_order_relaxed);
    if (e->ino.exchange(ino, std::memory_order_acq_rel) == 0)
        g_vfs_live_count.fetch_add(1, std::memory_order_relaxed);
}

void mark(int fd, uint8_t used, uint8_t shortcut) {
    struct stat st;
    uint64_t dev, ino;
    if (fd >= 0 && pooled_just_opened(fd, &dev, &ino)) { /* the pool's memfd, known without asking */
        st.st_dev = dev;
        st.st_ino = ino;
    } else if (fd < 0 || PalFileStat(fd, &st) < 0) {
        return;
    }
    if (!ours())
        return;
    LiveFd* e = claim_slot(fd);
    if (!e)
        return;
    share_seqs();
    g_memfd_dev.store(st.st_dev, std::memory_order_relaxed);
    set_offset_state(st.st_ino, kOffsetUnknown); /* a new description of a memfd the pool reused */
    set_entry(e, st.st_ino, used, -1, shortcut);
}

/* The copies a vfork child made of live descriptors (dup2 of one onto another number): the table is
 * its parent's and is not written, yet its exec must pass them on (vfs_live_exec_list). One entry
 * per copy, claimed by the child's pid; taken back at the exec. An entry a child left (it ended
 * without exec) only names a candidate, which the next program checks before it adopts it. */
constexpr int kChildCopies = 16;
constinit ChildCopy g_child_copies[kChildCopies] = {};
constinit std::atomic<unsigned> g_child_copy_next{0};

bool child_copy_of(int fd) {
    const pid_t self = self_pid();
    for (ChildCopy& c : g_child_copies)
        if (c.pid.load(std::memory_order_acquire) == self && c.fd == fd)
            return true;
    return false;
}

void child_copied(int to, bool live) {
    const pid_t self = self_pid();
    for (ChildCopy& c : g_child_copies) /* a number copied onto again is that copy's no more */
        if (c.pid.load(std::memory_order_acquire) == self && c.fd == to)
            c.pid.store(0, std::memory_order_release);
    if (live)
        note_child_copy(g_child_copies, kChildCopies, &g_child_copy_next, self, to);
}

}  // namespace

bool note_child_copy(ChildCopy* copies, int n, std::atomic<unsigned>* next, pid_t self, int fd) {
    for (int i = 0; i < n; ++i) {
        ChildCopy& c = copies[i];
        pid_t expected = 0;
        if (c.pid.load(std::memory_order_relaxed) == 0 &&
            c.pid.compare_exchange_strong(expected, -1, std::memory_order_acq_rel)) {
            c.fd = fd;
            c.pid.store(self, std::memory_order_release);
            return true;
        }
    }
    /* All taken (children that ended without exec, or vfork children of other threads still before
     * their exec): the oldest-claimed in turn, claimed as a free one is, so that two children never
     * fill one entry at once; one another child is filling is passed over. */
    for (int tries = 0; tries < 2 * n; ++tries) {
        ChildCopy& c = copies[next->fetch_add(1, std::memory_order_relaxed) % static_cast<unsigned>(n)];
        pid_t owner = c.pid.load(std::memory_order_acquire);
        if (owner == -1 || !c.pid.compare_exchange_strong(owner, -1, std::memory_order_acq_rel))
            continue;
        c.fd = fd;
        c.pid.store(self, std::memory_order_release);
        return true;
    }
    return false;
}

namespace {

/* The calling thread's posix_spawn file actions' copies of live descriptors, for the exec list the
 * spawn's environment is made with (vfs_live_spawn_copies). */
constinit thread_local VfsSpawnCopies t_spawn_copies __attribute__((tls_model("initial-exec"))) = {};

void add_unchecked(TextBuilder& text, int* listed, int fd) {
    if (*listed >= kVfsLiveExecFds)
        return;
    if ((*listed)++)
        text.add(",");
    text.unum(static_cast<uint64_t>(fd));
}

}  // namespace

void vfs_live_mark(int fd) {
    mark(fd, 0, 1);
}

bool vfs_maybe_memfd(const struct stat& st) {
    const uint64_t dev = g_memfd_dev.load(std::memory_order_relaxed);
    return S_ISREG(st.st_mode) && st.st_nlink == 0 && (dev == 0 || st.st_dev == dev);
}

void vfs_live_adopt(int fd) {
    struct stat st;
    if (PalFileStat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 0)
        return;
    ScratchOf<VfsPath> path; /* off the stack (libos_scratch.h) */
    if (path && vfs_generated_fd(fd, st.st_mode, st.st_nlink, path.get()) && vfs_generated_changes(*path))
        mark(fd, 1, 0); /* its reads so far are not known: the next one at offset 0 makes it anew */
}

size_t vfs_live_exec_list(char* out, size_t size) {
    TextBuilder text(out, size);
    int listed = 0;
    auto add = [&](int fd) {
        if (listed < kVfsLiveExecFds && PalFileGetCloseOnExec(fd) == 0) {
            if (listed++)
                text.add(",");
            text.unum(static_cast<uint64_t>(fd));
        }
    };
    for (int fd = 0; fd < kVfsLiveFds; ++fd)
        if (g_vfs_live[fd].ino.load(std::memory_order_acquire) != 0)
            add(fd);
    for (HighFd& h : g_high)
        if (h.e.ino.load(std::memory_order_acquire) != 0)
            add(h.fd.load(std::memory_order_acquire));
    /* A vfork child's copies (its table is its parent's), and a posix_spawn's file actions'
     * (vfs_live_spawn_copies): candidates, which the new program adopts only if they still are such
     * files. */
    if (in_parent_memory()) {
        const pid_t self = self_pid();
        for (ChildCopy& c : g_child_copies)
            if (c.pid.load(std::memory_order_acquire) == self) {
                add(c.fd);
                c.pid.store(0, std::memory_order_release);
            }
    }
    for (int i = 0; i < t_spawn_copies.count; ++i)
        add_unchecked(text, &listed, t_spawn_copies.fd[i]);
    return listed ? strlen(out) : 0;
}

void vfs_live_spawn_copies(const int* from, const int* to, int count) {
    t_spawn_copies.count = 0;
    for (int i = 0; i < count; ++i) {
        bool live = entry(from[i]) != nullptr;
        for (int k = 0; k < t_spawn_copies.count && !live; ++k)
            live = t_spawn_copies.fd[k] == from[i];
        /* dup2 onto a number ends what the number was, a copy made by an earlier action too. */
        for (int k = 0; k < t_spawn_copies.count; ++k)
            if (t_spawn_copies.fd[k] == to[i])
                t_spawn_copies.fd[k] = t_spawn_copies.fd[--t_spawn_copies.count];
        /* dup2 onto its own number clears close-on-exec in the child (glibc 2.29 on, as POSIX
         * asks): a live descriptor the exec list passes over for its flag is kept open, and listed. */
        const bool copy = from[i] != to[i] || PalFileGetCloseOnExec(from[i]) > 0;
        if (live && copy && t_spawn_copies.count < kVfsLiveExecFds)
            t_spawn_copies.fd[t_spawn_copies.count++] = to[i];
    }
}

void vfs_live_spawn_save(VfsSpawnCopies* out) {
    out->count = t_spawn_copies.count;
    for (int i = 0; i < out->count && i < kVfsLiveExecFds; ++i)
        out->fd[i] = t_spawn_copies.fd[i];
}

/* The numbers first, then the count: a handler that interrupts this saves and puts back no more
 * than what is written. */
void vfs_live_spawn_restore(const VfsSpawnCopies& saved) {
    t_spawn_copies.count = 0;
    for (int i = 0; i < saved.count && i < kVfsLiveExecFds; ++i)
        t_spawn_copies.fd[i] = saved.fd[i];
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    t_spawn_copies.count = saved.count;
}

bool vfs_live_tracked_high(int fd) {
    return entry(fd) != nullptr;
}

void vfs_live_dup(int from, int to) {
    LiveFd* e = entry(from);
    if (from == to || to < 0) /* dup2 onto itself changes nothing */
        return;
    if (!ours()) {
        child_copied(to, e != nullptr || child_copy_of(from));
        return;
    }
    if (!e) { /* dup2 over a live descriptor: that number is another file now */
        if (LiveFd* d = entry(to))
            d->ino.store(0, std::memory_order_release);
        return;
    }
    LiveFd* d = claim_slot(to);
    if (!d)
        return;
    /* The description's reads so far are not known per number: the copy counts as read, so that its
     * next read at offset 0 writes the content again (at worst once more than Linux would). */
    set_entry(d, e->ino.load(std::memory_order_acquire), 1, e->read_pos.load(std::memory_order_acquire),
              e->shortcut.load(std::memory_order_relaxed));
}

void vfs_live_forget(int fd) {
    if (LiveFd* e = entry(fd); e && ours())
        e->ino.store(0, std::memory_order_release);
}

void vfs_live_before_read(Caller caller, int fd) {
    if (LiveFd* e = entry(fd))
        read_at(caller, fd, e, -1);
}

void vfs_live_before_pread(Caller caller, int fd, long offset) {
    if (LiveFd* e = entry(fd); e && offset >= 0)
        read_at(caller, fd, e, offset);
}

void vfs_live_after_read(int fd, long result) {
    if (LiveFd* e = entry(fd); e && result > 0 && e->shortcut.load(std::memory_order_relaxed))
        set_offset_state(e->ino.load(std::memory_order_acquire), kOffsetPastZero);
}

void vfs_live_after_pread(int fd, long offset, long result) {
    if (LiveFd* e = entry(fd); e && offset >= 0 && result >= 0)
        e->read_pos.store(offset + result, std::memory_order_release);
}

/* seq_lseek: SEEK_SET and SEEK_CUR to where the last read stopped change nothing but the offset;
 * elsewhere the content is made anew up to it (traverse). Either way the offset is then read_pos. */
void vfs_live_before_seek(Caller caller, int fd, long offset, int whence) {
    LiveFd* e = entry(fd);
    if (!e || (whence != SEEK_SET && whence != SEEK_CUR))
        return;
    uint64_t ino = e->ino.load(std::memory_order_acquire);
    /* To 0 (vmstat's rewind): read_pos goes there, and the next read at 0 makes the content anew
     * (traverse to 0 makes nothing), without asking where the offset was. The content counts as
     * read (reads this table does not see, a stdio stream's, may have read it): right after an
     * open, that read makes it once more than Linux would. */
    if (whence == SEEK_SET && offset == 0) {
        e->read_pos.store(-1, std::memory_order_release);
        e->used.store(1, std::memory_order_relaxed);
        set_offset_state(ino, e->shortcut.load(std::memory_order_relaxed) ? kOffsetZero : kOffsetUnknown);
        return;
    }
    set_offset_state(ino, kOffsetUnknown);
    long at = PalFileSeek(fd, 0, SEEK_CUR);
    if (at < 0) {
        clear(e, ino);
        return;
    }
    long to = offset;
    if (whence == SEEK_CUR && __builtin_add_overflow(at, offset, &to))
        return; /* EOVERFLOW or EINVAL from the host */
    if (to < 0) /* EINVAL from the host */
        return;
    const long pos = e->read_pos.exchange(-1, std::memory_order_acq_rel);
    if (to == (pos >= 0 ? pos : at)) /* seq_lseek's "offset == read_pos": nothing */
        return;
    e->used.store(1, std::memory_order_relaxed);
    if (to != 0) /* traverse: the content anew, up to the offset; at 0 the read does it */
        refresh(caller, fd, e, ino);
}

void vfs_live_write_now(Caller caller, int fd) {
    if (LiveFd* e = entry(fd)) {
        uint64_t ino = e->ino.load(std::memory_order_acquire);
        set_offset_state(ino, kOffsetUnknown);
        /* Its reads go through calls the table does not see (a stdio stream's): the next read at 0
         * that it does see writes it again too. */
        e->used.store(1, std::memory_order_relaxed);
        refresh(caller, fd, e, ino);
    }
}

LIBOS_FORK_PATH void vfs_live_after_fork() {
    pool_after_fork();
    /* Counted in this process's own array: a thread of the parent that was making a content at the
     * fork does not exist here, and its count would make every read of that memfd wait and give up.
     * (The shared page's counts are the parent's threads', which go on, and this child waits for
     * them as it should.) */
    if (g_shared_seq.load(std::memory_order_acquire))
        return;
    for (LiveSeq& seq : g_local_seq) /* written only where needed: no page copied for nothing */
        if (seq.writing.load(std::memory_order_relaxed) != 0)
            seq.writing.store(0, std::memory_order_relaxed);
    for (std::atomic<uint64_t>& maker : g_local_maker)
        if (maker.load(std::memory_order_relaxed) != 0)
            maker.store(0, std::memory_order_relaxed);
}

VfsLiveRead vfs_live_read_begin(int fd) {
    VfsLiveRead mark = {};
    LiveFd* e = entry(fd);
    if (!e)
        return mark;
    const uint64_t ino = e->ino.load(std::memory_order_acquire);
    LiveSeq& seq = seq_of(ino);
    /* Another thread writing it now finishes in a moment; this very thread writing it (a signal
     * handler that interrupted the writing) never does while this runs: so a bounded wait. */
    if (!t_making && seq.writing.load(std::memory_order_acquire) != 0) {
        const uint32_t ended = seq.written.load(std::memory_order_acquire);
        const uint64_t until = PalClockMonotonic() + kMakingWaitNs;
        do
            PalThreadYield();
        while (seq.writing.load(std::memory_order_acquire) != 0 && PalClockMonotonic() < until);
        /* No making ended in the whole wait: a writer that died making it (a fork child killed while
         * it wrote, the counters being shared; a thread ended from a handler), whose count would make
         * every later read wait as long. It is dropped, so that only this read waited for it. */
        uint32_t writing = seq.writing.load(std::memory_order_acquire);
        if (writing != 0 && seq.written.load(std::memory_order_acquire) == ended) {
            seq.writing.compare_exchange_strong(writing, 0, std::memory_order_acq_rel);
            uint64_t dead = ino; /* and its claim, which would stop every later making of it */
            maker_slot(ino).compare_exchange_strong(dead, 0, std::memory_order_acq_rel);
        }
    }
    mark.seq = static_cast<int>(&seq - seqs()) + 1;
    mark.written = seq.written.load(std::memory_order_acquire);
    mark.quiet = seq.writing.load(std::memory_order_acquire) == 0;
    return mark;
}

bool vfs_live_read_whole(const VfsLiveRead& mark) {
    if (mark.seq == 0)
        return true; /* no live file when it began */
    const LiveSeq& seq = seqs()[mark.seq - 1];
    return mark.quiet && seq.writing.load(std::memory_order_acquire) == 0 &&
           seq.written.load(std::memory_order_acquire) == mark.written;
}

bool vfs_live_read_undo(int fd, long count) {
    return PalFileSeek(fd, -count, SEEK_CUR) >= 0;
}

}  // namespace libos
