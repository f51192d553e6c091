/* libos-run's command line: options in the manner of taskset(1) and numactl(8), and the help text. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "launcher.h"
#include "libos/libos_settings.h"
#include "libos/libos_trace_filter.h"

#ifndef LIBOS_VERSION
#error "LIBOS_VERSION must be defined by the build (launcher/meson.build)"
#endif

namespace launcher {
namespace {

constexpr const char kHelp[] =
    "Usage: libos-run [options] [--] PROGRAM [ARGS...]\n"
    "\n"
    "Runs PROGRAM, with its arguments, on a virtual CPU machine: N virtual CPUs (vCPUs), each\n"
    "mapped onto a host CPU. The LibOS shim (libshim.so, preloaded) makes every way the program\n"
    "learns or changes its CPUs agree with that machine: sched_{get,set}affinity, getcpu, sysconf,\n"
    "/proc/cpuinfo, /sys/devices/system/cpu, ... Without --cpus and --cpu-map the shim is\n"
    "transparent: the program sees the host's CPUs. The '--' is needed only when PROGRAM starts\n"
    "with '-'.\n"
    "\n"
    "Options:\n"
    "  -n N, --cpus N, --cpus=N\n"
    "        N vCPUs (1 to 8192), spread round-robin over the host CPUs libos-run may run on\n"
    "        (its affinity, as taskset sets it): vCPU i runs on the (i mod k)-th of those k CPUs.\n"
    "  -c LIST, --cpu-map LIST, --cpu-map=LIST\n"
    "        vCPU i runs on the i-th host CPU of LIST: CPU numbers and upward ranges, separated\n"
    "        by commas, repeats allowed (0-3, 2,3,6,7, 0,0,1,1), in the kernel's cpulist syntax:\n"
    "        a range may take a stride, A-B:S (0-7:2 is 0,2,4,6, as with taskset), or groups,\n"
    "        A-B:U/G, the first U CPUs of every G (0-7:2/4 is 0,1,4,5). Every host CPU must be\n"
    "        online and allowed by the process's cpuset. Given with --cpus, both must name the\n"
    "        same number of vCPUs.\n"
    "  --topology SPEC, --topology=SPEC\n"
    "        The machine's shape, in QEMU's -smp words: sockets=S,dies=D,clusters=K,cores=C,\n"
    "        threads=T, each optional (dies, clusters and threads default to 1; a missing\n"
    "        sockets or cores count is what makes the product the number of vCPUs). Alone, a\n"
    "        shape naming sockets and cores is a machine of their product. Or flat (one socket\n"
    "        of single-thread cores) or host (the host's own shape, renumbered). Default: host\n"
    "        when the map puts each vCPU on a host CPU of its own, flat otherwise.\n"
    "  --numa N, --numa=N, --numa LISTS\n"
    "        N NUMA nodes, splitting sockets (or cores, or vCPUs, when there are fewer of\n"
    "        those than nodes) evenly in vCPU order; or one vCPU list per node, separated by\n"
    "        ':' (0-5:6-7). Distances: 10 local, 20 remote. Default: one node, or the host's\n"
    "        nodes of the vCPUs with --topology host.\n"
    "  --cpu-quota Q, --cpu-quota=Q\n"
    "        A CFS quota of Q CPUs (0.01 to the vCPU count, at most 3 decimals), as docker run\n"
    "        --cpus gives: cgroup v2's cpu.max and v1's cpu.cfs_quota_us show it in the\n"
    "        program's cgroup and its ancestors, so that the JVM, Rust, Go, .NET and libuv\n"
    "        size themselves by it. Where libos-run may create a cgroup (root, a writable CPU\n"
    "        controller) it also enforces it: the program runs in a cgroup of its own,\n"
    "        removed when the last process in it has ended; otherwise libos-run says on\n"
    "        stderr that the quota is only shown. Alone, a machine of the CPUs libos-run may\n"
    "        run on.\n"
    "  --cpus-from-quota\n"
    "        As many vCPUs as the quota of libos-run's own cgroup, rounded up (a 1.5-CPU\n"
    "        container limit makes 2), at most the CPUs it may run on; that quota is shown as\n"
    "        with --cpu-quota. Without a quota: the CPUs it may run on. Not with --cpus,\n"
    "        --cpu-map or a shape that gives a count.\n"
    "  --cpuid\n"
    "        The cpuid instruction shows the machine too (its APIC ids, core and thread counts\n"
    "        and cache sharing), where the host has CPUID faulting: each cpuid then costs a\n"
    "        signal, and a thread that blocks SIGSEGV dies at its cpuid (docs/machine.md, cpuid).\n"
    "  --no-propagate\n"
    "        Children that the program starts with an environment of its own (env -i, execve\n"
    "        with its own envp) run on the host, not on the machine. By default the shim puts\n"
    "        its settings back into every exec, so the whole process tree stays on the machine.\n"
    "  --trace, --trace=FILE\n"
    "        One line per call the LibOS routes (strace's style), from every process of the\n"
    "        launch: pid/tid, the call with its arguments decoded (CPU masks as virtual CPU\n"
    "        lists, with the host CPUs they became), the result or error, and <libos> or\n"
    "        <host> for who handled it. To standard error, or appended to FILE, which must\n"
    "        open (or libos-run exits 125). As in LIBOS_TRACE, FILE stderr or 1 is standard\n"
    "        error and 0 is no trace: a file called 0 is ./0.\n"
    "  --trace-stack\n"
    "        After each line, the caller's stack (libunwind), like strace -k. Implies --trace.\n"
    "  --trace-format=text|json, --trace-format text|json\n"
    "        json: one JSON object per line, for scripts (docs/tracing.md has the schema); text,\n"
    "        the default. Implies --trace.\n"
    "  --trace-filter=LIST, --trace-filter LIST\n"
    "        Only the calls of LIST, as strace -e trace=: system call names and the classes\n"
    "        %cpu, %numa, %file, %process, %memory and %signal, separated by commas; a leading\n"
    "        '!' takes the others. The summary of --stats counts only them too. Implies --trace.\n"
    "  --trace-time=wall|wall-us|relative|none, --trace-time WHEN\n"
    "        A timestamp on each line, after the pid: wall is HH:MM:SS (UTC), wall-us adds the\n"
    "        microseconds, relative is the seconds since the process's previous traced call\n"
    "        began (strace's -t, -tt, -r). Every line ends with the call's duration, <S.UUUUUU>,\n"
    "        as with strace -T. Implies --trace.\n"
    "  --trace-per-process\n"
    "        With --trace=FILE: each process appends to FILE.<pid> instead (strace -ff -o\n"
    "        FILE). A fork child opens its own file; a vfork child writes its parent's until it\n"
    "        execs. Implies --trace.\n"
    "  --stats, --stats=per-process\n"
    "        A summary per system call: calls, errors, time, sorted by time (like strace -c -f),\n"
    "        to the trace's destination or standard error. One table for the whole launch,\n"
    "        printed when the program's first process exits (the processes it waited for are\n"
    "        in it); per-process: a table for each process, when it exits or execs.\n"
    "  --strict\n"
    "        Strict mode: also the calls the shim cannot see (raw syscall instructions, libc's\n"
    "        internal calls, static binaries, programs started without the shim) see the\n"
    "        machine. libos-run stays, as the supervisor, and answers, through a seccomp\n"
    "        filter, sched_{get,set}affinity, getcpu and the opens of the CPU files of every\n"
    "        thread of every process of the launch; it forwards the signals sent to it and\n"
    "        waits until every process of the launch has ended; if it is killed, the whole\n"
    "        launch is killed with it. Needs --cpus or --cpu-map and\n"
    "        Linux 5.14 or later; refused (125) with the reason otherwise. Costs: about +30 ns\n"
    "        on every system call, a few microseconds per trapped call (each open(2) of any\n"
    "        file by code the shim does not see); calls through libc in a process with the\n"
    "        shim keep their speed. The program runs in a private mount namespace where\n"
    "        generated /sys/devices/system/{cpu,node} trees are mounted, so that stat and\n"
    "        listings without the shim show the machine too. Not covered: sched_getcpu and\n"
    "        the vDSO's getcpu in processes without the shim (no system call to trap), and\n"
    "        32-bit programs. With --trace, the calls the supervisor answers are traced\n"
    "        too, marked <supervisor>.\n"
    "  --no-shim\n"
    "        With --strict: do not preload the shim, so the supervisor answers every\n"
    "        virtualized call (slower; for checking strict mode, or for programs that must\n"
    "        not have a preloaded library).\n"
    "  --show\n"
    "        Print the machine a run would make and exit (0) without running anything:\n"
    "        the vCPUs, the map, the host CPUs, the shape (sockets, dies, cores, threads), the\n"
    "        NUMA nodes with their vCPUs, the CPU quota and whether it would be enforced, and\n"
    "        the shim that would be preloaded. PROGRAM may be left out.\n"
    "  --no-views\n"
    "        With --strict: no private mount namespace and no generated trees; stat and\n"
    "        listings of /sys/devices/system/{cpu,node} without the shim are the host's.\n"
    "  --no-fuse\n"
    "        With --strict: no FUSE server; a program without the shim that keeps a\n"
    "        descriptor of a file that changes (/proc/stat, /proc/interrupts, a status\n"
    "        file, a node's meminfo...) reads it as it was at the open, where otherwise\n"
    "        each read from the start makes it anew. --show says which a launch would do.\n"
    "  -h, --help     Show this help and exit.\n"
    "  -V, --version  Show the version and exit.\n"
    "The short options take their value attached or as the next argument (-n8, -n 8). If an\n"
    "option is given twice, the last one counts.\n"
    "\n"
    "The program starts with its host affinity set to the host CPUs of the map.\n"
    "\n"
    "Environment set for PROGRAM (the shim reads these):\n"
    "  LD_PRELOAD       the absolute path of libshim.so, put first and not repeated; entries\n"
    "                   already there are kept after it\n"
    "  LIBOS_CPUS       the number of vCPUs (with --cpus or --cpu-map)\n"
    "  LIBOS_CPU_MAP    the map, vCPU 0 first, in canonical form (ranges for runs of three or\n"
    "                   more consecutive host CPUs: --cpus 4 over host CPUs 0 and 1 gives\n"
    "                   0,1,0,1; --cpu-map 0-3 gives 0-3)\n"
    "  LIBOS_TOPOLOGY   with --topology: its value (exec passes the shape as the shim resolved\n"
    "                   it: flat, host, or every count)\n"
    "  LIBOS_NUMA       with --numa: its value\n"
    "  LIBOS_CPU_QUOTA  with --cpu-quota or --cpus-from-quota: the quota\n"
    "  LIBOS_CPUID      1 with --cpuid (or when it was 1 already)\n"
    "  LIBOS_PROPAGATE  0 with --no-propagate (or when it was 0 already); otherwise unset\n"
    "  LIBOS_TRACE      with --trace: stderr, or the FILE, 0 or 1 of --trace=\n"
    "  LIBOS_TRACE_STACK, LIBOS_STATS\n"
    "                   1 with --trace-stack, --stats (per-process with --stats=per-process)\n"
    "  LIBOS_TRACE_FORMAT\n"
    "                   text or json, with --trace-format\n"
    "  LIBOS_TRACE_FILTER, LIBOS_TRACE_TIME\n"
    "                   the LIST of --trace-filter, the WHEN of --trace-time\n"
    "  LIBOS_TRACE_PER_PROCESS\n"
    "                   1 with --trace-per-process\n"

    "  LIBOS_STRICT, LIBOS_STATE_FD\n"
    "                   with --strict: the tag that lets the shim's own calls past the\n"
    "                   filter, and the launch's shared state, created by libos-run\n"
    "The shim takes only each variable's documented values (docs/configuration.md; 0 is\n"
    "off, and empty the default) and refuses any other with one line and status 125 before\n"
    "the program runs.\n"
    "Removed from the inherited environment: LIBOS_STATE_FD, LIBOS_HOST_SYSTEM_FD,\n"
    "LIBOS_AFFINITY and LIBOS_CWD, the state the shim passes between the processes of a launch\n"
    "(a launch starts a new machine). An enclosing launch's --stats counts (LIBOS_STATS_FD) go\n"
    "on as LIBOS_STATS_OUTER_FD: this launch's calls count in its summary too. An enclosing strict launch's LIBOS_STRICT is kept, so that\n"
    "this launch's shim still reaches the host; --strict inside a strict launch is refused (one\n"
    "seccomp listener per process tree).\n"
    "\n"
    "Environment read by libos-run:\n"
    "  LIBOS_CPUS, LIBOS_CPU_MAP, LIBOS_TOPOLOGY, LIBOS_NUMA, LIBOS_CPU_QUOTA,\n"
    "  LIBOS_CPUS_FROM_QUOTA\n"
    "                   the machine, when none of --cpus, --cpu-map, --topology, --numa,\n"
    "                   --cpu-quota and --cpus-from-quota is given (errors then name the\n"
    "                   variable)\n"
    "  LIBOS_CPUID      1 has the effect of --cpuid; 0 or empty, none; any other value is\n"
    "                   refused (125)\n"
    "  LIBOS_PROPAGATE  0 has the effect of --no-propagate; 1 or empty, none; any other\n"
    "                   value is refused (125)\n"
    "  LIBOS_SHIM_PATH  the libshim.so to preload, instead of the one found from the libos-run\n"
    "                   executable: ../shim/libshim.so in the build tree, else the installed\n"
    "                   LIBDIR/libos-vcpu/libshim.so (--show prints which)\n"
    "  PATH             where PROGRAM is looked for when its name has no '/'\n"
    "\n"
    "Exit status:\n"
    "  0    with --help, --version or --show\n"
    "  125  libos-run itself failed: an unknown option, a missing value or PROGRAM, a bad\n"
    "       configuration (one line on stderr, starting 'libos-run: ', naming the option,\n"
    "       the token and what is allowed), libshim.so not found, the host affinity could\n"
    "       not be set, or out of memory. (The shim, inside a program, says 'libos: '.)\n"
    "  126  PROGRAM was found but could not be run\n"
    "  127  PROGRAM was not found\n"
    "  otherwise, the exit status of PROGRAM (with --strict, killed by a signal: libos-run\n"
    "  ends by the same signal)\n"
    "\n"
    "Examples:\n"
    "  libos-run -- nproc                      transparent: the host's count\n"
    "  libos-run --cpus 4 -- nproc             4\n"
    "  libos-run --cpus 64 -- make -j64        a 64-CPU machine, however many CPUs there are\n"
    "  libos-run --cpu-map 2,3,6,7 -- lscpu    vCPUs 0-3 on host CPUs 2, 3, 6 and 7\n"
    "  libos-run -c 0-7:2 -- P                 vCPUs 0-3 on host CPUs 0, 2, 4 and 6\n"
    "  libos-run -n 16 --numa 2 --show         the machine, described and not run\n"
    "  libos-run --cpu-map 0,0,1,1 -- P        two vCPUs on each of host CPUs 0 and 1\n"
    "  libos-run --topology sockets=2,cores=4,threads=2 --numa 2 -- lstopo\n"
    "                                          16 vCPUs: 2 sockets of 4 cores of 2 threads,\n"
    "                                          a NUMA node per socket\n"
    "  taskset -c 1 libos-run --cpus 4 -- P    all four vCPUs on host CPU 1\n"
    "  libos-run --cpus 8 --trace --trace-stack -- python3 -c 'import os; os.sched_setaffinity(0,{3})'\n"
    "                                          the call, {3}, host CPU 1, and Python's stack\n"
    "  libos-run --cpus 2 --no-propagate -- P  only P, and the children that keep its\n"
    "                                          environment, run on the machine\n"
    "  libos-run --strict --cpus 8 -- ./static-binary\n"
    "                                          8 CPUs, also for a static binary or raw calls\n";

int usage_error(const char* what, const char* option) {
    fprintf(stderr, "libos-run: %s '%s' (see libos-run --help)\n", what, option);
    return kExitLauncherFailed;
}

/* Writes `text` to stdout; a failed write (a closed or full stdout) is the launcher's failure. */
int print_and_exit(const char* text) {
    if (fputs(text, stdout) == EOF || fflush(stdout) == EOF) {
        fprintf(stderr, "libos-run: write error: %s\n", strerror(errno));
        return kExitLauncherFailed;
    }
    return 0;
}

