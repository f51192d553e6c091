/* The memory libdw and libelf use inside libos_unwind.so: one preallocated arena, never the program's
 * malloc. The shim loads libos_unwind.so with RTLD_DEEPBIND, so the libraries loaded with it
 * (libdw, libelf, zlib, ...) find this library's malloc, calloc, realloc, free, posix_memalign,
 * strdup, strndup, realpath, __asprintf_chk, qsort, tsearch, tfind and tdestroy before libc's: every
 * allocation of theirs during a lookup, and the libc calls of theirs that would allocate, land here.
 * (RTLD_LOCAL keeps these out of the program's own lookups.) Those libraries are shared, though: a
 * program that loads zlib, libelf or libdw with dlopen after start-up gets these very copies, bound
 * to these entries. So only the thread in a lookup (libos_arena_enter) is served from the arena;
 * any other call goes on to the program's own entry (libc's, or the malloc it interposed), found
 * with dlsym(RTLD_DEFAULT), as natively, and a pointer from outside the arena is given back to the
 * program's free. The arena is one anonymous mapping reserved at load (pages are touched only as they are
 * used); a block is carved from its end with one atomic step, and freeing the last block gives its
 * room back (libdw keeps what it reads about an object for the process's life, so little else is
 * ever freed). When the arena is full an allocation fails, and libdw's "out of memory" exit (error())
 * becomes a jump back to the lookup (libos_unwind_source.cpp), which then stops using libdw. */
#include "libos_unwind_arena.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <search.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <atomic>

namespace {

constexpr size_t kArenaBytes = 64u << 20;
constexpr size_t kAlign = 16;

struct Header {
    size_t size;   /* the bytes the caller asked for */
    size_t before; /* g_used before this block was carved */
};

std::atomic<char*> g_base_atomic{nullptr};
char* g_base = nullptr; /* g_base_atomic's value, once set */
/* The bytes carved so far; a block's header keeps where the arena ended before it, so that freeing
 * (or growing) the most recent block is one compare-and-swap on this. */
std::atomic<size_t> g_used{0};

size_t round_up(size_t n, size_t a) {
    return (n + a - 1) & ~(a - 1);
}

bool in_arena(const void* p) {
    return g_base && static_cast<const char*>(p) >= g_base && static_cast<const char*>(p) < g_base + kArenaBytes;
}

Header* header(const void* p) {
    return reinterpret_cast<Header*>(const_cast<char*>(static_cast<const char*>(p)) - sizeof(Header));
}

void* carve(size_t n, size_t align) {
    if ((!g_base && !libos_arena_reserve()) || n > kArenaBytes) {
        errno = ENOMEM;
        return nullptr;
    }
    if (align < kAlign)
        align = kAlign;
    size_t used = g_used.load(std::memory_order_relaxed), start, end;
    do {
        start = round_up(used + sizeof(Header), align);
        end = round_up(start + (n ? n : 1), kAlign);
        if (end > kArenaBytes) {
            errno = ENOMEM;
            return nullptr;
        }
    } while (!g_used.compare_exchange_weak(used, end, std::memory_order_relaxed));
    char* p = g_base + start;
    *header(p) = Header{n, used};
    return p;
}

/* The end of block p, were it the most recent one. */
size_t block_end(const void* p) {
    return round_up(static_cast<size_t>(static_cast<const char*>(p) - g_base) + (header(p)->size ? header(p)->size : 1),
                    kAlign);
}

/* The thread whose lookup uses the arena (pthread_self's value), 0 for none. */
std::atomic<unsigned long> g_owner{0};

bool for_arena() {
    return g_owner.load(std::memory_order_relaxed) == static_cast<unsigned long>(pthread_self());
}

/* The program's own entries (libc's, or those the program interposed), for calls made outside the
 * LibOS's unwinding: the global scope's, searched through the main program's handle (RTLD_DEFAULT
 * would search this library's RTLD_DEEPBIND scope first, and find these entries again). Resolved
 * when the library is loaded, so that no dlsym runs later on a traced call's path. */
#define LIBOS_PROGRAM_ENTRIES(X)                                                                         \
    X(malloc) X(calloc) X(realloc) X(free) X(posix_memalign) X(strdup) X(strndup) X(realpath)           \
    X(__vasprintf_chk) X(qsort) X(tsearch) X(tfind) X(tdestroy)
#define LIBOS_ENTRY_INDEX(name) kEntry_##name,
enum : int { LIBOS_PROGRAM_ENTRIES(LIBOS_ENTRY_INDEX) kEntries };
#define LIBOS_ENTRY_NAME(name) #name,
constexpr const char* kEntryNames[kEntries] = {LIBOS_PROGRAM_ENTRIES(LIBOS_ENTRY_NAME)};
std::atomic<void*> g_entries[kEntries];

void* program_entry(int index) {
    void* f = g_entries[index].load(std::memory_order_relaxed);
    if (!f) {
        void* program = dlopen(nullptr, RTLD_LAZY | RTLD_NOLOAD);
        f = program ? dlsym(program, kEntryNames[index]) : nullptr;
        if (!f)
            abort(); /* libc's own entries are always there */
        g_entries[index].store(f, std::memory_order_relaxed);
    }
    return f;
}
#define PROGRAM(type, name) reinterpret_cast<type>(program_entry(kEntry_##name))

__attribute__((constructor)) void resolve_program_entries() {
    for (int i = 0; i < kEntries; ++i)
        program_entry(i);
}

}  // namespace

