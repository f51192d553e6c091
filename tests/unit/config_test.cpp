/* Unit tests of the virtual CPU machine's configuration (libos_config.h) and of the mask translation
 * of an initialised machine (libos_machine.h).
 *
 * ConfigParse:  build_cpu_map, the parser the launcher (--cpus / --cpu-map) and the shim (LIBOS_CPUS /
 *               LIBOS_CPU_MAP) share: every refusal, with its exact one-line message, and the maps
 *               it builds from good input.
 * ConfigFormat: format_cpu_list / parse_cpu_list / format_cpu_map, and their round trips.
 * Translation:  to_host / to_virtual / trim_to_machine on one 8-vCPU machine oversubscribed onto two
 *               host CPUs (init() runs once per process, so there is one machine for the whole suite).
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <initializer_list>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "libos/libos_config.h"
#include "libos/libos_init.h"
#include "libos/libos_machine.h"
#include "libos/libos_threads.h"
#include "test_util.h"

namespace {

using libos::ConfigError;
using libos::CpuBits;
using libos::CpuMap;
using libos::kMaxVcpus;
using libos::SettingNames;

const SettingNames kFlags = {"--cpus", "--cpu-map"};
const SettingNames kEnv = {"LIBOS_CPUS", "LIBOS_CPU_MAP"};

constexpr const char* kCountAllowed = "expected a whole number of virtual CPUs from 1 to 8192";
constexpr const char* kMapAllowed =
    "expected a comma-separated list of host CPU numbers or ranges, such as 0-3 or 0,0,1,1";
constexpr const char* kEmptyEntry = "an entry is empty; expected host CPU numbers or ranges such as 0-3";
constexpr const char* kUpwards = "a range must go upwards, such as 0-3";
constexpr const char* kTooMany = "at most 8192 virtual CPUs are supported";
constexpr const char* kZero = "a machine needs at least 1 virtual CPU";

CpuBits bits(std::initializer_list<uint32_t> cpus) {
    CpuBits b{};
    for (uint32_t c : cpus)
        b.add(c);
    return b;
}

CpuBits range(uint32_t first, uint32_t last) {
    CpuBits b{};
    for (uint32_t c = first; c <= last; ++c)
        b.add(c);
    return b;
}

bool same(const CpuBits& a, const CpuBits& b) {
    return memcmp(a.words, b.words, sizeof(a.words)) == 0;
}

std::string list_of(const CpuBits& b) {
    std::vector<char> buf(kMaxVcpus * 6);
    size_t n = libos::format_cpu_list(b, buf.data(), buf.size());
    return std::string(buf.data(), n);
}

std::string map_text_of(const CpuMap& m) {
    std::vector<char> buf(kMaxVcpus * 6);
    size_t n = libos::format_cpu_map(m, buf.data(), buf.size());
    EXPECT_EQ(n, strlen(buf.data()));
    return std::string(buf.data(), n);
}

std::string join(const std::string& token, size_t times) {
    std::string out;
    for (size_t i = 0; i < times; ++i)
        out += (i ? "," : "") + token;
    return out;
}

/* A pretend host: which CPUs are online, which the cpuset allows, which the launching process's
 * affinity spreads a bare count over. */
struct Host {
    CpuBits online;
    CpuBits allowed;
    CpuBits spread;
};

/* The host of most cases: online 0-7, allowed 0-5, the launcher's affinity {1,3}. */
Host small_host() {
    return {range(0, 7), range(0, 5), bits({1, 3})};
}

/* Every CPU a map can name is online and allowed. */
Host full_host() {
    return {range(0, kMaxVcpus - 1), range(0, kMaxVcpus - 1), range(0, kMaxVcpus - 1)};
}

struct Outcome {
    bool ok = false;
    std::string error;
    std::vector<uint16_t> map;
};

Outcome build(const char* count, const char* map, const Host& host = small_host(),
              const SettingNames& names = kFlags) {
    auto out = std::make_unique<CpuMap>();
    ConfigError err;
    memset(err.text, 0x5a, sizeof(err.text)); /* so an unterminated message shows */
    memset(out.get(), 0xa5, sizeof(*out));
    Outcome r;
    r.ok = libos::build_cpu_map(names, count, map, host.online, host.allowed, host.spread, out.get(), &err);
    if (r.ok) {
        EXPECT_LE(out->count, kMaxVcpus);
        if (out->count <= kMaxVcpus)
            r.map.assign(out->host_of, out->host_of + out->count);
    } else {
        EXPECT_NE(memchr(err.text, '\0', sizeof(err.text)), nullptr) << "the error is not NUL-terminated";
        err.text[sizeof(err.text) - 1] = '\0';
        r.error = err.text;
    }
    return r;
}

std::string describe(const char* count, const char* map) {
    std::string s = "count=";
    s += count ? "'" + std::string(count) + "'" : "null";
    s += " map=";
    s += map ? "'" + std::string(map).substr(0, 80) + (strlen(map) > 80 ? "...'" : "'") : "null";
    return s;
}

/* Refused, with one line that names the setting and quotes the offending token; the exact text when
 * `exact` is given. */
void expect_refused(const char* count, const char* map, const char* setting, const std::string& token,
                    const char* exact, const Host& host = small_host()) {
    SCOPED_TRACE(describe(count, map));
    Outcome r = build(count, map, host);
    ASSERT_FALSE(r.ok) << "accepted; map has " << r.map.size() << " vCPUs";
    EXPECT_EQ(r.error.find('\n'), std::string::npos) << "not one line: " << r.error;
    EXPECT_EQ(r.error.rfind("libos: ", 0), 0u) << r.error;
    EXPECT_NE(r.error.find(std::string("libos: ") + setting + ": "), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("bad token '" + token + "'"), std::string::npos) << r.error;
    if (exact) {
        EXPECT_EQ(r.error, exact);
    }
}

void expect_map(const char* count, const char* map, const std::vector<uint16_t>& want,
                const Host& host = small_host()) {
    SCOPED_TRACE(describe(count, map));
    Outcome r = build(count, map, host);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.map, want);
}

std::vector<uint16_t> iota_map(uint16_t first, uint16_t last) {
    std::vector<uint16_t> v;
    for (uint32_t c = first; c <= last; ++c)
        v.push_back(static_cast<uint16_t>(c));
    return v;
}

/* ==== ConfigParse: refusals of the vCPU count ============================================== */

