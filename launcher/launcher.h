/* libos-run, the launcher: the pieces that libos_run.cpp (main) puts together.
 *
 *   launcher_options.cpp  the command line and the help text
 *   launcher_exec.cpp     the program's environment, and exec with execvp's PATH search
 *   launcher_show.cpp     --show: the machine a run would make, printed
 *   quota_cgroup.cpp      --cpu-quota's cgroup
 *   strict/               --strict: the seccomp filter, the supervisor and the launch (strict/strict.h)
 *
 * The launcher is an ordinary program (it is never preloaded), so it uses the C++ library freely.
 * It talks to the host through the PAL (PalHostTopology, PalThread*CpuAffinity, PalSyscall) rather
 * than through libc, so that a launch made from inside another launch (libos-run run by a program
 * that already has libshim.so preloaded) sees the real host and is not rewritten by the enclosing
 * shim: a new launch starts a new machine. */
#ifndef LIBOS_LAUNCHER_H
#define LIBOS_LAUNCHER_H

#include <stdint.h>

#include <string>
#include <vector>

#include "libos/libos_config.h"
#include "libos/libos_env.h"
#include "pal/pal.h"

namespace launcher {

/* The launcher's own failures, as env(1), nice(1) and timeout(1) report theirs. */
constexpr int kExitLauncherFailed = 125;
constexpr int kExitCannotRun = 126;
constexpr int kExitNotFound = 127;

/* The environment's names: the LibOS's one list (libos_env.h), and LD_PRELOAD. */
using libos::kEnvAffinity;
using libos::kEnvCpuMap;
using libos::kEnvCpuid;
using libos::kEnvCpus;
using libos::kEnvNuma;
using libos::kEnvCpuQuota;
using libos::kEnvCpusFromQuota;
using libos::kEnvTopology;
using libos::kEnvPropagate;
using libos::kEnvShimPath;
using libos::kEnvStateFd;
using libos::kEnvStats;
using libos::kEnvStrict;
using libos::kEnvTrace;
using libos::kEnvTraceFormat;
using libos::kEnvTraceStack;
using libos::kEnvTraceFilter;
using libos::kEnvTraceTime;
using libos::kEnvTracePerProcess;
constexpr const char* kEnvPreload = "LD_PRELOAD";

/* ---- launcher_options.cpp ------------------------------------------------------------------- */

struct Options {
    const char* cpus = nullptr;    /* --cpus N, null when not given */
    const char* cpu_map = nullptr; /* --cpu-map LIST, null when not given */
    const char* topology = nullptr; /* --topology SPEC, null when not given */
    const char* numa = nullptr;    /* --numa N|LISTS, null when not given */
    const char* cpu_quota = nullptr; /* --cpu-quota Q, null when not given */
    bool cpus_from_quota = false;  /* --cpus-from-quota (or LIBOS_CPUS_FROM_QUOTA=1) */
    bool propagate = true;         /* false with --no-propagate */
    const char* trace = nullptr;   /* --trace[=FILE]: FILE, or "stderr" */
    bool trace_stack = false;      /* --trace-stack */
    const char* trace_format = nullptr; /* --trace-format=text|json */
    const char* stats = nullptr;   /* --stats[=per-process]: "1" or "per-process" */
    const char* trace_filter = nullptr; /* --trace-filter=LIST */
    const char* trace_time = nullptr;   /* --trace-time=WHEN */
    bool trace_per_process = false;     /* --trace-per-process */
    bool strict = false;           /* --strict */
    bool no_shim = false;          /* --no-shim */
    bool no_views = false;         /* --no-views: strict mode without its mount namespace */
    bool no_fuse = false;          /* --no-fuse: strict mode's changing files as snapshots at the open */
    bool cpuid = false;            /* --cpuid (or LIBOS_CPUID=1) */
    bool show = false;             /* --show: print the machine and exit */
    int program = 0;               /* argv index of PROGRAM (argc with --show and no PROGRAM) */
};

/* What parse_options decided: run the program, or exit now with `status` (0 after --help and
 * --version, 125 after an error, whose one line has been printed to stderr). */
struct ParseOutcome {
    bool run;
    int status;
};

ParseOutcome parse_options(int argc, char** argv, Options* options);

/* Prints a line to stderr; a line of the shared parser (libos_config.h: "libos: SETTING: ...") with
 * the launcher's prefix, "libos-run: ", instead of the shim's, as every line of the launcher's own. */
void print_config_error(const char* text);

/* ---- launcher_show.cpp ---------------------------------------------------------------------- */

/* What --show prints besides the machine itself. */
struct ShowQuota {
    uint32_t milli = 0;    /* 0: no quota */
    bool from_cgroup = false;
    bool enforced = false; /* whether a run would enforce it (a cgroup could be made) */
    std::string why;       /* why not, when it would not */
};

/* --show: prints the machine of `map` on the host `topo` (vCPUs, the map, the shape, the NUMA nodes,
 * the quota), the shim that a run would preload and, with --strict, `live_files` (how a strict launch
 * would serve the files that change), to stdout; returns the exit status (0, or 125 with one line on
 * stderr). */
int show_machine(const libos::CpuMap* map, const PalTopology& topo, const char* topology_setting,
                 const char* topology_text, const char* numa_setting, const char* numa_text, const ShowQuota& quota,
                 const std::string& shim, const std::string& live_files);

/* Whether --cpu-quota could be enforced here: a cgroup could be made beside the launcher's own
 * (quota_cgroup.cpp); *why says why not. Nothing is created. */
bool quota_enforceable(std::string* why);

/* ---- quota_cgroup.cpp ----------------------------------------------------------------------- */

/* What enforce_cpu_quota did: the cgroup the launcher now runs in, or why there is none. */
struct QuotaCgroup {
    bool enforced = false;
    std::string dir;
    std::string why;
};

/* Creates a cgroup with a quota of `milli` thousandths of a CPU and moves the launcher into it, with
 * a keeper that removes it once it has emptied (quota_cgroup.cpp). */
QuotaCgroup enforce_cpu_quota(uint32_t milli);

/* ---- launcher_exec.cpp ---------------------------------------------------------------------- */

/* The environment for the program: `environ` without the inherited variables a new launch replaces
 * (libos_env.h: the machine, tracing, and the state of an enclosing launch; an enclosing strict
 * launch's LIBOS_STRICT stays), with LD_PRELOAD starting with `shim` (and not naming it twice; left as
 * it was when `shim` is empty), then the given settings appended. */
std::vector<std::string> program_environment(const std::string& shim, const std::vector<std::string>& settings);

/* LD_PRELOAD's new value: `shim` (the path of libshim.so), then the entries of `inherited` (null if
 * unset) other than the shim, colon-separated. */
std::string merge_preload(const std::string& shim, const char* inherited);

/* Runs `file` as execvp(3) does (PATH search when it has no '/', /bin/sh for a script without
 * "#!"), with the raw execve of the PAL so that no preloaded shim rewrites `envp`. Returns only on
 * failure, with the errno execvp would have set. */
int exec_program(const char* file, char* const argv[], char* const envp[]);

/* ---- strict/launch.cpp ---------------------------------------------------------------------- */

/* --strict: runs `program` as a child under the seccomp filter and answers its trapped calls until
 * every process of the launch has ended; then ends as the program did (its exit status, or its
 * signal). `env` is the program's environment; the strict settings are added to it. Refuses with
 * status 125 when the kernel lacks what strict mode needs. */
[[noreturn]] void run_strict(const char* program, char* const argv[], std::vector<std::string>* env, bool views,
                             bool live);

/* For --show --strict: how a launch would serve the files that change (live.cpp). */
std::string strict_live_files_text(bool no_fuse);

}  // namespace launcher

#endif
