/* The exec family and posix_spawn: every way libc offers to start a program. execve and execveat
 * are system calls and go through the table, and execvpe and fexecve make their attempts through
 * them; posix_spawn builds on glibc's own implementation (spawn attributes) with the environment that
 * libos::exec_environment returns, so that programs started from a scrubbed environment (env -i)
 * stay on the virtual machine. system() and popen() use the process's own environment, which still
 * carries the machine unless the program removed it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "libos/libos_exec.h"
#include "libos/libos_init.h"
#include "libos/libos_sections.h"
#include "libos/libos_table.h"
#include "libos/libos_threads.h"
#include "libos/libos_trace.h"
#include "pal/pal.h"
#include "shim.h"

namespace {

long as_word(const void* p) {
    return reinterpret_cast<long>(p);
}

/* Calls `run(env)` with the machine's environment for `envp`; releases it when run returns (the exec
 * failed, or posix_spawn is done with it). */
template <typename Run>
int with_environment(char* const* envp, Run run, bool errno_style) {
    shim::ensure();
    long error = 0;
    char* const* env = libos::exec_environment(envp, &error);
    if (!env && error) {
        if (!errno_style)
            return static_cast<int>(-error);
        errno = static_cast<int>(-error);
        return -1;
    }
    int saved = 0;
    int ret = run(env);
    saved = errno;
    libos::release_exec_environment(env, envp);
    errno = saved;
    return ret;
}

/* execl-style argument lists, collected into an argv on the stack as glibc does. */
#define COLLECT_ARGS(first, argv_name)                                                            \
    size_t argc_ = 1;                                                                             \
    {                                                                                             \
        va_list count_;                                                                           \
        va_copy(count_, ap);                                                                      \
        while (va_arg(count_, char*))                                                             \
            ++argc_;                                                                              \
        va_end(count_);                                                                           \
    }                                                                                             \
    char* argv_name[argc_ + 1];                                                                   \
    argv_name[0] = const_cast<char*>(first);                                                      \
    for (size_t i_ = 1; i_ <= argc_; ++i_)                                                        \
        argv_name[i_] = va_arg(ap, char*);

}  // namespace

SHIM_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) noexcept {
    shim::ensure();
    return static_cast<int>(
        shim::syscall_result(libos::dispatch(SYS_execve, as_word(path), as_word(argv), as_word(envp), 0, 0, 0)));
}

SHIM_EXPORT int execveat(int dirfd, const char* path, char* const argv[], char* const envp[], int flags) noexcept {
    shim::ensure();
    return static_cast<int>(shim::syscall_result(
        libos::dispatch(SYS_execveat, dirfd, as_word(path), as_word(argv), as_word(envp), flags, 0)));
}

SHIM_EXPORT int execv(const char* path, char* const argv[]) noexcept {
    return execve(path, argv, environ);
}

/* execvpe and fexecve make their attempts through execve and execveat above, so that each one is
 * routed and traced as strace -f shows it (glibc's own make theirs inside libc, out of the shim's
 * sight). The PATH search is glibc's, rewritten: a name with a '/' is run as it is; otherwise each
 * entry of PATH (getenv's, or /bin:/usr/bin without one; an empty entry is the current directory)
 * is tried in turn, on to the next after ENOENT, ESTALE, ENOTDIR, ENODEV, ETIMEDOUT and EACCES, which
 * is the error in the end if any attempt had it; a file without the exec format (ENOEXEC) is run by
 * /bin/sh, as execvp does. As glibc's, the name is not checked against NAME_MAX (a longer one is the
 * kernel's to refuse, ENAMETOOLONG, or not to find, ENOENT), nor PATH against PATH_MAX (an entry
 * longer than PATH's first PATH_MAX - 1 bytes is passed over), and the candidate's buffer is sized to
 * them on the stack: this runs between vfork and exec too, and in signal handlers on small stacks. */
