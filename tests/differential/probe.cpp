/* probe: the differential suite's probe of the CPU file views (tests/differential/run.py).
 *
 *   probe --list        prints the paths to probe (probe_list.cpp); the driver runs it natively
 *   probe LISTFILE      probes every path of the list and the /proc views, one line per probe:
 *                         OPERATION ARGUMENTS PATH[ | FOLLOW-UP] -> RESULT
 *
 * Run natively, the output is the kernel's answer; run on a machine equal to the host (the same CPUs
 * in the same order) it must be the same, line for line. Every call is made here, through libc or
 * libc's syscall(), exactly as a program would make it. The words do not depend on the host or the
 * run: errno names, symbolic flags, this process's ids written $PID, $TID2 (a second thread), $PPID,
 * $NOPID (a pid that does not exist). What changes between two runs on the same host is not printed:
 * no timestamps, no inode numbers of /proc/<pid>/ entries (made afresh for each process), and only
 * the shape of counters (probe_util.h).
 *
 * Nothing on the host is changed. The probe is run as root, so:
 *   - nothing is ever written: the one write(2) it makes is of zero bytes, and only to a descriptor
 *     that was opened read-only (or O_PATH) and that F_GETFL says is not writable: EBADF;
 *   - O_CREAT and O_TMPFILE are used only on paths under /sys/devices/system/ and /proc/, which
 *     cannot hold a new file (EACCES, EOPNOTSUPP), never on a path through cwd or root links;
 *   - O_TRUNC only on this process's own /proc/<pid>/ files, and as
 *     O_WRONLY|O_TRUNC on sysfs files without write bits, whose open fails (EACCES) before the
 *     truncation (which comes after a successful open, even with O_RDONLY: on sysfs it changes the
 *     times); the probe prints "not probed" elsewhere. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "probe_list.h"
#include "probe_util.h"
#include "probe_target.h"

extern "C" int __open_2(const char* path, int flags);

namespace probe {

Ids g_ids;
int& last_err() {
    static thread_local int err;
    return err;
}
namespace {

/* Spellings probed or to be probed (with their cwd or dirfd): a form can coincide with another form
 * or with a target, which is probed as a target. */
std::set<std::string> g_seen;
std::set<std::string> g_targets_done;

/* "/proc/12345/status" -> "/proc/$PID/status": the id as a whole path component. */
std::string replace_id(std::string s, pid_t id, const char* token) {
    std::string number = std::to_string(id);
    for (size_t at = s.find(number); at != std::string::npos; at = s.find(number, at + 1)) {
        size_t end = at + number.size();
        bool starts = (at == 0 && end < s.size() && s[end] == '/') || (at > 0 && s[at - 1] == '/');
        if (starts && (end == s.size() || s[end] == '/' || s[end] == ' ' || s[end] == '"'))
            s.replace(at, number.size(), token);
    }
    return s;
}

}  // namespace

std::string expand(std::string s) {
    const std::pair<const char*, pid_t> kIds[] = {
        {"$PPID", g_ids.ppid}, {"$NOPID", g_ids.nopid}, {"$TID2", g_ids.tid2}, {"$PID", g_ids.pid}};
    for (const auto& [token, id] : kIds)
        for (size_t at; (at = s.find(token)) != std::string::npos;)
            s.replace(at, strlen(token), std::to_string(id));
    return s;
}

void emit(const std::string& key, const std::string& result) {
    std::string shown = replace_id(replace_id(replace_id(result, g_ids.pid, "$PID"), g_ids.tid2, "$TID2"),
                                   g_ids.ppid, "$PPID");
    printf("%s -> %s\n", key.c_str(), shown.c_str());
}

