/* Start-up: reading the configuration and setting the machine up, once per process, on the first
 * call that needs it (the shim's constructor, or whichever intercepted call comes first).
 *
 * Configuration (the launcher sets these; libos_env.h lists every variable):
 *   LIBOS_CPUS=N          N vCPUs, spread round-robin over the process's host CPUs
 *   LIBOS_CPU_MAP=LIST    vCPU i on the i-th host CPU of LIST ("0-3", "0,0,1,1")
 *   LIBOS_PROPAGATE=0     do not put scrubbed-environment children back on the machine
 *   LIBOS_STRICT=TAG      strict mode: the tag the launch's seccomp filter lets through
 * and, between the processes of a launch (written by the shim at every exec):
 *   LIBOS_STATE_FD=FD     the shared state
 *   LIBOS_AFFINITY=LIST   the virtual mask of the thread that called exec
 *   LIBOS_CWD=PATH        the virtual current directory, when it is one of the CPU views */
#ifndef LIBOS_INIT_H
#define LIBOS_INIT_H

#include <atomic>

namespace libos {

struct ConfigError;

enum InitState : int {
    kUninitialized = 0,
    kInitializing = 1,
    kIdentity = 2, /* no configuration: every call passes through */
    kVirtual = 3,  /* a virtual CPU machine */
};

extern std::atomic<int> g_init_state;

/* Reads the configuration and sets the machine up, once per process. A bad configuration prints one
 * line to stderr and ends the process with status 125 before the program runs. Safe to call from
 * any thread at any time, also concurrently. */
void init();

/* The fast check every entry point makes. */
inline int ensure_init() {
    int state = g_init_state.load(std::memory_order_acquire);
    if (__builtin_expect(state < kIdentity, 0)) {
        init();
        state = g_init_state.load(std::memory_order_acquire);
    }
    return state;
}

inline bool is_virtual() {
    return ensure_init() == kVirtual;
}

/* The shim's own path, so that exec can put it back into LD_PRELOAD. Set by the shim after init,
 * when there is a machine or tracing. */
void set_preload_library(const char* shim);
const char* preload_library();
/* Whether exec puts children back on the machine (LIBOS_PROPAGATE is not 0). */
bool propagates();
/* Whether LIBOS_CPUID asked for the program's cpuid to show the machine (exec passes it on). */
bool cpuid_requested();
/* Strict mode's tag as LIBOS_STRICT gave it (16 hex digits; it is handed to the PAL), or nullptr
 * outside strict mode. set_strict_tag is init()'s: false, with the refusal in `err`, for a malformed
 * tag. */
bool set_strict_tag(const char* text, ConfigError* err);
const char* strict_tag_text();
/* Strict mode's views: the descriptor of the host's /sys/devices/system this process took from
 * LIBOS_HOST_SYSTEM_FD (pal.h: PalSetHostSystemDir), passed on at exec; -1 when none. */
int host_system_fd();

/* Refuses the configuration: `line` on standard error, and the process ends with status 125 before
 * the program runs (init's refusals, and the shim's own for its test hooks). */
[[noreturn]] void refuse(const char* line);

}  // namespace libos

#endif
