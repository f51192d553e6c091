/* Parsing and validation of the virtual CPU machine's configuration (libos_config.h). */
#include "libos/libos_config.h"

#include <string.h>

#include "libos/libos_sections.h"
#include "libos/libos_text.h"

namespace libos {
namespace {

/* How much of a token a message repeats. */
constexpr size_t kQuotedLimit = 48;

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* Reads a decimal number of at most 9 digits at *s; false if there is none or it is too long. */
bool read_number(const char** s, uint64_t* value) {
    const char* p = *s;
    uint64_t v = 0;
    int digits = 0;
    while (is_digit(*p)) {
        if (++digits > 9)
            return false;
        v = v * 10 + static_cast<uint64_t>(*p++ - '0');
    }
    if (!digits)
        return false;
    *s = p;
    *value = v;
    return true;
}

void fail_token(ConfigError* err, const char* setting, const char* token, size_t token_len, const char* whole,
                const char* why) {
    TextBuilder t(err->text, sizeof(err->text));
    t.add("libos: ").add(setting).add(": bad token '").printable(token, token_len, kQuotedLimit).add("'");
    if (whole && (token != whole || token_len != strlen(whole)))
        t.add(" in '").printable(whole, strlen(whole), kQuotedLimit).add("'");
    t.add(": ").add(why);
}

void fail_cpu(ConfigError* err, const char* setting, const char* token, size_t token_len, const char* whole,
              uint64_t cpu, const char* what, const CpuBits& set) {
    char why[256], list[4096];
    /* A long list is cut at a comma, and says so. */
    if (format_cpu_list(set, list, sizeof(list)) > 96) {
        size_t cut = 96;
        while (cut > 0 && list[cut] != ',')
            --cut;
        memcpy(list + cut, ",...", 5);
    }
    TextBuilder(why, sizeof(why)).add("host CPU ").num(cpu).add(" is not ").add(what).add(" (").add(what).add(": ")
        .add(list).add(")");
    fail_token(err, setting, token, token_len, whole, why);
}

constexpr const char* kCountAllowed = "expected a whole number of virtual CPUs from 1 to 8192";
constexpr const char* kMapAllowed =
    "expected a comma-separated list of host CPU numbers or ranges, such as 0-3 or 0,0,1,1";
constexpr const char* kStrideAllowed =
    "expected a range with a stride, A-B:STRIDE (0-7:2 is 0,2,4,6), or with groups, A-B:USED/GROUP (0-7:2/4 is "
    "0,1,4,5), each number at least 1 and USED at most GROUP";

bool parse_count(const char* setting, const char* text, uint32_t* count, ConfigError* err) {
    const char* p = text;
    uint64_t v = 0;
    if (!read_number(&p, &v) || *p != '\0') {
        fail_token(err, setting, text, strlen(text), nullptr, kCountAllowed);
        return false;
    }
    if (v == 0 || v > kMaxVcpus) {
        fail_token(err, setting, text, strlen(text), nullptr,
                   v == 0 ? "a machine needs at least 1 virtual CPU" : "at most 8192 virtual CPUs are supported");
        return false;
    }
    *count = static_cast<uint32_t>(v);
    return true;
}

bool parse_map(const char* setting, const char* text, const CpuBits& online, const CpuBits& allowed, CpuMap* out,
               ConfigError* err) {
    out->count = 0;
    const char* p = text;
    for (;;) {
        const char* token = p;
        const char* end = p;
        while (*end && *end != ',')
            ++end;
        size_t token_len = static_cast<size_t>(end - token);
        uint64_t first = 0, last = 0;
        const char* q = token;
        bool ok = read_number(&q, &first);
        last = first;
        bool range = ok && *q == '-';
        if (range) {
            ++q;
            ok = read_number(&q, &last);
        }
        /* The kernel's cpulist strides (lib/bitmap.c, bitmap_parselist): a range may end in
         * ":USED/GROUP", the first USED CPUs of every GROUP; taskset's ":STRIDE" is ":1/STRIDE". */
        uint64_t used = 1, group = 1;
        bool strided = ok && range && *q == ':';
        if (strided) {
            ++q;
            bool stride_ok = read_number(&q, &group);
            if (stride_ok && *q == '/') {
                used = group;
                ++q;
                stride_ok = read_number(&q, &group);
            }
            if (!stride_ok || q != end || used == 0 || group == 0 || used > group) {
                fail_token(err, setting, token, token_len, text, kStrideAllowed);
                return false;
            }
        }
        if (!ok || q != end) {
            fail_token(err, setting, token, token_len, text,
                       token_len == 0 ? "an entry is empty; " "expected host CPU numbers or ranges such as 0-3"
                                      : kMapAllowed);
            return false;
        }
        if (last < first) {
            fail_token(err, setting, token, token_len, text, "a range must go upwards, such as 0-3");
            return false;
        }
        for (uint64_t cpu = first; cpu <= last; cpu = (cpu - first) % group + 1 < used ? cpu + 1
                                                    : cpu - (cpu - first) % group + group) {
            if (cpu >= kMaxVcpus || !online.has(static_cast<uint32_t>(cpu))) {
                fail_cpu(err, setting, token, token_len, text, cpu, "online", online);
                return false;
            }
            if (!allowed.has(static_cast<uint32_t>(cpu))) {
                fail_cpu(err, setting, token, token_len, text, cpu, "allowed", allowed);
                return false;
            }
            if (out->count == kMaxVcpus) {
                fail_token(err, setting, token, token_len, text, "at most 8192 virtual CPUs are supported");
                return false;
            }
            out->host_of[out->count++] = static_cast<uint16_t>(cpu);
        }
        if (*end == '\0')
            break;
        p = end + 1;
    }
    return true;
}

}  // namespace

void config_error(ConfigError* err, const char* setting, const char* token, const char* why) {
    fail_token(err, setting, token, strlen(token), nullptr, why);
}

void config_error_in(ConfigError* err, const char* setting, const char* token, size_t length, const char* whole,
                     const char* why) {
    fail_token(err, setting, token, length, whole, why);
}

bool CpuBits::empty() const {
    for (uint64_t w : words)
        if (w)
            return false;
    return true;
}

uint32_t CpuBits::count() const {
    uint32_t n = 0;
    for (uint64_t w : words)
        if (w) /* most words of a mask are empty; the build's popcount is a call into libgcc */
            n += static_cast<uint32_t>(__builtin_popcountll(w));
    return n;
}

LIBOS_STARTUP bool build_cpu_map(const SettingNames& names, const char* count_text, const char* map_text, const CpuBits& online,
                   const CpuBits& allowed, const CpuBits& spread_over, CpuMap* out, ConfigError* err) {
    bool has_count = count_text && *count_text;
    bool has_map = map_text && *map_text;
    out->count = 0;
    if (!has_count && !has_map) {
        TextBuilder(err->text, sizeof(err->text)).add("libos: give ").add(names.count).add(" or ").add(names.map);
        return false;
    }
    uint32_t count = 0;
    if (has_count && !parse_count(names.count, count_text, &count, err))
        return false;
    if (has_map) {
        if (!parse_map(names.map, map_text, online, allowed, out, err))
            return false;
        if (has_count && count != out->count) {
            TextBuilder t(err->text, sizeof(err->text));
            t.add("libos: ").add(names.count).add(": bad token '").printable(count_text, strlen(count_text), kQuotedLimit)
                .add("': it disagrees with ").add(names.map).add(" '").printable(map_text, strlen(map_text), kQuotedLimit)
                .add("', which names ").num(out->count)
                .add(" virtual CPUs; give one of the two, or the same count in both");
            return false;
        }
        return true;
    }
    /* Round-robin over the launching process's CPUs that may be used: vCPU v goes to the
     * (v mod n)-th of those n CPUs. Walked a word at a time, with no list of them on the stack (this
     * runs at the start-up of every first process of a machine). */
    uint32_t nhosts = 0;
    for (uint32_t w = 0; w < kMaskWords; ++w)
        if (uint64_t usable = spread_over.words[w] & online.words[w] & allowed.words[w])
            nhosts += static_cast<uint32_t>(__builtin_popcountll(usable));
    if (nhosts == 0) {
        TextBuilder(err->text, sizeof(err->text)).add("libos: ").add(names.count)
            .add(": this process may run on no online CPU to spread the virtual CPUs over");
        return false;
    }
    out->count = count;
    uint32_t v = 0;
    for (uint32_t w = 0; w < kMaskWords && v < count; ++w) {
        uint64_t bits = spread_over.words[w] & online.words[w] & allowed.words[w];
        for (; bits && v < count; bits &= bits - 1)
            out->host_of[v++] = static_cast<uint16_t>(w * 64 + static_cast<uint32_t>(__builtin_ctzll(bits)));
    }
    for (; v < count; ++v)
        out->host_of[v] = out->host_of[v - nhosts];
    return true;
}

size_t format_cpu_list(const CpuBits& cpus, char* buf, size_t size) {
    TextBuilder t(buf, size);
    t.cpu_list(cpus);
    return t.length();
}

LIBOS_STARTUP size_t format_cpu_map(const CpuMap& map, char* buf, size_t size) {
    /* Runs of three or more consecutive host CPUs become ranges ("0-3"); shorter ones stay a list,
     * so that the common oversubscribed maps read naturally ("0,1,0,1", "0,0,1,1"). */
    TextBuilder t(buf, size);
    for (uint32_t v = 0; v < map.count;) {
        uint32_t end = v;
        while (end + 1 < map.count && map.host_of[end + 1] == map.host_of[end] + 1)
            ++end;
        if (end - v < 2)
            end = v;
        if (v)
            t.add(",");
        t.num(map.host_of[v]);
        if (end > v)
            t.add("-").num(map.host_of[end]);
        v = end + 1;
    }
    return t.length();
}

namespace {

/* Reads a CPU list at text into out; returns where it stopped (the first character that is neither
 * part of a number or range nor the comma after one), or nullptr if a number, a range or a CPU is
 * bad. */
const char* read_cpu_list(const char* text, CpuBits* out) {
    memset(out, 0, sizeof(*out));
    const char* p = text;
    while (is_digit(*p)) {
        uint64_t first = 0, last = 0;
        if (!read_number(&p, &first))
            return nullptr;
        last = first;
        if (*p == '-') {
            ++p;
            if (!read_number(&p, &last))
                return nullptr;
        }
        if (last < first || last >= kMaxVcpus)
            return nullptr;
        for (uint64_t c = first; c <= last; ++c)
            out->add(static_cast<uint32_t>(c));
        if (*p != ',')
            break;
        ++p;
    }
    return p;
}

}  // namespace

bool parse_cpu_list(const char* text, CpuBits* out) {
    const char* end = read_cpu_list(text, out);
    return end && (*end == '\0' || *end == '\n');
}

LIBOS_STARTUP bool parse_inherited_affinity(const char* text, CpuBits* mask, uint32_t* clock) {
    const char* end = read_cpu_list(text, mask);
    if (!end)
        return false;
    *clock = 0;
    if (*end == '\0')
        return true;
    if (*end != '@' || !is_digit(end[1]))
        return false;
    uint64_t value = 0;
    const char* p = end + 1;
    for (int digits = 0; is_digit(*p); ++p) {
        if (++digits > 10)
            return false;
        value = value * 10 + static_cast<uint64_t>(*p - '0');
    }
    if (*p != '\0' || value > UINT32_MAX)
        return false;
    *clock = static_cast<uint32_t>(value);
    return true;
}

}  // namespace libos
