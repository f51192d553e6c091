#!/usr/bin/env bash
# Real programs, run natively and under scripts/libos-run with no configuration: their output must
# be identical. TAP output; a program that is not installed is skipped with the reason.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
run="$root/scripts/libos-run"

n=0
plan=()
check() { # check NAME COMMAND...: compares native and shimmed stdout+status
  local name=$1
  shift
  n=$((n + 1))
  local native shimmed
  native=$("$@" 2>&1; echo "status $?")
  shimmed=$("$run" -- "$@" 2>&1; echo "status $?")
  if [ "$native" == "$shimmed" ]; then
    echo "ok $n - $name: $(echo "$native" | head -n 1)"
  else
    echo "not ok $n - $name"
    diff <(echo "$native") <(echo "$shimmed") | sed 's/^/# /'
  fi
}
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }

check "nproc" nproc
check "nproc --all" nproc --all
check "getconf _NPROCESSORS_ONLN" getconf _NPROCESSORS_ONLN
check "getconf _NPROCESSORS_CONF" getconf _NPROCESSORS_CONF
check "taskset -c 0 nproc" taskset -c 0 nproc
check "taskset -cp on own shell" sh -c 'taskset -cp $$ | sed "s/^pid [0-9]*/pid N/"'
check "taskset -p on another process" sh -c 'sleep 5 & p=$!; taskset -p $p | sed "s/^pid [0-9]*/pid N/"; taskset -cp 0 $p >/dev/null; taskset -cp $p | sed "s/^pid [0-9]*/pid N/"; kill $p'
check "Cpus_allowed_list" sh -c 'grep Cpus_allowed /proc/self/status'
check "exit status passes through" sh -c 'exit 3'
check "tar (fortified opens of directories)" sh -c 'tar -cf - -C / etc/hostname etc/passwd 2>/dev/null | tar -tf -'
if command -v python3 >/dev/null; then
  check "python3 cpu_count and sched_getaffinity" python3 -c 'import os; print(os.cpu_count(), sorted(os.sched_getaffinity(0)))'
  check "python3 set then get" python3 -c 'import os; os.sched_setaffinity(0, {0}); print(os.sched_getaffinity(0))'
  check "python3 errors" python3 -c '
import os
for mask in (set(), {100000}):
    try:
        os.sched_setaffinity(0, mask)
    except OSError as e:
        print(type(e).__name__, e.errno)'
else
  skip "python3" "python3 is not installed"
fi
if command -v node >/dev/null; then
  check "node availableParallelism and cpus" node -e 'const os=require("os"); console.log(os.availableParallelism(), os.cpus().length)'
else
  skip "node" "node is not installed"
fi
echo "1..$n"
