/* Text helpers of the LibOS, for code that may not use the C library's formatting (it runs in signal
 * handlers and before main): no allocation, no locale.
 *
 * TextBuilder is the one way the LibOS builds text: a configuration error's line, a generated file's
 * content, a trace line. */
#ifndef LIBOS_TEXT_H
#define LIBOS_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "libos/libos_config.h"

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

/* Text built in a fixed buffer, always NUL-terminated. With a sink (a descriptor), a full buffer is
 * written out and building goes on: a generated file of any length. Without one, text past the end
 * is cut. */
class TextBuilder {
public:
    TextBuilder(char* buf, size_t size, int sink = -1);
    ~TextBuilder();
    TextBuilder(const TextBuilder&) = delete;
    TextBuilder& operator=(const TextBuilder&) = delete;

    TextBuilder& add(const char* s);
    /* Inline while the bytes fit: the generated files are built of many short pieces (a /proc file's
     * fields), and the call per piece (or per character) cost more than the host's own read. */
    TextBuilder& add(const char* s, size_t n) {
        if (__builtin_expect(len_ + n < size_, 1)) {
            __builtin_memcpy(buf_ + len_, s, n);
            len_ += n;
            buf_[len_] = '\0';
            return *this;
        }
        return add_slow(s, n);
    }
    TextBuilder& ch(char c) {
        if (__builtin_expect(len_ + 1 < size_, 1)) {
            buf_[len_++] = c;
            buf_[len_] = '\0';
            return *this;
        }
        return add_slow(&c, 1);
    }
    TextBuilder& num(long v);
    TextBuilder& unum(uint64_t v);
    /* 0x and lowercase hex digits. */
    TextBuilder& hex(uint64_t v);
    /* A CPU list as the kernel writes it ("0-3,8"), whole (table/libos_config.cpp). */
    TextBuilder& cpu_list(const CpuBits& set);
    /* The same, cut with "..." to fit in kShortListBytes (a trace line's share): a small stack
     * frame, for the paths that run on any thread's stack. */
    static constexpr size_t kShortListBytes = 512;
    TextBuilder& cpu_list_short(const CpuBits& set);
    /* A CPU set as a JSON array of numbers below `limit` (at most 256 of them). */
    TextBuilder& cpu_array(const CpuBits& set, uint32_t limit);
    /* Text from a user, as one printable line: control characters as \n, \t or \xNN, and at most
     * `limit` characters of it, then "...". */
    TextBuilder& printable(const char* s, size_t n, size_t limit);
    /* A string a program passed, quoted and escaped for text and JSON alike: at most `limit` bytes,
     * never cut inside a UTF-8 character; bytes that are not UTF-8 as \u00NN. */
    TextBuilder& quoted(const char* s, size_t limit = 96);
    /* A string a program passed, quoted as strace prints it in its text: printable ASCII as it is,
     * \t \n \v \f \r \" \\ by name, any other byte in octal (three digits when an octal digit
     * follows, as \0017; else as few as it needs, \1, \33, \303); at most `limit` bytes, then
     * "..." after the closing quote. */
    TextBuilder& c_quoted(const char* s, size_t limit);
    /* Text already formatted (a line's worth), as a JSON string: only " and \ escaped. */
    TextBuilder& json_string(const char* s, size_t n);
    /* What was added since length `start`, rewritten in place as json_string would write it (without
     * a sink; what does not fit is cut). A line's second copy of a text need not be on the stack. */
    TextBuilder& json_string_since(size_t start);
    /* Ends the text with `terminator`, cutting what came before if it must (without a sink). */
    TextBuilder& end(const char* terminator);

    const char* data() const { return buf_; }
    size_t length() const { return len_; }
    /* Room for n more bytes and `reserve` after them, without a flush or a cut. */
    bool room(size_t n, size_t reserve = 0) const { return len_ + n + reserve + 1 < size_; }

    /* With a sink: writes what is built so far. Returns the first write error, or 0. */
    long flush();
    long error() const { return error_; }
    /* Writes the text to `fd` whole (without a sink). */
    void write_to(int fd) const;

private:
    TextBuilder& add_slow(const char* s, size_t n);

    char* buf_;
    size_t size_;
    size_t len_ = 0;
    int sink_;
    long error_ = 0;
};

/* A TextBuilder with its own storage of N bytes (the storage, a base, is there before the builder). */
template <size_t N>
struct TextBuilderStorage {
    char storage[N];
};
template <size_t N>
class FixedText : private TextBuilderStorage<N>, public TextBuilder {
public:
    explicit FixedText(int sink = -1) : TextBuilder(this->storage, N, sink) {}
};

/* "/proc/<pid>/..." paths: ProcPath(pid).leaf("task").number(tid).leaf("status"), and
 * ProcPath::self() for "/proc/self/...". */
class ProcPath {
public:
    explicit ProcPath(pid_t pid);
    static ProcPath self();
    /* Appends "/name" ("ns/mnt" is fine). */
    ProcPath& leaf(const char* name);
    /* Appends "/n". */
    ProcPath& number(uint64_t n);
    const char* c_str() const { return buf_; }

private:
    char buf_[128];
    size_t len_ = 0;
};

}  // namespace libos

#endif
