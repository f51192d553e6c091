/* The file family: the paths of the virtual CPU files (libos_vfs.h).
 *
 * Implements open(2), openat(2), openat2(2), stat(2), lstat(2), newfstatat(2), statx(2), access(2),
 * faccessat(2), faccessat2(2), and chdir(2), fchdir(2) and getcwd(2), which keep the current
 * directory's virtual path when it is in the views (so that `cd /sys/devices/system/cpu; cat online`
 * and a cd into cpuV/ work). Each one looks at the path first: a path outside the virtual views
 * (nearly all of them) goes to the host unchanged, with the program's own pointers, so results and
 * errors are the host's; a virtual path is opened, examined or refused as the machine has it. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "libos/libos_env.h"
#include "libos/libos_init.h"
#include "libos/libos_table.h"
#include "libos/libos_text.h"
#include "libos/libos_user.h"
#include "libos/libos_vfs.h"
#include "pal/pal.h"

namespace libos {

long copy_string_from_user(char* dst, uintptr_t src, size_t size) {
    constexpr uintptr_t kPage = 4096;
    size_t done = 0;
    while (done < size) {
        uintptr_t at = src + done;
        size_t chunk = kPage - (at % kPage); /* never cross into a page the string may not reach */
        if (chunk > size - done)
            chunk = size - done;
        if (copy_from_user(dst + done, at, chunk) < 0)
            return -EFAULT;
        const char* nul = static_cast<const char*>(memchr(dst + done, '\0', chunk));
        if (nul)
            return nul - dst;
        done += chunk;
    }
    return -ENAMETOOLONG;
}

