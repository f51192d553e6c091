/* The values of the LibOS's other settings (libos_settings.h). */
#include "libos/libos_sections.h"
#include "libos/libos_settings.h"

#include <fcntl.h>
#include <string.h>

#include "libos/libos_text.h"
#include "pal/pal.h"

namespace libos {
namespace {

bool given(const char* text) {
    return text && *text;
}

bool is(const char* text, const char* word) {
    return strcmp(text, word) == 0;
}

}  // namespace

LIBOS_STARTUP bool parse_switch(const char* setting, const char* text, bool* on, ConfigError* err) {
    if (!given(text))
        return true;
    if (is(text, "0") || is(text, "1")) {
        *on = text[0] == '1';
        return true;
    }
    config_error(err, setting, text, "expected 1 (on) or 0 (off)");
    return false;
}

LIBOS_STARTUP bool parse_trace_target(const char* setting, const char* text, TraceTarget* target, char* path, size_t size,
                        ConfigError* err) {
    path[0] = '\0';
    if (!text || is(text, "0")) {
        *target = TraceTarget::kOff;
        return true;
    }
    /* Empty has meant standard error since the first release (docs/tracing.md). */
    if (!*text || is(text, "1") || is(text, "stderr")) {
        *target = TraceTarget::kStandardError;
        return true;
    }
    *target = TraceTarget::kFile;
    size_t len = strlen(text);
    size_t dir_len = 0;
    if (text[0] != '/') {
        /* getcwd's length counts the NUL; a directory outside the root reads "(unreachable)/...". */
        long got = PalFileGetCwd(path, size);
        if (got <= 0 || path[0] != '/') {
            char why[160];
            TextBuilder(why, sizeof(why)).add("a relative file needs the current directory, which cannot be read (")
                .add(got < 0 ? strerrordesc_np(static_cast<int>(-got)) : "it is outside this process's root")
                .add(")");
            path[0] = '\0';
            config_error(err, setting, text, why);
            return false;
        }
        dir_len = static_cast<size_t>(got) - 1;
    }
    bool slash = dir_len > 0 && path[dir_len - 1] != '/';
    if (dir_len + slash + len >= size) {
        char why[96];
        TextBuilder(why, sizeof(why)).add("the file's absolute path is longer than ").unum(size - 1).add(" bytes");
        path[0] = '\0';
        config_error(err, setting, text, why);
        return false;
    }
    if (slash)
        path[dir_len++] = '/';
    memcpy(path + dir_len, text, len + 1);
    return true;
}

long open_trace_file(const char* setting, const char* text, const char* path, ConfigError* err) {
    long fd = PalFileOpen(AT_FDCWD, path, O_WRONLY | O_CREAT | O_APPEND | O_NOCTTY | O_CLOEXEC, 0644);
    if (fd >= 0)
        return fd;
    const char* reason = strerrordesc_np(static_cast<int>(-fd));
    char why[160];
    TextBuilder(why, sizeof(why)).add("cannot open it to append the trace: ").add(reason ? reason : "unknown error");
    config_error(err, setting, text, why);
    return -1;
}

LIBOS_STARTUP bool parse_trace_format(const char* setting, const char* text, bool* json, ConfigError* err) {
    if (!given(text))
        return true;
    if (is(text, "text") || is(text, "json")) {
        *json = is(text, "json");
        return true;
    }
    config_error(err, setting, text, "expected text or json");
    return false;
}

LIBOS_STARTUP bool parse_stats(const char* setting, const char* text, bool* on, bool* per_process, ConfigError* err) {
    if (!given(text))
        return true;
    if (is(text, "0") || is(text, "1") || is(text, "per-process")) {
        *on = !is(text, "0");
        *per_process = is(text, "per-process");
        return true;
    }
    config_error(err, setting, text, "expected 1 (one summary for the launch), per-process or 0 (off)");
    return false;
}

LIBOS_STARTUP bool parse_trace_time(const char* setting, const char* text, TraceTime* time, ConfigError* err) {
    if (!given(text))
        return true;
    static constexpr struct {
        const char* word;
        TraceTime time;
    } kTimes[] = {{"none", TraceTime::kNone},
                  {"wall", TraceTime::kWall},
                  {"wall-us", TraceTime::kWallUs},
                  {"relative", TraceTime::kRelative}};
    for (const auto& t : kTimes) {
        if (is(text, t.word)) {
            *time = t.time;
            return true;
        }
    }
    config_error(err, setting, text, "expected wall, wall-us, relative or none");
    return false;
}

bool per_process_trace_path(const char* setting, const char* text, const char* path, long pid, char* out,
                            size_t size, ConfigError* err) {
    char digits[24];
    size_t n = format_decimal(digits, static_cast<uint64_t>(pid));
    size_t len = strlen(path);
    if (len + 1 + n >= size) {
        char why[96];
        TextBuilder(why, sizeof(why)).add("the file's absolute path and pid are longer than ").unum(size - 1).add(" bytes");
        config_error(err, setting, text, why);
        return false;
    }
    memcpy(out, path, len);
    out[len] = '.';
    memcpy(out + len + 1, digits, n);
    out[len + 1 + n] = '\0';
    return true;
}

LIBOS_STARTUP bool parse_strict_tag(const char* setting, const char* text, uint64_t* tag, ConfigError* err) {
    *tag = 0;
    if (!given(text))
        return true;
    uint64_t value = 0;
    size_t n = 0;
    for (; text[n]; ++n) {
        char c = text[n];
        int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (digit < 0 || n == 16)
            break;
        value = value << 4 | static_cast<uint64_t>(digit);
    }
    if (n != 16 || text[n] || value == 0) {
        config_error(err, setting, text,
                     "expected strict mode's tag, 16 lowercase hexadecimal digits not all 0, as libos-run --strict "
                     "sets it");
        return false;
    }
    *tag = value;
    return true;
}

LIBOS_STARTUP bool parse_descriptor(const char* setting, const char* text, int* fd, ConfigError* err) {
    *fd = -1;
    if (!given(text))
        return true;
    uint64_t value = 0;
    size_t n = 0;
    for (; text[n] >= '0' && text[n] <= '9' && n < 11; ++n)
        value = value * 10 + static_cast<uint64_t>(text[n] - '0');
    if (text[n] || value > 2147483647u) {
        config_error(err, setting, text, "expected a descriptor number from 0 to 2147483647, as the shim writes it");
        return false;
    }
    *fd = static_cast<int>(value);
    return true;
}

LIBOS_STARTUP bool parse_descriptor_list(const char* setting, const char* text, ConfigError* err) {
    if (!given(text))
        return true;
    int count = 0;
    for (const char* p = text;; ++p) {
        uint64_t value = 0;
        size_t n = 0;
        for (; p[n] >= '0' && p[n] <= '9' && n < 11; ++n)
            value = value * 10 + static_cast<uint64_t>(p[n] - '0');
        p += n;
        if (n == 0 || value > 2147483647u || ++count > 4 || (*p && *p != ',')) {
            config_error(err, setting, text,
                         "expected up to 4 descriptor numbers from 0 to 2147483647 separated by commas, as libos-run "
                         "writes them");
            return false;
        }
        if (!*p)
            return true;
    }
}

LIBOS_STARTUP bool parse_inherited_affinity(const char* setting, const char* text, CpuBits* mask, uint32_t* clock, bool* given_out,
                              ConfigError* err) {
    *given_out = false;
    *clock = 0;
    if (!given(text))
        return true;
    if (!parse_inherited_affinity(text, mask, clock) || mask->empty()) {
        config_error(err, setting, text,
                     "expected a CPU list such as 0-3, then optionally @ and the launch's clock, as the shim writes it "
                     "at exec");
        return false;
    }
    *given_out = true;
    return true;
}

LIBOS_STARTUP bool check_absolute_path(const char* setting, const char* text, size_t size, ConfigError* err) {
    if (!given(text) || (text[0] == '/' && strlen(text) < size))
        return true;
    char why[128];
    TextBuilder(why, sizeof(why)).add("expected an absolute path shorter than ").unum(size)
        .add(" bytes, as the shim writes it at exec");
    config_error(err, setting, text, why);
    return false;
}

}  // namespace libos