namespace {

int exec_as_script(const char* path, char* const argv[], char* const envp[]) {
    size_t argc = 0;
    while (argv[argc])
        ++argc;
    /* /bin/sh, the script, argv[1..] and the null: three at least, also for an empty argv. */
    char* script_argv[argc > 1 ? argc + 2 : 3];
    script_argv[0] = const_cast<char*>("/bin/sh");
    script_argv[1] = const_cast<char*>(path);
    for (size_t i = 1; i <= argc; ++i) /* argv[1..], and the null */
        script_argv[i + 1] = argv[i];
    if (argc <= 1)
        script_argv[2] = nullptr;
    return execve("/bin/sh", script_argv, envp);
}

int exec_one(const char* path, char* const argv[], char* const envp[]) {
    execve(path, argv, envp);
    if (errno == ENOEXEC)
        exec_as_script(path, argv, envp);
    return -1;
}

}  // namespace

SHIM_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) noexcept {
    shim::ensure();
    if (!file[0]) {
        errno = ENOENT;
        return -1;
    }
    if (strchr(file, '/'))
        return exec_one(file, argv, envp);
    const char* path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";
    /* The name's first NAME_MAX + 1 bytes: a name that long already has the length the kernel
     * refuses, so the kernel's answer is the one the whole name would get. */
    const size_t name = strnlen(file, NAME_MAX + 1), path_len = strnlen(path, PATH_MAX - 1) + 1;
    char candidate[path_len + 1 + name + 1];
    bool got_eacces = false;
    for (const char* entry = path;;) {
        const char* end = strchrnul(entry, ':');
        size_t dir = static_cast<size_t>(end - entry);
        if (dir >= path_len) {
            /* Longer than the buffer: passed over, as glibc does (which then tries the current
             * directory once, for the empty entry it finds at the ':'). */
            if (!*end)
                break;
            entry = end;
            continue;
        }
        memcpy(candidate, entry, dir);
        if (dir)
            candidate[dir++] = '/';
        memcpy(candidate + dir, file, name);
        candidate[dir + name] = '\0';
        exec_one(candidate, argv, envp);
        switch (errno) {
            case EACCES:
                got_eacces = true;
                [[fallthrough]];
            case ENOENT:
            case ESTALE:
            case ENOTDIR:
            case ENODEV:
            case ETIMEDOUT:
                break;
            default:
                return -1;
        }
        if (!*end)
            break;
        entry = end + 1;
    }
    if (got_eacces)
        errno = EACCES;
    return -1;
}

SHIM_EXPORT int execvp(const char* file, char* const argv[]) noexcept {
    return execvpe(file, argv, environ);
}

/* As glibc's: execveat(fd, "", AT_EMPTY_PATH), or /proc/self/fd/N on a kernel without it. */
SHIM_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) noexcept {
    shim::ensure();
    /* glibc's <unistd.h> declares argv and envp nonnull, and GCC then drops a plain test of them
     * (-Wnonnull-compare): they are tested as values the compiler knows nothing of. */
    asm("" : "+r"(argv), "+r"(envp));
    if (fd < 0 || !argv || !envp) {
        errno = EINVAL;
        return -1;
    }
    execveat(fd, "", argv, envp, AT_EMPTY_PATH);
    if (errno != ENOSYS)
        return -1;
    char path[32] = "/proc/self/fd/";
    char digits[12];
    size_t n = 0;
    for (unsigned v = static_cast<unsigned>(fd); n == 0 || v; v /= 10)
        digits[n++] = static_cast<char>('0' + v % 10);
    size_t at = strlen(path);
    while (n)
        path[at++] = digits[--n];
    path[at] = '\0';
    return execve(path, argv, envp);
}

SHIM_EXPORT int execl(const char* path, const char* arg, ...) noexcept {
    va_list ap;
    va_start(ap, arg);
    COLLECT_ARGS(arg, argv);
    va_end(ap);
    return execve(path, argv, environ);
}

