/* The arena libdw allocates from inside libos_unwind.so (libos_unwind_arena.cpp). */
#ifndef LIBOS_UNWIND_ARENA_H
#define LIBOS_UNWIND_ARENA_H

#include <stddef.h>

/* Maps the arena (once); false when no memory could be had. */
bool libos_arena_reserve();
/* The calling thread's unwinding or lookup begins (returning the thread that had the arena before,
 * for libos_arena_leave to restore: a crash report may unwind inside a lookup) or ends: only its
 * allocations (libunwind's, libdw's and those of the libraries libdw uses) are served from the
 * arena; anyone else's go to the program's malloc. */
unsigned long libos_arena_enter();
void libos_arena_leave(unsigned long outer);
/* Whether the calling thread is in an unwinding or a lookup (between enter and leave). */
bool libos_arena_in_lookup();
/* The bytes handed out so far, and whether three quarters are gone (no new object is then read). */
size_t libos_arena_used();
bool libos_arena_nearly_full();

#endif