TEST(ConfigParse, CountNotANumber) {
    for (const char* bad : {"abc", " 8", "8 ", "+8", "-1", "0x8", "8x", "8,", "8.0", "1e3", "eight"}) {
        std::string exact = std::string("libos: --cpus: bad token '") + bad + "': " + kCountAllowed;
        expect_refused(bad, nullptr, "--cpus", bad, exact.c_str());
    }
    /* A control character is refused and shown escaped. */
    Outcome tab = build("\t8", nullptr);
    EXPECT_FALSE(tab.ok);
    EXPECT_EQ(tab.error, std::string("libos: --cpus: bad token '\\t8': ") + kCountAllowed);
    /* A trailing newline (LIBOS_CPUS=$'8\n') is refused too; that the message stays one line is
     * ControlCharactersKeepOneLine. */
    Outcome r = build("8\n", nullptr);
    EXPECT_FALSE(r.ok) << "'8\\n' accepted";
    EXPECT_NE(r.error.find(kCountAllowed), std::string::npos) << r.error;
    r = build(nullptr, "0,1\n");
    EXPECT_FALSE(r.ok) << "'0,1\\n' accepted";
    EXPECT_NE(r.error.find(kMapAllowed), std::string::npos) << r.error;
}

/* The message is one line even when the value carries a newline or another control character: the
 * parser writes them escaped (\n, \t, \xNN). */
TEST(ConfigParse, ControlCharactersKeepOneLine) {
    for (auto [count, map] : std::vector<std::pair<const char*, const char*>>{
             {"8\n", nullptr}, {"8\n9", nullptr}, {nullptr, "0,1\n"}, {nullptr, "0\n,1"}, {"2", "0,\n1"}}) {
        SCOPED_TRACE(describe(count, map));
        Outcome r = build(count, map);
        ASSERT_FALSE(r.ok);
        EXPECT_EQ(r.error.find_first_of("\n\r"), std::string::npos) << r.error;
    }
}

TEST(ConfigParse, CountAbcExactMessage) {
    Outcome r = build("abc", nullptr);
    ASSERT_FALSE(r.ok);
    EXPECT_EQ(r.error, "libos: --cpus: bad token 'abc': expected a whole number of virtual CPUs from 1 to 8192");
}

TEST(ConfigParse, CountEmptyIsNotGiven) {
    /* "" means "not given" (libos_config.h: either may be null or empty, not both). */
    for (const char* map : {static_cast<const char*>(nullptr), ""}) {
        Outcome r = build("", map);
        ASSERT_FALSE(r.ok);
        EXPECT_EQ(r.error, "libos: give --cpus or --cpu-map");
    }
    /* ...so with a map, the map alone decides. */
    expect_map("", "0,1", {0, 1});
}

TEST(ConfigParse, NeitherSettingGiven) {
    for (auto [count, map] : std::vector<std::pair<const char*, const char*>>{
             {nullptr, nullptr}, {"", nullptr}, {nullptr, ""}, {"", ""}}) {
        SCOPED_TRACE(describe(count, map));
        Outcome r = build(count, map);
        ASSERT_FALSE(r.ok);
        EXPECT_EQ(r.error, "libos: give --cpus or --cpu-map");
        EXPECT_EQ(r.error.find('\n'), std::string::npos);
    }
    Outcome r = build(nullptr, nullptr, small_host(), kEnv);
    ASSERT_FALSE(r.ok);
    EXPECT_EQ(r.error, "libos: give LIBOS_CPUS or LIBOS_CPU_MAP");
}

TEST(ConfigParse, CountZero) {
    expect_refused("0", nullptr, "--cpus", "0", "libos: --cpus: bad token '0': a machine needs at least 1 virtual CPU");
    expect_refused("00", nullptr, "--cpus", "00", "libos: --cpus: bad token '00': a machine needs at least 1 virtual CPU");
}

TEST(ConfigParse, CountTooLarge) {
    expect_refused("8193", nullptr, "--cpus", "8193",
                   "libos: --cpus: bad token '8193': at most 8192 virtual CPUs are supported");
    expect_refused("65536", nullptr, "--cpus", "65536",
                   "libos: --cpus: bad token '65536': at most 8192 virtual CPUs are supported");
    expect_refused("999999999", nullptr, "--cpus", "999999999",
                   "libos: --cpus: bad token '999999999': at most 8192 virtual CPUs are supported");
    /* Too long to be read as a number at all: still refused, with what is allowed. */
    expect_refused("99999999999", nullptr, "--cpus", "99999999999",
                   "libos: --cpus: bad token '99999999999': expected a whole number of virtual CPUs from 1 to 8192");
    expect_refused("18446744073709551617", nullptr, "--cpus", "18446744073709551617", nullptr);
    /* 2^32 + 1 must not wrap to 1. */
    expect_refused("4294967297", nullptr, "--cpus", "4294967297", nullptr);
}

TEST(ConfigParse, CountErrorsUseTheSettingName) {
    Outcome r = build("abc", nullptr, small_host(), kEnv);
    ASSERT_FALSE(r.ok);
    EXPECT_EQ(r.error, "libos: LIBOS_CPUS: bad token 'abc': expected a whole number of virtual CPUs from 1 to 8192");
    r = build(nullptr, "9", small_host(), kEnv);
    ASSERT_FALSE(r.ok);
    EXPECT_EQ(r.error, "libos: LIBOS_CPU_MAP: bad token '9': host CPU 9 is not online (online: 0-7)");
}

TEST(ConfigParse, CountWithNoCpuToSpreadOver) {
    /* The launching process may run only on CPUs the cpuset forbids: nothing to spread over. */
    Host host = small_host();
    host.spread = bits({6, 7});
    Outcome r = build("4", nullptr, host);
    ASSERT_FALSE(r.ok);
    EXPECT_EQ(r.error, "libos: --cpus: this process may run on no online CPU to spread the virtual CPUs over");
    host.spread = bits({9});
    r = build("4", nullptr, host);
    ASSERT_FALSE(r.ok);
    EXPECT_NE(r.error.find("--cpus"), std::string::npos);
}

/* ==== ConfigParse: refusals of the map ===================================================== */

TEST(ConfigParse, MapEmptyEntry) {
    expect_refused(nullptr, "0,,1", "--cpu-map", "",
                   "libos: --cpu-map: bad token '' in '0,,1': an entry is empty; expected host CPU numbers or "
                   "ranges such as 0-3");
    expect_refused(nullptr, "0,", "--cpu-map", "",
                   "libos: --cpu-map: bad token '' in '0,': an entry is empty; expected host CPU numbers or "
                   "ranges such as 0-3");
    expect_refused(nullptr, ",0", "--cpu-map", "",
                   "libos: --cpu-map: bad token '' in ',0': an entry is empty; expected host CPU numbers or "
                   "ranges such as 0-3");
    expect_refused(nullptr, ",", "--cpu-map", "",
                   (std::string("libos: --cpu-map: bad token '' in ',': ") + kEmptyEntry).c_str());
    expect_refused(nullptr, "1,", "--cpu-map", "",
                   (std::string("libos: --cpu-map: bad token '' in '1,': ") + kEmptyEntry).c_str());
}