namespace {

std::string stat_result(int rc, int err, const struct stat& st, bool with_ino) {
    return rc == 0 ? stat_summary(st, with_ino) : fail(err);
}

std::string read_all(int fd, Content rule) {
    std::string data;
    static char buf[1 << 16];
    for (;;) {
        ssize_t n = kept(read(fd, buf, sizeof buf));
        if (n < 0)
            return data.empty() ? fail(last_err())
                                : "after " + std::to_string(data.size()) + " bytes " + fail(last_err());
        if (n == 0 || data.size() > (8u << 20))
            break;
        data.append(buf, static_cast<size_t>(n));
    }
    return content_summary(rule, data);
}

/* A directory's entries, sorted: "name:type" each, and a hash of the names with their inodes. */
std::string listing(std::vector<std::pair<std::string, std::string>> entries) {
    std::sort(entries.begin(), entries.end());
    std::string names, inodes;
    for (const auto& [name, rest] : entries) {
        names += " " + name + ":" + rest.substr(0, rest.find(' '));
        inodes += name + rest + ";";
    }
    return std::to_string(entries.size()) + " entries, inodes fnv=" + hex(fnv1a(inodes)) + ":" + names;
}

std::string dir_type(unsigned char t) {
    switch (t) {
    case DT_DIR: return "d";
    case DT_REG: return "r";
    case DT_LNK: return "l";
    case DT_UNKNOWN: return "?";
    default: return std::to_string(t);
    }
}

std::string read_dir(DIR* d, bool with_ino) {
    std::vector<std::pair<std::string, std::string>> entries;
    errno = 0;
    while (struct dirent* e = readdir(d))
        entries.emplace_back(e->d_name, dir_type(e->d_type) + (with_ino ? " " + std::to_string(e->d_ino) : ""));
    int err = errno;
    return err ? fail(err) : listing(entries);
}

std::string getdents_listing(int fd, bool with_ino) {
    std::vector<std::pair<std::string, std::string>> entries;
    alignas(8) static char buf[1 << 16];
    for (;;) {
        long n = kept(syscall(SYS_getdents64, fd, buf, sizeof buf));
        if (n < 0)
            return fail(last_err());
        if (n == 0)
            break;
        for (long at = 0; at < n;) {
            struct Dirent64 {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[1];
            };
            const auto* e = reinterpret_cast<const Dirent64*>(buf + at);
            entries.emplace_back(e->name, dir_type(e->type) + (with_ino ? " " + std::to_string(e->ino) : ""));
            at += e->reclen;
        }
    }
    return listing(entries);
}

bool writable_descriptor(int fd, int requested) {
    int fl = kept(fcntl(fd, F_GETFL));
    bool asked_readonly = (requested & O_PATH) || (requested & O_ACCMODE) == O_RDONLY;
    return !asked_readonly || fl < 0 || (!(fl & O_PATH) && (fl & O_ACCMODE) != O_RDONLY);
}

}  // namespace

/* What is asked of a descriptor once it is open; `key` names the open. Closes fd. */
void fd_battery(const std::string& key, int fd, int requested, const Target& t, unsigned what) {
    if (what & kGetfl) {
        int fl = kept(fcntl(fd, F_GETFL));
        emit(key + " | F_GETFL", fl < 0 ? fail(last_err()) : flags_summary(fl));
    }
    if (what & kGetfd) {
        int fd_flags = kept(fcntl(fd, F_GETFD));
        emit(key + " | F_GETFD", fd_flags < 0              ? fail(last_err())
                                 : (fd_flags & FD_CLOEXEC) ? "FD_CLOEXEC"
                                                           : "0");
    }
    if (what & kFstat) {
        struct stat st;
        int rc = kept(fstat(fd, &st));
        emit(key + " | fstat", stat_result(rc, last_err(), st, t.with_ino));
    }
    if (what & kFstatMore) {
        struct stat st;
        int rc = kept(fstatat(fd, "", &st, AT_EMPTY_PATH));
        emit(key + " | fstatat AT_EMPTY_PATH", stat_result(rc, last_err(), st, t.with_ino));
        struct statx sx;
        rc = kept(statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx));
        emit(key + " | statx AT_EMPTY_PATH", rc == 0 ? statx_summary(sx, t.with_ino) : fail(last_err()));
        struct statfs sf;
        rc = kept(fstatfs(fd, &sf));
        emit(key + " | fstatfs", rc == 0 ? statfs_summary(sf) : fail(last_err()));
    }
    std::string self_fd = "/proc/self/fd/" + std::to_string(fd);
    if (what & kLink) {
        char target[4096];
        ssize_t n = kept(readlink(self_fd.c_str(), target, sizeof target - 1));
        emit(key + " | readlink /proc/self/fd/N",
             n < 0 ? fail(last_err()) : std::string(target, static_cast<size_t>(n)));
    }
    if (what & kRead)
        emit(key + " | read", read_all(fd, t.rule));
    if (what & kSeek) {
        char buf[4];
        ssize_t n = kept(pread(fd, buf, 3, 1));
        std::string shown = n < 0 ? fail(last_err())
                            : t.rule == Content::Unstable ? (n > 0 ? "some bytes" : "0 bytes")
                                                          : escape(std::string(buf, static_cast<size_t>(n)));
        emit(key + " | pread 3 at 1", shown);
        off_t end = kept(lseek(fd, 0, SEEK_END));
        emit(key + " | lseek 0 SEEK_END", end < 0                          ? fail(last_err())
                                          : t.rule == Content::Stable || end == 0 ? std::to_string(end)
                                                                                  : "a positive offset");
        off_t set = kept(lseek(fd, 2, SEEK_SET));
        emit(key + " | lseek 2 SEEK_SET", set < 0 ? fail(last_err()) : std::to_string(set));
        void* map = kept(mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE, fd, 0));
        emit(key + " | mmap PROT_READ MAP_PRIVATE", map == MAP_FAILED ? fail(last_err()) : "mapped");
        if (map != MAP_FAILED)
            munmap(map, 4096);
    }
    if (what & kWrite) {
        /* Zero bytes, to a descriptor that is not writable: EBADF, and nothing can be written. */
        if (writable_descriptor(fd, requested)) {
            emit(key + " | write 0 bytes", "not probed (writable descriptor)");
        } else {
            ssize_t n = kept(write(fd, "", 0));
            emit(key + " | write 0 bytes", n < 0 ? fail(last_err()) : std::to_string(n));
        }
    }
    if (what & kList)
        emit(key + " | getdents64", getdents_listing(fd, t.with_ino));
    if (what & kReopen) {
        int again = kept(open(self_fd.c_str(), O_RDONLY));
        emit(key + " | open O_RDONLY /proc/self/fd/N",
             again < 0 ? fail(last_err()) : "fd " + std::to_string(again) + " " + read_all(again, t.rule));
        if (again >= 0)
            close(again);
    }
    close(fd);
}

