/* Unit tests of the values of the LibOS's settings other than the machine (libos_settings.h): each
 * parser's accepted values and its exact one-line refusals, and init() refusing a bad value of a
 * variable it reads with status 125 before anything runs.
 *
 * SettingsSwitch:      parse_switch (LIBOS_PROPAGATE, LIBOS_TRACE_STACK, LIBOS_STATS, ...)
 * SettingsTraceTarget: parse_trace_target and open_trace_file (LIBOS_TRACE, --trace[=FILE])
 * SettingsTraceFormat: parse_trace_format (LIBOS_TRACE_FORMAT, --trace-format)
 * SettingsInit:        init() over the environment, in death-test children */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "libos/libos_config.h"
#include "libos/libos_env.h"
#include "libos/libos_init.h"
#include "libos/libos_quota.h"
#include "libos/libos_settings.h"
#include "libos/libos_trace_filter.h"

namespace {

using libos::ConfigError;
using libos::TraceTarget;

constexpr const char* kSwitchAllowed = "expected 1 (on) or 0 (off)";

std::string refusal(const char* setting, const char* token, const char* why) {
    return std::string("libos: ") + setting + ": bad token '" + token + "': " + why;
}

std::string cwd() {
    char buf[PATH_MAX];
    return getcwd(buf, sizeof(buf)) ? buf : "";
}

/* ==== SettingsSwitch ========================================================================== */

TEST(SettingsSwitch, OneAndZero) {
    ConfigError err{};
    bool on = false;
    ASSERT_TRUE(libos::parse_switch("LIBOS_STATS", "1", &on, &err));
    EXPECT_TRUE(on);
    ASSERT_TRUE(libos::parse_switch("LIBOS_STATS", "0", &on, &err));
    EXPECT_FALSE(on);
}

TEST(SettingsSwitch, UnsetOrEmptyKeepsTheDefault) {
    ConfigError err{};
    for (bool initial : {false, true}) {
        bool on = initial;
        ASSERT_TRUE(libos::parse_switch("LIBOS_PROPAGATE", nullptr, &on, &err));
        EXPECT_EQ(on, initial);
        ASSERT_TRUE(libos::parse_switch("LIBOS_PROPAGATE", "", &on, &err));
        EXPECT_EQ(on, initial);
    }
}

TEST(SettingsSwitch, EverythingElseIsRefusedWithOneLine) {
    for (const char* bad : {"yes", "no", "true", "on", "2", "01", "00", " 1", "1 ", "-1", "10"}) {
        ConfigError err{};
        bool on = true;
        EXPECT_FALSE(libos::parse_switch("LIBOS_STATS", bad, &on, &err)) << bad;
        EXPECT_TRUE(on) << "a refused value leaves the setting alone: " << bad;
        EXPECT_EQ(err.text, refusal("LIBOS_STATS", bad, kSwitchAllowed));
    }
}

TEST(SettingsSwitch, ControlCharactersKeepOneLine) {
    ConfigError err{};
    bool on = false;
    EXPECT_FALSE(libos::parse_switch("LIBOS_TRACE_STACK", "1\n", &on, &err));
    EXPECT_EQ(err.text, refusal("LIBOS_TRACE_STACK", "1\\n", kSwitchAllowed));
}

/* ==== SettingsTraceTarget ===================================================================== */

struct Target {
    bool ok;
    TraceTarget target;
    std::string path;
    std::string error;
};

Target target_of(const char* text) {
    Target t{};
    ConfigError err{};
    char path[512];
    memset(path, 'x', sizeof(path));
    t.ok = libos::parse_trace_target("LIBOS_TRACE", text, &t.target, path, sizeof(path), &err);
    t.path = path;
    t.error = t.ok ? "" : err.text;
    return t;
}

TEST(SettingsTraceTarget, UnsetAndZeroAreOff) {
    for (const char* text : {static_cast<const char*>(nullptr), "0"}) {
        Target t = target_of(text);
        ASSERT_TRUE(t.ok) << t.error;
        EXPECT_EQ(t.target, TraceTarget::kOff);
        EXPECT_EQ(t.path, "");
    }
}

TEST(SettingsTraceTarget, EmptyOneAndStderrAreStandardError) {
    for (const char* text : {"", "1", "stderr"}) {
        Target t = target_of(text);
        ASSERT_TRUE(t.ok) << t.error;
        EXPECT_EQ(t.target, TraceTarget::kStandardError) << text;
        EXPECT_EQ(t.path, "");
    }
}

TEST(SettingsTraceTarget, AbsoluteFileIsKept) {
    Target t = target_of("/tmp/trace.txt");
    ASSERT_TRUE(t.ok) << t.error;
    EXPECT_EQ(t.target, TraceTarget::kFile);
    EXPECT_EQ(t.path, "/tmp/trace.txt");
}

TEST(SettingsTraceTarget, RelativeFileIsMadeAbsolute) {
    for (const char* text : {"trace.txt", "./1", "./0", "./stderr", "sub/dir/t", "10", "stderr2", "-"}) {
        Target t = target_of(text);
        ASSERT_TRUE(t.ok) << t.error;
        EXPECT_EQ(t.target, TraceTarget::kFile) << text;
        EXPECT_EQ(t.path, (cwd() == "/" ? "" : cwd()) + "/" + text);
    }
}

TEST(SettingsTraceTarget, TooLongIsRefused) {
    std::string name = "/" + std::string(511, 'a');
    Target t = target_of(name.c_str());
    EXPECT_FALSE(t.ok);
    EXPECT_EQ(t.path, "");
    EXPECT_EQ(t.error, refusal("LIBOS_TRACE", ("/" + std::string(47, 'a') + "...").c_str(),
                               "the file's absolute path is longer than 511 bytes"));
    name.pop_back();
    t = target_of(name.c_str());
    EXPECT_TRUE(t.ok) << "511 bytes fit: " << t.error;
    EXPECT_EQ(t.path, name);
}

TEST(SettingsTraceTarget, OpenFailureNamesTheReason) {
    ConfigError err{};
    EXPECT_EQ(libos::open_trace_file("--trace", "/nonexistent/dir/f", "/nonexistent/dir/f", &err), -1);
    EXPECT_EQ(err.text, refusal("--trace", "/nonexistent/dir/f",
                                "cannot open it to append the trace: No such file or directory"));
    EXPECT_EQ(libos::open_trace_file("LIBOS_TRACE", "/", "/", &err), -1);
    EXPECT_EQ(err.text, refusal("LIBOS_TRACE", "/", "cannot open it to append the trace: Is a directory"));
}

TEST(SettingsTraceTarget, OpenAppendsAndClosesOnExec) {
    char dir[] = "/tmp/libos-settings-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    std::string path = std::string(dir) + "/t";
    ConfigError err{};
    for (const char* text : {"first\n", "second\n"}) {
        long fd = libos::open_trace_file("LIBOS_TRACE", path.c_str(), path.c_str(), &err);
        ASSERT_GE(fd, 0) << err.text;
        EXPECT_EQ(fcntl(static_cast<int>(fd), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        EXPECT_EQ(write(static_cast<int>(fd), text, strlen(text)), static_cast<ssize_t>(strlen(text)));
        close(static_cast<int>(fd));
    }
    char got[32] = {};
    int fd = open(path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    EXPECT_GT(read(fd, got, sizeof(got) - 1), 0);
    close(fd);
    EXPECT_STREQ(got, "first\nsecond\n");
    unlink(path.c_str());
    rmdir(dir);
}

/* ==== SettingsTraceFormat ===================================================================== */

TEST(SettingsTraceFormat, TextAndJson) {
    ConfigError err{};
    bool json = false;
    ASSERT_TRUE(libos::parse_trace_format("LIBOS_TRACE_FORMAT", "json", &json, &err));
    EXPECT_TRUE(json);
    ASSERT_TRUE(libos::parse_trace_format("LIBOS_TRACE_FORMAT", "text", &json, &err));
    EXPECT_FALSE(json);
    json = true;
    ASSERT_TRUE(libos::parse_trace_format("LIBOS_TRACE_FORMAT", "", &json, &err));
    ASSERT_TRUE(libos::parse_trace_format("LIBOS_TRACE_FORMAT", nullptr, &json, &err));
    EXPECT_TRUE(json) << "unset or empty leaves the default";
}

/* ==== SettingsTraceFilter and SettingsTraceTime ============================================== */

TEST(SettingsTraceFilter, NamesClassesAndComplement) {
    ConfigError err{};
    libos::TraceFilter f;
    ASSERT_TRUE(libos::parse_trace_filter("LIBOS_TRACE_FILTER", nullptr, &f, &err));
    EXPECT_TRUE(libos::trace_filter_has(f, SYS_read) && libos::trace_filter_has(f, 1000)) << "unset: every call";
    ASSERT_TRUE(libos::parse_trace_filter("LIBOS_TRACE_FILTER", "openat,%cpu", &f, &err)) << err.text;
    EXPECT_TRUE(libos::trace_filter_has(f, SYS_openat));
    EXPECT_TRUE(libos::trace_filter_has(f, SYS_sched_setaffinity) && libos::trace_filter_has(f, SYS_getcpu));
#ifdef SYS_open
    EXPECT_FALSE(libos::trace_filter_has(f, SYS_open) || libos::trace_filter_has(f, SYS_mbind));
#else /* arm64: no open(2); openat2 is not openat either */
    EXPECT_FALSE(libos::trace_filter_has(f, SYS_openat2) || libos::trace_filter_has(f, SYS_mbind));
#endif
    EXPECT_FALSE(libos::trace_filter_has(f, 1000));
    ASSERT_TRUE(libos::parse_trace_filter("LIBOS_TRACE_FILTER", "!%numa", &f, &err)) << err.text;
    EXPECT_FALSE(libos::trace_filter_has(f, SYS_mbind) || libos::trace_filter_has(f, SYS_set_mempolicy));
    EXPECT_TRUE(libos::trace_filter_has(f, SYS_openat) && libos::trace_filter_has(f, 1000));
    ASSERT_TRUE(libos::parse_trace_filter("LIBOS_TRACE_FILTER", "%file", &f, &err)) << err.text;
    EXPECT_TRUE(libos::trace_filter_has(f, SYS_execve) && libos::trace_filter_has(f, SYS_statx));
    EXPECT_FALSE(libos::trace_filter_has(f, SYS_read) || libos::trace_filter_has(f, SYS_fstat));
}

TEST(SettingsTraceFilter, BadTokensAreRefusedByName) {
    for (const char* bad : {"%bogus", "openat,opnat", "openat,,getpid", ",", "!", "%CPU", "read ", "!!read"}) {
        ConfigError err{};
        libos::TraceFilter f;
        EXPECT_FALSE(libos::parse_trace_filter("--trace-filter", bad, &f, &err)) << bad;
        EXPECT_EQ(std::string(err.text).rfind("libos: --trace-filter: bad token '", 0), 0u) << err.text;
        EXPECT_EQ(strchr(err.text, '\n'), nullptr) << "one line: " << err.text;
    }
    ConfigError err{};
    libos::TraceFilter f;
    std::string longer(501, 'a');
    EXPECT_FALSE(libos::parse_trace_filter("LIBOS_TRACE_FILTER", longer.c_str(), &f, &err));
}

TEST(SettingsTraceTime, TheFourWordsAndNothingElse) {
    ConfigError err{};
    libos::TraceTime t = libos::TraceTime::kNone;
    ASSERT_TRUE(libos::parse_trace_time("LIBOS_TRACE_TIME", "wall-us", &t, &err));
    EXPECT_EQ(t, libos::TraceTime::kWallUs);
    ASSERT_TRUE(libos::parse_trace_time("LIBOS_TRACE_TIME", "relative", &t, &err));
    EXPECT_EQ(t, libos::TraceTime::kRelative);
    ASSERT_TRUE(libos::parse_trace_time("LIBOS_TRACE_TIME", "", &t, &err));
    EXPECT_EQ(t, libos::TraceTime::kRelative) << "empty leaves the default";
    for (const char* bad : {"utc", "WALL", "wall_us", "-tt", "1"}) {
        EXPECT_FALSE(libos::parse_trace_time("--trace-time", bad, &t, &err)) << bad;
        EXPECT_EQ(err.text, refusal("--trace-time", bad, "expected wall, wall-us, relative or none"));
    }
}

TEST(SettingsTraceFormat, EverythingElseIsRefused) {
    for (const char* bad : {"xml", "JSON", "Text", "json ", "1", "0"}) {
        ConfigError err{};
        bool json = false;
        EXPECT_FALSE(libos::parse_trace_format("--trace-format", bad, &json, &err)) << bad;
        EXPECT_EQ(err.text, refusal("--trace-format", bad, "expected text or json"));
    }
}

/* ==== the CPU quota ============================================================================ */

TEST(CpuQuota, ReadsThousandthsAndWritesThemBack) {
    struct Case {
        const char* text;
        uint32_t milli;
    } cases[] = {{"1.5", 1500}, {"2", 2000}, {"0.01", 10}, {"0.125", 125}, {"3.10", 3100}, {"0.5", 500}};
    for (const Case& c : cases) {
        uint32_t milli = 0;
        libos::ConfigError err;
        ASSERT_TRUE(libos::parse_cpu_quota("LIBOS_CPU_QUOTA", c.text, 4, &milli, &err)) << c.text << ": " << err.text;
        EXPECT_EQ(milli, c.milli) << c.text;
        char back[24];
        libos::format_cpu_quota(milli, back, sizeof(back));
        uint32_t again = 0;
        ASSERT_TRUE(libos::parse_cpu_quota("LIBOS_CPU_QUOTA", back, 4, &again, &err)) << back;
        EXPECT_EQ(again, milli) << back;
    }
    char text[24];
    libos::format_cpu_quota(1500, text, sizeof(text));
    EXPECT_STREQ(text, "1.5");
    libos::format_cpu_quota(2000, text, sizeof(text));
    EXPECT_STREQ(text, "2");
    libos::format_cpu_quota(125, text, sizeof(text));
    EXPECT_STREQ(text, "0.125");
    uint32_t milli = 7;
    libos::ConfigError err;
    EXPECT_TRUE(libos::parse_cpu_quota("LIBOS_CPU_QUOTA", "", 4, &milli, &err));
    EXPECT_EQ(milli, 0u) << "empty is no quota";
    EXPECT_FALSE(libos::parse_cpu_quota("LIBOS_CPU_QUOTA", "4.001", 4, &milli, &err));
    EXPECT_TRUE(libos::parse_cpu_quota("LIBOS_CPU_QUOTA", "4.000", 4, &milli, &err));
}

TEST(CpuQuota, CountFromQuotaRoundsUpWithinTheAllowedCpus) {
    char text[24];
    EXPECT_EQ(libos::count_from_quota(8, 1500, text, sizeof(text)), 2u);
    EXPECT_STREQ(text, "1.5");
    EXPECT_EQ(libos::count_from_quota(8, 0, text, sizeof(text)), 8u) << "no quota: the allowed CPUs";
    EXPECT_STREQ(text, "");
    EXPECT_EQ(libos::count_from_quota(1, 1500, text, sizeof(text)), 1u) << "the cpuset limits too";
    EXPECT_STREQ(text, "1") << "the quota shown is at most the count";
    EXPECT_EQ(libos::count_from_quota(4, 10, text, sizeof(text)), 1u);
    EXPECT_STREQ(text, "0.01");
    EXPECT_EQ(libos::count_from_quota(64, 32000, text, sizeof(text)), 32u);
    /* A quota of millions of CPUs (4300000000 us per 1000 us period) is capped, not wrapped. */
    EXPECT_EQ(libos::count_from_quota(2, 0xffffffffu, text, sizeof(text)), 2u);
    EXPECT_STREQ(text, "2");
    EXPECT_EQ(libos::cpus_for_quota(0xffffffffu), 4294968u);
}

/* ==== SettingsInit ============================================================================ */

/* init() in a death-test child, with `name` set to `value` and no machine: it must end with 125 and
 * exactly `line` on stderr. */
void expect_init_refuses(const char* name, const char* value, const std::string& line) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    std::string pattern = "^";
    for (char c : line) {
        if (strchr("\\^$.|?*+()[]{}", c))
            pattern += '\\';
        pattern += c;
    }
    pattern += "\n$";
    EXPECT_EXIT(
        {
            unsetenv("LIBOS_CPUS");
            unsetenv("LIBOS_CPU_MAP");
            setenv(name, value, 1);
            libos::init();
            _exit(0);
        },
        testing::ExitedWithCode(125), pattern)
        << name << "=" << value;
}

TEST(SettingsInit, RefusesBadSwitchesAndFormat) {
    const char* stats_why = "expected 1 (one summary for the launch), per-process or 0 (off)";
    expect_init_refuses("LIBOS_STATS", "yes", refusal("LIBOS_STATS", "yes", stats_why));
    expect_init_refuses("LIBOS_STATS", "per_process", refusal("LIBOS_STATS", "per_process", stats_why));
    expect_init_refuses("LIBOS_TRACE_STACK", "true", refusal("LIBOS_TRACE_STACK", "true", kSwitchAllowed));
    expect_init_refuses("LIBOS_PROPAGATE", "no", refusal("LIBOS_PROPAGATE", "no", kSwitchAllowed));
    expect_init_refuses("LIBOS_TRACE_FORMAT", "xml", refusal("LIBOS_TRACE_FORMAT", "xml", "expected text or json"));
}

TEST(SettingsInit, RefusesATraceFileThatCannotBeOpened) {
    expect_init_refuses("LIBOS_TRACE", "/nonexistent/dir/f",
                        refusal("LIBOS_TRACE", "/nonexistent/dir/f",
                                "cannot open it to append the trace: No such file or directory"));
}

TEST(SettingsInit, RefusesMalformedValuesPassedAtExec) {
    const char* strict_why = "expected strict mode's tag, 16 lowercase hexadecimal digits not all 0, as libos-run "
                             "--strict sets it";
    expect_init_refuses("LIBOS_STRICT", "xyz", refusal("LIBOS_STRICT", "xyz", strict_why));
    expect_init_refuses("LIBOS_STRICT", "0000000000000000", refusal("LIBOS_STRICT", "0000000000000000", strict_why));
    expect_init_refuses("LIBOS_STATE_FD", "3x",
                        refusal("LIBOS_STATE_FD", "3x",
                                "expected a descriptor number from 0 to 2147483647, as the shim writes it"));
    const char* mask_why =
        "expected a CPU list such as 0-3, then optionally @ and the launch's clock, as the shim writes it at exec";
    expect_init_refuses("LIBOS_AFFINITY", "0-3@", refusal("LIBOS_AFFINITY", "0-3@", mask_why));
    /* LIBOS_MEMPOLICY: a mode, then optionally ':' and a node list, exactly as numa_exec_text writes it. */
    const char* policy_why = "expected a mode number, optionally ':' and a node list (\"2:0-1\")";
    for (const char* bad : {"bind", "2:", "2:0,", "2:,0", "2:0-"})
        expect_init_refuses("LIBOS_MEMPOLICY", bad, refusal("LIBOS_MEMPOLICY", bad, policy_why));
    /* A newline is shown escaped, so that the refusal stays one line. */
    expect_init_refuses("LIBOS_MEMPOLICY", "2:0-1\n", refusal("LIBOS_MEMPOLICY", "2:0-1\\n", policy_why));
    expect_init_refuses("LIBOS_MEMPOLICY", "2:0\n1", refusal("LIBOS_MEMPOLICY", "2:0\\n1", policy_why));
    expect_init_refuses("LIBOS_AFFINITY", "all", refusal("LIBOS_AFFINITY", "all", mask_why));
    expect_init_refuses("LIBOS_CWD", "sys/devices",
                        refusal("LIBOS_CWD", "sys/devices",
                                "expected an absolute path shorter than 512 bytes, as the shim writes it at exec"));
}

/* Every variable of the one list (libos_env.h) has a documented set of values, and a value outside it
 * is refused: by init() for the variables it reads, checked here; elsewhere for the others, named
 * here with the test that checks them. A variable added to the list without either fails. */
TEST(SettingsInit, EveryVariableRefusesABadValue) {
    struct Case {
        const char* name;
        const char* bad;
    };
    const Case by_init[] = {
        {"LIBOS_CPUS", "x"},           {"LIBOS_CPU_MAP", "a"},         {"LIBOS_PROPAGATE", "yes"},
        {"LIBOS_TRACE", "/nonexistent/dir/f"}, {"LIBOS_TRACE_STACK", "yes"}, {"LIBOS_TRACE_FORMAT", "xml"},
        {"LIBOS_STATS", "yes"},        {"LIBOS_STRICT", "xyz"},        {"LIBOS_STATE_FD", "x"},
        {"LIBOS_AFFINITY", "x"},       {"LIBOS_CWD", "x"},             {"LIBOS_TOPOLOGY", "cores=0"},
        {"LIBOS_NUMA", "x"},           {"LIBOS_CPUID", "yes"},         {"LIBOS_CPU_QUOTA", "x"},
        {"LIBOS_CPUS_FROM_QUOTA", "yes"}, {"LIBOS_MEMPOLICY", "bind"}, {"LIBOS_HOST_SYSTEM_FD", "x"},
        {"LIBOS_TRACE_FILTER", "%bogus"}, {"LIBOS_TRACE_TIME", "utc"}, {"LIBOS_TRACE_PER_PROCESS", "yes"},
        {"LIBOS_STATS_FD", "fd9"},     {"LIBOS_TRACE_EXEC", "bogus"},
        {"LIBOS_STATS_OUTER_FD", "1,x"}, {"LIBOS_LIVE_FDS", "3,x"},
    };
    /* Read by others: the launcher (tests/launcher/launcher_test.sh) and the shim's test hook
     * (tests/launcher/launcher_test.sh, "every variable"). */
    const char* elsewhere[] = {"LIBOS_SHIM_PATH", "LIBOS_TEST_CRASH", "LIBOS_TEST_STRICT_MISSING"};
    for (const libos::EnvVariable& v : libos::kEnvironment) {
        const Case* found = nullptr;
        for (const Case& c : by_init)
            if (strcmp(c.name, v.name) == 0)
                found = &c;
        bool other = false;
        for (const char* name : elsewhere)
            other = other || strcmp(name, v.name) == 0;
        if (other)
            continue;
        ASSERT_NE(found, nullptr) << v.name << " is in LIBOS_ENVIRONMENT without a bad value here: give it "
                                  << "documented values (libos_settings.h) and a case";
        GTEST_FLAG_SET(death_test_style, "threadsafe");
        EXPECT_EXIT(
            {
                for (const libos::EnvVariable& u : libos::kEnvironment)
                    unsetenv(u.name);
                setenv(found->name, found->bad, 1);
                libos::init();
                _exit(0);
            },
            testing::ExitedWithCode(125), std::string("^libos: ") + v.name + ": bad token '[^\n]*\n$")
            << v.name << "=" << found->bad;
    }
}

}  // namespace
