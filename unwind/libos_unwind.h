/* libos_unwind.so: call stacks for the LibOS, through libunwind. A separate library, loaded with
 * dlopen only when a stack is wanted (--trace-stack, or a crash inside the LibOS), so that neither
 * libunwind nor this code is mapped into a program that asks for none. */
#ifndef LIBOS_UNWIND_H
#define LIBOS_UNWIND_H

#include <stddef.h>
#include <stdint.h>

extern "C" {

struct LibosFrame {
    uintptr_t address;  /* the instruction pointer */
    uintptr_t offset;   /* from the start of `function` */
    char function[128]; /* "" when unknown */
    char object[256];   /* the file of the object that holds the address, "" when unknown */
    uintptr_t module_offset; /* the address in `object` as its ELF file has it (address minus the
                              * object's load bias): what addr2line -e OBJECT takes; 0 when unknown */
};

/* Fills up to `max` frames of the calling thread's stack, innermost first, starting at the
 * interrupted context `ucontext` when it is not null (a signal handler's third argument) or else at
 * the caller. Returns the number of frames. Uses no malloc; safe in a signal handler as far as
 * libunwind's local unwinding is. */
int libos_unwind_backtrace(void* ucontext, LibosFrame* frames, int max);

/* The source file and line of `address` (a run-time address) in `object` (its file, loaded with the
 * load bias `bias`), from the object's DWARF line table or its detached debug information under
 * /usr/lib/debug/.build-id, written to `out` as "FILE:LINE" (NUL-terminated; "" when there is no
 * debug information, the line does not fit, or another thread is looking a line up at that moment).
 * Returns 1 when a line was written. Present only in a build with libdw (the shim looks it up with
 * dlsym); it allocates only from its own arena and never waits. */
int libos_unwind_source(uintptr_t address, const char* object, uintptr_t bias, char* out, size_t size);

/* Allocates the calling thread's thread-local blocks of libunwind, libdw and libelf (glibc does that
 * with the program's malloc at a thread's first access): the shim calls it when a thread starts, so
 * that a stack's first lookup in a signal handler allocates nothing (libos_unwind_tls.cpp). */
void libos_unwind_thread_start(void);

/* The names the plugin's entries are looked up by. */
typedef int (*LibosUnwindBacktrace)(void*, LibosFrame*, int);
typedef int (*LibosUnwindSource)(uintptr_t, const char*, uintptr_t, char*, size_t);
typedef void (*LibosUnwindThreadStart)(void);
}

#endif
