/* The per-call figures of scripts/bench (Google Benchmark). The same binary runs natively and under
 * the shim (LD_PRELOAD=libshim.so, with or without a virtual machine); bench/run_bench.py compares
 * the medians of the runs. Nothing here knows whether the shim is present: every call/ and scale/
 * benchmark is the plain libc call a program would make (raw/ is the exception, below).
 *
 * Three groups, selected with --benchmark_filter:
 *   call/...   one thread; scripts/bench pins the whole process to one host CPU;
 *   raw/...    one thread, pinned likewise: system calls made with the `syscall` instruction itself,
 *              which no preloaded library sees. Only strict mode (libos-run --strict, a seccomp
 *              filter) reaches them: the runner compares them natively and under --strict;
 *   scale/...  the same reads from 1 and 2 threads at once, each thread pinned to its own CPU, for
 *              the throughput ratio. BENCH_PIN=a,b names the CPUs (as the program sees them: host
 *              CPUs natively, vCPUs on a virtual machine) that thread 0 and thread 1 pin themselves
 *              to; without it the threads are not pinned. */
#include <benchmark/benchmark.h>

#include <string>

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

#include "raw_syscall.h"

namespace {

/* ---- one thread ------------------------------------------------------------------------------ */

void getpid_syscall(benchmark::State& state) {
    for (auto _ : state)
        benchmark::DoNotOptimize(syscall(SYS_getpid));
}

/* A number the kernel does not have: it answers ENOSYS at once, so the call's time is the kernel's
 * entry and exit and, under the shim, the shim's own pass-through, which a costlier call would hide
 * in the kernel's noise. */
constexpr long kNoSuchSyscall = 1000;

void enosys_syscall(benchmark::State& state) {
    for (auto _ : state)
        benchmark::DoNotOptimize(syscall(kNoSuchSyscall));
}

/* The affinity calls' buffer: a cpu_set_t, or more on a machine larger than 1024 CPUs (the kernel
 * refuses a buffer smaller than its CPU mask), so that the same benchmark runs at every size. */
struct AffinityMask {
    size_t bytes;
    cpu_set_t* set;
    AffinityMask() {
        long conf = sysconf(_SC_NPROCESSORS_CONF);
        size_t need = CPU_ALLOC_SIZE(conf > 0 ? conf : 1);
        bytes = need > sizeof(cpu_set_t) ? need : sizeof(cpu_set_t);
        set = static_cast<cpu_set_t*>(calloc(1, bytes));
    }
    ~AffinityMask() { free(set); }
};

void sched_getaffinity_call(benchmark::State& state) {
    AffinityMask mask;
    for (auto _ : state) {
        benchmark::DoNotOptimize(sched_getaffinity(0, mask.bytes, mask.set));
        benchmark::ClobberMemory();
    }
}

/* The thread's memory policy with its mask, as libnuma asks (numa_get_membind, numactl --show). */
void get_mempolicy_call(benchmark::State& state) {
    int mode;
    unsigned long mask[16];
    for (auto _ : state) {
        benchmark::DoNotOptimize(syscall(SYS_get_mempolicy, &mode, mask, 1025, 0, 0));
        benchmark::ClobberMemory();
    }
}

/* Binds one page to node 0 again and again: the same policy, so the kernel keeps the VMA as it is,
 * natively and on a virtual machine (where the LibOS also records the range). */
void mbind_call(benchmark::State& state) {
    void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned long node0 = 1;
    for (auto _ : state)
        benchmark::DoNotOptimize(syscall(SYS_mbind, page, 4096, 2 /* MPOL_BIND */, &node0, 65, 0));
    munmap(page, 4096);
}

/* Where 4 pages of another process are (move_pages(pid) without nodes), as numastat -p and
 * migratepages' users ask: a child that set its own mask (so that it holds a slot of the machine)
 * holds 4 touched pages until the parent is done. On the machine the answer comes from the child's
 * own records (docs/numa.md, "Another process of the launch"). */
void move_pages_other_call(benchmark::State& state) {
    int up[2], down[2];
    if (pipe(up) != 0 || pipe(down) != 0) {
        state.SkipWithError("pipe failed");
        return;
    }
    pid_t child = fork();
    if (child == 0) {
        close(up[0]);
        close(down[1]);
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof(set), &set) == 0)
            sched_setaffinity(0, sizeof(set), &set);
        char* p = static_cast<char*>(mmap(nullptr, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        for (int i = 0; i < 4; ++i)
            p[i * 4096] = 1;
        if (write(up[1], &p, sizeof(p)) != sizeof(p))
            _exit(1);
        char c;
        while (read(down[0], &c, 1) < 0) {
        }
        _exit(0);
    }
    close(up[1]);
    close(down[0]);
    char* p = nullptr;
    if (child < 0 || read(up[0], &p, sizeof(p)) != sizeof(p)) {
        state.SkipWithError("the child did not start");
    } else {
        void* pages[4];
        int status[4];
        for (int i = 0; i < 4; ++i)
            pages[i] = p + i * 4096;
        for (auto _ : state) {
            benchmark::DoNotOptimize(syscall(SYS_move_pages, child, 4, pages, nullptr, status, 0));
            benchmark::ClobberMemory();
        }
    }
    close(down[1]);
    close(up[0]);
    if (child > 0)
        waitpid(child, nullptr, 0);
}

/* Sets the mask the thread already has: the same work natively and on a virtual machine (where the
 * mask read back is the virtual one), and the benchmark leaves the process as it found it. */
void sched_setaffinity_call(benchmark::State& state) {
    AffinityMask mask;
    if (sched_getaffinity(0, mask.bytes, mask.set) != 0) {
        state.SkipWithError("sched_getaffinity failed");
        return;
    }
    for (auto _ : state)
        benchmark::DoNotOptimize(sched_setaffinity(0, mask.bytes, mask.set));
    if (sched_setaffinity(0, mask.bytes, mask.set) != 0)
        state.SkipWithError("sched_setaffinity failed");
}

/* The cpuid instruction (leaf 0xB, the x2APIC topology): no call at all. On a virtual machine whose
 * host has CPUID faulting it traps to the LibOS, which answers it (docs/machine.md, "cpuid"); natively
 * it runs, which on a virtual host is an exit to the hypervisor. */
void cpuid_leaf_b(benchmark::State& state) {
    for (auto _ : state) {
        uint32_t a, b, c, d;
        __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0xb), "c"(0));
        benchmark::DoNotOptimize(d);
    }
}

