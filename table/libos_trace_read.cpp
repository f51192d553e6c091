/* What the tracer reads of a call's memory (libos_trace_internal.h): masks, strings, node masks and
 * structures, each through the caller's checked copy, so that a bad address is a failed read and
 * never a fault. */
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>

#include "libos/libos_init.h"
#include "libos/libos_machine.h"
#include "libos/libos_numa.h"
#include "libos/libos_table.h"
#include "libos_trace_internal.h"

namespace libos::tracer {
namespace {

/* Where a memory-policy call's node mask is: its argument and its maxnode's; -1 for other calls. */
int node_mask_argument(long nr, int* maxnode_arg) {
    switch (nr) {
        case SYS_set_mempolicy:
        case SYS_get_mempolicy:
            *maxnode_arg = 2;
            return 1;
        case SYS_mbind:
            *maxnode_arg = 4;
            return 3;
        case SYS_migrate_pages:
            *maxnode_arg = 1;
            return 2;
        default:
            return -1;
    }
}

/* A node mask in the program's memory: the first maxnode - 1 bits, at most the machine's MAX_NUMNODES. */
bool read_nodes(Caller caller, long address, long maxnode, CpuBits* out) {
    memset(out, 0, sizeof(*out));
    if (!address || maxnode <= 1 || !numa_virtual())
        return false;
    unsigned long bits = static_cast<unsigned long>(maxnode) - 1;
    if (bits > numa_max_nodes())
        bits = numa_max_nodes();
    if (caller.copy_in(out->words, static_cast<uintptr_t>(address), (bits + 63) / 64 * 8) < 0)
        return false;
    if (bits % 64)
        out->words[bits / 64] &= (1ULL << (bits % 64)) - 1;
    return true;
}

}  // namespace

/* A mask in the program's memory, as the machine reads it (min(len, mask size) bytes). */
bool read_mask(Caller caller, long address, long len, CpuBits* out) {
    memset(out, 0, sizeof(*out));
    size_t size = is_virtual() ? vcpu_mask_size() : host_mask_bytes();
    if (static_cast<unsigned long>(len) < size)
        size = static_cast<unsigned long>(len);
    if (size > sizeof(out->words))
        size = sizeof(out->words);
    return caller.copy_in(out->words, static_cast<uintptr_t>(address), size) == 0;
}

/* A string argument: the whole of it, or, longer than the buffer (a path over 255 bytes, which the
 * kernel may refuse with ENAMETOOLONG), its start, which the line shows cut with "..." as strace
 * does. False when the memory cannot be read. */
bool read_string(Caller caller, long address, char* out, size_t size, bool* cut) {
    long n = caller.copy_string_in(out, static_cast<uintptr_t>(address), size);
    *cut = n == -ENAMETOOLONG;
    if (n == -ENAMETOOLONG)
        out[size - 1] = '\0';
    return n >= 0 || n == -ENAMETOOLONG;
}

/* The structures of call `c` that it reads (`input`, before it runs) or wrote (after it succeeded),
 * copied from the program's memory into the call's two slots; a copy that fails leaves the
 * argument shown as its address. */
void read_structs(Caller caller, Call* c, bool input) {
    const char* types = syscall_arguments(c->nr);
    if (!types || c->nr == SYS_migrate_pages)
        return;
    if (input)
        for (signed char& arg : c->structs.arg)
            arg = -1;
    for (int i = 0; types[i]; ++i) {
        const size_t size = struct_bytes(types, c->args, i);
        if (!size || struct_is_input(types[i]) != input || !c->args[i])
            continue;
        int slot = 0;
        while (slot < kStructSlots && c->structs.arg[slot] >= 0)
            ++slot;
        if (slot == kStructSlots)
            slot = -1;
        if (slot < 0)
            return;
        if (caller.copy_in(c->structs.bytes[slot], static_cast<uintptr_t>(c->args[i]), size) == 0)
            c->structs.arg[slot] = static_cast<signed char>(i);
    }
}

void read_call_nodes(Caller caller, Call* c) {
    int maxnode_arg;
    int arg = node_mask_argument(c->nr, &maxnode_arg);
    if (arg < 0)
        return;
    c->have_nodes = read_nodes(caller, c->args[arg], c->args[maxnode_arg], &c->nodes);
    if (c->nr == SYS_migrate_pages)
        c->have_nodes2 = read_nodes(caller, c->args[3], c->args[maxnode_arg], &c->nodes2);
}

}  // namespace libos::tracer
