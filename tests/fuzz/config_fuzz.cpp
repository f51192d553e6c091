/* libFuzzer target: the configuration parser (table/include/libos/libos_config.h), fed what the
 * environment can hold: LIBOS_CPUS, LIBOS_CPU_MAP, LIBOS_AFFINITY and a CPU list as a sysfs file
 * holds one.
 *
 * An input is up to seven fields, separated by NUL bytes (no environment value can contain one):
 *
 *     ONLINE \0 ALLOWED \0 SPREAD \0 COUNT \0 MAP \0 AFFINITY \0 LIST
 *
 * ONLINE, ALLOWED and SPREAD describe the host: the online CPUs, those the cpuset allows and those
 * the process runs on, as CPU lists (read with this file's reference; an empty or malformed ONLINE
 * is 0-7, an empty or malformed ALLOWED or SPREAD is ONLINE). COUNT and MAP are the two settings; a
 * field the input lacks is a setting that is not given. AFFINITY is LIBOS_AFFINITY. LIST goes to
 * parse_cpu_list.
 *
 * The properties, checked against references written here from the documented grammar
 * (docs/configuration.md), not from the parser's code:
 *  1. build_cpu_map accepts exactly what the reference accepts, and builds the same map: a count
 *     from 1 to 8192 spread round-robin over SPREAD & ONLINE & ALLOWED, or the expansion of MAP's
 *     numbers, upward ranges and strided ranges (A-B:S, A-B:U/G), every CPU online and allowed, at
 *     most 8192 of them; both only when
 *     they agree. Numbers have 1 to 9 digits (tests/unit/config_test.cpp pins that).
 *  2. A refusal is one printable line that fits in ConfigError and starts "libos: SETTING: ", naming
 *     the setting at fault; the launcher's names give the same result.
 *  3. format_cpu_map writes the reference's canonical text (ranges for runs of three or more), which
 *     reads back to the same map alone, with its count beside it (what a child of the launch gets),
 *     and on the trusted path of an exec'ed process (every CPU online and allowed).
 *  4. parse_cpu_list agrees with the reference; format_cpu_list writes the kernel's canonical text,
 *     which reads back to the same set.
 *  Both formatters give a short buffer the longest prefix that fits, NUL-terminated.
 *  5. parse_inherited_affinity (LIBOS_AFFINITY) agrees with the reference: a list, then optionally
 *     '@' and a clock below 2^32; what exec writes reads back to the same mask and clock.
 * A violated property prints "FUZZ CHECK: ..." and aborts, which libFuzzer reports as a crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libos/libos_config.h"

namespace {

using libos::ConfigError;
using libos::CpuBits;
using libos::CpuMap;
using libos::kMaxVcpus;
using libos::SettingNames;

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
    fprintf(stderr, "FUZZ CHECK: %s: '%.*s'\n", what, static_cast<int>(detail.size() > 300 ? 300 : detail.size()),
            detail.data());
    abort();
}

void check(bool ok, const char* what, std::string_view detail = {}) {
    if (!ok)
        fail(what, detail);
}

bool same(const CpuBits& a, const CpuBits& b) {
    return memcmp(a.words, b.words, sizeof(a.words)) == 0;
}

bool same(const CpuMap& a, const CpuMap& b) {
    return a.count == b.count && memcmp(a.host_of, b.host_of, a.count * sizeof(a.host_of[0])) == 0;
}

/* ==== The references ======================================================================== */

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* A number: 1 to 9 decimal digits. */
std::optional<uint64_t> ref_number(std::string_view s) {
    if (s.empty() || s.size() > 9)
        return std::nullopt;
    uint64_t v = 0;
    for (char c : s) {
        if (!is_digit(c))
            return std::nullopt;
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    return v;
}

struct Range {
    uint64_t first, last;
};

/* "N" or "N-M" with N <= M. */
std::optional<Range> ref_range(std::string_view token) {
    size_t dash = token.find('-');
    auto first = ref_number(token.substr(0, dash));
    if (!first)
        return std::nullopt;
    if (dash == std::string_view::npos)
        return Range{*first, *first};
    auto last = ref_number(token.substr(dash + 1));
    if (!last || *last < *first)
        return std::nullopt;
    return Range{*first, *last};
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> parts;
    for (;;) {
        size_t at = s.find(sep);
        parts.push_back(s.substr(0, at));
        if (at == std::string_view::npos)
            return parts;
        s.remove_prefix(at + 1);
    }
}

/* A CPU list as the kernel writes one: ranges and numbers below 8192, separated by commas, one
 * trailing comma tolerated; the empty list is the empty set. */
std::optional<CpuBits> ref_list(std::string_view text) {
    CpuBits bits{};
    if (text.empty())
        return bits;
    if (text.back() == ',')
        text.remove_suffix(1);
    for (std::string_view token : split(text, ',')) {
        auto r = ref_range(token);
        if (!r || r->last >= kMaxVcpus)
            return std::nullopt;
        for (uint64_t c = r->first; c <= r->last; ++c)
            bits.add(static_cast<uint32_t>(c));
    }
    return bits;
}

/* The same, as a sysfs file holds it: the content ends at the first newline. */
std::optional<CpuBits> ref_sysfs_list(std::string_view text) {
    return ref_list(text.substr(0, text.find('\n')));
}

/* LIBOS_AFFINITY: LIST, or LIST@CLOCK with CLOCK 1 to 10 digits below 2^32. */
struct Inherited {
    CpuBits mask;
    uint32_t clock;
};
std::optional<Inherited> ref_affinity(std::string_view text) {
    size_t at = text.find('@');
    auto mask = ref_list(text.substr(0, at));
    if (!mask)
        return std::nullopt;
    uint64_t clock = 0;
    if (at != std::string_view::npos) {
        std::string_view digits = text.substr(at + 1);
        if (digits.empty() || digits.size() > 10)
            return std::nullopt;
        for (char c : digits) {
            if (!is_digit(c))
                return std::nullopt;
            clock = clock * 10 + static_cast<uint64_t>(c - '0');
        }
        if (clock > UINT32_MAX)
            return std::nullopt;
    }
    return Inherited{*mask, static_cast<uint32_t>(clock)};
}

/* One entry of a map, in order: a number, a range, or a range with a stride, "A-B:S" (A, A+S, ... up to
 * B, taskset's form) or with groups, "A-B:U/G" (the first U of every G from A, the kernel's form), with
 * 1 <= U <= G. Entries that would expand past 8192 CPUs are cut there: the caller refuses them anyway. */
std::optional<std::vector<uint64_t>> ref_map_entry(std::string_view token) {
    size_t colon = token.find(':');
    auto range = ref_range(token.substr(0, colon));
    if (!range)
        return std::nullopt;
    uint64_t used = 1, group = 1;
    if (colon != std::string_view::npos) {
        if (token.substr(0, colon).find('-') == std::string_view::npos)
            return std::nullopt;
        std::string_view pattern = token.substr(colon + 1);
        size_t slash = pattern.find('/');
        auto first = ref_number(pattern.substr(0, slash));
        if (!first)
            return std::nullopt;
        group = *first;
        if (slash != std::string_view::npos) {
            auto second = ref_number(pattern.substr(slash + 1));
            if (!second)
                return std::nullopt;
            used = *first;
            group = *second;
        }
        if (used == 0 || group == 0 || used > group)
            return std::nullopt;
    }
    std::vector<uint64_t> cpus;
    for (uint64_t start = range->first; start <= range->last && cpus.size() <= kMaxVcpus; start += group)
        for (uint64_t c = start; c < start + used && c <= range->last && cpus.size() <= kMaxVcpus; ++c)
            cpus.push_back(c);
    return cpus;
}

struct Host {
    CpuBits online, allowed, spread;
};

enum class Fault { None, Neither, Count, Map, Disagree, NoHostCpu };

struct RefMap {
    Fault fault = Fault::None;
    std::vector<uint16_t> host_of;
};

/* The map the two settings describe (docs/configuration.md, "The map"). */
RefMap ref_map(const char* count_text, const char* map_text, const Host& host) {
    RefMap r;
    bool has_count = count_text && *count_text, has_map = map_text && *map_text;
    if (!has_count && !has_map) {
        r.fault = Fault::Neither;
        return r;
    }
    uint64_t count = 0;
    if (has_count) {
        auto n = ref_number(count_text);
        if (!n || *n == 0 || *n > kMaxVcpus) {
            r.fault = Fault::Count;
            return r;
        }
        count = *n;
    }
    if (has_map) {
        for (std::string_view token : split(map_text, ',')) {
            auto cpus = ref_map_entry(token);
            if (!cpus) {
                r.fault = Fault::Map;
                return r;
            }
            for (uint64_t c : *cpus) {
                bool usable = c < kMaxVcpus && host.online.has(static_cast<uint32_t>(c)) &&
                              host.allowed.has(static_cast<uint32_t>(c));
                if (!usable || r.host_of.size() == kMaxVcpus) {
                    r.fault = Fault::Map;
                    return r;
                }
                r.host_of.push_back(static_cast<uint16_t>(c));
            }
        }
        if (has_count && count != r.host_of.size())
            r.fault = Fault::Disagree;
        return r;
    }
    std::vector<uint16_t> usable;
    for (uint32_t c = 0; c < kMaxVcpus; ++c) {
        if ((host.spread.words[c / 64] & host.online.words[c / 64] & host.allowed.words[c / 64]) == 0)
            c |= 63; /* a word without CPUs */
        else if (host.spread.has(c) && host.online.has(c) && host.allowed.has(c))
            usable.push_back(static_cast<uint16_t>(c));
    }
    if (usable.empty()) {
        r.fault = Fault::NoHostCpu;
        return r;
    }
    for (uint64_t v = 0; v < count; ++v)
        r.host_of.push_back(usable[v % usable.size()]);
    return r;
}

/* The kernel's list text: runs of two or more as ranges. */
std::string ref_list_text(const CpuBits& bits) {
    std::string s;
    for (uint32_t c = 0; c < kMaxVcpus; ++c) {
        if (bits.words[c / 64] == 0) {
            c |= 63; /* a word without CPUs */
            continue;
        }
        if (!bits.has(c))
            continue;
        uint32_t last = c;
        while (last + 1 < kMaxVcpus && bits.has(last + 1))
            ++last;
        if (!s.empty())
            s += ',';
        s += std::to_string(c);
        if (last > c)
            s += '-' + std::to_string(last);
        c = last;
    }
    return s;
}

/* The map's text (libos_config.h): runs of three or more consecutive host CPUs as ranges. */
std::string ref_map_text(const CpuMap& map) {
    std::string s;
    for (uint32_t v = 0; v < map.count;) {
        uint32_t end = v;
        while (end + 1 < map.count && map.host_of[end + 1] == map.host_of[end] + 1)
            ++end;
        if (end - v < 2)
            end = v;
        if (v)
            s += ',';
        s += std::to_string(map.host_of[v]);
        if (end > v)
            s += '-' + std::to_string(map.host_of[end]);
        v = end + 1;
    }
    return s;
}

/* ==== The checks ============================================================================= */

/* A text written into `size` bytes (exactly: ASan sees a byte more) must be the longest prefix of
 * `whole` that fits, NUL-terminated, and its length returned. */
template <typename Write>
void check_cut(const std::string& whole, size_t size, Write write, const char* what) {
    std::unique_ptr<char[]> buf(new char[size]);
    size_t n = write(buf.get(), size);
    if (size == 0) {
        check(n == 0, what, whole);
        return;
    }
    size_t fits = whole.size() < size ? whole.size() : size - 1;
    check(n == fits && buf[n] == '\0' && memcmp(buf.get(), whole.data(), n) == 0, what, whole);
}

const SettingNames kEnvNames = {"LIBOS_CPUS", "LIBOS_CPU_MAP"};
const SettingNames kFlagNames = {"--cpus", "--cpu-map"};

/* An error: one printable line inside the buffer, naming the setting at fault. */
void check_error(const ConfigError& err, const SettingNames& names, Fault fault) {
    const char* end = static_cast<const char*>(memchr(err.text, '\0', sizeof(err.text)));
    check(end != nullptr, "an error message is not NUL-terminated within ConfigError");
    std::string_view text(err.text, static_cast<size_t>(end - err.text));
    for (char c : text)
        check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f, "an error message has a control character", text);
    std::string prefix = "libos: ";
    if (fault == Fault::Neither)
        prefix += std::string("give ") + names.count + " or " + names.map;
    else
        prefix += std::string(fault == Fault::Map ? names.map : names.count) + ": ";
    check(text.substr(0, prefix.size()) == prefix, "an error message does not name the setting at fault", text);
}

