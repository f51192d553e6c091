/* Strict mode's live files (docs/strict-mode.md, "Files that change, without the shim"): a FUSE file
 * system served by the supervisor, so that a descriptor of a generated file whose content changes
 * (/proc/stat, /proc/interrupts, /proc/softirqs, softnet_stat, a node's meminfo, numastat and vmstat,
 * the status and stat files of a task, a cgroup's CPU files) stays live in a process without the
 * shim: every read reaches this process, which makes the content anew at a read from offset 0 and
 * at a read elsewhere than where the last one ended, as the kernel's seq files do at a read after a
 * seek.
 *
 * How:
 * - The FUSE mount is detached (fsopen, fsmount): it is mounted nowhere, in no namespace, and only
 *   this process holds it, by a descriptor. A root launcher mounts it itself; a launcher without root
 *   mounts it from a helper process in a user namespace of its own (FUSE may be mounted there since
 *   Linux 4.18). The kernel drops it when its last descriptor and its last open file are closed.
 * - The supervisor's threads answer a trapped open of such a file as before, with the LibOS's
 *   handler (the same checks, the same errors); when the handler's answer is a generated file that
 *   changes, opened for reading only, the thread names it in a slot of this file system, opens the
 *   slot's entry itself and installs that descriptor in the caller instead of the snapshot. Each
 *   open has a slot and a node of its own, so a status file of one task and /proc/stat of another
 *   caller never share one.
 * - One thread serves the file system with libfuse's low-level API. Files are opened with direct_io,
 *   so that the kernel keeps no page cache of them and passes every read on; a read carries the
 *   reading thread's pid, for which the content is made (libos::vfs_write_generated, the generator
 *   of the snapshot and of the shim's own live files), with that thread's rights on files.
 * - The node's attributes are the host file's (inode number, mode, owner, size 0 for procfs, times);
 *   the device and the file system type are FUSE's.
 *
 * Why not bind mounts over /proc/stat in the views' namespace: the LibOS of every process with the
 * shim in that namespace reads the host's /proc/stat by its path to make its own view of it, which a
 * bind mount would replace with the machine's; and every open is trapped anyway, so no path needs to
 * lead to the file system. Where FUSE cannot be used (no /dev/fuse, no fuse module, a mount refused),
 * the snapshot stays, as without this file. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <new>
#include <string>

#include "libos/libos_strict.h"
#include "libos/libos_vfs.h"
#include "strict/strict.h"

#ifdef LIBOS_HAVE_FUSE
#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#endif

namespace launcher::strict {

#ifdef LIBOS_HAVE_FUSE

namespace {

/* Why FUSE cannot be used, in a buffer of its own: making the launch's server allocates nothing
 * through operator new, whose handler ends libos-run (libos_run.cpp: out_of_memory) where this must
 * fall back to the snapshots instead. */
struct Why {
    char text[320] = "";
    bool empty() const { return text[0] == '\0'; }
};

void say(Why* why, const char* what, int err) {
    snprintf(why->text, sizeof(why->text), "%s: %s", what, strerror(err));
}

/* ---- the mount --------------------------------------------------------------------------------- */

struct Mounted {
    int dev = -1; /* /dev/fuse, the server's end */
    int mnt = -1; /* the detached mount's root */
};

void close_mounted(Mounted* m) {
    if (m->mnt >= 0)
        close(m->mnt);
    if (m->dev >= 0)
        close(m->dev);
    m->mnt = m->dev = -1;
}

/* Mounts a FUSE file system, detached, in the current user and mount namespaces: 0, or the errno of
 * the step named in *step. The /dev/fuse descriptor must be opened in the user namespace that mounts
 * (the kernel checks it). Allocates nothing: it also runs in the helper process, after fork. */
