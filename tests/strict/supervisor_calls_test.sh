#!/usr/bin/env bash
# Strict mode's supervisor: how many system calls it makes for one trapped call (docs/strict-mode.md,
# "Where a trapped call's time goes"). A system call in the supervisor costs as much as the caller's
# own call, and its round trip is the floor of a trapped call, so the count is what decides its time
# beyond that floor; unlike a time, it does not move with the machine's load.
#
# strace follows the launch; the supervisor's threads are the tasks that receive notifications
# (SECCOMP_IOCTL_NOTIF_RECV). Every call they make from their first receive on is counted, and divided
# by the number of notifications received. The probe is strict_raw_static, whose raw calls only the
# supervisor answers:
#   - sched_getaffinity(0) of a caller met before: the receive, one check that the caller's pidfd is
#     still its own (pidfd_send_signal), the host's mask of the thread, the copy out
#     (process_vm_writev) and the answer: 5. A check that the call still waits
#     (SECCOMP_IOCTL_NOTIF_ID_VALID) is not needed there: the live pidfd says the tid is the caller's.
#   - openat of /dev/null: the receive, the path read (process_vm_readv), the check that the call still
#     waited when it was read (ID_VALID) and the answer (CONTINUE): 4. Whether the caller shares the
#     supervisor's root, mount namespace and /proc (three looks at /proc) is asked only of a path that
#     may be a view's.
# The first call of each thread meets it (a pidfd and its PID namespace), so the averages are of many
# calls. Without strace, or where it cannot trace, those checks are skipped.
#
# And the supervisor's threads: one receives at a time (counted by their voluntary context switches),
# and a thread held by one call is taken over by another (a test build's hook holds it). TAP output.
set -u

L=${LIBOS_LAUNCHER:?LIBOS_LAUNCHER must name build/launcher/libos-run}
S=${LIBOS_STRICT_STATIC:?LIBOS_STRICT_STATIC must name strict_raw_static}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset LIBOS_CPUS LIBOS_CPU_MAP LIBOS_PROPAGATE LIBOS_STATE_FD LIBOS_AFFINITY LIBOS_SHIM_PATH LD_PRELOAD \
  LIBOS_TRACE LIBOS_TRACE_STACK LIBOS_TRACE_FORMAT LIBOS_STATS LIBOS_TEST_STRICT_MISSING

n=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
fail() {
  n=$((n + 1))
  echo "not ok $n - $1"
  shift
  local line
  for line in "$@"; do printf '%s\n' "$line" | head -n 60 | sed 's/^/#   /'; done
}

