/* malloc_counting: counts the calls to the program's own malloc family (this program defines them,
 * over glibc's) made while it makes traced calls. tests/trace/trace_test.py runs it with stacks and
 * file:line on: the LibOS's stacks, libunwind and libdw must take none of the program's memory (the
 * count printed is 0), as they must not on a syscall path. The first traced call is counted apart:
 * it would be where glibc allocates the thread's blocks of libunwind's, libdw's and libelf's
 * thread-local variables (as for any dlopen'ed library's), had the shim not done that when the
 * thread started (or, for the first thread, when it loaded libos_unwind.so).
 *
 *   malloc_counting N    makes 1 + N sched_getaffinity calls, prints "first: J" and "mallocs: K",
 *                        the calls to malloc, calloc, realloc, posix_memalign and free during the
 *                        first call and during the N others
 *   malloc_counting thread-signal
 *                        a new thread sends itself SIGUSR1, whose handler makes the thread's first
 *                        traced call; prints "handler: K", the calls of the malloc family made while
 *                        the handler ran (none may come from the LibOS: glibc would allocate
 *                        libos_unwind.so's libraries' thread-local blocks then, in a signal handler,
 *                        unless the thread's start did it) */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);
extern void __libc_free(void*);

static atomic_int counting, calls;

void* malloc(size_t n) {
    if (atomic_load(&counting))
        atomic_fetch_add(&calls, 1);
    return __libc_malloc(n);
}
void* calloc(size_t a, size_t b) {
    if (atomic_load(&counting))
        atomic_fetch_add(&calls, 1);
    return __libc_calloc(a, b);
}
void* realloc(void* p, size_t n) {
    if (atomic_load(&counting))
        atomic_fetch_add(&calls, 1);
    return __libc_realloc(p, n);
}
int posix_memalign(void** out, size_t align, size_t n) {
    if (atomic_load(&counting))
        atomic_fetch_add(&calls, 1);
    *out = __libc_memalign(align, n);
    return *out ? 0 : 12;
}
void free(void* p) {
    if (p && atomic_load(&counting))
        atomic_fetch_add(&calls, 1);
    __libc_free(p);
}

__attribute__((noinline)) static int counted_call(void) {
    cpu_set_t set;
    return sched_getaffinity(0, sizeof(set), &set);
}

static void on_usr1(int sig) {
    (void)sig;
    atomic_store(&counting, 1);
    counted_call();
    atomic_store(&counting, 0);
}

static void* signalled_thread(void* arg) {
    (void)arg;
    pthread_kill(pthread_self(), SIGUSR1);
    return NULL;
}

static int thread_signal(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    if (sigaction(SIGUSR1, &sa, NULL) != 0)
        return 1;
    pthread_t t;
    if (pthread_create(&t, NULL, signalled_thread, NULL) != 0 || pthread_join(t, NULL) != 0)
        return 1;
    printf("handler: %d\n", atomic_load(&calls));
    return 0;
}

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "thread-signal") == 0)
        return thread_signal();
    int n = argc > 1 ? atoi(argv[1]) : 10;
    /* The shim starts up at the first call it intercepts (and loads libos_unwind.so then, which
     * allocates as dlopen does): sysconf is one, answered without a trace line. */
    if (sysconf(_SC_NPROCESSORS_ONLN) < 1)
        return 1;
    atomic_store(&counting, 1);
    if (counted_call() != 0)
        return 1;
    int first = atomic_exchange(&calls, 0);
    for (int i = 0; i < n; ++i)
        if (counted_call() != 0)
            return 1;
    atomic_store(&counting, 0);
    printf("first: %d\nmallocs: %d\n", first, atomic_load(&calls));
    return 0;
}
