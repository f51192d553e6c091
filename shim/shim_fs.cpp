/* The file entry points of libc, for the virtual CPU files (table/include/libos/libos_vfs.h).
 *
 * open, openat and their 64-bit and fortified (_2) names, stat, lstat, fstatat, statx, access and
 * faccessat are system calls and go through the table, and so does getdents64. fopen, opendir and
 * scandir are overridden too, because glibc implements them with internal opens that no override sees.
 * readdir (with telldir, seekdir and rewinddir) reads the listings of the views' directories through
 * the table, as getdents64 lists them: the machine's cpuV (nodeK) entries instead of the host's. With no machine configured every one of them is glibc's, unchanged. */
/* Meson builds with _FILE_OFFSET_BITS=64, which renames open to open64 and so on in glibc's
 * headers; this file defines both names itself. (On x86_64 both are the same function.) */
#undef _FILE_OFFSET_BITS

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <new>

#include "libos/libos_init.h"
#include "libos/libos_sections.h"
#include "libos/libos_scratch.h"
#include "libos/libos_table.h"
#include "libos/libos_trace.h"
#include "libos/libos_vfs.h"
#include "shim.h"

namespace {

long as_word(const void* p) {
    return reinterpret_cast<long>(p);
}

int open_through_table(int dirfd, const char* path, int flags, mode_t mode) {
    shim::ensure();
    return static_cast<int>(
        shim::syscall_result(libos::dispatch(SYS_openat, dirfd, as_word(path), flags, mode, 0, 0)));
}

/* Does an open with these flags take a mode? glibc's rule (__OPEN_NEEDS_MODE): O_CREAT, or all of
 * O_TMPFILE's bits (O_TMPFILE includes O_DIRECTORY, which alone takes no mode). */
constexpr bool needs_mode(int flags) {
    return (flags & O_CREAT) != 0 || (flags & __O_TMPFILE) == __O_TMPFILE;
}

/* The mode argument exists only when the flags need one, as open(2) reads it. */
#define READ_MODE(flags, last)                                                                    \
    mode_t mode = 0;                                                                              \
    if (needs_mode(flags)) {                                                                      \
        va_list ap;                                                                               \
        va_start(ap, last);                                                                       \
        mode = static_cast<mode_t>(va_arg(ap, int));                                              \
        va_end(ap);                                                                               \
    }

/* ---- directory listings ------------------------------------------------------------------- */

/* A DIR* whose listing is the machine's: read through the table's listing (vfs_read_listing, the same
 * as getdents64's) into a buffer of its own, whose records are struct dirent's (on x86_64 struct
 * linux_dirent64 and struct dirent are one layout). The position is the descriptor's own offset, so
 * telldir, seekdir and rewinddir are lseek's cookies. No allocation on readdir: the slots are taken
 * by opendir and fdopendir (which allocate, as glibc's do) and kept for reuse. */
struct FilteredDir {
    std::atomic<DIR*> dir;
    libos::VfsDir kind;
    int32_t node;
    uint32_t used;   /* bytes of buf filled */
    uint32_t at;     /* the next record */
    long position;   /* telldir's: the position of the next record */
    alignas(8) char buf[2048];
};
/* Slots come in blocks: one static, then more mapped as more streams are open at once (a program
 * that opens 200 streams of the CPUs' directories gets 200 machine listings), never unmapped. */
constexpr int kSlotsPerBlock = 64;
struct SlotBlock {
    FilteredDir slots[kSlotsPerBlock];
    std::atomic<SlotBlock*> next;
};
LIBOS_LARGE_BSS constinit SlotBlock g_first_block = {};
constinit std::atomic<int> g_filtered_count{0}; /* readdir of any other directory skips the search */
DIR* const kClaimed = reinterpret_cast<DIR*>(-1);

FilteredDir* filtered(DIR* dir) {
    if (!dir || g_filtered_count.load(std::memory_order_acquire) == 0)
        return nullptr;
    for (SlotBlock* b = &g_first_block; b; b = b->next.load(std::memory_order_acquire))
        for (FilteredDir& f : b->slots)
            if (f.dir.load(std::memory_order_acquire) == dir)
                return &f;
    return nullptr;
}

/* A free slot, claimed (kClaimed), or null when no memory is left for another block. */
FilteredDir* claim_slot() {
    SlotBlock* b = &g_first_block;
    for (;;) {
        for (FilteredDir& f : b->slots) {
            DIR* none = nullptr;
            if (f.dir.compare_exchange_strong(none, kClaimed))
                return &f;
        }
        SlotBlock* next = b->next.load(std::memory_order_acquire);
        if (!next) {
            void* memory;
            if (PalMemoryAllocate(sizeof(SlotBlock), &memory) < 0)
                return nullptr;
            auto* fresh = new (memory) SlotBlock(); /* zeroed pages: every slot free */
            if (b->next.compare_exchange_strong(next, fresh, std::memory_order_acq_rel))
                next = fresh;
            else
                PalMemoryFree(memory, sizeof(SlotBlock)); /* another thread's block is there: next */
        }
        b = next;
    }
}

/* Whether `path` is a directory whose listing is the machine's. */
bool listed_by_machine(const libos::VfsPath& path) {
    libos::VfsDir dir;
    int32_t node;
    return libos::vfs_listing_kind(path, &dir, &node);
}

/* Starts the machine's listing of `dir` in slot `f` (claimed), or frees the slot when there is no DIR. */
void watch_listing(FilteredDir* f, DIR* dir, const libos::VfsPath& path) {
    if (!dir) {
        f->dir.store(nullptr, std::memory_order_release);
        return;
    }
    libos::vfs_listing_kind(path, &f->kind, &f->node);
    f->used = f->at = 0;
    f->position = PalFileSeek(dirfd(dir), 0, SEEK_CUR);
    g_filtered_count.fetch_add(1, std::memory_order_acq_rel);
    f->dir.store(dir, std::memory_order_release);
}

struct dirent* next_entry(FilteredDir* f, DIR* dir) {
    if (f->at >= f->used) {
        long n = libos::vfs_read_listing(libos::Caller::self(), dirfd(dir), f->kind, f->node,
                                         reinterpret_cast<uintptr_t>(f->buf), sizeof(f->buf),
                                         libos::DirentFormat::Linux64);
        f->at = f->used = 0;
        if (n <= 0) {
            if (n < 0)
                errno = static_cast<int>(-n); /* readdir(3): errno set, and NULL */
            return nullptr;
        }
        f->used = static_cast<uint32_t>(n);
    }
    auto* e = reinterpret_cast<struct dirent*>(f->buf + f->at);
    f->at += e->d_reclen;
    f->position = e->d_off;
    return e;
}

/* The virtual classification of a path the program names (absolute, or relative to a current
 * directory in the views). */
bool classify(const char* path, libos::VfsPath* out) {
    shim::ensure();
    return path && libos::vfs_active() && libos::vfs_classify_named(libos::Caller::self(), path, out);
}

}  // namespace

