/* The host's NUMA memory policy calls: set_mempolicy(2), get_mempolicy(2), mbind(2),
 * migrate_pages(2), move_pages(2) and set_mempolicy_home_node(2), each on host node masks. The LibOS
 * (table/sys/libos_numa.cpp) translates the program's virtual nodes to these. */
#include <sys/syscall.h>

#include "pal/pal.h"
#include "pal_linux.h"

#ifndef SYS_set_mempolicy_home_node
#define SYS_set_mempolicy_home_node 450
#endif

extern "C" long PalMemPolicySet(int mode, const unsigned long* nodes, unsigned long maxnode) {
    return pal_raw(SYS_set_mempolicy, mode, reinterpret_cast<long>(nodes), static_cast<long>(maxnode));
}

extern "C" long PalMemPolicyGet(int* mode, unsigned long* nodes, unsigned long maxnode, uintptr_t addr,
                                unsigned long flags) {
    return pal_raw(SYS_get_mempolicy, reinterpret_cast<long>(mode), reinterpret_cast<long>(nodes),
                   static_cast<long>(maxnode), static_cast<long>(addr), static_cast<long>(flags));
}

extern "C" long PalMemoryBind(uintptr_t start, unsigned long len, unsigned long mode, const unsigned long* nodes,
                              unsigned long maxnode, unsigned int flags) {
    return pal_raw(SYS_mbind, static_cast<long>(start), static_cast<long>(len), static_cast<long>(mode),
                   reinterpret_cast<long>(nodes), static_cast<long>(maxnode), static_cast<long>(flags));
}

extern "C" long PalMemorySetHomeNode(uintptr_t start, unsigned long len, unsigned long home_node,
                                     unsigned long flags) {
    return pal_raw(SYS_set_mempolicy_home_node, static_cast<long>(start), static_cast<long>(len),
                   static_cast<long>(home_node), static_cast<long>(flags));
}

extern "C" long PalProcessMigratePages(pid_t pid, unsigned long maxnode, const unsigned long* old_nodes,
                                       const unsigned long* new_nodes) {
    return pal_raw(SYS_migrate_pages, pid, static_cast<long>(maxnode), reinterpret_cast<long>(old_nodes),
                   reinterpret_cast<long>(new_nodes));
}

extern "C" long PalProcessMovePages(pid_t pid, unsigned long count, const void* pages, const int* nodes,
                                    int* status, int flags) {
    return pal_raw(SYS_move_pages, pid, static_cast<long>(count), reinterpret_cast<long>(pages),
                   reinterpret_cast<long>(nodes), reinterpret_cast<long>(status), flags);
}
