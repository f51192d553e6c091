/* strict_raw: asks the CPU questions of strict mode with raw `syscall` instructions, never through
 * libc's wrappers for them, so that only a seccomp supervisor (libos-run --strict) can answer them
 * with the virtual machine. Built twice by tests/strict/meson.build: statically (no shim can ever be
 * loaded into it) and dynamically (the shim may be loaded, but it does not see inline assembly).
 *
 * Usage: strict_raw COMMAND [ARGS] [COMMAND [ARGS]]...
 * The commands run in order; each prints one or more `key=value` lines on stdout. A system call's
 * failure is printed as its raw result, the negative errno (`err=-22` is EINVAL), so that a test can
 * compare the result with Linux's rule or with the same command run natively. The exit status is 0
 * unless a command could not be carried out at all (bad usage: 2; a helper call failed: 1).
 *
 *   count               raw sched_getaffinity(0, 128 bytes): cpus=<bits set> bytes=<bytes returned>
 *   mask                the same call: mask=<list of the set bits>
 *   libc                libc's sched_getaffinity (for comparison): libc_cpus=<bits set>
 *   sysconf             libc's sysconf(_SC_NPROCESSORS_ONLN/_CONF): onln=<n> conf=<n>
 *   pin V               raw sched_setaffinity(0, {V}), then mask, then getcpu
 *   pinpid V            raw sched_setaffinity(getpid(), {V}) (explicit pid): pinpid=<result>, then mask
 *   getpid PID          raw sched_getaffinity(PID, 128 bytes): pidmask=<list or errno>
 *   tidpin V            a thread, pinned to {V} by the main thread through its tid: tidmask=<list the
 *                       thread reads back> mainmask=<the main thread's list afterwards>
 *   newthread           a new thread reads its mask (raw) and getcpu: threadmask=<list> threadcpu=<cpu>
 *   workerthread V      a thread pins itself to {V} (raw), then starts a thread that reads its mask:
 *                       workermask=<the worker's list> workerthreadmask=<the new thread's list>
 *   sibling V           a thread pins itself to {V} (raw) and stays (blocked until the process
 *                       exits); the caller's mask is untouched: siblingmask=<the list it read back>
 *   getcpu              raw getcpu(&cpu, &node, NULL): getcpu=<cpu>
 *   getlen LEN          raw sched_getaffinity(0, LEN, buffer): getlen=<result>
 *   getpidmask PID      raw sched_getaffinity(PID, 128, buffer): getpidmask=<result>
 *   einval              getlen 4
 *   efault              raw sched_getaffinity(0, 128, (void *)8): err=<result>
 *   esrch               raw sched_getaffinity(<no such pid>, 128, buffer): esrch=<result>
 *   set_efault          raw sched_setaffinity(0, 128, (void *)8): set_efault=<result>
 *   set_empty           raw sched_setaffinity(0, 128, {}): set_empty=<result>
 *   set_bit B           raw sched_setaffinity(0, 128, {B}) without reading back: set_bit=<result>
 *   getcpu_efault       raw getcpu((void *)8, NULL, NULL): getcpu_efault=<result>
 *   online | possible | present | offline | kernel_max
 *                       raw openat(AT_FDCWD, /sys/devices/system/cpu/<name>): <name>=<first line>
 *   read PATH           raw openat(AT_FDCWD, PATH): read=<first line, or the negative errno>
 *   readat DIR REL      raw openat(DIR) then raw openat(dirfd, REL): readat=<first line or errno>
 *   openat2 PATH        raw openat2(AT_FDCWD, PATH): openat2=<first line or errno>
 *   size PATH           raw openat(AT_FDCWD, PATH), read to the end: size=<bytes read>
 *   openflags PATH      raw openat(PATH, O_RDONLY) and openat(PATH, O_RDONLY | O_CLOEXEC): the
 *                       descriptor numbers and their FD_CLOEXEC flags: fd=<n> cloexec=<0|1> fd=<n>
 *                       cloexec=<0|1> (both closed afterwards, so a run natively compares)
 *   openw PATH          raw openat(PATH, O_WRONLY): openw=<result> (closed if it opened)
 *   opendir_file PATH   raw openat(PATH, O_RDONLY | O_DIRECTORY): opendir_file=<result>
 *   writefd PATH        raw openat(PATH, O_RDONLY), then write(2) to it: writefd=<write's result>
 *   seek PATH           reads 5 bytes, lseek back to 0, reads 5 bytes again, pread 4 at offset 1:
 *                       seek=<same|differ> pread=<same|differ>
 *   openstorm K         K threads, each 100 times raw openat + read + close of the online file:
 *                       openstorm_ok=<threads whose every read was the same as the first>
 *                       fds_leaked=<descriptors open afterwards that were not before>
 *   sigstorm N          N raw sched_getaffinity calls and N raw opens of the online file while a
 *                       timer signal (handler without SA_RESTART) arrives every 50 us:
 *                       sigstorm_signals=<more than 0: yes|no> sigstorm_other=<calls whose result was
 *                       neither the usual one nor EINTR>
 *   sigstorm_restart N  the same with an SA_RESTART handler: sigstorm_signals=<yes|no>
 *                       sigstorm_bad=<calls whose result was not the usual one>
 *   cpuinfo             raw open (SYS_open) of /proc/cpuinfo: cpuinfo=<lines starting "processor">
 *   stat                raw open of /proc/stat: stat_cpus=<"cpuN" lines>
 *   status              raw open of /proc/self/status: status=<Cpus_allowed_list>
 *   statusmask          the same file: status_mask=<Cpus_allowed>
 *   pidstatus           raw open of /proc/<pid>/status: pidstatus=<Cpus_allowed_list>
 *   siblingstatus       raw open of /proc/<pid>/task/<tid of the latest sibling>/status:
 *                       siblingstatus=<Cpus_allowed_list>
 *   shim                shim=1 when libshim.so is mapped in this process, else 0
 *   threads K           K threads; thread i pins itself (raw) to the (i mod n)-th CPU of the process's
 *                       mask, reads it back and asks getcpu, 20 times: threads_ok=<threads that
 *                       always saw their CPU> mainmask=<the main thread's list afterwards>
 *   forks K             K children, one after another, each exits with its raw CPU count:
 *                       forks_ok=<children whose count equals the parent's>
 *   forkmask            one child prints its mask and getcpu (raw): childmask=<list> childcpu=<cpu>
 *   grandchild          a child that makes no CPU call forks a grandchild, which prints its mask:
 *                       grandchildmask=<list>
 *   eperm               (as root) a child that became user 65534 sets (raw) the affinity of another
 *                       child of ours, then reads it: eperm_set=<result> eperm_get=<ok or the errno>
 *   i386                the 32-bit ABI (int 0x80): getpid (i386 #20) and sched_getaffinity (i386 #242)
 *                       into memory below 4 GiB: i386=<sched_getaffinity's result, or
 *                       "unsupported" when the kernel has no 32-bit emulation>
 *   setpid PID V        raw sched_setaffinity(PID, {V}) of another task: setpid=<result>
 *   switches N          N raw sched_getaffinity calls: supervisor_threads=<libos-run's threads but
 *                       its first> supervisor_switches=<their voluntary context switches meanwhile>
 *                       supervisor_switches_others=<the same, without the thread that had most>
 *   stall               a thread's raw getcpu holds the supervisor thread that answers it (a test
 *                       build's hook) until another call is answered; meanwhile raw sched_getaffinity:
 *                       stall=answered once both returned
 *   stall2              two threads' raw getcpu each hold a supervisor thread (the hook above); once
 *                       both wait in the kernel, raw sched_getaffinity until both returned, which
 *                       needs a third supervisor thread to take over: stall2=answered
 *   libcpin V           libc's sched_setaffinity(0, {V}) (the shim's, in a process with it):
 *                       libcpin=<result>, then the raw mask: rawmask=<list>
 *   libcmask            libc's sched_getaffinity(getpid()): libcmask=<list>
 *   childpin V          a child waits; its parent pins it (raw) to V by its pid and reads it by its
 *                       pid: childpin=<result> childpin_mask=<list>; then the child reads its own:
 *                       childpin_own=<list> (pids as the caller's PID namespace names them)
 *   zombie              a child ends and is left unwaited (a zombie, its pid still its own); its
 *                       parent reads and sets (to {0}) its mask by its pid, raw, then waits for it:
 *                       zombie_get=<0 or the negative errno> zombie_set=<result>
 *   statusof PID        raw open of /proc/PID/status: statusof=<Cpus_allowed_list or errno>
 *   pidfile PATH        writes this process's pid to PATH, atomically (for a test that looks from
 *                       outside)
 *   sleep MS            sleeps MS milliseconds
 *   spawn PATH ARGS...  posix_spawn (a vfork-style clone) of PATH with an empty environment, and
 *                       wait for it; the rest of the command line belongs to PATH
 *   exec PATH ARGS...   libc's execve(PATH, [PATH, ARGS...], {}): an empty environment, as env -i
 *                       gives; the rest of the command line belongs to PATH
 *   rawexec PATH ARGS...  the same with a raw execve instruction
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MASK_BYTES 128 /* room for 1024 CPUs */
#define NO_SUCH_PID 0x3fffffff

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

