/* Directories of the views (libos_vfs.h): what their listings show, the directory descriptors the
 * program opened on them, and the current directory when it is one of them. */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include <atomic>

#include "libos/libos_env.h"
#include "libos/libos_machine.h"
#include "libos/libos_sections.h"
#include "libos/libos_topology.h"
#include "vfs/vfs_internal.h"

namespace libos {
namespace {

struct RememberedDir {
    std::atomic<int> fd_plus_one; /* 0: free */
    uint64_t dev;
    uint64_t ino;
    uint64_t when; /* the order in which entries were remembered */
    char virt[kVfsPathMax];
};
constexpr int kRememberedDirs = 64;
LIBOS_LARGE_BSS constinit RememberedDir g_dirs[kRememberedDirs] = {};
constinit std::atomic<int> g_dir_count{0};
constinit std::atomic<uint64_t> g_dir_clock{0};

/* The current directory, when it is a directory of the virtual views: its virtual path (cpu5/ is the
 * host's cpu1/ underneath, so the host's getcwd cannot tell). Set by chdir and fchdir. A sequence
 * number keeps a reader from seeing half of a path another thread is writing. */
constinit char g_cwd[kVfsPathMax] = {};
constinit std::atomic<bool> g_cwd_virtual{false};
constinit std::atomic<uint32_t> g_cwd_seq{0};
/* Whether the above has been set up: at the first question (init_cwd), not at start-up, which most
 * programs would pay for without ever asking. */
constinit std::atomic<bool> g_cwd_known{false};

}  // namespace

void vfs_remember_dir(int fd, const char* virt) {
    struct stat st;
    if (PalFileStat(fd, &st) < 0 || strlen(virt) >= kVfsPathMax)
        return;
    for (int round = 0; round < 2; ++round) {
        for (RememberedDir& d : g_dirs) {
            int current = d.fd_plus_one.load(std::memory_order_acquire);
            /* Reuse this descriptor's old entry, or (second round) any free one. */
            if (current == fd + 1 || (round == 1 && current == 0)) {
                if (current == 0 && !d.fd_plus_one.compare_exchange_strong(current, -1))
                    continue;
                d.fd_plus_one.store(-1, std::memory_order_relaxed);
                d.dev = st.st_dev;
                d.ino = st.st_ino;
                d.when = g_dir_clock.fetch_add(1, std::memory_order_relaxed) + 1;
                memcpy(d.virt, virt, strlen(virt) + 1);
                d.fd_plus_one.store(fd + 1, std::memory_order_release);
                if (current == 0)
                    g_dir_count.fetch_add(1, std::memory_order_relaxed);
                return;
            }
        }
    }
}

namespace {

/* The path on the machine of remembered descriptor `fd`, or of a copy of one (see below); a link's
 * or a device's only when `links` (such a descriptor is no directory to resolve names from). */
bool remembered_path(int fd, char* out, bool links) {
    if (g_dir_count.load(std::memory_order_relaxed) == 0 || fd < 0)
        return false;
    struct stat st;
    bool have_stat = false;
    for (RememberedDir& d : g_dirs) {
        if (d.fd_plus_one.load(std::memory_order_acquire) != fd + 1)
            continue;
        /* The descriptor may have been closed and its number reused: the directory must be the same. */
        if (PalFileStat(fd, &st) < 0)
            return false;
        have_stat = true;
        if (st.st_dev != d.dev || st.st_ino != d.ino)
            break;
        if (!S_ISDIR(st.st_mode) && !(links && (S_ISLNK(st.st_mode) || S_ISCHR(st.st_mode))))
            return false;
        memcpy(out, d.virt, strlen(d.virt) + 1);
        return true;
    }
    /* A copy of a remembered descriptor (dup, F_DUPFD_CLOEXEC: gnulib's fts, under find, du, cp -r)
     * is the same directory. Two vCPUs on one host CPU share a host directory: the remembered
     * descriptor that is the same open file (kcmp) names it; where the kernel cannot tell, the latest
     * remembered one of that directory does (most often the one just opened). */
    if (!have_stat && PalFileStat(fd, &st) < 0)
        return false;
    if (!S_ISDIR(st.st_mode) && !(links && (S_ISLNK(st.st_mode) || S_ISCHR(st.st_mode))))
        return false;
    const RememberedDir* found = nullptr;
    int candidates = 0;
    for (const RememberedDir& d : g_dirs) {
        if (d.fd_plus_one.load(std::memory_order_acquire) > 0 && d.dev == st.st_dev && d.ino == st.st_ino) {
            ++candidates;
            if (!found || d.when > found->when)
                found = &d;
        }
    }
    for (const RememberedDir& d : g_dirs) {
        const int other = d.fd_plus_one.load(std::memory_order_acquire) - 1;
        if (candidates > 1 && other >= 0 && d.dev == st.st_dev && d.ino == st.st_ino &&
            PalFileSameDescription(fd, other) == 0) {
            found = &d;
            break;
        }
    }
    if (!found)
        return false;
    memcpy(out, found->virt, strlen(found->virt) + 1);
    vfs_remember_dir(fd, out);
    return true;
}

}  // namespace

bool vfs_dir_path(int fd, char* out) {
    return remembered_path(fd, out, false);
}

bool vfs_fd_path(int fd, char* out) {
    return remembered_path(fd, out, true);
}

bool vfs_listed_dir(int fd, char* out) {
    if (vfs_dir_path(fd, out))
        return true;
    long n = PalFileReadLink(ProcPath::self().leaf("fd").number(static_cast<uint64_t>(fd)).c_str(), out, kVfsPathMax);
    return n > 0 && (strcmp(out, kCpuRoot) == 0 || strcmp(out, kNodeRoot) == 0 || strcmp(out, kBusCpuRoot) == 0 ||
                     strcmp(out, kBusNodeRoot) == 0 || strcmp(out, kDevCpuRoot) == 0);
}

bool vfs_cwd(char* out) {
    if (__builtin_expect(!g_cwd_known.load(std::memory_order_acquire), 0))
        init_cwd();
    if (!g_cwd_virtual.load(std::memory_order_acquire))
        return false;
    for (;;) {
        uint32_t before = g_cwd_seq.load(std::memory_order_acquire);
        memcpy(out, g_cwd, kVfsPathMax);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (!(before & 1) && g_cwd_seq.load(std::memory_order_relaxed) == before)
            return g_cwd_virtual.load(std::memory_order_acquire);
    }
}

void vfs_set_cwd(const char* virt) {
    g_cwd_seq.fetch_add(1, std::memory_order_acq_rel);
    const bool fits = virt && strlen(virt) < kVfsPathMax;
    if (fits)
        memcpy(g_cwd, virt, strlen(virt) + 1);
    g_cwd_virtual.store(fits, std::memory_order_release);
    g_cwd_seq.fetch_add(1, std::memory_order_release);
    g_cwd_known.store(true, std::memory_order_release);
}

/* After a chdir the host made: is the new directory one of the views'? (getcwd gives the host's
 * path, which is the virtual one for every directory but cpuV/, and chdir sets those itself.) */
namespace {
/* What the current directory's checks need, in scratch memory: they run inside whatever call first
 * asks for the directory, on any stack (libos_scratch.h). */
struct CwdWork {
    VfsPath p;
    char cwd[kVfsPathMax];
};
}  // namespace

void vfs_note_host_cwd() {
    ScratchOf<CwdWork> work;
    if (!work) {
        vfs_set_cwd(nullptr);
        return;
    }
    char* cwd = work->cwd;
    VfsPath& p = work->p;
    long n = PalFileGetCwd(cwd, sizeof(work->cwd));
    /* getcwd names a directory; under cpuV/ the views call those redirects. */
    if (n > 0 && vfs_classify(Caller::self(), cwd, &p) && (p.kind == VfsKind::Directory || p.kind == VfsKind::Redirect))
        vfs_set_cwd(p.virt);
    else
        vfs_set_cwd(nullptr);
}

/* The current directory inherited from the process before, looked at when it is first needed on a
 * virtual machine. Its virtual path travels in LIBOS_CWD (inside cpuV/ the host's path names cpuH/),
 * and is trusted only if it still is the directory the process is in. */
/* LIBOS_CWD as the process started with it: kept, since the program may change its environment
 * before the first question. */
constinit char g_inherited_cwd[kVfsPathMax] = {};

LIBOS_STARTUP void capture_inherited_cwd() {
    const char* inherited = env_get(kEnvCwd);
    if (inherited && strlen(inherited) < sizeof(g_inherited_cwd))
        strcpy(g_inherited_cwd, inherited);
}

void init_cwd() {
    const char* inherited = g_inherited_cwd[0] ? g_inherited_cwd : nullptr;
    if (inherited) {
        ScratchOf<CwdWork> work;
        if (work) {
            VfsPath& p = work->p;
            if (vfs_classify(Caller::self(), inherited, &p) && (p.kind == VfsKind::Directory || p.kind == VfsKind::Redirect) &&
                PalFileGetCwd(work->cwd, sizeof(work->cwd)) > 0 && strcmp(work->cwd, p.real) == 0) {
                vfs_set_cwd(p.virt);
                return;
            }
        }
    }
    vfs_note_host_cwd();
}

const char* exec_cwd() {
    static_assert(kVfsPathMax <= sizeof(g_cwd));
    if (!g_cwd_known.load(std::memory_order_acquire))
        init_cwd();
    return g_cwd_virtual.load(std::memory_order_acquire) ? g_cwd : nullptr;
}

}  // namespace libos
