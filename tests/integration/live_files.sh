#!/usr/bin/env bash
# Generated files that change stay live (issue 14; table/vfs/live.cpp): a program that keeps
# /proc/stat or /proc/self/status open and reads it again (lseek + read, pread, preadv, syscall(),
# a dup, a fork child, a vfork child closing its copy, a copy made only in a vfork or posix_spawn child
# before exec, stdio's rewind, fseek, fsetpos, fflush) sees the counters move as natively; and the
# corners of tests/programs/live_risks.c.
# Each case runs natively first (the host is the oracle) and then under `scripts/libos-run --cpus 4`.
# TAP output. LIBOS_TEST_PROGRAMS is the build directory of tests/programs/.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
run="$root/scripts/libos-run"
progs=${LIBOS_TEST_PROGRAMS:?run through meson test}

source "$(dirname "$0")/../lib/tap.sh"

for method in lseek chunks pread preadv syscall dup fork vfork rewind fseek fseek-cur fsetpos fflush \
    fdupfd fdupfd-high fdupfd-wide exec vfork-dup2 spawn-dup2 spawn-keep pread-offset preadv-offset; do
  expect "live_files $method: natively" "advanced" "$progs/live_files" "$method"
  expect "live_files $method: --cpus 4" "advanced" "$run" --cpus 4 -- "$progs/live_files" "$method"
done

expect "descriptor calls with a live file open: natively" "ok" "$progs/live_files" calls
expect "descriptor calls with a live file open: --cpus 4" "ok" "$run" --cpus 4 -- "$progs/live_files" calls

# Two threads re-reading /proc/self/status at offset 0 while its length changes: each read whole.
expect "two threads re-reading one live descriptor: natively" "whole" "$progs/live_files" threads
expect "two threads re-reading one live descriptor: --cpus 4" "whole" "$run" --cpus 4 -- "$progs/live_files" threads
# The same with one reader in a fork child sharing the descriptor (pread and syscall(SYS_pread64)).
expect "a fork child and its parent re-reading one live descriptor: natively" "whole" "$progs/live_files" fork-readers
# Under the shim the parent makes the content through the pool's descriptor and the child through
# one of its own: before their makings excluded each other, one's length could land over the other's
# text ("torn" in 3 of 24 runs under load; 0 of 64 after). On a machine loaded far more (a test suite
# alongside) it can still print "torn", a content cut short: a maker not run for 0.2 s is taken for
# dead.
expect "a fork child and its parent re-reading one live descriptor: --cpus 4" "whole" "$run" --cpus 4 -- "$progs/live_files" fork-readers
# A fork child killed while it makes the content of the descriptor it shares: the parent's reads go
# on without waiting for it (at most the first one after waits).
expect "a fork child killed making a shared descriptor's content: natively" "no wait" "$progs/live_files" killed-maker
expect "a fork child killed making a shared descriptor's content: --cpus 4" "no wait" "$run" --cpus 4 -- "$progs/live_files" killed-maker

# Opens for writing once a live file is open: the check that the path leads to no live file's memfd
# costs at most one system call (a stat) per open, and none for O_CREAT|O_EXCL, against 3 each
# before; counted by strace between the program's two getpgid(424242) calls.
# (LeakSanitizer cannot run under ptrace: the sanitizer build's leak check is off for these runs.)
calls_between_marks() {
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -o /dev/stdout "$@" 2>/dev/null | sed -n '/getpgid(424242)/,/getpgid(424242)/p' |
    grep -vc 'getpgid(424242)'
}
if have strace; then
  native=$(calls_between_marks "$progs/live_files" write-opens)
  shimmed=$(calls_between_marks "$run" --cpus 4 -- "$progs/live_files" write-opens)
  if [ "$native" -gt 0 ] && [ "$shimmed" -le $((native + 1)) ]; then
    pass "opens for writing with a live file open: $shimmed system calls (natively $native)"
  else
    fail "opens for writing with a live file open" "$shimmed system calls (natively $native, at most $((native + 1)) expected)"
  fi
else
  skip "opens for writing with a live file open" "strace is not installed"
fi

# A vfork child's re-read of a live file leaves its parent's re-reads on the pool's fast path (the
# child runs in its parent's memory and must not leave its own id there): none of the parent's three
# re-reads opens or reads a link (the slow path's reopen of /proc/self/fd/N does both).
if have strace; then
  opens=$(ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -o /dev/stdout \
            "$run" --cpus 4 -- "$progs/live_files" vfork-reread 2>/dev/null |
          sed -n '/getpgid(424242)/,/getpgid(424242)/p' | grep -c 'openat\|readlink')
  if [ "$opens" -eq 0 ]; then
    pass "re-reads after a vfork child's re-read stay on the pool's path"
  else
    fail "re-reads after a vfork child's re-read stay on the pool's path" "$opens opens or readlinks in 3 re-reads (0 expected)"
  fi
