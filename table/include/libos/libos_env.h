/* The LibOS's environment variables, in one list, and reading the environment without libc's getenv,
 * which is not safe everywhere the LibOS runs (before libc's own start-up, in a vfork child).
 *
 * LIBOS_ENVIRONMENT(X) names every variable, with what a new launch (libos-run) does with an
 * inherited value, and what exec does with a value the program passes in its exec's environment:
 *   launch: kReplaced  the launch removes the inherited value (a new launch is a new machine) and
 *                      sets its own when it has one
 *           kKept      the inherited value stays
 *   exec:   kRewritten the LibOS drops the program's value and writes its own (so that a scrubbed
 *                      or stale environment cannot take a child off the machine)
 *           kPassed    the program's value is passed as it is
 * Each variable's values are read, and any other refused, by libos_config.h (the machine) and
 * libos_settings.h (the rest); tests/unit/settings_test.cpp fails for a variable without a refusal. */
#ifndef LIBOS_ENV_H
#define LIBOS_ENV_H

#include <stddef.h>

namespace libos {

enum class AtLaunch : unsigned char { kReplaced, kKept };
enum class AtExec : unsigned char { kRewritten, kPassed };

#define LIBOS_ENVIRONMENT(X)                                                                                         \
    /* the machine (libos_init.h) */                                                                                 \
    X(kEnvCpus, "LIBOS_CPUS", kReplaced, kRewritten)                                                                 \
    X(kEnvCpuMap, "LIBOS_CPU_MAP", kReplaced, kRewritten)                                                            \
    X(kEnvTopology, "LIBOS_TOPOLOGY", kReplaced, kRewritten)                                                         \
    X(kEnvNuma, "LIBOS_NUMA", kReplaced, kRewritten)                                                                 \
    X(kEnvCpuQuota, "LIBOS_CPU_QUOTA", kReplaced, kRewritten)                                                        \
    X(kEnvCpusFromQuota, "LIBOS_CPUS_FROM_QUOTA", kReplaced, kRewritten)                                             \
    X(kEnvCpuid, "LIBOS_CPUID", kReplaced, kRewritten)                                                               \
    X(kEnvPropagate, "LIBOS_PROPAGATE", kReplaced, kPassed)                                                          \
    /* tracing (libos_trace.h) */                                                                                    \
    X(kEnvTrace, "LIBOS_TRACE", kReplaced, kRewritten)                                                               \
    X(kEnvTraceStack, "LIBOS_TRACE_STACK", kReplaced, kRewritten)                                                    \
    X(kEnvTraceFormat, "LIBOS_TRACE_FORMAT", kReplaced, kRewritten)                                                  \
    X(kEnvStats, "LIBOS_STATS", kReplaced, kRewritten)                                                               \
    X(kEnvTraceFilter, "LIBOS_TRACE_FILTER", kReplaced, kRewritten)                                                  \
    X(kEnvTraceTime, "LIBOS_TRACE_TIME", kReplaced, kRewritten)                                                      \
    X(kEnvTracePerProcess, "LIBOS_TRACE_PER_PROCESS", kReplaced, kRewritten)                                         \
    X(kEnvStatsFd, "LIBOS_STATS_FD", kReplaced, kRewritten)                                                          \
    X(kEnvTraceExec, "LIBOS_TRACE_EXEC", kReplaced, kRewritten)                                                      \
    /* the enclosing launches' summaries: libos-run makes it of the inherited LIBOS_STATS_FD */                      \
    X(kEnvStatsOuterFd, "LIBOS_STATS_OUTER_FD", kReplaced, kRewritten)                                               \
    /* strict mode's tag: an enclosing strict launch's stays, so that a plain launch inside it still reaches the     \
     * host (docs/strict-mode.md) */                                                                                 \
    X(kEnvStrict, "LIBOS_STRICT", kKept, kRewritten)                                                                 \
    /* strict mode's views: a descriptor of the host's /sys/devices/system (pal.h: PalSetHostSystemDir) */           \
    X(kEnvHostSystemFd, "LIBOS_HOST_SYSTEM_FD", kReplaced, kRewritten)                                               \
    /* between the processes of one launch, written at every exec */                                                 \
    X(kEnvStateFd, "LIBOS_STATE_FD", kReplaced, kRewritten)                                                          \
    X(kEnvAffinity, "LIBOS_AFFINITY", kReplaced, kRewritten)                                                         \
    X(kEnvMemPolicy, "LIBOS_MEMPOLICY", kReplaced, kRewritten)                                                       \
    X(kEnvCwd, "LIBOS_CWD", kReplaced, kRewritten)                                                                   \
    X(kEnvLiveFds, "LIBOS_LIVE_FDS", kReplaced, kRewritten)                                                          \
    /* the launcher's own: where libshim.so is */                                                                    \
    X(kEnvShimPath, "LIBOS_SHIM_PATH", kKept, kPassed)                                                               \
    /* test builds only (meson option test_hooks) */                                                                 \
    X(kEnvTestCrash, "LIBOS_TEST_CRASH", kKept, kPassed)                                                             \
    X(kEnvTestStrictMissing, "LIBOS_TEST_STRICT_MISSING", kKept, kPassed)

/* env_get's index at start-up keeps only the entries that start with "LIBOS_". */
#define LIBOS_ENV_PREFIXED(id, name, launch, exec)                                                       \
    static_assert(name[0] == 'L' && name[1] == 'I' && name[2] == 'B' && name[3] == 'O' && name[4] == 'S' && \
                      name[5] == '_',                                                                     \
                  name " must start with LIBOS_");
LIBOS_ENVIRONMENT(LIBOS_ENV_PREFIXED)
#undef LIBOS_ENV_PREFIXED

#define LIBOS_ENV_NAME(id, name, launch, exec) inline constexpr char id[] = name;
LIBOS_ENVIRONMENT(LIBOS_ENV_NAME)
#undef LIBOS_ENV_NAME

struct EnvVariable {
    const char* name;
    AtLaunch launch;
    AtExec exec;
};

#define LIBOS_ENV_ENTRY(id, name, launch, exec) {id, AtLaunch::launch, AtExec::exec},
inline constexpr EnvVariable kEnvironment[] = {LIBOS_ENVIRONMENT(LIBOS_ENV_ENTRY)};
#undef LIBOS_ENV_ENTRY

/* The value of environment variable `name`, or nullptr. */
const char* env_get(const char* name);
/* Around start-up's reading of the settings (libos::init), while the program cannot have changed its
 * environment: the LIBOS_ entries are found in one walk, and env_get looks only at those (every name
 * in LIBOS_ENVIRONMENT starts with "LIBOS_"). */
void env_index_begin();
void env_index_end();
/* Takes `name` out of environ, in place (its strings stay where they are: a value env_get returned
 * stays valid). For a one-time message from exec to the new program, which the program's own
 * environment, and so its children's, must not carry on. */
void env_remove(const char* name);

}  // namespace libos

#endif