int mount_here(Mounted* m, const char** step) {
    *step = "open /dev/fuse";
    m->dev = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (m->dev < 0)
        return errno;
    *step = "fsopen(fuse)";
    int fs = fsopen("fuse", FSOPEN_CLOEXEC);
    if (fs < 0) {
        int err = errno;
        close_mounted(m);
        return err;
    }
    char fd_text[16], uid_text[16], gid_text[16];
    snprintf(fd_text, sizeof(fd_text), "%d", m->dev);
    snprintf(uid_text, sizeof(uid_text), "%u", static_cast<unsigned>(geteuid()));
    snprintf(gid_text, sizeof(gid_text), "%u", static_cast<unsigned>(getegid()));
    *step = "fsconfig(fuse)";
    /* allow_other under root: a program of the launch that drops to another user still reads its
     * descriptors' attributes (fstat). Without root the mount's user namespace is the helper's, where
     * only the launcher's uid is mapped, and every process of the launch has that uid. */
    bool ok = fsconfig(fs, FSCONFIG_SET_STRING, "source", "libos-run", 0) == 0 &&
              fsconfig(fs, FSCONFIG_SET_STRING, "fd", fd_text, 0) == 0 &&
              fsconfig(fs, FSCONFIG_SET_STRING, "rootmode", "40555", 0) == 0 &&
              fsconfig(fs, FSCONFIG_SET_STRING, "user_id", uid_text, 0) == 0 &&
              fsconfig(fs, FSCONFIG_SET_STRING, "group_id", gid_text, 0) == 0 &&
              (geteuid() != 0 || fsconfig(fs, FSCONFIG_SET_FLAG, "allow_other", nullptr, 0) == 0);
    if (ok) {
        *step = "fsconfig(FSCONFIG_CMD_CREATE) of fuse";
        ok = fsconfig(fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) == 0;
    }
    if (ok) {
        *step = "fsmount(fuse)";
        m->mnt = fsmount(fs, FSMOUNT_CLOEXEC,
                         MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        ok = m->mnt >= 0;
    }
    int err = errno;
    close(fs);
    if (!ok) {
        close_mounted(m);
        return err;
    }
    return 0;
}

bool write_file(const char* path, const char* text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = write(fd, text, strlen(text)) == static_cast<ssize_t>(strlen(text));
    close(fd);
    return ok;
}

/* What the helper sends back: its error (0: the two descriptors follow) and the step that failed. */
struct HelperReply {
    int err;
    char step[96];
};

/* A launcher without root: a helper process makes a user namespace of its own (with a mount
 * namespace, which fsmount needs it to own), in which the launcher's uid and gid are mapped to
 * themselves, mounts there, and sends the two descriptors back. The mount's user namespace is then
 * the helper's, whose only uid is the launcher's, which every process of the launch has. */
void mount_in_user_namespace(Mounted* m, Why* why) {
    int socks[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, socks) != 0)
        return say(why, "socketpair", errno);
    const uid_t uid = geteuid();
    const gid_t gid = getegid();
    pid_t helper = fork();
    if (helper < 0) {
        int err = errno;
        close(socks[0]);
        close(socks[1]);
        return say(why, "fork", err);
    }
    if (helper == 0) {
        close(socks[0]);
        HelperReply reply = {};
        Mounted here;
        const char* step = "unshare(CLONE_NEWUSER|CLONE_NEWNS)";
        char map[64];
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
            reply.err = errno;
        } else if (step = "writing the user namespace's maps", !write_file("/proc/self/setgroups", "deny")) {
            reply.err = errno;
        } else if (snprintf(map, sizeof(map), "%u %u 1", static_cast<unsigned>(uid), static_cast<unsigned>(uid)),
                   !write_file("/proc/self/uid_map", map)) {
            reply.err = errno;
        } else if (snprintf(map, sizeof(map), "%u %u 1", static_cast<unsigned>(gid), static_cast<unsigned>(gid)),
                   !write_file("/proc/self/gid_map", map)) {
            reply.err = errno;
        } else {
            reply.err = mount_here(&here, &step);
        }
        snprintf(reply.step, sizeof(reply.step), "%s", step);
        iovec iov = {&reply, sizeof(reply)};
        union {
            char buf[CMSG_SPACE(2 * sizeof(int))];
            cmsghdr align;
        } control = {};
        msghdr msg = {};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        if (reply.err == 0) {
            msg.msg_control = control.buf;
            msg.msg_controllen = sizeof(control.buf);
            cmsghdr* c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(2 * sizeof(int));
            int fds[2] = {here.dev, here.mnt};
            memcpy(CMSG_DATA(c), fds, sizeof(fds));
        }
        while (sendmsg(socks[1], &msg, 0) < 0 && errno == EINTR) {
        }
        _exit(0);
    }
    close(socks[1]);
    HelperReply reply = {};
    iovec iov = {&reply, sizeof(reply)};
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        cmsghdr align;
    } control = {};
    msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    ssize_t n;
    while ((n = recvmsg(socks[0], &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
    }
    close(socks[0]);
    while (waitpid(helper, nullptr, __WALL) < 0 && errno == EINTR) {
    }
    if (n != static_cast<ssize_t>(sizeof(reply))) {
        snprintf(why->text, sizeof(why->text), "the mount's helper process sent nothing");
        return;
    }
    reply.step[sizeof(reply.step) - 1] = '\0';
    if (reply.err != 0) {
        snprintf(why->text, sizeof(why->text), "%s in a user namespace of its own: %s", reply.step,
                 strerror(reply.err));
        return;
    }
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(2 * sizeof(int))) {
        snprintf(why->text, sizeof(why->text), "the mount's helper process sent no descriptors");
        return;
    }
    int fds[2];
    memcpy(fds, CMSG_DATA(c), sizeof(fds));
    m->dev = fds[0];
    m->mnt = fds[1];
}

