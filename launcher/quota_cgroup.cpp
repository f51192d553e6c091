/* --cpu-quota's enforcement: a cgroup of the launch's own, with the quota, that the program runs in
 * and that is removed when the last process in it has ended.
 *
 * Where: beside the launcher's own cgroup in the hierarchy that has the CPU controller (cgroup v2's,
 * where the controller is enabled for the parent's children; or v1's cpu hierarchy), named
 * libos-run-<pid>. The launcher moves itself into it before it execs the program (or, with --strict,
 * forks it), so every process of the launch starts there.
 *
 * Removal: nobody is left to remove the cgroup when the program ends, since the launcher became the
 * program. A small keeper process, started before the move, in the launcher's old cgroup and a
 * session of its own (so that ^C and the program's process group do not reach it), and a grandchild
 * (so that it is no child of the program), waits until the cgroup has held a process and is empty,
 * then removes it. v2 tells it through cgroup.events; v1 has no such file, so it looks every 100 ms. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "launcher.h"
#include "libos/libos_quota.h"

namespace launcher {
namespace {

constexpr unsigned kPeriodUs = 100000; /* the kernel's default CFS period, as docker uses */

bool read_text(const std::string& path, std::string* out) {
    std::ifstream in(path);
    if (!in)
        return false;
    std::ostringstream text;
    text << in.rdbuf();
    *out = text.str();
    return true;
}

/* Writes `text` to a cgroup file; 0 or the errno of the write. */
int write_text(const std::string& path, const std::string& text) {
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    ssize_t n = write(fd, text.data(), text.size());
    int err = n == static_cast<ssize_t>(text.size()) ? 0 : (n < 0 ? errno : EIO);
    close(fd);
    return err;
}

bool exists(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}

/* Whether a space-separated list of names (cgroup.controllers, cgroup.subtree_control) has `name`. */
bool has_word(const std::string& text, const char* name) {
    std::istringstream words(text);
    std::string word;
    while (words >> word)
        if (word == name)
            return true;
    return false;
}

/* The launcher's cgroup in the hierarchy with the CPU controller. */
struct Hierarchy {
    bool v2 = false;
    std::string mount; /* where it is mounted */
    std::string own;   /* the launcher's cgroup directory */
};

/* Finds it from /proc/self/cgroup ("ID:CONTROLLERS:PATH" lines) and the usual mount points, as the
 * shim's host_cgroup_quota does: v2 when its root offers the cpu controller, else v1's cpu. */
bool find_hierarchy(Hierarchy* out, std::string* why) {
    std::ifstream in("/proc/self/cgroup");
    if (!in) {
        *why = "/proc/self/cgroup cannot be read";
        return false;
    }
    std::string line, v2_path, v1_path;
    bool have_v2 = false, have_v1 = false;
    while (std::getline(in, line)) {
        size_t first = line.find(':'), second = first == std::string::npos ? first : line.find(':', first + 1);
        if (second == std::string::npos)
            continue;
        std::string controllers = line.substr(first + 1, second - first - 1);
        std::string path = line.substr(second + 1);
        if (line.compare(0, first, "0") == 0 && controllers.empty()) {
            have_v2 = true, v2_path = path;
            continue;
        }
        std::istringstream list(controllers);
        std::string c;
        while (std::getline(list, c, ','))
            if (c == "cpu")
                have_v1 = true, v1_path = path;
    }
    if (have_v2) {
        for (const char* mount : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
            std::string controllers;
            if (!read_text(std::string(mount) + "/cgroup.controllers", &controllers) || !has_word(controllers, "cpu"))
                continue;
            out->v2 = true;
            out->mount = mount;
            out->own = exists(mount + v2_path + "/cgroup.controllers") ? mount + v2_path : std::string(mount);
            if (out->own.size() > 1 && out->own.back() == '/')
                out->own.pop_back();
            return true;
        }
    }
    if (have_v1) {
        for (const char* mount : {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuacct,cpu"}) {
            if (!exists(std::string(mount) + "/cpu.cfs_quota_us"))
                continue;
            out->mount = mount;
            out->own = exists(mount + v1_path + "/cgroup.procs") ? mount + v1_path : std::string(mount);
            if (out->own.size() > 1 && out->own.back() == '/')
                out->own.pop_back();
            return true;
        }
    }
    *why = "no cgroup hierarchy with the CPU controller is mounted at /sys/fs/cgroup";
    return false;
}

/* What the v2 cgroup `dir` limits by itself, as "file value" ("" when nothing): its CPU quota, memory
 * and process limits, I/O limits, cpuset. */
std::string own_limit(const std::string& dir) {
    struct File {
        const char* name;
        const char* unlimited; /* the value of no limit; nullptr: empty */
    };
    static const File kFiles[] = {{"cpu.max", "max"},        {"memory.max", "max"}, {"memory.high", "max"},
                                  {"memory.swap.max", "max"}, {"pids.max", "max"},   {"io.max", nullptr},
                                  {"cpuset.cpus", nullptr},   {"cpuset.mems", nullptr}};
    for (const File& f : kFiles) {
        std::string text;
        if (!read_text(dir + "/" + f.name, &text))
            continue;
        while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
            text.pop_back();
        std::string first = text.substr(0, text.find(' '));
        bool unlimited = f.unlimited ? first == f.unlimited : text.empty();
        if (!unlimited)
            return std::string(f.name) + " " + text;
    }
    return std::string();
}

/* The keeper (see the top): waits for the cgroup to empty, then removes it. `ready` is the read end
 * of the pipe on which the launcher says it has moved ("m"); end of file without it means it has
 * not, and the cgroup is removed at once. Never returns. */
[[noreturn]] void keep(const std::string& dir, bool v2, int ready) {
    setsid();
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    if (chdir("/") != 0) {
        /* nothing depends on it: the cgroup's path is absolute */
    }
    /* Nothing of the launch's stays open here, or a reader of the program's pipes (a test harness on
     * descriptor 3) would wait for the keeper too: the pipe's end becomes 3, standard input, output and
     * error /dev/null, and everything else is closed. */
    if (ready != 3) {
        if (dup2(ready, 3) != 3)
            _exit(1);
        ready = 3;
    }
    int null = open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3; ++fd)
        if (null >= 0 && null != fd)
            dup2(null, fd);
    close_range(4, ~0U, 0);
    char moved = 0;
    ssize_t got;
    do
        got = read(ready, &moved, 1);
    while (got < 0 && errno == EINTR);
    close(ready);
    if (got == 1 && moved == 'm') {
        const std::string events = dir + "/cgroup.events";
        const std::string procs = dir + "/cgroup.procs";
        int fd = v2 ? open(events.c_str(), O_RDONLY | O_CLOEXEC) : -1;
        for (;;) {
            std::string text;
            if (v2 && fd >= 0) {
                if (!read_text(events, &text) || text.find("populated 0") != std::string::npos)
                    break;
                struct pollfd p = {fd, POLLPRI, 0};
                poll(&p, 1, 1000); /* a change of cgroup.events is POLLPRI; the timeout is a safety net */
            } else {
                if (!read_text(procs, &text) || text.empty())
                    break;
                struct timespec tick = {0, 100 * 1000 * 1000};
                nanosleep(&tick, nullptr);
            }
        }
        if (fd >= 0)
            close(fd);
    }
    /* An empty cgroup that still has children of the program's making cannot go; retry a while. */
    for (int tries = 0; tries < 50 && rmdir(dir.c_str()) != 0 && errno == EBUSY; ++tries) {
        struct timespec tick = {0, 100 * 1000 * 1000};
        nanosleep(&tick, nullptr);
    }
    _exit(0);
}

