#!/usr/bin/env bash
# The machine's CPU quota (issue 17): --cpu-quota / LIBOS_CPU_QUOTA shown in the cgroup CPU
# controller's files of the program's cgroup and its ancestors, enforced with a cgroup of the launch's
# own where the launcher may make one (and removed afterwards), and --cpus-from-quota /
# LIBOS_CPUS_FROM_QUOTA taking the count from the quota of the cgroup the launch runs in. Real readers:
# nproc, Python, the JVM. TAP output. The cgroups this test makes (a sibling with a quota of its own,
# one with a quota to launch in) are removed by it.
set -u
run=${LIBOS_TEST_LAUNCHER:-${LIBOS_LAUNCHER:?run through meson test}}
shim=${LIBOS_TEST_SHIM:-${LIBOS_LIBSHIM:?run through meson test}}

source "$(dirname "$0")/../lib/tap.sh"
quiet() { "$@" 2>/dev/null; } # without libos-run's note that a quota is not enforced (non-root)

# ---- where the CPU controller is, as the shim and the launcher look for it ---------------------
v2_path=$(sed -n 's/^0::\(.*\)$/\1/p' /proc/self/cgroup | head -1)
v1_path=$(sed -n 's/^[0-9]*:\([^:]*,\)\?cpu\(,[^:]*\)\?:\(.*\)$/\3/p' /proc/self/cgroup | head -1)
mount= own= v2=0
for m in /sys/fs/cgroup /sys/fs/cgroup/unified; do
  if [ -n "$v2_path" ] && grep -qw cpu "$m/cgroup.controllers" 2>/dev/null; then
    mount=$m v2=1
    own="$m${v2_path%/}"
    [ -f "$own/cgroup.controllers" ] || own=$m
    break
  fi
done
if [ -z "$mount" ] && [ -n "$v1_path" ]; then
  for m in /sys/fs/cgroup/cpu /sys/fs/cgroup/cpu,cpuacct; do
    if [ -f "$m/cpu.cfs_quota_us" ]; then
      mount=$m
      own="$m${v1_path%/}"
      [ -f "$own/cgroup.procs" ] || own=$m
      break
    fi
  done
fi

# The quota file of cgroup directory $1 as the program reads it, and what a quota of $2 looks like
# there (v2: "QUOTA PERIOD", v1: QUOTA, in microseconds per period of 100 ms).
quota_file() { if [ $v2 = 1 ]; then echo "$1/cpu.max"; else echo "$1/cpu.cfs_quota_us"; fi; }
shown() {
  local period=100000
  if [ $v2 = 1 ]; then
    [ "$2" = none ] && echo "max $period" || echo "$2 $period"
  else
    [ "$2" = none ] && echo "-1" || echo "$2"
  fi
}

# ---- bad input: one line, 125, from the launcher and from the shim alone ----------------------
expect "--cpu-quota 0 is refused" \
  "libos-run: --cpu-quota: bad token '0': less than the kernel's least quota (1 ms per 100 ms period); expected a number of CPUs from 0.01 to 4, with at most 3 decimals (as in 1.5)
125" sh -c "'$run' --cpus 4 --cpu-quota 0 -- true; echo \$?"
expect "--cpu-quota above the vCPU count is refused" \
  "libos-run: --cpu-quota: bad token '5': more than the machine's 4 vCPUs; expected a number of CPUs from 0.01 to 4, with at most 3 decimals (as in 1.5)
125" sh -c "'$run' --cpus 4 --cpu-quota 5 -- true; echo \$?"
for bad in abc 1.2345 -1 01 1. .5 1e3; do
  expect "--cpu-quota $bad is refused" \
    "libos-run: --cpu-quota: bad token '$bad': expected a number of CPUs from 0.01 to 4, with at most 3 decimals (as in 1.5)
125" sh -c "'$run' --cpus 4 --cpu-quota '$bad' -- true; echo \$?"
done
expect "LIBOS_CPU_QUOTA above the count is refused by the shim" \
  "libos: LIBOS_CPU_QUOTA: bad token '2.5': more than the machine's 2 vCPUs; expected a number of CPUs from 0.01 to 2, with at most 3 decimals (as in 1.5)
