#!/bin/sh
# A manual reproducer, not part of the suite (it needs gdb and ptrace): a thread suspended inside the
# write of its slot's mask (a debugger, SIGSTOP, a cgroup freezer, or a writer preempted for longer
# than the slots' spin bound) leaves the slot's sequence lock odd. After the bound (tens of ms here)
# another writer goes ahead concurrently, and when the suspended one resumes it finishes its copy
# over the other's: the mask stays torn (words of two masks) and the sequence odd, so every later
# read of that thread, its own and everyone else's, waits out the bound and returns the torn mask.
#
#   tests/stress/stopped_writer_repro.sh path/to/libshim.so
#
# Expected from a correct shim: every line ends in (B) or (C) and no read takes milliseconds.
set -eu
shim=${1:?usage: $0 path/to/libshim.so}
dir=$(mktemp -d)
trap 'exec 7>&- 2>/dev/null || true; rm -rf "$dir"' EXIT
cat > "$dir/q.cpp" <<'CPP'
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static double now() { timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static uint64_t A[16], B[16], C[16];
static const char* name(const uint64_t* m) {
    return !memcmp(m, A, 24) ? "(A)" : !memcmp(m, B, 24) ? "(B)" : !memcmp(m, C, 24) ? "(C)" : "(TORN)";
}
static void show(const char* who, const uint64_t* m, double ms) {
    printf("%s took %.1f ms: %016lx:%016lx:%016lx %s\n", who, ms, (unsigned long)m[0], (unsigned long)m[1],
           (unsigned long)m[2], name(m));
    fflush(stdout);
}
int main() { /* 130 vCPUs: three words; A = even vCPUs, B = odd, C = 0x3333... */
    for (int i = 0; i < 2; ++i) { A[i] = 0x5555555555555555ULL; B[i] = 0xAAAAAAAAAAAAAAAAULL; C[i] = 0x3333333333333333ULL; }
    A[2] = 1; B[2] = 2; C[2] = 3;
    sched_setaffinity(0, 128, (cpu_set_t*)A);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        sleep(2);                                  /* gdb attaches meanwhile */
        sched_setaffinity(0, 128, (cpu_set_t*)B);  /* gdb stops this write after its first word */
        uint64_t m[16] = {}; double t0 = now(); sched_getaffinity(0, 128, (cpu_set_t*)m);
        show("child reads itself:", m, (now() - t0) * 1e3);
        pause();
        _exit(0);
    }
    printf("child %d\n", c); fflush(stdout);
    char cmd[16];
    while (fgets(cmd, sizeof cmd, stdin)) {
        uint64_t m[16] = {}; double t0 = now();
        if (cmd[0] == 'r') {
            sched_getaffinity(c, 128, (cpu_set_t*)m);
            show("parent reads child:", m, (now() - t0) * 1e3);
        } else if (cmd[0] == 'w') {
            sched_setaffinity(c, 128, (cpu_set_t*)C);
            printf("parent sets child to C: took %.1f ms\n", (now() - t0) * 1e3); fflush(stdout);
        } else break;
    }
    kill(c, SIGKILL); waitpid(c, 0, 0);
}
CPP
g++ -O2 -o "$dir/q" "$dir/q.cpp"
mkfifo "$dir/fifo"
LD_PRELOAD=$shim LIBOS_CPUS=130 "$dir/q" < "$dir/fifo" > "$dir/out" 2>&1 &
exec 7> "$dir/fifo"
sleep 0.5
child=$(awk '/^child [0-9]/ {print $2}' "$dir/out")
# Stop the child's next slot write right after it stored the first word of the mask, then let the
# parent write the child's mask while the child is suspended.
gdb -q -batch -p "$child" \
    -ex "break 'libos::(anonymous namespace)::locked_write'" -ex continue \
    -ex 'set $slot = (char*)$rdi' -ex delete \
    -ex 'watch *(unsigned long*)($slot + 16)' -ex continue \
    -ex "shell echo w > $dir/fifo; sleep 1" \
    -ex delete -ex detach > "$dir/gdb.out" 2>&1
sleep 0.5
sleep 1; echo r >&7; sleep 0.5
sleep 1; echo r >&7; sleep 0.5
echo q >&7
wait
grep -v '^child [0-9]' "$dir/out" || { cat "$dir/gdb.out"; exit 1; }
