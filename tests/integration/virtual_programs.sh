#!/usr/bin/env bash
# Real programs under `scripts/libos-run --cpus N` (N = 1, 3, 8) and `--cpu-map 1,0`: every way they
# learn their CPUs must agree with N. TAP output; a runtime that is not installed is skipped with
# the reason. LIBOS_TEST_PROGRAMS is the build directory of tests/programs/.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
run="$root/scripts/libos-run"
progs=${LIBOS_TEST_PROGRAMS:?run through meson test}

source "$(dirname "$0")/../lib/tap.sh"

# host_cpus_after LIBOS-RUN-OPTIONS -- SHELL-COMMAND [WRAPPER...]: runs the shell command in a launch,
# then reads the host CPUs of that shell from outside the launch (from this script, which the shim
# does not see), where nothing is virtualized.
host_cpus_after() {
  local opts=()
  while [ "$1" != "--" ]; do opts+=("$1"); shift; done
  shift
  local command=$1
  shift
  local file
  file=$(mktemp)
  "$@" "$run" "${opts[@]}" -- sh -c "$command; echo \$\$ > $file; sleep 5" &
  local launch=$!
  for _ in $(seq 100); do [ -s "$file" ] && break; sleep 0.05; done
  sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "/proc/$(cat "$file")/status"
  pkill -P "$launch" 2>/dev/null
  kill "$launch" 2>/dev/null
  wait "$launch" 2>/dev/null
  rm -f "$file"
} 2>/dev/null # bash reports the killed launch as "Terminated"

hex_mask() { python3 -c "print(format((1 << $1) - 1, 'x'))"; }
py_set() { python3 -c "print(set(range($1)))"; }

for cpus in 1 3 8; do
  v=(--cpus "$cpus")
  last=$((cpus - 1))
  expect "--cpus $cpus: nproc" "$cpus" "$run" "${v[@]}" -- nproc
  expect "--cpus $cpus: nproc --all" "$cpus" "$run" "${v[@]}" -- nproc --all
  expect "--cpus $cpus: getconf _NPROCESSORS_ONLN" "$cpus" "$run" "${v[@]}" -- getconf _NPROCESSORS_ONLN
  expect "--cpus $cpus: getconf _NPROCESSORS_CONF" "$cpus" "$run" "${v[@]}" -- getconf _NPROCESSORS_CONF
  expect "--cpus $cpus: taskset -p" "mask: $(hex_mask "$cpus")" \
    "$run" "${v[@]}" -- sh -c 'taskset -p $$ | sed "s/.*current affinity //"'
  expect "--cpus $cpus: taskset -c $last then -p" "list: $last" \
    "$run" "${v[@]}" -- sh -c "taskset -cp $last \$\$ >/dev/null && taskset -cp \$\$ | sed 's/.*current affinity //'"
  expect "--cpus $cpus: python3 os.cpu_count, os.sched_getaffinity" "$cpus $(py_set "$cpus")" \
    "$run" "${v[@]}" -- python3 -c 'import os; print(os.cpu_count(), os.sched_getaffinity(0))'
  expect "--cpus $cpus: python3 set then get" "{$last}" \
    "$run" "${v[@]}" -- python3 -c "import os; os.sched_setaffinity(0, {$last}); print(os.sched_getaffinity(0))"
  expect "--cpus $cpus: python3 os.sched_getaffinity of the parent" "$(py_set "$cpus")" \
    "$run" "${v[@]}" -- sh -c 'python3 -c "import os; print(os.sched_getaffinity(os.getppid()))"'
  if command -v node >/dev/null; then
    expect "--cpus $cpus: node os.availableParallelism" "$cpus" \
      "$run" "${v[@]}" -- node -e 'console.log(require("os").availableParallelism())'
  else
    skip "--cpus $cpus: node" "node is not installed"
  fi
  expect "--cpus $cpus: C++ std::thread::hardware_concurrency" "$cpus" "$run" "${v[@]}" -- "$progs/hardware_concurrency"
  if [ -x "$progs/openmp_procs" ]; then
    expect "--cpus $cpus: OpenMP omp_get_num_procs, team size" "$cpus $cpus" "$run" "${v[@]}" -- "$progs/openmp_procs"
  else
    skip "--cpus $cpus: OpenMP" "libgomp (OpenMP) is not available to the compiler"
  fi
  want=$(for ((c = 0; c < cpus; c++)); do echo "cpu $c: sched_getcpu $c getcpu $c"; done)
  expect "--cpus $cpus: pinned to each vCPU, sched_getcpu and getcpu read it" "$want" "$run" "${v[@]}" -- "$progs/pin_each"
  expect "--cpus $cpus: env -i child stays on the machine" "$cpus" "$run" "${v[@]}" -- env -i /usr/bin/nproc
  # Programs that read the CPU files.
  expect "--cpus $cpus: grep -c ^processor /proc/cpuinfo" "$cpus" "$run" "${v[@]}" -- grep -c ^processor /proc/cpuinfo
  expect "--cpus $cpus: cat /sys/devices/system/cpu/online" "$( [ "$cpus" -eq 1 ] && echo 0 || echo "0-$last")" \
    "$run" "${v[@]}" -- cat /sys/devices/system/cpu/online
  expect "--cpus $cpus: cd /sys/devices/system/cpu; cat online; cd cpu$last; /bin/pwd" \
    "$( [ "$cpus" -eq 1 ] && echo 0 || echo "0-$last") /sys/devices/system/cpu/cpu$last" \
    "$run" "${v[@]}" -- sh -c "cd /sys/devices/system/cpu && echo \$(cat online) \$(cd cpu$last && /bin/pwd)"
  expect "--cpus $cpus: ls /sys/devices/system/cpu | grep -c cpuN" "$cpus" \
    "$run" "${v[@]}" -- sh -c 'ls /sys/devices/system/cpu | grep -c "^cpu[0-9][0-9]*$"'
  expect "--cpus $cpus: python3 reads Cpus_allowed_list from /proc/self/status" "$( [ "$cpus" -eq 1 ] && echo 0 || echo "0-$last")" \
    "$run" "${v[@]}" -- python3 -c '