namespace {

/* The current directory, when it is a directory of the virtual views: its virtual path (cpu5/ is the
 * host's cpu1/ underneath, so the host's getcwd cannot tell). Set by chdir and fchdir. A sequence
 * number keeps a reader from seeing half of a path another thread is writing. */
constinit char g_cwd[kVfsPathMax] = {};
constinit std::atomic<bool> g_cwd_virtual{false};
constinit std::atomic<uint32_t> g_cwd_seq{0};
/* Whether the above has been set up: at the first question (init_cwd), not at start-up, which most
 * programs would pay for without ever asking. */
constinit std::atomic<bool> g_cwd_known{false};

bool virtual_cwd(char* out) {
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

void set_virtual_cwd(const char* virt) {
    g_cwd_seq.fetch_add(1, std::memory_order_acq_rel);
    if (virt) {
        size_t n = strlen(virt);
        memcpy(g_cwd, virt, n + 1 < kVfsPathMax ? n + 1 : kVfsPathMax);
    }
    g_cwd_virtual.store(virt != nullptr, std::memory_order_release);
    g_cwd_seq.fetch_add(1, std::memory_order_release);
    g_cwd_known.store(true, std::memory_order_release);
}

/* After a chdir the host made: is the new directory one of the views'? (getcwd gives the host's
 * path, which is the virtual one for every directory but cpuV/, and chdir sets those itself.) */
void note_host_cwd() {
    char cwd[kVfsPathMax];
    VfsPath p;
    long n = PalFileGetCwd(cwd, sizeof(cwd));
    /* getcwd names a directory; under cpuV/ the views call those redirects. */
    if (n > 0 && vfs_classify(cwd, &p) && (p.kind == VfsKind::Directory || p.kind == VfsKind::Redirect))
        set_virtual_cwd(p.virt);
    else
        set_virtual_cwd(nullptr);
}

}  // namespace

/* The current directory inherited from the process before, looked at when it is first needed on a
 * virtual machine. Its virtual path travels in LIBOS_CWD (inside cpuV/ the host's path names cpuH/),
 * and is trusted only if it still is the directory the process is in. */
/* LIBOS_CWD as the process started with it: kept, since the program may change its environment
 * before the first question. */
constinit char g_inherited_cwd[kVfsPathMax] = {};

void capture_inherited_cwd() {
    const char* inherited = env_get("LIBOS_CWD");
    if (inherited && strlen(inherited) < sizeof(g_inherited_cwd))
        strcpy(g_inherited_cwd, inherited);
}

void init_cwd() {
    const char* inherited = g_inherited_cwd[0] ? g_inherited_cwd : nullptr;
    VfsPath p;
    char cwd[kVfsPathMax];
    if (inherited && vfs_classify(inherited, &p) && (p.kind == VfsKind::Directory || p.kind == VfsKind::Redirect) &&
        PalFileGetCwd(cwd, sizeof(cwd)) > 0 && strcmp(cwd, p.real) == 0) {
        set_virtual_cwd(p.virt);
        return;
    }
    note_host_cwd();
}

bool vfs_absolute(const char* path, char* out) {
    if (path[0] == '/') {
        size_t n = strlen(path);
        if (n >= kVfsPathMax)
            return false;
        memcpy(out, path, n + 1);
        return true;
    }
    char cwd[kVfsPathMax];
    return virtual_cwd(cwd) && vfs_join(cwd, path, out);
}

const char* exec_cwd() {
    static_assert(kVfsPathMax <= sizeof(g_cwd));
    if (!g_cwd_known.load(std::memory_order_acquire))
        init_cwd();
    return g_cwd_virtual.load(std::memory_order_acquire) ? g_cwd : nullptr;
}

namespace {

/* Relative names worth resolving against a directory descriptor: only these can be virtual. */
bool may_be_virtual_name(const char* relative) {
    static const char* const kWords[] = {"cpu", "node", "online", "possible", "present", "offline",
                                         "kernel_max", "status", "stat", "has_cpu", ".."};
    for (const char* w : kWords)
        if (strstr(relative, w))
            return true;
    return false;
}

/* readlink of /proc/<tid>/<leaf> (a remote task's cwd or descriptor) into dir: false unless it names
 * a directory path. */
bool remote_link(pid_t tid, const char* leaf, char* dir) {
    return PalFileReadLink(ProcPath(tid).leaf(leaf).c_str(), dir, kVfsPathMax) > 0 && dir[0] == '/';
}

/* resolve() for a remote task (strict mode): its current directory and descriptors are the host's,
 * read through /proc. */
bool resolve_remote(int dirfd, const char* path, VfsPath* out) {
    char dir[kVfsPathMax];
    if (dirfd == AT_FDCWD) {
        if (!remote_link(remote_task()->tid, "cwd", dir))
            return false;
    } else {
        /* No name filter here (in-process it saves a readlink on the common path; a trapped call
         * has paid far more already). */
        char leaf[32] = "fd/";
        format_decimal(leaf + 3, static_cast<uint64_t>(static_cast<unsigned>(dirfd)));
        if (!remote_link(remote_task()->tid, leaf, dir))
            return false;
    }
    char joined[kVfsPathMax];
    return vfs_join(dir, path, joined) && vfs_classify(joined, out);
}

/* Classifies the program's (dirfd, path). False: not a virtual path (or not readable: the host
 * reports that), and the call must go to the host untouched. */
bool resolve(int dirfd, uintptr_t user_path, VfsPath* out) {
    if (!vfs_active() || !user_path)
        return false;
    /* A remote task in another root or mount namespace (a chroot, a container) names other files:
     * the supervisor must not open its own for it. */
    if (remote_task() && !remote_same_files())
        return false;
    char path[kVfsPathMax];
    if (copy_string_from_user(path, user_path, sizeof(path)) <= 0)
        return false;
    if (path[0] == '/')
        return vfs_classify(path, out);
    if (remote_task())
        return resolve_remote(dirfd, path, out);
    char dir[kVfsPathMax];
    if (dirfd == AT_FDCWD) {
        /* Relative to the current directory: virtual only when that is a virtual directory. */
        if (!virtual_cwd(dir))
            return false;
        char joined[kVfsPathMax];
        return vfs_join(dir, path, joined) && vfs_classify(joined, out);
    }
    if (!vfs_dir_path(dirfd, dir)) {
        if (!may_be_virtual_name(path))
            return false;
        /* A directory the program opened without the LibOS's help, e.g. through opendir of /sys. */
        ProcPath link(0);
        if (PalFileReadLink(link.leaf("fd").number(static_cast<uint64_t>(dirfd)).c_str(), dir, sizeof(dir)) <= 0 ||
            dir[0] != '/')
            return false;
    }
    char joined[kVfsPathMax];
    return vfs_join(dir, path, joined) && vfs_classify(joined, out);
}

bool under_sys(const VfsPath& p) {
    return strncmp(p.virt, "/sys/", 5) == 0;
}

/* The host file that stands for a virtual one in stat and access: itself where it exists. */
const char* stand_in(const VfsPath& p) {
    if (p.kind != VfsKind::Generated)
        return p.real;
    struct stat st;
    if (PalFileStatAt(AT_FDCWD, p.real, &st, 0) == 0)
        return p.real;
    return under_sys(p) ? "/sys/devices/system/cpu/online" : "/proc/cpuinfo";
}

/* Strict mode's supervisor opens a host file for a remote task with its own rights, which may be
 * more than the task's (a program that dropped root). Unless the task has the supervisor's effective
 * uid or CAP_DAC_OVERRIDE, the open goes ahead only if the file's permission bits for everyone grant
 * the access asked for: a stricter test than the kernel's (groups and ACLs are not looked at), so a
 * task never gets more than it could have opened itself. */
long remote_may_open(const char* real, int flags) {
    PalCredentials task, own;
    if (PalThreadCredentials(remote_task()->tid, &task) < 0)
        return -ESRCH;
    if (PalThreadCredentials(PalThreadGetId(), &own) == 0 && task.euid == own.euid)
        return 0;
    constexpr uint64_t kCapDacOverride = 1ULL << 1;
    if (task.cap_effective & kCapDacOverride)
        return 0;
    struct stat st;
    long ret = PalFileStatAt(AT_FDCWD, real, &st, 0);
    if (ret < 0)
        return ret;
    const int access = flags & O_ACCMODE;
    const bool reads = access == O_RDONLY || access == O_RDWR;
    const bool writes = access != O_RDONLY || (flags & O_TRUNC);
    if ((reads && !(st.st_mode & S_IROTH)) || (writes && !(st.st_mode & S_IWOTH)) ||
        (S_ISDIR(st.st_mode) && !(st.st_mode & S_IXOTH)))
        return -EACCES;
    return 0;
}

long open_virtual(const VfsPath& p, int flags, mode_t mode) {
    if (remote_task() && (p.kind == VfsKind::Redirect || p.kind == VfsKind::Directory ||
                          (p.kind == VfsKind::Generated && (flags & O_ACCMODE) != O_RDONLY && !under_sys(p))))
        if (long denied = remote_may_open(p.real, flags); denied < 0)
            return denied;
    switch (p.kind) {
        case VfsKind::Missing:
            return -ENOENT;
        case VfsKind::Generated:
            if ((flags & O_ACCMODE) != O_RDONLY) {
                /* The real sysfs files are read-only (EACCES even for root); /proc's accept the open
                 * and fail the write, so those go to the host. */
                if (under_sys(p))
                    return -EACCES;
                return PalFileOpen(AT_FDCWD, p.real, flags, mode);
            }
            if (flags & O_DIRECTORY)
                return -ENOTDIR;
            return vfs_open_generated(p, flags);
        case VfsKind::Redirect:
        case VfsKind::Directory: {
            long fd = PalFileOpen(AT_FDCWD, p.real, flags, mode);
            /* A remote task's descriptor is the supervisor's until it is handed over: nothing to
             * remember here (its listing is the host's: see docs/strict-mode.md). */
            if (fd >= 0 && !remote_task()) {
                struct stat st;
                if (PalFileStat(static_cast<int>(fd), &st) == 0 && S_ISDIR(st.st_mode))
                    vfs_remember_dir(static_cast<int>(fd), p.virt);
            }
            return fd;
        }
        case VfsKind::NotVirtual:
            break;
    }
    return -ENOENT;
}

}  // namespace
}  // namespace libos