125" sh -c "LD_PRELOAD='$shim' LIBOS_CPUS=2 LIBOS_CPU_QUOTA=2.5 /bin/true; echo \$?"
expect "--cpus-from-quota with --cpus is refused" \
  "libos-run: --cpus-from-quota: bad token '1': the count comes from the cgroup's quota, so --cpus cannot give one too
125" sh -c "'$run' --cpus-from-quota --cpus 3 -- true; echo \$?"
expect "LIBOS_CPUS_FROM_QUOTA with LIBOS_CPUS is refused by the shim" \
  "libos: LIBOS_CPUS_FROM_QUOTA: bad token '1': the count comes from the cgroup's quota, so LIBOS_CPUS cannot give one too
125" sh -c "LD_PRELOAD='$shim' LIBOS_CPUS=2 LIBOS_CPUS_FROM_QUOTA=1 /bin/true; echo \$?"
expect "LIBOS_CPUS_FROM_QUOTA=yes is refused" \
  "libos-run: LIBOS_CPUS_FROM_QUOTA: bad token 'yes': expected 1 (on) or 0 (off)
125" sh -c "LIBOS_CPUS_FROM_QUOTA=yes '$run' -- true; echo \$?"

if [ -z "$mount" ]; then
  skip "the quota files" "no cgroup hierarchy with the CPU controller at /sys/fs/cgroup"
  echo "1..$n"
  exit 0
fi

# ---- shown: the program's cgroup and its ancestors, unchanged elsewhere -----------------------
file=$(quota_file "$own")
expect "--cpus 4 --cpu-quota 1.5: the program's own cgroup" "$(shown "$own" 150000)" quiet "$run" --cpus 4 --cpu-quota 1.5 -- \
  sh -c 'p=$(sed -n "s/^[0-9]*:\([^:]*,\)\?cpu\(,[^:]*\)\?:\(.*\)$/\3/p; s/^0::\(.*\)$/\1/p" /proc/self/cgroup | head -1)
         cat '"$mount"'${p%/}/'"$(basename "$file")"
expect "--cpus 4 --cpu-quota 0.25: the root's file too, through exec" "$(shown "$mount" 25000)" \
  quiet "$run" --cpus 4 --cpu-quota 0.25 -- sh -c "sh -c 'cat $(quota_file "$mount")'"
if [ $v2 = 1 ] && [ "$own" = "$mount" ]; then
  skip "--cpus 4: no quota" "the program's cgroup is the root, which has no cpu.max"
else
  expect "--cpus 4: no quota in $file" "$(shown "$own" none)" "$run" --cpus 4 -- cat "$file"
fi
if ! have busybox; then
  skip "--strict: a static reader sees the quota" "busybox is not installed"
elif [ $v2 = 1 ]; then
  skip "--strict: a static reader sees the quota" "v2's root has no cpu.max, and the launch's cgroup is made here only"
else
  expect "--strict --no-shim: a static busybox reads the quota too" "$(shown "$mount" 150000)" \
    quiet "$run" --strict --no-shim --cpus 4 --cpu-quota 1.5 -- busybox cat "$(quota_file "$mount")"
fi
expect "--cpu-quota 1.5 alone: a machine of the allowed CPUs" "$(nproc)" quiet "$run" --cpu-quota 1.5 -- nproc
expect "transparent: the host's file" "$(cat "$file" 2>&1)" "$run" -- cat "$file"

if [ "$(id -u)" != 0 ]; then
  skip "a sibling cgroup, enforcement, --cpus-from-quota" "needs root to make cgroups"
  echo "1..$n"
  exit 0
fi

parent=$mount
sibling="$parent/libos-quota-test-other-$$"
inside="$parent/libos-quota-test-$$"
cleanup() {
  for d in "$sibling" "$inside"; do
    [ -d "$d" ] || continue
    for p in $(cat "$d/cgroup.procs" 2>/dev/null); do echo "$p" >"$parent/cgroup.procs" 2>/dev/null; done
    rmdir "$d" 2>/dev/null
  done
}
trap cleanup EXIT
set_quota() { # DIR QUOTA_US
  if [ $v2 = 1 ]; then echo "$2 100000" >"$1/cpu.max"; else echo 100000 >"$1/cpu.cfs_period_us" && echo "$2" >"$1/cpu.cfs_quota_us"; fi
}
if [ $v2 = 1 ] && ! grep -qw cpu "$parent/cgroup.subtree_control" 2>/dev/null; then
  skip "a sibling cgroup's quota" "the cpu controller is not enabled below $parent"
