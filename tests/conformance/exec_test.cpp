/* execvp's PATH search, as glibc's execvpe does it: the same outcome natively and under the shim,
 * which makes the attempts itself (shim/shim_exec.cpp). Each case runs in a child, whose exit status
 * says what happened: the program ran (its own status), or execvp failed (EXEC_FAILED + errno). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "conformance.h"

namespace {

constexpr int kRan = 42;          /* the programs below exit with this */
constexpr int kExecFailed = 100;  /* a child whose execvp failed exits with this + errno */

class ExecvpSearch : public ::testing::Test {
protected:
    void SetUp() override {
        char dir[] = "/tmp/libos-exec-XXXXXX";
        ASSERT_NE(mkdtemp(dir), nullptr);
        dir_ = dir;
    }
    void TearDown() override {
        for (const std::string& f : files_)
            unlink(f.c_str());
        rmdir(dir_.c_str());
    }
    /* A file in the test's directory: a shell script (with "#!" when `shebang`), mode `mode`. */
    std::string make(const std::string& name, const std::string& body, bool shebang = true, mode_t mode = 0755) {
        std::string path = dir_ + "/" + name;
        std::string text = (shebang ? "#!/bin/sh\n" : "") + body;
        int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        EXPECT_GE(fd, 0) << path;
        EXPECT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
        close(fd);
        files_.push_back(path);
        return path;
    }
    /* The cases that run a script need /bin/sh to start under the shim: in a sanitizer build the
     * preloaded shim is ASan's, which an uninstrumented /bin/sh cannot load. */
    static bool shell_cannot_run() {
#if defined(__SANITIZE_ADDRESS__)
        const char* preload = getenv("LD_PRELOAD");
        return preload && preload[0];
#else
        return getenv("LIBOS_TEST_ASAN_SHIM") && getenv("LD_PRELOAD");
#endif
    }
    /* execvp(file, argv) in a child with PATH set to `path`: its exit status. */
    static int run(const std::string& path, const std::string& file, char* const argv[]) {
        pid_t pid = fork();
        if (pid == 0) {
            setenv("PATH", path.c_str(), 1);
            execvp(file.c_str(), argv);
            _exit(kExecFailed + errno);
        }
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) != pid)
            return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
    }
    std::string dir_;
    std::vector<std::string> files_;
};

char* const kArgv[] = {const_cast<char*>("prog"), nullptr};

/* NAME_MAX is the longest name a directory entry has: one that long is found and run. */
TEST_F(ExecvpSearch, NameOfNameMaxBytesRuns) {
    if (shell_cannot_run())
        GTEST_SKIP() << "the sanitizer build's shim cannot be preloaded into /bin/sh";
    const std::string name(NAME_MAX, 'n');
    make(name, "exit 42\n");
    EXPECT_EQ(run(dir_, name, kArgv), kRan);
}

/* A longer name is left for the kernel to judge in each directory: ENOENT where the directory is
 * missing, ENAMETOOLONG where the kernel reaches the name. */
TEST_F(ExecvpSearch, LongerNameIsTheKernelsToRefuse) {
    const std::string name(NAME_MAX + 1, 'n');
    EXPECT_EQ(run("/nonexistent-libos-dir", name, kArgv), kExecFailed + ENOENT);
    EXPECT_EQ(run(dir_, name, kArgv), kExecFailed + ENAMETOOLONG);
}

/* PATH longer than PATH_MAX: its entries are still searched, up to the one holding the program. */
TEST_F(ExecvpSearch, PathLongerThanPathMaxIsSearched) {
    if (shell_cannot_run())
        GTEST_SKIP() << "the sanitizer build's shim cannot be preloaded into /bin/sh";
    make("prog", "exit 42\n");
    std::string path;
    while (path.size() < 2 * PATH_MAX)
        path += "/nonexistent-libos-dir:";
    EXPECT_EQ(run(path + dir_, "prog", kArgv), kRan);
}

/* An entry longer than PATH_MAX is passed over, and the search goes on. */
TEST_F(ExecvpSearch, EntryLongerThanPathMaxIsPassedOver) {
    if (shell_cannot_run())
        GTEST_SKIP() << "the sanitizer build's shim cannot be preloaded into /bin/sh";
    make("prog", "exit 42\n");
    const std::string entry = "/" + std::string(PATH_MAX + 10, 'e');
    EXPECT_EQ(run(entry + ":" + dir_, "prog", kArgv), kRan);
}

/* A file without the executable format (ENOEXEC) is run by /bin/sh, even with an empty argv. */
TEST_F(ExecvpSearch, ScriptWithoutShebangRunsWithEmptyArgv) {
    if (shell_cannot_run())
        GTEST_SKIP() << "the sanitizer build's shim cannot be preloaded into /bin/sh";
    make("prog", "exit 42\n", false);
    char* const empty[] = {nullptr};
    EXPECT_EQ(run(dir_, "prog", empty), kRan);
    EXPECT_EQ(run(dir_, "prog", kArgv), kRan);
}

/* EACCES (a file without execute permission) wins over ENOENT when nothing ran. */
TEST_F(ExecvpSearch, EaccesIsReportedOverEnoent) {
    make("prog", "exit 42\n", true, 0644);
    EXPECT_EQ(run(dir_ + ":/nonexistent-libos-dir", "prog", kArgv), kExecFailed + EACCES);
    EXPECT_EQ(run("/nonexistent-libos-dir", "prog", kArgv), kExecFailed + ENOENT);
}

