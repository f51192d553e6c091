/* Scratch memory for the LibOS's large temporaries: a host file read whole, a generated file's text,
 * CPU sets of 8192 bits. Preloaded code runs on any stack, PTHREAD_STACK_MIN's 16 KiB thread and a
 * signal handler's SIGSTKSZ alternate stack included (docs/layout.md, "Stack"), so nothing of that
 * size may live in a frame; and it may not allocate or lock either.
 *
 * A Scratch claims one slab of a static pool (a bit of an atomic word: safe in a signal handler that
 * interrupts a claim, and between vfork and exec), and maps memory for its own call when the request
 * is larger than a slab or every slab is taken (by other threads, nested calls or handlers). The
 * memory is not cleared. A fork child keeps the slabs its parent's other threads held (they are never
 * given back there): only those requests map memory of their own. */
#ifndef LIBOS_SCRATCH_H
#define LIBOS_SCRATCH_H

#include <stddef.h>

#include <new>

namespace libos {

class Scratch {
public:
    /* One slab's size, and how many there are. */
    static constexpr size_t kSlabBytes = 32 * 1024;
    static constexpr int kSlabs = 32;

    /* `bytes` of scratch memory; data() is null when there is none (no memory to map: ENOMEM) or
     * `bytes` is 0. */
    explicit Scratch(size_t bytes);
    ~Scratch();
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;

    char* data() const { return data_; }
    size_t size() const { return size_; }
    /* The memory as `count` objects of T from byte `offset` (a multiple of alignof(T)). */
    template <typename T>
    T* at(size_t offset = 0) const {
        return data_ ? reinterpret_cast<T*>(data_ + offset) : nullptr;
    }

private:
    char* data_ = nullptr;
    size_t size_ = 0;
    int slab_ = -1; /* the slab, or -1 for a mapping of its own */
};

/* One object of T in scratch memory, default-initialised as a local of T would be (a CpuBits is left
 * uninitialised; a VfsPath gets its member initialisers): `ScratchOf<CpuBits> set; if (!set) return
 * -ENOMEM; set->add(...)`. T's destructor is not run: it must be trivial. */
template <typename T>
class ScratchOf {
    static_assert(__has_trivial_destructor(T), "scratch objects are never destroyed");
    static_assert(alignof(T) <= 64, "slabs are 64-byte aligned");

public:
    ScratchOf() : scratch_(sizeof(T)) {
        if (scratch_.data())
            new (scratch_.data()) T;
    }
    explicit operator bool() const { return scratch_.data() != nullptr; }
    T* get() const { return scratch_.at<T>(); }
    T* operator->() const { return get(); }
    T& operator*() const { return *get(); }

private:
    Scratch scratch_;
};

/* How many slabs are taken now (for tests). */
int scratch_slabs_taken();

}  // namespace libos

#endif