/* The FUSE mount: both descriptors, or why there is none (false). */
bool mount_fuse(Mounted* m, Why* why) {
    const char* step = "";
    int err = mount_here(m, &step);
    if (err == 0)
        return true;
    /* Without CAP_SYS_ADMIN here, a user namespace of its own may still mount FUSE. */
    if (err == EPERM && geteuid() != 0 && strcmp(step, "open /dev/fuse") != 0) {
        Why helper;
        mount_in_user_namespace(m, &helper);
        if (helper.empty())
            return true;
        snprintf(why->text, sizeof(why->text), "%s: %s; %s", step, strerror(err), helper.text);
        return false;
    }
    say(why, step, err);
    return false;
}

/* ---- the slots ---------------------------------------------------------------------------------- */

/* One open of a live file, named by the supervisor's thread that answers it: the file, the host
 * file's attributes and the opener. A slot's node id is its index and a generation, never used twice,
 * so that the kernel's cached node of an earlier open is never taken for a later one. */
struct Slot {
    std::atomic<uint64_t> node{0}; /* 0: free */
    std::atomic<int> refs{0};      /* the answering thread while it opens, and each open file */
    std::atomic<bool> taken{false};
    pid_t opener = 0;
    int task_dir = -1; /* a task's file: the task's directory in /proc, opened with the slot (task_alive) */
    struct stat attr = {};
    libos::VfsPath path = {};
};
constexpr unsigned kSlots = 256;
constexpr int kIndexBits = 12; /* kSlots + 2 < 1 << kIndexBits; FUSE_ROOT_ID (1) is no slot's */
constexpr uint64_t kIndexMask = (uint64_t{1} << kIndexBits) - 1;

struct Live {
    Mounted mounted;
    fuse_session* session = nullptr;
    std::atomic<bool> serving{false};
    Slot* slots = nullptr;
    std::atomic<uint64_t> generation{0};
    int scratch = -1; /* the server thread's: each content is made here */
};
Live g_live;

Slot* slot_of(fuse_ino_t node) {
    uint64_t index = node & kIndexMask;
    if (node == FUSE_ROOT_ID || index < 2 || index - 2 >= kSlots)
        return nullptr;
    Slot* s = &g_live.slots[index - 2];
    return s->node.load(std::memory_order_acquire) == node ? s : nullptr;
}

void unref(Slot* s) {
    if (s->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        s->node.store(0, std::memory_order_release);
        if (s->task_dir >= 0)
            close(s->task_dir);
        s->task_dir = -1;
        s->taken.store(false, std::memory_order_release);
    }
}

/* Whether a task's file is a task's file: its content is made by the pid in its path, which another
 * task takes once this one is gone and reaped. */
bool task_file(const libos::VfsPath& path) {
    return path.file == libos::VfsFile::Status || path.file == libos::VfsFile::TaskStat ||
           path.file == libos::VfsFile::NumaMaps;
}

/* Whether the task of a slot's file is still the one that was opened: the kernel's descriptor holds
 * the task itself, and its reads fail with ESRCH once the task is reaped, even when another task has
 * the pid since. The directory opened with the slot stands for that task: a lookup in it fails once
 * the task is reaped, whatever task has the number now. Checked after the content is made, so that
 * a content made from a new task of the same pid is never handed out. */
