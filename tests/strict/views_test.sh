#!/usr/bin/env bash
# Strict mode's views: libos-run --strict runs the launch in a private mount namespace where generated
# /sys/devices/system/{cpu,node} trees hide the host's, so that stat, access, readlink and listings by
# programs the shim cannot see (static binaries, raw system calls) show the machine, as opens do.
#
# The oracle is the in-process shim: the same machine, asked through libc in a dynamic program
# (strict_views_dynamic under plain libos-run), must answer as the static program's raw calls under
# --strict do (strict_views_static): same names, types, permission bits and link targets. Real
# programs (busybox, static; ls, lscpu, dynamic) are the judges beside them. TAP output.
set -u

L=${LIBOS_LAUNCHER:?LIBOS_LAUNCHER must name build/launcher/libos-run}
VS=${LIBOS_VIEWS_STATIC:?LIBOS_VIEWS_STATIC must name strict_views_static}
VD=${LIBOS_VIEWS_DYNAMIC:?LIBOS_VIEWS_DYNAMIC must name strict_views_dynamic}
unset LIBOS_CPUS LIBOS_CPU_MAP LIBOS_TOPOLOGY LIBOS_NUMA LIBOS_PROPAGATE LIBOS_STATE_FD LIBOS_AFFINITY \
  LIBOS_SHIM_PATH LD_PRELOAD LIBOS_TRACE LIBOS_STRICT LIBOS_HOST_SYSTEM_FD
