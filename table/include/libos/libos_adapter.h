/* Adapter<&handler>::call: turns the six raw argument words of a syscall into the typed arguments
 * of a libos_syscall_<name> handler, after its caller. The handler's own parameter list drives the decoding, so the
 * arity is checked at compile time and each argument is narrowed exactly as the kernel narrows it
 * (an `unsigned int len` keeps the low 32 bits of its register). */
#ifndef LIBOS_ADAPTER_H
#define LIBOS_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include <type_traits>
#include <utility>

#include "libos/libos_caller.h"
#include "libos/libos_user.h"

namespace libos {

template <typename T>
struct ArgDecoder {
    static_assert(std::is_integral_v<T> || std::is_enum_v<T> || std::is_pointer_v<T>,
                  "a handler parameter must be an integer, an enum, a pointer or a UserPtr");
    static T decode(long raw) {
        if constexpr (std::is_pointer_v<T>)
            return reinterpret_cast<T>(raw);
        else
            return static_cast<T>(raw);
    }
};

template <typename T>
struct ArgDecoder<UserPtr<T>> {
    static UserPtr<T> decode(long raw) { return UserPtr<T>(static_cast<uintptr_t>(raw)); }
};

template <auto Handler>
struct Adapter;

template <typename... Args, SyscallResult (*Handler)(Caller, Args...)>
struct Adapter<Handler> {
    static_assert(sizeof...(Args) <= 6, "a Linux system call takes at most six arguments");

    static SyscallResult call(Caller caller, const long args[6]) {
        return invoke(caller, args, std::index_sequence_for<Args...>{});
    }

private:
    template <size_t... I>
    static SyscallResult invoke(Caller caller, const long args[6], std::index_sequence<I...>) {
        return Handler(caller, ArgDecoder<Args>::decode(args[I])...);
    }
};

}  // namespace libos

#endif /* LIBOS_ADAPTER_H */