bool task_alive(const Slot* s) {
    if (s->task_dir < 0)
        return true;
    const char* leaf = strrchr(s->path.real, '/');
    struct stat st;
    return leaf && fstatat(s->task_dir, leaf + 1, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* ---- the server ---------------------------------------------------------------------------------- */

/* One open file of the file system: the content made last and where the last read ended. With
 * malloc, whose failure is an answer (ENOMEM), not the end of libos-run as operator new's. */
struct Handle {
    Slot* slot;
    char* text;      /* malloc'd */
    size_t length, room;
    off_t next;      /* where the last read ended; -1: nothing made yet */
};

constexpr double kAttrTimeout = 86400.0; /* the attributes are fixed at the open */

void fill_root(struct stat* st) {
    memset(st, 0, sizeof(*st));
    st->st_ino = FUSE_ROOT_ID;
    st->st_mode = S_IFDIR | 0555;
    st->st_nlink = 2;
}

void op_init(void*, fuse_conn_info* conn) {
    /* Reads one at a time and in order, by the reading thread: a read of a large file is several
     * requests, each taken where the last ended, from the same content. */
    conn->want &= ~(FUSE_CAP_ASYNC_READ | FUSE_CAP_ASYNC_DIO | FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
                    FUSE_CAP_SPLICE_MOVE | FUSE_CAP_READDIRPLUS | FUSE_CAP_AUTO_INVAL_DATA);
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    char* end = nullptr;
    errno = 0;
    unsigned long long node = strtoull(name, &end, 10);
    Slot* s = parent == FUSE_ROOT_ID && *name && !*end && errno == 0 ? slot_of(node) : nullptr;
    if (!s) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    fuse_entry_param e = {};
    e.ino = node;
    e.attr = s->attr;
    e.attr_timeout = kAttrTimeout;
    e.entry_timeout = 0; /* each name is used once */
    fuse_reply_entry(req, &e);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
    struct stat st;
    if (ino == FUSE_ROOT_ID) {
        fill_root(&st);
    } else if (Slot* s = slot_of(ino)) {
        st = s->attr;
    } else {
        fuse_reply_err(req, ESTALE);
        return;
    }
    fuse_reply_attr(req, &st, kAttrTimeout);
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Slot* s = slot_of(ino);
    if (!s) {
        fuse_reply_err(req, ESTALE);
        return;
    }
    /* Read-only, as the supervisor opens it (a reopen through /proc/<pid>/fd for writing is refused:
     * the mount is read-only as well). */
    if ((fi->flags & O_ACCMODE) != O_RDONLY) {
        fuse_reply_err(req, EACCES);
        return;
    }
    auto* h = static_cast<Handle*>(calloc(1, sizeof(Handle)));
    if (h) {
        h->slot = s;
        h->next = -1;
    }
    if (!h) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    s->refs.fetch_add(1, std::memory_order_acq_rel);
    fi->fh = reinterpret_cast<uint64_t>(h);
    fi->direct_io = 1;  /* every read reaches the server */
    fi->keep_cache = 0;
    fi->noflush = 1;    /* nothing to flush at a close */
    if (fuse_reply_open(req, fi) != 0) {
        unref(s);
        free(h);
    }
}

std::atomic<bool> g_warned_lost{false};

/* Makes the content anew for `reader`: 0 or -errno. A reader whose pid is not known here (0: a
 * process of a pid namespace above the launch's, reaching the file through /proc/<pid>/fd/N) has
 * rights nobody can tell: a content made with the reader's rights is refused to it, never made with
 * another process's (the opener's may be more than its own: /proc/<pid>/stat's start_code). */
long make(Handle* h, pid_t reader) {
    const libos::VfsPath& path = h->slot->path;
    if (reader <= 0 && !same_for_every_reader(path))
        return -EACCES;
    libos::RemoteTask task;
    task.tid = reader;
    if (ftruncate(g_live.scratch, 0) != 0 || lseek(g_live.scratch, 0, SEEK_SET) != 0)
        return -errno;
    long ret = libos::vfs_write_generated(same_for_every_reader(path) ? libos::Caller::self() : libos::Caller(&task),
                                          path, g_live.scratch);
    if (!task_alive(h->slot))
        ret = -ESRCH;
    if (libos::rights_lost()) {
        /* This thread could not take its own rights back: it must not act for anyone again. */
        g_live.serving.store(false);
        if (!g_warned_lost.exchange(true))
            fprintf(stderr, "libos-run: the live files' server could not take back its own rights after reading for "
                            "pid %d: it serves no more reads, and later opens get a snapshot\n",
                    static_cast<int>(task.tid));
        return -EIO;
    }
    if (ret < 0)
        return ret;
    off_t length = lseek(g_live.scratch, 0, SEEK_CUR);
    if (length < 0)
        return -errno;
    if (static_cast<size_t>(length) > h->room) {
        char* bigger = static_cast<char*>(realloc(h->text, static_cast<size_t>(length)));
        if (!bigger)
            return -ENOMEM;
        h->text = bigger;
        h->room = static_cast<size_t>(length);
    }
    if (length > 0 && pread(g_live.scratch, h->text, static_cast<size_t>(length), 0) != length)
        return -EIO;
    h->length = static_cast<size_t>(length);
    return 0;
}

void op_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
    auto* h = reinterpret_cast<Handle*>(fi->fh);
    if (!g_live.serving.load(std::memory_order_acquire)) {
        fuse_reply_err(req, EIO);
        return;
    }
    /* As a seq file: made anew at a read from the start and at a read anywhere else than where the
     * last one ended (a seek, a pread); a read that goes on where the last ended goes on in the same
     * content. */
    if (off == 0 || off != h->next) {
        const fuse_ctx* ctx = fuse_req_ctx(req);
        if (long ret = make(h, ctx ? ctx->pid : 0); ret < 0) {
            h->next = -1;
            fuse_reply_err(req, static_cast<int>(-ret));
            return;
        }
    }
    const size_t length = h->length;
    size_t from = off < 0 ? length : static_cast<size_t>(off);
    size_t n = from >= length ? 0 : std::min(size, length - from);
    h->next = static_cast<off_t>(from + n);
    fuse_reply_buf(req, n ? h->text + from : nullptr, n);
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    auto* h = reinterpret_cast<Handle*>(fi->fh);
    if (h) {
        unref(h->slot);
        free(h->text);
        free(h);
    }
    fuse_reply_err(req, 0);
}

/* libfuse's messages (a connection that ends, a request it cannot read) are not the program's. */
void quiet(fuse_log_level, const char*, va_list) {}

void* serve(void*) {
    fuse_session_loop(g_live.session);
    /* The connection ended, or the loop failed: no open may wait for an answer any more. Destroying
     * the session closes /dev/fuse, which aborts the connection (its requests fail with ENOTCONN). */
    g_live.serving.store(false);
    fuse_session_destroy(g_live.session);
    g_live.session = nullptr;
    return nullptr;
}

}  // namespace