/* The result of an open: "fd N" and the battery, or the error. */
void opened(const std::string& key, int fd, int err, int requested, const Target& t, unsigned what) {
    emit(key, fd < 0 ? fail(err) : "fd " + std::to_string(fd));
    if (fd >= 0)
        fd_battery(key, fd, requested, t, what);
}

namespace {

long openat2_call(int dirfd, const char* path, int flags, unsigned long long resolve) {
    struct open_how how {};
    how.flags = static_cast<unsigned long long>(flags);
    how.resolve = resolve;
    return syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

struct Variant {
    const char* name;
    int flags;
    unsigned what;
};

constexpr unsigned kShort = kGetfl | kGetfd | kFstat | kLink | kRead;
constexpr unsigned kPathFd = kGetfl | kGetfd | kFstat | kFstatMore | kLink | kRead | kWrite | kReopen;

const Variant kVariants[] = {
    {"O_RDONLY", O_RDONLY, kShort | kFstatMore | kSeek | kWrite | kReopen},
    {"O_WRONLY", O_WRONLY, kShort},
    {"O_RDWR", O_RDWR, kShort},
    {"O_RDONLY|O_CREAT", O_RDONLY | O_CREAT, kShort},
    {"O_RDONLY|O_CREAT|O_EXCL", O_RDONLY | O_CREAT | O_EXCL, kShort},
    {"O_WRONLY|O_CREAT|O_EXCL", O_WRONLY | O_CREAT | O_EXCL, kShort},
    {"O_RDONLY|O_TRUNC", O_RDONLY | O_TRUNC, kShort},
    {"O_WRONLY|O_TRUNC", O_WRONLY | O_TRUNC, kShort},
    {"O_RDONLY|O_DIRECT", O_RDONLY | O_DIRECT, kShort},
    {"O_RDWR|O_TMPFILE", O_RDWR | O_TMPFILE, kShort},
    {"O_RDONLY|O_NOFOLLOW", O_RDONLY | O_NOFOLLOW, kShort},
    {"O_RDONLY|O_DIRECTORY", O_RDONLY | O_DIRECTORY, kShort | kList},
    {"O_RDWR|O_DIRECTORY", O_RDWR | O_DIRECTORY, kShort},
    {"O_PATH", O_PATH, kPathFd},
    {"O_PATH|O_NOFOLLOW", O_PATH | O_NOFOLLOW, kPathFd},
    {"O_PATH|O_DIRECTORY", O_PATH | O_DIRECTORY, kGetfl | kFstat},
    {"O_RDONLY|O_APPEND", O_RDONLY | O_APPEND, kShort},
    {"O_WRONLY|O_APPEND", O_WRONLY | O_APPEND, kShort},
    {"O_RDONLY|O_NONBLOCK", O_RDONLY | O_NONBLOCK, kShort},
    {"O_RDONLY|O_CLOEXEC", O_RDONLY | O_CLOEXEC, kShort},
    {"O_RDONLY|O_NOATIME", O_RDONLY | O_NOATIME, kShort},
};

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

/* O_CREAT and O_TMPFILE: only where nothing can be made. */
bool may_create(const Target& t) {
    return (starts_with(t.path, "/sys/devices/system/") || starts_with(t.path, "/proc/")) &&
           t.path.find("/..") == std::string::npos && t.path.find("/cwd") == std::string::npos &&
           t.path.find("/root") == std::string::npos && t.path.find("/fd/") == std::string::npos;
}

/* O_TRUNC: truncation comes after a successful open, and even O_RDONLY|O_TRUNC truncates (on sysfs,
 * only the times change: still a change). So only on this process's own /proc files, and as
 * O_WRONLY|O_TRUNC on a sysfs file without write bits, whose open the kernel refuses (EACCES). Not on
 * names that do not exist: a view that took one for another file would truncate that. */
bool may_truncate(const Target& t, int flags) {
    if (t.own_proc)
        return may_create(t);
    return starts_with(t.path, "/sys/devices/system/") && t.kind == 'f' && !t.writable &&
           (flags & O_ACCMODE) == O_WRONLY;
}

void flag_variants(const Target& t) {
    std::string real = expand(t.path);
    for (const Variant& v : kVariants) {
        std::string key = std::string("open ") + v.name + " " + t.path;
        if (((v.flags & O_CREAT) || (v.flags & O_TMPFILE) == O_TMPFILE) && !may_create(t)) {
            emit(key, "not probed (could create a file)");
            continue;
        }
        if ((v.flags & O_TRUNC) && !may_truncate(t, v.flags)) {
            emit(key, "not probed (could truncate a host file)");
            continue;
        }
        int fd = kept(open(real.c_str(), v.flags, 0600));
        opened(key, fd, last_err(), v.flags, t, v.what);
    }
}

/* The same O_RDONLY open through each entry point a program may use. */
void entry_points(const Target& t) {
    std::string real = expand(t.path);
    const char* p = real.c_str();
    constexpr unsigned kWhat = kFstat | kLink | kRead;
    int fd = kept(openat(AT_FDCWD, p, O_RDONLY));
    opened("openat AT_FDCWD O_RDONLY " + t.path, fd, last_err(), O_RDONLY, t, kWhat);
    fd = kept(__open_2(p, O_RDONLY));
    opened("__open_2 O_RDONLY " + t.path, fd, last_err(), O_RDONLY, t, kWhat);
    fd = kept(static_cast<int>(syscall(SYS_open, p, O_RDONLY, 0)));
    opened("syscall(SYS_open) O_RDONLY " + t.path, fd, last_err(), O_RDONLY, t, kWhat);
    fd = kept(static_cast<int>(syscall(SYS_openat, AT_FDCWD, p, O_RDONLY, 0)));
    opened("syscall(SYS_openat) AT_FDCWD O_RDONLY " + t.path, fd, last_err(), O_RDONLY, t, kWhat);
    const std::pair<const char*, unsigned long long> kResolve[] = {
        {"0", 0},
        {"RESOLVE_NO_SYMLINKS", RESOLVE_NO_SYMLINKS},
        {"RESOLVE_NO_MAGICLINKS", RESOLVE_NO_MAGICLINKS},
        {"RESOLVE_NO_XDEV", RESOLVE_NO_XDEV},
    };
    for (const auto& [name, resolve] : kResolve) {
        fd = kept(static_cast<int>(openat2_call(AT_FDCWD, p, O_RDONLY, resolve)));
        opened(std::string("openat2 O_RDONLY resolve=") + name + " " + t.path, fd, last_err(), O_RDONLY, t,
               kWhat);
    }
    /* Relative to the parent's descriptor, kept inside it. */
    std::string dir = real.substr(0, real.rfind('/')), base = real.substr(real.rfind('/') + 1);
    int dfd = kept(open(dir.empty() ? "/" : dir.c_str(), O_RDONLY | O_DIRECTORY));
    const std::pair<const char*, unsigned long long> kBelow[] = {{"RESOLVE_BENEATH", RESOLVE_BENEATH},
                                                                 {"RESOLVE_IN_ROOT", RESOLVE_IN_ROOT}};
    for (const auto& [name, resolve] : kBelow) {
        std::string key = std::string("openat2 dirfd=parent O_RDONLY resolve=") + name + " " + t.path;
        if (dfd < 0) {
            emit(key, "parent: " + fail(last_err()));
            continue;
        }
        fd = kept(static_cast<int>(openat2_call(dfd, base.c_str(), O_RDONLY, resolve)));
        opened(key, fd, last_err(), O_RDONLY, t, kWhat);
    }
    if (dfd >= 0)
        close(dfd);
    errno = 0;
    FILE* f = kept(fopen(p, "r"));
    if (!f) {
        emit("fopen r " + t.path, fail(last_err()));
    } else {
        emit("fopen r " + t.path, "fd " + std::to_string(fileno(f)));
        std::string data;
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            data.append(buf, n);
        emit("fopen r " + t.path + " | fread", ferror(f) ? "error" : content_summary(t.rule, data));
        fclose(f);
    }
}

void path_calls(const Target& t) {
    std::string real = expand(t.path);
    const char* p = real.c_str();
    struct stat st;
    int rc = kept(stat(p, &st));
    emit("stat " + t.path, stat_result(rc, last_err(), st, t.with_ino));
    rc = kept(lstat(p, &st));
    emit("lstat " + t.path, stat_result(rc, last_err(), st, t.with_ino));
    rc = kept(fstatat(AT_FDCWD, p, &st, 0));
    emit("fstatat AT_FDCWD 0 " + t.path, stat_result(rc, last_err(), st, t.with_ino));
    rc = kept(fstatat(AT_FDCWD, p, &st, AT_SYMLINK_NOFOLLOW));
    emit("fstatat AT_FDCWD AT_SYMLINK_NOFOLLOW " + t.path, stat_result(rc, last_err(), st, t.with_ino));
    rc = kept(static_cast<int>(syscall(SYS_newfstatat, AT_FDCWD, p, &st, 0)));
    emit("syscall(SYS_newfstatat) AT_FDCWD 0 " + t.path, stat_result(rc, last_err(), st, t.with_ino));
    struct statx sx;
    rc = kept(statx(AT_FDCWD, p, 0, STATX_BASIC_STATS, &sx));
    emit("statx AT_FDCWD 0 " + t.path, rc == 0 ? statx_summary(sx, t.with_ino) : fail(last_err()));
    rc = kept(statx(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx));
    emit("statx AT_FDCWD AT_SYMLINK_NOFOLLOW " + t.path,
         rc == 0 ? statx_summary(sx, t.with_ino) : fail(last_err()));
    rc = kept(static_cast<int>(syscall(SYS_statx, AT_FDCWD, p, 0, STATX_BASIC_STATS, &sx)));
    emit("syscall(SYS_statx) AT_FDCWD 0 " + t.path,
         rc == 0 ? statx_summary(sx, t.with_ino) : fail(last_err()));
    const std::pair<const char*, int> kModes[] = {{"F_OK", F_OK}, {"R_OK", R_OK}, {"W_OK", W_OK}, {"X_OK", X_OK}};
    for (const auto& [name, mode] : kModes) {
        rc = kept(access(p, mode));
        emit(std::string("access ") + name + " " + t.path, rc == 0 ? "0" : fail(last_err()));
    }
    rc = kept(faccessat(AT_FDCWD, p, R_OK, AT_EACCESS));
    emit("faccessat AT_FDCWD R_OK AT_EACCESS " + t.path, rc == 0 ? "0" : fail(last_err()));
    rc = kept(static_cast<int>(syscall(SYS_faccessat2, AT_FDCWD, p, W_OK, AT_SYMLINK_NOFOLLOW)));
    emit("syscall(SYS_faccessat2) AT_FDCWD W_OK AT_SYMLINK_NOFOLLOW " + t.path,
         rc == 0 ? "0" : fail(last_err()));
    rc = kept(static_cast<int>(syscall(SYS_faccessat, AT_FDCWD, p, F_OK)));
    emit("syscall(SYS_faccessat) AT_FDCWD F_OK " + t.path, rc == 0 ? "0" : fail(last_err()));
    char target[4096];
    ssize_t n = kept(readlink(p, target, sizeof target - 1));
    emit("readlink " + t.path, n < 0 ? fail(last_err()) : std::string(target, static_cast<size_t>(n)));
    struct statfs sf;
    rc = kept(statfs(p, &sf));
    emit("statfs " + t.path, rc == 0 ? statfs_summary(sf) : fail(last_err()));
}

void directory_calls(const Target& t) {
    std::string real = expand(t.path);
    const char* p = real.c_str();
    DIR* d = kept(opendir(p));
    emit("opendir " + t.path, d ? "ok" : fail(last_err()));
    if (d) {
        emit("opendir " + t.path + " | readdir", read_dir(d, t.with_ino));
        closedir(d);
    }
    int rc = kept(chdir(p));
    emit("chdir " + t.path, rc == 0 ? "0" : fail(last_err()));
    if (rc == 0) {
        char cwd[4096];
        emit("chdir " + t.path + " | getcwd", kept(getcwd(cwd, sizeof cwd)) ? cwd : fail(last_err()));
        d = kept(opendir("."));
        emit("chdir " + t.path + " | opendir .", d ? read_dir(d, t.with_ino) : fail(last_err()));
        if (d)
            closedir(d);
        chdir("/");
    }
    if (t.kind != 'd' && t.kind != 'l')
        return;
    int fd = kept(open(p, O_RDONLY | O_DIRECTORY));
    d = fd < 0 ? nullptr : kept(fdopendir(fd));
    emit("fdopendir open O_DIRECTORY " + t.path, d ? read_dir(d, t.with_ino) : fail(last_err()));
    if (d)
        closedir(d);
    else if (fd >= 0)
        close(fd);
    struct dirent** names = nullptr;
    int count = kept(scandir(p, &names, nullptr, alphasort));
    std::string joined = count < 0 ? fail(last_err()) : std::to_string(count) + " entries:";
    for (int i = 0; i < count; ++i) {
        joined += std::string(" ") + names[i]->d_name;
        free(names[i]);
    }
    free(names);
    emit("scandir " + t.path, joined);
    fd = kept(open(p, O_RDONLY | O_DIRECTORY));
    rc = fd < 0 ? -1 : kept(fchdir(fd));
    emit("fchdir open O_DIRECTORY " + t.path, rc == 0 ? "0" : fail(last_err()));
    if (rc == 0) {
        char cwd[4096];
        emit("fchdir open O_DIRECTORY " + t.path + " | getcwd",
             kept(getcwd(cwd, sizeof cwd)) ? cwd : fail(last_err()));
        chdir("/");
    }
    if (fd >= 0)
        close(fd);
}

/* The lowest free descriptor is the one an open returns. */
void descriptor_numbers(const Target& t) {
    std::string real = expand(t.path);
    for (const Variant& v : {Variant{"O_RDONLY", O_RDONLY, 0}, Variant{"O_PATH", O_PATH, 0}}) {
        int saved = fcntl(0, F_DUPFD_CLOEXEC, 100);
        close(0);
        int fd = open(real.c_str(), v.flags);
        int err = errno;
        if (fd >= 0)
            close(fd);
        if (saved >= 0) {
            dup2(saved, 0);
            close(saved);
        }
        emit(std::string("after close(0): open ") + v.name + " " + t.path,
             fd < 0 ? fail(err) : "fd " + std::to_string(fd));
    }
    int a = open("/dev/null", O_RDONLY), b = open("/dev/null", O_RDONLY), c = open("/dev/null", O_RDONLY);
    close(b);
    int fd = open(real.c_str(), O_RDONLY);
    int err = errno;
    emit("with a hole below two open descriptors: open O_RDONLY " + t.path,
         fd < 0 ? fail(err) : fd == b ? "the hole" : "fd " + std::to_string(fd) + ", not the hole");
    for (int x : {a, c, fd})
        if (x >= 0)
            close(x);
}

}  // namespace

void reserve_target(const std::string& path) { g_seen.insert(path); }

void probe_target(const Target& t) {
    if (!g_targets_done.insert(t.path).second)
        return;
    path_calls(t);
    flag_variants(t);
    entry_points(t);
    descriptor_numbers(t);
    directory_calls(t);
    probe_forms(t, &g_seen);
}

}  // namespace probe