SHIM_EXPORT int open(const char* path, int flags, ...) {
    READ_MODE(flags, flags);
    return open_through_table(AT_FDCWD, path, flags, mode);
}

SHIM_EXPORT int open64(const char* path, int flags, ...) {
    READ_MODE(flags, flags);
    return open_through_table(AT_FDCWD, path, flags, mode);
}

SHIM_EXPORT int openat(int dirfd, const char* path, int flags, ...) {
    READ_MODE(flags, flags);
    return open_through_table(dirfd, path, flags, mode);
}

SHIM_EXPORT int openat64(int dirfd, const char* path, int flags, ...) {
    READ_MODE(flags, flags);
    return open_through_table(dirfd, path, flags, mode);
}

/* The _FORTIFY_SOURCE entry points: glibc aborts when O_CREAT comes without a mode. */
SHIM_EXPORT int __open_2(const char* path, int flags) {
    if (needs_mode(flags))
        abort();
    return open_through_table(AT_FDCWD, path, flags, 0);
}

SHIM_SAME_NAME(__open_2);
SHIM_EXPORT int __open64_2(const char* path, int flags) {
    return SHIM_SAME(__open_2)(path, flags);
}

SHIM_EXPORT int __openat_2(int dirfd, const char* path, int flags) {
    if (needs_mode(flags))
        abort();
    return open_through_table(dirfd, path, flags, 0);
}