void sched_getcpu_call(benchmark::State& state) {
    for (auto _ : state)
        benchmark::DoNotOptimize(sched_getcpu());
}

void getcpu_call(benchmark::State& state) {
    unsigned cpu = 0, node = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(getcpu(&cpu, &node));
        benchmark::ClobberMemory();
    }
}

void sysconf_onln(benchmark::State& state) {
    for (auto _ : state)
        benchmark::DoNotOptimize(sysconf(_SC_NPROCESSORS_ONLN));
}

void get_nprocs_call(benchmark::State& state) {
    for (auto _ : state)
        benchmark::DoNotOptimize(get_nprocs());
}

/* open + read to the end + close, as `cat` does. */
void read_file(benchmark::State& state, const char* path) {
    static char buffer[1 << 16];
    for (auto _ : state) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            state.SkipWithError("open failed");
            return;
        }
        size_t total = 0;
        ssize_t n;
        while ((n = read(fd, buffer, sizeof(buffer))) > 0)
            total += static_cast<size_t>(n);
        close(fd);
        benchmark::DoNotOptimize(total);
        if (n < 0) {
            state.SkipWithError("read failed");
            return;
        }
    }
}

/* read(2) of one byte of /dev/zero: what the shim's read costs a descriptor that is no generated
 * file (shim/shim_live.cpp: a branch, then glibc's own __read). */
void read_one_byte(benchmark::State& state) {
    int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        state.SkipWithError("open failed");
        return;
    }
    char byte;
    for (auto _ : state)
        benchmark::DoNotOptimize(read(fd, &byte, 1));
    close(fd);
}

/* A file kept open and read again from offset 0 to the end, as vmstat and libproc2 read /proc/stat
 * (lseek(fd, 0) + read): on the machine its content is made again (table/vfs/live.cpp). */
void reread_file(benchmark::State& state, const char* path) {
    static char buffer[1 << 16];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        state.SkipWithError("open failed");
        return;
    }
    for (auto _ : state) {
        lseek(fd, 0, SEEK_SET);
        size_t total = 0;
        ssize_t n;
        while ((n = read(fd, buffer, sizeof(buffer))) > 0)
            total += static_cast<size_t>(n);
        benchmark::DoNotOptimize(total);
        if (n < 0) {
            state.SkipWithError("read failed");
            break;
        }
    }
    close(fd);
}

/* ---- raw system calls ---------------------------------------------------------------------------- */

/* A system call made with the instruction (tests/lib/raw_syscall.h), not through libc's syscall():
 * the shim replaces syscall(), so only this form stays out of its sight. */
inline long raw_call(long nr, long a = 0, long b = 0, long c = 0) {
    return libos_test::raw_syscall(nr, a, b, c);
}

void raw_getpid(benchmark::State& state) {
    for (auto _ : state)
        benchmark::DoNotOptimize(raw_call(SYS_getpid));
}