TEST(ConfigParse, MapReversedRange) {
    expect_refused(nullptr, "3-1", "--cpu-map", "3-1", "libos: --cpu-map: bad token '3-1': a range must go upwards, such as 0-3");
    expect_refused(nullptr, "0,3-1", "--cpu-map", "3-1",
                   "libos: --cpu-map: bad token '3-1' in '0,3-1': a range must go upwards, such as 0-3");
    /* Reversed even when both ends are offline: the shape is checked before the CPUs. */
    expect_refused(nullptr, "20-10", "--cpu-map", "20-10",
                   (std::string("libos: --cpu-map: bad token '20-10': ") + kUpwards).c_str());
}

TEST(ConfigParse, MapMalformedTokens) {
    struct Case {
        const char* map;
        const char* token;
    };
    for (Case c : std::vector<Case>{{"1-", "1-"},
                                    {"-1", "-1"},
                                    {"a", "a"},
                                    {"0-3x", "0-3x"},
                                    {"0x1", "0x1"},
                                    {" 0", " 0"},
                                    {"0 ", "0 "},
                                    {"+1", "+1"},
                                    {"0-", "0-"},
                                    {"0--3", "0--3"},
                                    {"0-3-5", "0-3-5"},
                                    {"0;1", "0;1"},
                                    {"0-a", "0-a"},
                                    {"99999999999", "99999999999"},
                                    {"0-99999999999", "0-99999999999"}}) {
        std::string exact = std::string("libos: --cpu-map: bad token '") + c.token + "': " + kMapAllowed;
        expect_refused(nullptr, c.map, "--cpu-map", c.token, exact.c_str());
    }
    /* The bad token among good ones: the token and the whole value, both quoted. */
    expect_refused(nullptr, "0,1,a,2", "--cpu-map", "a",
                   (std::string("libos: --cpu-map: bad token 'a' in '0,1,a,2': ") + kMapAllowed).c_str());
    expect_refused(nullptr, "0-1,2-", "--cpu-map", "2-",
                   (std::string("libos: --cpu-map: bad token '2-' in '0-1,2-': ") + kMapAllowed).c_str());
}

TEST(ConfigParse, MapCpuNotOnline) {
    expect_refused(nullptr, "9", "--cpu-map", "9", "libos: --cpu-map: bad token '9': host CPU 9 is not online (online: 0-7)");
    expect_refused(nullptr, "0,9", "--cpu-map", "9",
                   "libos: --cpu-map: bad token '9' in '0,9': host CPU 9 is not online (online: 0-7)");
    /* A range that runs off the online CPUs names the first offline one. */
    expect_refused(nullptr, "0-9", "--cpu-map", "0-9", nullptr);
    Host all_allowed = small_host();
    all_allowed.allowed = range(0, 63);
    expect_refused(nullptr, "5-9", "--cpu-map", "5-9",
                   "libos: --cpu-map: bad token '5-9': host CPU 8 is not online (online: 0-7)", all_allowed);
    /* At and beyond the largest CPU number the machine supports. */
    expect_refused(nullptr, "8192", "--cpu-map", "8192",
                   "libos: --cpu-map: bad token '8192': host CPU 8192 is not online (online: 0-7)");
    expect_refused(nullptr, "65536", "--cpu-map", "65536",
                   "libos: --cpu-map: bad token '65536': host CPU 65536 is not online (online: 0-7)");
    expect_refused(nullptr, "8191-8192", "--cpu-map", "8191-8192", nullptr, full_host());
    {
        Outcome r = build(nullptr, "8191-8192", full_host());
        EXPECT_EQ(r.error,
                  "libos: --cpu-map: bad token '8191-8192': host CPU 8192 is not online (online: 0-8191)");
    }
    /* The online list is written in the kernel's style. */
    Host holes = {bits({0, 1, 2, 3, 8, 10, 11}), range(0, 63), range(0, 63)};
    expect_refused(nullptr, "4", "--cpu-map", "4",
                   "libos: --cpu-map: bad token '4': host CPU 4 is not online (online: 0-3,8,10-11)", holes);
}

TEST(ConfigParse, MapCpuNotAllowed) {
    expect_refused(nullptr, "7", "--cpu-map", "7",
                   "libos: --cpu-map: bad token '7': host CPU 7 is not allowed (allowed: 0-5)");
    expect_refused(nullptr, "0,1,7", "--cpu-map", "7",
                   "libos: --cpu-map: bad token '7' in '0,1,7': host CPU 7 is not allowed (allowed: 0-5)");
    expect_refused(nullptr, "4-7", "--cpu-map", "4-7",
                   "libos: --cpu-map: bad token '4-7': host CPU 6 is not allowed (allowed: 0-5)");
    /* Online wins over allowed: CPU 9 is neither. */
    expect_refused(nullptr, "6-9", "--cpu-map", "6-9",
                   "libos: --cpu-map: bad token '6-9': host CPU 6 is not allowed (allowed: 0-5)");
    Host sparse = {range(0, 7), bits({1, 3, 5}), bits({1})};
    expect_refused(nullptr, "1,2", "--cpu-map", "2",
                   "libos: --cpu-map: bad token '2' in '1,2': host CPU 2 is not allowed (allowed: 1,3,5)", sparse);
}

TEST(ConfigParse, MapTheFirstBadTokenIsNamed) {
    expect_refused(nullptr, "0,9,a", "--cpu-map", "9",
                   "libos: --cpu-map: bad token '9' in '0,9,a': host CPU 9 is not online (online: 0-7)");
    expect_refused(nullptr, "0,a,9", "--cpu-map", "a", nullptr);
}

TEST(ConfigParse, CountAndMapDisagree) {
    expect_refused("3", "0,1", "--cpus", "3",
                   "libos: --cpus: bad token '3': it disagrees with --cpu-map '0,1', which names 2 virtual CPUs; "
                   "give one of the two, or the same count in both");
    expect_refused("1", "0-3", "--cpus", "1",
                   "libos: --cpus: bad token '1': it disagrees with --cpu-map '0-3', which names 4 virtual CPUs; "
                   "give one of the two, or the same count in both");
    Outcome r = build("5", "0,0,1,1", small_host(), kEnv);
    ASSERT_FALSE(r.ok);
    EXPECT_EQ(r.error,
              "libos: LIBOS_CPUS: bad token '5': it disagrees with LIBOS_CPU_MAP '0,0,1,1', which names 4 virtual "
              "CPUs; give one of the two, or the same count in both");
}

TEST(ConfigParse, BothGivenEachIsStillChecked) {
    /* A bad count is refused even next to a good map, and a bad map next to a good count. */
    expect_refused("abc", "0,1", "--cpus", "abc", (std::string("libos: --cpus: bad token 'abc': ") + kCountAllowed).c_str());
    expect_refused("0", "0,1", "--cpus", "0", (std::string("libos: --cpus: bad token '0': ") + kZero).c_str());
    expect_refused("2", "0,9", "--cpu-map", "9",
                   "libos: --cpu-map: bad token '9' in '0,9': host CPU 9 is not online (online: 0-7)");
    expect_refused("2", "0,,1", "--cpu-map", "", nullptr);
}