/* An environment array that cannot be read: the kernel's error, in the kernel's order. From Linux 6.8
 * execve looks the program up before it reads the arrays (ENOENT for a missing program), before that
 * it read them first (EFAULT), as qemu-user's emulation does; an existing program is EFAULT either way. The shim adds the machine's
 * variables to the environment, and must leave such an array for the kernel to refuse. */
TEST(Execve, UnreadableEnvironmentIsTheKernelsError) {
    struct utsname u;
    ASSERT_EQ(uname(&u), 0);
    unsigned major = 0, minor = 0;
    ASSERT_EQ(sscanf(u.release, "%u.%u", &major, &minor), 2);
    /* qemu-user's own execve reads the arrays before it looks the program up. */
    const bool looks_up_first = (major > 6 || (major == 6 && minor >= 8)) && !libos_test::emulator();
    char* const argv[] = {const_cast<char*>("true"), nullptr};
    char* const* volatile bad = reinterpret_cast<char* const*>(1);
    const struct {
        const char* path;
        int expected;
    } cases[] = {{"/nonexistent-libos-dir/prog", looks_up_first ? ENOENT : EFAULT}, {"/bin/true", EFAULT}};
    for (const auto& c : cases) {
        for (int raw = 0; raw < 2; ++raw) {
            pid_t pid = fork();
            ASSERT_GE(pid, 0);
            if (pid == 0) {
                if (raw)
                    syscall(SYS_execve, c.path, argv, bad);
                else
                    execve(c.path, argv, bad);
                _exit(kExecFailed + errno);
            }
            int status = 0;
            ASSERT_EQ(waitpid(pid, &status, 0), pid);
            EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == kExecFailed + c.expected)
                << c.path << (raw ? " (syscall)" : " (execve)") << ", status " << status;
        }
    }
}

/* fexecve refuses a null argv or envp and a negative descriptor with EINVAL, before any exec. */
TEST(Fexecve, NullArgvOrEnvpIsEinval) {
    int fd = open("/bin/true", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    char* const argv[] = {const_cast<char*>("true"), nullptr};
    /* Through a pointer the compiler cannot see through, and a function pointer, which carries no
     * nonnull attribute for UBSan to check: glibc declares the arguments nonnull. */
    char* const* volatile null_vector = nullptr;
    int (*volatile call_fexecve)(int, char* const*, char* const*) = fexecve;
    for (int which = 0; which < 3; ++which) {
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            if (which == 0)
                call_fexecve(fd, null_vector, environ);
            else if (which == 1)
                call_fexecve(fd, argv, null_vector);
            else
                call_fexecve(-1, argv, environ);
            _exit(kExecFailed + errno);
        }
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == kExecFailed + EINVAL) << "case " << which << ", status " << status;
    }
    close(fd);
}

/* execvp's stack: glibc's search needs little beyond execve's own (a buffer of PATH's and the
 * name's length), so that execvp works wherever execv does: between vfork and exec, and in a signal
 * handler on a small alternate stack. Measured on a painted alternate stack, with attempts that fail
 * (they take the same path up to the kernel), execvp's deepest use against execv's. */
bool g_use_execvp;
void exec_on_signal(int) {
    char* const argv[] = {const_cast<char*>("libos-no-such-program"), nullptr};
    if (g_use_execvp)
        execvp("libos-no-such-program", argv);
    else
        execv("/nonexistent-libos-dir/libos-no-such-program", argv);
}

/* The bytes of a 64 KiB alternate stack that a failed exec in a handler on it used; -1 on error. */
long exec_stack_use(bool use_execvp) {
    const size_t size = 64 * 1024;
    unsigned char* area = static_cast<unsigned char*>(
        mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (area == MAP_FAILED)
        return -1;
    memset(area, 0xa5, size);
    stack_t ss = {}, old = {};
    ss.ss_sp = area;
    ss.ss_size = size;
    struct sigaction sa = {}, old_sa = {};
    sa.sa_handler = exec_on_signal;
    sa.sa_flags = SA_ONSTACK;
    g_use_execvp = use_execvp;
    long used = -1;
    if (sigaltstack(&ss, &old) == 0 && sigaction(SIGUSR1, &sa, &old_sa) == 0) {
        raise(SIGUSR1);
        raise(SIGUSR1); /* the second time, with every lazy binding resolved */
        size_t untouched = 0;
        while (untouched < size && area[untouched] == 0xa5)
            ++untouched;
        used = static_cast<long>(size - untouched);
        sigaction(SIGUSR1, &old_sa, nullptr);
        sigaltstack(&old, nullptr);
    }
    munmap(area, size);
    return used;
}

TEST(ExecvpStack, NeedsLittleMoreThanExecv) {
    const char* saved = getenv("PATH");
    const std::string path = saved ? saved : "";
    setenv("PATH", "/nonexistent-libos-dir", 1);
    const long execv_use = exec_stack_use(false), execvp_use = exec_stack_use(true);
    if (saved)
        setenv("PATH", path.c_str(), 1);
    else
        unsetenv("PATH");
    ASSERT_GT(execv_use, 0);
    ASSERT_GT(execvp_use, 0);
    EXPECT_LE(execvp_use, execv_use + 1024) << "execv used " << execv_use << " bytes, execvp " << execvp_use;
}

}  // namespace