std::string probe_live_files() {
    Mounted m;
    Why why;
    mount_fuse(&m, &why);
    close_mounted(&m);
    return why.text;
}

bool start_live_files() {
    Why why;
    if (!mount_fuse(&g_live.mounted, &why))
        return false;
    auto fail = [] {
        close_mounted(&g_live.mounted);
        return false;
    };
    /* calloc, and the slots made in place: no operator new (Why). */
    g_live.slots = static_cast<Slot*>(calloc(kSlots, sizeof(Slot)));
    if (!g_live.slots)
        return fail();
    for (unsigned i = 0; i < kSlots; ++i)
        new (&g_live.slots[i]) Slot;
    g_live.scratch = memfd_create("libos-live", MFD_CLOEXEC);
    if (g_live.scratch < 0)
        return fail();
    fuse_set_log_func(quiet);
    fuse_lowlevel_ops ops = {};
    ops.init = op_init;
    ops.lookup = op_lookup;
    ops.getattr = op_getattr;
    ops.open = op_open;
    ops.read = op_read;
    ops.release = op_release;
    char arg0[] = "libos-run";
    char* argv[] = {arg0, nullptr};
    fuse_args args = FUSE_ARGS_INIT(1, argv);
    g_live.session = fuse_session_new(&args, &ops, sizeof(ops), nullptr);
    /* The option parser gave `args` a copy of the arguments the session keeps nothing of: ours. */
    fuse_opt_free_args(&args);
    if (!g_live.session)
        return fail();
    char dev_path[32];
    snprintf(dev_path, sizeof(dev_path), "/dev/fd/%d", g_live.mounted.dev);
    if (fuse_session_mount(g_live.session, dev_path) != 0) {
        fuse_session_destroy(g_live.session);
        g_live.session = nullptr;
        return fail();
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    int err = pthread_create(&thread, &attr, serve, nullptr);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        fuse_session_destroy(g_live.session); /* closes /dev/fuse */
        g_live.session = nullptr;
        g_live.mounted.dev = -1;
        return fail();
    }
    /* Not waited for: the kernel holds the first request until the server has answered the
     * protocol's INIT, and a connection that INIT failed fails every request (ECONNREFUSED), which
     * leaves that open its snapshot (live_file_for). */
    g_live.serving.store(true);
    return true;
}