TEST(ConfigParse, MapMoreThan8192Entries) {
    /* Short enough that the whole message fits: 8193 entries. */
    expect_refused(nullptr, "0-8191,0", "--cpu-map", "0",
                   "libos: --cpu-map: bad token '0' in '0-8191,0': at most 8192 virtual CPUs are supported",
                   full_host());
    expect_refused(nullptr, "0-8192", "--cpu-map", "0-8192", nullptr, full_host()); /* 8192 is no CPU */
    {
        Host wide = full_host();
        Outcome r = build(nullptr, "0-4095,0-4095,0", wide);
        ASSERT_FALSE(r.ok);
        EXPECT_EQ(r.error,
                  "libos: --cpu-map: bad token '0' in '0-4095,0-4095,0': at most 8192 virtual CPUs are supported");
    }
    /* Within one range: the 8193rd entry is refused in the middle of the token. */
    expect_refused(nullptr, "0-8191,0-7", "--cpu-map", "0-7",
                   "libos: --cpu-map: bad token '0-7' in '0-8191,0-7': at most 8192 virtual CPUs are supported",
                   full_host());
    /* "0-7" 1025 times: 8200 entries, on the small host. The value is 4099 characters; the message
     * quotes the start of it (see LongValueKeepsTheReason). */
    std::string many = join("0-5", 1366) + ",0-5"; /* allowed 0-5: 1367 * 6 = 8202 entries */
    expect_refused(nullptr, many.c_str(), "--cpu-map", "0-5", nullptr);
    std::string eights = join("0-7", 1025);
    expect_refused(nullptr, eights.c_str(), "--cpu-map", "0-7", nullptr, {range(0, 7), range(0, 7), range(0, 7)});
    /* Exactly 8192 entries is fine. */
    std::string exactly = join("0-7", 1024);
    Outcome r = build(nullptr, exactly.c_str(), {range(0, 7), range(0, 7), range(0, 7)});
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_EQ(r.map.size(), 8192u);
    for (size_t v = 0; v < r.map.size(); ++v)
        ASSERT_EQ(r.map[v], v % 8) << "vCPU " << v;
}

/* The reason ("what is allowed") must survive a long value: the message is one line of at most 511
 * characters, so the parser quotes only the start of a long value, followed by "...". */
TEST(ConfigParse, LongValueKeepsTheReason) {
    Host eight = {range(0, 7), range(0, 7), range(0, 7)};
    std::string eights = join("0-7", 1025);
    Outcome r = build(nullptr, eights.c_str(), eight);
    ASSERT_FALSE(r.ok);
    EXPECT_NE(r.error.find(kTooMany), std::string::npos) << r.error;

    std::string offline = join("0", 300) + ",9";
    r = build(nullptr, offline.c_str(), eight);
    ASSERT_FALSE(r.ok);
    EXPECT_NE(r.error.find("host CPU 9 is not online (online: 0-7)"), std::string::npos) << r.error;

    std::string disagree = join("0", 300);
    r = build("3", disagree.c_str(), eight);
    ASSERT_FALSE(r.ok);
    EXPECT_NE(r.error.find("which names 300 virtual CPUs"), std::string::npos) << r.error;
}

/* The online / allowed list in a message must not be cut silently: on a host with SMT switched off
 * (online 0,2,4,...,254) the list is long, and the message either gives it whole or cuts it at a
 * comma and says so ("..."). */
TEST(ConfigParse, LongOnlineListIsNotCut) {
    Host smt_off{};
    for (uint32_t c = 0; c < 256; c += 2)
        smt_off.online.add(c);
    smt_off.allowed = range(0, 255);
    smt_off.spread = smt_off.online;
    Outcome r = build(nullptr, "1", smt_off);
    ASSERT_FALSE(r.ok);
    std::string full = list_of(smt_off.online);
    bool whole_list = r.error.find("(online: " + full + ")") != std::string::npos;
    bool marked_elision = r.error.find("...") != std::string::npos;
    EXPECT_TRUE(whole_list || marked_elision) << r.error;
}

/* ==== ConfigParse: good configurations ===================================================== */

TEST(ConfigParse, CountSpreadsRoundRobin) {
    expect_map("5", nullptr, {1, 3, 1, 3, 1});
    expect_map("1", nullptr, {1});
    expect_map("2", nullptr, {1, 3});
    expect_map("4", nullptr, {1, 3, 1, 3});
    /* Leading zeros are still a number. */
    expect_map("05", nullptr, {1, 3, 1, 3, 1});
    expect_map("000000001", nullptr, {1});
}

TEST(ConfigParse, CountSpreadsOnlyOverOnlineAllowedCpus) {
    /* spread_over ∩ online ∩ allowed: 6 and 7 are not allowed, 9 is not online. */
    Host host = small_host();
    host.spread = bits({0, 2, 6, 7, 9});
    expect_map("5", nullptr, {0, 2, 0, 2, 0}, host);
    host.spread = bits({5, 6});
    expect_map("3", nullptr, {5, 5, 5}, host);
}

TEST(ConfigParse, CountMaxVcpus) {
    Outcome r = build("8192", nullptr);
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_EQ(r.map.size(), 8192u);
    for (size_t v = 0; v < r.map.size(); ++v)
        ASSERT_EQ(r.map[v], v % 2 ? 3 : 1) << "vCPU " << v;
    /* ...and over every CPU of a large host. */
    r = build("8192", nullptr, full_host());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.map, iota_map(0, 8191));
}

TEST(ConfigParse, MapRangesAndRepeats) {
    expect_map(nullptr, "0-3", {0, 1, 2, 3});
    expect_map(nullptr, "0,0,1,1", {0, 0, 1, 1});
    expect_map(nullptr, "0,1,0,1", {0, 1, 0, 1});
    expect_map(nullptr, "3,2,1,0", {3, 2, 1, 0});
    expect_map(nullptr, "5", {5});
    expect_map(nullptr, "2-2", {2});
    expect_map(nullptr, "0-1,0-1,5", {0, 1, 0, 1, 5});
    expect_map(nullptr, "4-5,0-2", {4, 5, 0, 1, 2});
    expect_map(nullptr, "03", {3});
    Host more = small_host();
    more.allowed = range(0, 7);
    expect_map(nullptr, "2,3,6,7", {2, 3, 6, 7}, more);
    expect_map(nullptr, "0-7", iota_map(0, 7), more);
    /* The map ignores spread_over: it names host CPUs outright. */
    expect_map(nullptr, "0,2,4", {0, 2, 4});
}

/* Strides, as the kernel's cpulist (A-B:USED/GROUP) and taskset (A-B:STRIDE) write them: expanded in
 * order, inside a map that keeps its order and repeats. */
