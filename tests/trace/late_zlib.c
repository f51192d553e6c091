/* late_zlib: loads zlib with dlopen once running, as a program loads a plugin, and keeps N deflate
 * streams open at once (each takes about 400 KiB of zlib's malloc), then ends them. It prints
 * "streams: K", the streams that started. tests/trace/trace_test.py runs it with stacks on: the
 * zlib it gets is the copy libos_unwind.so loaded for libdw, whose allocations are the program's
 * own (its malloc) outside the LibOS's lookups, as natively; they are never limited to the LibOS's
 * arena.
 *
 *   late_zlib N */
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef int (*DeflateInit2)(z_stream*, int, int, int, int, int, const char*, int);
typedef int (*DeflateEnd)(z_stream*);

int main(int argc, char** argv) {
    int n = argc > 1 ? atoi(argv[1]) : 300;
    void* z = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!z) {
        fprintf(stderr, "late_zlib: %s\n", dlerror());
        return 2;
    }
    DeflateInit2 init = (DeflateInit2)dlsym(z, "deflateInit2_");
    DeflateEnd end = (DeflateEnd)dlsym(z, "deflateEnd");
    z_stream* streams = calloc((size_t)n, sizeof(z_stream));
    if (!init || !end || !streams)
        return 2;
    int started = 0;
    for (; started < n; ++started)
        if (init(&streams[started], 9, Z_DEFLATED, 15, 9, Z_DEFAULT_STRATEGY, ZLIB_VERSION, (int)sizeof(z_stream)) !=
            Z_OK)
            break;
    printf("streams: %d\n", started);
    /* With a path: zlib's gzopen opens it, as the program's, at the number and with the flags it
     * gets natively (the descriptor after it, and whether it is close-on-exec). */
    if (argc > 2) {
        typedef void* (*GzOpen)(const char*, const char*);
        GzOpen gzopen_fn = (GzOpen)dlsym(z, "gzopen");
        void* gz = gzopen_fn ? gzopen_fn(argv[2], "wb") : NULL;
        int next = open("/", O_RDONLY);
        printf("gzopen: %s, next descriptor %d, descriptor %d close-on-exec %d\n", gz ? "opened" : "failed", next,
               next - 1, next > 0 ? (fcntl(next - 1, F_GETFD) & FD_CLOEXEC) : -1);
    }
    for (int i = 0; i < started; ++i)
        end(&streams[i]);
    free(streams);
    return started == n ? 0 : 1;
}
