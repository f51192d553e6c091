/* The dispatch table, built at compile time from the architecture's libos_syscalls.def
 * (table/arch/<arch>/, found through the include path), indexed by __NR_*. */
#include <sys/syscall.h>

#include <stdint.h>

#include <array>

#include "libos/libos_adapter.h"
#include "libos/libos_table.h"

namespace libos {
namespace {

#define LIBOS_SYSCALL(nr, name, support, strict, note, arguments) +1
constexpr size_t kListedCount = 0
#include "libos_syscalls.def"
    ;
#undef LIBOS_SYSCALL

constexpr size_t highest_number() {
#define LIBOS_SYSCALL(nr, name, support, strict, note, arguments) nr,
    const size_t numbers[] = {
#include "libos_syscalls.def"
    };
#undef LIBOS_SYSCALL
    size_t m = 0;
    for (size_t n : numbers)
        m = n > m ? n : m;
    return m;
}

constexpr size_t kTableSize = highest_number() + 1;

/* The *xattrat calls of Linux 6.13, which Debian 12's headers do not name. */
#ifndef __NR_setxattrat
#define __NR_setxattrat 463
#define __NR_getxattrat 464
#define __NR_listxattrat 465
#define __NR_removexattrat 466
#endif

/* FULL and PARTIAL entries get the generated adapter of their handler and must use the kernel's
 * number. */
#define LIBOS_HANDLER_FULL(nr, name)                                                           \
    &Adapter<&libos_syscall_##name>::call;                                                     \
    static_assert((nr) == __NR_##name, "libos_syscalls.def disagrees with <sys/syscall.h>")
#define LIBOS_HANDLER_PARTIAL(nr, name) LIBOS_HANDLER_FULL(nr, name)
#define LIBOS_HANDLER_PASS(nr, name) nullptr
#define LIBOS_SUPPORT_FULL Support::Full
#define LIBOS_SUPPORT_PARTIAL Support::Partial
#define LIBOS_SUPPORT_PASS Support::PassThrough
#define LIBOS_TRAPPED_TRAP true
#define LIBOS_TRAPPED_NOTRAP false

constexpr std::array<RawHandler, kTableSize> build_handlers() {
    std::array<RawHandler, kTableSize> table{};
#define LIBOS_SYSCALL(nr, name, support, strict, note, arguments) table[nr] = LIBOS_HANDLER_##support(nr, name);
#include "libos_syscalls.def"
#undef LIBOS_SYSCALL
    return table;
}

/* The names and notes, each NUL-terminated, one after the other in one block. */
constexpr size_t string_bytes() {
    size_t n = 1; /* "" at offset 0: the empty note */
#define LIBOS_SYSCALL(nr, name, support, strict, note, arguments) n += sizeof(#name) + sizeof(note) + sizeof(arguments);
#include "libos_syscalls.def"
#undef LIBOS_SYSCALL
    return n;
}
constexpr size_t kStringBytes = string_bytes();

struct Meta {
    uint32_t name;  /* offset of the name in the block; 0: not listed */
    uint32_t note;  /* offset of the note */
    uint32_t arguments; /* offset of the argument letters */
    Support support;
    bool trapped;
};

struct Strings {
    std::array<char, kStringBytes> text{};
    std::array<Meta, kTableSize> meta{};
};

constexpr size_t append(std::array<char, kStringBytes>& text, size_t at, const char* s) {
    size_t i = 0;
    for (; s[i]; ++i)
        text[at + i] = s[i];
    text[at + i] = '\0';
    return at + i + 1;
}

constexpr Strings build_strings() {
    Strings out{};
    size_t at = 1;
#define LIBOS_SYSCALL(nr_, name_, support_, strict_, note_, arguments_)                                \
    out.meta[nr_].name = static_cast<uint32_t>(at);                                            \
    at = append(out.text, at, #name_);                                                         \
    out.meta[nr_].note = static_cast<uint32_t>(at);                                            \
    at = append(out.text, at, note_);                                                          \
    out.meta[nr_].arguments = static_cast<uint32_t>(at);                                       \
    at = append(out.text, at, arguments_);                                                     \
    out.meta[nr_].support = LIBOS_SUPPORT_##support_;                                          \
    out.meta[nr_].trapped = LIBOS_TRAPPED_##strict_;
#include "libos_syscalls.def"
#undef LIBOS_SYSCALL
    return out;
}

constexpr std::array<RawHandler, kTableSize> g_handler_table = build_handlers();

static_assert(kTableSize <= kRoutedNumbers, "kRoutedNumbers must cover the syscall list");
/* The write family: handlers that matter only once a generated file was opened for reading and
 * writing (libos_table.h: syscall_route_writes). */
constexpr long kRoutedOnDemand[] = {__NR_write, __NR_pwrite64, __NR_writev, __NR_pwritev, __NR_pwritev2};

/* The numbers with a handler (FULL and PARTIAL, as build_handlers() gives them one), from the list's
 * support column rather than from the handlers' addresses: comparing a function's address with null
 * is not a constant expression under UBSan's instrumentation (the sanitizer build). */
constexpr std::array<uint8_t, kRoutedNumbers> build_routed() {
    std::array<uint8_t, kRoutedNumbers> routed{};
#define LIBOS_SYSCALL(nr, name, support, strict, note, arguments) \
    routed[nr] = LIBOS_SUPPORT_##support != Support::PassThrough;
#include "libos_syscalls.def"
#undef LIBOS_SYSCALL
    for (long nr : kRoutedOnDemand)
        routed[static_cast<size_t>(nr)] = 0;
    return routed;
}
constexpr Strings g_strings = build_strings();

constexpr size_t count_named() {
    size_t n = 0;
    for (const auto& m : g_strings.meta)
        n += m.name != 0;
    return n;
}
static_assert(count_named() == kListedCount, "a number appears twice in libos_syscalls.def");

/* A trapped call carries strict mode's tag in its sixth argument register: it must have a handler,
 * and that handler at most five arguments. */
template <typename... Args>
constexpr size_t arity(SyscallResult (*)(Caller, Args...)) {
    return sizeof...(Args);
}
#define LIBOS_TRAP_CHECK_TRAP(name)                                                            \
    static_assert(arity(&libos_syscall_##name) <= 5, #name ": a trapped call's sixth argument carries the tag");
#define LIBOS_TRAP_CHECK_NOTRAP(name)
#define LIBOS_TRAP_HANDLER_FULL(name)
#define LIBOS_TRAP_HANDLER_PARTIAL(name)
#define LIBOS_TRAP_HANDLER_PASS(name) static_assert(false, #name ": only a call with a handler can be trapped");
#define LIBOS_TRAP_IF_TRAP(support, name) LIBOS_TRAP_HANDLER_##support(name)
#define LIBOS_TRAP_IF_NOTRAP(support, name)
#define LIBOS_SYSCALL(nr, name, support, strict, note, arguments)                                         \
    LIBOS_TRAP_CHECK_##strict(name) LIBOS_TRAP_IF_##strict(support, name)
#include "libos_syscalls.def"
#undef LIBOS_SYSCALL

}  // namespace

constinit std::array<uint8_t, kRoutedNumbers> g_syscall_routed = build_routed();

bool syscall_routed_on_demand(long nr) {
    for (long n : kRoutedOnDemand)
        if (n == nr)
            return true;
    return false;
}

void syscall_route_writes() {
    for (long nr : kRoutedOnDemand)
        __atomic_store_n(&g_syscall_routed[static_cast<size_t>(nr)], 1, __ATOMIC_RELEASE);
}

const RawHandler* const g_syscall_handlers = g_handler_table.data();
const size_t g_syscall_count = kTableSize;

SyscallEntry syscall_entry(long nr) {
    if (static_cast<unsigned long>(nr) >= kTableSize || g_strings.meta[nr].name == 0)
        return SyscallEntry{nullptr, Support::Unknown, "", nullptr, false, ""};
    const Meta& m = g_strings.meta[nr];
    return SyscallEntry{&g_strings.text[m.name], m.support,         &g_strings.text[m.note],
                        g_handler_table[nr],       m.trapped,         &g_strings.text[m.arguments]};
}

}  // namespace libos