tmp=$(mktemp -d)
bg_pid=""
cleanup() {
  [ -n "$bg_pid" ] && kill -KILL "$bg_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

n=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
fail() {
  n=$((n + 1))
  echo "not ok $n - $1"
  shift
  local line
  for line in "$@"; do printf '%s\n' "$line" | head -n 30 | sed 's/^/#   /'; done
}
# run COMMAND...: $out, $err, $rc (60 s at most).
run() {
  timeout -k 5 60 "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
  rc=$?
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
}
# expect NAME WANTED COMMAND...: exits 0 with stdout WANTED.
expect() {
  local name=$1 want=$2
  shift 2
  run "$@"
  if [ $rc -eq 0 ] && [ "$out" == "$want" ]; then
    pass "$name"
  else
    fail "$name" "command: $*" "status $rc" "wanted: $(head -c 400 <<<"$want")" "got:    $(head -c 400 <<<"$out")" \
      "stderr: $err"
  fi
}
# same NAME COMMAND-A :: COMMAND-B: both exit 0 and print the same, which is not empty.
same() {
  local name=$1
  shift
  local a=() b=()
  while [ "$1" != "::" ]; do a+=("$1"); shift; done
  shift
  b=("$@")
  run "${a[@]}"
  local out_a=$out rc_a=$rc err_a=$err
  run "${b[@]}"
  if [ $rc_a -eq 0 ] && [ $rc -eq 0 ] && [ -n "$out" ] && [ "$out_a" == "$out" ]; then
    pass "$name"
  else
    fail "$name" "A: ${a[*]} (status $rc_a, stderr: $err_a)" "B: ${b[*]} (status $rc, stderr: $err)" \
      "diff A B: $(diff <(echo "$out_a") <(echo "$out") | head -n 20)"
  fi
}

cpu=/sys/devices/system/cpu
node=/sys/devices/system/node
host_cpus=$(getconf _NPROCESSORS_ONLN)
beyond=$((host_cpus + 2)) # a vCPU the host does not have

if ! command -v busybox >/dev/null || ! file -L "$(command -v busybox)" 2>/dev/null | grep -q 'statically linked'; then
  have_busybox=0
else
  have_busybox=1
fi

# ---- the question of the issue: stat and open agree for a static program ---------------------------
if [ $have_busybox -eq 1 ]; then
  expect "--strict --cpus 8: static test -e cpu7 (beyond the host) is true" yes \
    "$L" --strict --cpus 8 -- busybox sh -c "test -e $cpu/cpu7 && echo yes"
  expect "--strict --cpus 8: static test -e cpu8 (beyond the machine) is false" no \
    "$L" --strict --cpus 8 -- busybox sh -c "test -e $cpu/cpu8 && echo yes || echo no"
  expect "--strict --cpus 8: static test -d, test -r and cat of cpu7/topology agree" "yes 0-7" \
    "$L" --strict --cpus 8 -- busybox sh -c "test -d $cpu/cpu7/topology && test -r $cpu/cpu7/topology/core_id && echo yes \$(cat $cpu/online)"
  expect "--no-views keeps the host's answer to stat (the views are what changes it)" no \
    "$L" --strict --no-views --cpus 8 -- busybox sh -c "test -e $cpu/cpu7 && echo yes || echo no"
  same "--strict --cpus 8: static busybox ls of cpu/ equals dynamic ls under the shim" \
    "$L" --strict --cpus 8 -- busybox ls $cpu :: "$L" --cpus 8 -- ls $cpu
  same "--strict --cpus 8: static busybox ls of cpu7/ equals dynamic ls under the shim" \
    "$L" --strict --cpus 8 -- busybox ls $cpu/cpu7 :: "$L" --cpus 8 -- ls $cpu/cpu7
  same "--strict --cpus 4 --numa 2: static ls of node/ and node1/ equal the shim's" \
    "$L" --strict --cpus 4 --numa 2 -- busybox ls $node $node/node1 :: "$L" --cpus 4 --numa 2 -- ls $node $node/node1
  same "--strict --cpus 8: static readlink of cpu7's node link equals the shim's" \
    "$L" --strict --cpus 8 -- busybox readlink $cpu/cpu7/node0 :: "$L" --cpus 8 -- readlink $cpu/cpu7/node0
else
  skip "static busybox cases" "busybox-static is not installed (scripts/test installs it)"
fi

# ---- raw calls: stat and getdents64 (how Go's os.Stat and os.ReadDir ask) ----------------------------
expect "--strict --cpus 8: raw getdents64 of cpu/ lists cpu0..cpu7 and no other cpuN" \
  "$(seq 0 7 | sed 's/^/cpu/')" \
  bash -c "'$L' --strict --cpus 8 -- '$VS' list $cpu | grep -E '^cpu[0-9]+\$' | sort -V"
expect "--strict --cpus $beyond: raw newfstatat of cpu$((beyond - 1)) (beyond the host) is a directory" \
  "$cpu/cpu$((beyond - 1)) dir 0755" "$L" --strict --cpus $beyond -- "$VS" stat $cpu/cpu$((beyond - 1))
same "--strict --cpus 8: raw stat of cpu7's files equals the shim's" \
  "$L" --strict --cpus 8 -- "$VS" stat $cpu/cpu7 $cpu/cpu7/online $cpu/cpu7/topology/core_id $cpu/cpu7/node0 \
    $cpu/cpu7/cache/index0/shared_cpu_list $cpu/cpu8 $cpu/online :: \
  "$L" --cpus 8 -- "$VD" stat $cpu/cpu7 $cpu/cpu7/online $cpu/cpu7/topology/core_id $cpu/cpu7/node0 \
    $cpu/cpu7/cache/index0/shared_cpu_list $cpu/cpu8 $cpu/online

# Every machine of the topology suite's kind: the whole trees, three levels deep, as the raw calls of a
# static program see them under --strict (with and without the shim in it) and as libc sees them
# under the plain shim.
for machine in "--cpus 8" "--cpus 3" "--cpu-map 1,0" "--cpu-map 0,0,1,1" "--cpus 16 --topology sockets=2,cores=4,threads=2 --numa 2"; do
  # shellcheck disable=SC2086
  same "$machine: raw walk of cpu/ under --strict equals the shim's" \
    "$L" --strict $machine -- "$VS" walk $cpu 3 :: "$L" $machine -- "$VD" walk $cpu 3
  # shellcheck disable=SC2086
  same "$machine: raw walk of node/ under --strict equals the shim's" \
    "$L" --strict $machine -- "$VS" walk $node 2 :: "$L" $machine -- "$VD" walk $node 2
done
same "--strict --no-shim --cpus 8: libc's walk of cpu/ without the shim equals the shim's" \
  "$L" --strict --no-shim --cpus 8 -- "$VD" walk $cpu 3 :: "$L" --cpus 8 -- "$VD" walk $cpu 3

# ---- the shim inside the namespace still reads the host's files --------------------------------------
for machine in "--cpus 8" "--cpu-map 1,0" "--cpus 16 --topology sockets=2,cores=4,threads=2 --numa 2"; do
  if command -v lscpu >/dev/null; then
    # shellcheck disable=SC2086
    same "$machine: lscpu -p under --strict equals plain" \
      "$L" --strict $machine -- lscpu -p :: "$L" $machine -- lscpu -p
  else
    skip "$machine: lscpu -p under --strict" "lscpu is not installed"
  fi
done
# Python's subprocess closes every descriptor in the child, the host's /sys/devices/system included: the
# shim in the child takes its parent's (vCPU 0 is host CPU 1, whose files only the host's tree has).
if command -v python3 >/dev/null; then
  expect "--strict --cpu-map 1: a child whose parent closed every descriptor still reads the host's tree" \
    "$("$L" --cpu-map 1 -- cat $cpu/cpu0/topology/core_id) cpu0" \
    "$L" --strict --cpu-map 1 -- python3 -c "import subprocess; print(subprocess.run(['sh', '-c', 'echo \$(cat $cpu/cpu0/topology/core_id) \$(ls $cpu | grep -x \"cpu[0-9]*\")'], capture_output=True, text=True).stdout.strip())"
else
  skip "--strict: a child whose parent closed every descriptor" "python3 is not installed"
fi

# ---- rights: nothing granted that the kernel would refuse -----------------------------------------------
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null && [ $have_busybox -eq 1 ]; then
  drop=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)
  expect "root launcher, program as nobody: test -e cpu7 and ls still show the machine" "yes 8" \
    "$L" --strict --cpus 8 -- "${drop[@]}" busybox sh -c "test -e $cpu/cpu7 && echo yes \$(busybox ls -d $cpu/cpu[0-9]* | busybox wc -l)"
  expect "root launcher, program as nobody: cannot unmount, write or create in the trees" "umount:no touch:no write:no" \
    "$L" --strict --cpus 8 -- "${drop[@]}" busybox sh -c \
    "busybox umount $cpu 2>/dev/null && echo umount:yes || echo -n umount:no; busybox touch $cpu/x 2>/dev/null && echo touch:yes || echo -n ' touch:no'; (echo 0 > $cpu/cpu7/online) 2>/dev/null && echo write:yes || echo ' write:no'"
  expect "root launcher, program as nobody: no capabilities" "0000000000000000" \
    "$L" --strict --cpus 8 -- "${drop[@]}" busybox sh -c "busybox grep CapEff /proc/self/status | busybox cut -f2"
  # A launcher without root makes a user namespace of its own for the mount namespace; the program
  # stays who it was, with no capability.
  run "${drop[@]}" "$L" --strict --cpus 8 -- busybox sh -c "test -e $cpu/cpu7 && echo yes; id -u; busybox grep CapEff /proc/self/status | busybox cut -f2"
  if [ $rc -eq 0 ] && [ "$out" == "$(printf 'yes\n65534\n0000000000000000')" ]; then
    pass "launcher as nobody: the views in a user namespace of its own; the program is nobody without capabilities"
  elif grep -q "without its views" <<<"$err"; then
    skip "launcher as nobody: the views" "this host refuses unprivileged user namespaces: $err"
  else
    fail "launcher as nobody: the views in a user namespace of its own" "status $rc" "got: $out" "stderr: $err"
  fi