using libos::UserPtr;
using libos::VfsKind;
using libos::VfsPath;

/* openat(2). In strict mode's supervisor a virtual path opens in the supervisor, which hands the
 * descriptor over; any other path is left to the host (kRemoteContinue). */
long libos_syscall_openat(int dirfd, UserPtr<const char> path, int flags, mode_t mode) {
    VfsPath p;
    if (!libos::resolve(dirfd, path.address(), &p)) {
        if (libos::remote_task())
            return libos::kRemoteContinue;
        return PalSyscall(SYS_openat, dirfd, static_cast<long>(path.address()), flags, mode, 0, 0);
    }
    return libos::open_virtual(p, flags, mode);
}

/* open(2) */
long libos_syscall_open(UserPtr<const char> path, int flags, mode_t mode) {
    VfsPath p;
    if (!libos::resolve(AT_FDCWD, path.address(), &p)) {
        if (libos::remote_task())
            return libos::kRemoteContinue;
        return PalSyscall(SYS_open, static_cast<long>(path.address()), flags, mode, 0, 0, 0);
    }
    return libos::open_virtual(p, flags, mode);
}

/* openat2(2). A virtual path given with the plain struct (24 bytes, no RESOLVE_* flags, flags and
 * mode the kernel accepts) opens with how->flags and how->mode; everything else, every other path and
 * every error of the struct itself is the host's. */