/* "--name" or "--name=value": true when `arg` is this option, with *value pointing at the text after
 * '=' (null without one). */
bool match_long(const char* arg, const char* name, const char** value) {
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return false;
    if (arg[n] == '\0') {
        *value = nullptr;
        return true;
    }
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return true;
    }
    return false;
}

/* "-x" or "-xVALUE" (getopt's two forms of a short option with a value): true when `arg` is option
 * `letter`, with *value pointing at the attached value (null without one). */
bool match_short(const char* arg, char letter, const char** value) {
    if (arg[0] != '-' || arg[1] != letter)
        return false;
    *value = arg[2] ? arg + 2 : nullptr;
    return true;
}

}  // namespace

/* A line of the shared parser ("libos: SETTING: ...", the shim's prefix) as the launcher says it. */
void print_config_error(const char* text) {
    constexpr char kShimPrefix[] = "libos: ";
    if (strncmp(text, kShimPrefix, sizeof(kShimPrefix) - 1) == 0)
        fprintf(stderr, "libos-run: %s\n", text + sizeof(kShimPrefix) - 1);
    else
        fprintf(stderr, "%s\n", text);
}

ParseOutcome parse_options(int argc, char** argv, Options* options) {
    int i = 1;
    while (i < argc) {
        const char* arg = argv[i];
        if (arg[0] != '-' || arg[1] == '\0') /* PROGRAM; a lone "-" is a file name, as in env(1) */
            break;
        if (strcmp(arg, "--") == 0) {
            ++i;
            break;
        }
        const char* value = nullptr;
        const char** target = nullptr;
        const char* name = nullptr;
        if (match_long(arg, "--cpus", &value) || match_short(arg, 'n', &value))
            target = &options->cpus, name = "--cpus";
        else if (match_long(arg, "--cpu-map", &value) || match_short(arg, 'c', &value))
            target = &options->cpu_map, name = "--cpu-map";
        else if (match_long(arg, "--topology", &value))
            target = &options->topology, name = "--topology";
        else if (match_long(arg, "--numa", &value))
            target = &options->numa, name = "--numa";
        else if (match_long(arg, "--cpu-quota", &value))
            target = &options->cpu_quota, name = "--cpu-quota";
        if (target) {
            if (!value) {
                /* The value is the next argument; "--" there means it was forgotten. */
                if (i + 1 >= argc || strcmp(argv[i + 1], "--") == 0)
                    return {false, usage_error("missing value for option", name)};
                value = argv[++i];
            }
            if (*value == '\0')
                return {false, usage_error("empty value for option", name)};
            *target = value;
            ++i;
            continue;
        }
        if (match_long(arg, "--trace", &value)) {
            /* Only the attached form takes a file, so that --trace -- PROGRAM stays unambiguous. */
            if (value && *value == '\0')
                return {false, usage_error("empty value for option", "--trace")};
            options->trace = value ? value : "stderr";
            ++i;
            continue;
        }
        const char* trace_option = nullptr;
        const char** trace_value = nullptr;
        if (match_long(arg, "--trace-format", &value))
            trace_option = "--trace-format", trace_value = &options->trace_format;
        else if (match_long(arg, "--trace-filter", &value))
            trace_option = "--trace-filter", trace_value = &options->trace_filter;
        else if (match_long(arg, "--trace-time", &value))
            trace_option = "--trace-time", trace_value = &options->trace_time;
        if (trace_option) {
            if (!value && i + 1 < argc && strcmp(argv[i + 1], "--") != 0)
                value = argv[++i];
            if (!value || !*value)
                return {false, usage_error(value ? "empty value for option" : "missing value for option",
                                           trace_option)};
            /* The shim's own readings of the variables, so that both refuse with the same line. */
            libos::ConfigError error;
            bool json = false;
            libos::TraceFilter filter;
            libos::TraceTime time;
            bool ok = trace_value == &options->trace_format ? libos::parse_trace_format(trace_option, value, &json, &error)
                      : trace_value == &options->trace_filter ? libos::parse_trace_filter(trace_option, value, &filter, &error)
                                                              : libos::parse_trace_time(trace_option, value, &time, &error);
            if (!ok) {
                print_config_error(error.text);
                return {false, kExitLauncherFailed};
            }
            *trace_value = value;
            if (!options->trace)
                options->trace = "stderr";
            ++i;
            continue;
        }
        if (match_long(arg, "--stats", &value)) {
            /* --stats or --stats=per-process (attached only, as --trace=FILE). */
            libos::ConfigError error;
            bool on = false, per_process = false;
            if (value && !*value)
                return {false, usage_error("empty value for option", "--stats")};
            if (value && !libos::parse_stats("--stats", value, &on, &per_process, &error)) {
                print_config_error(error.text);
                return {false, kExitLauncherFailed};
            }
            options->stats = value ? value : "1";
            ++i;
            continue;
        }
        bool* flag = nullptr;
        if (match_long(arg, "--trace-stack", &value))
            flag = &options->trace_stack;
        else if (match_long(arg, "--trace-per-process", &value))
            flag = &options->trace_per_process;
        if (flag) {
            if (value)
                return {false, usage_error("option takes no value:", arg)};
            *flag = true;
            if (!options->trace)
                options->trace = "stderr";
            ++i;
            continue;
        }
        bool* plain = nullptr;
        if (match_long(arg, "--no-propagate", &value))
            plain = &options->propagate;
        else if (match_long(arg, "--strict", &value))
            plain = &options->strict;
        else if (match_long(arg, "--no-shim", &value))
            plain = &options->no_shim;
        else if (match_long(arg, "--no-views", &value))
            plain = &options->no_views;
        else if (match_long(arg, "--no-fuse", &value))
            plain = &options->no_fuse;
        else if (match_long(arg, "--cpuid", &value))
            plain = &options->cpuid;
        else if (match_long(arg, "--cpus-from-quota", &value))
            plain = &options->cpus_from_quota;
        else if (match_long(arg, "--show", &value))
            plain = &options->show;
        if (plain) {
            if (value)
                return {false, usage_error("option takes no value:", arg)};
            *plain = plain != &options->propagate;
            ++i;
            continue;
        }
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
            return {false, print_and_exit(kHelp)};
        if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0)
            return {false, print_and_exit("libos-run " LIBOS_VERSION "\n")};
        return {false, usage_error("unknown option", arg)};
    }
    if (i >= argc && !options->show) {
        fprintf(stderr, "libos-run: no program given (usage: libos-run [options] [--] PROGRAM [ARGS...]; "
                        "see libos-run --help)\n");
        return {false, kExitLauncherFailed};
    }
    if (options->no_shim && !options->strict) {
        fprintf(stderr, "libos-run: --no-shim works only with --strict (without it nothing would virtualize "
                        "the program; see libos-run --help)\n");
        return {false, kExitLauncherFailed};
    }
    if (options->no_views && !options->strict) {
        fprintf(stderr, "libos-run: --no-views works only with --strict (see libos-run --help)\n");
        return {false, kExitLauncherFailed};
    }
    if (options->no_fuse && !options->strict) {
        fprintf(stderr, "libos-run: --no-fuse works only with --strict (see libos-run --help)\n");
        return {false, kExitLauncherFailed};
    }
    if (options->trace_per_process) {
        libos::ConfigError error;
        libos::TraceTarget target;
        char path[libos::kTracePathBytes];
        if (libos::parse_trace_target("--trace", options->trace, &target, path, sizeof(path), &error) &&
            target != libos::TraceTarget::kFile) {
            fprintf(stderr, "libos-run: --trace-per-process needs --trace=FILE: it writes FILE.<pid> for each "
                            "process (see libos-run --help)\n");
            return {false, kExitLauncherFailed};
        }
    }
    options->program = i;
    return {true, 0};
}

}  // namespace launcher
