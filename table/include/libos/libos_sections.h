/* Where large zero-initialized globals go. */
#ifndef LIBOS_SECTIONS_H
#define LIBOS_SECTIONS_H

/* A large array or state block that most processes never touch: in .lbss, which the linker places
 * after .bss, so that the small globals every process touches at start-up (flags, the set-up's
 * state) share one or two pages instead of lying between the arrays. Each page a process first
 * touches costs it a page fault, a microsecond or more on a virtual machine, which is most of what
 * the shim adds to a short process's start-up (docs/performance.md). Zero-initialized only. */
#if defined(__x86_64__)
#define LIBOS_LARGE_BSS __attribute__((section(".lbss")))
#else
/* Only x86-64's compiler knows .lbss holds no bits; elsewhere the name would put the zeros in the file. */
#define LIBOS_LARGE_BSS
#endif

/* A function that every process runs at start-up (the set-up and the reading of its settings): all
 * of them in .text.startup, which the linker places together ahead of .text, so that start-up
 * touches three pages of the shim's code rather than a dozen (one page fault each). They may run
 * again later (after exec, from another entry point); only their place changes. */
#define LIBOS_STARTUP __attribute__((section(".text.startup")))

/* A function of fork's path (the hooks around fork and the claim of the child's slot): with the
 * start-up code, whose pages a fork child touches anyway (the fork wrapper is there). A fork child
 * maps the shim's code again page by page as it runs it, one fault per 64 KiB it reaches. */
#define LIBOS_FORK_PATH __attribute__((section(".text.startup")))

/* A small global that a fork child reads though its process may never have touched it (a check of
 * whether there is anything to reset): in .data, whose one page every process writes at start-up (the
 * shim's flags follow it, at the start of .bss), so that the child's look finds the page mapped
 * instead of faulting a page of zeros in. */
#define LIBOS_FORK_DATA __attribute__((section(".data.libos_fork")))

#endif