long libos_syscall_openat2(int dirfd, UserPtr<const char> path, UserPtr<const open_how_v0> how, size_t size) {
    /* Only the plain form is answered here: a larger struct (whose tail the kernel checks), any
     * RESOLVE_* restriction (which changes what the path may name) and flags the kernel does not
     * know (EINVAL) are the host's to judge. */
    constexpr uint64_t kKnownFlags = O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK |
                                     O_DSYNC | FASYNC | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW |
                                     O_NOATIME | O_CLOEXEC | O_SYNC | O_PATH | __O_TMPFILE;
    if (libos::vfs_active() && size == sizeof(open_how_v0)) {
        open_how_v0 h;
        VfsPath p;
        if (libos::copy_from_user(&h, how, sizeof(h)) == 0 && h.resolve == 0 && (h.flags & ~kKnownFlags) == 0 &&
            (h.mode & ~07777ULL) == 0 && (h.mode == 0 || (h.flags & (O_CREAT | __O_TMPFILE))) &&
            libos::resolve(dirfd, path.address(), &p))
            return libos::open_virtual(p, static_cast<int>(h.flags), static_cast<mode_t>(h.mode));
    }
    if (libos::remote_task())
        return libos::kRemoteContinue;
    return PalSyscall(SYS_openat2, dirfd, static_cast<long>(path.address()), static_cast<long>(how.address()),
                      static_cast<long>(size), 0, 0);
}

/* newfstatat(2): fstatat, and stat/lstat in glibc 2.33+. */
long libos_syscall_newfstatat(int dirfd, UserPtr<const char> path, UserPtr<struct stat> buf, int flags) {
    VfsPath p;
    if (!libos::resolve(dirfd, path.address(), &p))
        return PalSyscall(SYS_newfstatat, dirfd, static_cast<long>(path.address()), static_cast<long>(buf.address()),
                          flags, 0, 0);
    if (p.kind == VfsKind::Missing)
        return -ENOENT;
    return PalSyscall(SYS_newfstatat, AT_FDCWD, reinterpret_cast<long>(libos::stand_in(p)),
                      static_cast<long>(buf.address()), flags, 0, 0);
}

/* stat(2) */
long libos_syscall_stat(UserPtr<const char> path, UserPtr<struct stat> buf) {
    return libos_syscall_newfstatat(AT_FDCWD, path, buf, 0);
}

/* lstat(2) */
long libos_syscall_lstat(UserPtr<const char> path, UserPtr<struct stat> buf) {
    return libos_syscall_newfstatat(AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW);
}

