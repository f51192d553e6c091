/* The trace's filter (libos_trace_filter.h): syscall names and classes. */
#include "libos/libos_trace_filter.h"

#include <string.h>
#include <sys/syscall.h>

#include "libos/libos_sections.h"
#include "libos/libos_table.h"

namespace libos {
namespace {

/* The classes. %file, %process, %memory and %signal are the calls strace 6.1 puts in them on x86_64
 * (tests/trace compares the names both trace); %cpu and %numa are the families the machine
 * virtualizes. */
constexpr short kCpu[] = {SYS_sched_setaffinity, SYS_sched_getaffinity, SYS_getcpu};
constexpr short kNuma[] = {SYS_set_mempolicy, SYS_get_mempolicy, SYS_mbind, SYS_migrate_pages, SYS_move_pages,
                           SYS_set_mempolicy_home_node};
#if defined(__x86_64__)
constexpr short kFile[] = {
    SYS_open, SYS_stat, SYS_lstat, SYS_access, SYS_execve, SYS_truncate, SYS_getcwd, SYS_chdir, SYS_rename,
    SYS_mkdir, SYS_rmdir, SYS_creat, SYS_link, SYS_unlink, SYS_symlink, SYS_readlink, SYS_chmod, SYS_chown,
    SYS_lchown, SYS_utime, SYS_mknod, SYS_uselib, SYS_statfs, SYS_pivot_root, SYS_chroot, SYS_acct, SYS_mount,
    SYS_umount2, SYS_swapon, SYS_swapoff, SYS_quotactl, SYS_setxattr, SYS_lsetxattr, SYS_getxattr, SYS_lgetxattr,
    SYS_listxattr, SYS_llistxattr, SYS_removexattr, SYS_lremovexattr, SYS_utimes, SYS_inotify_add_watch,
    SYS_openat, SYS_mkdirat, SYS_mknodat, SYS_fchownat, SYS_futimesat, SYS_newfstatat, SYS_unlinkat, SYS_renameat,
    SYS_linkat, SYS_symlinkat, SYS_readlinkat, SYS_fchmodat, SYS_faccessat, SYS_utimensat, SYS_fanotify_mark,
    SYS_name_to_handle_at, SYS_renameat2, SYS_execveat, SYS_statx, SYS_open_tree, SYS_move_mount, SYS_fspick,
    SYS_fsconfig, SYS_openat2, SYS_faccessat2, SYS_mount_setattr};
constexpr short kProcess[] = {SYS_clone, SYS_fork, SYS_vfork, SYS_execve, SYS_exit, SYS_wait4, SYS_kill,
                              SYS_rt_sigqueueinfo, SYS_tkill, SYS_exit_group, SYS_tgkill, SYS_waitid,
                              SYS_rt_tgsigqueueinfo, SYS_execveat, SYS_pidfd_send_signal, SYS_clone3};
#else
/* arm64 (asm-generic numbers): the same classes without the calls it does not have, which are x86's
 * older forms of the *at calls (open, stat, mkdir, ...), fork and vfork, pause and signalfd. */
constexpr short kFile[] = {
    SYS_execve, SYS_truncate, SYS_getcwd, SYS_chdir, SYS_statfs, SYS_pivot_root, SYS_chroot, SYS_acct, SYS_mount,
    SYS_umount2, SYS_swapon, SYS_swapoff, SYS_quotactl, SYS_setxattr, SYS_lsetxattr, SYS_getxattr, SYS_lgetxattr,
    SYS_listxattr, SYS_llistxattr, SYS_removexattr, SYS_lremovexattr, SYS_inotify_add_watch, SYS_openat,
    SYS_mkdirat, SYS_mknodat, SYS_fchownat, SYS_newfstatat, SYS_unlinkat, SYS_renameat, SYS_linkat, SYS_symlinkat,
    SYS_readlinkat, SYS_fchmodat, SYS_faccessat, SYS_utimensat, SYS_fanotify_mark, SYS_name_to_handle_at,
    SYS_renameat2, SYS_execveat, SYS_statx, SYS_open_tree, SYS_move_mount, SYS_fspick, SYS_fsconfig, SYS_openat2,
    SYS_faccessat2, SYS_mount_setattr};
constexpr short kProcess[] = {SYS_clone, SYS_execve, SYS_exit, SYS_wait4, SYS_kill, SYS_rt_sigqueueinfo,
                              SYS_tkill, SYS_exit_group, SYS_tgkill, SYS_waitid, SYS_rt_tgsigqueueinfo,
                              SYS_execveat, SYS_pidfd_send_signal, SYS_clone3};
#endif
constexpr short kMemory[] = {SYS_mmap, SYS_mprotect, SYS_munmap, SYS_brk, SYS_mremap, SYS_msync, SYS_mincore,
                             SYS_madvise, SYS_shmat, SYS_shmdt, SYS_mlock, SYS_munlock, SYS_mlockall,
                             SYS_munlockall, SYS_io_setup, SYS_io_destroy, SYS_remap_file_pages, SYS_mbind,
                             SYS_set_mempolicy, SYS_get_mempolicy, SYS_migrate_pages, SYS_move_pages, SYS_mlock2,
                             SYS_pkey_mprotect, SYS_set_mempolicy_home_node};
#if defined(__x86_64__)
constexpr short kSignal[] = {SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigreturn, SYS_pause, SYS_kill,
                             SYS_rt_sigpending, SYS_rt_sigtimedwait, SYS_rt_sigqueueinfo, SYS_rt_sigsuspend,
                             SYS_sigaltstack, SYS_tkill, SYS_tgkill, SYS_signalfd, SYS_signalfd4,
                             SYS_rt_tgsigqueueinfo, SYS_pidfd_send_signal};
#else
constexpr short kSignal[] = {SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigreturn, SYS_kill, SYS_rt_sigpending,
                             SYS_rt_sigtimedwait, SYS_rt_sigqueueinfo, SYS_rt_sigsuspend, SYS_sigaltstack,
                             SYS_tkill, SYS_tgkill, SYS_signalfd4, SYS_rt_tgsigqueueinfo, SYS_pidfd_send_signal};
#endif

struct Class {
    const char* name;
    const short* calls;
    size_t count;
};

template <size_t N>
constexpr Class make_class(const char* name, const short (&calls)[N]) {
    return Class{name, calls, N};
}

constexpr Class kClasses[] = {make_class("%cpu", kCpu),         make_class("%numa", kNuma),
                              make_class("%file", kFile),       make_class("%process", kProcess),
                              make_class("%memory", kMemory),   make_class("%signal", kSignal)};

void set_bit(TraceFilter* f, long nr) {
    if (static_cast<unsigned long>(nr) < kTraceFilterCalls)
        f->words[nr / 64] |= 1ULL << (nr % 64);
}

/* The number of the call named `name` (`length` bytes), or -1. */
long call_named(const char* name, size_t length) {
    for (long nr = 0; nr < static_cast<long>(kTraceFilterCalls); ++nr) {
        const char* known = syscall_name(nr);
        if (known && strlen(known) == length && memcmp(known, name, length) == 0)
            return nr;
    }
    return -1;
}

}  // namespace

LIBOS_STARTUP bool parse_trace_filter(const char* setting, const char* text, TraceFilter* filter, ConfigError* err) {
    memset(filter, 0, sizeof(*filter));
    filter->everything = true;
    for (uint64_t& w : filter->words)
        w = ~0ULL;
    if (!text || !*text)
        return true;
    if (strlen(text) > kTraceFilterTextMax) {
        config_error(err, setting, text, "the list is longer than 500 bytes");
        return false;
    }
    const bool negate = text[0] == '!';
    const char* p = text + negate;
    for (uint64_t& w : filter->words)
        w = 0;
    filter->everything = false;
    for (;;) {
        const char* end = strchr(p, ',');
        size_t length = end ? static_cast<size_t>(end - p) : strlen(p);
        bool known = false;
        for (const Class& c : kClasses) {
            if (strlen(c.name) == length && memcmp(c.name, p, length) == 0) {
                for (size_t i = 0; i < c.count; ++i)
                    set_bit(filter, c.calls[i]);
                known = true;
            }
        }
        if (!known && length) {
            long nr = call_named(p, length);
            if (nr >= 0) {
                set_bit(filter, nr);
                known = true;
            }
        }
        if (!known) {
            config_error_in(err, setting, p, length, text,
                            length ? "not a system call or a class: expected names from the syscall list and "
                                     "%cpu, %numa, %file, %process, %memory, %signal, separated by commas, "
                                     "optionally after one '!'"
                                   : "an empty name: expected names and classes separated by commas");
            return false;
        }
        if (!end)
            break;
        p = end + 1;
    }
    if (negate) {
        for (uint64_t& w : filter->words)
            w = ~w;
        filter->everything = true;
    }
    return true;
}

}  // namespace libos
