/* The LibOS's text builder and /proc paths (libos_text.h). */
#include "libos/libos_sections.h"
#include "libos/libos_text.h"

#include <string.h>

#include "pal/pal.h"

namespace libos {

LIBOS_STARTUP TextBuilder::TextBuilder(char* buf, size_t size, int sink) : buf_(buf), size_(size), sink_(sink) {
    if (size_)
        buf_[0] = '\0';
}

LIBOS_STARTUP TextBuilder::~TextBuilder() {
    if (sink_ >= 0)
        flush();
}

LIBOS_STARTUP TextBuilder& TextBuilder::add(const char* s) {
    return s ? add(s, strlen(s)) : *this;
}

TextBuilder& TextBuilder::add_slow(const char* s, size_t n) {
    while (n && size_) {
        size_t room = size_ - 1 - len_;
        if (room == 0) {
            if (sink_ < 0 || flush() < 0)
                break;
            continue;
        }
        size_t take = n < room ? n : room;
        memcpy(buf_ + len_, s, take);
        len_ += take;
        s += take;
        n -= take;
    }
    if (size_)
        buf_[len_] = '\0';
    return *this;
}

LIBOS_STARTUP TextBuilder& TextBuilder::num(long v) {
    if (v < 0) {
        ch('-');
        return unum(static_cast<unsigned long>(-(v + 1)) + 1);
    }
    return unum(static_cast<unsigned long>(v));
}

LIBOS_STARTUP TextBuilder& TextBuilder::unum(uint64_t v) {
    char digits[24];
    return add(digits, format_decimal(digits, v));
}

TextBuilder& TextBuilder::hex(uint64_t v) {
    static const char digits[] = "0123456789abcdef";
    add("0x");
    char d[20];
    int n = 0;
    do {
        d[n++] = digits[v & 15];
        v >>= 4;
    } while (v);
    while (n)
        ch(d[--n]);
    return *this;
}

TextBuilder& TextBuilder::cpu_list(const CpuBits& cpus) {
    TextBuilder& t = *this;
    bool first_range = true;
    for (uint32_t cpu = 0; cpu < kMaxVcpus; ++cpu) {
        if (cpus.words[cpu / 64] == 0) {
            cpu |= 63; /* a word without CPUs: most of a small machine's 8192 */
            continue;
        }
        if (!cpus.has(cpu))
            continue;
        uint32_t last = cpu;
        while (last + 1 < kMaxVcpus && cpus.has(last + 1))
            ++last;
        if (!first_range)
            t.add(",");
        t.num(cpu);
        if (last != cpu)
            t.add("-").num(last);
        first_range = false;
        cpu = last;
    }
    return t;
}

TextBuilder& TextBuilder::cpu_list_short(const CpuBits& set) {
    char text[kShortListBytes];
    size_t n = format_cpu_list(set, text, sizeof(text));
    if (n >= sizeof(text) - 1)
        memcpy(text + sizeof(text) - 5, "...", 4);
    return add(text);
}

TextBuilder& TextBuilder::cpu_array(const CpuBits& set, uint32_t limit) {
    ch('[');
    bool first = true;
    int shown = 0;
    for (uint32_t c = 0; c < limit; ++c) {
        if (!set.has(c))
            continue;
        if (shown++ == 256)
            break;
        if (!first)
            ch(',');
        unum(c);
        first = false;
    }
    return ch(']');
}

TextBuilder& TextBuilder::printable(const char* s, size_t n, size_t limit) {
    static const char hex_digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n && s[i]; ++i) {
        if (i == limit) {
            add("...");
            break;
        }
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '\n') {
            add("\\n");
        } else if (c == '\t') {
            add("\\t");
        } else if (c < 0x20 || c == 0x7f) {
            char esc[4] = {'\\', 'x', hex_digits[c >> 4], hex_digits[c & 15]};
            add(esc, 4);
        } else {
            add(&s[i], 1);
        }
    }
    return *this;
}