/* Property 1 to 3 for one pair of settings. `cut` picks a short buffer's size. */
void check_map(const char* count_text, const char* map_text, const Host& host, size_t cut) {
    static CpuMap map, flag_map, again;
    static ConfigError err, flag_err;
    RefMap want = ref_map(count_text, map_text, host);
    bool ok = libos::build_cpu_map(kEnvNames, count_text, map_text, host.online, host.allowed, host.spread, &map, &err);
    check(ok == (want.fault == Fault::None), ok ? "accepted what the reference refuses" : "refused what the reference accepts",
          ok ? "" : std::string_view(err.text, strnlen(err.text, sizeof(err.text))));
    bool flag_ok = libos::build_cpu_map(kFlagNames, count_text, map_text, host.online, host.allowed, host.spread,
                                        &flag_map, &flag_err);
    check(flag_ok == ok, "the launcher's names change the outcome");
    if (!ok) {
        check_error(err, kEnvNames, want.fault);
        check_error(flag_err, kFlagNames, want.fault);
        return;
    }
    check(map.count == want.host_of.size() && memcmp(map.host_of, want.host_of.data(), map.count * 2) == 0,
          "the map differs from the reference's");
    check(same(map, flag_map), "the launcher's names change the map");

    /* The text exec and the launcher pass on, in a buffer of exactly its size. */
    std::string text = ref_map_text(map);
    std::vector<char> buf(text.size() + 1);
    size_t n = libos::format_cpu_map(map, buf.data(), buf.size());
    check(n == text.size() && memcmp(buf.data(), text.c_str(), n + 1) == 0, "format_cpu_map differs from the reference",
          std::string_view(buf.data(), strnlen(buf.data(), buf.size())));
    ok = libos::build_cpu_map(kEnvNames, nullptr, buf.data(), host.online, host.allowed, host.spread, &again, &err);
    check(ok && same(map, again), "the map's text does not read back to the map", text);
    std::string count = std::to_string(map.count);
    ok = libos::build_cpu_map(kEnvNames, count.c_str(), buf.data(), host.online, host.allowed, host.spread, &again, &err);
    check(ok && same(map, again), "the map's text and its count do not read back to the map", text);
    CpuBits everything;
    memset(&everything, 0xff, sizeof(everything));
    ok = libos::build_cpu_map(kEnvNames, count.c_str(), buf.data(), everything, everything, everything, &again, &err);
    check(ok && same(map, again), "the trusted path reads the map's text differently", text);
    check_cut(text, cut % (text.size() + 2), [&](char* b, size_t size) { return libos::format_cpu_map(map, b, size); },
              "format_cpu_map's text cut short is not its prefix");
}

