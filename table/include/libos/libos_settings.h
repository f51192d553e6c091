/* The values of the LibOS's settings other than the machine's count and map (libos_config.h has
 * those). Every variable of libos_env.h, and every launcher option that sets one, takes one
 * documented set of values and refuses the rest with one line naming the setting, the token and what
 * is allowed, as the machine's settings do. Shared by the launcher and the shim, so both accept and
 * refuse the same inputs with the same line. No allocation, no libc beyond string helpers: the shim
 * runs this before main.
 *
 * An empty value is the same as no value (the default), except for the trace's target, where it has
 * always meant standard error. docs/configuration.md lists every variable's values. */
#ifndef LIBOS_SETTINGS_H
#define LIBOS_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "libos/libos_config.h"

namespace libos {

/* A switch: "1" on, "0" off; null or empty leaves *on as it is (the default). LIBOS_PROPAGATE,
 * LIBOS_TRACE_STACK, LIBOS_STATS, LIBOS_TEST_STRICT_MISSING. */
bool parse_switch(const char* setting, const char* text, bool* on, ConfigError* err);

/* Where the trace's lines go (LIBOS_TRACE, --trace[=FILE]). */
enum class TraceTarget : unsigned char { kOff, kStandardError, kFile };

/* The room for a trace file's absolute path, with its NUL. */
constexpr size_t kTracePathBytes = 512;

/* Reads a trace target: null or "0": off; "", "1" or "stderr": standard error; anything else names a
 * file, whose absolute path is written to `path` (`size` bytes, kTracePathBytes): a relative name is made absolute
 * against the current directory, so that children that change directory write to the same file. A
 * file called 0, 1 or stderr is named ./0, ./1 or ./stderr. */
bool parse_trace_target(const char* setting, const char* text, TraceTarget* target, char* path, size_t size,
                        ConfigError* err);

/* Opens the trace's file, `path` as parse_trace_target made it from `text`, to append to it, creating
 * it if needed. Returns the descriptor (close-on-exec), or -1 with `err` naming the setting, the token
 * and the reason (the open's error). */
long open_trace_file(const char* setting, const char* text, const char* path, ConfigError* err);

/* The trace's format (LIBOS_TRACE_FORMAT, --trace-format): "text" or "json"; null or empty leaves
 * *json as it is (text by default). */
bool parse_trace_format(const char* setting, const char* text, bool* json, ConfigError* err);

/* The summary (LIBOS_STATS, --stats[=per-process]): "0" off, "1" one table for the launch, or
 * "per-process" a table for each process; null or empty leaves both as they are (off). */
bool parse_stats(const char* setting, const char* text, bool* on, bool* per_process, ConfigError* err);

/* The trace's timestamps (LIBOS_TRACE_TIME, --trace-time), as strace's -t, -tt and -r: "none" (the
 * default), "wall" (HH:MM:SS, UTC), "wall-us" (HH:MM:SS.uuuuuu, UTC) or "relative" (seconds since the
 * previous traced call of the process began, SSS.uuuuuu); null or empty leaves *time as it is. */
enum class TraceTime : unsigned char { kNone, kWall, kWallUs, kRelative };
bool parse_trace_time(const char* setting, const char* text, TraceTime* time, ConfigError* err);

/* The name of a trace file of one process (--trace-per-process, LIBOS_TRACE_PER_PROCESS=1):
 * `path` (as parse_trace_target made it), a dot and the pid, into `out` (`size` bytes). False, with
 * `err` naming the setting and the token, when it does not fit. */
bool per_process_trace_path(const char* setting, const char* text, const char* path, long pid, char* out,
                            size_t size, ConfigError* err);

/* ---- what one process of a launch passes to the next (written by the shim at exec, not by hand) --- */

/* Strict mode's tag (LIBOS_STRICT): 16 lowercase hex digits, not all zero; null or empty: no tag (0). */
bool parse_strict_tag(const char* setting, const char* text, uint64_t* tag, ConfigError* err);

/* A descriptor number (LIBOS_STATE_FD), 0 to 2147483647; null or empty: -1. */
bool parse_descriptor(const char* setting, const char* text, int* fd, ConfigError* err);
/* A list of such numbers separated by commas, at most four (LIBOS_STATS_OUTER_FD); empty is none. */
bool parse_descriptor_list(const char* setting, const char* text, ConfigError* err);

/* The exec'ing thread's mask (LIBOS_AFFINITY): a CPU list, then optionally '@' and the launch's clock
 * (0 to 4294967295). Null or empty: *given is false. CPUs beyond the machine are for the caller to
 * trim, as the kernel ignores mask bits at nr_cpu_ids and above. */
bool parse_inherited_affinity(const char* setting, const char* text, CpuBits* mask, uint32_t* clock, bool* given,
                              ConfigError* err);

/* A directory's path (LIBOS_CWD): absolute, and shorter than `size` bytes; null or empty: none. */
bool check_absolute_path(const char* setting, const char* text, size_t size, ConfigError* err);

}  // namespace libos

#endif
