/* Stacks of their own for libos_unwind.so's entries (libos_unwind_stack.cpp). */
#ifndef LIBOS_UNWIND_STACK_H
#define LIBOS_UNWIND_STACK_H

/* Runs fn(arg) on one of the library's own stacks, or on the caller's when none is free (or the pool
 * could not be mapped). An unwinder that walks out of fn continues on the caller's stack: the switch
 * has call-frame information that points back to it. */
void libos_on_own_stack(void (*fn)(void*), void* arg);

#endif