TEST(ConfigParse, MapStrides) {
    Host host = full_host();
    expect_map(nullptr, "0-7:2", {0, 2, 4, 6}, host);
    expect_map(nullptr, "1-7:2", {1, 3, 5, 7}, host);
    expect_map(nullptr, "0-6:3", {0, 3, 6}, host);
    expect_map(nullptr, "0-7:1", iota_map(0, 7), host);
    expect_map(nullptr, "0-7:100", {0}, host);
    expect_map(nullptr, "0-7:2/4", {0, 1, 4, 5}, host);
    expect_map(nullptr, "0-9:2/4", {0, 1, 4, 5, 8, 9}, host);
    expect_map(nullptr, "0-8:2/4", {0, 1, 4, 5, 8}, host);
    expect_map(nullptr, "0-7:4/4", iota_map(0, 7), host);
    expect_map(nullptr, "0-1023:2/256", {0, 1, 256, 257, 512, 513, 768, 769}, host);
    expect_map(nullptr, "6-7:2,0-7:2,0-7:2", {6, 0, 2, 4, 6, 0, 2, 4, 6}, host);
    /* Every host CPU of an entry is still checked: 0-7:2 names 6, which small_host does not allow. */
    expect_refused(nullptr, "0-7:2", "--cpu-map", "0-7:2",
                   "libos: --cpu-map: bad token '0-7:2': host CPU 6 is not allowed (allowed: 0-5)");
    expect_map(nullptr, "0-5:2", {0, 2, 4});
}

TEST(ConfigParse, MapStridesRefused) {
    const std::string why =
        "expected a range with a stride, A-B:STRIDE (0-7:2 is 0,2,4,6), or with groups, A-B:USED/GROUP (0-7:2/4 is "
        "0,1,4,5), each number at least 1 and USED at most GROUP";
    for (const char* bad : {"0-7:0", "0-7:", "0-7:a", "0-7:2/", "0-7:/4", "0-7:0/4", "0-7:5/4", "0-7:2/0",
                            "0-7:2/4/8", "0-7:2:2", "0-7:2x", "0-7:1/2/"}) {
        std::string exact = std::string("libos: --cpu-map: bad token '") + bad + "': " + why;
        expect_refused(nullptr, bad, "--cpu-map", bad, exact.c_str(), full_host());
    }
    /* Only a range takes a stride, as in the kernel. */
    for (const char* bad : {"3:2", ":2", "0:1/2"}) {
        std::string exact = std::string("libos: --cpu-map: bad token '") + bad + "': " + kMapAllowed;
        expect_refused(nullptr, bad, "--cpu-map", bad, exact.c_str(), full_host());
    }
    expect_refused(nullptr, "7-0:2", "--cpu-map", "7-0:2",
                   (std::string("libos: --cpu-map: bad token '7-0:2': ") + kUpwards).c_str(), full_host());
    /* A stride does not lift the limit of 8192 vCPUs. */
    Outcome r = build(nullptr, "0-8191:1,0-8191:2", full_host());
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find(kTooMany), std::string::npos) << r.error;
}

TEST(ConfigParse, MapOfEveryCpu) {
    Outcome r = build(nullptr, "0-8191", full_host());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.map, iota_map(0, 8191));
    r = build(nullptr, "8191", full_host());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.map, std::vector<uint16_t>{8191});
}

TEST(ConfigParse, CountAndMapAgree) {
    expect_map("4", "0,0,1,1", {0, 0, 1, 1});
    expect_map("1", "3", {3});
    expect_map("6", "0-5", iota_map(0, 5));
    expect_map("004", "0-3", iota_map(0, 3));
    Outcome r = build("8192", "0-8191", full_host());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.map.size(), 8192u);
}

TEST(ConfigParse, MapValueWithoutCountIgnoresEmptyCount) {
    expect_map(nullptr, "1,3", {1, 3});
    expect_map("", "1,3", {1, 3});
}

/* init() reads the same parser through the environment and refuses a bad configuration with one line
 * on stderr and status 125. Run in a re-executed child so that this process's machine (Translation)
 * is not touched. */
TEST(ConfigParse, InitRefusesBadEnvironment) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            unsetenv("LIBOS_CPU_MAP");
            unsetenv("LIBOS_STATE_FD");
            unsetenv("LIBOS_AFFINITY");
            setenv("LIBOS_CPUS", "abc", 1);
            libos::init();
            _exit(0);
        },
        testing::ExitedWithCode(125),
        "^libos: LIBOS_CPUS: bad token 'abc': expected a whole number of virtual CPUs from 1 to 8192\n$");
    EXPECT_EXIT(
        {
            unsetenv("LIBOS_CPUS");
            unsetenv("LIBOS_STATE_FD");
            unsetenv("LIBOS_AFFINITY");
            setenv("LIBOS_CPU_MAP", "0,8191", 1);
            libos::init();
            _exit(0);
        },
        testing::ExitedWithCode(125),
        "^libos: LIBOS_CPU_MAP: bad token '8191' in '0,8191': host CPU 8191 is not online \\(online: [0-9,-]+\\)\n$");
}

/* ==== ConfigFormat ========================================================================== */

TEST(ConfigFormat, CpuListKernelStyle) {
    EXPECT_EQ(list_of(CpuBits{}), "");
    EXPECT_EQ(list_of(bits({0})), "0");
    EXPECT_EQ(list_of(bits({0, 1})), "0-1");
    EXPECT_EQ(list_of(range(0, 3)), "0-3");
    EXPECT_EQ(list_of(bits({0, 1, 2, 3, 8})), "0-3,8");
    EXPECT_EQ(list_of(bits({0, 2, 4})), "0,2,4");
    EXPECT_EQ(list_of(bits({1, 3, 5, 6, 7, 10})), "1,3,5-7,10");
    EXPECT_EQ(list_of(bits({63, 64})), "63-64");
    EXPECT_EQ(list_of(range(60, 130)), "60-130");
    EXPECT_EQ(list_of(bits({8191})), "8191");
    EXPECT_EQ(list_of(bits({0, 8191})), "0,8191");
    EXPECT_EQ(list_of(range(0, 8191)), "0-8191");
    EXPECT_EQ(list_of(range(8000, 8191)), "8000-8191");
}

TEST(ConfigFormat, CpuListReturnsLengthAndTerminates) {
    char buf[32];
    memset(buf, 'x', sizeof(buf));
    EXPECT_EQ(libos::format_cpu_list(bits({0, 1, 2, 3, 8}), buf, sizeof(buf)), 5u);
    EXPECT_STREQ(buf, "0-3,8");
    memset(buf, 'x', sizeof(buf));
    EXPECT_EQ(libos::format_cpu_list(CpuBits{}, buf, sizeof(buf)), 0u);
    EXPECT_STREQ(buf, "");
    /* A short buffer: truncated, NUL-terminated, the length is what was written. */
    memset(buf, 'x', sizeof(buf));
    EXPECT_EQ(libos::format_cpu_list(bits({0, 1, 2, 3, 8}), buf, 4), 3u);
    EXPECT_STREQ(buf, "0-3");
    EXPECT_EQ(buf[4], 'x');
    memset(buf, 'x', sizeof(buf));
    EXPECT_EQ(libos::format_cpu_list(bits({0, 1, 2, 3, 8}), buf, 1), 0u);
    EXPECT_EQ(buf[0], '\0');
    EXPECT_EQ(buf[1], 'x');
    memset(buf, 'x', sizeof(buf));
    EXPECT_EQ(libos::format_cpu_list(bits({0, 1, 2, 3, 8}), buf, 0), 0u);
    EXPECT_EQ(buf[0], 'x');
}

