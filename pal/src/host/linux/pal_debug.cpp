/* PalDebugLog: whole writes to the host's standard error. */
#include <errno.h>
#include <sys/syscall.h>

#include "pal/pal.h"
#include "pal_linux.h"

extern "C" void PalDebugLog(const char* buf, size_t size) {
    while (size > 0) {
        long written = pal_raw(SYS_write, 2, reinterpret_cast<long>(buf), static_cast<long>(size));
        if (written == -EINTR)
            continue;
        if (written <= 0)
            return; /* stderr closed or broken: nothing sensible left to do */
        buf += written;
        size -= static_cast<size_t>(written);
    }
}