SHIM_EXPORT int execlp(const char* file, const char* arg, ...) noexcept {
    va_list ap;
    va_start(ap, arg);
    COLLECT_ARGS(arg, argv);
    va_end(ap);
    return execvpe(file, argv, environ);
}

SHIM_EXPORT int execle(const char* path, const char* arg, ...) noexcept {
    va_list ap;
    va_start(ap, arg);
    COLLECT_ARGS(arg, argv);
    char* const* envp = va_arg(ap, char* const*);
    va_end(ap);
    return execve(path, argv, envp);
}

/* fork(2) through libc: the parent registers the child's slot at once, so that it can ask about or
 * change its child's mask before the child has run a single instruction of its own. Without a
 * machine there is nothing to register: libc's fork is reached by a jump, so that the child returns
 * straight to the program and never runs this code again (each 64 KiB of the shim's code a fork
 * child runs costs it a page fault). */
SHIM_EXPORT LIBOS_FORK_PATH pid_t fork(void) noexcept {
    shim::ensure();
    if (!libos::is_virtual())
        return SHIM_REAL(fork)();
    pid_t child = SHIM_REAL(fork)();
    if (child > 0)
        libos::register_fork_child(child);
    return child;
}

/* unshare(2) and setns(2) through libc: after a change of PID namespace for this process's children,
 * a fork child looks its own namespace up again, since the tids it writes into the launch's state
 * mean threads only there. (After the same calls made through syscall() or raw, a fork child finds
 * out by itself: pid_namespace_after_fork.) */
/* unshare and setns through the table (to the host: glibc's are the bare system calls), so that the
 * trace shows them as strace does. */
SHIM_EXPORT int unshare(int flags) noexcept {
    shim::ensure();
    int ret = static_cast<int>(shim::syscall_result(libos::dispatch(SYS_unshare, flags, 0, 0, 0, 0, 0)));
    if (ret == 0 && (flags & CLONE_NEWPID))
        libos::note_pid_namespace_change();
    return ret;
}

SHIM_EXPORT int setns(int fd, int nstype) noexcept {
    shim::ensure();
    int ret = static_cast<int>(shim::syscall_result(libos::dispatch(SYS_setns, fd, nstype, 0, 0, 0, 0)));
    if (ret == 0 && (nstype == 0 || (nstype & CLONE_NEWPID)))
        libos::note_pid_namespace_change();
    return ret;
}

/* vfork(2) through libc. A machine's first process creates its shared state lazily; it must exist
 * before a vfork, because the child runs in the parent's memory with a copy of its descriptors: a
 * state created there (by the child's execve asking for it) would leave the parent believing in a
 * descriptor it does not have. So vfork first makes sure of the state, in the parent, then jumps to
 * libc's vfork with the caller's own return address on the stack. It cannot be an ordinary wrapper:
 * the child would return through a frame that the parent then reuses. */
extern "C" {
__attribute__((visibility("hidden"))) constinit void* shim_libc_vfork = nullptr;

__attribute__((visibility("hidden"), used)) void shim_before_vfork() noexcept {
    int saved = errno;
    shim::ensure();
    if (libos::is_virtual()) {
        libos::ensure_region();
        libos::note_vfork();
    }
    /* Looked up once: dlsym's search of the loaded objects took several microseconds of every vfork. */
    if (!__atomic_load_n(&shim_libc_vfork, __ATOMIC_ACQUIRE))
        __atomic_store_n(&shim_libc_vfork, shim::resolve_next("vfork"), __ATOMIC_RELEASE);
    errno = saved;
}
}

#if defined(__x86_64__)
__asm__(".text\n"
        ".globl vfork\n"
        ".type vfork, @function\n"
        "vfork:\n"
        "  .cfi_startproc\n"
        "  subq $8, %rsp\n"
        "  .cfi_adjust_cfa_offset 8\n"
        "  call shim_before_vfork\n"
        "  addq $8, %rsp\n"
        "  .cfi_adjust_cfa_offset -8\n"
        "  jmp *shim_libc_vfork(%rip)\n"
        "  .cfi_endproc\n"
        ".size vfork, .-vfork\n");
