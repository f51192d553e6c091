/* The caller's parts that are the same for every caller (libos_caller.h). */
#include "libos/libos_caller.h"

#include <string.h>

namespace libos {

long Caller::copy_string_in(char* dst, uintptr_t src, size_t size) const {
    constexpr uintptr_t kPage = 4096;
    size_t done = 0;
    while (done < size) {
        uintptr_t at = src + done;
        size_t chunk = kPage - (at % kPage); /* never cross into a page the string may not reach */
        if (chunk > size - done)
            chunk = size - done;
        if (copy_in(dst + done, at, chunk) < 0)
            return -EFAULT;
        const char* nul = static_cast<const char*>(memchr(dst + done, '\0', chunk));
        if (nul)
            return nul - dst;
        done += chunk;
    }
    return -ENAMETOOLONG;
}

}  // namespace libos