calls=200
# The supervisor's calls per notification, from strace's log $1: "<notifications> <calls>
# <per notification> <the calls by name>". A call strace splits (<unfinished ...>, then <... resumed>)
# is counted once.
per_notification() {
  awk '
    { tid = $1; line = $0; sub(/^[0-9]+ +/, "", line) }
    line ~ /^<\.\.\. / { next }
    line ~ /SECCOMP_IOCTL_NOTIF_RECV/ { sup[tid] = 1; recv++ }
    sup[tid] {
      name = line; sub(/\(.*/, "", name)
      if (line ~ /SECCOMP_IOCTL_NOTIF_/) { op = line; sub(/.*SECCOMP_IOCTL_NOTIF_/, "", op); sub(/[^A-Z_].*/, "", op); name = name "/" op }
      total++; by[name]++
    }
    END {
      if (recv == 0) { print "0 0 0 -"; exit }
      list = ""
      for (k in by) list = list sprintf("%s=%d ", k, by[k])
      printf "%d %d %.2f %s\n", recv, total, total / recv, list
    }' "$1"
}

value() { sed -n "s/^$1=//p" "$tmp/out" | head -n 1; }

timeout -k 5 60 "$L" --strict --cpus 2 -- "$S" switches 1 >"$tmp/out" 2>"$tmp/err"
if [ $? -ne 0 ]; then
  skip "the supervisor's threads" "libos-run --strict does not run here: $(tail -n 1 "$tmp/err")"
  echo "1..$n"
  exit 0
fi
threads=$(value supervisor_threads)

# One thread receives at a time: the others would be woken (and moved to the caller's CPU) by every
# notification, only to sleep again. Counted by the threads' voluntary context switches: the one that
# receives sleeps at most once per call; each further waiter would sleep once per call too, so the
# threads but the one that slept most sleep far fewer times than there are calls.
if [ "${threads:-0}" -lt 2 ]; then
  skip "one supervisor thread receives at a time" "one supervisor thread here (${threads:-?}): the launch may run on one host CPU"
else
  timeout -k 5 120 "$L" --strict --cpus 2 -- "$S" switches "$((calls * 10))" >"$tmp/out" 2>"$tmp/err"
  got=$(value supervisor_switches_others)
  all=$(value supervisor_switches)
  if [ -z "$got" ] || [ "$got" -lt 0 ]; then
    fail "one supervisor thread receives at a time: no count" "$(cat "$tmp/out" "$tmp/err")"
  elif [ "$got" -le $((calls * 10 / 4)) ]; then
    pass "one supervisor thread receives at a time: in $((calls * 10)) trapped calls, $threads threads slept $all times, all but one $got times"
  else
    fail "one supervisor thread receives at a time: in $((calls * 10)) trapped calls, $threads threads slept $all times, all but one $got times (threads woken for nothing)" "$(cat "$tmp/out")"
  fi
fi

# A thread held by one call (here a test build's hook holds it until another call is answered) does
# not hold up the launch: a thread standing by takes over.
# The hook is in builds with test_hooks (meson.build: "auto" is on in a test build that is not a release).
hooks=$(python3 -c '
import json, sys
opts = {o["name"]: o["value"] for o in json.load(open(sys.argv[1]))}
hooks = opts.get("test_hooks")
if hooks == "auto":
    hooks = opts.get("tests") is True and opts.get("buildtype") not in ("release", "plain", "minsize")
print("yes" if hooks in (True, "true") else "no")' "${LIBOS_BUILD_DIR:-}/meson-info/intro-buildoptions.json" 2>/dev/null)
if [ "${threads:-0}" -lt 2 ]; then
  skip "a held supervisor thread is taken over" "one supervisor thread here"
elif [ "$hooks" != yes ]; then
  skip "a held supervisor thread is taken over" "this build has no test hooks"
else
  timeout -k 5 120 "$L" --strict --cpus 2 -- "$S" stall >"$tmp/out" 2>"$tmp/err"
  status=$?
  if [ "$(value stall)" = answered ]; then
    pass "a held supervisor thread is taken over: another answered meanwhile"
  else
    fail "a held supervisor thread is taken over (status $status)" "$(cat "$tmp/out" "$tmp/err")"
  fi
fi
# Two threads held at once (the second after it took over from the first): a third takes over. Three
# supervisor threads whatever this host's CPUs (a test build's LIBOS_TEST_SUPERVISOR_THREADS).
if [ "$hooks" != yes ]; then
  skip "two held supervisor threads: a third takes over" "this build has no test hooks"
else
  LIBOS_TEST_SUPERVISOR_THREADS=3 timeout -k 5 60 "$L" --strict --cpus 2 -- "$S" stall2 >"$tmp/out" 2>"$tmp/err"
  status=$?
  if [ "$(value stall2)" = answered ]; then
    pass "two held supervisor threads: a third takes over and answers"
  else
    fail "two held supervisor threads: a third takes over (status $status)" "$(cat "$tmp/out" "$tmp/err")"
  fi
fi

# Can strace follow a launch here (ptrace may be forbidden, or strace missing)?
if ! command -v strace >/dev/null 2>&1; then
  skip "supervisor calls per notification" "strace is not installed"
  echo "1..$n"
  exit 0
fi
if ! timeout -k 5 60 strace -f -qq -o "$tmp/probe" -- "$L" --strict --cpus 2 -- "$S" count >/dev/null 2>&1 ||
  ! grep -q SECCOMP_IOCTL_NOTIF_RECV "$tmp/probe"; then
  skip "supervisor calls per notification" "strace cannot follow a strict launch here (or names no seccomp ioctl)"
  echo "1..$n"
  exit 0
fi

# check NAME LIMIT COMMAND...: the launch's supervisor makes at most LIMIT calls per notification.
check() {
  local name=$1 limit=$2
  shift 2
  local args=() i
  for ((i = 0; i < calls; i++)); do args+=("$@"); done
  if ! timeout -k 5 120 strace -f -qq -o "$tmp/log" -- "$L" --strict --cpus 2 -- "$S" "${args[@]}" >"$tmp/out" 2>"$tmp/err"; then
    fail "$name: the launch failed" "$(cat "$tmp/err")"
    return
  fi
  local got
  got=$(per_notification "$tmp/log")
  read -r recv total per list <<<"$got"
  if [ "$recv" -lt "$calls" ]; then
    fail "$name: $calls trapped calls, $recv notifications received" "$got"
  elif awk -v p="$per" -v l="$limit" 'BEGIN { exit !(p <= l) }'; then
    pass "$name: $per system calls per notification (at most $limit): $list"
  else
    fail "$name: $per system calls per notification, more than $limit" "$recv notifications, $total calls: $list"
  fi
}

# 5 for a caller met before, and the first call's look-up spread over the calls.
check "raw sched_getaffinity(0)" 5.3 count
# 4: the path is read and the call continued; no look at /proc.
check "raw openat of /dev/null, left to the host" 4.3 read /dev/null

echo "1..$n"