TextBuilder& TextBuilder::quoted(const char* s, size_t limit) {
    static const char hex_digits[] = "0123456789abcdef";
    ch('"');
    size_t i = 0;
    while (s[i]) {
        auto c = static_cast<unsigned char>(s[i]);
        /* Strict UTF-8 (RFC 3629), as JSON readers decode it: no overlong forms (c0, c1, e0 80-9f,
         * f0 80-8f), no UTF-16 surrogates (ed a0-bf), nothing past U+10FFFF (f4 90-bf, f5-ff). */
        size_t seq = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : (c & 0xf0) == 0xe0 ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (seq > 1) {
            const auto second = static_cast<unsigned char>(s[i + 1]);
            const unsigned char low = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
            const unsigned char high = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
            if (second < low || second > high)
                seq = 0; /* not a character's first two bytes: escape the first */
        }
        for (size_t k = 1; k < seq; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80)
                seq = 0; /* a broken sequence: escape its first byte */
        if (i + (seq ? seq : 1) > limit) {
            add("...");
            break;
        }
        if (seq > 1) {
            add(s + i, seq);
            i += seq;
            continue;
        }
        if (c == '"' || c == '\\')
            ch('\\').ch(static_cast<char>(c));
        else if (c == '\n')
            add("\\n");
        else if (c < 0x20 || seq == 0)
            add("\\u00").ch(hex_digits[c >> 4]).ch(hex_digits[c & 15]);
        else
            ch(static_cast<char>(c));
        ++i;
    }
    return ch('"');
}

TextBuilder& TextBuilder::c_quoted(const char* s, size_t limit) {
    ch('"');
    size_t i = 0;
    for (; s[i] && i < limit; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        const char* named = c == '\t' ? "\\t" : c == '\n' ? "\\n" : c == '\v' ? "\\v" : c == '\f' ? "\\f"
                          : c == '\r' ? "\\r" : c == '"' ? "\\\"" : c == '\\' ? "\\\\" : nullptr;
        if (named) {
            add(named);
        } else if (c >= 0x20 && c < 0x7f) {
            ch(static_cast<char>(c));
        } else {
            ch('\\');
            const bool digit_next = s[i + 1] >= '0' && s[i + 1] <= '7';
            if (digit_next || c >= 64)
                ch(static_cast<char>('0' + (c >> 6)));
            if (digit_next || c >= 8)
                ch(static_cast<char>('0' + ((c >> 3) & 7)));
            ch(static_cast<char>('0' + (c & 7)));
        }
    }
    ch('"');
    if (s[i])
        add("...");
    return *this;
}

TextBuilder& TextBuilder::json_string(const char* s, size_t n) {
    ch('"');
    for (size_t i = 0; i < n; ++i) {
        if (s[i] == '"' || s[i] == '\\')
            ch('\\');
        ch(s[i]);
    }
    return ch('"');
}

TextBuilder& TextBuilder::json_string_since(size_t start) {
    if (!size_ || start > len_ || start + 2 > size_ - 1) {
        len_ = start < len_ ? start : len_;
        return *this;
    }
    /* How many of the bytes fit once escaped, between the two quotes. */
    size_t out = start + 2, take = 0;
    for (size_t i = start; i < len_; ++i) {
        size_t width = buf_[i] == '"' || buf_[i] == '\\' ? 2 : 1;
        if (out + width > size_ - 1)
            break;
        out += width;
        ++take;
    }
    /* From the end backwards, so that nothing is overwritten before it is moved. */
    size_t from = start + take, to = out - 1;
    buf_[to] = '"';
    while (from > start) {
        char c = buf_[--from];
        buf_[--to] = c;
        if (c == '"' || c == '\\')
            buf_[--to] = '\\';
    }
    buf_[start] = '"';
    len_ = out;
    buf_[len_] = '\0';
    return *this;
}

TextBuilder& TextBuilder::end(const char* terminator) {
    size_t n = strlen(terminator);
    if (sink_ < 0 && size_ > n && len_ + n > size_ - 1)
        len_ = size_ - 1 - n;
    return add(terminator, n);
}

long TextBuilder::flush() {
    if (sink_ >= 0 && len_ && error_ == 0)
        error_ = PalFileWriteAll(sink_, buf_, len_);
    if (sink_ >= 0) {
        len_ = 0;
        if (size_)
            buf_[0] = '\0';
    }
    return error_;
}

void TextBuilder::write_to(int fd) const {
    PalFileWriteAll(fd, buf_, len_);
}

ProcPath::ProcPath(pid_t pid) {
    memcpy(buf_, "/proc/", 7);
    len_ = 6;
    /* A pid is not negative; if one is, it names no process (and no "self"). */
    len_ += format_decimal(buf_ + len_, static_cast<uint64_t>(static_cast<uint32_t>(pid)));
}

ProcPath ProcPath::self() {
    ProcPath p(0);
    memcpy(p.buf_ + 6, "self", 5);
    p.len_ = 10;
    return p;
}

ProcPath& ProcPath::leaf(const char* name) {
    size_t n = strlen(name);
    if (len_ + 1 + n < sizeof(buf_)) {
        buf_[len_++] = '/';
        memcpy(buf_ + len_, name, n + 1);
        len_ += n;
    }
    return *this;
}

ProcPath& ProcPath::number(uint64_t n) {
    char digits[24];
    format_decimal(digits, n);
    return leaf(digits);
}

}  // namespace libos
