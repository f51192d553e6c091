/* The other spellings of a probed path: a trailing "/", "/." and "/..", "//", "/./", a component that
 * does not exist followed by "..", ".." after the file itself and after its directory, the path through
 * /proc/self/root, relative to a current directory (also through /proc/self/cwd) and to a directory
 * descriptor, and through the links of sysfs (nodeN/cpuV, cpuV/nodeN, /sys/bus/cpu/devices/cpuV,
 * cpuV/subsystem) and of /proc (self, thread-self), also with ".." after the link. The kernel resolves
 * them component by component, following links; the views must give the same answers. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "probe_target.h"

namespace probe {
namespace {

struct Form {
    std::string cwd;   /* chdir here first, or "" */
    std::string dirfd; /* relative to a descriptor of this directory, or "" */
    std::string path;
};

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

/* The first component of `rest` and what follows it ("cpu0/topology/x" -> "cpu0", "/topology/x"). */
void first_component(const std::string& rest, std::string* first, std::string* after) {
    size_t slash = rest.find('/');
    *first = rest.substr(0, slash);
    *after = slash == std::string::npos ? "" : rest.substr(slash);
}

bool numbered(const std::string& name, const char* prefix) {
    std::string p = prefix;
    return name.size() > p.size() && starts_with(name, p) &&
           name.find_first_not_of("0123456789", p.size()) == std::string::npos;
}

/* The same file through the links of sysfs and /proc. */
void link_forms(const std::string& path, std::vector<Form>* forms) {
    const std::string cpu = "/sys/devices/system/cpu/", node = "/sys/devices/system/node/";
    std::string first, after;
    if (starts_with(path, cpu)) {
        first_component(path.substr(cpu.size()), &first, &after);
        if (numbered(first, "cpu")) {
            forms->push_back({"", "", node + "node0/" + first + after});
            forms->push_back({"", "", "/sys/bus/cpu/devices/" + first + after});
            forms->push_back({"", "", cpu + "cpu0/subsystem/devices/" + first + after});
        } else {
            /* node0/cpu0 is a link to ../../cpu/cpu0: ".." after it is cpu/. */
            forms->push_back({"", "", node + "node0/cpu0/../" + path.substr(cpu.size())});
            forms->push_back({node + "node0/cpu0", "", "../" + path.substr(cpu.size())});
        }
    } else if (starts_with(path, node)) {
        first_component(path.substr(node.size()), &first, &after);
        if (numbered(first, "node")) {
            forms->push_back({"", "", cpu + "cpu0/" + first + after});
        } else {
            forms->push_back({"", "", cpu + "cpu0/node0/../" + path.substr(node.size())});
            forms->push_back({cpu + "cpu0/node0", "", "../" + path.substr(node.size())});
        }
    }
    if (starts_with(path, "/sys/devices/system/"))
        forms->push_back({"", "", "/sys/devices/../devices/" + path.substr(13)});
    if (starts_with(path, "/proc/self/"))
        forms->push_back({"", "", "/proc/thread-self/../../self/" + path.substr(11)});
    if (path.rfind('/') == 5 && starts_with(path, "/proc/")) {
        /* /proc/self is /proc/$PID, whose ".." is /proc; /proc/thread-self's is /proc/$PID/task. */
        forms->push_back({"", "", "/proc/self/.." + path.substr(5)});
        forms->push_back({"", "", "/proc/thread-self/.." + path.substr(5)});
    }
}

std::vector<Form> forms_of(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == 0 || slash == std::string::npos)
        return {};
    std::string dir = path.substr(0, slash), base = path.substr(slash + 1);
    std::string dir_name = dir.substr(dir.rfind('/') + 1);
    std::vector<Form> forms = {
        {"", "", path + "/"},
        {"", "", path + "/."},
        {"", "", path + "/.."},
        {"", "", dir + "//" + base},
        {"", "", dir + "/./" + base},
        {"", "", "/" + path},
        {"", "", dir + "/nonexistent/../" + base},
        {"", "", path + "/../" + base},
        {"", "", dir + "/../" + dir_name + "/" + base},
        {"", "", "/proc/self/root" + path},
        {dir, "", base},
        {dir, "", "./" + base},
        {dir, "", base + "/"},
        {dir, "", "/proc/self/cwd/" + base},
        {"/", "", path.substr(1)},
        {"", dir, base},
        {"", dir, "./" + base},
        {"", "/", path.substr(1)},
    };
    link_forms(path, &forms);
    return forms;
}

/* stat, lstat, access and open of the spelling (their *at forms with a directory descriptor). */
void stat_calls(const std::string& prefix, int dirfd, const std::string& shown, const Target& t) {
    std::string real = expand(shown);
    const char* p = real.c_str();
    bool at = dirfd != AT_FDCWD;
    struct stat st;
    int rc = kept(at ? fstatat(dirfd, p, &st, 0) : stat(p, &st));
    emit(prefix + (at ? "fstatat 0 " : "stat ") + shown,
         rc == 0 ? stat_summary(st, t.with_ino) : fail(last_err()));
    rc = kept(at ? fstatat(dirfd, p, &st, AT_SYMLINK_NOFOLLOW) : lstat(p, &st));
    emit(prefix + (at ? "fstatat AT_SYMLINK_NOFOLLOW " : "lstat ") + shown,
         rc == 0 ? stat_summary(st, t.with_ino) : fail(last_err()));
    rc = kept(at ? faccessat(dirfd, p, F_OK, 0) : access(p, F_OK));
    emit(prefix + (at ? "faccessat F_OK " : "access F_OK ") + shown, rc == 0 ? "0" : fail(last_err()));
    int fd = kept(at ? openat(dirfd, p, O_RDONLY) : open(p, O_RDONLY));
    opened(prefix + (at ? "openat O_RDONLY " : "open O_RDONLY ") + shown, fd, last_err(), O_RDONLY, t,
           kFstat | kLink | kRead);
}

}  // namespace

void probe_forms(const Target& t, std::set<std::string>* seen) {
    for (const Form& f : forms_of(t.path)) {
        std::string prefix = !f.cwd.empty()     ? "cwd=" + f.cwd + " "
                             : !f.dirfd.empty() ? "dirfd=" + f.dirfd + " "
                                                : "";
        if (!seen->insert(prefix + f.path).second)
            continue;
        if (!f.dirfd.empty()) {
            int dirfd = kept(open(expand(f.dirfd).c_str(), O_RDONLY | O_DIRECTORY));
            if (dirfd < 0) {
                emit(prefix + "open of the directory, for " + f.path, fail(last_err()));
                continue;
            }
            stat_calls(prefix, dirfd, f.path, t);
            close(dirfd);
            continue;
        }
        if (!f.cwd.empty() && kept(chdir(expand(f.cwd).c_str())) != 0) {
            emit(prefix + "chdir, for " + f.path, fail(last_err()));
            continue;
        }
        stat_calls(prefix, AT_FDCWD, f.path, t);
        if (!f.cwd.empty())
            chdir("/");
    }
}

}  // namespace probe