/* ---- the raw system call ------------------------------------------------------------------- */

/* One `syscall` instruction: the result is the kernel's (or the supervisor's) raw value, a
 * negative errno on failure. Nothing in libc or in a preloaded library sees it. */
static long raw(long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
    long ret;
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
#define RAW3(nr, a, b, c) raw((nr), (long)(a), (long)(b), (long)(c), 0, 0, 0)

static long raw_getaffinity(long pid, unsigned long len, void* mask) {
    return RAW3(SYS_sched_getaffinity, pid, len, mask);
}
static long raw_setaffinity(long pid, unsigned long len, const void* mask) {
    return RAW3(SYS_sched_setaffinity, pid, len, mask);
}
static long raw_getcpu(unsigned* cpu, unsigned* node) {
    return RAW3(SYS_getcpu, cpu, node, 0);
}
static long raw_gettid(void) {
    return RAW3(SYS_gettid, 0, 0, 0);
}

/* ---- output ---------------------------------------------------------------------------------- */

/* Every line goes out at once with write(2), so that nothing is lost or doubled across fork and
 * exec, and lines of different processes do not interleave mid-line. */
static void say(const char* fmt, ...) {
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    for (int done = 0; done < n;) {
        long w = RAW3(SYS_write, 1, line + done, n - done);
        if (w <= 0)
            break;
        done += (int)w;
    }
}

static int failed; /* a command could not be carried out */

static void complain(const char* fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "strict_raw: %s\n", line);
    failed = 1;
}

/* ---- masks ------------------------------------------------------------------------------------ */

static int popcount_bytes(const unsigned char* mask, long bytes) {
    int n = 0;
    for (long i = 0; i < bytes; ++i)
        n += __builtin_popcount(mask[i]);
    return n;
}

/* "0-3,8", or "(empty)". */
static void list_of(const unsigned char* mask, long bytes, char* out, size_t size) {
    size_t used = 0;
    out[0] = '\0';
    for (long c = 0; c < bytes * 8;) {
        if (!(mask[c / 8] & (1u << (c % 8)))) {
            ++c;
            continue;
        }
        long first = c;
        while (c < bytes * 8 && (mask[c / 8] & (1u << (c % 8))))
            ++c;
        long last = c - 1;
        int n = last == first ? snprintf(out + used, size - used, "%s%ld", used ? "," : "", first)
                              : snprintf(out + used, size - used, "%s%ld-%ld", used ? "," : "", first, last);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
    if (!out[0])
        snprintf(out, size, "(empty)");
}

static void single(unsigned char* mask, long cpu) {
    memset(mask, 0, MASK_BYTES);
    if (cpu >= 0 && cpu < MASK_BYTES * 8)
        mask[cpu / 8] = (unsigned char)(1u << (cpu % 8));
}

/* The n-th (from 0) CPU of the calling thread's mask, wrapping around; -1 if it cannot be read. */
static long nth_cpu(long n) {
    unsigned char mask[MASK_BYTES] = {0};
    long got = raw_getaffinity(0, sizeof(mask), mask);
    if (got <= 0)
        return -1;
    int count = popcount_bytes(mask, got);
    if (count == 0)
        return -1;
    n %= count;
    for (long c = 0; c < got * 8; ++c)
        if ((mask[c / 8] & (1u << (c % 8))) && n-- == 0)
            return c;
    return -1;
}

static void print_mask(const char* key) {
    unsigned char mask[MASK_BYTES] = {0};
    long got = raw_getaffinity(0, sizeof(mask), mask);
    if (got < 0) {
        say("%s=%ld", key, got);
        return;
    }
    char list[8192];
    list_of(mask, got, list, sizeof(list));
    say("%s=%s", key, list);
}

/* ---- the supervisor's threads ---------------------------------------------------------------- */

/* libos-run's pid: this program's parent is the launch's keeper, whose parent is libos-run. */
static long launcher_pid(void) {
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)getppid());
    FILE* f = fopen(path, "re");
    if (!f)
        return -1;
    long ppid = -1;
    if (fgets(line, sizeof(line), f)) {
        const char* close_paren = strrchr(line, ')');
        char state;
        if (!close_paren || sscanf(close_paren + 1, " %c %ld", &state, &ppid) != 2)
            ppid = -1;
    }
    fclose(f);
    return ppid;
}

/* The voluntary context switches of every thread of process `pid` but its first (the supervisor's
 * threads, in libos-run), by tid: how many threads were read (at most `max`). */
#define MAX_SUPERVISORS 64
static int supervisor_switches(long pid, long* tids, long* counts, int max) {
    char path[320], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/task", pid);
    DIR* d = opendir(path);
    if (!d)
        return -1;
    int threads = 0;
    struct dirent* e;
    while ((e = readdir(d)) && threads < max) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || atol(e->d_name) == pid)
            continue;
        snprintf(path, sizeof(path), "/proc/%ld/task/%s/status", pid, e->d_name);
        FILE* f = fopen(path, "re");
        if (!f)
            continue;
        tids[threads] = atol(e->d_name);
        counts[threads] = 0;
        while (fgets(line, sizeof(line), f))
            if (sscanf(line, "voluntary_ctxt_switches: %ld", &counts[threads]) == 1)
                break;
        fclose(f);
        ++threads;
    }
    closedir(d);
    return threads;
}

