/* The conformance harness: the machine under test, the transcript, and raw host probes.
 *
 * The same binary runs natively and under the shim. Every test states Linux's rule in terms of the
 * machine under test (its nr_cpu_ids and cpumask size), so one set of assertions holds on the host
 * and on any virtual machine. Each deterministic observation is also written to a transcript
 * (LIBOS_TRANSCRIPT=path); tests/conformance/compare.sh runs the binary both ways and diffs the two
 * transcripts, so the host kernel is the oracle for everything the shim should pass through. */
#ifndef LIBOS_CONFORMANCE_H
#define LIBOS_CONFORMANCE_H

#include <errno.h>
#include <sched.h>
#include <string.h>

#include <set>
#include <string>
#include <vector>

#include "test_util.h"

namespace conformance {

/* The CPU machine a test run should see. */
struct Machine {
    int nr_cpu_ids = 0;         /* CPU numbers are below this */
    size_t mask_size = 0;       /* bytes in the kernel's cpumask: sched_getaffinity's largest result */
    std::vector<int> usable;    /* CPUs the process may run on when the test starts */
    int online = 0;             /* sysconf(_SC_NPROCESSORS_ONLN), get_nprocs() */
    int configured = 0;         /* sysconf(_SC_NPROCESSORS_CONF), get_nprocs_conf() */
    /* The CPUs of cpu/online, cpu/present (a cpuN directory each) and cpu/possible: 0 to n-1 on a
     * virtual machine; on a host they may differ, with holes (a CPU taken offline, possible CPUs
     * not plugged in: tests/hosts). */
    std::set<int> online_cpus, present_cpus, possible_cpus;
    bool is_virtual = false;    /* a LibOS virtual machine rather than the host */
    bool without_shim = false;  /* strict mode with the shim not loaded (libos-run --strict --no-shim) */
    bool views = false;         /* strict mode's views: the kernel shows the machine's /sys/devices/system/cpu
                                   (a tmpfs the launcher mounted in the launch's namespace) */
};

/* Whether sched_getcpu() and libc's getcpu() report the machine's CPUs: everywhere but in strict
 * mode without the shim, where they read the host CPU from rseq or the vDSO, without a system call
 * to trap (docs/strict-mode.md, "Limits"). Tests check them only where this holds. */
inline bool vcpu_observable();

/* For tests whose whole subject no system call carries, which strict mode without the shim cannot
 * see (docs/strict-mode.md, "Limits"): skips the test there, with the reason. */
#define SKIP_WITHOUT_SHIM(reason)                                                                  \
    do {                                                                                           \
        if (::conformance::machine().without_shim)                                                 \
            GTEST_SKIP() << "strict mode without the shim: " << (reason);                          \
    } while (0)

/* For tests of what the kernel shows of the CPU directories without a system call strict mode traps
 * (stat, listings, chdir): without the shim, only strict mode's views show the machine there. */
#define SKIP_WITHOUT_SHIM_OR_VIEWS(reason)                                                         \
    do {                                                                                           \
        if (::conformance::machine().without_shim && !::conformance::machine().views)              \
            GTEST_SKIP() << "strict mode without the shim or its views: " << (reason);             \
    } while (0)

/* The machine under test, computed once. Natively (and under the shim with no configuration) it is
 * the host, probed with raw system calls that nothing can intercept. */
const Machine& machine();

/* A result written as the kernel would: "=N" on success, "errno NAME" on failure. */
std::string outcome(long ret, int err);
/* OUTCOME(call): runs a libc-style call (-1 plus errno on failure) and gives its outcome(). */
#define OUTCOME(call)                                                                              \
    ([&] {                                                                                         \
        errno = 0;                                                                                 \
        long ret_ = static_cast<long>(call);                                                       \
        return ::conformance::outcome(ret_, errno);                                                \
    }())

/* A CPU set written as a list ("0-3,8"). */
std::string cpu_list(const cpu_set_t* set, size_t size_bytes);
std::string cpu_list(const std::set<int>& cpus);

/* Appends "<test>: <key> <value>" to the transcript. */
void record(const std::string& key, const std::string& value);

/* The host's answer to sched_getaffinity(0, big buffer), bypassing every interposer. */
long host_getaffinity_bytes();

/* A pid that belongs to no process. */
constexpr pid_t kNoSuchPid = 0x3fffffff;

inline bool vcpu_observable() {
    return !machine().without_shim;
}

}  // namespace conformance

#endif