else
  skip "unprivileged programs under a root launcher" "needs root, setpriv and a static busybox"
fi

# ---- where no mount namespace can be made: one line, and the launch runs as --no-views ----------------
# A user namespace of this test's own whose limit of mount namespaces is 0 refuses unshare(CLONE_NEWNS),
# as a container's seccomp profile would.
if [ $have_busybox -eq 1 ] && unshare -U -r true 2>/dev/null; then
  run unshare -U -r sh -c "echo 0 > /proc/sys/user/max_mnt_namespaces && exec '$L' --strict --cpus 8 -- busybox sh -c 'test -e $cpu/cpu7 && echo present || echo missing; cat $cpu/online'"
  if [ $rc -eq 0 ] && [ "$out" == "$(printf 'missing\n0-7')" ] && [ "$(grep -c "without its views" <<<"$err")" == 1 ] &&
    [ "$(grep -c . <<<"$err")" == 1 ]; then
    pass "no mount namespace to be had: one line on stderr, opens still answered, stat the host's"
  else
    fail "no mount namespace to be had" "status $rc" "got: $out" "stderr: $err"
  fi
else
  skip "no mount namespace to be had" "needs a static busybox and unshare -U"
fi

# ---- cleanup: nothing is ever mounted in the host's namespace -------------------------------------------
before=$(grep -c . /proc/self/mountinfo)
"$L" --strict --cpus 8 -- sleep 30 >/dev/null 2>&1 </dev/null &
bg_pid=$!
inside=""
for _ in $(seq 1 100); do
  sleep 0.1
  child=$(pgrep -P "$(pgrep -P $bg_pid | head -n 1)" 2>/dev/null | head -n 1)
  [ -n "$child" ] && inside=$(grep -c " $cpu " "/proc/$child/mountinfo" 2>/dev/null) && [ "$inside" != "0" ] && break
done
during=$(grep -c " $cpu " /proc/self/mountinfo)
kill -TERM $bg_pid 2>/dev/null
wait $bg_pid 2>/dev/null
bg_pid=""
after=$(grep -c . /proc/self/mountinfo)
if [ "${inside:-0}" -ge 1 ] && [ "$during" -eq 0 ] && [ "$before" -eq "$after" ]; then
  pass "the trees are mounted in the launch's namespace ($inside) and never in the host's; none left after"
else
  fail "cleanup" "mounts on $cpu inside the launch: ${inside:-none seen}" "on the host during the launch: $during" \
    "host mount count before $before, after $after"
fi

echo "1..$n"