void stop_live_files() {
    g_live.serving.store(false);
    /* The mount is detached: its last descriptor gone (no program of the launch is left to hold a
     * file of it), the kernel unmounts it and ends the connection, and the server's loop ends. */
    if (g_live.mounted.mnt >= 0)
        close(g_live.mounted.mnt);
    g_live.mounted.mnt = -1;
}

int live_file_for(int fd, pid_t opener) {
    if (!g_live.serving.load(std::memory_order_acquire))
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 0)
        return -1;
    /* The generated files that never change (the cpu/ tree, /proc/cpuinfo: most opens) are told by
     * the memfd's name, without classifying its path. */
    char link[64], target[96];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t length = readlink(link, target, sizeof(target) - 1);
    target[length > 0 ? length : 0] = '\0';
    static constexpr const char* kNeverChange[] = {"/memfd:libos-vcpu:/sys/devices/system/cpu/",
                                                   "/memfd:libos-vcpu:/proc/cpuinfo "};
    for (const char* prefix : kNeverChange)
        if (strncmp(target, prefix, strlen(prefix)) == 0)
            return -1;
    libos::VfsPath path;
    if (!libos::vfs_generated_fd(fd, st.st_mode, st.st_nlink, &path) || !live_kind(path))
        return -1;
    /* Descriptors opened for writing keep the snapshot (whose writes fail as the memfd's do). */
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || (flags & O_ACCMODE) != O_RDONLY)
        return -1;
    struct stat host;
    if (stat(path.real, &host) != 0)
        return -1;
    Slot* s = nullptr;
    unsigned index = 0;
    for (; index < kSlots && !s; ++index) {
        bool expected = false;
        if (g_live.slots[index].taken.compare_exchange_strong(expected, true, std::memory_order_acq_rel))
            s = &g_live.slots[index];
    }
    if (!s)
        return -1; /* every slot is open: a snapshot */
    --index;
    s->path = path;
    s->task_dir = -1;
    if (task_file(path)) {
        /* The task's directory, the one that holds the file: while the caller's open was answered,
         * the task had the pid (task_alive). */
        char dir[sizeof(path.real)];
        snprintf(dir, sizeof(dir), "%s", path.real);
        char* slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        s->task_dir = slash ? open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
        if (s->task_dir < 0 || !task_alive(s)) {
            if (s->task_dir >= 0)
                close(s->task_dir);
            s->task_dir = -1;
            s->taken.store(false, std::memory_order_release);
            return -1;
        }
    }
    s->opener = opener;
    s->attr = host;
    s->refs.store(1, std::memory_order_relaxed);
    const uint64_t node = ((g_live.generation.fetch_add(1, std::memory_order_relaxed) + 1) << kIndexBits) | (index + 2);
    s->node.store(node, std::memory_order_release);
    char name[24];
    snprintf(name, sizeof(name), "%llu", static_cast<unsigned long long>(node));
    constexpr int kKept = O_NONBLOCK | O_APPEND | O_NOATIME | O_DIRECT;
    int live = openat(g_live.mounted.mnt, name, O_RDONLY | O_CLOEXEC | O_DIRECT | (flags & kKept));
    unref(s);
    return live;
}

#else

std::string probe_live_files() {
    return "this libos-run was built without libfuse3";
}

bool start_live_files() {
    return false;
}

void stop_live_files() {}

int live_file_for(int, pid_t) {
    return -1;
}

#endif  // LIBOS_HAVE_FUSE

}  // namespace launcher::strict