else
  skip "re-reads after a vfork child's re-read stay on the pool's path" "strace is not installed"
fi

# /proc/self/fd/N of a live file opened for writing (open, fopen): nothing reaches its content.
expect "reopen for writing through /proc/self/fd: natively" "ok" "$progs/live_files" reopen
expect "reopen for writing through /proc/self/fd: --cpus 4" "ok" "$run" --cpus 4 -- "$progs/live_files" reopen

# The same through a directory descriptor of /proc/self/fd ("N"): the open only for writing is the
# real file's, whose write fails as natively; O_RDWR's write fails; the content is untouched.
for file in "" -status; do
  native=$("$progs/live_files" reopen-dirfd$file)
  expect "reopen-dirfd$file: natively" "$native" echo "$native"
  expect "reopen-dirfd$file: --cpus 4" "$native" "$run" --cpus 4 -- "$progs/live_files" reopen-dirfd$file
done

# What a review of live files left (live_risks.c): a posix_spawn whose listing of its copies a signal
# handler's own posix_spawn interrupts; a child of glibc's clone() with a stack of its own (a process)
# changing its affinity, and one with CLONE_SETTLS (the shim's after-fork steps must not run on
# a thread pointer of the program's); a re-read while another process truncates the file through /proc/PID/fd/N.
for case in spawn-in-handler:advanced clone-child:kept 'clone-settls:exited 5' truncated:survived; do
  method=${case%%:*} want=${case#*:}
  expect "live_risks $method: natively" "$want" "$progs/live_risks" "$method"
  expect "live_risks $method: --cpus 4" "$want" "$run" --cpus 4 -- "$progs/live_risks" "$method"
done

# /proc/self/status read again through the same descriptor after sched_setaffinity: the new list.
native=$("$progs/live_files" status)
last=${native##*pinned to }
last=${last%)}
expect "status after sched_setaffinity: natively" "$last (pinned to $last)" echo "$native"
expect "status after sched_setaffinity: --cpus 4" "3 (pinned to 3)" "$run" --cpus 4 -- "$progs/live_files" status

# busy SECONDS COMMAND...: the command while a shell loop keeps a CPU busy (so that the CPU columns
# must move).
busy() {
  local seconds=$1
  shift
  timeout "$seconds" sh -c 'while :; do :; done' &
  local loop=$!
  "$@"
  local status=$?
  kill "$loop" 2>/dev/null
  wait "$loop" 2>/dev/null
  return $status
}

# vmstat 1 3: its second and third samples are differences of /proc/stat read again through one
# descriptor (lseek + read): interrupts, context switches and CPU time must have moved.
vmstat_moves() {
  local out
  out=$(busy 4 "$@" vmstat 1 3) || { echo "$out"; return 1; }
  echo "$out" | awk 'NR >= 4 { if ($11 == 0 || $12 == 0 || $15 == 100) bad = 1; rows++ }
                     END { exit (rows == 2 && !bad) ? 0 : 1 }' || { echo "$out"; return 1; }
}
if have vmstat; then
  out=$(vmstat_moves); check "vmstat 1 3: natively, in, cs and the CPU columns move" $? "$out"
  out=$(vmstat_moves "$run" --cpus 4 --); check "vmstat 1 3: --cpus 4, in, cs and the CPU columns move" $? "$out"
else
  skip "vmstat 1 3" "vmstat (procps) is not installed"
fi

# top -b -n 2 -d 0.5: the second summary is the difference of two reads of /proc/stat.
top_moves() {
  local out
  out=$(busy 3 "$@" top -b -n 2 -d 0.5) || { echo "$out"; return 1; }
  echo "$out" | grep '^%Cpu' | sed -n 2p | grep -Eq '[^0-9.]([0-9]|[1-9][0-9])\.[0-9] id' ||
    { echo "$out" | grep '^%Cpu'; return 1; }
}
if have top; then
  out=$(top_moves); check "top -b -n 2 -d 0.5: natively, the second sample is not all idle" $? "$out"
  out=$(top_moves "$run" --cpus 4 --); check "top -b -n 2 -d 0.5: --cpus 4, the second sample is not all idle" $? "$out"
else
  skip "top -b -n 2" "top (procps) is not installed"
fi

echo "1..$n"