TEST(ConfigFormat, ParseCpuListGood) {
    struct Case {
        const char* text;
        CpuBits want;
    };
    for (const Case& c : std::vector<Case>{{"", CpuBits{}},
                                           {"\n", CpuBits{}},
                                           {"0", bits({0})},
                                           {"0-3,8", bits({0, 1, 2, 3, 8})},
                                           {"0-3,8\n", bits({0, 1, 2, 3, 8})},
                                           {"1,3,5-7,10", bits({1, 3, 5, 6, 7, 10})},
                                           {"5-5", bits({5})},
                                           {"63-64", bits({63, 64})},
                                           {"8,0-3", bits({0, 1, 2, 3, 8})},
                                           {"0,0,1,1", bits({0, 1})},
                                           {"0-3,2-5", range(0, 5)},
                                           {"8191", bits({8191})},
                                           {"0-8191", range(0, 8191)},
                                           {"007", bits({7})}}) {
        SCOPED_TRACE(std::string("'") + c.text + "'");
        CpuBits out;
        memset(&out, 0xff, sizeof(out)); /* parse_cpu_list must clear what it does not set */
        ASSERT_TRUE(libos::parse_cpu_list(c.text, &out));
        EXPECT_TRUE(same(out, c.want)) << list_of(out);
    }
}

TEST(ConfigFormat, ParseCpuListRejectsMalformed) {
    for (const char* bad : {"a", "-1", "1-", "-", "3-1", "8192", "0-8192", "0,8192", "99999999999", "0,,1", ",",
                            ",0", " 0", "0 ", "0x1", "0;1", "0-3-5", "1--3", "+1", "0-a", "0,a", "0\t", "1 -3",
                            "0-99999999999"}) {
        CpuBits out;
        EXPECT_FALSE(libos::parse_cpu_list(bad, &out)) << "accepted '" << bad << "' as " << list_of(out);
    }
}

/* LIBOS_AFFINITY as exec writes it: LIST@CLOCK (table/libos_exec.cpp), or a list alone. */
TEST(ConfigFormat, InheritedAffinity) {
    struct Case {
        const char* text;
        CpuBits mask;
        uint32_t clock;
    };
    for (const Case& c : {Case{"0-3@7", range(0, 3), 7}, Case{"0-3", range(0, 3), 0}, Case{"5", bits({5}), 0},
                          Case{"@5", CpuBits{}, 5}, Case{"", CpuBits{}, 0}, Case{"1,3@0", bits({1, 3}), 0},
                          Case{"0-8191@4294967295", range(0, 8191), 4294967295u}, Case{"0,@12", bits({0}), 12},
                          Case{"007@0000000012", bits({7}), 12}}) {
        SCOPED_TRACE(std::string("'") + c.text + "'");
        CpuBits mask;
        memset(&mask, 0xff, sizeof(mask));
        uint32_t clock = 99;
        ASSERT_TRUE(libos::parse_inherited_affinity(c.text, &mask, &clock));
        EXPECT_TRUE(same(mask, c.mask)) << list_of(mask);
        EXPECT_EQ(clock, c.clock);
    }
}

TEST(ConfigFormat, InheritedAffinityRejectsMalformed) {
    /* Read in place, so a value longer than any stack buffer is still read whole: 30000 entries of
     * "0," (60000 bytes) then a bad token must be refused, not cut short and accepted. */
    std::string long_value = join("0", 30000) + ",x@1";
    for (const char* bad : {"0-3@", "0-3@x", "0-3@7x", "0-3@4294967296", "0-3@12345678901", "0@1@2", "0,,1@1",
                            "3-1@1", "8192@1", "0-3\n@5", "0-3 @5", "@", "x", "0-3@-1", "0-3@+1", long_value.c_str()}) {
        CpuBits mask;
        uint32_t clock = 0;
        EXPECT_FALSE(libos::parse_inherited_affinity(bad, &mask, &clock)) << "accepted '" << bad << "'";
    }
}

TEST(ConfigFormat, CpuListRoundTrip) {
    std::vector<CpuBits> sets = {CpuBits{},      bits({0}),        bits({0, 1, 2, 3, 8}), bits({1, 3, 5, 6, 7, 10}),
                                 range(0, 8191), bits({8191}),     bits({63, 64, 127, 128}), range(100, 4000)};
    std::mt19937_64 rng(12345);
    for (int i = 0; i < 50; ++i) {
        CpuBits b{};
        int density = i % 5 + 1;
        for (uint32_t c = 0; c < kMaxVcpus; ++c)
            if (rng() % 8 < static_cast<uint64_t>(density))
                b.add(c);
        sets.push_back(b);
    }
    for (const CpuBits& set : sets) {
        std::string text = list_of(set);
        CpuBits back;
        ASSERT_TRUE(libos::parse_cpu_list(text.c_str(), &back)) << text.substr(0, 200);
        EXPECT_TRUE(same(back, set)) << text.substr(0, 200);
        EXPECT_EQ(back.count(), set.count());
        ASSERT_TRUE(libos::parse_cpu_list((text + "\n").c_str(), &back));
        EXPECT_TRUE(same(back, set));
    }
}

TEST(ConfigFormat, CpuBitsHelpers) {
    CpuBits b{};
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(b.count(), 0u);
    b.add(0);
    b.add(64);
    b.add(8191);
    EXPECT_FALSE(b.empty());
    EXPECT_EQ(b.count(), 3u);
    EXPECT_TRUE(b.has(0));
    EXPECT_TRUE(b.has(64));
    EXPECT_TRUE(b.has(8191));
    EXPECT_FALSE(b.has(1));
    EXPECT_FALSE(b.has(8192)); /* out of range: not a member, no out-of-bounds read */
    EXPECT_FALSE(b.has(UINT32_MAX));
}

CpuMap* make_map(const std::vector<uint16_t>& hosts, CpuMap* m) {
    m->count = static_cast<uint32_t>(hosts.size());
    for (size_t i = 0; i < hosts.size(); ++i)
        m->host_of[i] = hosts[i];
    return m;
}

