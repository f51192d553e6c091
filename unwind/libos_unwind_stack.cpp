/* Stacks of libos_unwind.so's own (libos_unwind_stack.h). The trace runs on the program's stack,
 * whatever it is: a thread of PTHREAD_STACK_MIN's 16 KiB, or a signal handler's 8 KiB alternate
 * stack. libunwind's unwinding and naming, and libdw's first reading of an object's debug
 * information, take far more than that (the first lookup in libc, with its detached debug file, more
 * than 64 KiB). So each entry of the library moves to a stack of its own first: a pool mapped when
 * the library is loaded (the shim's start-up, or a crash report; never on a call's path), claimed
 * with one atomic step, with an inaccessible page below each, untouched (so not resident) until
 * used. The caller's stack keeps only the trace's own frames and the switch's 16 bytes.
 *
 * The switch is a few instructions per architecture, whose call-frame information gives the
 * caller's frame from the saved frame pointer: libunwind, started on the pool's stack, walks back
 * through it onto the program's stack, so the stack it prints is the program's. */
#include "libos_unwind_stack.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <initializer_list>

/* The switch's symbol is __morestack, the name of gcc's -fsplit-stack switch, which gdb knows to
 * continue a stack elsewhere: under any other name gdb's backtrace stops at it ("previous frame
 * inner to this frame"), the program's stack being below the pool's. Hidden: no other object sees
 * it, nor is bound to it. */
extern "C" void libos_call_on_stack(void (*fn)(void*), void* arg, void* top) __asm__("__morestack");

#if defined(__x86_64__)
/* rdi = fn, rsi = arg, rdx = top (16-byte aligned). The frame pointer keeps the caller's stack. */
__asm__(".text\n"
        ".globl __morestack\n"
        ".hidden __morestack\n"
        ".type __morestack, @function\n"
        "__morestack:\n"
        ".cfi_startproc\n"
        "  pushq %rbp\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset %rbp, -16\n"
        "  movq %rsp, %rbp\n"
        ".cfi_def_cfa_register %rbp\n"
        "  movq %rdx, %rsp\n"
        "  movq %rdi, %rax\n"
        "  movq %rsi, %rdi\n"
        "  callq *%rax\n"
        "  movq %rbp, %rsp\n"
        "  popq %rbp\n"
        ".cfi_def_cfa %rsp, 8\n"
        "  ret\n"
        ".cfi_endproc\n"
        ".size __morestack, .-__morestack\n");
#elif defined(__aarch64__)
/* x0 = fn, x1 = arg, x2 = top (16-byte aligned). The frame pointer keeps the caller's stack. */
__asm__(".text\n"
        ".globl __morestack\n"
        ".hidden __morestack\n"
        ".type __morestack, %function\n"
        "__morestack:\n"
        ".cfi_startproc\n"
        "  stp x29, x30, [sp, #-16]!\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset x29, -16\n"
        ".cfi_offset x30, -8\n"
        "  mov x29, sp\n"
        ".cfi_def_cfa_register x29\n"
        "  mov sp, x2\n"
        "  mov x3, x0\n"
        "  mov x0, x1\n"
        "  blr x3\n"
        "  mov sp, x29\n"
        ".cfi_def_cfa_register sp\n"
        "  ldp x29, x30, [sp], #16\n"
        ".cfi_def_cfa_offset 0\n"
        ".cfi_restore x29\n"
        ".cfi_restore x30\n"
        "  ret\n"
        ".cfi_endproc\n"
        ".size __morestack, .-__morestack\n");
#else
#error "libos_call_on_stack: no stack switch for this architecture"
#endif

namespace {

/* 32 stacks (threads unwinding at once, and handlers interrupting them) of 512 KiB: libdw's first
 * reading of libc's compressed debug information (libc6-dbg) touched 128 KiB of one (measured).
 * Mapped without reserve and untouched until used: 16 MiB of addresses, resident only as used. */
constexpr int kStacks = 32;
constexpr uint32_t kAllBusy = ~0u;
static_assert(kStacks == 32, "one bit of g_busy a stack, all of them");
constexpr size_t kStackBytes = 512 * 1024;
char* g_pool = nullptr;
size_t g_page = 4096;
std::atomic<uint32_t> g_busy{0};
/* Every signal but the faults', blocked while a handler running on its signal stack is on one of
 * these (below); and each stack's caller's mask, kept here rather than on the caller's stack. */
sigset_t g_all_but_faults;
sigset_t g_saved_masks[kStacks];

int claim() {
    uint32_t busy = g_busy.load(std::memory_order_relaxed);
    while (busy != kAllBusy) {
        const int i = __builtin_ctz(~busy);
        if (g_busy.compare_exchange_weak(busy, busy | 1u << i, std::memory_order_acquire, std::memory_order_relaxed))
            return i;
    }
    return -1;
}

/* A fork child has the one thread that forked: the stacks other threads held are free in it. */
void after_fork_child() {
    g_busy.store(0, std::memory_order_relaxed);
}

__attribute__((constructor)) void map_pool() {
    const long page = sysconf(_SC_PAGESIZE);
    if (page > 0)
        g_page = static_cast<size_t>(page);
    const size_t slot = kStackBytes + g_page;
    void* p = mmap(nullptr, slot * kStacks, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return;
    auto* pool = static_cast<char*>(p);
    for (int i = 0; i < kStacks; ++i)
        mprotect(pool + i * slot, g_page, PROT_NONE); /* the guard below each stack */
    sigfillset(&g_all_but_faults);
    for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS})
        sigdelset(&g_all_but_faults, sig);
    g_pool = pool;
    pthread_atfork(nullptr, nullptr, after_fork_child);
}

}  // namespace

bool libos_on_own_stack(void (*fn)(void*), void* arg) {
    /* With none free, fn does not run: the caller's stack (a 16 KiB thread's, an 8 KiB signal
     * stack) may be far smaller than an unwinding needs, and waiting for a stack could wait for a
     * thread this one interrupted. */
    const int i = g_pool ? claim() : -1;
    if (i < 0)
        return false;
    /* A handler on its signal stack (sigaltstack, SA_ONSTACK) that moves here is no longer on it
     * for the kernel, which would put the next SA_ONSTACK signal's frame at the top of the signal
     * stack, over the handler's own frames: the signals wait until it is back on it. */
    const int saved_errno = errno;
    stack_t own;
    const bool on_signal_stack = sigaltstack(nullptr, &own) == 0 && (own.ss_flags & SS_ONSTACK);
    if (on_signal_stack)
        pthread_sigmask(SIG_BLOCK, &g_all_but_faults, &g_saved_masks[i]);
    const size_t slot = kStackBytes + g_page;
    char* top = g_pool + (i + 1) * slot;
    libos_call_on_stack(fn, arg, top);
    if (on_signal_stack)
        pthread_sigmask(SIG_SETMASK, &g_saved_masks[i], nullptr);
    g_busy.fetch_and(~(1u << i), std::memory_order_release);
    errno = saved_errno;
    return true;
}