import re
print(re.search(r"Cpus_allowed_list:\s*(\S+)", open("/proc/self/status").read()).group(1))'
  if command -v lscpu >/dev/null; then
    expect "--cpus $cpus: lscpu CPU(s)" "$cpus" "$run" "${v[@]}" -- sh -c 'lscpu | sed -n "s/^CPU(s): *//p"'
    # With as many vCPUs on every host CPU the topology is uniform, and lscpu's product is exact
    # (3 vCPUs on 2 cores is lopsided: lscpu reports the larger core).
    if [ $((cpus % $(nproc))) -eq 0 ] || [ "$cpus" -eq 1 ]; then
    expect "--cpus $cpus: lscpu threads x cores x sockets = CPU(s)" "$cpus" "$run" "${v[@]}" -- sh -c \
      'lscpu | awk -F: "/^Thread\\(s\\) per core/{t=\$2} /^Core\\(s\\) per socket/{c=\$2} /^Socket\\(s\\)/{s=\$2} END{print t*c*s}"'
    fi
    expect "--cpus $cpus: lscpu -p lists every vCPU" "$(seq 0 "$last" | tr '\n' ' ')" \
      "$run" "${v[@]}" -- sh -c 'lscpu -p | grep -v "^#" | cut -d, -f1 | tr "\n" " "'
  else
    skip "--cpus $cpus: lscpu" "lscpu (util-linux) is not installed"
  fi
  if command -v node >/dev/null; then
    expect "--cpus $cpus: node os.cpus().length" "$cpus" \
      "$run" "${v[@]}" -- node -e 'console.log(require("os").cpus().length)'
  else
    skip "--cpus $cpus: node os.cpus()" "node is not installed"
  fi
done

# glibc's second names of a function (stat64 of stat, fcntl64 of fcntl, _Exit of _exit...) are that
# function: a program that defines its own X does not see the calls of X's second name, natively
# nor under the shim, whose second names call its X by a hidden alias (SHIM_SAME, shim/shim.h).
names_dir=$(mktemp -d)
mkdir "$names_dir/sub"
echo content > "$names_dir/file"
names_native=$("$progs/second_names" "$names_dir" "$names_dir/file" 2>&1; echo "status $?")
expect "second_names natively: 28 calls and _Exit, none reaching the program's X" "29 0 _Exit -> _exit:status 0" \
  sh -c 'printf "%s\n" "$1" | awk "/ -> /{n++; s+=\$NF} END{printf \"%d %d \", n, s}"; printf "%s\n" "$1" | tail -1' sh "$names_native"
