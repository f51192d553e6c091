/* The conformance harness (conformance.h) and the test binary's main(). */
#include <stdio.h>
#include <stdlib.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>

#include "conformance.h"
#include "raw_syscall.h"

namespace conformance {
namespace {

std::mutex g_transcript_mutex;
std::vector<std::string> g_transcript;

int parse_positive(const char* text) {
    char* end;
    long n = strtol(text, &end, 10);
    return (*end == '\0' && n > 0) ? static_cast<int>(n) : 0;
}

/* The number of vCPUs that LIBOS_CPUS or LIBOS_CPU_MAP configure, 0 when neither is set. The
 * harness reads the configuration itself, as a user would, rather than asking the shim. */
int configured_vcpus() {
    if (const char* cpus = getenv("LIBOS_CPUS"); cpus && *cpus)
        return parse_positive(cpus);
    if (const char* map = getenv("LIBOS_CPU_MAP"); map && *map) {
        int count = 0;
        for (const char* s = map; *s;) {
            char* end;
            long first = strtol(s, &end, 10);
            long last = first;
            if (*end == '-')
                last = strtol(end + 1, &end, 10);
            count += static_cast<int>(last - first + 1);
            s = *end == ',' ? end + 1 : end;
            if (*end != ',' )
                break;
        }
        return count;
    }
    return 0;
}

Machine compute_machine() {
    Machine m;
    /* A machine is configured for the shim (LD_PRELOAD), or for strict mode's supervisor, which
     * answers for a program that runs without the shim (LIBOS_STRICT). */
    const bool strict = getenv("LIBOS_STRICT") != nullptr;
    if (int n = configured_vcpus(); n > 0 && (getenv("LD_PRELOAD") || strict)) {
        m.is_virtual = true;
        m.without_shim = strict && libos_test::read_file("/proc/self/maps").find("libshim.so") == std::string::npos;
        struct statfs fs;
        /* The kernel's own answer, which the shim would replace with the host file's. */
        m.views = strict &&
                  libos_test::raw_syscall(SYS_statfs, reinterpret_cast<long>("/sys/devices/system/cpu"),
                                          reinterpret_cast<long>(&fs)) == 0 &&
                  fs.f_type == TMPFS_MAGIC;
        m.nr_cpu_ids = n;
        m.mask_size = static_cast<size_t>((n + 63) / 64) * 8;
        for (int c = 0; c < n; ++c)
            m.usable.push_back(c);
        m.online = m.configured = n;
        for (int c = 0; c < n; ++c)
            m.online_cpus.insert(c);
        m.present_cpus = m.possible_cpus = m.online_cpus;
        return m;
    }
    auto possible = libos_test::parse_cpu_list(libos_test::read_file("/sys/devices/system/cpu/possible"));
    m.possible_cpus = possible;
    m.present_cpus = libos_test::parse_cpu_list(libos_test::read_file("/sys/devices/system/cpu/present"));
    m.online_cpus = libos_test::parse_cpu_list(libos_test::read_file("/sys/devices/system/cpu/online"));
    m.nr_cpu_ids = possible.empty() ? 1 : *possible.rbegin() + 1;
    m.configured = static_cast<int>(possible.size());
    m.online = static_cast<int>(
        libos_test::parse_cpu_list(libos_test::read_file("/sys/devices/system/cpu/online")).size());
    m.mask_size = static_cast<size_t>(host_getaffinity_bytes());
    unsigned char mask[1024] = {};
    long written = 0;
    /* The host's view of this thread, through the raw instruction. */
    written = libos_test::raw_syscall(SYS_sched_getaffinity, 0, sizeof(mask), reinterpret_cast<long>(mask));
    for (long c = 0; c < written * 8; ++c)
        if (mask[c / 8] & (1u << (c % 8)))
            m.usable.push_back(static_cast<int>(c));
    return m;
}

void write_transcript() {
    const char* path = getenv("LIBOS_TRANSCRIPT");
    if (!path || !*path)
        return;
    FILE* f = fopen(path, "we");
    if (!f)
        return;
    for (const auto& line : g_transcript)
        fprintf(f, "%s\n", line.c_str());
    fclose(f);
}

}  // namespace

long host_getaffinity_bytes() {
    unsigned char mask[1024];
    return libos_test::raw_syscall(SYS_sched_getaffinity, 0, sizeof(mask), reinterpret_cast<long>(mask));
}

const Machine& machine() {
    static const Machine m = compute_machine();
    return m;
}

std::string outcome(long ret, int err) {
    if (ret == -1)
        return std::string("errno ") + (strerrorname_np(err) ? strerrorname_np(err) : std::to_string(err).c_str());
    return "=" + std::to_string(ret);
}

std::string cpu_list(const std::set<int>& cpus) {
    std::string out;
    for (auto it = cpus.begin(); it != cpus.end();) {
        int first = *it, last = *it;
        for (++it; it != cpus.end() && *it == last + 1; ++it)
            last = *it;
        if (!out.empty())
            out += ',';
        out += std::to_string(first);
        if (last != first)
            out += '-' + std::to_string(last);
    }
    return out.empty() ? "(empty)" : out;
}

std::string cpu_list(const cpu_set_t* set, size_t size_bytes) {
    std::set<int> cpus;
    for (size_t c = 0; c < size_bytes * 8; ++c)
        if (CPU_ISSET_S(c, size_bytes, set))
            cpus.insert(static_cast<int>(c));
    return cpu_list(cpus);
}

void record(const std::string& key, const std::string& value) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string test = info ? std::string(info->test_suite_name()) + "." + info->name() : "?";
    std::lock_guard<std::mutex> lock(g_transcript_mutex);
    g_transcript.push_back(test + ": " + key + " " + value);
}

}  // namespace conformance

int main(int argc, char** argv) {
    /* Re-executed by the exec tests: print this process's CPU affinity and CPU count, then exit. */
    if (argc > 1 && strcmp(argv[1], "--print-affinity") == 0) {
        alignas(cpu_set_t) unsigned char mask[1024] = {};
        if (sched_getaffinity(0, sizeof(mask), reinterpret_cast<cpu_set_t*>(mask)) != 0)
            return 1;
        printf("%s cpus %ld\n", conformance::cpu_list(reinterpret_cast<cpu_set_t*>(mask), sizeof(mask)).c_str(),
               sysconf(_SC_NPROCESSORS_ONLN));
        return 0;
    }
    ::testing::InitGoogleTest(&argc, argv);
    int result = RUN_ALL_TESTS();
    conformance::write_transcript();
    return result;
}