TEST(ConfigFormat, CpuMapText) {
    auto m = std::make_unique<CpuMap>();
    struct Case {
        std::vector<uint16_t> hosts;
        const char* text;
    };
    for (const Case& c : std::vector<Case>{{{0}, "0"},
                                           {{0, 1, 2, 3}, "0-3"},
                                           {{0, 1, 2}, "0-2"},
                                           {{0, 1}, "0,1"},
                                           {{1, 0}, "1,0"},
                                           {{0, 0, 1, 1}, "0,0,1,1"},
                                           {{0, 1, 0, 1}, "0,1,0,1"},
                                           {{3, 2, 1, 0}, "3,2,1,0"},
                                           {{0, 1, 2, 0, 1, 2}, "0-2,0-2"},
                                           {{0, 1, 5, 6, 7, 9}, "0,1,5-7,9"},
                                           {{5, 5, 6, 7}, "5,5-7"},
                                           {{8191}, "8191"},
                                           {{8189, 8190, 8191}, "8189-8191"}}) {
        make_map(c.hosts, m.get());
        EXPECT_EQ(map_text_of(*m), c.text);
    }
    m->count = 0;
    EXPECT_EQ(map_text_of(*m), "");
}

TEST(ConfigFormat, CpuMapTextTruncatesSafely) {
    auto m = std::make_unique<CpuMap>();
    make_map({0, 1, 0, 1}, m.get());
    char buf[8];
    memset(buf, 'x', sizeof(buf));
    EXPECT_EQ(libos::format_cpu_map(*m, buf, 4), 3u);
    EXPECT_STREQ(buf, "0,1");
    EXPECT_EQ(buf[4], 'x');
}

/* format_cpu_map, then build_cpu_map on the text, gives the identical map. */
void expect_map_round_trip(const std::vector<uint16_t>& hosts) {
    auto m = std::make_unique<CpuMap>();
    make_map(hosts, m.get());
    std::string text = map_text_of(*m);
    SCOPED_TRACE(text.substr(0, 120));
    Outcome r = build(nullptr, text.c_str(), full_host());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.map, hosts);
    /* ...and the count agrees with it. */
    std::string count = std::to_string(hosts.size());
    r = build(count.c_str(), text.c_str(), full_host());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.map, hosts);
}

TEST(ConfigFormat, CpuMapRoundTrip) {
    expect_map_round_trip({0});
    expect_map_round_trip({0, 1, 2, 3});
    expect_map_round_trip({0, 0, 1, 1});
    expect_map_round_trip({0, 1, 0, 1});
    expect_map_round_trip({3, 2, 1, 0});
    expect_map_round_trip({0, 1, 2, 0, 1, 2});
    expect_map_round_trip({0, 1, 5, 6, 7, 9, 9, 10, 11, 12, 4});
    expect_map_round_trip({1, 0});
    expect_map_round_trip({8191, 0, 8190});
    std::vector<uint16_t> rr;
    for (int v = 0; v < 1024; ++v)
        rr.push_back(static_cast<uint16_t>(v % 2));
    expect_map_round_trip(rr);
    std::vector<uint16_t> rr3;
    for (int v = 0; v < 1000; ++v)
        rr3.push_back(static_cast<uint16_t>(v % 3)); /* 0,1,2 runs become ranges */
    expect_map_round_trip(rr3);
    expect_map_round_trip(iota_map(0, 8191));
    std::vector<uint16_t> full_rr;
    for (int v = 0; v < 8192; ++v)
        full_rr.push_back(static_cast<uint16_t>(v % 2 ? 8191 : 8190));
    expect_map_round_trip(full_rr);
    std::vector<uint16_t> descending;
    for (int v = 8191; v >= 0; --v)
        descending.push_back(static_cast<uint16_t>(v));
    expect_map_round_trip(descending);
}

TEST(ConfigFormat, CpuMapRoundTripRandom) {
    std::mt19937 rng(4242);
    for (int i = 0; i < 200; ++i) {
        size_t n = 1 + rng() % 300;
        uint32_t span = 1 + rng() % 16;
        std::vector<uint16_t> hosts;
        uint16_t h = static_cast<uint16_t>(rng() % 8000);
        for (size_t v = 0; v < n; ++v) {
            /* Mostly ascending runs, with jumps and repeats. */
            if (rng() % 4 == 0)
                h = static_cast<uint16_t>(rng() % span + (rng() % 2 ? 8000 : 0));
            else if (h < 8191)
                h = static_cast<uint16_t>(h + 1);
            hosts.push_back(h);
        }
        expect_map_round_trip(hosts);
        if (HasFatalFailure())
            return;
    }
}

/* ==== Translation =========================================================================== */

/* One machine for the whole process: 8 vCPUs on two host CPUs a and b, vCPU v on a when v is even and
 * on b when it is odd ("a,b,a,b,a,b,a,b"). a and b are the first two CPUs that are online on this
 * host and in this process's affinity (0 and 1 on the usual 2-CPU box). */
class Translation : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (initialised_ || !skip_reason_.empty())
            return; /* --gtest_repeat: the machine of the first round stays */
        if (libos::g_init_state.load() != libos::kUninitialized) {
            skip_reason_ = "the machine was initialised before this suite";
            return;
        }
        CpuBits online;
        std::string text = libos_test::read_file("/sys/devices/system/cpu/online");
        if (!libos::parse_cpu_list(text.c_str(), &online)) {
            skip_reason_ = "cannot read /sys/devices/system/cpu/online: '" + text + "'";
            return;
        }
        cpu_set_t affinity;
        CPU_ZERO(&affinity);
        if (sched_getaffinity(0, sizeof(affinity), &affinity) != 0) {
            skip_reason_ = "sched_getaffinity failed";
            return;
        }
        std::vector<uint32_t> usable;
        for (uint32_t c = 0; c < CPU_SETSIZE && c < kMaxVcpus && usable.size() < 2; ++c)
            if (online.has(c) && CPU_ISSET(c, &affinity))
                usable.push_back(c);
        if (usable.size() < 2) {
            skip_reason_ = "fewer than 2 CPUs are both online and in this process's affinity (online: " +
                           list_of(online) + "); an oversubscribed 2-CPU machine cannot be built";
            return;
        }
        a_ = usable[0];
        b_ = usable[1];
        map_ = join(std::to_string(a_) + "," + std::to_string(b_), 4);
        unsetenv("LIBOS_CPUS");
        unsetenv("LIBOS_STATE_FD");
        unsetenv("LIBOS_AFFINITY");
        setenv("LIBOS_CPU_MAP", map_.c_str(), 1);
        libos::init();
        initialised_ = true;
    }

    void SetUp() override {
        if (!skip_reason_.empty())
            GTEST_SKIP() << skip_reason_;
        ASSERT_TRUE(initialised_);
        ASSERT_TRUE(libos::is_virtual()) << "LIBOS_CPU_MAP=" << map_ << " did not make a virtual machine";
        ASSERT_EQ(libos::vcpu_count(), 8u);
    }

    static CpuBits all8() { return range(0, 7); }
    static CpuBits to_host(const CpuBits& v) {
        CpuBits h;
        memset(&h, 0xff, sizeof(h));
        libos::to_host(v, &h);
        return h;
    }
    static CpuBits to_virtual(const CpuBits& h) {
        CpuBits v;
        memset(&v, 0xff, sizeof(v));
        libos::to_virtual(h, &v);
        return v;
    }
    static bool subset(const CpuBits& small, const CpuBits& big) {
        for (size_t w = 0; w < libos::kMaskWords; ++w)
            if (small.words[w] & ~big.words[w])
                return false;
        return true;
    }

    static inline std::string skip_reason_;
    static inline bool initialised_ = false;
    static inline uint32_t a_ = 0, b_ = 1;
    static inline std::string map_;
};

