/* PalSetHostSystemDir and the redirect behind it. Strict mode mounts generated
 * /sys/devices/system/{cpu,node} trees in the launch's private mount namespace (docs/strict-mode.md),
 * so that static programs' stat and listings see the machine. The LibOS itself must still read the
 * host's files under those paths: the launcher passes a descriptor of the host's /sys/devices/system,
 * opened before the namespace was made, and the PAL's path calls resolve those two subtrees through
 * it. Cheap: one load and, for absolute paths under /sys/devices/system/, a prefix comparison. */
#include <fcntl.h>
#include <string.h>

#include "pal/pal.h"
#include "pal_linux.h"

namespace {

constinit int g_host_system_fd = -1;

/* "cpu" or "node" at the start of `rest`, as a whole component. */
bool names_view_root(const char* rest) {
    if (memcmp(rest, "cpu", 3) == 0 && (rest[3] == '\0' || rest[3] == '/'))
        return true;
    return memcmp(rest, "node", 4) == 0 && (rest[4] == '\0' || rest[4] == '/');
}

}  // namespace

extern "C" void PalSetHostSystemDir(int fd) {
    __atomic_store_n(&g_host_system_fd, fd, __ATOMIC_RELAXED);
}

bool pal_host_path(int* dirfd, const char** path) {
    const int fd = __atomic_load_n(&g_host_system_fd, __ATOMIC_RELAXED);
    const char* p = *path;
    if (__builtin_expect(fd < 0, 1) || !p || p[0] != '/')
        return false;
    constexpr char kPrefix[] = "/sys/devices/system/";
    constexpr size_t kPrefixLength = sizeof(kPrefix) - 1;
    if (strncmp(p, kPrefix, kPrefixLength) != 0 || !names_view_root(p + kPrefixLength))
        return false;
    *dirfd = fd;
    *path = p + kPrefixLength;
    return true;
}
