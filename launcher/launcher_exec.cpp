/* The program's environment, and exec as execvp(3) does it, through the PAL's raw execve. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "launcher.h"
#include "libos/libos_exec.h"
#include "pal/pal.h"

extern char** environ;

namespace launcher {
namespace {

/* "NAME=value" is a setting of one of `names`. */
bool names_one_of(const char* entry, std::initializer_list<const char*> names) {
    for (const char* name : names) {
        size_t n = strlen(name);
        if (strncmp(entry, name, n) == 0 && entry[n] == '=')
            return true;
    }
    return false;
}

/* "NAME=value" is one of the LibOS's variables that a new launch replaces (libos_env.h). */
bool replaced_by_a_launch(const char* entry) {
    for (const libos::EnvVariable& v : libos::kEnvironment)
        if (v.launch == libos::AtLaunch::kReplaced && names_one_of(entry, {v.name}))
            return true;
    return false;
}

/* The same file: equal text, or the same inode. */
bool same_file(const std::string& a, const std::string& b) {
    if (a == b)
        return true;
    struct stat sa, sb;
    return stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The descriptor, as text, of a launch's summary counts open in this process ("" for none): the
 * memfd the shim names libos-vcpu-stats, at 950 or above (table/libos_trace_stats.cpp). */
std::string own_stats_descriptor() {
    static const char kName[] = "/memfd:libos-vcpu-stats";
    constexpr int kFirst = 950, kEnd = 1024;
    /* Which of the 74 numbers are open, in one call: poll answers POLLNVAL for a number that is not.
     * Only those are read back (a readlink of /proc/self/fd/N costs a path walk through /proc, and
     * 74 of them were a fifth of what the launcher added to a program's start). */
    struct pollfd probe[kEnd - kFirst];
    for (int fd = kFirst; fd < kEnd; ++fd)
        probe[fd - kFirst] = {fd, 0, 0};
    const bool probed = poll(probe, kEnd - kFirst, 0) >= 0;
    for (int fd = kFirst; fd < kEnd; ++fd) {
        if (probed && (probe[fd - kFirst].revents & POLLNVAL))
            continue;
        char link[64];
        std::string path = "/proc/self/fd/" + std::to_string(fd);
        ssize_t n = readlink(path.c_str(), link, sizeof(link) - 1);
        if (n > 0 && static_cast<size_t>(n) >= sizeof(kName) - 1 && memcmp(link, kName, sizeof(kName) - 1) == 0)
            return std::to_string(fd);
    }
    return "";
}

long raw_execve(const char* path, char* const argv[], char* const envp[]) {
    return PalSyscall(SYS_execve, reinterpret_cast<long>(path), reinterpret_cast<long>(argv),
                      reinterpret_cast<long>(envp), 0, 0, 0);
}

/* execve, and for a file the kernel does not know how to run (ENOEXEC: a script without "#!"),
 * /bin/sh with the file as its script, as glibc's execvp does. Returns the errno. */
int try_exec(const char* path, char* const argv[], char* const envp[]) {
    long ret = raw_execve(path, argv, envp);
    if (ret != -ENOEXEC)
        return static_cast<int>(-ret);
    std::vector<char*> script_argv;
    script_argv.push_back(const_cast<char*>("/bin/sh"));
    script_argv.push_back(const_cast<char*>(path));
    for (size_t i = 1; argv[0] && argv[i]; ++i)
        script_argv.push_back(argv[i]);
    script_argv.push_back(nullptr);
    raw_execve("/bin/sh", script_argv.data(), envp);
    return ENOEXEC; /* as glibc: the file's own error, not the shell's */
}

}  // namespace

std::string merge_preload(const std::string& shim, const char* inherited) {
    std::string merged = shim;
    if (!inherited)
        return merged;
    /* ld.so separates LD_PRELOAD's entries with colons or spaces. */
    const char* p = inherited;
    while (*p) {
        size_t n = strcspn(p, ": ");
        std::string entry(p, n);
        if (!entry.empty() && !same_file(entry, shim))
            merged += ":" + entry;
        p += n;
        if (*p)
            ++p;
    }
    return merged;
}

