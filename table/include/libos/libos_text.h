/* Text helpers of the LibOS, for code that may not use the C library's formatting (it runs in signal
 * handlers and before main): no allocation, no locale. */
#ifndef LIBOS_TEXT_H
#define LIBOS_TEXT_H

#include <stddef.h>
#include <stdint.h>

namespace libos {

/* Writes `value` in decimal at `out`, NUL-terminated (at most 21 bytes). Returns the number of
 * digits. */
inline size_t format_decimal(char* out, uint64_t value) {
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value);
    size_t len = n;
    while (n)
        *out++ = digits[--n];
    *out = '\0';
    return len;
}

}  // namespace libos

#endif
