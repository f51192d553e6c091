/* The environment as the LibOS reads it (libos_env.h). */
#include "libos/libos_env.h"
#include "libos/libos_sections.h"

#include <string.h>

extern char** environ;

namespace libos {

LIBOS_STARTUP const char* env_get(const char* name) {
    size_t len = strlen(name);
    for (char** e = environ; e && *e; ++e)
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
            return *e + len + 1;
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
