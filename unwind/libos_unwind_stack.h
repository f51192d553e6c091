/* Stacks of their own for libos_unwind.so's entries (libos_unwind_stack.cpp). */
#ifndef LIBOS_UNWIND_STACK_H
#define LIBOS_UNWIND_STACK_H

/* Runs fn(arg) on one of the library's own stacks and returns true; when none is free (or the pool
 * could not be mapped) fn does not run and it returns false: never on the caller's stack, which may
 * be too small. An unwinder that walks out of fn continues on the caller's stack: the switch has
 * call-frame information that points back to it. */
bool libos_on_own_stack(void (*fn)(void*), void* arg);

#endif