SHIM_SAME_NAME(__openat_2);
SHIM_EXPORT int __openat64_2(int dirfd, const char* path, int flags) {
    return SHIM_SAME(__openat_2)(dirfd, path, flags);
}

/* fopen: glibc opens through an internal call, so a virtual path is opened here and wrapped. */
SHIM_EXPORT FILE* fopen(const char* path, const char* mode) {
    libos::ScratchOf<libos::VfsPath> scratch; /* off the stack (libos_scratch.h) */
    if (!scratch) {
        errno = ENOMEM;
        return nullptr;
    }
    libos::VfsPath& p = *scratch;
    /* A path through a descriptor's link opened for writing goes through the table too, once a
     * changing generated file is open: it may reach that file's memfd (libos_fs.cpp,
     * reopen_for_writing). */
    if (!mode || (!classify(path, &p) && !(path && libos::vfs_live_any() && (mode[0] != 'r' || strchr(mode, '+')) &&
                                          strstr(path, "fd/"))))
        return SHIM_REAL(fopen)(path, mode);
    int flags = 0;
    switch (mode[0]) {
        case 'r':
            flags = O_RDONLY;
            break;
        case 'w':
            flags = O_WRONLY | O_CREAT | O_TRUNC;
            break;
        case 'a':
            flags = O_WRONLY | O_CREAT | O_APPEND;
            break;
        default:
            errno = EINVAL;
            return nullptr;
    }
    for (const char* m = mode + 1; *m && *m != ','; ++m) {
        if (*m == '+')
            flags = (flags & ~O_ACCMODE) | O_RDWR;
        else if (*m == 'e')
            flags |= O_CLOEXEC;
        else if (*m == 'x')
            flags |= O_EXCL;
    }
    int fd = open_through_table(AT_FDCWD, path, flags, 0666);
    if (fd < 0)
        return nullptr;
    FILE* f = fdopen(fd, mode);
    if (!f) {
        int saved = errno;
        close(fd);
        errno = saved;
    }
    return f;
}

SHIM_SAME_NAME(fopen);
SHIM_EXPORT FILE* fopen64(const char* path, const char* mode) {
    return SHIM_SAME(fopen)(path, mode);
}

SHIM_EXPORT int stat(const char* path, struct stat* buf) noexcept {
    shim::ensure();
    return static_cast<int>(shim::syscall_result(
        libos::dispatch(SYS_newfstatat, AT_FDCWD, as_word(path), as_word(buf), 0, 0, 0)));
}

SHIM_SAME_NAME(stat);
SHIM_EXPORT int stat64(const char* path, struct stat64* buf) noexcept {
    return SHIM_SAME(stat)(path, reinterpret_cast<struct stat*>(buf)); /* the same layout on x86_64 */
}

SHIM_EXPORT int lstat(const char* path, struct stat* buf) noexcept {
    shim::ensure();
    return static_cast<int>(shim::syscall_result(
        libos::dispatch(SYS_newfstatat, AT_FDCWD, as_word(path), as_word(buf), AT_SYMLINK_NOFOLLOW, 0, 0)));
}

SHIM_SAME_NAME(lstat);
SHIM_EXPORT int lstat64(const char* path, struct stat64* buf) noexcept {
    return SHIM_SAME(lstat)(path, reinterpret_cast<struct stat*>(buf));
}

SHIM_EXPORT int fstatat(int dirfd, const char* path, struct stat* buf, int flags) noexcept {
    shim::ensure();
    return static_cast<int>(
        shim::syscall_result(libos::dispatch(SYS_newfstatat, dirfd, as_word(path), as_word(buf), flags, 0, 0)));
}