TEST_F(Translation, MachineIsVirtual) {
    EXPECT_TRUE(libos::is_virtual());
    EXPECT_EQ(libos::g_init_state.load(), libos::kVirtual);
    EXPECT_EQ(libos::vcpu_count(), 8u);
    EXPECT_EQ(libos::vcpu_mask_size(), 8u);
    EXPECT_STREQ(libos::machine_map_text(), map_.c_str());
    for (uint32_t v = 0; v < 8; ++v)
        EXPECT_EQ(libos::host_cpu_of(v), v % 2 ? b_ : a_) << "vCPU " << v;
    /* Calling init again changes nothing. */
    libos::init();
    EXPECT_EQ(libos::vcpu_count(), 8u);
}

TEST_F(Translation, ToHostOneVcpu) {
    for (uint32_t v = 0; v < 8; ++v) {
        CpuBits want = bits({v % 2 ? b_ : a_});
        EXPECT_TRUE(same(to_host(bits({v})), want)) << "vCPU " << v << " -> " << list_of(to_host(bits({v})));
    }
    EXPECT_TRUE(same(to_host(bits({5})), bits({b_})));
}

TEST_F(Translation, ToHostVcpusSharingAHostCpu) {
    EXPECT_TRUE(same(to_host(bits({0, 2})), bits({a_}))) << list_of(to_host(bits({0, 2})));
    EXPECT_TRUE(same(to_host(bits({0, 2, 4, 6})), bits({a_})));
    EXPECT_TRUE(same(to_host(bits({1, 7})), bits({b_})));
    EXPECT_TRUE(same(to_host(bits({6, 7})), bits({a_, b_})));
}

TEST_F(Translation, ToHostWholeMachine) {
    EXPECT_TRUE(same(to_host(all8()), bits({a_, b_}))) << list_of(to_host(all8()));
}

TEST_F(Translation, ToHostEmpty) {
    EXPECT_TRUE(to_host(CpuBits{}).empty());
}

TEST_F(Translation, ToHostIgnoresBitsBeyondTheMachine) {
    EXPECT_TRUE(to_host(bits({8, 63, 64, 100, 8191})).empty()) << list_of(to_host(bits({8, 63, 64, 100, 8191})));
    EXPECT_TRUE(same(to_host(bits({3, 8, 63, 100, 8191})), bits({b_})));
    CpuBits everything;
    memset(&everything, 0xff, sizeof(everything));
    EXPECT_TRUE(same(to_host(everything), bits({a_, b_})));
}

TEST_F(Translation, ToVirtual) {
    EXPECT_TRUE(same(to_virtual(bits({b_})), bits({1, 3, 5, 7}))) << list_of(to_virtual(bits({b_})));
    EXPECT_TRUE(same(to_virtual(bits({a_})), bits({0, 2, 4, 6})));
    EXPECT_TRUE(same(to_virtual(bits({a_, b_})), all8()));
    EXPECT_TRUE(to_virtual(CpuBits{}).empty());
}

TEST_F(Translation, ToVirtualIgnoresHostCpusOffTheMachine) {
    /* A host CPU no vCPU runs on (a process outside the launch pinned elsewhere) maps to nothing. */
    uint32_t other = b_ + 1;
    EXPECT_TRUE(to_virtual(bits({other, 100, 8191})).empty());
    EXPECT_TRUE(same(to_virtual(bits({b_, other, 8191})), bits({1, 3, 5, 7})));
    CpuBits everything;
    memset(&everything, 0xff, sizeof(everything));
    EXPECT_TRUE(same(to_virtual(everything), all8()));
}

TEST_F(Translation, TrimToMachine) {
    CpuBits v = bits({3, 8, 63, 100, 8191});
    libos::trim_to_machine(&v);
    EXPECT_TRUE(same(v, bits({3}))) << list_of(v);

    CpuBits everything;
    memset(&everything, 0xff, sizeof(everything));
    libos::trim_to_machine(&everything);
    EXPECT_TRUE(same(everything, all8())) << list_of(everything);

    CpuBits none{};
    libos::trim_to_machine(&none);
    EXPECT_TRUE(none.empty());

    CpuBits inside = bits({0, 7});
    libos::trim_to_machine(&inside);
    EXPECT_TRUE(same(inside, bits({0, 7})));

    CpuBits outside = bits({8, 9, 64, 4096});
    libos::trim_to_machine(&outside);
    EXPECT_TRUE(outside.empty()) << list_of(outside);
}

TEST_F(Translation, RoundTripsEveryVirtualMask) {
    /* Every one of the 256 masks of the machine: virtual -> host -> virtual gives a superset (every
     * vCPU that shares a host CPU with a member), and translating that back to the host changes
     * nothing. */
    for (uint32_t m = 0; m < 256; ++m) {
        CpuBits v{};
        v.words[0] = m;
        CpuBits h = to_host(v);
        CpuBits back = to_virtual(h);
        ASSERT_TRUE(subset(v, back)) << "mask " << list_of(v) << " -> " << list_of(back);
        ASSERT_TRUE(same(to_host(back), h)) << "mask " << list_of(v);
        /* The superset is exact: the vCPUs of the host CPUs used. */
        CpuBits want{};
        for (uint32_t u = 0; u < 8; ++u)
            if (h.has(u % 2 ? b_ : a_))
                want.add(u);
        ASSERT_TRUE(same(back, want)) << "mask " << list_of(v) << " -> " << list_of(back);
        ASSERT_TRUE(subset(h, bits({a_, b_})));
        ASSERT_EQ(v.empty(), h.empty());
    }
}

TEST_F(Translation, RoundTripsHostMasks) {
    /* host -> virtual -> host keeps exactly the host CPUs the machine uses. */
    for (const CpuBits& h : {CpuBits{}, bits({a_}), bits({b_}), bits({a_, b_}), bits({a_, b_ + 1}),
                             bits({b_ + 1, 8191}), range(0, 8191)}) {
        CpuBits back = to_host(to_virtual(h));
        CpuBits want{};
        for (uint32_t c : {a_, b_})
            if (h.has(c))
                want.add(c);
        EXPECT_TRUE(same(back, want)) << list_of(h) << " -> " << list_of(back);
    }
}

}  // namespace
