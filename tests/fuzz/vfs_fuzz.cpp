/* libFuzzer target: the path resolver and classifier of the views, through its public functions
 * (table/include/libos/libos_vfs.h): vfs_classify, vfs_absolute, vfs_join and vfs_resolve. Nothing
 * of table/vfs/'s inside is used, so that the resolver can change under it.
 *
 * The process is one machine of 12 vCPUs, set up once as the shim's start-up does it (LIBOS_CPUS).
 * An input is a path, and optionally a NUL byte and a directory:
 *
 *     PATH [\0 DIR]
 *
 * DIR is vfs_join's directory. When it classifies as a directory of the views, it becomes the
 * virtual current directory (as a chdir into the views makes it), and relative PATHs resolve
 * against it.
 *
 * The properties, beyond "no crash, no overflow, no undefined behaviour" (ASan, UBSan):
 *  1. Every path written (virt, real, vfs_join's and vfs_absolute's output) is NUL-terminated within
 *     its kVfsPathMax bytes; virt, the path resolved, is absolute and canonical: no empty, "." or
 *     ".." component, no trailing '/' (an error names no path: virt is empty).
 *  2. Resolution is deterministic, and a resolved path of the views resolves to itself.
 *  3. The machine shows through: a path that walks through cpuN with N >= 12 fails with ENOENT there;
 *     cpuN itself is a directory whose host directory is cpuH, H the host CPU that vCPU N runs on. A
 *     generated file says which; host paths behind views are absolute.
 *  4. vfs_absolute gives an absolute path back as it is (when it fits), a relative one joined to
 *     the virtual current directory, and nothing without one or for the empty path; vfs_resolve,
 *     the shim's path of a program's (AT_FDCWD, path), agrees with vfs_absolute then vfs_classify.
 *  5. vfs_join puts the directory, a '/' and the relative path together as they are (the walk
 *     judges "." and ".."), or refuses what does not fit.
 * A violated property prints "FUZZ CHECK: ..." and aborts, which libFuzzer reports as a crash. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <string_view>

#include "libos/libos_env.h"
#include "libos/libos_init.h"
#include "libos/libos_machine.h"
#include "libos/libos_vfs.h"
#include "pal/pal.h"

namespace {

using libos::Caller;
using libos::kVfsPathMax;
using libos::VfsKind;
using libos::VfsPath;

constexpr uint32_t kVcpus = 12;

[[noreturn]] void fail(const char* what, std::string_view detail) {
    fprintf(stderr, "FUZZ CHECK: %s: '%.*s'\n", what, static_cast<int>(detail.size() > 600 ? 600 : detail.size()),
            detail.data());
    abort();
}

void check(bool ok, const char* what, std::string_view detail) {
    if (!ok)
        fail(what, detail);
}

/* A string the LibOS wrote into a buffer of kVfsPathMax bytes. */
std::string_view terminated(const char* buf, const char* what) {
    const void* nul = memchr(buf, '\0', kVfsPathMax);
    check(nul != nullptr, what, std::string_view(buf, kVfsPathMax));
    return std::string_view(buf, static_cast<size_t>(static_cast<const char*>(nul) - buf));
}

/* Absolute, and no empty, "." or ".." component, no trailing '/' ("/" itself aside). */
bool is_normalized(std::string_view path) {
    if (path.empty() || path[0] != '/')
        return false;
    if (path == "/")
        return true;
    for (size_t at = 1;;) {
        size_t slash = path.find('/', at);
        std::string_view part = path.substr(at, slash == std::string_view::npos ? slash : slash - at);
        if (part.empty() || part == "." || part == "..")
            return false;
        if (slash == std::string_view::npos)
            return true;
        at = slash + 1;
    }
}

/* A copy of s in a heap block of exactly its size, so that ASan sees any read past its end. */
std::unique_ptr<char[]> exact_copy(std::string_view s) {
    std::unique_ptr<char[]> p(new char[s.size() + 1]);
    memcpy(p.get(), s.data(), s.size());
    p[s.size()] = '\0';
    return p;
}

bool same(const VfsPath& a, const VfsPath& b) {
    return a.kind == b.kind && a.file == b.file && a.dir == b.dir && a.node == b.node && a.tid == b.tid &&
           a.error == b.error && strcmp(a.real, b.real) == 0 && strcmp(a.virt, b.virt) == 0;
}

/* Whether a resolved path is one of the views' own (not where a link out of them led). */
bool in_views(std::string_view virt) {
    return virt.substr(0, 23) == "/sys/devices/system/cpu" || virt.substr(0, 25) == "/sys/devices/system/node/" ||
           virt.substr(0, 6) == "/proc/";
}

/* "cpuN" as the kernel names a CPU's directory: N decimal, without leading zeros. */
bool cpu_number(std::string_view name, uint64_t* n) {
    if (name.size() < 4 || name.size() > 12 || name.substr(0, 3) != "cpu" || (name[3] == '0' && name.size() > 4))
        return false;
    *n = 0;
    for (char c : name.substr(3)) {
        if (c < '0' || c > '9')
            return false;
        *n = *n * 10 + static_cast<uint64_t>(c - '0');
    }
    return true;
}

