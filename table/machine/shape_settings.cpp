/* Reading the shape's settings, LIBOS_TOPOLOGY / --topology and LIBOS_NUMA / --numa
 * (libos_topology.h). Shared by the launcher and the shim: no allocation, nothing of libc but string
 * helpers. */
#include <string.h>

#include "libos/libos_sections.h"
#include "libos/libos_text.h"
#include "libos/libos_topology.h"

namespace libos {
namespace {

constexpr const char* kTopologyAllowed =
    "expected flat, host, or comma-separated KEY=N with the keys sockets, dies, clusters, cores and threads "
    "(as in sockets=2,cores=4,threads=2)";
constexpr const char* kNumaAllowed =
    "expected a number of NUMA nodes, or one vCPU list per node separated by ':' (as in 0-5:6-7)";

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* A decimal number of at most 5 digits, without a leading zero; advances *s past it. */
bool read_small(const char** s, const char* end, uint32_t* value) {
    const char* p = *s;
    uint32_t v = 0;
    int digits = 0;
    while (p < end && is_digit(*p)) {
        if (++digits > 5 || (digits == 2 && v == 0))
            return false;
        v = v * 10 + static_cast<uint32_t>(*p++ - '0');
    }
    if (!digits)
        return false;
    *s = p;
    *value = v;
    return true;
}

struct Key {
    const char* name;
    uint32_t ShapeSpec::*field;
};
constexpr Key kKeys[] = {{"sockets", &ShapeSpec::sockets},
                         {"dies", &ShapeSpec::dies},
                         {"clusters", &ShapeSpec::clusters},
                         {"cores", &ShapeSpec::cores},
                         {"threads", &ShapeSpec::threads}};

uint32_t or_one(uint32_t v) {
    return v ? v : 1;
}

}  // namespace

LIBOS_STARTUP bool parse_topology(const char* setting, const char* text, ShapeSpec* out, ConfigError* err) {
    memset(out, 0, sizeof(*out));
    out->kind = ShapeKind::kDefault;
    if (!text || !*text)
        return true;
    if (strcmp(text, "flat") == 0 || strcmp(text, "host") == 0) {
        out->kind = text[0] == 'f' ? ShapeKind::kFlat : ShapeKind::kHost;
        return true;
    }
    out->kind = ShapeKind::kExplicit;
    for (const char* item = text;;) {
        const char* end = strchr(item, ',');
        if (!end)
            end = item + strlen(item);
        const size_t length = static_cast<size_t>(end - item);
        const char* eq = static_cast<const char*>(memchr(item, '=', length));
        const Key* key = nullptr;
        for (const Key& k : kKeys)
            if (eq && strlen(k.name) == static_cast<size_t>(eq - item) && strncmp(item, k.name, eq - item) == 0)
                key = &k;
        if (!key) {
            config_error_in(err, setting, item, eq ? static_cast<size_t>(eq - item) : length, text,
                            length == 0 ? "an empty item" : kTopologyAllowed);
            return false;
        }
        const char* p = eq + 1;
        uint32_t value = 0;
        if (!read_small(&p, end, &value) || p != end || value == 0 || value > kMaxVcpus) {
            config_error_in(err, setting, item, length, text,
                            value == 0 && p == end && p > eq + 1
                                ? "a count is at least 1"
                                : "expected KEY=N with N a whole number from 1 to 8192");
            return false;
        }
        if (out->*key->field) {
            config_error_in(err, setting, item, length, text, "each key may be given once");
            return false;
        }
        out->*key->field = value;
        if (*end == '\0')
            return true;
        item = end + 1;
    }
}

uint32_t topology_vcpus(const ShapeSpec& spec) {
    if (spec.kind != ShapeKind::kExplicit || !spec.sockets || !spec.cores)
        return 0;
    uint64_t product = uint64_t{spec.sockets} * or_one(spec.dies) * or_one(spec.clusters) * spec.cores *
                       or_one(spec.threads);
    return product <= kMaxVcpus ? static_cast<uint32_t>(product) : kMaxVcpus + 1;
}

LIBOS_STARTUP bool resolve_topology(const char* setting, const char* text, uint32_t n, bool map_repeats, ShapeSpec* spec,
                      ConfigError* err) {
    if (spec->kind == ShapeKind::kDefault)
        spec->kind = map_repeats ? ShapeKind::kFlat : ShapeKind::kHost;
    if (spec->kind == ShapeKind::kFlat) {
        *spec = ShapeSpec{ShapeKind::kFlat, 1, 1, 1, n, 1};
        return true;
    }
    if (spec->kind == ShapeKind::kHost)
        return true;
    spec->dies = or_one(spec->dies);
    spec->clusters = or_one(spec->clusters);
    spec->threads = or_one(spec->threads);
    const uint64_t inner = uint64_t{spec->dies} * spec->clusters * spec->threads;
    if (!spec->sockets && !spec->cores)
        spec->sockets = 1;
    if (!spec->cores && n % (inner * spec->sockets) == 0)
        spec->cores = static_cast<uint32_t>(n / (inner * spec->sockets));
    else if (!spec->sockets && n % (inner * spec->cores) == 0)
        spec->sockets = static_cast<uint32_t>(n / (inner * spec->cores));
    const uint64_t product = inner * spec->sockets * spec->cores;
    if (spec->sockets && spec->cores && product == n)
        return true;
    char why[160];
    TextBuilder t(why, sizeof(why));
    if (spec->sockets && spec->cores)
        t.add("sockets x dies x clusters x cores x threads is ").unum(product).add(", but the machine has ");
    else
        t.add("no whole number of ").add(spec->cores ? "sockets" : "cores").add(" makes ");
    t.unum(n).add(" vCPUs");
    config_error(err, setting, text, why);
    return false;
}

LIBOS_STARTUP bool parse_numa(const char* setting, const char* text, uint32_t n, uint32_t* nodes, uint16_t* node_of,
                ConfigError* err) {
    *nodes = 0;
    if (!text || !*text)
        return true;
    const char* p = text;
    uint32_t count;
    if (read_small(&p, p + strlen(p), &count) && *p == '\0') {
        if (count == 0 || count > n) {
            char why[96];
            TextBuilder(why, sizeof(why)).add(count ? "more nodes than the machine's " : "a machine has at least 1 node, at most ").unum(n).add(" vCPUs");
            config_error(err, setting, text, why);
            return false;
        }
        *nodes = count;
        return true;
    }
    /* Lists: node k holds the vCPUs of the k-th list. 0xffff marks a vCPU no list has named yet. */
    for (uint32_t v = 0; v < n; ++v)
        node_of[v] = 0xffff;
    uint32_t node = 0;
    for (const char* list = text;;) {
        const char* end = strchr(list, ':');
        if (!end)
            end = list + strlen(list);
        const size_t length = static_cast<size_t>(end - list);
        if (length == 0) {
            config_error_in(err, setting, list, 0, text, "a node without vCPUs");
            return false;
        }
        for (const char* q = list; q < end;) {
            const char* item = q;
            uint32_t first, last;
            if (!read_small(&q, end, &first)) {
                config_error_in(err, setting, list, length, text, kNumaAllowed);
                return false;
            }
            last = first;
            if (q < end && *q == '-' && (++q, !read_small(&q, end, &last))) {
                config_error_in(err, setting, list, length, text, kNumaAllowed);
                return false;
            }
            if ((q < end && *q != ',') || (q < end && q + 1 == end) || last < first) {
                config_error_in(err, setting, item, static_cast<size_t>(q - item) + (q < end), text,
                                last < first ? "a range runs upwards" : kNumaAllowed);
                return false;
            }
            if (q < end)
                ++q;
            if (last >= n || node >= n) {
                char why[64];
                TextBuilder(why, sizeof(why)).add("the machine's vCPUs are 0-").unum(n - 1);
                config_error_in(err, setting, item, static_cast<size_t>(q - item), text, why);
                return false;
            }
            for (uint32_t v = first; v <= last; ++v) {
                if (node_of[v] != 0xffff) {
                    char why[64];
                    TextBuilder(why, sizeof(why)).add("vCPU ").unum(v).add(" is in two nodes");
                    config_error_in(err, setting, item, static_cast<size_t>(q - item), text, why);
                    return false;
                }
                node_of[v] = static_cast<uint16_t>(node);
            }
        }
        ++node;
        if (*end == '\0')
            break;
        list = end + 1;
    }
    for (uint32_t v = 0; v < n; ++v) {
        if (node_of[v] == 0xffff) {
            char why[64];
            TextBuilder(why, sizeof(why)).add("vCPU ").unum(v).add(" is in no node");
            config_error(err, setting, text, why);
            return false;
        }
    }
    *nodes = node;
    return true;
}

LIBOS_STARTUP bool count_from_shape(const char* setting, const char* text, const char* numa_setting, const char* numa_text,
                      uint32_t* n, ConfigError* err) {
    *n = 0;
    ShapeSpec spec;
    if (!parse_topology(setting, text, &spec, err))
        return false;
    if (spec.kind == ShapeKind::kDefault) {
        if (numa_text && *numa_text) {
            config_error(err, numa_setting, numa_text,
                         "NUMA nodes need a machine: give a count, a map or a topology of sockets and cores");
            return false;
        }
        return true;
    }
    *n = topology_vcpus(spec);
    if (*n == 0 || *n > kMaxVcpus) {
        config_error(err, setting, text,
                     *n ? "the shape has more than 8192 vCPUs"
                        : "without a count or a map, the shape gives the number of vCPUs: name sockets and cores");
        return false;
    }
    return true;
}

LIBOS_STARTUP bool check_shape(const char* topology_setting, const char* topology_text, const char* numa_setting,
                 const char* numa_text, const CpuMap& map, ShapeSpec* spec, uint32_t* nodes, uint16_t* node_of,
                 ConfigError* err) {
    /* Does the map put two vCPUs on one host CPU? */
    bool repeats = false;
    CpuBits seen;
    memset(&seen, 0, sizeof(seen));
    for (uint32_t v = 0; v < map.count && !repeats; ++v) {
        repeats = seen.has(map.host_of[v]);
        seen.add(map.host_of[v]);
    }
    return parse_topology(topology_setting, topology_text, spec, err) &&
           resolve_topology(topology_setting, topology_text, map.count, repeats, spec, err) &&
           parse_numa(numa_setting, numa_text, map.count, nodes, node_of, err);
}

}  // namespace libos