/* Property 4. `cut` picks the short buffer's size. */
void check_list(const char* list_text, size_t cut) {
    static CpuBits bits, again;
    auto want = ref_sysfs_list(list_text);
    bool ok = libos::parse_cpu_list(list_text, &bits);
    check(ok == want.has_value(), ok ? "parse_cpu_list accepted what the reference refuses"
                                     : "parse_cpu_list refused what the reference accepts", list_text);
    if (!ok)
        return;
    check(same(bits, *want), "parse_cpu_list's set differs from the reference's", list_text);
    std::string text = ref_list_text(bits);
    std::vector<char> buf(text.size() + 1);
    size_t n = libos::format_cpu_list(bits, buf.data(), buf.size());
    check(n == text.size() && memcmp(buf.data(), text.c_str(), n + 1) == 0, "format_cpu_list differs from the reference",
          text);
    check(libos::parse_cpu_list(buf.data(), &again) && same(bits, again), "a formatted list does not read back", text);
    check_cut(text, cut % (text.size() + 2), [&](char* b, size_t size) { return libos::format_cpu_list(bits, b, size); },
              "format_cpu_list's text cut short is not its prefix");
}

/* Property 5. */
void check_affinity(const char* text) {
    static CpuBits mask, again;
    auto want = ref_affinity(text);
    uint32_t clock = 7;
    bool ok = libos::parse_inherited_affinity(text, &mask, &clock);
    check(ok == want.has_value(), ok ? "LIBOS_AFFINITY: accepted what the reference refuses"
                                     : "LIBOS_AFFINITY: refused what the reference accepts", text);
    if (!ok)
        return;
    check(same(mask, want->mask) && clock == want->clock, "LIBOS_AFFINITY: mask or clock differ from the reference's",
          text);
    /* As exec writes it (table/libos_exec.cpp): the list, '@' and the clock. */
    std::string written = ref_list_text(mask) + "@" + std::to_string(clock);
    uint32_t clock_again = 0;
    check(libos::parse_inherited_affinity(written.c_str(), &again, &clock_again) && same(mask, again) &&
              clock_again == clock, "LIBOS_AFFINITY: what exec writes does not read back", written);
}

CpuBits host_set(const std::optional<std::string>& field, const CpuBits& otherwise) {
    if (!field)
        return otherwise;
    auto bits = ref_list(*field);
    return bits && !bits->empty() ? *bits : otherwise;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<std::optional<std::string>> fields(7);
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    for (size_t i = 0; i < fields.size(); ++i) {
        size_t nul = rest.find('\0');
        fields[i] = std::string(rest.substr(0, nul));
        if (nul == std::string_view::npos)
            break;
        rest.remove_prefix(nul + 1);
    }
    auto c_str = [&](size_t i) { return fields[i] ? fields[i]->c_str() : nullptr; };

    CpuBits eight{};
    for (uint32_t c = 0; c < 8; ++c)
        eight.add(c);
    Host host;
    host.online = host_set(fields[0], eight);
    host.allowed = host_set(fields[1], host.online);
    host.spread = host_set(fields[2], host.online);

    check_map(c_str(3), c_str(4), host, size * 31 + 7); /* another cut than the list's */
    if (fields[5])
        check_affinity(c_str(5));
    if (fields[6])
        check_list(c_str(6), size);
    return 0;
}
