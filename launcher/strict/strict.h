/* Strict mode's supervisor, inside the launcher (launcher.h: run_strict). The files:
 *   filter.cpp      the seccomp filter, from the syscall list's TRAP column (x86_64 and i386)
 *   supervisor.cpp  the threads that receive each trapped call and answer it with the LibOS's handler
 *   launch.cpp      the kernel's features, the child that installs the filter, signals and the end
 *   views.cpp       the launch's mount namespace with generated /sys/devices/system/{cpu,node} trees
 *   live.cpp        the FUSE file system that keeps the changing files live without the shim
 *   live_kinds.cpp  which generated files it serves, and which are the same for every reader
 * docs/strict-mode.md has the design and the measurements behind it. */
#ifndef LAUNCHER_STRICT_H
#define LAUNCHER_STRICT_H

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace libos {
struct CallerCache; /* libos_strict.h */
struct VfsPath;     /* libos_vfs.h */
}

/* Linux 6.6: wake the supervisor on the notifying thread's CPU (older headers lack these). */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
/* Linux 5.19: once the supervisor has received a notification, only a fatal signal interrupts the
 * caller, so a signal never makes a call that the supervisor carries out look interrupted (EINTR). */
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef SECCOMP_ADDFD_FLAG_SEND
#define SECCOMP_ADDFD_FLAG_SEND (1UL << 1)
#endif

namespace launcher::strict {

/* x32 system calls: their numbers have this bit set. */
constexpr uint32_t kX32Bit = 0x40000000;

/* The audit architecture of the launcher's own system calls, which the filter virtualizes. */
#if defined(__aarch64__)
constexpr uint32_t kNativeArch = AUDIT_ARCH_AARCH64;
#else
constexpr uint32_t kNativeArch = AUDIT_ARCH_X86_64;
#endif

/* One line on standard error, and the launcher's failure status. */
[[noreturn]] void refuse(const std::string& line);

long seccomp(unsigned op, unsigned flags, void* arg);

/* ---- filter.cpp ---------------------------------------------------------------------------- */

/* The filter of a launch whose tag is `tag`: the trapped calls go to the supervisor unless they carry
 * the tag in their sixth argument; 32-bit calls of the same names go to it too, to be reported;
 * everything else is allowed. */
std::vector<sock_filter> build_filter(uint64_t tag);

/* The trapped calls' i386 numbers (i386.cpp, which sees <asm/unistd_32.h>). */
extern const long kTrappedI386[];
extern const size_t kTrappedI386Count;

/* ---- views.cpp ---------------------------------------------------------------------------- */

/* What the child tells the supervisor about the namespace it made (all 0: none). */
struct ViewsInfo {
    uint64_t ns_dev, ns_ino;    /* /proc/self/ns/mnt */
    uint64_t cpu_dev, node_dev; /* the two trees */
    uint64_t entries;           /* entries generated */
};

/* A descriptor of the host's /sys/devices/system (O_PATH, 1001 or above, kept across exec), or -1. */
int open_host_system();

/* In the program's child: makes the launch's mount namespace (and a user namespace to hold it when not
 * root) and mounts the generated trees. "" on success, else what failed. */
std::string mount_views(ViewsInfo* info);

/* ---- live_kinds.cpp ------------------------------------------------------------------------ */

/* Whether a generated file's content changes while it is open (served live, not as a snapshot). */
bool live_kind(const libos::VfsPath& path);
/* Whether that content is the same for every reader (made with libos-run's own reads). */
bool same_for_every_reader(const libos::VfsPath& path);

/* ---- live.cpp ------------------------------------------------------------------------------ */

/* Before the supervisor's threads start: mounts the live files' FUSE file system (detached, held by
 * this process alone) and starts the thread that serves it. False where it cannot (the snapshots at
 * the open stay then); never ends libos-run, even out of memory (no operator new). */
bool start_live_files();

/* At the end of the launch: unmounts the live files (the kernel then ends the connection and the
 * server's loop). */
void stop_live_files();

/* Whether start_live_files would succeed here (for --show): "" or why not. Mounts and unmounts. */
std::string probe_live_files();

/* For a supervisor's thread answering an open of thread `opener`: when `fd` (the handler's answer,
 * the supervisor's own) is a generated file whose content changes, opened for reading, a descriptor
 * of the live files that stands for it, opened with its flags (close-on-exec); else -1 (keep `fd`).
 * Allocates nothing. */
int live_file_for(int fd, pid_t opener);

/* ---- supervisor.cpp ------------------------------------------------------------------------ */

/* What one supervisor thread works with, allocated before the program runs: once it runs, the
 * supervisor's threads allocate nothing. */
struct SupervisorThread {
    SupervisorThread(int listener, seccomp_notif_sizes sizes);
    int listener;
    std::vector<char> request, response;
    libos::CallerCache* callers; /* or nullptr: there was no memory for it */
};

/* Receives trapped calls on self->listener and answers them until the listener hangs up. */
void supervise(SupervisorThread* self);

}  // namespace launcher::strict

#endif