/* "switches N": N raw sched_getaffinity calls; how often the supervisor's threads slept meanwhile: all
 * of them, and all but the one that slept most. */
static void switches(long calls) {
    long pid = launcher_pid();
    long tids[MAX_SUPERVISORS], before[MAX_SUPERVISORS], tids_after[MAX_SUPERVISORS], after[MAX_SUPERVISORS];
    int n_before = pid > 0 ? supervisor_switches(pid, tids, before, MAX_SUPERVISORS) : -1;
    unsigned char mask[MASK_BYTES];
    for (long i = 0; i < calls; ++i)
        raw_getaffinity(0, sizeof(mask), mask);
    int n_after = n_before >= 0 ? supervisor_switches(pid, tids_after, after, MAX_SUPERVISORS) : -1;
    long total = 0, most = 0;
    for (int i = 0; i < n_after; ++i) {
        long delta = after[i];
        for (int j = 0; j < n_before; ++j)
            if (tids[j] == tids_after[i])
                delta -= before[j];
        total += delta;
        if (delta > most)
            most = delta;
    }
    say("supervisor_threads=%d", n_after);
    say("supervisor_switches=%ld", n_after >= 0 ? total : -1);
    say("supervisor_switches_others=%ld", n_after >= 0 ? total - most : -1);
}

/* "stall": a thread's raw getcpu carries the mark that holds the answering supervisor thread (a test
 * build's hook, launcher/strict/supervisor.cpp) until another call has been answered; meanwhile this
 * thread asks raw sched_getaffinity until the getcpu returns. Without another supervisor thread to
 * take over, neither would ever return. */
static atomic_int g_stalled_done;
static void* stalled_getcpu(void* arg) {
    (void)arg;
    unsigned cpu = 0;
    RAW3(SYS_getcpu, &cpu, 0, 0x574111edL);
    atomic_store(&g_stalled_done, 1);
    return NULL;
}

static void stall(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, stalled_getcpu, NULL) != 0) {
        say("stall=pthread_create");
        return;
    }
    unsigned char mask[MASK_BYTES];
    long asked = 0;
    while (!atomic_load(&g_stalled_done)) {
        raw_getaffinity(0, sizeof(mask), mask);
        ++asked;
    }
    pthread_join(t, NULL);
    say("stall=%s", asked > 0 ? "answered" : "none");
}

/* "stall2": two held getcpu calls at once. Each thread names its tid, waits for the go, then traps;
 * this thread watches /proc/self/task/<tid>/syscall (opened before the go: an open is trapped too)
 * until both wait in getcpu, so that both are queued before its own calls. */
static atomic_int g_stall2_go, g_stall2_done;
static atomic_long g_stall2_tids[2];
static void* stalled_getcpu2(void* arg) {
    long i = (long)arg;
    atomic_store(&g_stall2_tids[i], raw_gettid());
    while (!atomic_load(&g_stall2_go))
        ;
    unsigned cpu = 0;
    RAW3(SYS_getcpu, &cpu, 0, 0x574111edL);
    atomic_fetch_add(&g_stall2_done, 1);
    return NULL;
}

static int waits_in_getcpu(int fd) {
    char text[64] = {0};
    long n = pread(fd, text, sizeof(text) - 1, 0);
    return n > 0 && atol(text) == SYS_getcpu && text[0] >= '0' && text[0] <= '9';
}

static void stall2(void) {
    pthread_t t[2];
    int fds[2];
    for (long i = 0; i < 2; ++i) {
        if (pthread_create(&t[i], NULL, stalled_getcpu2, (void*)i) != 0) {
            say("stall2=pthread_create");
            return;
        }
    }
    for (int i = 0; i < 2; ++i) {
        while (!atomic_load(&g_stall2_tids[i]))
            ;
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/task/%ld/syscall", atomic_load(&g_stall2_tids[i]));
        fds[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0) {
            say("stall2=open");
            return;
        }
    }
    atomic_store(&g_stall2_go, 1);
    while (!waits_in_getcpu(fds[0]) || !waits_in_getcpu(fds[1]))
        usleep(1000);
    unsigned char mask[MASK_BYTES];
    long asked = 0;
    while (atomic_load(&g_stall2_done) < 2) {
        raw_getaffinity(0, sizeof(mask), mask);
        ++asked;
    }
    for (int i = 0; i < 2; ++i) {
        pthread_join(t[i], NULL);
        close(fds[i]);
    }
    say("stall2=%s", asked > 0 ? "answered" : "none");
}

/* ---- files ------------------------------------------------------------------------------------- */