/* Properties 1 to 3 for a path that vfs_classify took. */
void check_classified(const char* path, const VfsPath& p) {
    std::string_view virt = terminated(p.virt, "virt is not NUL-terminated");
    std::string_view real = terminated(p.real, "real is not NUL-terminated");
    /* Property 3's first half, on the path as given: through cpuN, N >= 12, nothing is reached. */
    constexpr std::string_view kCpuDir = "/sys/devices/system/cpu/";
    std::string_view given(path);
    if (given.substr(0, kCpuDir.size()) == kCpuDir) {
        std::string_view first = given.substr(kCpuDir.size());
        uint64_t n;
        if (cpu_number(first.substr(0, first.find('/')), &n) && n >= kVcpus)
            check(p.kind == VfsKind::Error && p.error == -ENOENT, "a vCPU past the machine is not missing", given);
    }
    static VfsPath again;
    check(libos::vfs_classify(Caller::self(), path, &again) && same(p, again), "classification is not deterministic",
          path);
    if (p.kind == VfsKind::Error) {
        check(virt.empty() && p.error < 0, "an error that names a path, or no error", path);
        return;
    }
    check(is_normalized(virt), "virt is not canonical", virt);
    check(p.node >= -1, "a node below -1", virt);
    if (p.kind == VfsKind::Generated)
        check(p.file != libos::VfsFile::None, "a generated file that names no content", virt);
    if (p.kind == VfsKind::Generated || p.kind == VfsKind::Redirect || p.kind == VfsKind::Directory)
        check(!real.empty() && real[0] == '/', "a view whose host path is not absolute", virt);

    if (in_views(virt)) {
        /* A walk through a renumbered vCPU that leaves the views (cpu2/node0/../possible) is sent to
         * the host file it reached: resolved again, that path is simply the host's. */
        auto canonical = exact_copy(virt);
        bool again_ok = libos::vfs_classify(Caller::self(), canonical.get(), &again);
        bool host_file = p.kind == VfsKind::Redirect && real == virt;
        check(again_ok ? same(p, again) || (host_file && again.kind == VfsKind::Redirect && again.real == real)
                       : host_file,
              "the resolved path resolves differently", path);
    }

    if (virt.substr(0, kCpuDir.size()) != kCpuDir)
        return;
    std::string_view rest = virt.substr(kCpuDir.size());
    std::string_view name = rest.substr(0, rest.find('/'));
    uint64_t n;
    if (!cpu_number(name, &n))
        return;
    check(n < kVcpus, "a resolved path through a vCPU past the machine", virt);
    if (name.size() == rest.size()) {
        std::string host = std::string(kCpuDir) + "cpu" + std::to_string(libos::host_cpu_of(static_cast<uint32_t>(n)));
        check(p.kind == VfsKind::Directory && real == host, "cpuN is not its host CPU's directory", virt);
    }
}

