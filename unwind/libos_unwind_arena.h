/* The arena libdw allocates from inside libos_unwind.so (libos_unwind_arena.cpp). */
#ifndef LIBOS_UNWIND_ARENA_H
#define LIBOS_UNWIND_ARENA_H

#include <stddef.h>

/* Maps the arena (once); false when no memory could be had. */
bool libos_arena_reserve();
/* The bytes handed out so far, and whether three quarters are gone (no new object is then read). */
size_t libos_arena_used();
bool libos_arena_nearly_full();

#endif