bool libos_arena_reserve() {
    if (g_base)
        return true;
    void* p = mmap(nullptr, kArenaBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return false;
    char* expected = nullptr;
    if (!g_base_atomic.compare_exchange_strong(expected, static_cast<char*>(p)))
        munmap(p, kArenaBytes); /* another thread's came first */
    g_base = g_base_atomic.load();
    return true;
}

unsigned long libos_arena_enter() {
    return g_owner.exchange(static_cast<unsigned long>(pthread_self()), std::memory_order_relaxed);
}

void libos_arena_leave(unsigned long outer) {
    g_owner.store(outer, std::memory_order_relaxed);
}

bool libos_arena_in_lookup() {
    return for_arena();
}

size_t libos_arena_used() {
    return g_used.load(std::memory_order_relaxed);
}

bool libos_arena_nearly_full() {
    return libos_arena_used() > kArenaBytes / 4 * 3;
}

#define LIBOS_ARENA_API extern "C" __attribute__((visibility("default")))

LIBOS_ARENA_API void* malloc(size_t n) {
    if (!for_arena())
        return PROGRAM(void* (*)(size_t), malloc)(n);
    return carve(n, kAlign);
}

LIBOS_ARENA_API void* calloc(size_t count, size_t size) {
    if (!for_arena())
        return PROGRAM(void* (*)(size_t, size_t), calloc)(count, size);
    if (size && count > SIZE_MAX / size)
        return nullptr;
    void* p = carve(count * size, kAlign);
    if (p)
        memset(p, 0, count * size);
    return p;
}

LIBOS_ARENA_API void free(void* p) {
    if (!p)
        return;
    if (!in_arena(p)) {
        /* the program's memory, or libc's (realpath's, getdelim's): none on a lookup's path */
        PROGRAM(void (*)(void*), free)(p);
        return;
    }
    size_t end = block_end(p);
    g_used.compare_exchange_strong(end, header(p)->before, std::memory_order_relaxed);
}

LIBOS_ARENA_API void* realloc(void* p, size_t n) {
    if ((!p && !for_arena()) || (p && !in_arena(p))) /* the program's memory: its realloc's to grow */
        return PROGRAM(void* (*)(void*, size_t), realloc)(p, n);
    if (!p)
        return carve(n, kAlign);
    size_t end = block_end(p);
    size_t start = static_cast<size_t>(static_cast<char*>(p) - g_base);
    size_t new_end = round_up(start + (n ? n : 1), kAlign);
    size_t old = header(p)->size;
    if (new_end <= kArenaBytes && g_used.compare_exchange_strong(end, new_end, std::memory_order_relaxed)) {
        header(p)->size = n; /* the most recent block: grown or shrunk in place */
        return p;
    }
    if (n <= old) {
        header(p)->size = n;
        return p;
    }
    void* q = carve(n, kAlign);
    if (q)
        memcpy(q, p, old);
    return q;
}

LIBOS_ARENA_API int posix_memalign(void** out, size_t align, size_t n) {
    if (!for_arena())
        return PROGRAM(int (*)(void**, size_t, size_t), posix_memalign)(out, align, n);
    void* p = carve(n, align);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

LIBOS_ARENA_API char* strdup(const char* s) {
    if (!for_arena())
        return PROGRAM(char* (*)(const char*), strdup)(s);
    size_t n = strlen(s) + 1;
    char* p = static_cast<char*>(carve(n, 1));
    if (p)
        memcpy(p, s, n);
    return p;
}

LIBOS_ARENA_API char* strndup(const char* s, size_t max) {
    if (!for_arena())
        return PROGRAM(char* (*)(const char*, size_t), strndup)(s, max);
    size_t n = strnlen(s, max);
    char* p = static_cast<char*>(carve(n + 1, 1));
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* realpath(path, NULL) allocates its answer (libdw asks for the directory of each object it reads):
 * a buffer from the arena, filled by libc's fortified entry, which this library does not shadow. */
extern "C" char* __realpath_chk(const char* path, char* resolved, size_t size);
LIBOS_ARENA_API char* realpath(const char* path, char* resolved) {
    if (!for_arena())
        return PROGRAM(char* (*)(const char*, char*), realpath)(path, resolved);
    if (resolved)
        return __realpath_chk(path, resolved, PATH_MAX);
    char* p = static_cast<char*>(carve(PATH_MAX, 1));
    return p ? __realpath_chk(path, p, PATH_MAX) : nullptr;
}

LIBOS_ARENA_API int __asprintf_chk(char** out, int flag, const char* format, ...) {
    va_list args;
    va_start(args, format);
    if (!for_arena()) {
        int n = PROGRAM(int (*)(char**, int, const char*, va_list), __vasprintf_chk)(out, flag, format, args);
        va_end(args);
        return n;
    }
    char probe[1];
    va_list copy;
    va_copy(copy, args);
    int n = vsnprintf(probe, sizeof(probe), format, copy);
    va_end(copy);
    char* p = n >= 0 ? static_cast<char*>(carve(static_cast<size_t>(n) + 1, 1)) : nullptr;
    if (p)
        vsnprintf(p, static_cast<size_t>(n) + 1, format, args);
    va_end(args);
    *out = p;
    return p ? n : -1;
}


/* glibc's qsort allocates a buffer for arrays over 1 KiB: a heap sort instead, in place. */
namespace {
void swap_bytes(char* a, char* b, size_t size) {
    for (size_t i = 0; i < size; ++i) {
        char t = a[i];
        a[i] = b[i];
        b[i] = t;
    }
}
void sift_down(char* base, size_t root, size_t count, size_t size, int (*cmp)(const void*, const void*)) {
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= count)
            return;
        if (child + 1 < count && cmp(base + child * size, base + (child + 1) * size) < 0)
            ++child;
        if (cmp(base + root * size, base + child * size) >= 0)
            return;
        swap_bytes(base + root * size, base + child * size, size);
        root = child;
    }
}
}  // namespace

LIBOS_ARENA_API void qsort(void* array, size_t count, size_t size, int (*cmp)(const void*, const void*)) {
    if (!for_arena())
        return PROGRAM(void (*)(void*, size_t, size_t, int (*)(const void*, const void*)), qsort)(array, count, size, cmp);
    char* base = static_cast<char*>(array);
    if (count < 2)
        return;
    for (size_t i = count / 2; i-- > 0;)
        sift_down(base, i, count, size, cmp);
    for (size_t end = count - 1; end > 0; --end) {
        swap_bytes(base, base + end * size, size);
        sift_down(base, 0, end, size, cmp);
    }
}

/* glibc's tsearch allocates its nodes with malloc: an unbalanced binary tree from the arena
 * instead (libdw keeps a few entries per object in these trees). A node's first member is the key
 * pointer, as the interface requires. */
struct TreeNode {
    const void* key;
    TreeNode* left;
    TreeNode* right;
};

/* Outside a lookup, the program's (glibc's balanced tree, its own node layout): a tree is only ever
 * used from one side, libdw's session inside lookups, the program's copy of libdw outside. */
using TreeCompare = int (*)(const void*, const void*);

LIBOS_ARENA_API void* tsearch(const void* key, void** root, int (*cmp)(const void*, const void*)) {
    if (!for_arena())
        return PROGRAM(void* (*)(const void*, void**, TreeCompare), tsearch)(key, root, cmp);
    if (!root)
        return nullptr;
    TreeNode** at = reinterpret_cast<TreeNode**>(root);
    while (*at) {
        int c = cmp(key, (*at)->key);
        if (c == 0)
            return *at;
        at = c < 0 ? &(*at)->left : &(*at)->right;
    }
    auto* node = static_cast<TreeNode*>(carve(sizeof(TreeNode), kAlign));
    if (!node)
        return nullptr;
    *node = TreeNode{key, nullptr, nullptr};
    *at = node;
    return node;
}

LIBOS_ARENA_API void* tfind(const void* key, void* const* root, int (*cmp)(const void*, const void*)) {
    if (!for_arena())
        return PROGRAM(void* (*)(const void*, void* const*, TreeCompare), tfind)(key, root, cmp);
    if (!root)
        return nullptr;
    TreeNode* at = *reinterpret_cast<TreeNode* const*>(root);
    while (at) {
        int c = cmp(key, at->key);
        if (c == 0)
            return at;
        at = c < 0 ? at->left : at->right;
    }
    return nullptr;
}

static void destroy_tree(TreeNode* node, void (*free_key)(void*)) {
    while (node) {
        destroy_tree(node->left, free_key);
        TreeNode* right = node->right;
        if (free_key)
            free_key(const_cast<void*>(node->key));
        node = right;
    }
}

LIBOS_ARENA_API void tdestroy(void* root, void (*free_key)(void*)) {
    if (!for_arena())
        return PROGRAM(void (*)(void*, void (*)(void*)), tdestroy)(root, free_key);
    destroy_tree(static_cast<TreeNode*>(root), free_key);
}