SHIM_SAME_NAME(fstatat);
SHIM_EXPORT int fstatat64(int dirfd, const char* path, struct stat64* buf, int flags) noexcept {
    return SHIM_SAME(fstatat)(dirfd, path, reinterpret_cast<struct stat*>(buf), flags);
}

SHIM_EXPORT int statx(int dirfd, const char* path, int flags, unsigned int mask, struct statx* buf) noexcept {
    shim::ensure();
    return static_cast<int>(
        shim::syscall_result(libos::dispatch(SYS_statx, dirfd, as_word(path), flags, mask, as_word(buf), 0)));
}

/* access(2) where the architecture has it (glibc's choice: strace shows access on x86_64), and
 * faccessat elsewhere (arm64), as glibc makes it. */
SHIM_EXPORT int access(const char* path, int mode) noexcept {
    shim::ensure();
#ifdef SYS_access
    return static_cast<int>(shim::syscall_result(libos::dispatch(SYS_access, as_word(path), mode, 0, 0, 0, 0)));
#else
    return static_cast<int>(
        shim::syscall_result(libos::dispatch(SYS_faccessat, AT_FDCWD, as_word(path), mode, 0, 0, 0)));
#endif
}

/* glibc's faccessat takes flags; the faccessat2 system call does too. */
SHIM_EXPORT int faccessat(int dirfd, const char* path, int mode, int flags) noexcept {
    shim::ensure();
    return static_cast<int>(
        shim::syscall_result(libos::dispatch(SYS_faccessat2, dirfd, as_word(path), mode, flags, 0, 0)));
}

/* realpath: glibc's resolves each component with internal readlink calls, which reach the host with
 * the machine's names (cpu5/ may be no host directory); a path into the views resolves through the
 * table's walk, whose canonical path is the kernel's answer. */
SHIM_EXPORT char* realpath(const char* path, char* resolved) {
    libos::ScratchOf<libos::VfsPath> scratch; /* off the stack (libos_scratch.h) */
    if (!scratch) {
        errno = ENOMEM;
        return nullptr;
    }
    libos::VfsPath& p = *scratch;
    if (!classify(path, &p))
        return SHIM_REAL(realpath)(path, resolved);
    if (p.kind == libos::VfsKind::Error) {
        errno = -p.error;
        return nullptr;
    }
    const size_t length = strlen(p.virt);
    if (length >= PATH_MAX) {
        errno = ENAMETOOLONG;
        return nullptr;
    }
    /* realpath(path, NULL) returns memory the caller frees: malloc's, as glibc's does. */
    char* out = resolved ? resolved : static_cast<char*>(malloc(length + 1));
    if (!out) {
        errno = ENOMEM;
        return nullptr;
    }
    memcpy(out, p.virt, length + 1);
    return out;
}

SHIM_EXPORT char* canonicalize_file_name(const char* path) {
    return realpath(path, nullptr);
}

/* ---- directories -------------------------------------------------------------------------- */