/* Starts the keeper as a grandchild; returns the write end of its pipe, or -1. */
int start_keeper(const std::string& dir, bool v2) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    fflush(nullptr);
    pid_t child = fork();
    if (child < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (child == 0) {
        close(p[1]);
        pid_t grandchild = fork();
        if (grandchild == 0)
            keep(dir, v2, p[0]);
        _exit(grandchild < 0 ? 1 : 0);
    }
    close(p[0]);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        close(p[1]);
        return -1;
    }
    return p[1];
}

}  // namespace

QuotaCgroup enforce_cpu_quota(uint32_t milli) {
    QuotaCgroup result;
    /* As a PID namespace's init (a container's entrypoint), the launcher becomes the program, and the
     * keeper would be the program's child: one it never asked for, that a wait() for every child waits
     * for. */
    if (getpid() == 1) {
        result.why = "libos-run is the init of its PID namespace, so no process of its own could remove the "
                     "cgroup afterwards";
        return result;
    }
    Hierarchy h;
    if (!find_hierarchy(&h, &result.why))
        return result;
    /* v2 allows processes only in leaves once a controller is enabled below a cgroup, so the new one
     * goes beside the launcher's (in its parent), unless the launcher is in the root. A cgroup beside
     * it is under the same ancestors, but not under the launcher's own cgroup: where that one limits
     * anything itself, moving out would drop the limit, so the quota is not enforced then. */
    std::string parent = h.own;
    if (h.v2 && h.own != h.mount) {
        parent = h.own.substr(0, h.own.rfind('/'));
        std::string enabled;
        if (!read_text(parent + "/cgroup.subtree_control", &enabled) || !has_word(enabled, "cpu")) {
            result.why = "the cpu controller is not enabled for the children of " + parent;
            return result;
        }
        std::string limit = own_limit(h.own);
        if (!limit.empty()) {
            result.why = "the cgroup " + h.own + " limits the program itself (" + limit +
                         "), which a cgroup beside it would not";
            return result;
        }
    }
    std::string dir;
    for (int tries = 0;; ++tries) {
        uint32_t salt = 0;
        if (getrandom(&salt, sizeof(salt), 0) != static_cast<ssize_t>(sizeof(salt)))
            salt = static_cast<uint32_t>(tries);
        char suffix[16];
        snprintf(suffix, sizeof(suffix), "-%06x", salt & 0xffffff);
        dir = parent + "/libos-run-" + std::to_string(getpid()) + suffix;
        if (mkdir(dir.c_str(), 0755) == 0)
            break;
        if (errno != EEXIST || tries == 7) {
            result.why = "cannot create " + dir + ": " + strerror(errno);
            return result;
        }
    }
    uint64_t quota = static_cast<uint64_t>(milli) * kPeriodUs / libos::kQuotaScale;
    int err = h.v2 ? write_text(dir + "/cpu.max", std::to_string(quota) + " " + std::to_string(kPeriodUs))
                   : write_text(dir + "/cpu.cfs_period_us", std::to_string(kPeriodUs));
    if (!err && !h.v2)
        err = write_text(dir + "/cpu.cfs_quota_us", std::to_string(quota));
    int ready = err ? -1 : start_keeper(dir, h.v2);
    if (!err && ready < 0)
        err = errno ? errno : EAGAIN;
    if (!err)
        err = write_text(dir + "/cgroup.procs", std::to_string(getpid()));
    if (err) {
        if (ready >= 0)
            close(ready); /* the keeper removes the cgroup */
        else
            rmdir(dir.c_str());
        result.why = "cannot set up " + dir + ": " + strerror(err);
        return result;
    }
    ssize_t ignored = write(ready, "m", 1);
    (void)ignored;
    close(ready);
    result.enforced = true;
    result.dir = dir;
    return result;
}

}  // namespace launcher