void raw_sched_getaffinity(benchmark::State& state) {
    cpu_set_t set;
    for (auto _ : state) {
        long n = raw_call(SYS_sched_getaffinity, 0, sizeof(set), reinterpret_cast<long>(&set));
        if (n < 0) {
            state.SkipWithError("sched_getaffinity failed");
            return;
        }
        benchmark::DoNotOptimize(n);
        benchmark::ClobberMemory();
    }
}

/* openat + close, or openat + read to the end + close, all raw. */
void raw_open_file(benchmark::State& state, const char* path, bool read_it) {
    static char buffer[1 << 16];
    for (auto _ : state) {
        long fd = raw_call(SYS_openat, AT_FDCWD, reinterpret_cast<long>(path), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            state.SkipWithError("openat failed");
            return;
        }
        long total = 0, n = 0;
        if (read_it)
            while ((n = raw_call(SYS_read, fd, reinterpret_cast<long>(buffer), sizeof(buffer))) > 0)
                total += n;
        raw_call(SYS_close, fd);
        benchmark::DoNotOptimize(total);
        if (n < 0) {
            state.SkipWithError("read failed");
            return;
        }
    }
}

/* A descriptor kept open and read again from offset 0 to the end, as samplers read /proc/stat: under
 * --strict the open is trapped once, and the descriptor is a file of the supervisor's FUSE server,
 * which makes the content anew at each read from 0 (docs/strict-mode.md, "Files that change"). */
void raw_reread_file(benchmark::State& state, const char* path) {
    static char buffer[1 << 16];
    long fd = raw_call(SYS_openat, AT_FDCWD, reinterpret_cast<long>(path), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        state.SkipWithError("openat failed");
        return;
    }
    long n = 0;
    for (auto _ : state) {
        long total = 0;
        while ((n = libos_test::raw_syscall(SYS_pread64, fd, reinterpret_cast<long>(buffer), sizeof(buffer), total)) > 0)
            total += n;
        benchmark::DoNotOptimize(total);
        if (n < 0)
            break;
    }
    raw_call(SYS_close, fd);
    if (n < 0)
        state.SkipWithError("pread failed");
}

/* ---- two threads at once ----------------------------------------------------------------------- */

int pin_cpu(int thread_index) {
    const char* pins = getenv("BENCH_PIN");
    if (!pins || !*pins)
        return -1;
    /* The thread_index-th number of the comma-separated list. */
    const char* p = pins;
    for (int i = 0; i < thread_index && p; ++i) {
        p = strchr(p, ',');
        if (p)
            ++p;
    }
    return p && *p ? atoi(p) : -1;
}

bool pin_thread(benchmark::State& state) {
    int cpu = pin_cpu(state.thread_index());
    if (cpu < 0)
        return true;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
        state.SkipWithError("could not pin the thread (BENCH_PIN)");
        return false;
    }
    return true;
}

void scale_getaffinity(benchmark::State& state) {
    if (!pin_thread(state))
        return;
    cpu_set_t set;
    for (auto _ : state) {
        benchmark::DoNotOptimize(sched_getaffinity(0, sizeof(set), &set));
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
}

void scale_getcpu(benchmark::State& state) {
    if (!pin_thread(state))
        return;
    for (auto _ : state)
        benchmark::DoNotOptimize(sched_getcpu());
    state.SetItemsProcessed(state.iterations());
}

/* Whether libshim.so is mapped: a preload that ld.so could not load only warns, and the run would
 * silently be native. Reported in the output's context; the runner checks it. */
bool shim_loaded() {
    FILE* maps = fopen("/proc/self/maps", "re");
    if (!maps)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), maps))
        found = strstr(line, "/libshim.so") != nullptr;
    fclose(maps);
    return found;
}

/* The Seccomp: field of /proc/self/status (0: none, 2: a filter, as under --strict), or "?". */
std::string seccomp_mode() {
    FILE* status = fopen("/proc/self/status", "re");
    if (!status)
        return "?";
    char line[512];
    std::string mode = "?";
    while (fgets(line, sizeof(line), status))
        if (strncmp(line, "Seccomp:", 8) == 0) {
            mode = std::to_string(atoi(line + 8));
            break;
        }
    fclose(status);
    return mode;
}

}  // namespace

