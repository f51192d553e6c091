/* Conformance of sigaction(2) for the signals the LibOS handles itself (SIGSEGV, SIGBUS, SIGILL,
 * SIGFPE, SIGABRT: the shim answers glibc's sigaction for them through the table). What a program
 * reads back must be what libc and the kernel give for any other signal: natively both go to the
 * kernel, so this holds on any Linux; under the shim the first kind is answered by the LibOS and the
 * second by the host (glibc on x86_64 adds SA_RESTORER to every action, arm64's glibc adds nothing). */
#include <signal.h>
#include <stdio.h>

#include <string>

#include "conformance.h"

using conformance::record;

namespace {

void handler(int, siginfo_t*, void*) {}

/* The flags sigaction reads back after installing `handler` with `flags` on `sig`; the previous
 * action is put back. */
unsigned long flags_read_back(int sig, int flags) {
    struct sigaction act = {}, old = {}, now = {};
    act.sa_sigaction = handler;
    act.sa_flags = flags;
    sigemptyset(&act.sa_mask);
    if (sigaction(sig, &act, &old) != 0)
        return ~0ul;
    sigaction(sig, nullptr, &now);
    sigaction(sig, &old, nullptr);
    return static_cast<unsigned long>(static_cast<unsigned>(now.sa_flags));
}

std::string hex(unsigned long v) {
    char text[32];
    snprintf(text, sizeof(text), "%#lx", v);
    return text;
}

}  // namespace

TEST(Signals, SigactionReadsBackTheFlagsLibcGaveAsForAHostSignal) {
    for (int flags : {SA_SIGINFO, SA_SIGINFO | SA_NODEFER, SA_SIGINFO | SA_ONSTACK | SA_RESTART}) {
        const unsigned long host = flags_read_back(SIGUSR1, flags);
        for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) {
            const unsigned long got = flags_read_back(sig, flags);
            EXPECT_EQ(hex(got), hex(host)) << "signal " << sig << ", flags " << hex(static_cast<unsigned>(flags));
            record("sigaction flags of signal " + std::to_string(sig) + " given " +
                       hex(static_cast<unsigned>(flags)),
                   hex(got));
        }
    }
}
