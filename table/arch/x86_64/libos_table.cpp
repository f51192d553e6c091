/* The x86_64 dispatch table, built at compile time from libos_syscalls.def, indexed by __NR_*. */
#include <sys/syscall.h>

#include <array>

#include "libos/libos_adapter.h"
#include "libos/libos_table.h"

namespace libos {
namespace {

#define LIBOS_SYSCALL(nr, name, support, note) +1
constexpr size_t kListedCount = 0
#include "libos_syscalls.def"
    ;
#undef LIBOS_SYSCALL

constexpr size_t highest_number() {
#define LIBOS_SYSCALL(nr, name, support, note) nr,
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

/* IMPL entries get the generated adapter of their handler and must use the kernel's number. */
#define LIBOS_HANDLER_IMPL(nr, name)                                                           \
    &Adapter<&libos_syscall_##name>::call;                                                     \
    static_assert((nr) == __NR_##name, "libos_syscalls.def disagrees with <sys/syscall.h>")
#define LIBOS_HANDLER_PASS(nr, name) nullptr
#define LIBOS_SUPPORT_IMPL Support::Implemented
#define LIBOS_SUPPORT_PASS Support::PassThrough

constexpr std::array<SyscallEntry, kTableSize> build_table() {
    std::array<SyscallEntry, kTableSize> table{};
    for (auto& entry : table)
        entry = SyscallEntry{nullptr, Support::Unknown, "", nullptr};
#define LIBOS_SYSCALL(nr, name, support, note)                                                 \
    table[nr] = SyscallEntry{#name, LIBOS_SUPPORT_##support, note, nullptr};                   \
    table[nr].handler = LIBOS_HANDLER_##support(nr, name);
#include "libos_syscalls.def"
#undef LIBOS_SYSCALL
    return table;
}

constexpr std::array<SyscallEntry, kTableSize> g_syscall_table = build_table();

constexpr size_t count_named() {
    size_t n = 0;
    for (const auto& entry : g_syscall_table)
        n += entry.name != nullptr;
    return n;
}
static_assert(count_named() == kListedCount, "a number appears twice in libos_syscalls.def");

}  // namespace

const SyscallEntry* const g_syscall_entries = g_syscall_table.data();
const size_t g_syscall_count = kTableSize;

}  // namespace libos
