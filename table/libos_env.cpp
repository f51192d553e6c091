/* The environment as the LibOS reads it (libos_env.h). */
#include "libos/libos_env.h"

#include <string.h>

#include <atomic>

#include "libos/libos_sections.h"

extern char** environ;

namespace libos {

namespace {

/* Start-up asks for some twenty variables. Rather than twenty walks over the whole environment, set-up
 * walks it once (env_index_begin) and keeps the entries whose name starts with "LIBOS_", the prefix
 * of every name asked for; until env_index_end, env_get looks only at those. (Twenty walks calling
 * libc's strncmp cost a process with 40 variables some 30,000 instructions at start-up.) */
constexpr int kIndexSize = 32;
constexpr size_t kPrefixLength = 6; /* "LIBOS_", which every indexed entry and every name has */
constinit const char* g_index[kIndexSize] = {};
constinit std::atomic<int> g_index_count{-1}; /* -1: no index, walk the environment */

LIBOS_STARTUP bool has_prefix(const char* entry) {
    return entry[0] == 'L' && entry[1] == 'I' && entry[2] == 'B' && entry[3] == 'O' && entry[4] == 'S' &&
           entry[5] == '_';
}

/* `entry`'s value if its name is `name`, whose first `from` bytes are known to match (the compare is
 * written out: no call into libc). */
LIBOS_STARTUP const char* value_if_named(const char* entry, const char* name, size_t from = 0) {
    size_t i = from;
    while (name[i] != '\0' && entry[i] == name[i])
        ++i;
    return name[i] == '\0' && entry[i] == '=' ? entry + i + 1 : nullptr;
}

}  // namespace

LIBOS_STARTUP void env_index_begin() {
    int n = 0;
    for (char** e = environ; e && *e; ++e) {
        if (!has_prefix(*e))
            continue;
        if (n == kIndexSize)
            return; /* more than it holds: no index, every look-up walks the environment */
        g_index[n++] = *e;
    }
    g_index_count.store(n, std::memory_order_release);
}

LIBOS_STARTUP void env_index_end() {
    g_index_count.store(-1, std::memory_order_release);
}

LIBOS_STARTUP const char* env_get(const char* name) {
    int n = g_index_count.load(std::memory_order_acquire);
    if (n >= 0) {
        for (int i = 0; i < n; ++i)
            if (const char* value = value_if_named(g_index[i], name, kPrefixLength))
                return value;
        return nullptr;
    }
    const char first = name[0];
    for (char** e = environ; e && *e; ++e)
        if ((*e)[0] == first)
            if (const char* value = value_if_named(*e, name))
                return value;
    return nullptr;
}

LIBOS_STARTUP void env_remove(const char* name) {
    size_t len = strlen(name);
    char** out = environ;
    for (char** e = environ; e && *e; ++e)
        if (!(strncmp(*e, name, len) == 0 && (*e)[len] == '='))
            *out++ = *e;
    if (out)
        *out = nullptr;
}

}  // namespace libos