std::vector<std::string> program_environment(const std::string& shim, const std::vector<std::string>& settings) {
    std::vector<std::string> env;
    const char* inherited_preload = nullptr;
    /* The enclosing launch's summary (its LIBOS_STATS_FD), and those it ran inside: this launch's
     * processes are counted there too, as strace -f -c counts a nested program's calls. */
    std::string outer;
    for (char** e = environ; e && *e; ++e) {
        if (names_one_of(*e, {libos::kEnvStatsFd, libos::kEnvStatsOuterFd}) && strchr(*e, '=')[1]) {
            const bool nearest = names_one_of(*e, {libos::kEnvStatsFd});
            const std::string value = strchr(*e, '=') + 1;
            outer = nearest ? value + (outer.empty() ? "" : "," + outer) : (outer.empty() ? value : outer + "," + value);
        }
    }
    /* This libos-run is an enclosing launch's first process (its program exec'd libos-run): the
     * shim preloaded into it created that launch's counts here, a memfd at 950 or above, which no
     * exec has written into the environment yet. */
    if (outer.empty())
        outer = own_stats_descriptor();
    for (char** e = environ; e && *e; ++e) {
        if (names_one_of(*e, {kEnvPreload})) {
            inherited_preload = *e + strlen(kEnvPreload) + 1; /* the last one counts, as for getenv's users */
            continue;
        }
        /* A new launch is a new machine: what an enclosing launch set goes. LIBOS_STRICT stays: inside
         * a strict launch, the shim of a launch started there must carry the enclosing filter's tag,
         * or its own host calls would be answered by the enclosing supervisor, on the enclosing
         * machine. (--strict itself replaces it.) */
        if (replaced_by_a_launch(*e))
            continue;
        env.emplace_back(*e);
    }
    if (!outer.empty()) {
        /* At most the four nearest, as the shim takes them. */
        size_t end = 0;
        for (int kept = 0; kept < 4 && end != std::string::npos; ++kept)
            end = outer.find(',', kept ? end + 1 : 0);
        env.push_back(std::string(libos::kEnvStatsOuterFd) + "=" + outer.substr(0, end));
    }
    if (!shim.empty())
        env.push_back(std::string(kEnvPreload) + "=" + merge_preload(shim, inherited_preload));
    else if (inherited_preload)
        env.push_back(std::string(kEnvPreload) + "=" + inherited_preload);
    for (const std::string& s : settings)
        env.push_back(s);
    /* On a machine glibc's rseq area is off: its cpu_id is the host's CPU (libos_exec.h). */
    bool machine = false;
    for (const std::string& s : settings)
        machine = machine || s.compare(0, strlen(kEnvCpus) + 1, std::string(kEnvCpus) + "=") == 0;
    if (machine) {
        const std::string name = std::string(libos::kTunablesName) + "=";
        bool found = false;
        for (std::string& e : env) {
            if (e.compare(0, name.size(), name) != 0)
                continue;
            found = true;
            if (!libos::tunables_have_rseq_off(e.c_str() + name.size()))
                e += (e.size() > name.size() ? ":" : "") + std::string(libos::kRseqOff);
        }
        if (!found)
            env.push_back(name + libos::kRseqOff);
    }
    return env;
}

int exec_program(const char* file, char* const argv[], char* const envp[]) {
    if (*file == '\0')
        return ENOENT;
    if (strchr(file, '/'))
        return try_exec(file, argv, envp);

    size_t file_len = strlen(file);
    if (file_len > NAME_MAX)
        return ENAMETOOLONG;
    const char* path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin"; /* glibc's default (confstr _CS_PATH) */
    bool got_eacces = false;
    for (const char* p = path;;) {
        size_t n = strcspn(p, ":");
        /* An empty entry is the current directory. */
        std::string candidate = n ? std::string(p, n) + "/" + file : std::string(file);
        int err = try_exec(candidate.c_str(), argv, envp);
        switch (err) {
        case EACCES:
            got_eacces = true;
            break;
        case ENOENT:
        case ESTALE:
        case ENOTDIR:
        case ENODEV:
        case ETIMEDOUT:
        case ENAMETOOLONG:
            break;
        default:
            return err;
        }
        if (p[n] == '\0')
            break;
        p += n + 1;
    }
    return got_eacces ? EACCES : ENOENT;
}

}  // namespace launcher
