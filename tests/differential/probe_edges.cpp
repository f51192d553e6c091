/* The edges of path resolution and of descriptors that the views must keep as the kernel keeps them,
 * each in a child process of its own where it changes the process (its user, its mount namespace, its
 * descriptor limit):
 *   - a directory descriptor that is not a directory (a file, an O_PATH descriptor of a file): ENOTDIR;
 *   - "." and ".." need search permission on the directory they leave, as any component does (as root:
 *     a user without it, in a directory of mode 0700);
 *   - a descriptor of a directory on a detached mount, whose name reads "/" (as root: in a mount
 *     namespace of its own);
 *   - descriptor numbers under a modest RLIMIT_NOFILE: the lowest free one, and EMFILE only when none
 *     is free;
 * A check that needs root prints nothing without it (natively and under the views alike). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "probe_list.h"
#include "probe_target.h"

namespace probe {
namespace {

/* Runs `body` in a child; its lines come out in order with the parent's. */
template <typename Body>
void in_child(const char* what, Body body) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        body();
        fflush(stdout);
        _exit(0);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        emit(std::string("edges: ") + what, "the child failed");
}

/* Opens `path` relative to `dirfd` with the raw call (no libc wrapper can take another way). */
int raw_openat(int dirfd, const char* path, int flags) {
    return kept(static_cast<int>(syscall(SYS_openat, dirfd, path, flags, 0)));
}

void file_as_directory() {
    for (int flags : {O_RDONLY, O_PATH}) {
        int fd = open("/etc/passwd", flags);
        if (fd < 0)
            continue;
        std::string key = std::string("edges: openat(fd of /etc/passwd") + (flags == O_PATH ? " O_PATH" : "") +
                          ", ../../sys/devices/system/cpu/online)";
        int got = raw_openat(fd, "../../sys/devices/system/cpu/online", O_RDONLY);
        emit(key, got < 0 ? fail(last_err()) : "opened");
        if (got >= 0)
            close(got);
        close(fd);
    }
}

void dots_need_search_permission() {
    if (geteuid() != 0)
        return;
    char dir[] = "/tmp/libos-diff-XXXXXX";
    if (!mkdtemp(dir))
        return;
    chmod(dir, 0700);
    in_child("dots as user 65534", [&] {
        if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
            _exit(1);
        const std::string base = dir;
        for (const char* rest : {"/../../proc/cpuinfo", "/./../../proc/cpuinfo",
                                 "/../../sys/devices/system/cpu/online", "/.", "/.."}) {
            struct stat st;
            int rc = kept(stat((base + rest).c_str(), &st));
            emit(std::string("edges: as user 65534, stat <0700 dir>") + rest, rc == 0 ? "0" : fail(last_err()));
            int fd = raw_openat(AT_FDCWD, (base + rest).c_str(), O_RDONLY);
            emit(std::string("edges: as user 65534, open <0700 dir>") + rest, fd < 0 ? fail(last_err()) : "opened");
        }
    });
    rmdir(dir);
}

void detached_directory() {
    if (geteuid() != 0)
        return;
    in_child("a detached mount", [] {
        if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
            return;
        char dir[] = "/tmp/libos-diff-XXXXXX";
        if (!mkdtemp(dir))
            return;
        if (mount("none", dir, "tmpfs", 0, nullptr) == 0) {
            int fd = open(dir, O_RDONLY | O_DIRECTORY);
            umount2(dir, MNT_DETACH);
            int got = raw_openat(fd, "sys/devices/system/cpu/online", O_RDONLY);
            emit("edges: openat(directory of a detached tmpfs, sys/devices/system/cpu/online)",
                 got < 0 ? fail(last_err()) : "opened");
            close(fd);
        }
        rmdir(dir);
    });
}

void descriptor_limit() {
    in_child("RLIMIT_NOFILE 200", [] {
        struct rlimit lim = {200, 200};
        if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
            _exit(1);
        for (const char* path : {"/proc/cpuinfo", "/sys/devices/system/cpu/online"}) {
            int fd = raw_openat(AT_FDCWD, path, O_RDONLY);
            emit(std::string("edges: RLIMIT_NOFILE 200, open ") + path, fd < 0 ? fail(last_err()) : "fd " + std::to_string(fd));
            if (fd >= 0)
                close(fd);
        }
        /* Every descriptor but the last (199): the generated file's, and then none is left. */
        int null_fd = open("/dev/null", O_RDONLY);
        for (int fd = 0; fd < 199 && null_fd >= 0; ++fd)
            if (fcntl(fd, F_GETFD) < 0)
                dup2(null_fd, fd);
        for (int round = 0; round < 2; ++round) {
            int fd = raw_openat(AT_FDCWD, "/proc/cpuinfo", O_RDONLY);
            emit("edges: RLIMIT_NOFILE 200, all but one descriptor used, open /proc/cpuinfo (" +
                     std::to_string(round + 1) + ")",
                 fd < 0 ? fail(last_err()) : "fd " + std::to_string(fd));
        }
    });
}

}  // namespace

void probe_edges() {
    file_as_directory();
    dots_need_search_permission();
    detached_directory();
    descriptor_limit();
}

}  // namespace probe