/* statx(2) */
long libos_syscall_statx(int dirfd, UserPtr<const char> path, int flags, unsigned int mask, UserPtr<void> buf) {
    VfsPath p;
    if (!libos::resolve(dirfd, path.address(), &p))
        return PalSyscall(SYS_statx, dirfd, static_cast<long>(path.address()), flags, mask,
                          static_cast<long>(buf.address()), 0);
    if (p.kind == VfsKind::Missing)
        return -ENOENT;
    return PalSyscall(SYS_statx, AT_FDCWD, reinterpret_cast<long>(libos::stand_in(p)), flags, mask,
                      static_cast<long>(buf.address()), 0);
}

/* faccessat2(2) */
long libos_syscall_faccessat2(int dirfd, UserPtr<const char> path, int mode, int flags) {
    VfsPath p;
    if (!libos::resolve(dirfd, path.address(), &p))
        return PalSyscall(SYS_faccessat2, dirfd, static_cast<long>(path.address()), mode, flags, 0, 0);
    if (p.kind == VfsKind::Missing)
        return -ENOENT;
    return PalSyscall(SYS_faccessat2, AT_FDCWD, reinterpret_cast<long>(libos::stand_in(p)), mode, flags, 0, 0);
}

/* faccessat(2) */
long libos_syscall_faccessat(int dirfd, UserPtr<const char> path, int mode) {
    VfsPath p;
    if (!libos::resolve(dirfd, path.address(), &p))
        return PalSyscall(SYS_faccessat, dirfd, static_cast<long>(path.address()), mode, 0, 0, 0);
    if (p.kind == VfsKind::Missing)
        return -ENOENT;
    return PalSyscall(SYS_faccessat, AT_FDCWD, reinterpret_cast<long>(libos::stand_in(p)), mode, 0, 0, 0);
}

/* access(2) */
long libos_syscall_access(UserPtr<const char> path, int mode) {
    return libos_syscall_faccessat(AT_FDCWD, path, mode);
}

/* chdir(2). A virtual directory is entered through its host directory (cpuV/ is the host's cpuH/);
 * a missing one (cpu9 of 8) gives ENOENT. */
long libos_syscall_chdir(UserPtr<const char> path) {
    VfsPath p;
    if (!libos::resolve(AT_FDCWD, path.address(), &p)) {
        long ret = PalSyscall(SYS_chdir, static_cast<long>(path.address()), 0, 0, 0, 0, 0);
        if (ret == 0 && libos::vfs_active())
            libos::note_host_cwd();
        return ret;
    }
    if (p.kind == VfsKind::Missing)
        return -ENOENT;
    if (p.kind != VfsKind::Directory && p.kind != VfsKind::Redirect)
        return -ENOTDIR;
    long ret = PalFileChangeDir(p.real);
    if (ret == 0)
        libos::set_virtual_cwd(p.virt);
    return ret;
}

/* fchdir(2) */
long libos_syscall_fchdir(int fd) {
    long ret = PalSyscall(SYS_fchdir, fd, 0, 0, 0, 0, 0);
    if (ret == 0 && libos::vfs_active()) {
        char virt[libos::kVfsPathMax];
        if (libos::vfs_dir_path(fd, virt))
            libos::set_virtual_cwd(virt);
        else
            libos::note_host_cwd();
    }
    return ret;
}

/* getcwd(2): the virtual path when the current directory is in the views. The kernel returns the
 * length with the NUL, and ERANGE when it does not fit. */
long libos_syscall_getcwd(UserPtr<char> buf, unsigned long size) {
    char virt[libos::kVfsPathMax];
    if (!libos::vfs_active() || !libos::virtual_cwd(virt))
        return PalSyscall(SYS_getcwd, static_cast<long>(buf.address()), static_cast<long>(size), 0, 0, 0, 0);
    size_t len = strlen(virt) + 1;
    if (size < len)
        return -ERANGE;
    if (libos::copy_to_user(buf, virt, len) < 0)
        return -EFAULT;
    return static_cast<long>(len);
}
