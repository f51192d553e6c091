/* What the differential probe probes: a path (a target), the calls made on it (probe.cpp) and the
 * other spellings of it (probe_forms.cpp). */
#ifndef LIBOS_DIFFERENTIAL_PROBE_TARGET_H
#define LIBOS_DIFFERENTIAL_PROBE_TARGET_H

#include <errno.h>
#include <sys/types.h>

#include <set>
#include <string>

#include "probe_util.h"

namespace probe {

/* The ids printed as tokens: a path is written with them ("/proc/$PID/status") and expanded only
 * when it is used, and results show them as tokens again. */
struct Ids {
    pid_t pid;
    pid_t ppid;
    pid_t tid2;  /* a second thread of the probe, alive while it probes */
    pid_t nopid; /* a pid that no process has */
};
extern Ids g_ids;

struct Target {
    std::string path; /* as printed: with $PID... */
    char kind;        /* on the host: f, d, l, or x (does not exist) */
    bool writable;    /* the host's mode has a write bit */
    Content rule;
    bool with_ino;    /* inode numbers are stable (not a /proc/<pid>/ entry) */
    bool own_proc;    /* a /proc file of this process */
};

/* What to ask of an open descriptor. */
enum : unsigned {
    kGetfl = 1u << 0,
    kGetfd = 1u << 1,
    kFstat = 1u << 2,
    kFstatMore = 1u << 3, /* fstatat and statx with AT_EMPTY_PATH, fstatfs */
    kLink = 1u << 4,      /* readlink of /proc/self/fd/N */
    kRead = 1u << 5,
    kSeek = 1u << 6,      /* pread, lseek, mmap */
    kWrite = 1u << 7,     /* a zero-byte write, on a read-only descriptor only */
    kList = 1u << 8,      /* getdents64 */
    kReopen = 1u << 9,    /* open of /proc/self/fd/N */
};

/* The errno of the call just made, kept at once: building a probe's text allocates, and an
 * allocation may change errno (glibc's malloc after a failed sbrk). A function rather than an extern
 * thread_local: under UBSan, GCC reads another unit's thread_local at TLS offset 0 as a null
 * pointer. */
int& last_err();
template <class T>
T kept(T value) {
    last_err() = errno;
    return value;
}

std::string expand(std::string shown);
void emit(const std::string& key, const std::string& result);
/* Prints "fd N" and the battery `what` (closing fd), or the error. */
void opened(const std::string& key, int fd, int err, int requested, const Target& t, unsigned what);
/* Every probe of a target: its calls, its flags, its entry points, descriptor numbers, directory
 * calls, then its other spellings. Every target is reserved first, so that no other target's
 * spelling of the same path is probed in its place. */
void reserve_target(const std::string& path);
void probe_target(const Target& t);
/* The other spellings of a target's path; `seen` holds those already probed. */
void probe_forms(const Target& t, std::set<std::string>* seen);
/* The edges of resolution and of descriptors, each in a child process (probe_edges.cpp). */
void probe_edges();

}  // namespace probe

#endif