#elif defined(__aarch64__)
/* The frame record (x29, x30) is kept across the call and put back before the jump, so that libc's
 * vfork returns straight to the caller through x30. */
__asm__(".text\n"
        ".globl vfork\n"
        ".type vfork, %function\n"
        ".p2align 2\n"
        "vfork:\n"
        "  .cfi_startproc\n"
        "  stp x29, x30, [sp, #-16]!\n"
        "  .cfi_def_cfa_offset 16\n"
        "  .cfi_offset 29, -16\n"
        "  .cfi_offset 30, -8\n"
        "  mov x29, sp\n"
        "  bl shim_before_vfork\n"
        "  ldp x29, x30, [sp], #16\n"
        "  .cfi_def_cfa_offset 0\n"
        "  .cfi_restore 29\n"
        "  .cfi_restore 30\n"
        "  adrp x16, shim_libc_vfork\n"
        "  ldr x16, [x16, :lo12:shim_libc_vfork]\n"
        "  br x16\n"
        "  .cfi_endproc\n"
        ".size vfork, .-vfork\n");
#endif

namespace {

/* The program posix_spawnp's search of PATH will run, for the trace's line: the first regular,
 * executable file of that name along the caller's PATH (glibc's execvpe passes over the others),
 * asked of the host directly, so that the search itself makes no trace lines; `file` itself when it
 * has a '/'. Null when none is found (the spawn will fail, and no program will print a line). */
const char* spawn_program(const char* file, char* out, size_t size) {
    if (strchr(file, '/'))
        return file;
    const char* path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";
    const size_t name = strlen(file);
    for (const char* entry = path;; ++entry) {
        const char* end = strchrnul(entry, ':');
        const size_t dir = static_cast<size_t>(end - entry);
        if (dir + 1 + name < size) {
            memcpy(out, entry, dir);
            size_t at = dir;
            if (dir)
                out[at++] = '/';
            memcpy(out + at, file, name + 1);
            struct stat st;
            if (PalFileStatAt(AT_FDCWD, out, &st, 0) == 0 && S_ISREG(st.st_mode) &&
                PalFileAccess(AT_FDCWD, out, X_OK, 0) == 0)
                return out;
        }
        if (!*end)
            return nullptr;
        entry = end;
    }
}

/* posix_spawn(p) while tracing: glibc makes the exec itself, which the table does not see; the line
 * of the exec that starts the program is made here and printed by it (libos::trace_spawn_exec). */
template <typename Spawn>
int traced_spawn(const char* file, bool search, char* const argv[], char* const envp[], Spawn spawn) {
    shim::ensure();
    if (libos::g_tracing) {
        char found[PATH_MAX];
        if (const char* program = search ? spawn_program(file, found, sizeof(found)) : file)
            libos::trace_spawn_exec(program, argv, envp);
    }
    int ret = with_environment(envp, spawn, false);
    libos::trace_exec_line_copied(); /* when no environment took the line */
    return ret;
}

}  // namespace

SHIM_EXPORT int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
                            const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) noexcept {
    libos::VfsSpawnCopies outer;
    shim::spawn_actions_begin(actions, &outer);
    int ret = traced_spawn(path, false, argv, envp, [&](char* const* env) {
        return SHIM_REAL(posix_spawn)(pid, path, actions, attr, argv, env);
    });
    shim::spawn_actions_end(outer);
    return ret;
}

SHIM_EXPORT int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* actions,
                             const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) noexcept {
    libos::VfsSpawnCopies outer;
    shim::spawn_actions_begin(actions, &outer);
    int ret = traced_spawn(file, true, argv, envp, [&](char* const* env) {
        return SHIM_REAL(posix_spawnp)(pid, file, actions, attr, argv, env);
    });
    shim::spawn_actions_end(outer);
    return ret;
}
