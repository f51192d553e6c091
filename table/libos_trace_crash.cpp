/* The report of a crash inside the LibOS (libos_trace.h): one line and the stack, on standard error,
 * before the process dies of the same signal. */
#include <signal.h>
#include <string.h>

#include "libos/libos_trace.h"
#include "libos_trace_internal.h"

namespace libos {

using tracer::kLineReserve;
using tracer::Line;

void report_own_crash(int sig, void* info_ptr, void* ucontext) {
    auto* info = static_cast<siginfo_t*>(info_ptr);
    Line line;
    const char* name = sigabbrev_np(sig);
    line.add("libos: fatal SIG").add(name ? name : "?").add(" inside the LibOS");
    if (info && (sig == SIGSEGV || sig == SIGBUS))
        line.add(" (fault address ").hex(reinterpret_cast<uintptr_t>(info->si_addr)).ch(')');
    line.add(": this is a bug in libos-vcpu, not in the program; its stack:\n");
    if (LibosUnwindBacktrace unwind = unwinder()) {
        LibosFrame frames[16];
        int n = unwind(ucontext, frames, 16);
        for (int i = 0; i < n && line.room(400, kLineReserve); ++i) {
            line.add("  #").num(i).ch(' ').add(frames[i].object[0] ? frames[i].object : "?").ch('(');
            if (frames[i].function[0])
                line.add(frames[i].function).add("+").hex(frames[i].offset);
            line.add(") [").hex(frames[i].address).add("]\n");
        }
    } else {
        line.add("  (no stack: libos_unwind.so could not be loaded)\n");
    }
    line.write_to(2);
}

}  // namespace libos