SHIM_EXPORT DIR* opendir(const char* path) {
    libos::ScratchOf<libos::VfsPath> scratch; /* off the stack (libos_scratch.h) */
    if (!scratch) {
        errno = ENOMEM;
        return nullptr;
    }
    libos::VfsPath& p = *scratch;
    if (!classify(path, &p))
        return SHIM_REAL(opendir)(path);
    FilteredDir* slot = nullptr;
    if (listed_by_machine(p) && !(slot = claim_slot())) {
        errno = ENOMEM;
        return nullptr;
    }
    int fd = open_through_table(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    DIR* dir = fd < 0 ? nullptr : SHIM_REAL(fdopendir)(fd);
    if (fd >= 0 && !dir) {
        int saved = errno;
        close(fd);
        errno = saved;
    }
    if (slot)
        watch_listing(slot, dir, p);
    return dir;
}

SHIM_EXPORT DIR* fdopendir(int fd) {
    shim::ensure();
    char virt[libos::kVfsPathMax];
    libos::ScratchOf<libos::VfsPath> scratch; /* off the stack (libos_scratch.h) */
    if (!scratch) {
        errno = ENOMEM;
        return nullptr;
    }
    libos::VfsPath& p = *scratch;
    if (!libos::vfs_active() || !libos::vfs_listed_dir(fd, virt) ||
        !libos::vfs_classify(libos::Caller::self(), virt, &p) || !listed_by_machine(p))
        return SHIM_REAL(fdopendir)(fd);
    /* The slot first: without one the call fails and the descriptor stays the caller's. */
    FilteredDir* slot = claim_slot();
    if (!slot) {
        errno = ENOMEM;
        return nullptr;
    }
    DIR* dir = SHIM_REAL(fdopendir)(fd);
    watch_listing(slot, dir, p);
    return dir;
}

SHIM_EXPORT struct dirent* readdir(DIR* dir) {
    shim::ensure();
    FilteredDir* f = filtered(dir);
    if (!f)
        return SHIM_REAL(readdir)(dir);
    return next_entry(f, dir);
}

SHIM_SAME_NAME(readdir);
SHIM_EXPORT struct dirent64* readdir64(DIR* dir) {
    /* On x86_64 struct dirent and struct dirent64 are the same. */
    return reinterpret_cast<struct dirent64*>(SHIM_SAME(readdir)(dir));
}

SHIM_EXPORT void rewinddir(DIR* dir) {
    if (FilteredDir* f = filtered(dir)) {
        f->used = f->at = 0;
        f->position = 0;
    }
    SHIM_REAL(rewinddir)(dir);
}

/* telldir and seekdir of a listing of the machine: its positions are the descriptor's offsets. */
SHIM_EXPORT long telldir(DIR* dir) {
    if (FilteredDir* f = filtered(dir))
        return f->position;
    return SHIM_REAL(telldir)(dir);
}

SHIM_EXPORT void seekdir(DIR* dir, long position) {
    FilteredDir* f = filtered(dir);
    if (!f)
        return SHIM_REAL(seekdir)(dir, position);
    int saved = errno;
    if (PalFileSeek(dirfd(dir), position, SEEK_SET) >= 0) {
        f->used = f->at = 0;
        f->position = position;
    }
    errno = saved;
}

/* getdents64(3), glibc's wrapper of the system call since 2.30. */
SHIM_EXPORT ssize_t getdents64(int fd, void* buf, size_t size) noexcept {
    shim::ensure();
    /* glibc passes at most INT_MAX, as the kernel's count is an unsigned int. */
    if (size > INT_MAX)
        size = INT_MAX;
    return shim::syscall_result(libos::dispatch(SYS_getdents64, fd, as_word(buf), static_cast<long>(size), 0, 0, 0));
}

SHIM_EXPORT int closedir(DIR* dir) {
    if (FilteredDir* f = filtered(dir)) {
        f->dir.store(nullptr, std::memory_order_release);
        g_filtered_count.fetch_sub(1, std::memory_order_acq_rel);
    }
    return SHIM_REAL(closedir)(dir);
}

/* scandir: glibc's reads the directory through internal calls; this one reads it through the
 * overrides above, then filters and sorts as scandir(3) specifies. */
SHIM_EXPORT int scandir(const char* path, struct dirent*** namelist, int (*select)(const struct dirent*),
                        int (*compar)(const struct dirent**, const struct dirent**)) {
    libos::ScratchOf<libos::VfsPath> scratch; /* off the stack (libos_scratch.h) */
    if (!scratch) {
        errno = ENOMEM;
        return -1;
    }
    libos::VfsPath& p = *scratch;
    if (!classify(path, &p))
        return SHIM_REAL(scandir)(path, namelist, select, compar);
    DIR* dir = opendir(path);
    if (!dir)
        return -1;
    size_t count = 0, capacity = 0;
    struct dirent** list = nullptr;
    int saved = errno;
    errno = 0;
    while (struct dirent* e = readdir(dir)) {
        if (select && !select(e)) {
            errno = 0;
            continue;
        }
        if (count == capacity) {
            capacity = capacity ? capacity * 2 : 32;
            auto** grown = static_cast<struct dirent**>(realloc(list, capacity * sizeof(*list)));
            if (!grown)
                break;
            list = grown;
        }
        size_t size = offsetof(struct dirent, d_name) + strlen(e->d_name) + 1;
        auto* copy = static_cast<struct dirent*>(malloc(size));
        if (!copy)
            break;
        memcpy(copy, e, size);
        list[count++] = copy;
    }
    int error = errno;
    closedir(dir);
    if (error) {
        while (count)
            free(list[--count]);
        free(list);
        errno = error;
        return -1;
    }
    if (compar && count > 1)
        qsort(list, count, sizeof(*list), reinterpret_cast<int (*)(const void*, const void*)>(compar));
    *namelist = list;
    errno = saved;
    return static_cast<int>(count);
}

SHIM_SAME_NAME(scandir);
SHIM_EXPORT int scandir64(const char* path, struct dirent64*** namelist, int (*select)(const struct dirent64*),
                          int (*compar)(const struct dirent64**, const struct dirent64**)) {
    return SHIM_SAME(scandir)(path, reinterpret_cast<struct dirent***>(namelist),
                   reinterpret_cast<int (*)(const struct dirent*)>(select),
                   reinterpret_cast<int (*)(const struct dirent**, const struct dirent**)>(compar));
}

/* ---- the current directory ---------------------------------------------------------------- */

SHIM_EXPORT int chdir(const char* path) noexcept {
    shim::ensure();
    return static_cast<int>(shim::syscall_result(libos::dispatch(SYS_chdir, as_word(path), 0, 0, 0, 0, 0)));
}

SHIM_EXPORT int fchdir(int fd) noexcept {
    shim::ensure();
    return static_cast<int>(shim::syscall_result(libos::dispatch(SYS_fchdir, fd, 0, 0, 0, 0, 0)));
}

/* getcwd(3) on a virtual machine reads the current directory through the table (inside cpuV/ the
 * host's path would name cpuH/), with glibc's conventions: a null buffer is allocated (exactly as
 * large as needed when size is 0), a zero size with a buffer is EINVAL, a short one ERANGE. */
SHIM_EXPORT char* getcwd(char* buf, size_t size) noexcept {
    shim::ensure();
    /* Through the table with a machine, and while tracing (its getcwd line, as strace shows it). */
    if (!libos::is_virtual() && !libos::g_tracing)
        return SHIM_REAL(getcwd)(buf, size);
    if (buf && size == 0) {
        errno = EINVAL;
        return nullptr;
    }
    /* The path when libc is to allocate the buffer: in scratch memory, not on the stack. */
    libos::Scratch scratch(buf ? 0 : 4096);
    char* tmp = scratch.data();
    if (!buf && !tmp) {
        errno = ENOMEM;
        return nullptr;
    }
    long ret = libos::dispatch(SYS_getcwd, as_word(buf ? buf : tmp), static_cast<long>(buf ? size : scratch.size()),
                               0, 0, 0, 0);
    /* A path longer than a page (ENAMETOOLONG) or not absolute ("(unreachable)/..."): glibc then
     * finds the directory itself, walking up through "..", and so does the program here (no path
     * of the views is that long or unreachable). */
    if (ret == -ENAMETOOLONG || (ret > 0 && (buf ? buf : tmp)[0] != '/'))
        return SHIM_REAL(getcwd)(buf, size);
    if (ret < 0) {
        errno = static_cast<int>(-ret);
        return nullptr;
    }
    if (buf)
        return buf;
    size_t need = strlen(tmp) + 1;
    size_t alloc = size ? size : need;
    if (alloc < need) {
        errno = ERANGE;
        return nullptr;
    }
    auto* copy = static_cast<char*>(malloc(alloc));
    if (!copy) {
        errno = ENOMEM;
        return nullptr;
    }
    memcpy(copy, tmp, need);
    return copy;
}