else
  mkdir "$sibling" && set_quota "$sibling" 50000
  expect "a cgroup the program is not in keeps the host's quota" "$(shown "$sibling" 50000)" \
    quiet "$run" --cpus 4 --cpu-quota 1.5 -- cat "$(quota_file "$sibling")"
  rmdir "$sibling"
fi

# ---- enforced: a cgroup of the launch's own, with the quota, removed afterwards ---------------
out=$("$run" --no-propagate --cpus 4 --cpu-quota 1.5 -- sh -c '
  p=$(sed -n "s/^[0-9]*:\([^:]*,\)\?cpu\(,[^:]*\)\?:\(.*\)$/\3/p; s/^0::\(.*\)$/\1/p" /proc/self/cgroup | head -1)
  echo "${p##*/}"; env -i /bin/cat '"$mount"'"$p"/'"$(basename "$file")"'' 2>&1)
name=$(echo "$out" | head -1)
n=$((n + 1))
if [[ "$name" == libos-run-* ]] && [ "$(echo "$out" | sed -n 2p)" == "$(shown x 150000)" ]; then
  echo "ok $n - --cpu-quota 1.5 as root: the program runs in $name, whose real quota is 1.5 CPUs"
else
  echo "not ok $n - --cpu-quota 1.5 as root: a cgroup of the launch's own with the quota"
  echo "#   got: $(echo "$out" | tr '\n' '|')"
fi
gone=no
for _ in $(seq 100); do
  if [[ "$name" == libos-run-* ]] && ! [ -d "$parent/$name" ]; then gone=yes; break; fi
  sleep 0.1
done
expect "the launch's cgroup is removed once the program has ended" yes echo "$gone"
# The keeper keeps none of the launch's descriptors: a reader of the program's pipe on descriptor 3
# (a test harness's) gets its end of file when the program's side closes, not when the cgroup empties
# (here: when a background sleep of 60 s ends). The 30 s are a bound on a hang, not a measure.
marker=$(mktemp)
if timeout 30 bash -c '{ "$0" --cpus 2 --cpu-quota 0.5 -- sh -c "sleep 60 </dev/null >/dev/null 2>&1 3>&- & echo \$! >$1"; } 3>&1 | cat >/dev/null' \
     "$run" "$marker" 2>/dev/null; then
  n=$((n + 1)); echo "ok $n - the keeper does not hold the program's descriptor 3 open"
else
  n=$((n + 1)); echo "not ok $n - the keeper does not hold the program's descriptor 3 open (the pipe's reader waited)"
fi
[ -s "$marker" ] && kill "$(cat "$marker")" 2>/dev/null
rm -f "$marker"
if have unshare; then
  expect "as a PID namespace's init: shown, not enforced, and the program's wait() sees no keeper" \
    "libos-run: --cpu-quota 0.5: the quota is shown to the program but not enforced (libos-run is the init of its PID namespace, so no process of its own could remove the cgroup afterwards)
$(shown x 50000)
a keeper: none" \
    unshare -pf --mount-proc "$run" --cpus 2 --cpu-quota 0.5 -- sh -c "cat '$(quota_file "$mount")'; sleep 0.2
      ps -o comm= --ppid 1 | grep -qx libos-run && echo a keeper: yes || echo a keeper: none"
else
  skip "as a PID namespace's init" "unshare is not installed"
fi
if have java; then
  expect "java sees the quota: Effective CPU Count 2" "    Effective CPU Count: 2" \
    sh -c "'$run' --cpus 4 --cpu-quota 1.5 -- java -XshowSettings:system -version 2>&1 | grep 'Effective CPU Count'"
else
  skip "java sees the quota" "java is not installed"
fi
if have setpriv; then
  expect "an unprivileged launch shows the quota and says it is not enforced" \
    "libos-run: --cpu-quota 1.5: the quota is shown to the program but not enforced (cannot create $own/libos-run-PID: Permission denied)
$(shown x 150000)" \
    sh -c "setpriv --reuid=65534 --regid=65534 --clear-groups '$run' --cpus 4 --cpu-quota 1.5 -- cat '$file' 2>&1 \
           | sed 's/libos-run-[0-9]*-[0-9a-f]*:/libos-run-PID:/'"
else
  skip "an unprivileged launch" "setpriv is not installed"
fi

# ---- --cpus-from-quota: the count from the quota of the cgroup the launch runs in -------------
mkdir "$inside" && set_quota "$inside" 150000
in_cgroup() { sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$inside" "$@"; }
expect "in a 1.5-CPU cgroup: --cpus-from-quota -- nproc" "2" in_cgroup "$run" --cpus-from-quota -- nproc
expect "in a 1.5-CPU cgroup: Python's os.cpu_count()" "2" \
  in_cgroup "$run" --cpus-from-quota -- python3 -c 'import os; print(os.cpu_count())'
expect "in a 1.5-CPU cgroup: the quota shown is the cgroup's" "$(shown x 150000)" \
  in_cgroup "$run" --cpus-from-quota -- cat "$(quota_file "$inside")"
expect "in a 1.5-CPU cgroup: LIBOS_CPUS_FROM_QUOTA=1, the shim alone" "2" \
  in_cgroup env LD_PRELOAD="$shim" LIBOS_CPUS_FROM_QUOTA=1 nproc
expect "in a 1.5-CPU cgroup: LIBOS_CPUS_FROM_QUOTA=1 through libos-run" "2" \
  in_cgroup env LIBOS_CPUS_FROM_QUOTA=1 "$run" -- nproc
if have java; then
  expect "in a 1.5-CPU cgroup: java's Effective CPU Count" "    Effective CPU Count: 2" \
    in_cgroup sh -c "'$run' --cpus-from-quota -- java -XshowSettings:system -version 2>&1 | grep 'Effective CPU Count'"
else
  skip "in a 1.5-CPU cgroup: java" "java is not installed"
fi
expect "without a quota: --cpus-from-quota gives the allowed CPUs" "$(nproc)" "$run" --cpus-from-quota -- nproc

# ---- other runtimes that may size themselves by the quota: the host is the oracle -------------
# Each one runs natively in a real cgroup with a quota of 0.5 and of 1.5 CPUs, and under the shim alone
# (which presents the quota and enforces nothing) on a machine equal to the host with the same quota:
# the answers must be equal. What it said natively also tells whether it reads the quota at all, and
# how it rounds (Rust floors, the JVM rounds up), so a machine of 4 vCPUs with 2.5 CPUs must give 4
# (quota not read), 2 (floored) or 3 (rounded up).
rt_dir=$(mktemp -d)
rm_rt() { rm -rf "$rt_dir"; cleanup; }
trap rm_rt EXIT
runtime_oracle() { # NAME COMMAND...
  local name=$1 host_n q native shimmed half one_half want
  shift
  host_n=$(nproc)
  for q in 0.5 1.5; do
    if [ $q = 0.5 ]; then set_quota "$inside" 50000; else set_quota "$inside" 150000; fi
    native=$(in_cgroup "$@" 2>&1)
    shimmed=$(env LD_PRELOAD="$shim" LIBOS_CPUS="$host_n" LIBOS_CPU_QUOTA="$q" "$@" 2>&1)
    [ $q = 0.5 ] && half=$native || one_half=$native
    expect "$name with a quota of $q CPUs on a machine equal to the host: as natively ($native)" \
      "$native" echo "$shimmed"
  done
  if [ "$half" = "$host_n" ]; then want=4; elif [ "$one_half" = 1 ]; then want=2; else want=3; fi
  expect "$name with 2.5 CPUs on 4 vCPUs (natively it said $half for 0.5 and $one_half for 1.5)" "$want" \
    env LD_PRELOAD="$shim" LIBOS_CPUS=4 LIBOS_CPU_QUOTA=2.5 "$@"
}
rustc_bin=$(command -v rustc)
if [ -n "$rustc_bin" ] && "$rustc_bin" -O -o "$rt_dir/parallelism" "$(dirname "$0")/available_parallelism.rs" 2>"$rt_dir/rustc.log"; then
  runtime_oracle "Rust $("$rustc_bin" --version | cut -d' ' -f2) available_parallelism()" "$rt_dir/parallelism"
elif [ -n "$rustc_bin" ]; then
  fail "Rust available_parallelism(): the probe builds" "$(cat "$rt_dir/rustc.log")"
else
  skip "Rust available_parallelism()" "rustc is not installed (package rustc)"
fi
if have node && node -e 'require("os").availableParallelism()' 2>/dev/null; then
  runtime_oracle "Node $(node --version) (libuv) os.availableParallelism()" \
    node -e 'console.log(require("os").availableParallelism())'
else
  skip "Node os.availableParallelism()" "node (18.14 or later) is not installed (package nodejs)"
fi
# Go 1.25 and later: GOMAXPROCS is the quota rounded up, at least 2 and at most the CPU count. Go
# reads the cgroup files and its mask with system calls of its own, not libc's, so it sees the
# machine under --strict only (docs/machine.md). scripts/test installs Go 1.25 (libos_offer_go).
go_bin=
for g in "$(command -v go)" /usr/lib/go-*/bin/go; do
  [ -x "$g" ] || continue
  minor=$("$g" env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
  if [ -n "$minor" ] && [ "$minor" -ge 25 ]; then go_bin=$g; break; fi
done
if [ -z "$go_bin" ]; then
  skip "Go's GOMAXPROCS" "no Go 1.25 or later (scripts/test installs golang-1.25-go from Debian 13's backports)"
elif ! have busybox; then
  skip "Go's GOMAXPROCS" "strict mode's tests need busybox (package busybox-static)"
else
  # The build cache stays in the build tree, so that only the first run compiles Go's runtime.
  go_cache="$(dirname "$(dirname "$run")")/go-cache"
  mkdir -p "$go_cache" 2>/dev/null || go_cache="$rt_dir/go-cache"
  if (cd "$(dirname "$0")/gomaxprocs" && env GOCACHE="$go_cache" GOPATH="$rt_dir/gopath" GOTOOLCHAIN=local \
        GOFLAGS= GOPROXY=off GO111MODULE=on "$go_bin" build -o "$rt_dir/gomaxprocs" .) >"$rt_dir/go.log" 2>&1; then
    go_v=$("$go_bin" env GOVERSION)
    host_n=$(nproc)
    for q in 0.5 1.5; do
      if [ $q = 0.5 ]; then set_quota "$inside" 50000; else set_quota "$inside" 150000; fi
      native=$(in_cgroup "$rt_dir/gomaxprocs" 2>&1)
      expect "$go_v GOMAXPROCS with a quota of $q CPUs under --strict on a machine equal to the host: as natively" \
        "$native" quiet "$run" --strict --cpus "$host_n" --cpu-quota $q -- "$rt_dir/gomaxprocs"
    done
    for q in 0.5 1.5 2.5 3.5; do
      want=$(awk -v q=$q 'BEGIN { c = int(q); if (c < q) c++; if (c < 2) c = 2; if (c > 4) c = 4; print c }')
      expect "$go_v GOMAXPROCS on 4 vCPUs with a quota of $q CPUs under --strict: $want" "$want 4" \
        quiet "$run" --strict --cpus 4 --cpu-quota $q -- "$rt_dir/gomaxprocs"
    done
    expect "$go_v GOMAXPROCS on 4 vCPUs without a quota under --strict: the vCPU count" "4 4" \
      quiet "$run" --strict --cpus 4 -- "$rt_dir/gomaxprocs"
    expect "$go_v GOMAXPROCS with GODEBUG=containermaxprocs=0: the quota is what lowered it" "4 4" \
      quiet "$run" --strict --cpus 4 --cpu-quota 1.5 -- env GODEBUG=containermaxprocs=0 "$rt_dir/gomaxprocs"
  else
    fail "Go's GOMAXPROCS: the probe builds" "$(cat "$rt_dir/go.log")"
  fi
fi
cleanup
echo "1..$n"
