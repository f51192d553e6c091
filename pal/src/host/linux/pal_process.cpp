/* PalProcessRead, PalProcessReadRanges, PalProcessWrite, PalThreadLastCpu, PalThreadProcess:
 * another process's memory, placement and identity, for strict mode's supervisor, which answers
 * system calls on behalf of threads of other processes. */
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "pal/pal.h"
#include "pal_linux.h"

namespace {

/* process_vm_readv/writev of one range. A short transfer means the range ran into memory the target
 * cannot give: the kernel's copy_from_user/copy_to_user would have faulted there. */
long transfer(long nr, pid_t pid, void* local, uintptr_t remote, size_t size) {
    if (size == 0)
        return 0;
    struct iovec mine = {local, size};
    struct iovec theirs = {reinterpret_cast<void*>(remote), size};
    long done = pal_raw(nr, pid, reinterpret_cast<long>(&mine), 1, reinterpret_cast<long>(&theirs), 1, 0);
    if (done == static_cast<long>(size))
        return 0;
    if (done >= 0 || done == -EFAULT)
        return -EFAULT;
    return done;
}

}  // namespace

/* "/proc/<tid>/<leaf>" into out. */
void pal_proc_path(char* out, pid_t tid, const char* leaf) {
    const char prefix[] = "/proc/";
    char* p = out;
    for (const char* s = prefix; *s; ++s)
        *p++ = *s;
    char digits[12];
    int n = 0;
    unsigned long v = static_cast<unsigned long>(tid);
    do {
        digits[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = digits[--n];
    *p++ = '/';
    for (const char* s = leaf; *s; ++s)
        *p++ = *s;
    *p = '\0';
}

extern "C" long PalProcessRead(pid_t pid, void* dst, uintptr_t src, size_t size) {
    return transfer(SYS_process_vm_readv, pid, dst, src, size);
}

extern "C" long PalProcessWrite(pid_t pid, uintptr_t dst, const void* src, size_t size) {
    return transfer(SYS_process_vm_writev, pid, const_cast<void*>(src), dst, size);
}

extern "C" long PalProcessReadRanges(pid_t pid, const PalReadRange* ranges, size_t count) {
    if (count > static_cast<size_t>(kPalReadRanges))
        return -EINVAL;
    struct iovec mine[kPalReadRanges], theirs[kPalReadRanges];
    size_t total = 0;
    for (size_t i = 0; i < count; ++i) {
        mine[i] = {ranges[i].dst, ranges[i].size};
        theirs[i] = {reinterpret_cast<void*>(ranges[i].src), ranges[i].size};
        total += ranges[i].size;
    }
    if (total == 0)
        return 0;
    long done = pal_raw(SYS_process_vm_readv, pid, reinterpret_cast<long>(mine), static_cast<long>(count),
                        reinterpret_cast<long>(theirs), static_cast<long>(count), 0);
    if (done == static_cast<long>(total))
        return 0;
    if (done >= 0 || done == -EFAULT)
        return -EFAULT;
    return done;
}

extern "C" long PalThreadLastCpu(pid_t tid) {
    char path[48];
    char buf[1024];
    pal_proc_path(path, tid, "stat");
    long len = pal_read_small_file(path, buf, sizeof(buf));
    if (len < 0)
        return len;
    /* "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted from
     * the last ')'. The processor is field 39; after the ')' comes field 3. */
    long close = -1;
    for (long i = 0; i < len; ++i)
        if (buf[i] == ')')
            close = i;
    if (close < 0)
        return -EINVAL;
    int field = 2;
    for (long i = close + 1; i < len; ++i) {
        if (buf[i] != ' ')
            continue;
        if (++field == 39) {
            long cpu = 0;
            bool any = false;
            for (long j = i + 1; j < len && buf[j] >= '0' && buf[j] <= '9'; ++j) {
                cpu = cpu * 10 + (buf[j] - '0');
                any = true;
            }
            return any ? cpu : -EINVAL;
        }
    }
    return -EINVAL;
}

/* Where the value after "\n<key>" starts in a status file's text, or -1. */
long pal_status_value(const char* buf, long len, const char* key) {
    long klen = 0;
    while (key[klen])
        ++klen;
    for (long i = 0; i + klen < len; ++i) {
        if (buf[i] != '\n')
            continue;
        long k = 0;
        while (k < klen && buf[i + 1 + k] == key[k])
            ++k;
        if (k == klen)
            return i + 1 + klen;
    }
    return -1;
}

/* Reads a number (base 10 or 16) at *at, skipping blanks first; -1 if there is none. */
long pal_read_number(const char* buf, long len, long* at, int base) {
    long j = *at;
    while (j < len && (buf[j] == ' ' || buf[j] == '\t'))
        ++j;
    long v = 0;
    bool any = false;
    for (; j < len; ++j) {
        char c = buf[j];
        int d = c >= '0' && c <= '9' ? c - '0' : base == 16 && c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            break;
        v = v * base + d;
        any = true;
    }
    *at = j;
    return any ? v : -1;
}

/* The number after "\n<key>" in a status file's text, or -1. */
long pal_status_field(const char* buf, long len, const char* key) {
    long at = pal_status_value(buf, len, key);
    return at < 0 ? -1 : pal_read_number(buf, len, &at, 10);
}

/* /proc/<tid>/status into buf: its length, or -errno. */
long pal_read_status(pid_t tid, char* buf, size_t size) {
    char path[48];
    pal_proc_path(path, tid, "status");
    return pal_read_small_file(path, buf, size);
}

extern "C" long PalThreadProcess(pid_t tid, pid_t* tgid, pid_t* ppid) {
    /* Tgid and PPid come within the status file's first lines (after Name, at most 64 bytes escaped,
     * Umask, State and Ngid): a small buffer, as this runs on any thread's stack. */
    char buf[512];
    long len = pal_read_status(tid, buf, sizeof(buf));
    if (len < 0)
        return len;
    long group = pal_status_field(buf, len, "Tgid:");
    long parent = pal_status_field(buf, len, "PPid:");
    if (group <= 0 || parent < 0)
        return -EINVAL;
    *tgid = static_cast<pid_t>(group);
    *ppid = static_cast<pid_t>(parent);
    return 0;
}

/* ---- this process ------------------------------------------------------------------------------ */

/* These three with the table's fork path and start-up code (.text.startup, libos_sections.h; the PAL
 * includes no header of the table's): a fork child calls them, and each 64 KiB of code it runs costs
 * it a page fault. */
#define PAL_FORK_PATH __attribute__((section(".text.startup")))

extern "C" PAL_FORK_PATH pid_t PalProcessGetId(void) {
    return static_cast<pid_t>(pal_raw(SYS_getpid));
}

extern "C" PAL_FORK_PATH pid_t PalProcessGetParentId(void) {
    return static_cast<pid_t>(pal_raw(SYS_getppid));
}

extern "C" long PalProcessCompareMemory(pid_t a, pid_t b) {
    constexpr long kKcmpVm = 1; /* KCMP_VM, <linux/kcmp.h> */
    long order = pal_raw(SYS_kcmp, a, b, kKcmpVm, 0, 0);
    if (order < 0)
        return order;
    return order == 0 ? 0 : 1;
}

extern "C" long PalProcessFork(void) {
#ifdef SYS_fork
    return pal_raw(SYS_fork);
#else
    /* arm64 has no fork(2): clone(2) with SIGCHLD alone is the same call. */
    return pal_raw(SYS_clone, SIGCHLD, 0, 0, 0, 0);
#endif
}

extern "C" long PalProcessClone(unsigned long flags, unsigned long newsp, int* parent_tid, int* child_tid,
                                unsigned long tls) {
    return pal_raw(SYS_clone, static_cast<long>(flags), static_cast<long>(newsp), reinterpret_cast<long>(parent_tid),
                   reinterpret_cast<long>(child_tid), static_cast<long>(tls));
}

extern "C" long PalProcessExec(const char* path, char* const argv[], char* const envp[]) {
    return pal_raw(SYS_execve, reinterpret_cast<long>(path), reinterpret_cast<long>(argv),
                   reinterpret_cast<long>(envp));
}

extern "C" long PalProcessExecAt(int dirfd, const char* path, char* const argv[], char* const envp[], int flags) {
    return pal_raw(SYS_execveat, dirfd, reinterpret_cast<long>(path), reinterpret_cast<long>(argv),
                   reinterpret_cast<long>(envp), flags);
}

extern "C" PAL_FORK_PATH void PalProcessExit(int status) {
    for (;;)
        pal_raw(SYS_exit_group, status);
}
