/* PalHostTopology: the host's possible and online CPUs and each CPU's NUMA node, read from sysfs
 * with raw syscalls (this runs inside the first intercepted call, possibly before main). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>

#include "pal/pal.h"
#include "pal_linux.h"

long pal_read_small_file(const char* path, char* buf, size_t size) {
    int dirfd = AT_FDCWD;
    pal_host_path(&dirfd, &path);
    long fd = pal_raw(SYS_openat, dirfd, reinterpret_cast<long>(path), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fd;
    size_t used = 0;
    long ret = 0;
    while (used + 1 < size) {
        ret = pal_raw(SYS_read, fd, reinterpret_cast<long>(buf + used), static_cast<long>(size - 1 - used));
        if (ret == -EINTR)
            continue;
        if (ret <= 0)
            break;
        used += static_cast<size_t>(ret);
    }
    pal_raw(SYS_close, fd);
    if (ret < 0)
        return ret;
    buf[used] = '\0';
    return static_cast<long>(used);
}

extern "C" long PalReadFile(const char* path, char* buf, size_t size) {
    return pal_read_small_file(path, buf, size);
}

namespace {

/* Calls visit(cpu) for every CPU of a kernel-format list such as "0-3,8\n". The kernel writes these
 * files, so the parser only needs to stop safely on anything unexpected. Returns false on a
 * malformed list. */
template <typename Visit>
bool for_each_in_list(const char* s, Visit visit) {
    while (*s && *s != '\n') {
        unsigned long first = 0, last = 0;
        if (*s < '0' || *s > '9')
            return false;
        while (*s >= '0' && *s <= '9')
            first = first * 10 + static_cast<unsigned long>(*s++ - '0');
        last = first;
        if (*s == '-') {
            ++s;
            if (*s < '0' || *s > '9')
                return false;
            last = 0;
            while (*s >= '0' && *s <= '9')
                last = last * 10 + static_cast<unsigned long>(*s++ - '0');
        }
        if (last < first || last >= PAL_MAX_CPUS)
            return false;
        for (unsigned long cpu = first; cpu <= last; ++cpu)
            visit(static_cast<unsigned>(cpu));
        if (*s == ',')
            ++s;
    }
    return true;
}

/* Writes "/sys/devices/system/node/node<N>/cpulist" into buf. */
void node_cpulist_path(char* buf, unsigned node) {
    const char prefix[] = "/sys/devices/system/node/node";
    const char suffix[] = "/cpulist";
    memcpy(buf, prefix, sizeof(prefix) - 1);
    char* p = buf + sizeof(prefix) - 1;
    char digits[12];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + node % 10);
        node /= 10;
    } while (node);
    while (n)
        *p++ = digits[--n];
    memcpy(p, suffix, sizeof(suffix));
}

/* The files' text, in a mapping of its own: these run once per process, inside whatever call first
 * needs the host's layout, which may be on a 16 KiB thread stack or a signal handler's. */
struct FileText {
    static constexpr size_t kBytes = 16384;
    FileText() {
        void* p;
        data = PalMemoryAllocate(kBytes, &p) == 0 ? static_cast<char*>(p) : nullptr;
    }
    ~FileText() {
        if (data)
            PalMemoryFree(data, kBytes);
    }
    FileText(const FileText&) = delete;
    FileText& operator=(const FileText&) = delete;
    char* data;
};

}  // namespace

extern "C" long PalHostCpuNodes(uint16_t* node_of_cpu) {
    memset(node_of_cpu, 0, sizeof(uint16_t) * PAL_MAX_CPUS);
    FileText text;
    char* buf = text.data;
    if (!buf)
        return -ENOMEM;
    const size_t size = FileText::kBytes;
    long len = pal_read_small_file("/sys/devices/system/node/online", buf, size);
    if (len < 0)
        return len;
    char nodes[256]; /* node lists are short: "0-3" */
    size_t keep = static_cast<size_t>(len) < sizeof(nodes) - 1 ? static_cast<size_t>(len) : sizeof(nodes) - 1;
    memcpy(nodes, buf, keep);
    nodes[keep] = '\0';
    for_each_in_list(nodes, [&](unsigned node) {
        char path[64];
        node_cpulist_path(path, node);
        if (pal_read_small_file(path, buf, size) >= 0)
            for_each_in_list(buf, [&](unsigned cpu) { node_of_cpu[cpu] = static_cast<uint16_t>(node); });
    });
    return 0;
}

extern "C" long PalHostTopology(struct PalTopology* topo) {
    memset(topo, 0, sizeof(*topo));
    FileText text;
    char* buf = text.data;
    if (!buf)
        return -ENOMEM;
    const size_t size = FileText::kBytes - sizeof(uint64_t) * PAL_CPU_MASK_WORDS;
    long status = 0;

    /* The kernel's cpumask size: sched_getaffinity returns min(len, cpumask_size). */
    uint64_t(&probe)[PAL_CPU_MASK_WORDS] = *reinterpret_cast<uint64_t(*)[PAL_CPU_MASK_WORDS]>(buf + size);
    long probed = pal_raw(SYS_sched_getaffinity, 0, sizeof(probe), reinterpret_cast<long>(probe));
    topo->kernel_mask_size = probed > 0 ? static_cast<uint32_t>(probed) : 0;

    long len = pal_read_small_file("/sys/devices/system/cpu/possible", buf, size);
    if (len >= 0) {
        for_each_in_list(buf, [&](unsigned cpu) {
            if (cpu + 1 > topo->possible_count)
                topo->possible_count = cpu + 1;
        });
    } else {
        status = len;
    }

    len = pal_read_small_file("/sys/devices/system/cpu/online", buf, size);
    if (len >= 0) {
        for_each_in_list(buf, [&](unsigned cpu) { topo->online_mask[cpu / 64] |= 1ULL << (cpu % 64); });
    } else {
        /* No sysfs (a minimal container): what this thread may run on is the best estimate. */
        status = len;
        if (probed > 0)
            memcpy(topo->online_mask, probe, static_cast<size_t>(probed));
    }
    for (unsigned w = 0; w < PAL_CPU_MASK_WORDS; ++w) {
        if (!topo->online_mask[w]) /* most words are empty; popcount is a call into libgcc here */
            continue;
        topo->online_count += static_cast<uint32_t>(__builtin_popcountll(topo->online_mask[w]));
        if (topo->possible_count < (w + 1) * 64) {
            unsigned top = w * 64 + 63 - static_cast<unsigned>(__builtin_clzll(topo->online_mask[w]));
            if (top + 1 > topo->possible_count)
                topo->possible_count = top + 1;
        }
    }

    return status;
}
