/* The virtual CPU files (libos_vfs.h): classification, contents, directory listings. */
#include "libos/libos_vfs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <atomic>

#include "libos/libos_config.h"
#include "libos/libos_env.h"
#include "libos/libos_init.h"
#include "libos/libos_machine.h"
#include "libos/libos_strict.h"
#include "libos/libos_text.h"
#include "libos/libos_threads.h"
#include "libos/libos_user.h"
#include "pal/pal.h"

namespace libos {
namespace {

constexpr char kCpuRoot[] = "/sys/devices/system/cpu";
constexpr char kNodeRoot[] = "/sys/devices/system/node";

/* ---- small string helpers ----------------------------------------------------------------- */

bool starts_with(const char* s, const char* prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "cpu12" with prefix "cpu" -> 12; false unless the rest is a canonical decimal number. */
bool numbered(const char* component, size_t length, const char* prefix, uint32_t* value) {
    size_t p = strlen(prefix);
    if (length <= p || strncmp(component, prefix, p) != 0)
        return false;
    if (component[p] == '0' && length > p + 1)
        return false;
    uint64_t v = 0;
    for (size_t i = p; i < length; ++i) {
        if (component[i] < '0' || component[i] > '9' || v > 100000000)
            return false;
        v = v * 10 + static_cast<uint64_t>(component[i] - '0');
    }
    *value = static_cast<uint32_t>(v);
    return true;
}

size_t component_length(const char* s) {
    const char* slash = strchr(s, '/');
    return slash ? static_cast<size_t>(slash - s) : strlen(s);
}

bool copy_path(char* out, const char* a, const char* b = "", const char* c = "") {
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    if (la + lb + lc + 1 > kVfsPathMax)
        return false;
    memcpy(out, a, la);
    memcpy(out + la, b, lb);
    memcpy(out + la + lb, c, lc + 1);
    return true;
}

/* Collapses "//", "/./" and "/x/.." of an absolute path. */
bool normalize(const char* path, char* out) {
    if (path[0] != '/')
        return false;
    size_t len = 0;
    out[0] = '\0';
    for (const char* p = path; *p;) {
        while (*p == '/')
            ++p;
        size_t n = component_length(p);
        if (n == 0)
            break;
        if (n == 1 && p[0] == '.') {
            /* nothing */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (len > 0 && out[len - 1] != '/')
                --len;
            if (len > 0)
                --len;
            out[len] = '\0';
        } else {
            if (len + 1 + n + 1 > kVfsPathMax)
                return false;
            out[len++] = '/';
            memcpy(out + len, p, n);
            len += n;
            out[len] = '\0';
        }
        p += n;
    }
    if (len == 0) {
        out[0] = '/';
        out[1] = '\0';
    }
    return true;
}

/* ---- host files --------------------------------------------------------------------------- */

/* A buffer of `size` bytes from mmap: large host files (/proc/cpuinfo of many CPUs) do not fit on a
 * stack, and the LibOS does not use malloc. */
struct MappedBuffer {
    explicit MappedBuffer(size_t size) : size(size) {
        void* p;
        data = PalMemoryAllocate(size, &p) == 0 ? static_cast<char*>(p) : nullptr;
    }
    ~MappedBuffer() {
        if (data)
            PalMemoryFree(data, size);
    }
    MappedBuffer(const MappedBuffer&) = delete;
    MappedBuffer& operator=(const MappedBuffer&) = delete;
    char* data;
    size_t size;
};

/* Reads a host file whole (NUL-terminated). Returns its length or -errno. */
long read_host(const char* path, char* buf, size_t size) {
    return PalReadFile(path, buf, size);
}

/* ---- output into a descriptor -------------------------------------------------------------- */

/* A generated file's content, written into its descriptor as it is built. */
using Out = FixedText<4096>;

/* A CPU list as the kernel writes it ("0-3,8\n"). */
void put_list(Out& out, const CpuBits& set) {
    out.cpu_list(set, kMaxVcpus * 6).add("\n");
}

/* A CPU mask as the kernel's %*pb writes it for nbits bits: 32-bit groups in hex, most significant
 * first, separated by commas; the first group only as wide as its bits need. */
void put_mask(Out& out, const CpuBits& set, uint32_t nbits) {
    static const char hex[] = "0123456789abcdef";
    uint32_t groups = (nbits + 31) / 32;
    for (uint32_t g = groups; g-- > 0;) {
        uint32_t word = static_cast<uint32_t>(set.words[g / 2] >> (32 * (g % 2)));
        uint32_t bits_here = (g == groups - 1 && nbits % 32) ? nbits % 32 : 32;
        uint32_t digits = (bits_here + 3) / 4;
        char chunk[9];
        for (uint32_t d = 0; d < digits; ++d)
            chunk[digits - 1 - d] = hex[(word >> (4 * d)) & 0xf];
        out.add(chunk, digits);
        if (g)
            out.add(",");
    }
    out.add("\n");
}

/* ---- the machine's shape ------------------------------------------------------------------- */

uint32_t count() {
    return vcpu_count();
}

uint16_t host_of(uint32_t v) {
    return host_cpu_of(v);
}

uint32_t node_of_host(uint32_t host) {
    return host_node_of(host);
}

void all_vcpus(CpuBits* out) {
    memset(out, 0, sizeof(*out));
    for (uint32_t v = 0; v < count(); ++v)
        out->add(v);
}

void vcpus_on_node(uint32_t node, CpuBits* out) {
    memset(out, 0, sizeof(*out));
    for (uint32_t v = 0; v < count(); ++v)
        if (node_of_host(host_of(v)) == node)
            out->add(v);
}

/* ---- classification ------------------------------------------------------------------------ */

bool is_mask_name(const char* name) {
    static const char* const kMasks[] = {"core_cpus",    "thread_siblings", "core_siblings", "package_cpus",
                                         "die_cpus",     "cluster_cpus",    "book_siblings", "drawer_siblings",
                                         "shared_cpu_map"};
    for (const char* m : kMasks)
        if (strcmp(name, m) == 0)
            return true;
    return false;
}

bool ends_with(const char* s, const char* suffix) {
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

void init_path(VfsPath* out) {
    out->kind = VfsKind::NotVirtual;
    out->file = VfsFile::None;
    out->dir = VfsDir::Plain;
    out->vcpu = -1;
    out->node = -1;
    out->tid = 0;
    out->thread_self = false;
    out->real[0] = '\0';
}

/* Everything under /sys/devices/system/cpu; `rest` follows "cpu/" (or is "" for the directory). */
bool classify_cpu(const char* rest, VfsPath* out) {
    if (*rest == '\0') {
        out->kind = VfsKind::Directory;
        out->dir = VfsDir::CpuRoot;
        return copy_path(out->real, kCpuRoot);
    }
    size_t n = component_length(rest);
    const char* after = rest + n; /* "" or "/..." */
    struct Fixed {
        const char* name;
        VfsFile file;
    };
    static const Fixed kFixed[] = {{"online", VfsFile::AllCpus},  {"possible", VfsFile::AllCpus},
                                   {"present", VfsFile::AllCpus}, {"offline", VfsFile::Offline},
                                   {"kernel_max", VfsFile::KernelMax}};
    for (const Fixed& f : kFixed) {
        if (*after == '\0' && strlen(f.name) == n && strncmp(rest, f.name, n) == 0) {
            out->kind = VfsKind::Generated;
            out->file = f.file;
            return copy_path(out->real, out->virt);
        }
    }
    uint32_t v;
    if (!numbered(rest, n, "cpu", &v))
        return false; /* cpufreq, vulnerabilities, ...: the host's */
    if (v >= count()) {
        out->kind = VfsKind::Missing;
        return true;
    }
    out->vcpu = static_cast<int32_t>(v);
    char host_dir[64] = "/sys/devices/system/cpu/cpu";
    format_decimal(host_dir + strlen(host_dir), host_of(v));
    if (*after == '\0') {
        out->kind = VfsKind::Directory;
        return copy_path(out->real, host_dir);
    }
    if (strcmp(after, "/online") == 0) {
        out->kind = VfsKind::Generated;
        out->file = VfsFile::CpuOnline;
        return copy_path(out->real, host_dir, after);
    }
    const char* name = strrchr(after, '/') + 1;
    if (starts_with(after, "/topology/") || starts_with(after, "/cache/index")) {
        if (ends_with(name, "_list")) {
            out->kind = VfsKind::Generated;
            out->file = VfsFile::CpuSetList;
            return copy_path(out->real, host_dir, after);
        }
        if (is_mask_name(name)) {
            /* Read the host's list twin: shared_cpu_map -> shared_cpu_list, core_cpus -> core_cpus_list. */
            char twin[kVfsPathMax];
            if (!copy_path(twin, host_dir, after))
                return false;
            if (ends_with(twin, "_map"))
                twin[strlen(twin) - 4] = '\0';
            out->kind = VfsKind::Generated;
            out->file = VfsFile::CpuSetMask;
            return copy_path(out->real, twin, "_list");
        }
    }
    out->kind = VfsKind::Redirect;
    return copy_path(out->real, host_dir, after);
}

/* Everything under /sys/devices/system/node; `rest` follows "node/". */
bool classify_node(const char* rest, VfsPath* out) {
    if (strcmp(rest, "has_cpu") == 0) {
        out->kind = VfsKind::Generated;
        out->file = VfsFile::NodeHasCpu;
        return copy_path(out->real, out->virt);
    }
    size_t n = component_length(rest);
    uint32_t node;
    if (!numbered(rest, n, "node", &node))
        return false;
    out->node = static_cast<int32_t>(node);
    const char* after = rest + n;
    if (*after == '\0') {
        out->kind = VfsKind::Directory;
        out->dir = VfsDir::Node;
        return copy_path(out->real, out->virt);
    }
    if (strcmp(after, "/cpulist") == 0 || strcmp(after, "/cpumap") == 0) {
        out->kind = VfsKind::Generated;
        out->file = after[4] == 'l' ? VfsFile::NodeCpuList : VfsFile::NodeCpuMap;
        return copy_path(out->real, out->virt);
    }
    size_t m = component_length(after + 1);
    uint32_t v;
    if (!numbered(after + 1, m, "cpu", &v))
        return false;
    /* nodeN/cpuV is a link to ../../cpu/cpuV: only the vCPUs on node N have one. */
    if (v >= count() || node_of_host(host_of(v)) != node) {
        out->kind = VfsKind::Missing;
        return true;
    }
    char target[kVfsPathMax];
    char number[16];
    format_decimal(number, v);
    if (!copy_path(target, "cpu/cpu", number, after + 1 + m))
        return false;
    return classify_cpu(target + 4, out);
}

bool parse_pid(const char* s, size_t n, pid_t* pid) {
    uint32_t v;
    char buf[16];
    if (n == 0 || n >= sizeof(buf) || s[0] == '0')
        return false;
    memcpy(buf + 1, s, n);
    buf[0] = 'x';
    if (!numbered(buf, n + 1, "x", &v) || v > 0x3fffffff)
        return false;
    *pid = static_cast<pid_t>(v);
    return true;
}

/* /proc/cpuinfo, /proc/stat and the status files. `rest` follows "/proc/". */
bool classify_proc(const char* rest, VfsPath* out) {
    if (strcmp(rest, "cpuinfo") == 0 || strcmp(rest, "stat") == 0) {
        out->kind = VfsKind::Generated;
        out->file = rest[0] == 'c' ? VfsFile::CpuInfo : VfsFile::Stat;
        return copy_path(out->real, out->virt);
    }
    if (!ends_with(rest, "/status"))
        return false;
    size_t n = component_length(rest);
    const char* after = rest + n;
    pid_t pid = 0;
    bool self = n == 4 && strncmp(rest, "self", 4) == 0;
    bool thread_self = n == 11 && strncmp(rest, "thread-self", 11) == 0;
    if (!self && !thread_self && !parse_pid(rest, n, &pid))
        return false;
    pid_t tid = pid;
    if (starts_with(after, "/task/") && !thread_self) {
        const char* t = after + 6;
        size_t m = component_length(t);
        if (!parse_pid(t, m, &tid) || strcmp(t + m, "/status") != 0)
            return false;
    } else if (strcmp(after, "/status") != 0) {
        return false;
    }
    out->kind = VfsKind::Generated;
    out->file = VfsFile::Status;
    if (RemoteTask* remote = remote_task()) {
        /* Strict mode's supervisor: "self" is the remote task's process, "thread-self" the remote
         * thread, and the host's file is named by number (the supervisor's own self is not it). */
        out->thread_self = false;
        if (thread_self) {
            pid = tid = remote->tid;
        } else if (self) {
            pid = remote_process();
            if (tid == 0)
                tid = pid;
        }
        out->tid = tid;
        ProcPath real(pid);
        if (tid != pid)
            real.leaf("task").number(static_cast<uint64_t>(tid));
        return copy_path(out->real, real.leaf("status").c_str());
    }
    out->thread_self = thread_self;
    /* "self" is the process: its leader, whose tid is the pid. */
    out->tid = thread_self ? 0 : (self && tid == 0) ? PalProcessGetId() : tid;
    return copy_path(out->real, out->virt);
}

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

/* ---- contents ------------------------------------------------------------------------------ */

/* The set a host CPU list names, seen on the machine: the vCPUs whose host CPU is in it. */
long translated_set(const char* host_list_path, CpuBits* out) {
    char text[8192];
    long len = read_host(host_list_path, text, sizeof(text));
    if (len < 0)
        return len;
    CpuBits host;
    if (!parse_cpu_list(text, &host))
        return -EIO;
    to_virtual(host, out);
    return 0;
}

/* The virtual mask of thread `tid` (0: the caller), whose host mask the status file lists. */
/* As sched_getaffinity of another thread: its slot, unless the host runs it elsewhere and no set of
 * the launch raced with this read (`before` was taken before the host's file was read). */
void status_mask(const VfsPath& path, ThreadSlot* slot, SlotSnapshot before, const char* host_list, CpuBits* out) {
    if (path.thread_self || path.tid == self_tid()) {
        current_mask(out);
        return;
    }
    CpuBits host;
    memset(&host, 0, sizeof(host));
    parse_cpu_list(host_list, &host);
    /* Strict mode's supervisor, for a thread of a process without the shim: what sched_getaffinity
     * answers it (libos_sched.cpp), its creator's mask, kept as its slot. */
    if (!slot && remote_task() && inherited_mask(path.tid, host, out)) {
        register_thread(path.tid, *out);
        return;
    }
    if (slot && read_mask(slot, path.tid, out)) {
        if (changed_since(slot, before))
            return;
        CpuBits expected;
        to_host(*out, &expected);
        if (memcmp(expected.words, host.words, sizeof(host.words)) == 0)
            return;
    }
    to_virtual(host, out);
}

/* The host's status file with Cpus_allowed and Cpus_allowed_list for the machine. */
long write_status(const VfsPath& path, Out& out) {
    ThreadSlot* slot = path.thread_self ? nullptr : find_slot(path.tid);
    SlotSnapshot before = slot ? snapshot(slot) : SlotSnapshot{};
    char text[16384];
    long len = read_host(path.real, text, sizeof(text));
    if (len < 0)
        return len;
    const char* list_line = strstr(text, "\nCpus_allowed_list:");
    char host_list[8192] = "";
    if (list_line) {
        const char* v = list_line + strlen("\nCpus_allowed_list:");
        while (*v == ' ' || *v == '\t')
            ++v;
        size_t n = strcspn(v, "\n");
        if (n < sizeof(host_list)) {
            memcpy(host_list, v, n);
            host_list[n] = '\0';
        }
    }
    CpuBits mask;
    status_mask(path, slot, before, host_list, &mask);
    for_each_line(text, [&](const char* line, size_t n) {
        if (starts_with(line, "Cpus_allowed:")) {
            out.add("Cpus_allowed:\t");
            put_mask(out, mask, count());
        } else if (starts_with(line, "Cpus_allowed_list:")) {
            out.add("Cpus_allowed_list:\t");
            put_list(out, mask);
        } else {
            out.add(line, n).add("\n");
        }
    });
    return 0;
}

/* /proc/stat: one cpuV line per vCPU, each host CPU's times shared among the vCPUs on it (the
 * remainders to the first of them, so that the totals still add up), and the aggregate line the
 * sum of the vCPU lines. Every other line is the host's. */
long write_stat(Out& out) {
    MappedBuffer buf(1 << 20);
    if (!buf.data)
        return -ENOMEM;
    long len = read_host("/proc/stat", buf.data, buf.size);
    if (len < 0)
        return len;
    constexpr int kFields = 10;
    MappedBuffer table(sizeof(uint64_t) * kFields * PAL_MAX_CPUS);
    if (!table.data)
        return -ENOMEM;
    auto* host = reinterpret_cast<uint64_t(*)[kFields]>(table.data);
    int fields = 0;
    for_each_line(buf.data, [&](const char* line, size_t) {
        uint32_t cpu;
        size_t name = strcspn(line, " ");
        if (numbered(line, name, "cpu", &cpu) && cpu < PAL_MAX_CPUS) {
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
    uint32_t n = count();
    /* How many vCPUs share each host CPU, and each vCPU's rank among them. */
    MappedBuffer ranks(sizeof(uint32_t) * (PAL_MAX_CPUS + kMaxVcpus));
    if (!ranks.data)
        return -ENOMEM;
    auto* sharing = reinterpret_cast<uint32_t*>(ranks.data);
    uint32_t* rank = sharing + PAL_MAX_CPUS;
    for (uint32_t v = 0; v < n; ++v)
        rank[v] = sharing[host_of(v)]++;
    auto share = [&](uint32_t v, int f) {
        uint32_t h = host_of(v);
        uint64_t total = host[h][f];
        return total / sharing[h] + (rank[v] < total % sharing[h] ? 1 : 0);
    };
    bool done_cpus = false;
    for_each_line(buf.data, [&](const char* line, size_t len_line) {
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

/* /proc/cpuinfo: one block per vCPU, its host CPU's block with the numbering and topology of the
 * machine: processor = v; physical id and core id the host's; siblings = the vCPUs in the package;
 * cpu cores = the distinct cores among them; apicid and initial apicid = v. */
long write_cpuinfo(Out& out) {
    MappedBuffer buf(16 << 20);
    if (!buf.data)
        return -ENOMEM;
    long len = read_host("/proc/cpuinfo", buf.data, buf.size);
    if (len < 0)
        return len;
    /* Where each host processor's block starts and how long it is. */
    MappedBuffer index(sizeof(uint32_t) * 2 * PAL_MAX_CPUS + sizeof(uint64_t) * 2 * PAL_MAX_CPUS);
    if (!index.data)
        return -ENOMEM;
    auto* start = reinterpret_cast<uint32_t*>(index.data);
    uint32_t* size = start + PAL_MAX_CPUS;
    auto* package = reinterpret_cast<uint64_t*>(size + PAL_MAX_CPUS);
    uint64_t* core = package + PAL_MAX_CPUS;
    bool have_any = false;
    for (const char* block = buf.data; *block;) {
        const char* end = strstr(block, "\n\n");
        size_t n = end ? static_cast<size_t>(end - block) + 1 : strlen(block);
        uint64_t processor = block_number(block, n, "processor", PAL_MAX_CPUS);
        if (processor < PAL_MAX_CPUS) {
            start[processor] = static_cast<uint32_t>(block - buf.data);
            size[processor] = static_cast<uint32_t>(n);
            package[processor] = block_number(block, n, "physical id", 0);
            core[processor] = block_number(block, n, "core id", processor);
            have_any = true;
        }
        block += n;
        while (*block == '\n')
            ++block;
    }
    if (!have_any)
        return -EIO;
    uint32_t n = count();
    /* Per package (indexed by physical id, which is small): its vCPUs and its distinct cores among
     * the host CPUs the machine uses. */
    MappedBuffer counts(sizeof(uint32_t) * 2 * PAL_MAX_CPUS + PAL_MAX_CPUS);
    if (!counts.data)
        return -ENOMEM;
    auto* siblings_in = reinterpret_cast<uint32_t*>(counts.data);
    uint32_t* cores_in = siblings_in + PAL_MAX_CPUS;
    auto* used = reinterpret_cast<bool*>(cores_in + PAL_MAX_CPUS);
    auto package_index = [&](uint32_t h) { return static_cast<uint32_t>(package[h] % PAL_MAX_CPUS); };
    for (uint32_t v = 0; v < n; ++v) {
        uint32_t h = host_of(v);
        siblings_in[package_index(h)]++;
        used[h] = true;
    }
    for (uint32_t h = 0; h < PAL_MAX_CPUS; ++h) {
        if (!used[h])
            continue;
        bool first_of_core = true;
        for (uint32_t g = 0; g < h && first_of_core; ++g)
            first_of_core = !(used[g] && package[g] == package[h] && core[g] == core[h]);
        cores_in[package_index(h)] += first_of_core;
    }
    for (uint32_t v = 0; v < n; ++v) {
        uint32_t h = host_of(v);
        if (!size[h])
            continue;
        const char* block = buf.data + start[h];
        uint64_t siblings = siblings_in[package_index(h)], cores = cores_in[package_index(h)];
        for (const char* line = block; line < block + size[h];) {
            size_t l = strcspn(line, "\n");
            const char* colon = static_cast<const char*>(memchr(line, ':', l));
            size_t key = colon ? static_cast<size_t>(colon - line) + 1 : 0;
            auto is = [&](const char* k) { return starts_with(line, k) && (line[strlen(k)] == '\t' || line[strlen(k)] == ' '); };
            if (colon && is("processor"))
                out.add(line, key).add(" ").unum(v).add("\n");
            else if (colon && is("siblings"))
                out.add(line, key).add(" ").unum(siblings).add("\n");
            else if (colon && is("cpu cores"))
                out.add(line, key).add(" ").unum(cores).add("\n");
            else if (colon && (is("apicid") || is("initial apicid")))
                out.add(line, key).add(" ").unum(v).add("\n");
            else
                out.add(line, l).add("\n");
            line += l + 1;
        }
        out.add("\n");
    }
    return 0;
}

long write_content(const VfsPath& path, Out& out) {
    CpuBits set;
    switch (path.file) {
        case VfsFile::AllCpus:
            all_vcpus(&set);
            put_list(out, set);
            return 0;
        case VfsFile::Offline:
            out.add("\n");
            return 0;
        case VfsFile::KernelMax:
            out.unum(count() - 1).add("\n");
            return 0;
        case VfsFile::CpuOnline:
            out.add("1\n");
            return 0;
        case VfsFile::CpuSetList:
        case VfsFile::CpuSetMask: {
            long ret = translated_set(path.real, &set);
            if (ret < 0)
                return ret;
            if (path.file == VfsFile::CpuSetList)
                put_list(out, set);
            else
                put_mask(out, set, count());
            return 0;
        }
        case VfsFile::NodeHasCpu: {
            memset(&set, 0, sizeof(set));
            for (uint32_t v = 0; v < count(); ++v)
                set.add(node_of_host(host_of(v)));
            put_list(out, set);
            return 0;
        }
        case VfsFile::NodeCpuList:
        case VfsFile::NodeCpuMap:
            vcpus_on_node(static_cast<uint32_t>(path.node), &set);
            if (path.file == VfsFile::NodeCpuList)
                put_list(out, set);
            else
                put_mask(out, set, count());
            return 0;
        case VfsFile::CpuInfo:
            return write_cpuinfo(out);
        case VfsFile::Stat:
            return write_stat(out);
        case VfsFile::Status:
            return write_status(path, out);
        case VfsFile::None:
            break;
    }
    return -ENOENT;
}

/* ---- directory descriptors ------------------------------------------------------------------ */

struct RememberedDir {
    std::atomic<int> fd_plus_one; /* 0: free */
    uint64_t dev;
    uint64_t ino;
    char virt[kVfsPathMax];
};
constexpr int kRememberedDirs = 64;
constinit RememberedDir g_dirs[kRememberedDirs] = {};
constinit std::atomic<int> g_dir_count{0};

}  // namespace

bool vfs_active() {
    return is_virtual();
}

bool vfs_join(const char* dir, const char* relative, char* out) {
    char joined[kVfsPathMax * 2];
    size_t ld = strlen(dir), lr = strlen(relative);
    if (ld + lr + 2 > sizeof(joined))
        return false;
    memcpy(joined, dir, ld);
    joined[ld] = '/';
    memcpy(joined + ld + 1, relative, lr + 1);
    return normalize(joined, out);
}

bool vfs_classify(const char* path, VfsPath* out) {
    /* The cheap test first: almost every path a program opens is nowhere near these. */
    if (path[0] != '/' || !(starts_with(path, "/sys/") || starts_with(path, "/proc/") || strstr(path, "/.")))
        return false;
    init_path(out);
    if (!normalize(path, out->virt))
        return false;
    const char* p = out->virt;
    if (starts_with(p, kCpuRoot) && (p[sizeof(kCpuRoot) - 1] == '\0' || p[sizeof(kCpuRoot) - 1] == '/')) {
        const char* rest = p + sizeof(kCpuRoot) - 1;
        return classify_cpu(*rest ? rest + 1 : rest, out);
    }
    if (starts_with(p, kNodeRoot) && p[sizeof(kNodeRoot) - 1] == '/')
        return classify_node(p + sizeof(kNodeRoot), out);
    if (starts_with(p, "/proc/"))
        return classify_proc(p + 6, out);
    return false;
}

namespace {

/* Contents that cannot change while the machine runs (the sysfs files, /proc/cpuinfo) are generated
 * once per process and kept in a memfd (O_CLOEXEC, placed high); each open reopens it read-only, so
 * that every open still has an offset of its own. /proc/stat and the status files change, and are
 * generated at every open. A fork child shares the cache; an exec'ed program starts without one. */
struct CachedFile {
    std::atomic<int> fd_plus_one; /* 0: free; -1: being filled */
    uint64_t dev, ino;            /* the memfd, to notice if the program closed its number */
    char virt[kVfsPathMax];
};
constexpr int kCachedFiles = 64;
constexpr int kCacheFdFloor = 900; /* where the cached memfds go (PalFileMoveHigh) */
constinit CachedFile g_cache[kCachedFiles] = {};

bool cacheable(const VfsPath& path) {
    return path.file != VfsFile::Stat && path.file != VfsFile::Status;
}

/* A read-only descriptor of its own for memfd `fd`, as opening the real file gives (writes fail with
 * EBADF); -errno if /proc cannot be used. /proc/self/fd/N is a link that must be followed, so the
 * program's O_NOFOLLOW (which the real file, not a link, satisfies) is not passed on. */
long reopen_read_only(long fd, int flags) {
    return PalFileOpen(AT_FDCWD, ProcPath(0).leaf("fd").number(static_cast<uint64_t>(fd)).c_str(),
                       O_RDONLY | (flags & (O_CLOEXEC | O_NONBLOCK | O_NOCTTY | O_NOATIME)), 0);
}

/* The cached memfd of `virt` that still is what it was, or -1. */
long cached_fd(const char* virt) {
    for (CachedFile& c : g_cache) {
        int fd = c.fd_plus_one.load(std::memory_order_acquire) - 1;
        if (fd < 0 || strcmp(c.virt, virt) != 0)
            continue;
        struct stat st;
        if (PalFileStat(fd, &st) == 0 && st.st_dev == c.dev && st.st_ino == c.ino)
            return fd;
        return -1;
    }
    return -1;
}

/* Keeps memfd `fd` (already rewound) for `virt`, moved out of the program's way; it is closed when it
 * cannot be kept (the cache is full). */
void keep(const char* virt, long fd) {
    long high = strlen(virt) < kVfsPathMax ? PalFileMoveHigh(static_cast<int>(fd), kCacheFdFloor, true) : -ENAMETOOLONG;
    if (high < 0) {
        PalFileClose(static_cast<int>(fd));
        return;
    }
    struct stat st;
    if (PalFileStat(static_cast<int>(high), &st) < 0) {
        PalFileClose(static_cast<int>(high));
        return;
    }
    for (CachedFile& c : g_cache) {
        int current = c.fd_plus_one.load(std::memory_order_acquire);
        bool stale = current > 0 && strcmp(c.virt, virt) == 0; /* the program closed the old one */
        if (!(current == 0 || stale) || !c.fd_plus_one.compare_exchange_strong(current, -1))
            continue;
        /* The old descriptor's number may be the program's own file by now: only a number that
         * still is the old memfd is closed. */
        if (stale) {
            struct stat old;
            if (PalFileStat(current - 1, &old) == 0 && old.st_dev == c.dev && old.st_ino == c.ino)
                PalFileClose(current - 1);
        }
        c.dev = st.st_dev;
        c.ino = st.st_ino;
        memcpy(c.virt, virt, strlen(virt) + 1);
        c.fd_plus_one.store(static_cast<int>(high) + 1, std::memory_order_release);
        return;
    }
    PalFileClose(static_cast<int>(high));
}

}  // namespace

long vfs_open_generated(const VfsPath& path, int flags) {
    if (cacheable(path)) {
        long cached = cached_fd(path.virt);
        if (cached >= 0) {
            long fd = reopen_read_only(cached, flags);
            if (fd >= 0)
                return fd;
        }
    }
    long fd = PalMemfdCreate("libos-vcpu-file", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return fd;
    long ret;
    {
        Out out(static_cast<int>(fd));
        ret = write_content(path, out);
        out.flush();
        if (ret == 0)
            ret = out.error();
    }
    if (ret < 0) {
        PalFileClose(static_cast<int>(fd));
        return ret;
    }
    PalFileSeek(static_cast<int>(fd), 0, SEEK_SET);
    /* The content is final: no descriptor of it, the cache's included, can change it. */
    PalFileSeal(static_cast<int>(fd), F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
    long reopened = reopen_read_only(fd, flags);
    if (reopened >= 0) {
        if (cacheable(path))
            keep(path.virt, fd);
        else
            PalFileClose(static_cast<int>(fd));
        return reopened;
    }
    /* No /proc: hand out the memfd itself (sealed, so writes fail), and cache nothing. */
    if (!(flags & O_CLOEXEC))
        PalFileSetCloseOnExec(static_cast<int>(fd), false);
    return fd;
}

bool vfs_show_entry(VfsDir dir, int32_t node, const char* name) {
    (void)node;
    uint32_t v;
    if (dir == VfsDir::CpuRoot || dir == VfsDir::Node)
        return !numbered(name, strlen(name), "cpu", &v); /* the host's cpuN entries give way to the machine's */
    return true;
}

bool vfs_extra_entry(VfsDir dir, int32_t node, uint32_t index, char* name, size_t size) {
    if (size < 16)
        return false;
    if (dir == VfsDir::CpuRoot) {
        if (index >= count())
            return false;
        memcpy(name, "cpu", 3);
        format_decimal(name + 3, index);
        return true;
    }
    if (dir == VfsDir::Node) {
        uint32_t seen = 0;
        for (uint32_t v = 0; v < count(); ++v) {
            if (node_of_host(host_of(v)) != static_cast<uint32_t>(node))
                continue;
            if (seen++ == index) {
                memcpy(name, "cpu", 3);
                format_decimal(name + 3, v);
                return true;
            }
        }
    }
    return false;
}

void vfs_remember_dir(int fd, const char* virt) {
    struct stat st;
    if (PalFileStat(fd, &st) < 0 || strlen(virt) >= kVfsPathMax)
        return;
    for (int round = 0; round < 2; ++round) {
        for (RememberedDir& d : g_dirs) {
            int current = d.fd_plus_one.load(std::memory_order_acquire);
            /* Reuse this descriptor's old entry, or (second round) any free one. */
            if (current == fd + 1 || (round == 1 && current == 0)) {
                if (current == 0 && !d.fd_plus_one.compare_exchange_strong(current, -1))
                    continue;
                d.fd_plus_one.store(-1, std::memory_order_relaxed);
                d.dev = st.st_dev;
                d.ino = st.st_ino;
                memcpy(d.virt, virt, strlen(virt) + 1);
                d.fd_plus_one.store(fd + 1, std::memory_order_release);
                if (current == 0)
                    g_dir_count.fetch_add(1, std::memory_order_relaxed);
                return;
            }
        }
    }
}

bool vfs_dir_path(int fd, char* out) {
    if (g_dir_count.load(std::memory_order_relaxed) == 0 || fd < 0)
        return false;
    for (RememberedDir& d : g_dirs) {
        if (d.fd_plus_one.load(std::memory_order_acquire) != fd + 1)
            continue;
        /* The descriptor may have been closed and its number reused: the directory must be the same. */
        struct stat st;
        if (PalFileStat(fd, &st) < 0 || st.st_dev != d.dev || st.st_ino != d.ino)
            return false;
        memcpy(out, d.virt, strlen(d.virt) + 1);
        return true;
    }
    return false;
}

}  // namespace libos
