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

namespace {


/* A node mask in the program's memory as strace 6.1 reads it: (maxnode + 62) / 64 words (none for a
 * maxnode of 0, which strace shows as []), of which the first kNodeMaskWordsShown are kept; false
 * (the mask shown as its address) for a null or unreadable one, and for a maxnode of 1, whose mask
 * strace does not read either. Read whether or not the machine has virtual nodes: it is the
 * program's side. */
bool read_nodes(Caller caller, long address, long maxnode, CpuBits* out) {
    memset(out, 0, sizeof(*out));
    const unsigned long words = node_mask_words(maxnode);
    if (!address || (maxnode != 0 && words == 0))
        return false;
    const unsigned long read = words < kNodeMaskWordsShown ? words : kNodeMaskWordsShown;
    return read == 0 || caller.copy_in(out->words, static_cast<uintptr_t>(address), read * 8) == 0;
}

}  // namespace

/* A mask in the program's memory, as strace reads it: the program's side, bits beyond the machine's
 * CPUs included (the kernel ignores those, but the program passed them). */
bool read_mask(Caller caller, long address, long len, CpuBits* out, bool* more) {
    memset(out, 0, sizeof(*out));
    /* strace's get_cpuset_size: 128 bytes, doubled while sched_getaffinity says EINVAL (a host of
     * more than 1024 CPUs: known here with a machine, whose topology has the kernel's mask size). */
    const size_t host = is_virtual() ? host_mask_bytes() : 0;
    size_t size = 128;
    while (size < host)
        size <<= 1;
    if (size > sizeof(out->words))
        size = sizeof(out->words);
    *more = static_cast<unsigned long>(len) > size;
    if (static_cast<unsigned long>(len) < size)
        size = static_cast<unsigned long>(len);
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

bool lists_directory(long nr) {
#ifdef SYS_getdents /* x86_64's; arm64 has getdents64 alone */
    if (nr == SYS_getdents)
        return true;
#endif
    return nr == SYS_getdents64;
}

/* The string a call wrote into argument `arg`, `n` bytes (at most path2's, NUL added), for its line. */
void read_written(Caller caller, Call* c, int arg, long n) {
    if (c->have_path2 || n < 0)
        return;
    const size_t bytes = static_cast<size_t>(n) < sizeof(c->path2) - 1 ? static_cast<size_t>(n) : sizeof(c->path2) - 1;
    if (caller.copy_in(c->path2, static_cast<uintptr_t>(c->args[arg]), bytes) != 0)
        return;
    c->path2[bytes] = '\0';
    c->out_arg = static_cast<signed char>(arg + 1);
}

void read_after_call(Caller caller, Call* c) {
    c->entries = -1;
    if (c->result < 0)
        return;
    /* getcwd's result counts the NUL; readlink's bytes have none. */
    if (c->nr == SYS_getcwd && c->result > 0)
        read_written(caller, c, 0, c->result - 1);
#ifdef SYS_readlink
    if (c->nr == SYS_readlink)
        read_written(caller, c, 1, c->result);
#endif
    if (c->nr == SYS_readlinkat)
        read_written(caller, c, 2, c->result);
    if (!lists_directory(c->nr))
        return;
    /* Both records have their 16-bit d_reclen at byte 16 (after two 64-bit words on 64-bit). */
    long count = 0;
    for (long at = 0; at < c->result; ++count) {
        uint16_t reclen;
        if (caller.copy_in(&reclen, static_cast<uintptr_t>(c->args[1] + at + 16), sizeof(reclen)) != 0 || !reclen)
            break;
        at += reclen;
    }
    c->entries = count;
}

}  // namespace libos::tracer
