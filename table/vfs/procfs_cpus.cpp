/* The /proc files that name CPUs one by one, on the machine (vfs_internal.h): a task's stat (field
 * 39, the CPU it last ran on), the per-CPU columns of /proc/interrupts and /proc/softirqs, the per-CPU
 * rows of /proc/net/softnet_stat, and the interrupts' CPU masks under /proc/irq. Each is the host's
 * file with its CPUs renumbered into vCPUs: a host CPU's counts are shared among the vCPUs on it, as
 * /proc/stat's times are (procfs.cpp), and a host set becomes the vCPUs whose host CPU is in it. */
#include <errno.h>
#include <string.h>

#include "libos/libos_current_cpu.h"
#include "libos/libos_machine.h"
#include "libos/libos_threads.h"
#include "vfs/vfs_internal.h"

namespace libos {
namespace {

size_t component_length(const char* s) {
    const char* slash = strchr(s, '/');
    return slash ? static_cast<size_t>(slash - s) : strlen(s);
}

bool copy_path(char* out, const char* a, const char* b = "") {
    size_t la = strlen(a), lb = strlen(b);
    if (la + lb + 1 > kVfsPathMax)
        return false;
    memcpy(out, a, la);
    memcpy(out + la, b, lb + 1);
    return true;
}

bool parse_id(const char* s, size_t n, pid_t* id) {
    char buf[16];
    uint32_t v;
    if (n == 0 || n >= sizeof(buf) - 1 || s[0] == '0')
        return false;
    buf[0] = 'x';
    memcpy(buf + 1, s, n);
    if (!numbered(buf, n + 1, "x", &v) || v > 0x3fffffff)
        return false;
    *id = static_cast<pid_t>(v);
    return true;
}

/* "<pid>/stat", "<pid>/task/<tid>/stat" and the same with "/net/softnet_stat": the thread (the
 * process's main thread for "<pid>/...") and what follows it, or false. */
bool split_task(const char* rest, pid_t* tid, const char** leaf) {
    size_t n = component_length(rest);
    pid_t pid;
    if (!parse_id(rest, n, &pid))
        return false;
    const char* after = rest + n;
    *tid = pid;
    if (starts_with(after, "/task/")) {
        const char* t = after + 6;
        size_t m = component_length(t);
        if (!parse_id(t, m, tid))
            return false;
        after = t + m;
    }
    *leaf = after;
    return true;
}

/* Whether lexical `rest` (after "/proc/<x>" or "/proc/<x>/task/<y>") ends as a task's file of ours. */
bool task_ending(const char* rest) {
    return strcmp(rest, "/stat") == 0 || strcmp(rest, "/net/softnet_stat") == 0;
}

/* ---- numbers --------------------------------------------------------------------------------- */

/* How many vCPUs share each host CPU, and each vCPU's rank among them: a host count c on host CPU h
 * becomes c / sharing[h] per vCPU, the remainder going to the first ones, so totals add up. */
struct Sharing {
    /* Scratch memory sized for the host CPUs the machine uses and its vCPUs (a slab for any machine
     * of up to a few thousand), cleared where it counts. */
    Sharing() : buf(sizeof(uint32_t) * (host_rows() + vcpu_count())) {
        if (!buf.data())
            return;
        const uint32_t rows = host_rows();
        sharing = buf.at<uint32_t>();
        rank = sharing + rows;
        memset(sharing, 0, sizeof(uint32_t) * rows);
        for (uint32_t v = 0; v < vcpu_count(); ++v)
            rank[v] = sharing[host_cpu_of(v)]++;
    }
    static uint32_t host_rows() {
        uint32_t rows = 0;
        for (uint32_t v = 0; v < vcpu_count(); ++v)
            rows = host_cpu_of(v) + 1u > rows ? host_cpu_of(v) + 1u : rows;
        return rows;
    }
    /* A host CPU of one vCPU (a one-to-one map) needs no division, and a count that fits 32 bits
     * a cheaper one: a file of many counts per vCPU (/proc/interrupts) makes hundreds. */
    uint64_t share(uint32_t v, uint64_t total) const {
        const uint32_t s = sharing[host_cpu_of(v)];
        if (s == 1)
            return total;
        if (total <= UINT32_MAX) {
            const uint32_t t = static_cast<uint32_t>(total);
            return t / s + (rank[v] < t % s ? 1 : 0);
        }
        return total / s + (rank[v] < total % s ? 1 : 0);
    }
    Scratch buf;
    uint32_t* sharing = nullptr;
    uint32_t* rank = nullptr;
};

/* A host file read whole: into a slab of scratch memory when it fits (no mapping and no page faults,
 * which cost more than the host's own read of a small file), else into a mapping of up to `most`
 * bytes. */
class HostText {
public:
    HostText(Caller caller, const char* path, size_t most) : small_(Scratch::kSlabBytes), big_(0) {
        if (small_.data()) {
            len_ = read_host_kept(caller, path, small_.data(), small_.size());
            data_ = small_.data();
            if (len_ < 0 || len_ < static_cast<long>(small_.size()) - 1)
                return;
        }
        data_ = nullptr;
        len_ = big_.map(most) ? read_host_kept(caller, path, big_.data, big_.size) : -ENOMEM;
        if (len_ >= 0)
            data_ = big_.data;
    }
    const char* data() const { return data_; }
    long length() const { return len_; }

private:
    Scratch small_;
    MappedBuffer big_;
    const char* data_ = nullptr;
    long len_ = -ENOMEM;
};

/* A decimal right-aligned in `width` columns, as printf's %<width>u. */
void put_padded(Out& out, uint64_t value, size_t width) {
    char digits[24];
    size_t n = format_decimal(digits, value);
    for (size_t i = n; i < width; ++i)
        out.ch(' ');
    out.add(digits, n);
}

/* %08x */
void put_hex8(Out& out, uint64_t value) {
    static const char hex[] = "0123456789abcdef";
    char digits[17];
    size_t n = 0;
    do {
        digits[16 - n++] = hex[value & 0xf];
        value >>= 4;
    } while (value);
    for (; n < 8; ++n)
        digits[16 - n] = '0';
    out.add(digits + 17 - n, n);
}

const char* skip_spaces(const char* p) {
    while (*p == ' ' || *p == '\t')
        ++p;
    return p;
}

/* ---- the files ------------------------------------------------------------------------------- */

/* /proc/<pid>[/task/<tid>]/stat: field 39 is the CPU the task last ran on. The calling thread's is
 * the vCPU it runs on now (sched_getcpu's answer); another thread's, the vCPU of its mask on the host
 * CPU the host reports (the first vCPU on that host CPU when the mask has none). */
long write_task_stat(Caller caller, const VfsPath& path, Out& out) {
    struct Work {
        char text[4096];
        CpuBits mask;
    };
    ScratchOf<Work> work;
    if (!work)
        return -ENOMEM;
    char* text = work->text;
    long len = read_host_kept(caller, path.real, text, sizeof(work->text));
    if (len < 0)
        return len;
    /* The command name may hold spaces and parentheses: the fields start after the last ')'. */
    const char* close = strrchr(text, ')');
    const char* field = close ? close + 1 : nullptr;
    for (int f = 3; field && f < 39; ++f) /* from the space before field 3 to the one before 39 */
        field = strchr(field + 1, ' ');
    if (!field) {
        out.add(text, static_cast<size_t>(len));
        return 0;
    }
    ++field; /* field 39 */
    unsigned host = 0;
    const char* end = field;
    while (*end >= '0' && *end <= '9')
        host = host * 10 + static_cast<unsigned>(*end++ - '0');
    unsigned vcpu;
    if (caller.is_self(path.tid)) {
        vcpu = current_vcpu_fast();
    } else {
        ThreadSlot* slot = find_slot(path.tid);
        CpuBits& mask = work->mask;
        vcpu = slot && read_mask(slot, path.tid, &mask) ? vcpu_on_host(mask.words, host) : vcpu_on_host(nullptr, host);
    }
    out.add(text, static_cast<size_t>(field - text)).unum(vcpu).add(end);
    return 0;
}

/* /proc/interrupts and /proc/softirqs: a header of CPU<k> columns (the host's online or possible
 * CPUs), then per line a label, a count per column and a description. Written with a column per
 * vCPU, CPU0..CPU(n-1), each the vCPU's share of its host CPU's count. Lines without a count per
 * column (ERR:, MIS:) are the host's. */
long write_interrupts(Caller caller, const VfsPath& path, Out& out) {
    HostText buf(caller, path.real, 1 << 22);
    long len = buf.length();
    if (len < 0)
        return len;
    Sharing sharing;
    const uint32_t n = vcpu_count();
    const char* line = buf.data();
    size_t header = strcspn(line, "\n");
    uint32_t columns = 0;
    const char* first = strstr(line, "CPU");
    if (!first || static_cast<size_t>(first - line) > header) {
        out.add(buf.data(), static_cast<size_t>(len));
        return 0;
    }
    /* The header's columns first, to size the tables: column_of[h], the host's column of host CPU h
     * + 1 (0: none), for the host CPUs the machine uses; counts: one line's, per column. */
    uint32_t header_columns = 0;
    for (const char* p = first; p < line + header; ++header_columns) {
        p = skip_spaces(p);
        p += strcspn(p, " \n");
    }
    const uint32_t host_rows = Sharing::host_rows();
    Scratch tables(sizeof(uint64_t) * header_columns + sizeof(uint32_t) * host_rows);
    if (!sharing.sharing || !tables.data())
        return -ENOMEM;
    auto* counts = tables.at<uint64_t>();
    auto* column_of = reinterpret_cast<uint32_t*>(counts + header_columns);
    memset(column_of, 0, sizeof(uint32_t) * host_rows);
    for (const char* p = first; p < line + header;) {
        p = skip_spaces(p);
        size_t k = strcspn(p, " \n");
        uint32_t host;
        if (k && columns < header_columns && numbered(p, k, "CPU", &host)) {
            ++columns;
            if (host < host_rows)
                column_of[host] = columns;
        }
        p += k;
    }
    out.add(line, static_cast<size_t>(first - line));
    for (uint32_t v = 0; v < n; ++v) {
        char number[16];
        size_t k = format_decimal(number, v);
        out.add("CPU").add(number, k);
        for (size_t i = k; i < 8; ++i)
            out.ch(' ');
    }
    out.add("\n");
    for (line += header; *line == '\n';) {
        ++line;
        size_t l = strcspn(line, "\n");
        if (l == 0)
            break;
        const char* colon = static_cast<const char*>(memchr(line, ':', l));
        const char* name = skip_spaces(line);
        uint32_t found = 0;
        const char* after = colon ? colon + 1 : nullptr;
        while (after && found < columns) {
            const char* p = skip_spaces(after);
            if (*p < '0' || *p > '9')
                break;
            uint64_t c = 0;
            while (*p >= '0' && *p <= '9')
                c = c * 10 + static_cast<uint64_t>(*p++ - '0');
            counts[found++] = c;
            after = p;
        }
        const bool per_cpu = colon && found == columns && columns > 0 && !starts_with(name, "ERR:") &&
                             !starts_with(name, "MIS:");
        if (!per_cpu) {
            out.add(line, l).add("\n");
        } else {
            out.add(line, static_cast<size_t>(colon + 1 - line));
            for (uint32_t v = 0; v < n; ++v) {
                uint32_t column = column_of[host_cpu_of(v)];
                out.ch(' ');
                put_padded(out, column ? sharing.share(v, counts[column - 1]) : 0, 10);
            }
            out.add(after, static_cast<size_t>(line + l - after)).add("\n");
        }
        line += l;
    }
    return 0;
}

/* /proc/net/softnet_stat: a row of %08x counters per online CPU; since Linux 4.18 the 13th is the
 * CPU's number (rows skip offline CPUs). A row per vCPU: its share of its host CPU's counters, and
 * its own number. */
long write_softnet(Caller caller, const VfsPath& path, Out& out) {
    HostText buf(caller, path.real, 1 << 21);
    long len = buf.length();
    if (len < 0)
        return len;
    constexpr uint32_t kFields = 24, kCpuField = 12;
    Sharing sharing;
    /* A row per host CPU the machine uses (the others are read and dropped). */
    const uint32_t host_rows = Sharing::host_rows();
    Scratch rows(sizeof(uint64_t) * kFields * host_rows);
    if (!sharing.sharing || !rows.data())
        return -ENOMEM;
    auto* row = rows.at<uint64_t[kFields]>();
    memset(row, 0, sizeof(uint64_t) * kFields * host_rows);
    uint32_t fields = 0, index = 0;
    for (const char* line = buf.data(); *line; ++index) {
        size_t l = strcspn(line, "\n");
        uint64_t values[kFields] = {};
        uint32_t f = 0;
        for (const char* p = line; p < line + l && f < kFields;) {
            p = skip_spaces(p);
            if (p >= line + l)
                break;
            uint64_t v = 0;
            for (; p < line + l && *p != ' '; ++p) {
                char c = *p;
                v = v * 16 + static_cast<uint64_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
            }
            values[f++] = v;
        }
        uint64_t host = f > kCpuField ? values[kCpuField] : index;
        if (host < host_rows)
            memcpy(row[host], values, sizeof(values));
        fields = f > fields ? f : fields;
        line += l;
        if (*line == '\n')
            ++line;
    }
    for (uint32_t v = 0; v < vcpu_count(); ++v) {
        const uint64_t* host_row = row[host_cpu_of(v)];
        for (uint32_t f = 0; f < fields; ++f) {
            if (f)
                out.ch(' ');
            put_hex8(out, f == kCpuField ? v : sharing.share(v, host_row[f]));
        }
        out.add("\n");
    }
    return 0;
}

/* The interrupts' masks and lists: the host set, as the vCPUs on it. */
long write_irq_set(Caller caller, const VfsPath& path, Out& out) {
    struct Work {
        char text[8192];
        CpuBits host, set;
    };
    ScratchOf<Work> work;
    if (!work)
        return -ENOMEM;
    char* text = work->text;
    const bool from_list = path.file == VfsFile::IrqList || path.source[0] != '\0';
    long len = caller.read_file(from_list ? path.source : path.real, text, sizeof(work->text));
    if (len < 0)
        return len;
    CpuBits &host = work->host, &set = work->set;
    if (!(from_list ? parse_cpu_list(text, &host) : parse_cpu_mask(text, &host)))
        return -EIO;
    to_virtual(host, &set);
    if (path.file == VfsFile::IrqList)
        put_list(out, set);
    else
        put_mask(out, set, vcpu_count());
    return 0;
}

}  // namespace

bool parse_cpu_mask(const char* text, CpuBits* out) {
    memset(out, 0, sizeof(*out));
    size_t n = strcspn(text, "\n");
    uint32_t bit = 0;
    for (size_t i = n; i-- > 0;) {
        char c = text[i];
        if (c == ',')
            continue;
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = static_cast<uint32_t>(c - '0');
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = static_cast<uint32_t>((c | 0x20) - 'a' + 10);
        else
            return false;
        for (uint32_t b = 0; b < 4; ++b, ++bit)
            if (d & (1u << b)) {
                if (bit >= kMaxVcpus)
                    return false;
                out->add(bit);
            }
    }
    return true;
}

bool proc_cpus_may_name(const char* rest) {
    if (strcmp(rest, "interrupts") == 0 || strcmp(rest, "softirqs") == 0 || starts_with(rest, "irq/") ||
        strcmp(rest, "net/softnet_stat") == 0)
        return true;
    const char* after = rest + component_length(rest);
    if (task_ending(after))
        return true;
    if (!starts_with(after, "/task/"))
        return false;
    const char* task = after + 6;
    return task_ending(task + component_length(task));
}

bool classify_proc_cpus(const char* rest, VfsPath* out) {
    if (strcmp(rest, "interrupts") == 0 || strcmp(rest, "softirqs") == 0) {
        out->kind = VfsKind::Generated;
        out->file = rest[0] == 'i' ? VfsFile::Interrupts : VfsFile::Softirqs;
        return copy_path(out->real, out->virt);
    }
    if (starts_with(rest, "irq/")) {
        const char* name = rest + 4;
        bool mask;
        if (strcmp(name, "default_smp_affinity") == 0) {
            mask = true;
        } else {
            size_t n = component_length(name);
            uint32_t irq;
            char numbered_name[16] = "x";
            if (n == 0 || n >= sizeof(numbered_name) - 1)
                return false;
            memcpy(numbered_name + 1, name, n);
            if (!numbered(numbered_name, n + 1, "x", &irq) || name[n] != '/')
                return false;
            name += n + 1;
            const bool list = strcmp(name, "smp_affinity_list") == 0 || strcmp(name, "effective_affinity_list") == 0;
            mask = strcmp(name, "smp_affinity") == 0 || strcmp(name, "effective_affinity") == 0 ||
                   strcmp(name, "affinity_hint") == 0;
            if (!list && !mask)
                return false;
        }
        out->kind = VfsKind::Generated;
        out->file = mask ? VfsFile::IrqMask : VfsFile::IrqList;
        if (!copy_path(out->real, out->virt))
            return false;
        /* A mask is made from its list twin where it has one. */
        if (!mask)
            return copy_path(out->source, out->real);
        if (ends_with(name, "_affinity") && strcmp(name, "default_smp_affinity") != 0)
            return copy_path(out->source, out->real, "_list");
        return true;
    }
    pid_t tid;
    const char* leaf;
    if (!split_task(rest, &tid, &leaf) || !task_ending(leaf))
        return false;
    out->kind = VfsKind::Generated;
    out->file = leaf[1] == 's' ? VfsFile::TaskStat : VfsFile::SoftnetStat;
    out->tid = tid;
    return copy_path(out->real, out->virt) && copy_path(out->source, out->virt);
}

long write_proc_cpus(Caller caller, const VfsPath& path, Out& out) {
    switch (path.file) {
        case VfsFile::TaskStat:
            return write_task_stat(caller, path, out);
        case VfsFile::Interrupts:
        case VfsFile::Softirqs:
            return write_interrupts(caller, path, out);
        case VfsFile::SoftnetStat:
            return write_softnet(caller, path, out);
        case VfsFile::IrqMask:
        case VfsFile::IrqList:
            return write_irq_set(caller, path, out);
        default:
            return -ENOENT;
    }
}

}  // namespace libos