for config in "" "--cpus 8" "--cpu-map 0,1"; do
  # shellcheck disable=SC2086
  expect "${config:-no configuration}: a program's own X does not see its second name's calls, as natively" \
    "$names_native" sh -c '"$@" 2>&1; echo "status $?"' sh "$run" $config -- "$progs/second_names" "$names_dir" "$names_dir/file"
done
rm -rf "$names_dir"

# The README's acceptance example, word for word.
expect "--cpus 8: python3 pins to vCPU 5" "{5}" \
  "$run" --cpus 8 -- python3 -c 'import os; os.sched_setaffinity(0,{5}); print(os.sched_getaffinity(0))'

# A renumbered machine: vCPU 0 is host CPU 1 and vCPU 1 is host CPU 0.
# Python's subprocess closes every descriptor the child did not open, the shared state's among them,
# before exec: the child must still share the launch's state, so that its parent sees what it set.
subprocess_pin='
import os, subprocess, sys
child = subprocess.Popen([sys.executable, "-c",
    "import os, sys; os.sched_setaffinity(0, {6}); print(1, flush=True); sys.stdin.read()"],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
child.stdout.readline()
print(os.sched_getaffinity(child.pid))
child.stdin.close()
child.wait()'
expect "--cpus 8: python3 subprocess (close_fds) child pins itself to {6}; the parent sees {6}" "{6}" \
  "$run" --cpus 8 -- python3 -c "$subprocess_pin"
# A machine's first process creates the shared state when it first needs it, not at start-up. A
# vfork child runs in its parent's memory with its own descriptors and must not create it there:
# vfork itself creates it first, in the parent; a child made by clone(CLONE_VM | CLONE_VFORK) goes
# without, and the parent still shares its state with the children it starts later.
expect "--cpus 8: vfork + exec from a process that made no CPU call: the parent sees its child's {6}" "6" \
  "$run" --cpus 8 -- "$progs/vfork_exec" vfork
expect "--cpus 8: a clone-vfork child execs first, then posix_spawn: the parent sees its child's {6}" "6" \
  "$run" --cpus 8 -- "$progs/vfork_exec" clone-vfork
# A vfork child shares its parent's TLS, and so the parent's cache of sched_getcpu's answer: the child
# that pins itself elsewhere must get its own vCPU, and the parent, after the child's _exit and exec,
# its own.
expect "--cpus 8: vfork children pinned to 5 read 5 from sched_getcpu and getcpu; their parent pinned to 2 reads 2" \
  "child 5 5 5 5 parent 2 2 2 2" "$run" --cpus 8 -- "$progs/vfork_exec" vfork-getcpu
# A signal handler that moves the thread and asks, interrupting the thread's own calls (which may be
# filling the cache): every answer is in the mask in effect.
expect "--cpus 8: sched_getcpu and getcpu in a signal handler that changes the mask, 20000 signals" "ok" \
  "$run" --cpus 8 -- "$progs/getcpu_signals" 20000
# The same at every instruction of a call that fills the cache, the signal delivered there by a
# tracer that single-steps the call (a fill that stores its sequence number before its entry fails,
# and so does a hit that reads its entry before its sequence number).
expect "--cpus 8: a signal at each instruction of sched_getcpu's and getcpu's cache fill" "ok stepped" \
  "$run" --cpus 8 -- "$progs/getcpu_signals" stepped
# A launch whose processes live in two PID namespaces (unshare -fp): the dead threads' slots a process
# inside the new namespace collects are its namespace's only; a thread outside, which it cannot see
# by its tid, keeps its slot and its mask.
if [ "$("$run" --cpus 8 -- "$progs/pid_ns_slots" 2>&1)" = skip ]; then
  skip "--cpus 8: slots across PID namespaces" "a new PID namespace is not allowed here"
else
  expect "--cpus 8: a process pinned to 5 keeps its mask while 300 children in a new PID namespace come and go" \
    "5 5" "$run" --cpus 8 -- "$progs/pid_ns_slots"
  # The same namespace entered through syscall(SYS_unshare, ...), which libc's unshare never sees: the
  # namespace's first process still knows it is in another namespace than its parent.
  expect "--cpus 8: the same with the namespace made by syscall(SYS_unshare)" \
    "5 5" "$run" --cpus 8 -- "$progs/pid_ns_slots" syscall
fi
# A fork no libc hook saw (clone without CLONE_VM) has memory of its own: it becomes a first process
# itself. A clone-vfork child of a process that had no state cannot keep a slot: its pin travels to
# the program it execs as the host sees it, exact on a map without repeated host CPUs.
expect "--cpus 8: a clone() fork child of a process that made no CPU call pins itself to 5: mask 5, sched_getcpu 5" \
  "5 5" "$run" --cpus 8 -- "$progs/vfork_exec" clone-fork
expect "--cpu-map 1,0: a clone-vfork child pins itself to 1 and execs: the new program's mask is 1" "1" \
  "$run" --cpu-map 1,0 -- "$progs/vfork_exec" clone-vfork-pin
# The interpreter itself, not a wrapper script (pyenv's is a bash script, which forks): its
# subprocess starts children with vfork.
py=$(python3 -c 'import sys; print(sys.executable)')
expect "--cpus 8: the python3 interpreter's subprocess (vfork): the parent sees its child's {6}" "{6}" \
  "$run" --cpus 8 -- "$py" -c "$subprocess_pin"
# Each exec builds the child's environment in a block of its own; a vfork child's block stays in the
# parent after the exec, and the parent's next exec gives it back (64 KiB a child otherwise).
expect "--cpus 8: 100 subprocess runs (vfork) leave no memory behind in the parent" "ok" \
  "$run" --cpus 8 -- "$py" -c '
import subprocess
def size():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize:"))
subprocess.run(["/bin/true"])
before = size()
for _ in range(100):
    subprocess.run(["/bin/true"])
grown = size() - before
print("ok" if grown < 1024 else "VmSize grew by %d kB" % grown)'
# The LibOS's own descriptors (the cache of generated files, the trace's) stay out of the numbers a
# program gets, natively the lowest free ones, also under a descriptor limit too low to put them high.
fd_trace=$(mktemp)
for limit in "" 100 256; do
  native=$("$progs/fd_numbers" $limit 2>&1)
  expect "--cpus 3: descriptor numbers after reading the CPU files${limit:+, limit $limit}" "$native" \
    "$run" --cpus 3 -- "$progs/fd_numbers" $limit
  expect "--cpus 3 --trace: the same${limit:+, limit $limit}" "$native" \
    "$run" --cpus 3 --trace="$fd_trace" -- "$progs/fd_numbers" $limit
done
rm -f "$fd_trace"

# What a fork costs in page faults (docs/performance.md): a child that _exits at once runs, of the
# shim, the fork path's one 64 KiB of code, and on a machine writes one of its pages (its pid) besides
# the thread's own (which the kernel writes for it anyway); the parent writes one more page there, the
# forking thread's snapshot. Counts, not times: the fewest of five runs of 200 forks each (where the stack and the
# thread's block fall against page boundaries moves a run's count by one).
fork_faults_min() {
  local runs=() i
  for i in 1 2 3 4 5; do runs+=("$("$@" "$progs/fork_faults" 200)") || return 1; done
  printf '%s\n' "${runs[@]}" | sort -n -k1,1 | head -1 | cut -d' ' -f1
  printf '%s\n' "${runs[@]}" | sort -n -k2,2 | head -1 | cut -d' ' -f2
}
within() { python3 -c "import sys; print('ok' if float(sys.argv[1]) <= float(sys.argv[2]) + float(sys.argv[3]) else 'over: %s against %s natively' % (sys.argv[1], sys.argv[2]))" "$@"; }
# A sanitizer build's shim carries ASan's shadow memory and interceptors, whose own pages a fork child
# touches: the counts are the release and debug builds' (the checks run there).
if [ -n "${LIBOS_TEST_SANITIZERS:-}" ]; then
  for what in "no configuration: the child pays at most one page fault more" \
      "no configuration: the parent pays no page fault more" \
      "LIBOS_CPUS=2: the child pays at most two page faults more" \
      "LIBOS_CPUS=2: the parent pays at most one page fault more"; do
    skip "fork + _exit, $what than natively" "a sanitizer build: ASan's shadow pages count in a fork's faults"
  done
else
  native_faults=($(fork_faults_min env))
  shim_faults=($(fork_faults_min env LD_PRELOAD="${LIBOS_LIBSHIM:?}"))
  vm_faults=($(fork_faults_min env LD_PRELOAD="${LIBOS_LIBSHIM:?}" LIBOS_CPUS=2))
  expect "fork + _exit, no configuration: the child pays at most one page fault more than natively" "ok" \
    within "${shim_faults[0]:-x}" "${native_faults[0]:-0}" 1
  expect "fork + _exit, no configuration: the parent pays no page fault more than natively" "ok" \
    within "${shim_faults[1]:-x}" "${native_faults[1]:-0}" 0
  expect "fork + _exit, LIBOS_CPUS=2: the child pays at most two page faults more than natively" "ok" \
    within "${vm_faults[0]:-x}" "${native_faults[0]:-0}" 2
  expect "fork + _exit, LIBOS_CPUS=2: the parent pays at most one page fault more than natively" "ok" \
    within "${vm_faults[1]:-x}" "${native_faults[1]:-0}" 1
fi

expect "--cpu-map 1,0: nproc" "2" "$run" --cpu-map 1,0 -- nproc
expect "--cpu-map 1,0: pinned to each vCPU" "$(printf 'cpu 0: sched_getcpu 0 getcpu 0\ncpu 1: sched_getcpu 1 getcpu 1')" \
  "$run" --cpu-map 1,0 -- "$progs/pin_each"
expect "--cpu-map 1,0: vCPU 0 runs on host CPU 1" "1" host_cpus_after --cpu-map 1,0 -- 'taskset -cp 0 $$ >/dev/null'
# A mask given in LIBOS_AFFINITY (as exec passes it) is placed through the map too: with the map 1, the
# process runs on host CPU 1 even when it started on host CPU 0 (read from outside, where nothing is
# virtualized).
if [ "$(nproc)" -ge 2 ] && taskset -c 0 true 2>/dev/null; then
placed=$(mktemp)
taskset -c 0 env LD_PRELOAD="${LIBOS_LIBSHIM:?}" LIBOS_CPU_MAP=1 LIBOS_AFFINITY=0 \
  sh -c "echo \$\$ >'$placed.new' && mv '$placed.new' '$placed'; exec sleep 5" 2>/dev/null &
placed_pid=$!
for _ in $(seq 100); do [ -s "$placed" ] && break; sleep 0.05; done
expect "LIBOS_CPU_MAP=1 LIBOS_AFFINITY=0, started on host CPU 0: runs on host CPU 1" "1" \
  sh -c "taskset -cp $(cat "$placed" 2>/dev/null) 2>&1 | sed 's/.*: //'"
kill "$placed_pid" 2>/dev/null
wait "$placed_pid" 2>/dev/null
rm -f "$placed"
else
  skip "LIBOS_CPU_MAP=1 LIBOS_AFFINITY=0: placed through the map" "needs host CPUs 0 and 1"
fi
# taskset -c 1 restricts the launch: all four vCPUs on host CPU 1.
expect "taskset -c 1 --cpus 4: every vCPU on host CPU 1" "1" host_cpus_after --cpus 4 -- 'taskset -cp 3 $$ >/dev/null' taskset -c 1
expect "--cpus 1024: nproc" "1024" "$run" --cpus 1024 -- nproc
expect "--cpus 64: lscpu CPU(s)" "64" "$run" --cpus 64 -- sh -c 'lscpu | sed -n "s/^CPU(s): *//p"'
expect "--cpus 64: getconf _NPROCESSORS_CONF" "64" "$run" --cpus 64 -- getconf _NPROCESSORS_CONF
expect "--cpus 1024: python3 len(sched_getaffinity)" "1024" \
  "$run" --cpus 1024 -- python3 -c 'import os; print(len(os.sched_getaffinity(0)))'
echo "1..$n"