/* Property 5. */
void check_joined(const char* dir, const char* relative, bool ok, const char* joined) {
    std::string expected = std::string(dir) + "/" + relative;
    check(ok == (expected.size() < kVfsPathMax), "vfs_join refused what fits, or took what does not", expected);
    if (ok)
        check(terminated(joined, "vfs_join's result is not NUL-terminated") == expected,
              "vfs_join changed what it joined", expected);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    /* The machine's start-up takes the fault signals for the LibOS's crash reports. A finding must
     * reach ASan's and libFuzzer's handlers instead, which write the reproducer: the actions from
     * before go back (libFuzzer installs its own after this function, where none is set). The
     * views' own fault-safe copies only ever read the fuzzer's valid buffers here. */
    struct sigaction before[PAL_FAULT_SIGNALS];
    for (int i = 0; i < PAL_FAULT_SIGNALS; ++i)
        sigaction(g_pal_fault_signals[i], nullptr, &before[i]);
    for (const libos::EnvVariable& v : libos::kEnvironment)
        unsetenv(v.name);
    setenv(libos::kEnvCpus, std::to_string(kVcpus).c_str(), 1);
    if (!libos::is_virtual() || libos::vcpu_count() != kVcpus) {
        fprintf(stderr, "vfs_fuzz: the machine of %u vCPUs could not be set up\n", kVcpus);
        abort();
    }
    for (int i = 0; i < PAL_FAULT_SIGNALS; ++i)
        sigaction(g_pal_fault_signals[i], &before[i], nullptr);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    size_t nul = input.find('\0');
    auto path = exact_copy(input.substr(0, nul));
    std::unique_ptr<char[]> dir;
    if (nul != std::string_view::npos)
        dir = exact_copy(input.substr(nul + 1, input.find('\0', nul + 1) - (nul + 1)));
    static VfsPath classified;

    /* The directory: the virtual current directory when it is one of the views' directories. A
     * redirect may name a file (a node's numastat on a node of its own), which chdir refuses
     * (libos_fs.cpp sets the virtual directory only after the host's chdir succeeded). */
    libos::vfs_set_cwd(nullptr);
    struct stat target;
    if (dir && libos::vfs_classify(Caller::self(), dir.get(), &classified) &&
        (classified.kind == VfsKind::Directory ||
         (classified.kind == VfsKind::Redirect && stat(classified.real, &target) == 0 && S_ISDIR(target.st_mode))))
        libos::vfs_set_cwd(classified.virt);
    static char cwd[kVfsPathMax];
    bool have_cwd = libos::vfs_cwd(cwd);

    if (path[0] == '/' && libos::vfs_classify(Caller::self(), path.get(), &classified))
        check_classified(path.get(), classified);

    /* Property 4. */
    std::unique_ptr<char[]> absolute(new char[kVfsPathMax]);
    bool made_absolute = libos::vfs_absolute(path.get(), absolute.get());
    size_t length = strlen(path.get());
    if (path[0] == '/') {
        check(made_absolute == (length < kVfsPathMax), "vfs_absolute refused an absolute path that fits", path.get());
        if (made_absolute)
            check(strcmp(absolute.get(), path.get()) == 0, "vfs_absolute changed an absolute path", path.get());
    } else if (!have_cwd || length == 0) {
        check(!made_absolute, "a relative or empty path made absolute without a virtual current directory",
              path.get());
    } else {
        static char joined[kVfsPathMax];
        bool ok = libos::vfs_join(cwd, path.get(), joined);
        check(made_absolute == ok && (!ok || strcmp(joined, absolute.get()) == 0),
              "vfs_absolute differs from joining the current directory", path.get());
    }
    bool classified_ok = false;
    static VfsPath by_absolute, by_resolve;
    if (made_absolute) {
        terminated(absolute.get(), "vfs_absolute's result is not NUL-terminated");
        classified_ok = libos::vfs_classify(Caller::self(), absolute.get(), &by_absolute);
        if (classified_ok)
            check_classified(absolute.get(), by_absolute);
    }
    if (length + 1 < kVfsPathMax) {
        bool resolved = libos::vfs_resolve(Caller::self(), AT_FDCWD, reinterpret_cast<uintptr_t>(path.get()), &by_resolve);
        /* A relative path that joined to the current directory outgrows kVfsPathMax is still resolved
         * (up to PATH_MAX, as the kernel does), where joining cannot express it. */
        const bool beyond_join = path[0] != '/' && have_cwd && !made_absolute;
        if (beyond_join) {
        } else if (path[0] == '/' || have_cwd) {
            /* A relative path that leaves a virtual current directory for a host file (cpu2/../smt)
             * is the host's to resolve from its own current directory, cpu2's host directory; joined
             * to the virtual path it names a renamed directory, which classifying keeps. */
            const bool host_from_cwd = path[0] != '/' && !resolved && classified_ok &&
                                       (by_absolute.kind == VfsKind::NotVirtual ||
                                        (by_absolute.kind == VfsKind::Redirect &&
                                         strcmp(by_absolute.real, by_absolute.virt) == 0));
            if (!((resolved == classified_ok || host_from_cwd) && (!resolved || same(by_resolve, by_absolute))))
                fprintf(stderr, "resolve %d (kind %d error %d real '%s' virt '%s'), classify %d (kind %d error %d real '%s' virt '%s'), cwd '%s'\n",
                        resolved, int(by_resolve.kind), by_resolve.error, by_resolve.real, by_resolve.virt, classified_ok,
                        int(by_absolute.kind), by_absolute.error, by_absolute.real, by_absolute.virt, cwd);
            check((resolved == classified_ok || host_from_cwd) && (!resolved || same(by_resolve, by_absolute)),
                  "vfs_resolve differs from vfs_absolute and vfs_classify", path.get());
        } else if (resolved) {
            /* Outside the views, a relative name that may lead into them starts from the host's
             * current directory: the same as classifying it joined to that. */
            static char host_cwd[kVfsPathMax], joined_cwd[kVfsPathMax];
            static VfsPath by_host_cwd;
            check(getcwd(host_cwd, sizeof(host_cwd)) != nullptr, "no host current directory", path.get());
            /* Joined, it may outgrow kVfsPathMax, which the walk resolves (up to PATH_MAX) and joining
             * cannot express: as beyond_join above, for the host's current directory. */
            if (libos::vfs_join(host_cwd, path.get(), joined_cwd))
                check(libos::vfs_classify(Caller::self(), joined_cwd, &by_host_cwd) && same(by_resolve, by_host_cwd),
                      "vfs_resolve differs from classifying the path joined to the host's current directory",
                      path.get());
        }
    }

    /* Property 5, and 1 for the joined path. */
    const char* join_dir = dir ? dir.get() : "/";
    std::unique_ptr<char[]> joined(new char[kVfsPathMax]);
    check_joined(join_dir, path.get(), libos::vfs_join(join_dir, path.get(), joined.get()), joined.get());
    return 0;
}
