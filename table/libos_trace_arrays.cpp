/* exec's string arrays as strace 6.1 shows them without -v (libos_trace_internal.h): the argument
 * vector as ["ls", "/sys"], at most 32 strings of at most 32 bytes each ("..." after the quote of a
 * longer one, and after the 32nd string when more follow), an element that cannot be read as its
 * address, an array whose end cannot be read closed with "..." and the address in a comment; the
 * environment as its address and a count in a comment (37 vars). The program's memory is read here, while the
 * line is formatted (before the exec, or after it failed), through the caller's checked copy: a
 * bad pointer is shown as an address, never followed. A few words on the stack, no allocation. */
#include <errno.h>
#include <stdint.h>

#include "libos/libos_caller.h"
#include "libos_trace_internal.h"

namespace libos::tracer {
namespace {

/* strace's defaults: -s 32 (the bytes of a string shown) is also the elements of an array. */
constexpr size_t kShownBytes = 32;
constexpr unsigned kShownElements = 32;
constexpr size_t kWords = 8;
constexpr uintptr_t kPage = 4096;

/* Reads the pointers at `address`: at most `max` of them, none past the page the first begins in
 * (so that a NULL at a page's end is found even when the next page is not mapped). Returns how
 * many were read, 0 when the first cannot be. */
size_t read_words(Caller caller, uintptr_t address, uint64_t* out, size_t max) {
    size_t n = (kPage - address % kPage) / sizeof(uint64_t);
    if (n == 0)
        n = 1; /* a pointer across two pages */
    if (n > max)
        n = max;
    return caller.copy_in(out, address, n * sizeof(uint64_t)) == 0 ? n : 0;
}

/* Walks a NULL-terminated array of pointers, one at a time, reading it a few words at once. */
class PointerWalk {
public:
    PointerWalk(Caller caller, uintptr_t address) : caller_(caller), at_(address) {}
    /* The next pointer into `*out`; false at an unreadable word (at()'s address). */
    bool next(uint64_t* out) {
        if (next_ == have_) {
            have_ = read_words(caller_, at_, words_, kWords);
            next_ = 0;
            if (!have_)
                return false;
        }
        *out = words_[next_++];
        at_ += sizeof(uint64_t);
        return true;
    }
    /* The address of the word next() reads (after a failure: the one that could not be read). */
    uintptr_t at() const { return at_; }

private:
    Caller caller_;
    uintptr_t at_;
    uint64_t words_[kWords];
    size_t have_ = 0, next_ = 0;
};

void add_address(TextBuilder& line, uint64_t address, bool json) {
    if (!address)
        line.add(json ? "null" : "NULL");
    else if (json)
        line.unum(address);
    else
        line.hex(address);
}

/* One string of the array: quoted, cut at 32 bytes ("..." after the quote in text); its address
 * when it cannot be read. */
void add_element(TextBuilder& line, Caller caller, uint64_t address, bool json) {
    char text[kShownBytes + 1];
    const long n = caller.copy_string_in(text, address, sizeof(text));
    if (n < 0 && n != -ENAMETOOLONG) {
        add_address(line, address, json);
        return;
    }
    text[kShownBytes] = '\0';
    if (json)
        line.quoted(text);
    else
        line.c_quoted(text, kShownBytes);
    if (n == -ENAMETOOLONG && !json)
        line.add("...");
}

}  // namespace

void add_string_array(TextBuilder& line, Caller caller, uint64_t address, bool json) {
    if (!address) {
        add_address(line, address, json);
        return;
    }
    PointerWalk walk(caller, address);
    unsigned n = 0;
    for (;; ++n) {
        uint64_t element;
        if (!walk.next(&element)) {
            if (n == 0) {
                add_address(line, address, json); /* not even its first word: its address */
                return;
            }
            /* Its end cannot be read: where it stopped, as strace shows it. */
            if (json)
                line.add(",null");
            else
                line.add(", ... /* ").hex(walk.at()).add(" */");
            break;
        }
        if (!element)
            break;
        line.add(n == 0 ? "[" : json ? "," : ", ");
        if (n == kShownElements) {
            line.add(json ? "null" : "...");
            ++n;
            break;
        }
        add_element(line, caller, element, json);
    }
    line.add(n == 0 ? "[]" : "]");
}

void add_string_count(TextBuilder& line, Caller caller, uint64_t address, bool json) {
    if (!address) {
        add_address(line, address, json);
        return;
    }
    PointerWalk walk(caller, address);
    unsigned long count = 0;
    bool terminated = false;
    for (uint64_t element; walk.next(&element); ++count) {
        if (!element) {
            terminated = true;
            break;
        }
    }
    if (!terminated && count == 0) {
        add_address(line, address, json); /* not even its first word: its address, as strace */
        return;
    }
    if (json) {
        line.add("{\"address\":").unum(address).add(",\"vars\":").unum(count);
        if (!terminated)
            line.add(",\"unterminated\":true");
        line.ch('}');
        return;
    }
    line.hex(address).add(" /* ").unum(count).add(count == 1 ? " var" : " vars");
    if (!terminated)
        line.add(", unterminated");
    line.add(" */");
}

}  // namespace libos::tracer