BENCHMARK(getpid_syscall)->Name("call/syscall_getpid");
BENCHMARK(enosys_syscall)->Name("call/syscall_enosys");
BENCHMARK(sched_getaffinity_call)->Name("call/sched_getaffinity");
BENCHMARK(sched_setaffinity_call)->Name("call/sched_setaffinity");
BENCHMARK(sched_getcpu_call)->Name("call/sched_getcpu");
BENCHMARK(get_mempolicy_call)->Name("call/get_mempolicy");
BENCHMARK(mbind_call)->Name("call/mbind");
BENCHMARK(move_pages_other_call)->Name("call/move_pages_other");
BENCHMARK(cpuid_leaf_b)->Name("call/cpuid_leaf_b");
BENCHMARK(getcpu_call)->Name("call/getcpu");
BENCHMARK(sysconf_onln)->Name("call/sysconf_nprocessors_onln");
BENCHMARK(get_nprocs_call)->Name("call/get_nprocs");
BENCHMARK_CAPTURE(read_file, proc_cpuinfo, "/proc/cpuinfo")->Name("call/read_proc_cpuinfo");
BENCHMARK_CAPTURE(read_file, cpu_online, "/sys/devices/system/cpu/online")->Name("call/read_cpu_online");
BENCHMARK_CAPTURE(read_file, proc_stat, "/proc/stat")->Name("call/read_proc_stat");
BENCHMARK_CAPTURE(read_file, proc_self_status, "/proc/self/status")->Name("call/read_proc_self_status");
BENCHMARK(read_one_byte)->Name("call/read_1_byte");
BENCHMARK_CAPTURE(reread_file, proc_stat, "/proc/stat")->Name("call/reread_proc_stat");
BENCHMARK_CAPTURE(reread_file, proc_self_status, "/proc/self/status")->Name("call/reread_proc_self_status");
BENCHMARK_CAPTURE(read_file, proc_interrupts, "/proc/interrupts")->Name("call/read_proc_interrupts");
BENCHMARK_CAPTURE(read_file, proc_softirqs, "/proc/softirqs")->Name("call/read_proc_softirqs");
BENCHMARK_CAPTURE(read_file, softnet_stat, "/proc/net/softnet_stat")->Name("call/read_softnet_stat");
BENCHMARK_CAPTURE(read_file, proc_self_stat, "/proc/self/stat")->Name("call/read_proc_self_stat");
BENCHMARK_CAPTURE(read_file, core_cpus_list, "/sys/devices/system/cpu/cpu1/topology/core_cpus_list")
    ->Name("call/read_core_cpus_list");
BENCHMARK_CAPTURE(read_file, node_meminfo, "/sys/devices/system/node/node0/meminfo")->Name("call/read_node_meminfo");

BENCHMARK(raw_getpid)->Name("raw/getpid");
BENCHMARK(raw_sched_getaffinity)->Name("raw/sched_getaffinity");
/* A file none of the virtual views covers: under --strict its open is trapped all the same (a filter
 * cannot read the path), then continued on the host. */
BENCHMARK_CAPTURE(raw_open_file, outside, "/dev/null", false)->Name("raw/openat_close_dev_null");
BENCHMARK_CAPTURE(raw_open_file, cpu_online, "/sys/devices/system/cpu/online", true)
    ->Name("raw/read_cpu_online");
BENCHMARK_CAPTURE(raw_reread_file, proc_stat, "/proc/stat")->Name("raw/reread_proc_stat");

/* Real time: items_per_second is then the threads' combined throughput over wall-clock time. */
BENCHMARK(scale_getaffinity)->Name("scale/sched_getaffinity")->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(scale_getcpu)->Name("scale/sched_getcpu")->Threads(1)->Threads(2)->UseRealTime();

/* BENCH_SECCOMP_ALLOW_ALL=1: the process first installs a seccomp filter that allows every call, the
 * floor of any filter (the kernel's seccomp entry path), for strict mode's figures. */
bool install_allow_all_filter() {
    const char* want = getenv("BENCH_SECCOMP_ALLOW_ALL");
    if (!want || strcmp(want, "1") != 0)
        return true;
    sock_filter code[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    sock_fprog prog = {1, code};
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
           syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0;
}

int main(int argc, char** argv) {
    if (!install_allow_all_filter()) {
        perror("bench_calls: BENCH_SECCOMP_ALLOW_ALL: seccomp");
        return 1;
    }
    cpu_set_t set;
    int affinity = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : -1;
    benchmark::AddCustomContext("libshim_loaded", shim_loaded() ? "yes" : "no");
    benchmark::AddCustomContext("nprocessors_onln", std::to_string(sysconf(_SC_NPROCESSORS_ONLN)));
    benchmark::AddCustomContext("affinity_cpus", std::to_string(affinity));
    /* What a raw call sees: the host's mask natively and under the plain shim, the virtual
     * machine's under --strict (the supervisor answers it). */
    long raw = raw_call(SYS_sched_getaffinity, 0, sizeof(set), reinterpret_cast<long>(&set));
    benchmark::AddCustomContext("raw_affinity_cpus", std::to_string(raw > 0 ? CPU_COUNT(&set) : -1));
    benchmark::AddCustomContext("seccomp", seccomp_mode());
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
