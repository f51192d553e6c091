/* PalProcessRead, PalProcessWrite, PalThreadLastCpu, PalThreadProcess: another process's memory and
 * placement, for strict mode's supervisor, which answers system calls on behalf of threads of other
 * processes. */
#include <errno.h>
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

/* "/proc/<tid>/<leaf>" into out. */
void proc_path(char* out, pid_t tid, const char* leaf) {
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

}  // namespace

extern "C" long PalProcessRead(pid_t pid, void* dst, uintptr_t src, size_t size) {
    return transfer(SYS_process_vm_readv, pid, dst, src, size);
}

extern "C" long PalProcessWrite(pid_t pid, uintptr_t dst, const void* src, size_t size) {
    return transfer(SYS_process_vm_writev, pid, const_cast<void*>(src), dst, size);
}

extern "C" long PalThreadLastCpu(pid_t tid) {
    char path[48];
    char buf[1024];
    proc_path(path, tid, "stat");
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

namespace {

/* The number after "\n<key>" in a status file's text, or -1. */
long status_field(const char* buf, long len, const char* key) {
    long klen = 0;
    while (key[klen])
        ++klen;
    for (long i = 0; i + klen < len; ++i) {
        if (buf[i] != '\n')
            continue;
        long k = 0;
        while (k < klen && buf[i + 1 + k] == key[k])
            ++k;
        if (k < klen)
            continue;
        long j = i + 1 + klen;
        while (j < len && (buf[j] == ' ' || buf[j] == '\t'))
            ++j;
        long v = 0;
        bool any = false;
        while (j < len && buf[j] >= '0' && buf[j] <= '9') {
            v = v * 10 + (buf[j++] - '0');
            any = true;
        }
        return any ? v : -1;
    }
    return -1;
}

}  // namespace

extern "C" long PalThreadProcess(pid_t tid, pid_t* tgid, pid_t* ppid) {
    char path[48];
    char buf[2048];
    proc_path(path, tid, "status");
    long len = pal_read_small_file(path, buf, sizeof(buf));
    if (len < 0)
        return len;
    long group = status_field(buf, len, "Tgid:");
    long parent = status_field(buf, len, "PPid:");
    if (group <= 0 || parent < 0)
        return -EINVAL;
    *tgid = static_cast<pid_t>(group);
    *ppid = static_cast<pid_t>(parent);
    return 0;
}