/* Reads an open descriptor to its end (raw read); returns the bytes read, or a negative errno. */
static long read_all(int fd, char* buf, size_t size) {
    size_t used = 0;
    for (;;) {
        if (used + 1 >= size)
            break;
        long n = RAW3(SYS_read, fd, buf + used, size - 1 - used);
        if (n < 0) {
            RAW3(SYS_close, fd, 0, 0);
            return n;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    buf[used] = '\0';
    RAW3(SYS_close, fd, 0, 0);
    return (long)used;
}

/* Counts the whole length of an open descriptor, however long (raw read). */
static long size_of(int fd) {
    char buf[65536];
    long total = 0;
    for (;;) {
        long n = RAW3(SYS_read, fd, buf, sizeof(buf));
        if (n < 0) {
            RAW3(SYS_close, fd, 0, 0);
            return n;
        }
        if (n == 0)
            break;
        total += n;
    }
    RAW3(SYS_close, fd, 0, 0);
    return total;
}

static char file_buf[1 << 20];

/* The first line of the text, without its newline, in place. */
static const char* first_line(char* text) {
    char* nl = strchr(text, '\n');
    if (nl)
        *nl = '\0';
    return text;
}

/* Prints key=<first line of PATH>, or key=<negative errno> when the open or the read fails. */
static void print_first_line(const char* key, long fd) {
    if (fd < 0) {
        say("%s=%ld", key, fd);
        return;
    }
    long n = read_all((int)fd, file_buf, sizeof(file_buf));
    if (n < 0)
        say("%s=%ld", key, n);
    else
        say("%s=%s", key, first_line(file_buf));
}

static long raw_openat(int dirfd, const char* path, long flags) {
    return raw(SYS_openat, dirfd, (long)path, flags, 0, 0, 0);
}

static long raw_open(const char* path, long flags) {
    return RAW3(SYS_open, path, flags, 0);
}

struct open_how_v0 {
    unsigned long long flags;
    unsigned long long mode;
    unsigned long long resolve;
};

static long raw_openat2(int dirfd, const char* path, long flags) {
    struct open_how_v0 how = {(unsigned long long)flags, 0, 0};
    return raw(SYS_openat2, dirfd, (long)path, (long)&how, sizeof(how), 0, 0);
}

/* Lines of the text that start with `prefix` (and, when digit is set, go on with a digit). */
static int count_lines(const char* text, const char* prefix, int digit) {
    int n = 0;
    size_t len = strlen(prefix);
    for (const char* line = text; line && *line;) {
        if (strncmp(line, prefix, len) == 0 && (!digit || (line[len] >= '0' && line[len] <= '9')))
            ++n;
        const char* nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    return n;
}

/* Prints key=<the value of `field` in the status file at path> (raw open), or the negative errno. */
static void print_status_field(const char* key, const char* path, const char* field) {
    long fd = raw_open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        say("%s=%ld", key, fd);
        return;
    }
    long n = read_all((int)fd, file_buf, sizeof(file_buf));
    if (n < 0) {
        say("%s=%ld", key, n);
        return;
    }
    char needle[64];
    snprintf(needle, sizeof(needle), "\n%s:", field);
    const char* at = strstr(file_buf, needle);
    if (!at) {
        say("%s=(missing)", key);
        return;
    }
    at += strlen(needle);
    while (*at == ' ' || *at == '\t')
        ++at;
    char value[4096];
    size_t len = strcspn(at, "\n");
    if (len >= sizeof(value))
        len = sizeof(value) - 1;
    memcpy(value, at, len);
    value[len] = '\0';
    say("%s=%s", key, value);
}

/* The number of open descriptors, from /proc/self/fd (getdents: not a virtualized call). */
static int open_fds(void) {
    DIR* d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent* e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            ++n;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

struct storm_job {
    int ok;
};

static void* opening_thread(void* arg) {
    struct storm_job* job = arg;
    char first[256] = "", now[256];
    job->ok = 1;
    for (int round = 0; round < 100; ++round) {
        long fd = raw_openat(AT_FDCWD, "/sys/devices/system/cpu/online", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            job->ok = 0;
            return NULL;
        }
        long n = RAW3(SYS_read, fd, now, sizeof(now) - 1);
        RAW3(SYS_close, fd, 0, 0);
        if (n <= 0) {
            job->ok = 0;
            return NULL;
        }
        now[n] = '\0';
        if (round == 0)
            memcpy(first, now, sizeof(first));
        else if (strcmp(first, now) != 0)
            job->ok = 0;
    }
    return NULL;
}

static void run_openstorm(long k) {
    if (k <= 0 || k > 256) {
        complain("openstorm: K must be 1 to 256");
        return;
    }
    int before = open_fds();
    struct storm_job jobs[256];
    pthread_t ids[256];
    int ok = 0;
    for (long i = 0; i < k; ++i)
        if (pthread_create(&ids[i], NULL, opening_thread, &jobs[i]) != 0)
            jobs[i].ok = -1;
    for (long i = 0; i < k; ++i) {
        if (jobs[i].ok != -1)
            pthread_join(ids[i], NULL);
        ok += jobs[i].ok == 1;
    }
    say("openstorm_ok=%d", ok);
    say("fds_leaked=%d", open_fds() - before);
}

static volatile sig_atomic_t ticks;
static void on_tick(int sig) {
    (void)sig;
    ++ticks;
}

/* Raw calls while a timer signal arrives every 50 us. Linux never fails these calls with EINTR; under
 * strict mode a signal that arrives before a supervisor thread has taken the call interrupts it
 * (docs/strict-mode.md, Limits): EINTR without SA_RESTART, a restart with it, and never another
 * wrong result. */
static void run_sigstorm(long n, int restart) {
    /* The usual result, before the first tick: a call the timer interrupted would be taken for it. */
    unsigned char mask[MASK_BYTES];
    long usual = raw_getaffinity(0, sizeof(mask), mask);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_tick;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval every = {{0, 50}, {0, 50}};
    setitimer(ITIMER_REAL, &every, NULL);
    long bad = 0, eintr = 0, bad_get = 0, bad_open = 0, bad_read = 0;
    char buf[64];
    for (long i = 0; i < n; ++i) {
        long r = raw_getaffinity(0, sizeof(mask), mask);
        if (r != usual) {
            ++bad, ++bad_get;
            eintr += r == -EINTR;
        }
        long fd = raw_openat(AT_FDCWD, "/sys/devices/system/cpu/online", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            ++bad, ++bad_open;
            eintr += fd == -EINTR;
            continue;
        }
        long got = RAW3(SYS_read, fd, buf, sizeof(buf));
        if (got <= 0) {
            ++bad, ++bad_read;
            eintr += got == -EINTR;
        }
        RAW3(SYS_close, fd, 0, 0);
    }
    if (bad)
        fprintf(stderr, "strict_raw: sigstorm: %ld getaffinity, %ld openat and %ld read calls failed\n", bad_get,
                bad_open, bad_read);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    signal(SIGALRM, SIG_IGN);
    say("sigstorm_signals=%s", ticks > 0 ? "yes" : "no");
    if (restart)
        say("sigstorm_bad=%ld", bad);
    else
        say("sigstorm_other=%ld", bad - eintr);
}

/* ---- threads ---------------------------------------------------------------------------------- */

struct thread_job {
    long index;
    long cpu;         /* the CPU it pins itself to */
    int ok;           /* it saw that CPU every time */
    char detail[640]; /* what it saw instead */
};

static void* pinning_thread(void* arg) {
    struct thread_job* job = arg;
    unsigned char want[MASK_BYTES];
    single(want, job->cpu);
    long r = raw_setaffinity(0, sizeof(want), want);
    if (r != 0) {
        snprintf(job->detail, sizeof(job->detail), "setaffinity {%ld}: %ld", job->cpu, r);
        return NULL;
    }
    for (int round = 0; round < 20; ++round) {
        unsigned char got[MASK_BYTES] = {0};
        long bytes = raw_getaffinity(0, sizeof(got), got);
        if (bytes <= 0 || popcount_bytes(got, bytes) != 1 || !(got[job->cpu / 8] & (1u << (job->cpu % 8)))) {
            char list[512];
            if (bytes > 0)
                list_of(got, bytes, list, sizeof(list));
            else
                snprintf(list, sizeof(list), "%ld", bytes);
            snprintf(job->detail, sizeof(job->detail), "round %d: mask %s, wanted %ld", round, list, job->cpu);
            return NULL;
        }
        unsigned cpu = ~0u;
        r = raw_getcpu(&cpu, NULL);
        if (r != 0 || cpu != (unsigned)job->cpu) {
            snprintf(job->detail, sizeof(job->detail), "round %d: getcpu %ld cpu %u, wanted %ld", round, r, cpu,
                     job->cpu);
            return NULL;
        }
        sched_yield();
    }
    job->ok = 1;
    return NULL;
}

static void run_threads(long k) {
    if (k <= 0 || k > 1024) {
        complain("threads: K must be 1 to 1024");
        return;
    }
    struct thread_job* jobs = calloc((size_t)k, sizeof(*jobs));
    pthread_t* ids = calloc((size_t)k, sizeof(*ids));
    if (!jobs || !ids) {
        complain("threads: out of memory");
        return;
    }
    long started = 0;
    for (long i = 0; i < k; ++i) {
        jobs[i].index = i;
        jobs[i].cpu = nth_cpu(i);
        if (jobs[i].cpu < 0) {
            snprintf(jobs[i].detail, sizeof(jobs[i].detail), "the process's mask cannot be read");
            continue;
        }
        int e = pthread_create(&ids[i], NULL, pinning_thread, &jobs[i]);
        if (e != 0) {
            snprintf(jobs[i].detail, sizeof(jobs[i].detail), "pthread_create: %s", strerror(e));
            jobs[i].cpu = -1;
            continue;
        }
        ++started;
    }
    int ok = 0;
    for (long i = 0; i < k; ++i) {
        if (jobs[i].cpu >= 0)
            pthread_join(ids[i], NULL);
        if (jobs[i].ok)
            ++ok;
        else
            fprintf(stderr, "strict_raw: thread %ld: %s\n", i, jobs[i].detail);
    }
    (void)started;
    say("threads_ok=%d", ok);
    print_mask("mainmask");
    free(jobs);
    free(ids);
}

/* tidpin: a thread waits; the main thread pins it through its tid; the thread reads back. */
struct tid_job {
    volatile long tid;
    volatile int go;
    char seen[512];
};

static void* waiting_thread(void* arg) {
    struct tid_job* job = arg;
    job->tid = raw_gettid();
    while (!job->go)
        sched_yield();
    unsigned char got[MASK_BYTES] = {0};
    long bytes = raw_getaffinity(0, sizeof(got), got);
    if (bytes < 0)
        snprintf(job->seen, sizeof(job->seen), "%ld", bytes);
    else
        list_of(got, bytes, job->seen, sizeof(job->seen));
    return NULL;
}

static void run_tidpin(long v) {
    struct tid_job job;
    memset(&job, 0, sizeof(job));
    pthread_t id;
    if (pthread_create(&id, NULL, waiting_thread, &job) != 0) {
        complain("tidpin: pthread_create failed");
        return;
    }
    while (!job.tid)
        sched_yield();
    unsigned char want[MASK_BYTES];
    single(want, v);
    long r = raw_setaffinity(job.tid, sizeof(want), want);
    if (r != 0)
        say("tidpin=%ld", r);
    job.go = 1;
    pthread_join(id, NULL);
    say("tidmask=%s", job.seen);
    print_mask("mainmask");
}

/* newthread: what a thread sees when it starts, before it changes anything. */
struct new_thread_view {
    char mask[512];
    long cpu;
};

static void* viewing_thread(void* arg) {
    struct new_thread_view* view = arg;
    unsigned char got[MASK_BYTES] = {0};
    long bytes = raw_getaffinity(0, sizeof(got), got);
    if (bytes < 0)
        snprintf(view->mask, sizeof(view->mask), "%ld", bytes);
    else
        list_of(got, bytes, view->mask, sizeof(view->mask));
    unsigned cpu = ~0u;
    long r = raw_getcpu(&cpu, NULL);
    view->cpu = r != 0 ? r : (long)cpu;
    return NULL;
}

static void run_newthread(void) {
    struct new_thread_view view;
    memset(&view, 0, sizeof(view));
    pthread_t id;
    if (pthread_create(&id, NULL, viewing_thread, &view) != 0) {
        complain("newthread: pthread_create failed");
        return;
    }
    pthread_join(id, NULL);
    say("threadmask=%s", view.mask);
    say("threadcpu=%ld", view.cpu);
}

/* workerthread: a thread other than the main one pins itself, then creates a thread. */
struct worker_job {
    long cpu;
    char seen[512];
    struct new_thread_view view;
};

static void* worker_thread(void* arg) {
    struct worker_job* job = arg;
    unsigned char want[MASK_BYTES];
    single(want, job->cpu);
    long r = raw_setaffinity(0, sizeof(want), want);
    unsigned char got[MASK_BYTES] = {0};
    long bytes = raw_getaffinity(0, sizeof(got), got);
    if (r != 0)
        snprintf(job->seen, sizeof(job->seen), "set%ld", r);
    else
        list_of(got, bytes, job->seen, sizeof(job->seen));
    pthread_t id;
    if (pthread_create(&id, NULL, viewing_thread, &job->view) != 0)
        snprintf(job->view.mask, sizeof(job->view.mask), "pthread_create failed");
    else
        pthread_join(id, NULL);
    return NULL;
}

static void run_workerthread(long v) {
    struct worker_job job;
    memset(&job, 0, sizeof(job));
    job.cpu = v;
    pthread_t id;
    if (pthread_create(&id, NULL, worker_thread, &job) != 0) {
        complain("workerthread: pthread_create failed");
        return;
    }
    pthread_join(id, NULL);
    say("workermask=%s", job.seen);
    say("workerthreadmask=%s", job.view.mask);
}

/* sibling: another thread of the process changes its own mask, later than the caller did. */
static long last_sibling_tid; /* the tid of the latest `sibling` thread */

struct sibling_job {
    long cpu;
    long tid;
    volatile int done;
    char seen[512];
};

static void* sibling_thread(void* arg) {
    struct sibling_job* job = arg;
    job->tid = raw_gettid();
    unsigned char want[MASK_BYTES];
    single(want, job->cpu);
    long r = raw_setaffinity(0, sizeof(want), want);
    unsigned char got[MASK_BYTES] = {0};
    long bytes = raw_getaffinity(0, sizeof(got), got);
    if (r != 0)
        snprintf(job->seen, sizeof(job->seen), "set%ld", r);
    else if (bytes < 0)
        snprintf(job->seen, sizeof(job->seen), "%ld", bytes);
    else
        list_of(got, bytes, job->seen, sizeof(job->seen));
    __atomic_store_n(&job->done, 1, __ATOMIC_RELEASE);
    for (;;)
        pause();
    return NULL;
}

static void run_sibling(long v) {
    static struct sibling_job jobs[16];
    static int used;
    if (used == 16) {
        complain("sibling: at most 16");
        return;
    }
    struct sibling_job* job = &jobs[used++];
    job->cpu = v;
    pthread_t id;
    if (pthread_create(&id, NULL, sibling_thread, job) != 0) {
        complain("sibling: pthread_create failed");
        return;
    }
    pthread_detach(id);
    while (!__atomic_load_n(&job->done, __ATOMIC_ACQUIRE))
        sched_yield();
    last_sibling_tid = job->tid;
    say("siblingmask=%s", job->seen);
}

/* ---- processes --------------------------------------------------------------------------------- */

static void run_forks(long k) {
    unsigned char mask[MASK_BYTES] = {0};
    long bytes = raw_getaffinity(0, sizeof(mask), mask);
    int mine = bytes > 0 ? popcount_bytes(mask, bytes) : -1;
    int agree = 0;
    for (long i = 0; i < k; ++i) {
        pid_t pid = fork();
        if (pid < 0) {
            complain("forks: fork failed: %s", strerror(errno));
            break;
        }
        if (pid == 0) {
            unsigned char m[MASK_BYTES] = {0};
            long b = raw_getaffinity(0, sizeof(m), m);
            _exit(b > 0 ? popcount_bytes(m, b) & 0xff : 255);
        }
        int status = 0;
        if (waitpid(pid, &status, 0) != pid) {
            complain("forks: waitpid failed: %s", strerror(errno));
            continue;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == (mine & 0xff))
            ++agree;
        else if (WIFSIGNALED(status))
            fprintf(stderr, "strict_raw: fork child %ld killed by signal %d\n", i, WTERMSIG(status));
        else
            fprintf(stderr, "strict_raw: fork child %ld counted %d CPUs, its parent %d\n", i, WEXITSTATUS(status),
                    mine);
    }
    say("forks_ok=%d", agree);
}

static void run_forkmask(void) {
    pid_t pid = fork();
    if (pid < 0) {
        complain("forkmask: fork failed: %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        print_mask("childmask");
        unsigned cpu = ~0u;
        long r = raw_getcpu(&cpu, NULL);
        say("childcpu=%ld", r != 0 ? r : (long)cpu);
        _exit(0);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        complain("forkmask: the child ended with status %#x", status);
}

static void mask_of(long pid, char* list, size_t size) {
    unsigned char got[MASK_BYTES] = {0};
    long bytes = raw_getaffinity(pid, sizeof(got), got);
    if (bytes < 0)
        snprintf(list, size, "%ld", bytes);
    else
        list_of(got, bytes, list, size);
}

static void run_childpin(long v) {
    int go[2];
    if (pipe(go) != 0) {
        complain("childpin: pipe failed: %s", strerror(errno));
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        complain("childpin: fork failed: %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        char byte;
        close(go[1]);
        if (read(go[0], &byte, 1) != 1)
            _exit(1);
        char list[8192];
        mask_of(0, list, sizeof(list));
        say("childpin_own=%s", list);
        _exit(0);
    }
    close(go[0]);
    unsigned char want[MASK_BYTES];
    single(want, v);
    say("childpin=%ld", raw_setaffinity(pid, sizeof(want), want));
    char list[8192];
    mask_of(pid, list, sizeof(list));
    say("childpin_mask=%s", list);
    if (write(go[1], "g", 1) != 1)
        complain("childpin: write failed");
    close(go[1]);
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        complain("childpin: the child ended with status %#x", status);
}

static void run_zombie(void) {
    pid_t pid = fork();
    if (pid < 0) {
        complain("zombie: fork failed: %s", strerror(errno));
        return;
    }
    if (pid == 0)
        _exit(0);
    /* Ended, not reaped: the kernel still finds it by its pid. */
    siginfo_t info;
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) != 0)
        complain("zombie: waitid failed: %s", strerror(errno));
    unsigned char got[MASK_BYTES] = {0};
    long bytes = raw_getaffinity(pid, sizeof(got), got);
    say("zombie_get=%ld", bytes < 0 ? bytes : 0);
    unsigned char want[MASK_BYTES];
    single(want, 0);
    say("zombie_set=%ld", raw_setaffinity(pid, sizeof(want), want));
    if (waitpid(pid, NULL, 0) != pid)
        complain("zombie: waitpid failed: %s", strerror(errno));
}

/* The middle process asks nothing, so only inheritance can give the grandchild its mask. */
static void run_grandchild(void) {
    pid_t child = fork();
    if (child < 0) {
        complain("grandchild: fork failed: %s", strerror(errno));
        return;
    }
    if (child == 0) {
        pid_t grandchild = fork();
        if (grandchild == 0) {
            print_mask("grandchildmask");
            _exit(0);
        }
        int status = 0;
        if (grandchild < 0 || waitpid(grandchild, &status, 0) != grandchild)
            _exit(1);
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
    }
    int status = 0;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        complain("grandchild: the child ended with status %#x", status);
}

/* Linux: changing another user's task needs CAP_SYS_NICE; reading it does not. */
static void run_eperm(void) {
    pid_t target = fork();
    if (target < 0) {
        complain("eperm: fork failed: %s", strerror(errno));
        return;
    }
    if (target == 0) {
        for (;;)
            pause();
    }
    int fds[2];
    if (pipe(fds) != 0) {
        complain("eperm: pipe failed");
        kill(target, SIGKILL);
        waitpid(target, NULL, 0);
        return;
    }
    pid_t other = fork();
    if (other == 0) {
        long results[2] = {1, 1};
        if (RAW3(SYS_setgid, 65534, 0, 0) == 0 && RAW3(SYS_setuid, 65534, 0, 0) == 0) {
            unsigned char one[MASK_BYTES];
            single(one, nth_cpu(0));
            results[0] = raw_setaffinity(target, sizeof(one), one);
            unsigned char got[MASK_BYTES];
            results[1] = raw_getaffinity(target, sizeof(got), got);
        }
        ssize_t unused = write(fds[1], results, sizeof(results));
        (void)unused;
        _exit(0);
    }
    close(fds[1]);
    long results[2] = {1, 1};
    ssize_t got = read(fds[0], results, sizeof(results));
    close(fds[0]);
    waitpid(other, NULL, 0);
    kill(target, SIGKILL);
    waitpid(target, NULL, 0);
    if (got != (ssize_t)sizeof(results) || (results[0] == 1 && results[1] == 1)) {
        complain("eperm: the child could not become user 65534");
        return;
    }
    say("eperm_set=%ld", results[0]);
    if (results[1] > 0)
        say("eperm_get=ok");
    else
        say("eperm_get=%ld", results[1]);
}

/* A 32-bit system call through int 0x80 (numbers from <asm/unistd_32.h>; arguments in ebx, ecx, edx).
 * The kernel takes the pointers as 32-bit, so the memory must be below 4 GiB. */
static long int80(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return ret;
}

static void run_i386(void) {
    enum { kI386Getpid = 20, kI386SchedGetaffinity = 242 };
    void* low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (low == MAP_FAILED) {
        say("i386=unsupported");
        return;
    }
    /* Without IA32 emulation int 0x80 fails (ENOSYS) or faults; the probe runs in a child. */
    pid_t child = fork();
    if (child == 0)
        _exit(int80(kI386Getpid, 0, 0, 0) == RAW3(SYS_getpid, 0, 0, 0) ? 0 : 1);
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        say("i386=unsupported");
        return;
    }
    say("i386=%ld", int80(kI386SchedGetaffinity, 0, 128, (long)(uintptr_t)low));
}

static int mapped_shim(void) {
    long fd = raw_openat(AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    long n = read_all((int)fd, file_buf, sizeof(file_buf));
    if (n < 0)
        return -1;
    return strstr(file_buf, "libshim.so") != NULL;
}

/* ---- the command line -------------------------------------------------------------------------- */

static long number(const char* command, const char* text) {
    char* end;
    errno = 0;
    long v = text ? strtol(text, &end, 0) : 0;
    if (!text || *end || errno) {
        fprintf(stderr, "strict_raw: %s: expected a number, got '%s'\n", command, text ? text : "(nothing)");
        exit(2);
    }
    return v;
}

static const char* argument(const char* command, char** argv, int* i) {
    if (!argv[*i + 1]) {
        fprintf(stderr, "strict_raw: %s needs an argument\n", command);
        exit(2);
    }
    return argv[++*i];
}

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: strict_raw COMMAND [ARGS] [COMMAND [ARGS]]... (see strict_raw.c)\n");
        return 2;
    }
    for (int i = 1; i < argc; ++i) {
        const char* c = argv[i];
        if (!strcmp(c, "count")) {
            unsigned char mask[MASK_BYTES] = {0};
            long got = raw_getaffinity(0, sizeof(mask), mask);
            if (got < 0) {
                say("cpus=%ld", got);
                say("bytes=%ld", got);
            } else {
                say("cpus=%d", popcount_bytes(mask, got));
                say("bytes=%ld", got);
            }
        } else if (!strcmp(c, "mask")) {
            print_mask("mask");
        } else if (!strcmp(c, "libc")) {
            cpu_set_t set;
            CPU_ZERO(&set);
            if (sched_getaffinity(0, sizeof(set), &set) != 0)
                say("libc_cpus=%d", -errno);
            else
                say("libc_cpus=%d", CPU_COUNT(&set));
        } else if (!strcmp(c, "sysconf")) {
            say("onln=%ld", sysconf(_SC_NPROCESSORS_ONLN));
            say("conf=%ld", sysconf(_SC_NPROCESSORS_CONF));
        } else if (!strcmp(c, "pin")) {
            long v = number(c, argument(c, argv, &i));
            unsigned char want[MASK_BYTES];
            single(want, v);
            long r = raw_setaffinity(0, sizeof(want), want);
            if (r != 0)
                say("pin=%ld", r);
            print_mask("mask");
            unsigned cpu = ~0u;
            r = raw_getcpu(&cpu, NULL);
            if (r != 0)
                say("getcpu=%ld", r);
            else
                say("getcpu=%u", cpu);
        } else if (!strcmp(c, "pinpid")) {
            long v = number(c, argument(c, argv, &i));
            unsigned char want[MASK_BYTES];
            single(want, v);
            long pid = RAW3(SYS_getpid, 0, 0, 0);
            say("pinpid=%ld", raw_setaffinity(pid, sizeof(want), want));
            unsigned char got[MASK_BYTES] = {0};
            long bytes = raw_getaffinity(pid, sizeof(got), got);
            char list[8192];
            if (bytes < 0)
                snprintf(list, sizeof(list), "%ld", bytes);
            else
                list_of(got, bytes, list, sizeof(list));
            say("pidmask=%s", list);
            print_mask("mask");
        } else if (!strcmp(c, "i386")) {
            run_i386();
        } else if (!strcmp(c, "sigstorm")) {
            run_sigstorm(number(c, argument(c, argv, &i)), 0);
        } else if (!strcmp(c, "sigstorm_restart")) {
            run_sigstorm(number(c, argument(c, argv, &i)), 1);
        } else if (!strcmp(c, "getpid")) {
            long pid = number(c, argument(c, argv, &i));
            unsigned char got[MASK_BYTES] = {0};
            long bytes = raw_getaffinity(pid, sizeof(got), got);
            char list[8192];
            if (bytes < 0)
                snprintf(list, sizeof(list), "%ld", bytes);
            else
                list_of(got, bytes, list, sizeof(list));
            say("pidmask=%s", list);
        } else if (!strcmp(c, "tidpin")) {
            run_tidpin(number(c, argument(c, argv, &i)));
        } else if (!strcmp(c, "sibling")) {
            run_sibling(number(c, argument(c, argv, &i)));
        } else if (!strcmp(c, "workerthread")) {
            run_workerthread(number(c, argument(c, argv, &i)));
        } else if (!strcmp(c, "newthread")) {
            run_newthread();
        } else if (!strcmp(c, "getcpu")) {
            unsigned cpu = ~0u;
            long r = raw_getcpu(&cpu, NULL);
            if (r != 0)
                say("getcpu=%ld", r);
            else
                say("getcpu=%u", cpu);
        } else if (!strcmp(c, "getpidmask")) {
            long target = number(c, argument(c, argv, &i));
            unsigned char buf[128];
            say("getpidmask=%ld", raw_getaffinity((int)target, sizeof(buf), buf));
        } else if (!strcmp(c, "getlen") || !strcmp(c, "einval")) {
            long len = !strcmp(c, "einval") ? 4 : number(c, argument(c, argv, &i));
            static unsigned char big[65536];
            if (len > (long)sizeof(big)) {
                complain("getlen: at most %zu bytes", sizeof(big));
                continue;
            }
            say("%s=%ld", !strcmp(c, "einval") ? "err" : "getlen", raw_getaffinity(0, (unsigned long)len, big));
        } else if (!strcmp(c, "efault")) {
            say("err=%ld", raw_getaffinity(0, MASK_BYTES, (void*)8));
        } else if (!strcmp(c, "esrch")) {
            unsigned char mask[MASK_BYTES];
            say("esrch=%ld", raw_getaffinity(NO_SUCH_PID, sizeof(mask), mask));
        } else if (!strcmp(c, "set_efault")) {
            say("set_efault=%ld", raw_setaffinity(0, MASK_BYTES, (void*)8));
        } else if (!strcmp(c, "set_empty")) {
            unsigned char none[MASK_BYTES] = {0};
            say("set_empty=%ld", raw_setaffinity(0, sizeof(none), none));
        } else if (!strcmp(c, "set_bit")) {
            unsigned char one[MASK_BYTES];
            single(one, number(c, argument(c, argv, &i)));
            say("set_bit=%ld", raw_setaffinity(0, sizeof(one), one));
        } else if (!strcmp(c, "getcpu_efault")) {
            say("getcpu_efault=%ld", RAW3(SYS_getcpu, 8, 0, 0));
        } else if (!strcmp(c, "online") || !strcmp(c, "possible") || !strcmp(c, "present") ||
                   !strcmp(c, "offline") || !strcmp(c, "kernel_max")) {
            char path[128];
            snprintf(path, sizeof(path), "/sys/devices/system/cpu/%s", c);
            print_first_line(c, raw_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC));
        } else if (!strcmp(c, "read")) {
            const char* path = argument(c, argv, &i);
            print_first_line("read", raw_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC));
        } else if (!strcmp(c, "readat")) {
            const char* dir = argument(c, argv, &i);
            const char* rel = argument(c, argv, &i);
            long dirfd = raw_openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dirfd < 0) {
                say("readat=dir%ld", dirfd);
                continue;
            }
            print_first_line("readat", raw_openat((int)dirfd, rel, O_RDONLY | O_CLOEXEC));
            RAW3(SYS_close, dirfd, 0, 0);
        } else if (!strcmp(c, "openflags")) {
            const char* path = argument(c, argv, &i);
            long plain = raw_openat(AT_FDCWD, path, O_RDONLY);
            long cloexec = raw_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
            long fds[2] = {plain, cloexec};
            for (int k = 0; k < 2; ++k) {
                say("fd=%ld", fds[k]);
                if (fds[k] >= 0)
                    say("cloexec=%d", (RAW3(SYS_fcntl, fds[k], F_GETFD, 0) & FD_CLOEXEC) ? 1 : 0);
            }
            for (int k = 0; k < 2; ++k)
                if (fds[k] >= 0)
                    RAW3(SYS_close, fds[k], 0, 0);
        } else if (!strcmp(c, "openw") || !strcmp(c, "opendir_file")) {
            const char* path = argument(c, argv, &i);
            long fd = raw_openat(AT_FDCWD, path, !strcmp(c, "openw") ? O_WRONLY : O_RDONLY | O_DIRECTORY);
            say("%s=%ld", c, fd < 0 ? fd : 0);
            if (fd >= 0)
                RAW3(SYS_close, fd, 0, 0);
        } else if (!strcmp(c, "writefd")) {
            const char* path = argument(c, argv, &i);
            long fd = raw_openat(AT_FDCWD, path, O_RDONLY);
            if (fd < 0) {
                say("writefd=open%ld", fd);
                continue;
            }
            say("writefd=%ld", RAW3(SYS_write, fd, "0", 1));
            RAW3(SYS_close, fd, 0, 0);
        } else if (!strcmp(c, "seek")) {
            const char* path = argument(c, argv, &i);
            long fd = raw_openat(AT_FDCWD, path, O_RDONLY);
            if (fd < 0) {
                say("seek=open%ld", fd);
                continue;
            }
            char a[8] = {0}, b[8] = {0}, p[8] = {0};
            long n1 = RAW3(SYS_read, fd, a, 5);
            long off = RAW3(SYS_lseek, fd, 0, SEEK_SET);
            long n2 = RAW3(SYS_read, fd, b, 5);
            long n3 = raw(SYS_pread64, fd, (long)p, 4, 1, 0, 0);
            RAW3(SYS_close, fd, 0, 0);
            say("seek=%s", n1 == 5 && off == 0 && n2 == 5 && !memcmp(a, b, 5) ? "same" : "differ");
            say("pread=%s", n3 == 4 && !memcmp(p, a + 1, 4) ? "same" : "differ");
        } else if (!strcmp(c, "openstorm")) {
            run_openstorm(number(c, argument(c, argv, &i)));
        } else if (!strcmp(c, "openat2")) {
            const char* path = argument(c, argv, &i);
            print_first_line("openat2", raw_openat2(AT_FDCWD, path, O_RDONLY | O_CLOEXEC));
        } else if (!strcmp(c, "size")) {
            const char* path = argument(c, argv, &i);
            long fd = raw_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
            say("size=%ld", fd < 0 ? fd : size_of((int)fd));
        } else if (!strcmp(c, "status")) {
            print_status_field("status", "/proc/self/status", "Cpus_allowed_list");
        } else if (!strcmp(c, "statusmask")) {
            print_status_field("status_mask", "/proc/self/status", "Cpus_allowed");
        } else if (!strcmp(c, "pidstatus")) {
            char path[64];
            snprintf(path, sizeof(path), "/proc/%ld/status", RAW3(SYS_getpid, 0, 0, 0));
            print_status_field("pidstatus", path, "Cpus_allowed_list");
        } else if (!strcmp(c, "statusof")) {
            char path[64];
            snprintf(path, sizeof(path), "/proc/%ld/status", number(c, argument(c, argv, &i)));
            print_status_field("statusof", path, "Cpus_allowed_list");
        } else if (!strcmp(c, "setpid")) {
            long pid = number(c, argument(c, argv, &i));
            long v = number(c, argument(c, argv, &i));
            unsigned char want[MASK_BYTES];
            single(want, v);
            say("setpid=%ld", raw_setaffinity(pid, sizeof(want), want));
        } else if (!strcmp(c, "libcpin")) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(number(c, argument(c, argv, &i)), &set);
            say("libcpin=%d", sched_setaffinity(0, sizeof(set), &set) == 0 ? 0 : -errno);
            print_mask("rawmask");
        } else if (!strcmp(c, "libcmask")) {
            cpu_set_t set;
            CPU_ZERO(&set);
            char list[8192];
            if (sched_getaffinity(getpid(), sizeof(set), &set) != 0)
                snprintf(list, sizeof(list), "%d", -errno);
            else
                list_of((const unsigned char*)&set, sizeof(set), list, sizeof(list));
            say("libcmask=%s", list);
        } else if (!strcmp(c, "zombie")) {
            run_zombie();
        } else if (!strcmp(c, "childpin")) {
            run_childpin(number(c, argument(c, argv, &i)));
        } else if (!strcmp(c, "siblingstatus")) {
            char path[96];
            snprintf(path, sizeof(path), "/proc/%ld/task/%ld/status", RAW3(SYS_getpid, 0, 0, 0), last_sibling_tid);
            print_status_field("siblingstatus", path, "Cpus_allowed_list");
        } else if (!strcmp(c, "cpuinfo") || !strcmp(c, "stat")) {
            const char* path = !strcmp(c, "cpuinfo") ? "/proc/cpuinfo" : "/proc/stat";
            long fd = raw_open(path, O_RDONLY | O_CLOEXEC);
            const char* key = !strcmp(c, "stat") ? "stat_cpus" : c;
            if (fd < 0) {
                say("%s=%ld", key, fd);
                continue;
            }
            long n = read_all((int)fd, file_buf, sizeof(file_buf));
            if (n < 0) {
                say("%s=%ld", key, n);
            } else if (!strcmp(c, "cpuinfo")) {
                say("cpuinfo=%d", count_lines(file_buf, "processor", 0));
            } else if (!strcmp(c, "stat")) {
                say("stat_cpus=%d", count_lines(file_buf, "cpu", 1));
            }
        } else if (!strcmp(c, "shim")) {
            say("shim=%d", mapped_shim());
        } else if (!strcmp(c, "threads")) {
            run_threads(number(c, argument(c, argv, &i)));
        } else if (!strcmp(c, "forkmask")) {
            run_forkmask();
        } else if (!strcmp(c, "grandchild")) {
            run_grandchild();
        } else if (!strcmp(c, "eperm")) {
            run_eperm();
        } else if (!strcmp(c, "forks")) {
            run_forks(number(c, argument(c, argv, &i)));
        } else if (!strcmp(c, "pidfile")) {
            /* Written beside, then renamed: whoever sees the file sees the whole pid. */
            const char* path = argument(c, argv, &i);
            char partial[4096];
            snprintf(partial, sizeof(partial), "%s.partial", path);
            FILE* f = fopen(partial, "w");
            if (!f) {
                complain("pidfile: %s: %s", partial, strerror(errno));
                continue;
            }
            fprintf(f, "%ld\n", RAW3(SYS_getpid, 0, 0, 0));
            if (fclose(f) != 0 || rename(partial, path) != 0)
                complain("pidfile: %s: %s", path, strerror(errno));
        } else if (!strcmp(c, "sleep")) {
            long ms = number(c, argument(c, argv, &i));
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        } else if (!strcmp(c, "spawn")) {
            if (!argv[i + 1]) {
                fprintf(stderr, "strict_raw: spawn needs a program\n");
                return 2;
            }
            char* empty[] = {NULL};
            pid_t pid;
            int e = posix_spawn(&pid, argv[i + 1], NULL, NULL, &argv[i + 1], empty);
            if (e != 0) {
                complain("spawn %s: %s", argv[i + 1], strerror(e));
                return failed;
            }
            int status = 0;
            waitpid(pid, &status, 0);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                complain("spawn %s: status %#x", argv[i + 1], status);
            return failed;
        } else if (!strcmp(c, "switches")) {
            switches(atol(argument(c, argv, &i)));
        } else if (!strcmp(c, "stall")) {
            stall();
        } else if (!strcmp(c, "stall2")) {
            stall2();
        } else if (!strcmp(c, "exec") || !strcmp(c, "rawexec")) {
            if (!argv[i + 1]) {
                fprintf(stderr, "strict_raw: %s needs a program\n", c);
                return 2;
            }
            char* empty[] = {NULL};
            char** args = &argv[i + 1];
            if (!strcmp(c, "exec"))
                execve(args[0], args, empty);
            else
                errno = (int)-RAW3(SYS_execve, args[0], args, empty);
            fprintf(stderr, "strict_raw: %s %s: %s\n", c, args[0], strerror(errno));
            return 1;
        } else {
            fprintf(stderr, "strict_raw: unknown command '%s' (see strict_raw.c)\n", c);
            return 2;
        }
    }
    return failed;
}
