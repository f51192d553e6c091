/* The contents of /proc/cpuinfo, /proc/stat and the status files on the machine (vfs_internal.h): the
 * host's files with their per-CPU parts and CPU masks rewritten for the vCPUs. */
#include <errno.h>
#include <string.h>

#include "libos/libos_machine.h"
#include "libos/libos_topology.h"
#include "libos/libos_threads.h"
#include "vfs/vfs_internal.h"

namespace libos {
namespace {

/* Calls visit(line, length) for each line of NUL-terminated `text` (the newline not included). */
template <typename Visit>
void for_each_line(const char* text, Visit visit) {
    for (const char* line = text; *line;) {
        size_t n = strcspn(line, "\n");
        visit(line, n);
        line += n;
        if (*line == '\n')
            ++line;
    }
}

/* The virtual mask of thread `tid` (0: the caller), whose host mask the status file lists. As
 * sched_getaffinity of another thread: its slot, unless the host runs it elsewhere and no set of
 * the launch raced with this read (`before` was taken before the host's file was read). */
void status_mask(Caller caller, const VfsPath& path, ThreadSlot* slot, SlotSnapshot before, const char* host_list,
                 CpuBits* out, CpuBits* work) {
    if (caller.is_self(path.tid)) {
        current_mask(out);
        return;
    }
    CpuBits& host = work[0];
    memset(&host, 0, sizeof(host));
    parse_cpu_list(host_list, &host);
    /* Strict mode's supervisor, for a thread of a process without the shim: what sched_getaffinity
     * answers it (libos_sched.cpp), its creator's mask, kept as its slot; unless a set on the thread
     * (its creator's pthread_setaffinity_np, answered by another supervisor thread) claimed the slot
     * since it was looked for: that mask is newer, stays, and is the answer. */
    if (!slot && caller.inherited_mask(path.tid, host, out)) {
        ThreadSlot* kept = register_inferred(path.tid, *out);
        if (kept && !read_mask(kept, path.tid, out))
            to_virtual(host, out);
        return;
    }
    if (slot && read_mask(slot, path.tid, out)) {
        if (changed_since(slot, before))
            return;
        CpuBits& expected = work[1];
        to_host(*out, &expected);
        if (memcmp(expected.words, host.words, sizeof(host.words)) == 0)
            return;
    }
    to_virtual(host, out);
}

/* The value of "key\t: value" in a cpuinfo block, or nullptr. */
const char* block_value(const char* block, size_t size, const char* key, size_t* length) {
    size_t k = strlen(key);
    for (const char* line = block; line < block + size;) {
        size_t n = strcspn(line, "\n");
        if (strncmp(line, key, k) == 0 && (line[k] == '\t' || line[k] == ' ' || line[k] == ':')) {
            const char* colon = static_cast<const char*>(memchr(line, ':', n));
            if (colon) {
                const char* v = colon + 1;
                while (*v == ' ')
                    ++v;
                *length = static_cast<size_t>(line + n - v);
                return v;
            }
        }
        line += n + 1;
    }
    return nullptr;
}

uint64_t block_number(const char* block, size_t size, const char* key, uint64_t fallback) {
    size_t n;
    const char* v = block_value(block, size, key, &n);
    if (!v || n == 0)
        return fallback;
    uint64_t x = 0;
    for (size_t i = 0; i < n && v[i] >= '0' && v[i] <= '9'; ++i)
        x = x * 10 + static_cast<uint64_t>(v[i] - '0');
    return x;
}

}  // namespace

/* The host's status file with Cpus_allowed, Cpus_allowed_list, Mems_allowed and Mems_allowed_list
 * for the machine (every node of the machine: memory policy is the host's, docs/machine.md). */
long write_status(Caller caller, const VfsPath& path, Out& out) {
    ThreadSlot* slot = caller.is_self(path.tid) ? nullptr : find_slot(path.tid);
    SlotSnapshot before = slot ? snapshot(slot) : SlotSnapshot{};
    /* In scratch memory, not on the stack (libos_scratch.h). */
    struct Work {
        char text[16384];
        char host_list[8192];
        CpuBits mask, nodes, sets[2];
    };
    Scratch scratch(sizeof(Work));
    Work* work = scratch.at<Work>();
    if (!work)
        return -ENOMEM;
    char* text = work->text;
    char* host_list = work->host_list;
    host_list[0] = '\0';
    long len = read_host_kept(caller, path.real, text, sizeof(work->text));
    if (len < 0)
        return len;
    const char* list_line = strstr(text, "\nCpus_allowed_list:");
    if (list_line) {
        const char* v = list_line + strlen("\nCpus_allowed_list:");
        while (*v == ' ' || *v == '\t')
            ++v;
        size_t n = strcspn(v, "\n");
        if (n < sizeof(work->host_list)) {
            memcpy(host_list, v, n);
            host_list[n] = '\0';
        }
    }
    CpuBits& mask = work->mask;
    status_mask(caller, path, slot, before, host_list, &mask, work->sets);
    CpuBits& nodes = work->nodes;
    memset(&nodes, 0, sizeof(nodes));
    for (uint32_t k = 0; k < vnode_count(); ++k)
        nodes.add(k);
    for_each_line(text, [&](const char* line, size_t n) {
        if (starts_with(line, "Cpus_allowed:")) {
            out.add("Cpus_allowed:\t");
            put_mask(out, mask, vcpu_count());
        } else if (starts_with(line, "Cpus_allowed_list:")) {
            out.add("Cpus_allowed_list:\t");
            put_list(out, mask);
        } else if (starts_with(line, "Mems_allowed:")) {
            /* The machine's nodes, in as many 32-bit groups as the host's line has (MAX_NUMNODES). */
            uint32_t groups = 1;
            for (size_t i = 0; i < n; ++i)
                groups += line[i] == ',';
            out.add("Mems_allowed:\t");
            put_mask(out, nodes, groups * 32);
        } else if (starts_with(line, "Mems_allowed_list:")) {
            out.add("Mems_allowed_list:\t");
            put_list(out, nodes);
        } else {
            out.add(line, n).add("\n");
        }
    });
    return 0;
}

/* /proc/stat: one cpuV line per vCPU, each host CPU's times shared among the vCPUs on it (the
 * remainders to the first of them, so that the totals still add up), and the aggregate line the
 * sum of the vCPU lines. Every other line is the host's. */
long write_stat(Caller caller, Out& out) {
    /* The common case fits in a slab of scratch memory (a few hundred bytes per host CPU, and a few
     * CPUs): fresh mappings, and their page faults, would cost more than the host's read itself. */
    constexpr size_t kSmallText = 16384;
    Scratch scratch(kSmallText + 4096);
    char* small_text = scratch.data();
    if (!small_text)
        return -ENOMEM;
    char* text = small_text;
    long len = read_host_kept(caller, "/proc/stat", small_text, kSmallText);
    MappedBuffer big(len >= static_cast<long>(kSmallText) - 1 ? 1 << 20 : 0);
    if (len >= static_cast<long>(kSmallText) - 1) {
        if (!big.data)
            return -ENOMEM;
        len = read_host_kept(caller, "/proc/stat", big.data, big.size);
        text = big.data;
    }
    if (len < 0)
        return len;
    constexpr int kFields = 10;
    const uint32_t n = vcpu_count();
    uint32_t rows = 0; /* host CPUs 0..rows-1 are the ones the machine may use */
    for (uint32_t v = 0; v < n; ++v)
        rows = host_cpu_of(v) + 1u > rows ? host_cpu_of(v) + 1u : rows;
    /* Each host CPU's times, how many vCPUs share it, and each vCPU's rank among them. */
    const size_t table_bytes = sizeof(uint64_t) * kFields * rows + sizeof(uint32_t) * (rows + n);
    char* small_table = small_text + kSmallText;
    constexpr size_t kSmallTable = 4096;
    MappedBuffer big_table(table_bytes > kSmallTable ? table_bytes : 0);
    char* table = table_bytes > kSmallTable ? big_table.data : small_table;
    if (!table)
        return -ENOMEM;
    memset(table, 0, table_bytes);
    auto* host = reinterpret_cast<uint64_t(*)[kFields]>(table);
    auto* sharing = reinterpret_cast<uint32_t*>(table + sizeof(uint64_t) * kFields * rows);
    uint32_t* rank = sharing + rows;
    int fields = 0;
    for_each_line(text, [&](const char* line, size_t) {
        uint32_t cpu;
        size_t name = strcspn(line, " ");
        if (numbered(line, name, "cpu", &cpu) && cpu < rows) {
            const char* p = line + name;
            int f = 0;
            while (f < kFields && *p == ' ') {
                ++p;
                uint64_t v = 0;
                while (*p >= '0' && *p <= '9')
                    v = v * 10 + static_cast<uint64_t>(*p++ - '0');
                host[cpu][f++] = v;
            }
            fields = f > fields ? f : fields;
        }
    });
    for (uint32_t v = 0; v < n; ++v)
        rank[v] = sharing[host_cpu_of(v)]++;
    auto share = [&](uint32_t v, int f) {
        uint32_t h = host_cpu_of(v);
        uint64_t total = host[h][f];
        return total / sharing[h] + (rank[v] < total % sharing[h] ? 1 : 0);
    };
    bool done_cpus = false;
    for_each_line(text, [&](const char* line, size_t len_line) {
        if (!starts_with(line, "cpu")) {
            out.add(line, len_line).add("\n");
            return;
        }
        if (done_cpus)
            return;
        out.add("cpu ");
        for (int f = 0; f < fields; ++f) {
            uint64_t sum = 0;
            for (uint32_t v = 0; v < n; ++v)
                sum += share(v, f);
            out.add(" ").unum(sum);
        }
        out.add("\n");
        for (uint32_t v = 0; v < n; ++v) {
            out.add("cpu").unum(v);
            for (int f = 0; f < fields; ++f)
                out.add(" ").unum(share(v, f));
            out.add("\n");
        }
        done_cpus = true;
    });
    return 0;
}

/* /proc/cpuinfo: one block per vCPU, its host CPU's block with the numbering and shape of the
 * machine (libos_topology.h): processor = v; physical id and core id the model's; siblings = the
 * vCPUs of its package; cpu cores = the cores of its package; apicid and initial apicid in the x86
 * encoding of its place. */
long write_cpuinfo(Caller caller, Out& out) {
    MappedBuffer buf(16 << 20);
    if (!buf.data)
        return -ENOMEM;
    long len = caller.read_file("/proc/cpuinfo", buf.data, buf.size);
    if (len < 0)
        return len;
#if defined(__aarch64__)
    if (!cpuinfo_is_arm64(buf.data))
        return write_cpuinfo_arm64(out);
#endif
    /* Where each host processor's block starts and how long it is. */
    MappedBuffer index(sizeof(uint32_t) * 2 * PAL_MAX_CPUS);
    if (!index.data)
        return -ENOMEM;
    auto* start = reinterpret_cast<uint32_t*>(index.data);
    uint32_t* size = start + PAL_MAX_CPUS;
    bool have_any = false;
    for (const char* block = buf.data; *block;) {
        const char* end = strstr(block, "\n\n");
        size_t n = end ? static_cast<size_t>(end - block) + 1 : strlen(block);
        uint64_t processor = block_number(block, n, "processor", PAL_MAX_CPUS);
        if (processor < PAL_MAX_CPUS) {
            start[processor] = static_cast<uint32_t>(block - buf.data);
            size[processor] = static_cast<uint32_t>(n);
            have_any = true;
        }
        block += n;
        while (*block == '\n')
            ++block;
    }
    if (!have_any)
        return -EIO;
    const uint32_t n = vcpu_count();
    uint32_t package_first = UINT32_MAX, siblings = 0, cores = 0; /* of the package of the vCPU before */
    for (uint32_t v = 0; v < n; ++v) {
        uint32_t h = host_cpu_of(v);
        if (!size[h])
            continue;
        const VcpuPlace& place = vcpu_place(v);
        CpuBits package;
        vcpu_siblings(v, SiblingSet::kPackage, &package);
        uint32_t first = 0;
        while (first / 64 < kMaskWords && !package.words[first / 64])
            first += 64;
        first += first / 64 < kMaskWords ? static_cast<uint32_t>(__builtin_ctzll(package.words[first / 64])) : 0;
        if (first != package_first) {
            /* A new package (its vCPUs need not be consecutive in the host layout): count again. */
            package_first = first;
            siblings = package.count();
            cores = 0;
            for (uint32_t w = 0; w < kMaskWords; ++w)
                for (uint64_t bits = package.words[w]; bits; bits &= bits - 1) {
                    uint32_t u = w * 64 + static_cast<uint32_t>(__builtin_ctzll(bits));
                    cores += vcpu_place(u).thread == 0;
                }
        }
        const char* block = buf.data + start[h];
        const uint32_t apic = vcpu_apic_id(v);
        for (const char* line = block; line < block + size[h];) {
            size_t l = strcspn(line, "\n");
            const char* colon = static_cast<const char*>(memchr(line, ':', l));
            size_t key = colon ? static_cast<size_t>(colon - line) + 1 : 0;
            auto is = [&](const char* k) { return starts_with(line, k) && (line[strlen(k)] == '\t' || line[strlen(k)] == ' '); };
            if (colon && is("processor"))
                out.add(line, key).add(" ").unum(v).add("\n");
            else if (colon && is("physical id"))
                out.add(line, key).add(" ").unum(place.package).add("\n");
            else if (colon && is("siblings"))
                out.add(line, key).add(" ").unum(siblings).add("\n");
            else if (colon && is("core id"))
                out.add(line, key).add(" ").unum(place.core).add("\n");
            else if (colon && is("cpu cores"))
                out.add(line, key).add(" ").unum(cores).add("\n");
            else if (colon && (is("apicid") || is("initial apicid")))
                out.add(line, key).add(" ").unum(apic).add("\n");
            else
                out.add(line, l).add("\n");
            line += l + 1;
        }
        out.add("\n");
    }
    return 0;
}

}  // namespace libos
