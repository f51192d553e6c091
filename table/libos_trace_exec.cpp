/* The line of a successful exec (libos_trace_internal.h). The program that called exec formatted
 * it, all but its result and duration, and passed it in LIBOS_TRACE_EXEC (libos_trace.cpp,
 * exec_with_line); the new program prints it, with = 0, as strace -f shows a successful execve
 * once it has returned. A failed exec printed its own line: either way one line. */
#include <string.h>

#include "libos/libos_env.h"
#include "libos/libos_sections.h"
#include "libos/libos_text.h"
#include "libos/libos_trace.h"
#include "pal/pal.h"
#include "libos_trace_internal.h"

namespace libos::tracer {
namespace {

constexpr size_t kStartDigits = 20;

/* The exec'ing process's id after the start's digits and their comma: where the head begins (after
 * the id's comma), or null when the id is not there. */
const char* after_pid(const char* value, uint64_t* pid, bool* spawned = nullptr) {
    const char* p = value + kStartDigits + 1;
    /* 's': posix_spawn's line, formatted by the parent: the id is the new program's parent's. */
    if (spawned)
        *spawned = *p == 's';
    if (*p == 's')
        ++p;
    uint64_t v = 0;
    size_t n = 0;
    for (; p[n] >= '0' && p[n] <= '9' && n < 10; ++n)
        v = v * 10 + static_cast<uint64_t>(p[n] - '0');
    if (n == 0 || p[n] != ',')
        return nullptr;
    *pid = v;
    return p + n + 1;
}

/* A spawned program's line was formatted by its parent: its "PID/TID " (text) or
 * {"v":1,"pid":PID,"tid":TID (JSON) become this process's. Returns where the rest of the head is. */
const char* with_own_pid(TextBuilder& line, const char* head, long pid) {
    const char* at = head;
    if (*at == '{') {
        const char* tid = strstr(at, ",\"tid\":");
        if (!tid)
            return head;
        at = tid + 7;
        while (*at >= '0' && *at <= '9')
            ++at;
        line.add("{\"v\":").unum(kTraceJsonVersion).add(",\"pid\":").num(pid).add(",\"tid\":").num(pid);
        return at;
    }
    const char* space = strchr(at, ' ');
    if (!space)
        return head;
    line.num(pid).ch('/').num(pid);
    return space;
}

/* The part of `value` from `from` up to the next '\x1f' (or its end). */
const char* field_end(const char* from) {
    const char* sep = strchr(from, '\x1f');
    return sep ? sep : from + strlen(from);
}

}  // namespace

LIBOS_STARTUP bool check_exec_line(const char* value, ConfigError* err) {
    if (!value || !value[0])
        return true;
    bool good = strlen(value) > kStartDigits && value[kStartDigits] == ',';
    for (size_t i = 0; good && i < kStartDigits; ++i)
        good = value[i] >= '0' && value[i] <= '9';
    uint64_t pid = 0;
    const char* head = good ? after_pid(value, &pid) : nullptr;
    const char* first = head ? strchr(head, '\x1f') : nullptr;
    if (!first || !strchr(first + 1, '\x1f')) {
        char token[24];
        size_t n = strnlen(value, sizeof(token) - 1);
        memcpy(token, value, n);
        token[n] = '\0';
        config_error(err, kEnvTraceExec, token,
                     "expected the traced exec's line that the LibOS passes to the new program (not set by hand)");
        return false;
    }
    return true;
}

void print_exec_line(const char* value, uint64_t now_ns, long pid) {
    uint64_t start = 0, exec_pid = 0;
    for (size_t i = 0; i < kStartDigits; ++i)
        start = start * 10 + static_cast<uint64_t>(value[i] - '0');
    const uint64_t ns = now_ns > start ? now_ns - start : 0;
    bool spawned = false;
    const char* head = after_pid(value, &exec_pid, &spawned);
    /* exec keeps the process's id: another one (the child of a program the shim is not in, a static
     * one, which passed its environment on as it got it) did not make this exec. posix_spawn's child
     * execs what its parent, which formatted the line, asked for. */
    if (!head || exec_pid != static_cast<uint64_t>(spawned ? PalProcessGetParentId() : pid))
        return;
    const char* head_end = field_end(head);
    const char* middle = head_end + 1;
    const char* middle_end = field_end(middle);
    const char* frames = *middle_end ? middle_end + 1 : middle_end;
    Line line;
    if (spawned)
        head = with_own_pid(line, head, pid);
    line.add(head, static_cast<size_t>(head_end - head));
    if (json_on()) {
        line.add(",\"result\":0,\"errno\":null,\"usecs\":").unum(ns / 1000).add(",\"ns\":").unum(ns);
        line.add(middle, static_cast<size_t>(middle_end - middle)).add(frames).add("}\n");
    } else {
        /* " = 0 <libos> <0.000123>", then the frames, as a returned call's line. */
        char digits[24];
        size_t n = format_decimal(digits, ns / 1000000000ull);
        char frac[7];
        uint64_t us = ns / 1000 % 1000000;
        for (int i = 5; i >= 0; --i, us /= 10)
            frac[i] = static_cast<char>('0' + us % 10);
        frac[6] = '\0';
        line.add(" = 0").add(middle, static_cast<size_t>(middle_end - middle)).add(" <").add(digits, n).ch('.')
            .add(frac).add(">\n").add(frames);
    }
    line.write_to(output_fd());
}

}  // namespace libos::tracer
