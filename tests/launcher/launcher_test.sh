#!/usr/bin/env bash
# The launcher, build/launcher/libos-run (LIBOS_LAUNCHER), and its wrapper scripts/libos-run: options,
# help and version, refusal of every bad configuration, exit statuses, the environment and the host
# affinity the program starts with. TAP output; a check that this machine cannot make is skipped
# with the reason.
#
# These tests look at what the launcher hands over, not at what the shim does with it: the program's
# environment is read from /proc/self/environ (the block execve received, which no shim rewrites)
# and its host affinity from outside, through /proc/PID/status read by this (unpreloaded) shell.
set -u

L=${LIBOS_LAUNCHER:?LIBOS_LAUNCHER must name build/launcher/libos-run}
build=${LIBOS_BUILD_DIR:?LIBOS_BUILD_DIR must name the build directory}
root=${LIBOS_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
shim=$(realpath "$build/shim/libshim.so")
# The launcher preloads the shim alone: the PAL is linked into it, nothing else is loaded.
ours="$shim"
tmp=$(mktemp -d)
cgroup=""
cleanup() {
  [ -n "$cgroup" ] && rmdir "$cgroup" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
# Nothing from an enclosing launch may leak into these runs.
unset LIBOS_CPUS LIBOS_CPU_MAP LIBOS_PROPAGATE LIBOS_STATE_FD LIBOS_AFFINITY LIBOS_SHIM_PATH LD_PRELOAD \
  LIBOS_TRACE LIBOS_TRACE_STACK LIBOS_TRACE_FORMAT LIBOS_STATS LIBOS_STRICT LIBOS_CWD LIBOS_TEST_CRASH \
  LIBOS_TEST_STRICT_MISSING LIBOS_TRACE_FILTER LIBOS_TRACE_TIME LIBOS_TRACE_PER_PROCESS LIBOS_STATS_FD \
  LIBOS_TRACE_EXEC LIBOS_STATS_OUTER_FD LIBOS_LIVE_FDS

source "$(dirname "$0")/../lib/tap.sh"

# run ARGS...: runs the launcher; sets $out (stdout), $err (stderr), $rc, $err_lines.
run() {
  "$L" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
  err_lines=$(wc -l <"$tmp/err")
}
# The program's environment, one entry a line: env_of OPTIONS... (the program is cat /proc/self/environ).
env_of() { "$L" "$@" -- cat /proc/self/environ 2>"$tmp/err" | tr '\0' '\n'; }
# value_of NAME ENV-TEXT: the value of NAME, or "<unset>".
value_of() {
  local line found="<unset>"
  while IFS= read -r line; do
    [[ $line == "$1="* ]] && found=${line#"$1="}
  done <<<"$2"
  printf '%s' "$found"
}
# count_of NAME ENV-TEXT: how many entries set NAME.
count_of() { grep -c "^$1=" <<<"$2"; }

# The CPUs this test may use: its own affinity (this shell is not preloaded).
expand_list() { # "0-2,5" -> "0 1 2 5"
  local part out=() i
  IFS=, read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    if [[ $part == *-* ]]; then
      for ((i = ${part%-*}; i <= ${part#*-}; i++)); do out+=("$i"); done
    else
      out+=("$part")
    fi
  done
  echo "${out[*]}"
}
own_list=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)
read -ra cpus <<<"$(expand_list "$own_list")"
online=$(cat /sys/devices/system/cpu/online 2>/dev/null || echo "$own_list")

# ---- --help and --version ----------------------------------------------------------------------
for flag in --help -h; do
  run $flag
  if [ $rc -eq 0 ] && [ -z "$err" ] && [[ $out == Usage:* ]]; then
    pass "$flag prints the usage on stdout and exits 0"
  else
    fail "$flag prints the usage on stdout and exits 0" "status $rc" "$err"
  fi
done
run --help
help=$out
for word in --cpus --cpu-map --no-propagate --help -h --version -V \
  LIBOS_CPUS LIBOS_CPU_MAP LIBOS_PROPAGATE LD_PRELOAD LIBOS_STATE_FD LIBOS_AFFINITY LIBOS_SHIM_PATH PATH \
  LIBOS_TRACE LIBOS_TRACE_STACK LIBOS_TRACE_FORMAT LIBOS_STATS stderr "out of memory" \
  --trace-filter --trace-time --trace-per-process LIBOS_TRACE_FILTER LIBOS_TRACE_TIME LIBOS_TRACE_PER_PROCESS \
  125 126 127 Examples taskset; do
  if grep -q -e "$word" <<<"$help"; then
    pass "--help mentions $word"
  else
    fail "--help mentions $word"
  fi
done
version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$root/meson.build" | head -n 1)
for flag in --version -V; do
  run $flag
  if [ $rc -eq 0 ] && [ "$out" == "libos-run $version" ] && [ -z "$err" ]; then
    pass "$flag prints 'libos-run $version'"
  else
    fail "$flag prints 'libos-run $version'" "status $rc, stdout '$out'" "$err"
  fi
done

# ---- bad configurations: exit 125, one line naming the option and the token, program not run ------
# bad_config NAME 'WORD...' ARGS...: every WORD must be in the one line of stderr.
bad_config() {
  local name=$1 words=$2
  shift 2
  local marker="$tmp/marker.$n"
  run "$@" -- touch "$marker"
  local problems=() word
  [ $rc -eq 125 ] || problems+=("exit status $rc, expected 125")
  [ "$err_lines" -eq 1 ] || problems+=("$err_lines lines on stderr, expected exactly 1")
  [[ $err == "libos-run: "* ]] || problems+=("stderr does not start with the launcher's prefix, 'libos-run: '")
  for word in $words; do
    [[ $err == *"$word"* ]] || problems+=("stderr does not name $word")
  done
  [ -z "$out" ] || problems+=("stdout is not empty")
  [ ! -e "$marker" ] || problems+=("the program ran")
  if [ ${#problems[@]} -eq 0 ]; then
    pass "$name: refused: $err"
  else
    fail "$name: refused with one line naming the option and the token" "${problems[@]}" "stderr: $err"
  fi
}
bad_config "--cpus x (not a number)" "--cpus 'x'" --cpus x
bad_config "--cpus=x" "--cpus 'x'" --cpus=x
bad_config "--cpus 0" "--cpus '0'" --cpus 0
bad_config "--cpus 8193 (too many)" "--cpus '8193'" --cpus 8193
bad_config "--cpus 8x (trailing garbage)" "--cpus '8x'" --cpus 8x
bad_config "--cpus -1" "--cpus '-1'" --cpus -1
bad_config "--cpus 99999999999 (overflow)" "--cpus '99999999999'" --cpus 99999999999
bad_config "--cpu-map 0,,1 (empty entry)" "--cpu-map '' '0,,1'" --cpu-map 0,,1
bad_config "--cpu-map 0, (trailing comma)" "--cpu-map '0,'" --cpu-map 0,
bad_config "--cpu-map 3-1 (downward range)" "--cpu-map '3-1'" --cpu-map 3-1
bad_config "--cpu-map=a" "--cpu-map 'a'" --cpu-map=a
bad_config "--cpu-map 0-x" "--cpu-map '0-x'" --cpu-map 0-x
bad_config "--cpu-map 4095 (not online)" "--cpu-map '4095' online" --cpu-map 4095
bad_config "--cpu-map 0,9999 (beyond the CPU limit)" "--cpu-map '9999'" --cpu-map 0,9999
bad_config "--cpus 3 --cpu-map 0,1 (disagree)" "--cpus '3' --cpu-map" --cpus 3 --cpu-map 0,1
# The trace's file must open for appending, as strace -o requires; the format is text or json.
bad_config "--trace=/nonexistent/dir/f (no such directory)" "--trace '/nonexistent/dir/f' directory" \
  --trace=/nonexistent/dir/f
bad_config "--trace=DIR (a directory)" "--trace '$tmp' directory" --trace="$tmp"
touch "$tmp/plain-file"
bad_config "--trace=FILE/f (below a file)" "--trace '$tmp/plain-file/f' directory" --trace="$tmp/plain-file/f"
bad_config "--trace=/nonexistent/dir/f with a machine" "--trace '/nonexistent/dir/f'" --cpus 2 --trace=/nonexistent/dir/f
bad_config "--trace-format=xml" "--trace-format 'xml' text json" --trace-format=xml
bad_config "--trace-format xml" "--trace-format 'xml' text json" --trace-format xml
bad_config "--trace-format=JSON" "--trace-format 'JSON'" --trace-format=JSON
# The variables libos-run reads itself are refused the same way, naming the variable.
LIBOS_PROPAGATE=yes bad_config "LIBOS_PROPAGATE=yes" "LIBOS_PROPAGATE 'yes' 0 1"
LIBOS_PROPAGATE=2 bad_config "LIBOS_PROPAGATE=2 with --cpus 2" "LIBOS_PROPAGATE '2'" --cpus 2
if [ "$(python3 -c '
import json, sys
print([o["value"] for o in json.load(open(sys.argv[1])) if o["name"] == "test_hooks"][0])' \
  "$build/meson-info/intro-buildoptions.json" 2>/dev/null)" == True ]; then
  LIBOS_TEST_STRICT_MISSING=yes bad_config "LIBOS_TEST_STRICT_MISSING=yes" "LIBOS_TEST_STRICT_MISSING 'yes'" --cpus 2
else
  skip "LIBOS_TEST_STRICT_MISSING=yes" "this build has test_hooks=false"
fi

# A host CPU the cpuset does not allow: needs a cpuset cgroup (v1, as root) and two CPUs.
cpuset_root=/sys/fs/cgroup/cpuset
if [ ${#cpus[@]} -lt 2 ]; then
  skip "--cpu-map naming a CPU the cpuset does not allow" "needs two CPUs in this test's affinity"
elif [ "$(id -u)" -ne 0 ] || [ ! -w "$cpuset_root/tasks" ] || [ ! -r "$cpuset_root/cpuset.mems" ]; then
  skip "--cpu-map naming a CPU the cpuset does not allow" "needs root and a writable cgroup v1 cpuset hierarchy at $cpuset_root"
else
  cgroup="$cpuset_root/libos-launcher-test.$$"
  a=${cpus[0]} b=${cpus[1]}
  if mkdir "$cgroup" && echo "$a" >"$cgroup/cpuset.cpus" && cat "$cpuset_root/cpuset.mems" >"$cgroup/cpuset.mems"; then
    # Each run is a shell that moves itself into the cgroup, then execs the launcher.
    in_cgroup() { sh -c 'echo $$ >"$1/tasks" && shift && exec "$@"' sh "$cgroup" "$@"; }
    marker="$tmp/cpuset-marker"
    in_cgroup "$L" --cpu-map "$b" -- touch "$marker" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    err=$(cat "$tmp/err")
    if [ $rc -eq 125 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && [[ $err == "libos-run: --cpu-map: bad token '$b'"*"not allowed"* ]] &&
      [ ! -e "$marker" ]; then
      pass "--cpu-map $b in a cpuset of CPU $a: refused: $err"
    else
      fail "--cpu-map $b in a cpuset of CPU $a: refused with one line" "status $rc" "$err"
    fi
    got=$(in_cgroup "$L" --cpus 3 -- cat /proc/self/environ 2>&1 | tr '\0' '\n')
    if [ "$(value_of LIBOS_CPU_MAP "$got")" == "$a,$a,$a" ]; then
      pass "--cpus 3 in a cpuset of CPU $a spreads over CPU $a only"
    else
      fail "--cpus 3 in a cpuset of CPU $a spreads over CPU $a only" "$got"
    fi
  else
    skip "--cpu-map naming a CPU the cpuset does not allow" "cannot create a cpuset cgroup at $cgroup"
    skip "--cpus 3 in a cpuset" "cannot create a cpuset cgroup at $cgroup"
  fi
fi
# Allowed means the cpuset, not the affinity: a CPU outside the affinity but inside the cpuset is fine.
if [ ${#cpus[@]} -ge 2 ] && command -v taskset >/dev/null; then
  a=${cpus[0]} b=${cpus[1]}
  got=$(taskset -c "$a" "$L" --cpu-map "$b" -- cat /proc/self/environ 2>&1 | tr '\0' '\n')
  if [ "$(value_of LIBOS_CPU_MAP "$got")" == "$b" ]; then
    pass "a host CPU outside the launcher's affinity but allowed by the cpuset is accepted"
  else
    fail "a host CPU outside the launcher's affinity but allowed by the cpuset is accepted" "$got"
  fi
else
  skip "a host CPU outside the launcher's affinity is accepted" "needs taskset and two CPUs"
fi

# The launcher and the shim refuse with the same line, but for the setting's name and the prefix: each
# names itself, "libos-run: " and "libos: ". (This asks the shim: skipped while the shim does not
# refuse yet.)
as_launcher() { local line=${1//$2/$3}; [[ $line == "libos: "* ]] && line="libos-run: ${line#libos: }"; printf '%s' "$line"; }
for spec in "--cpus LIBOS_CPUS x" "--cpus LIBOS_CPUS 0" "--cpus LIBOS_CPUS 8x" \
  "--cpu-map LIBOS_CPU_MAP 0,,1" "--cpu-map LIBOS_CPU_MAP 3-1" "--cpu-map LIBOS_CPU_MAP 4095"; do
  read -r option variable token <<<"$spec"
  launcher_line=$("$L" "$option" "$token" -- true 2>&1)
  # nproc asks for its affinity, so the shim reads its configuration (it does so on first use).
  shim_line=$(env LD_PRELOAD="$shim" "$variable=$token" nproc 2>&1)
  shim_rc=$?
  name="launcher and shim refuse $option $token / $variable=$token with the same line"
  if [ $shim_rc -ne 125 ]; then
    skip "$name" "the shim does not refuse $variable=$token (status $shim_rc)"
  elif [ "$(as_launcher "$shim_line" "$variable" "$option")" == "$launcher_line" ]; then
    pass "$name"
  else
    fail "$name" "launcher: $launcher_line" "shim:     $shim_line"
  fi
done

# --trace=TOKEN and LIBOS_TRACE=TOKEN, --trace-format=TOKEN and LIBOS_TRACE_FORMAT=TOKEN: the same line.
for spec in "--trace LIBOS_TRACE /nonexistent/dir/f" "--trace LIBOS_TRACE $tmp" \
  "--trace-format LIBOS_TRACE_FORMAT xml" "--trace-format LIBOS_TRACE_FORMAT Text" \
  "--trace-filter LIBOS_TRACE_FILTER %bogus" "--trace-filter LIBOS_TRACE_FILTER openat,,close" \
  "--trace-time LIBOS_TRACE_TIME utc"; do
  read -r option variable token <<<"$spec"
  launcher_line=$("$L" "$option=$token" -- true 2>&1)
  shim_line=$(env LD_PRELOAD="$shim" LIBOS_TRACE=stderr "$variable=$token" true 2>&1)
  shim_rc=$?
  name="launcher and shim refuse $option=$token / $variable=$token with the same line"
  if [ $shim_rc -eq 125 ] && [ -n "$launcher_line" ] && [ "$(as_launcher "$shim_line" "$variable" "$option")" == "$launcher_line" ]; then
    pass "$name"
  else
    fail "$name" "launcher: $launcher_line" "shim ($shim_rc): $shim_line"
  fi
done

# ---- every variable takes its documented values -------------------------------------------------------
# Each variable of the one list (table/include/libos/libos_env.h), set to a value outside its documented
# ones, stops the program before it runs, with 125 and one line naming the variable and the token: the
# shim's line (LD_PRELOAD alone) for what the shim reads, the launcher's for what it reads. A variable
# added to the list without a case here fails.
hooks=$(python3 -c '
import json, sys
print([o["value"] for o in json.load(open(sys.argv[1])) if o["name"] == "test_hooks"][0])' \
  "$build/meson-info/intro-buildoptions.json" 2>/dev/null)
declare -A bad_value=(
  [LIBOS_CPUS]=8x [LIBOS_CPU_MAP]=0-x [LIBOS_PROPAGATE]=yes [LIBOS_TRACE]=/nonexistent/dir/f
  [LIBOS_TRACE_STACK]=yes [LIBOS_TRACE_FORMAT]=xml [LIBOS_STATS]=yes [LIBOS_STRICT]=not-a-tag
  [LIBOS_STATE_FD]=fd3 [LIBOS_HOST_SYSTEM_FD]=fd4 [LIBOS_AFFINITY]=0-1@ [LIBOS_MEMPOLICY]=bind [LIBOS_CWD]=relative/dir [LIBOS_SHIM_PATH]=/nonexistent/libshim.so
  [LIBOS_TEST_CRASH]=boom [LIBOS_TEST_STRICT_MISSING]=yes [LIBOS_TOPOLOGY]=cores=0 [LIBOS_NUMA]=0 [LIBOS_CPUID]=yes
  [LIBOS_CPU_QUOTA]=1.5x [LIBOS_CPUS_FROM_QUOTA]=yes
  [LIBOS_TRACE_FILTER]=%bogus [LIBOS_TRACE_TIME]=utc [LIBOS_TRACE_PER_PROCESS]=yes [LIBOS_STATS_FD]=fd9
  [LIBOS_TRACE_EXEC]=bogus [LIBOS_STATS_OUTER_FD]=1,x [LIBOS_LIVE_FDS]=3,x
)
# Who reads it: the shim, the launcher, or both (then both are asked).
declare -A read_by=([LIBOS_CPUS]="shim launcher" [LIBOS_CPU_MAP]="shim launcher" [LIBOS_TOPOLOGY]="shim launcher" [LIBOS_NUMA]="shim launcher" [LIBOS_CPUID]="shim launcher" [LIBOS_CPU_QUOTA]="shim launcher" [LIBOS_CPUS_FROM_QUOTA]="shim launcher" [LIBOS_PROPAGATE]="shim launcher" [LIBOS_SHIM_PATH]=launcher [LIBOS_TEST_STRICT_MISSING]=launcher)
variables=$(sed -n 's/^ *X(kEnv[A-Za-z]*, "\(LIBOS_[A-Z_]*\)".*/\1/p' "$root/table/include/libos/libos_env.h")
[ -n "$variables" ] || fail "the variables of table/include/libos/libos_env.h are found" "none matched"
for variable in $variables; do
  token=${bad_value[$variable]:-}
  if [ -z "$token" ]; then
    fail "$variable has a bad value to try here" "add one to bad_value in $0, and its refusal to the LibOS"
    continue
  fi
  if [[ $variable == LIBOS_TEST_* ]] && [ "$hooks" != True ]; then
    skip "$variable=$token is refused" "a test hook, and this build has test_hooks=false"
    continue
  fi
  for reader in ${read_by[$variable]:-shim}; do
    marker="$tmp/every-marker.$n"
    if [ "$reader" == shim ]; then
      env LD_PRELOAD="$shim" "$variable=$token" touch "$marker" >"$tmp/out" 2>"$tmp/err"
    else
      env "$variable=$token" "$L" -- touch "$marker" >"$tmp/out" 2>"$tmp/err"
    fi
    rc=$?
    err=$(cat "$tmp/err")
    name="$variable=$token, read by the $reader: 125, one line naming $variable and '$token', the program not run"
    if [ $rc -eq 125 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && [[ $err == *"$variable"* ]] && [[ $err == *"$token"* ]] &&
      [ ! -e "$marker" ] && [ ! -s "$tmp/out" ]; then
      pass "$name: $err"
    else
      fail "$name" "status $rc" "stderr: $err"
    fi
  done
done

# The launcher refuses its variables' bad values itself, also when an option sets the machine (the
# option decides, but a bad variable is not hidden by it); and a LIBOS_SHIM_PATH that is not a shared
# object (ld.so would only warn, and run the program without the shim).
for case in "LIBOS_CPUS=abc --cpus 2" "LIBOS_CPU_MAP=0-x --cpus 2" "LIBOS_CPUS=abc --cpu-map 0" \
            "LIBOS_SHIM_PATH=/etc/passwd --cpus 2"; do
  read -r setting option value <<<"$case"
  variable=${setting%%=*}
  marker="$tmp/option-marker.$n"
  env "$setting" "$L" "$option" "$value" -- touch "$marker" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  err=$(cat "$tmp/err")
  name="$setting with $option $value: 125, one line naming $variable, the program not run"
  if [ $rc -eq 125 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && [[ $err == *"$variable"* ]] && [ ! -e "$marker" ]; then
    pass "$name: $err"
  else
    fail "$name" "status $rc" "stderr: $err"
  fi
done

# ---- usage errors: exit 125 with one line -----------------------------------------------------------
# usage_error NAME 'WORD' ARGS...
usage_error() {
  local name=$1 word=$2
  shift 2
  run "$@"
  if [ $rc -eq 125 ] && [ "$err_lines" -eq 1 ] && [[ $err == "libos-run: "*"$word"* ]] && [ -z "$out" ] &&
    [ ! -e "$tmp/usage-marker" ]; then
    pass "$name: exits 125: $err"
  else
    fail "$name: exits 125 with one line naming $word" "status $rc" "stderr: $err" "stdout: $out"
  fi
}
usage_error "unknown long option" "'--bogus'" --bogus -- touch "$tmp/usage-marker"
usage_error "unknown short option" "'-x'" -x touch "$tmp/usage-marker"
usage_error "--cpus without a value" "'--cpus'" --cpus
usage_error "--cpu-map without a value" "'--cpu-map'" --cpu-map
usage_error "--cpus followed by --" "'--cpus'" --cpus -- touch "$tmp/usage-marker"
usage_error "--cpus= (empty)" "'--cpus'" --cpus= -- touch "$tmp/usage-marker"
usage_error "--cpu-map '' (empty)" "'--cpu-map'" --cpu-map "" -- touch "$tmp/usage-marker"
usage_error "--no-propagate=1" "'--no-propagate=1'" --no-propagate=1 -- touch "$tmp/usage-marker"
usage_error "--trace= (empty)" "'--trace'" --trace= -- touch "$tmp/usage-marker"
usage_error "--trace-format= (empty)" "'--trace-format'" --trace-format= -- touch "$tmp/usage-marker"
usage_error "--trace-format followed by --" "'--trace-format'" --trace-format -- touch "$tmp/usage-marker"
usage_error "no arguments" "no program"
usage_error "options but no program" "no program" --cpus 2
usage_error "-- but no program" "no program" --cpus 2 --

# ---- running the program ----------------------------------------------------------------------------
run no-such-program-libos-test
if [ $rc -eq 127 ] && [ "$err" == "libos-run: no-such-program-libos-test: No such file or directory" ]; then
  pass "a program not found exits 127: $err"
else
  fail "a program not found exits 127" "status $rc" "$err"
fi
run --cpus 2 -- "$tmp/no/such/file"
if [ $rc -eq 127 ] && [ "$err_lines" -eq 1 ]; then pass "a missing path exits 127"; else fail "a missing path exits 127" "status $rc" "$err"; fi
printf '#!/bin/sh\necho ran\n' >"$tmp/not-executable"
chmod 644 "$tmp/not-executable"
run -- "$tmp/not-executable"
if [ $rc -eq 126 ] && [ "$err" == "libos-run: $tmp/not-executable: Permission denied" ]; then
  pass "a file without execute permission exits 126: $err"
else
  fail "a file without execute permission exits 126" "status $rc" "$err"
fi
run -- "$tmp"
if [ $rc -eq 126 ] && [ "$err_lines" -eq 1 ]; then pass "a directory exits 126"; else fail "a directory exits 126" "status $rc" "$err"; fi
run -- sh -c 'exit 7'
if [ $rc -eq 7 ]; then pass "the program's exit status passes through (7)"; else fail "the program's exit status passes through (7)" "status $rc"; fi
run --cpus 2 -- sh -c 'echo out; echo err >&2; exit 0'
if [ $rc -eq 0 ] && [ "$out" == out ] && [ "$err" == err ]; then
  pass "the program's stdout and stderr pass through, and nothing else"
else
  fail "the program's stdout and stderr pass through" "status $rc" "stdout: $out" "stderr: $err"
fi
run --cpus 1 -- printf '%s|' -a --cpus 'x y' --
if [ "$out" == "-a|--cpus|x y|--|" ]; then pass "arguments after PROGRAM are passed verbatim"; else fail "arguments after PROGRAM are passed verbatim" "$out"; fi
run printf '%s|' --cpus x
if [ $rc -eq 0 ] && [ "$out" == "--cpus|x|" ]; then pass "without --, options end at PROGRAM"; else fail "without --, options end at PROGRAM" "status $rc" "$out" "$err"; fi
printf 'echo "script $1"\n' >"$tmp/no-shebang"
chmod 755 "$tmp/no-shebang"
run -- "$tmp/no-shebang" arg
if [ $rc -eq 0 ] && [ "$out" == "script arg" ]; then pass "a script without #! runs with /bin/sh, as execvp does"; else fail "a script without #! runs with /bin/sh" "status $rc" "$out" "$err"; fi
mkdir -p "$tmp/bin"
printf '#!/bin/sh\necho found in PATH\n' >"$tmp/bin/libos-test-tool"
chmod 755 "$tmp/bin/libos-test-tool"
out=$(PATH="/nonexistent:$tmp/bin:/usr/bin:/bin" "$L" --cpus 2 -- libos-test-tool 2>&1)
if [ "$out" == "found in PATH" ]; then pass "PROGRAM is looked for in PATH"; else fail "PROGRAM is looked for in PATH" "$out"; fi

# ---- the environment the program gets ------------------------------------------------------------------
e=$(env_of)
preload=$(value_of LD_PRELOAD "$e")
if [[ $preload == "$ours" ]] && [[ $shim == /* ]]; then pass "LD_PRELOAD is the absolute path of libshim.so alone: $preload"; else fail "LD_PRELOAD is the absolute path of libshim.so alone" "got '$preload', expected '$ours'"; fi
if [ "$(value_of LIBOS_CPUS "$e")$(value_of LIBOS_CPU_MAP "$e")$(value_of LIBOS_PROPAGATE "$e")" == "<unset><unset><unset>" ]; then
  pass "transparent mode: LIBOS_CPUS, LIBOS_CPU_MAP and LIBOS_PROPAGATE unset"
else
  fail "transparent mode: LIBOS_CPUS, LIBOS_CPU_MAP and LIBOS_PROPAGATE unset" "$e"
fi

e=$(env_of --cpus 4)
map=$(value_of LIBOS_CPU_MAP "$e")
if [ ${#cpus[@]} -eq 2 ]; then
  a=${cpus[0]} b=${cpus[1]}
  if [ "$(value_of LIBOS_CPUS "$e")" == 4 ] && [ "$map" == "$a,$b,$a,$b" ]; then
    pass "--cpus 4 over CPUs $a,$b: LIBOS_CPUS=4 LIBOS_CPU_MAP=$map"
  else
    fail "--cpus 4 over CPUs $a,$b: LIBOS_CPUS=4, map $a,$b,$a,$b" "$e"
  fi
elif [ "$(value_of LIBOS_CPUS "$e")" == 4 ] && [ "$map" != "<unset>" ]; then
  pass "--cpus 4: LIBOS_CPUS=4 LIBOS_CPU_MAP=$map"
else
  fail "--cpus 4: LIBOS_CPUS=4 and a map" "$e"
fi
# The map is canonical: given back as --cpu-map it comes out the same.
e2=$(env_of --cpu-map "$map")
if [ "$(value_of LIBOS_CPU_MAP "$e2")" == "$map" ] && [ "$(value_of LIBOS_CPUS "$e2")" == 4 ]; then
  pass "LIBOS_CPU_MAP=$map reads back as the same map"
else
  fail "LIBOS_CPU_MAP=$map reads back as the same map" "$e2"
fi
e=$(env_of --cpus=4 --cpu-map="$map")
if [ "$(value_of LIBOS_CPU_MAP "$e")" == "$map" ]; then pass "--cpus=4 --cpu-map=$map agree and are accepted"; else fail "--cpus=4 --cpu-map=$map agree" "$e" "$(cat "$tmp/err")"; fi
e=$(env_of --cpus 7 --cpus 3)
if [ "$(value_of LIBOS_CPUS "$e")" == 3 ]; then pass "the last --cpus counts"; else fail "the last --cpus counts" "$e"; fi

if [[ " ${cpus[*]} " == *" 0 "* ]] && [[ " ${cpus[*]} " == *" 1 "* ]]; then
  # expect_map NAME EXPECTED-COUNT EXPECTED-MAP OPTIONS...: EXPECTED-MAP may list spellings as A|B
  # (libos::format_cpu_map writes runs of three or more consecutive CPUs as ranges).
  expect_map() {
    local name=$1 count=$2 want=$3
    shift 3
    e=$(env_of "$@")
    local got
    got=$(value_of LIBOS_CPU_MAP "$e")
    if [ "$(value_of LIBOS_CPUS "$e")" == "$count" ] && [[ "|$want|" == *"|$got|"* ]] &&
      [ "$(count_of LIBOS_CPUS "$e")" -eq 1 ] && [ "$(count_of LIBOS_CPU_MAP "$e")" -eq 1 ]; then
      pass "$name: LIBOS_CPUS=$count LIBOS_CPU_MAP=$got"
    else
      fail "$name: LIBOS_CPUS=$count LIBOS_CPU_MAP=$want" "$e" "$(cat "$tmp/err")"
    fi
  }
  expect_map "--cpu-map 0-1" 2 0,1 --cpu-map 0-1
  expect_map "--cpu-map 0,1" 2 0,1 --cpu-map 0,1
  expect_map "--cpu-map 0,0,1,1" 4 0,0,1,1 --cpu-map 0,0,1,1
  expect_map "--cpu-map 0-1,0-1" 4 0,1,0,1 --cpu-map 0-1,0-1
  expect_map "--cpu-map 1,1,0,0" 4 1,1,0,0 --cpu-map 1,1,0,0
  expect_map "--cpu-map 1,0" 2 1,0 --cpu-map 1,0
  expect_map "--cpus 2 --cpu-map 1,0 (agree)" 2 1,0 --cpus 2 --cpu-map 1,0
  expect_map "--cpu-map 1" 1 1 --cpu-map 1
else
  skip "explicit maps over CPUs 0 and 1" "this test may not run on both CPU 0 and CPU 1 ($own_list)"
fi
if command -v taskset >/dev/null && [ ${#cpus[@]} -ge 2 ]; then
  b=${cpus[1]}
  e=$(taskset -c "$b" "$L" --cpus 4 -- cat /proc/self/environ 2>&1 | tr '\0' '\n')
  if [ "$(value_of LIBOS_CPU_MAP "$e")" == "$b,$b,$b,$b" ]; then pass "taskset -c $b libos-run --cpus 4: LIBOS_CPU_MAP=$b,$b,$b,$b"; else fail "taskset -c $b libos-run --cpus 4: LIBOS_CPU_MAP=$b,$b,$b,$b" "$e"; fi
else
  skip "taskset -c 1 libos-run --cpus 4" "needs taskset and two CPUs"
fi

e=$(env_of --cpus 2 --no-propagate)
if [ "$(value_of LIBOS_PROPAGATE "$e")" == 0 ]; then pass "--no-propagate sets LIBOS_PROPAGATE=0"; else fail "--no-propagate sets LIBOS_PROPAGATE=0" "$e"; fi
e=$(env_of --no-propagate)
if [ "$(value_of LIBOS_PROPAGATE "$e")" == 0 ]; then pass "--no-propagate without a machine sets LIBOS_PROPAGATE=0"; else fail "--no-propagate without a machine sets LIBOS_PROPAGATE=0" "$e"; fi
e=$(LIBOS_PROPAGATE=0 env_of --cpus 2)
if [ "$(value_of LIBOS_PROPAGATE "$e")" == 0 ]; then pass "an inherited LIBOS_PROPAGATE=0 acts as --no-propagate"; else fail "an inherited LIBOS_PROPAGATE=0 acts as --no-propagate" "$e"; fi
# The trace's settings as the program gets them: --trace=0 is no trace, --trace=1 standard error (as the
# variable's values are), and a file is created by the check that it opens.
# (Run in a directory of their own, which must stay empty: no file called 0 or 1.)
mkdir "$tmp/trace-cwd"
e=$(cd "$tmp/trace-cwd" && env_of --trace=0)
if [ "$(value_of LIBOS_TRACE "$e")" == 0 ] && [ ! -s "$tmp/err" ] && [ -z "$(ls -A "$tmp/trace-cwd")" ]; then
  pass "--trace=0: LIBOS_TRACE=0, no trace, no file"
else
  fail "--trace=0: LIBOS_TRACE=0, no trace, no file" "$e" "$(cat "$tmp/err")" "files: $(ls -A "$tmp/trace-cwd")"
fi
e=$(cd "$tmp/trace-cwd" && env_of --trace=1)
if [ "$(value_of LIBOS_TRACE "$e")" == 1 ] && grep -Eq ' <libos> <[0-9]+\.[0-9]{6}>$' "$tmp/err" && [ -z "$(ls -A "$tmp/trace-cwd")" ]; then
  pass "--trace=1: LIBOS_TRACE=1, the trace on standard error, no file"
else
  fail "--trace=1: LIBOS_TRACE=1, the trace on standard error, no file" "$e" "$(cat "$tmp/err")" "files: $(ls -A "$tmp/trace-cwd")"
fi
e=$(cd "$tmp" && env_of --trace=new-trace --trace-format json --trace-stack --stats)
if [ "$(value_of LIBOS_TRACE "$e")" == new-trace ] && [ "$(value_of LIBOS_TRACE_FORMAT "$e")" == json ] &&
  [ "$(value_of LIBOS_TRACE_STACK "$e")" == 1 ] && [ "$(value_of LIBOS_STATS "$e")" == 1 ] && [ -s "$tmp/new-trace" ]; then
  pass "--trace=FILE --trace-format json --trace-stack --stats: the four variables, and FILE written"
else
  fail "--trace=FILE --trace-format json --trace-stack --stats: the four variables, and FILE written" "$e" "$(cat "$tmp/err")"
fi
e=$(LIBOS_PROPAGATE=1 env_of --cpus 2)
if [ "$(value_of LIBOS_PROPAGATE "$e")" == "<unset>" ]; then pass "LIBOS_PROPAGATE other than 0 is dropped"; else fail "LIBOS_PROPAGATE other than 0 is dropped" "$e"; fi
e=$(LIBOS_STATE_FD=9 LIBOS_AFFINITY=0 LIBOS_CWD=/sys/devices/system/cpu/cpu1 env_of --cpus 2)
if [ "$(value_of LIBOS_STATE_FD "$e")$(value_of LIBOS_AFFINITY "$e")$(value_of LIBOS_CWD "$e")" == "<unset><unset><unset>" ]; then pass "inherited LIBOS_STATE_FD, LIBOS_AFFINITY and LIBOS_CWD are removed"; else fail "inherited LIBOS_STATE_FD, LIBOS_AFFINITY and LIBOS_CWD are removed" "$e"; fi
e=$(LIBOS_STATE_FD=9 LIBOS_AFFINITY=0 LIBOS_CWD=/sys/devices/system/cpu/cpu1 env_of)
if [ "$(value_of LIBOS_STATE_FD "$e")$(value_of LIBOS_AFFINITY "$e")$(value_of LIBOS_CWD "$e")" == "<unset><unset><unset>" ]; then pass "inherited LIBOS_STATE_FD, LIBOS_AFFINITY and LIBOS_CWD are removed in transparent mode too"; else fail "inherited LIBOS_STATE_FD, LIBOS_AFFINITY and LIBOS_CWD are removed in transparent mode" "$e"; fi
e=$(LIBOS_CPUS=7 LIBOS_CPU_MAP=0,0,0,0,0,0,0 env_of --cpus 2)
if [ "$(value_of LIBOS_CPUS "$e")" == 2 ] && [ "$(count_of LIBOS_CPUS "$e")" -eq 1 ] && [ "$(count_of LIBOS_CPU_MAP "$e")" -eq 1 ] &&
  [ "$(value_of LIBOS_CPU_MAP "$e")" != 0,0,0,0,0,0,0 ]; then
  pass "inherited LIBOS_CPUS and LIBOS_CPU_MAP are replaced"
else
  fail "inherited LIBOS_CPUS and LIBOS_CPU_MAP are replaced" "$e"
fi
# Without options, a machine configured in the environment is the launch's (as the shim alone would
# read it), validated the same way, with the variable named in errors.
e=$(LIBOS_CPUS=3 env_of)
if [ "$(value_of LIBOS_CPUS "$e")" == 3 ] && [ "$(value_of LIBOS_CPU_MAP "$e")" != "<unset>" ]; then pass "without options, LIBOS_CPUS=3 from the environment configures the machine"; else fail "without options, LIBOS_CPUS=3 from the environment configures the machine" "$e"; fi
e=$(LIBOS_CPU_MAP=0 env_of)
if [ "$(value_of LIBOS_CPUS "$e")$(value_of LIBOS_CPU_MAP "$e")" == "10" ]; then pass "without options, LIBOS_CPU_MAP=0 from the environment configures the machine"; else fail "without options, LIBOS_CPU_MAP=0 configures the machine" "$e"; fi
err=$(LIBOS_CPUS=7x "$L" -- true 2>&1 >/dev/null)
status=$?
if [ $status -eq 125 ] && [ "$err" == "libos-run: LIBOS_CPUS: bad token '7x': expected a whole number of virtual CPUs from 1 to 8192" ]; then pass "a bad LIBOS_CPUS in the environment: 125 and one line naming LIBOS_CPUS"; else fail "a bad LIBOS_CPUS in the environment: 125 and one line naming LIBOS_CPUS" "status $status: $err"; fi
e=$(LIBOS_LAUNCHER_TEST_VAR='a b=c' env_of --cpus 2)
if [ "$(value_of LIBOS_LAUNCHER_TEST_VAR "$e")" == "a b=c" ]; then pass "the rest of the environment is kept"; else fail "the rest of the environment is kept" "$e"; fi

# LD_PRELOAD: the shim first, the inherited entries after it, the shim never twice.
e=$(LD_PRELOAD="libfoo.so" env_of --cpus 2)
if [ "$(value_of LD_PRELOAD "$e")" == "$ours:libfoo.so" ]; then pass "LD_PRELOAD=libfoo.so becomes $ours:libfoo.so"; else fail "an inherited LD_PRELOAD comes after the shim" "$e"; fi
e=$(LD_PRELOAD="$shim" env_of --cpus 2)
if [ "$(value_of LD_PRELOAD "$e")" == "$ours" ]; then pass "an inherited LD_PRELOAD naming the shim is not doubled"; else fail "an inherited LD_PRELOAD naming the shim is not doubled" "$e"; fi
e=$(LD_PRELOAD="libfoo.so $build/shim/../shim/libshim.so:libbar.so" env_of)
if [ "$(value_of LD_PRELOAD "$e")" == "$ours:libfoo.so:libbar.so" ]; then pass "the shim under another spelling, among other entries, is moved to the front once"; else fail "the shim under another spelling is moved to the front once" "$e"; fi

# LIBOS_SHIM_PATH
cp "$shim" "$tmp/libshim.so"
e=$(cd "$tmp" && LIBOS_SHIM_PATH=./libshim.so env_of --cpus 2)
if [ "$(value_of LD_PRELOAD "$e")" == "$(realpath "$tmp/libshim.so")" ]; then pass "LIBOS_SHIM_PATH (relative) is preloaded by its absolute path"; else fail "LIBOS_SHIM_PATH is preloaded by its absolute path" "$e"; fi
LIBOS_SHIM_PATH="$tmp/missing/libshim.so" run --cpus 2 -- touch "$tmp/shim-marker"
if [ $rc -eq 125 ] && [ "$err_lines" -eq 1 ] && [[ $err == *"$tmp/missing/libshim.so"* ]] && [ ! -e "$tmp/shim-marker" ]; then
  pass "a missing shim exits 125 naming the path: $err"
else
  fail "a missing shim exits 125 naming the path" "status $rc" "$err"
fi

# A launch inside a launch starts a new machine: the enclosing shim does not rewrite its settings.
e=$("$L" --cpus 3 -- "$L" --cpus 5 -- cat /proc/self/environ 2>&1 | tr '\0' '\n')
if [ "$(value_of LIBOS_CPUS "$e")" == 5 ] && [ "$(value_of LD_PRELOAD "$e")" == "$ours" ] && [ "$(value_of LIBOS_STATE_FD "$e")" == "<unset>" ]; then
  pass "a nested launch gets its own machine (LIBOS_CPUS=5, one shim, no LIBOS_STATE_FD)"
else
  fail "a nested launch gets its own machine" "$e"
fi
# ...and does not take the enclosing machine's virtual current directory: inside cpu3/ of a 4-vCPU
# machine (host CPU b's directory), a new machine of four vCPUs on host CPU b starts in cpu<b>/, as
# any process of it that enters that directory would be.
if [ ${#cpus[@]} -ge 2 ]; then
  a=${cpus[0]} b=${cpus[1]}
  k=3; [ "$b" == 3 ] && k=1 # vCPUs 1 and 3 of the first machine run on host CPU $b
  got=$(cd / && "$L" --cpu-map "$a,$b,$a,$b" -- sh -c "cd /sys/devices/system/cpu/cpu$k && '$L' --cpu-map $b,$b,$b,$b -- pwd" 2>&1)
  if [ "$got" == "/sys/devices/system/cpu/cpu$b" ]; then
    pass "a nested launch does not inherit the enclosing machine's virtual current directory"
  else
    fail "a nested launch does not inherit the enclosing machine's virtual current directory" "pwd: $got"
  fi
else
  skip "a nested launch does not inherit the enclosing machine's virtual current directory" "needs two host CPUs"
fi
# Without options the nested launch takes the machine it finds in its environment, as a new one.
e=$("$L" --cpus 3 -- "$L" -- cat /proc/self/environ 2>&1 | tr '\0' '\n')
if [ "$(value_of LIBOS_CPUS "$e")" == 3 ] && [ "$(value_of LD_PRELOAD "$e")" == "$ours" ] && [ "$(value_of LIBOS_STATE_FD "$e")" == "<unset>" ]; then
  pass "a nested launch without options builds a new machine of the same shape"
else
  fail "a nested launch without options builds a new machine of the same shape" "$e"
fi

# ---- the host affinity the program starts with ----------------------------------------------------------
# host_affinity_of OPTIONS...: the program's Cpus_allowed_list, read from outside while it sleeps.
host_affinity_of() {
  "$L" "$@" -- sleep 10 2>/dev/null &
  local pid=$! i
  for ((i = 0; i < 200; i++)); do
    [ "$(cat /proc/$pid/comm 2>/dev/null)" == sleep ] && break
    sleep 0.05
  done
  sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/$pid/status
  kill $pid 2>/dev/null
  wait $pid 2>/dev/null
}
if [ ${#cpus[@]} -ge 2 ]; then
  a=${cpus[0]} b=${cpus[1]}
  got=$(host_affinity_of --cpu-map "$b")
  if [ "$got" == "$b" ]; then pass "--cpu-map $b: the program runs on host CPU $b"; else fail "--cpu-map $b: the program runs on host CPU $b" "Cpus_allowed_list: $got"; fi
  got=$(host_affinity_of --cpu-map "$b,$b,$a")
  want=$( ((a + 1 == b)) && echo "$a-$b" || echo "$a,$b")
  if [ "$got" == "$want" ]; then pass "--cpu-map $b,$b,$a: the program runs on host CPUs $want"; else fail "--cpu-map $b,$b,$a: the program runs on host CPUs $want" "Cpus_allowed_list: $got"; fi
  inside=$("$L" --no-propagate --cpu-map "$b" -- env -u LD_PRELOAD grep Cpus_allowed_list /proc/self/status | sed 's/^Cpus_allowed_list:[[:space:]]*//')
  if [ "$inside" == "$b" ]; then pass "--cpu-map $b: seen from inside without the shim, Cpus_allowed_list is $b"; else fail "--cpu-map $b: seen from inside, Cpus_allowed_list is $b" "$inside"; fi
  if command -v taskset >/dev/null; then
    got=$(taskset -cp "$b" $BASHPID >/dev/null && host_affinity_of)
    if [ "$got" == "$b" ]; then pass "transparent mode leaves the affinity alone (taskset -c $b)"; else fail "transparent mode leaves the affinity alone" "Cpus_allowed_list: $got"; fi
  else
    skip "transparent mode leaves the affinity alone" "taskset is not installed"
  fi
else
  skip "the program runs on the map's host CPUs" "needs two CPUs in this test's affinity ($own_list)"
fi
got=$(host_affinity_of --cpus 1)
if [ "$got" == "${cpus[0]}" ]; then pass "--cpus 1: the program runs on host CPU ${cpus[0]}"; else fail "--cpus 1: the program runs on host CPU ${cpus[0]}" "Cpus_allowed_list: $got"; fi

# ---- out of memory ------------------------------------------------------------------------------------------
# Under an address-space limit (ulimit -v) too low for it, the launcher fails with one line and 125, never
# with an abort ("terminate called without an active exception", 134). Below some limit the loader cannot
# even map its libraries (127, the loader's line); above another, the program runs. The limit at which it
# starts to run is found by bisection; below it every page of the last 512 KiB is tried, and the rest
# down to 1 MiB in 128 even steps. No timing is involved.
# limited KIB COMMAND...: COMMAND under ulimit -v KIB, with the settings of the array limited_env exported;
# sets $rc, $out, $err and $err_lines.
limited_env=()
limited() {
  local kib=$1
  shift
  last_kib=$kib
  last_command=("$@")
  (ulimit -v "$kib" && unset OMP_NUM_THREADS OMP_THREAD_LIMIT && for a in "${limited_env[@]}"; do export "$a"; done &&
    exec "$@") >"$tmp/out" 2>"$tmp/err" </dev/null
  rc=$?
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
  err_lines=$(wc -l <"$tmp/err")
}
# Whether stderr is the loader's alone: its line for the program's libraries, after (at a limit too
# low to map even the preloaded library) its line that the preload was left out.
loader_lines() {
  local last
  last=$(tail -n 1 "$tmp/err")
  [[ $last == *"error while loading shared libraries"* || $last == *"cannot allocate"* ]] || return 1
  [ "$err_lines" -eq 1 ] && return 0
  [ "$err_lines" -eq 2 ] && [[ $(head -n 1 "$tmp/err") == "ERROR: ld.so: object '"*"' from LD_PRELOAD cannot be preloaded ("*"): ignored." ]]
}
# Whether the last limited run was killed by the kernel inside execve, before the loader ran: at a
# limit too low to map the program's own image, the kernel ends it with SIGSEGV after the point of no
# return. The same run again with the loader's tracing (LD_DEBUG=files) says nothing then; had the
# loader started (and a crash been ours), it would have said which libraries it loads.
killed_in_exec() {
  local kib=$last_kib
  (ulimit -v "$kib" && for a in "${limited_env[@]}"; do export "$a"; done && export LD_DEBUG=files &&
    exec "${last_command[@]}") >/dev/null 2>"$tmp/err-debug" </dev/null
  [ $? -eq 139 ] && [ ! -s "$tmp/err-debug" ]
}
# What a limited run of nproc on 2 vCPUs did: ran (printed 2), refused (125 and one line of libos-run's
# or the LibOS's), unloadable (127 and the loader's lines alone, or killed by the kernel in execve),
# or bad (anything else: an abort, a crash, a "libos: fatal" report, more lines).
limited_outcome() {
  if [ $rc -eq 0 ] && [ "$out" == 2 ]; then
    echo ran
  elif [ $rc -eq 125 ] && [ "$err_lines" -eq 1 ] && [[ $err == "libos-run: "* || $err == "libos: "* ]] &&
    [ -z "$out" ]; then
    echo refused
  elif [ $rc -eq 127 ] && loader_lines; then
    echo unloadable
  elif [ $rc -eq 139 ] && [ ! -s "$tmp/err" ] && [ -z "$out" ] && killed_in_exec; then
    echo unloadable
  else
    echo bad
  fi
}
# memory_sweep NAME COMMAND...: the sweep above for COMMAND, which runs nproc on 2 vCPUs.
memory_sweep() {
  local name=$1
  shift
  local lo=1024 hi=$((1024 * 1024)) mid kib
  limited "$hi" "$@"
  if [ "$(limited_outcome)" != ran ]; then
    skip "$name" "it does not run even under ulimit -v $hi (status $rc: $err)"
    return
  fi
  while [ $((hi - lo)) -gt 4 ]; do
    mid=$(((lo + hi) / 2))
    limited "$mid" "$@"
    if [ "$(limited_outcome)" == ran ]; then hi=$mid; else lo=$mid; fi
  done
  local limits=() fine=$((hi - 512)) step
  [ $fine -lt 1024 ] && fine=1024
  step=$(((fine - 1024) / 128))
  [ $step -lt 4 ] && step=4
  for ((kib = 1024; kib < fine; kib += step)); do limits+=("$kib"); done
  for ((kib = fine; kib <= hi; kib += 4)); do limits+=("$kib"); done
  local bad=() refused=0 unloadable=0 ran=0 what
  for kib in "${limits[@]}"; do
    limited "$kib" "$@"
    what=$(limited_outcome)
    case $what in
      ran) ran=$((ran + 1)) ;;
      refused) refused=$((refused + 1)) ;;
      unloadable) unloadable=$((unloadable + 1)) ;;
      *) bad+=("ulimit -v $kib: status $rc, stdout '$out', stderr: $(head -c 400 "$tmp/err")") ;;
    esac
  done
  if [ ${#bad[@]} -eq 0 ]; then
    pass "$name: under ${#limits[@]} limits up to ${hi} KiB: $refused refused with one line and 125, $unloadable not loadable (127), $ran ran"
  else
    fail "$name: under every limit, 125 and one line, the loader's 127, or the program's run" \
      "${#bad[@]} of ${#limits[@]} limits up to $hi KiB failed otherwise; the first ones:" "${bad[@]:0:5}"
  fi
}
# In a sanitizer build (LIBOS_TEST_SANITIZERS) the launcher has ASan, whose shadow memory alone is
# terabytes of address space: it cannot start under any of these limits, so its sweeps are skipped.
launcher_sweep() {
  if [ -n "${LIBOS_TEST_SANITIZERS:-}" ]; then
    skip "$1" "the launcher is built with ASan ($LIBOS_TEST_SANITIZERS), which cannot start under ulimit -v"
  else
    memory_sweep "$@"
  fi
}
launcher_sweep "libos-run --cpus 2 out of memory" "$L" --cpus 2 -- nproc
launcher_sweep "libos-run out of memory, with a trace" "$L" --cpus 2 --trace="$tmp/oom-trace" -- nproc
# The shim alone, in a program short of memory: it allocates nothing, so the program loads or not as
# without it, and never crashes inside the LibOS.
limited_env=(LD_PRELOAD="$shim" LIBOS_CPUS=2)
memory_sweep "the shim alone out of memory (LIBOS_CPUS=2 nproc)" nproc
limited_env=(LD_PRELOAD="$shim" LIBOS_CPUS=2 LIBOS_TRACE="$tmp/oom-trace" LIBOS_TRACE_STACK=1 LIBOS_STATS=1)
memory_sweep "the shim alone out of memory, tracing with stacks" nproc
limited_env=()
if "$L" --strict --cpus 1 -- true 2>/dev/null; then
  launcher_sweep "libos-run --strict --cpus 2 out of memory" "$L" --strict --cpus 2 -- nproc
else
  skip "libos-run --strict out of memory" "strict mode does not run here"
fi

# ---- a program in a PID namespace of its own, reached through programs without the shim ---------------
# pidns_hop (static: no shim) takes the launch's environment into a new PID namespace, where its pid 2
# runs taskset on pid 1, pidns_hop's own first process there. The launch's shell is pid 1 too, in the
# namespace outside: its mask must not change. (A namespace tag passed at exec, trusted because the new
# program could see its parent, once named the outer namespace there: taskset's change landed in the
# shell's slot, and the shell's next child started on one CPU.)
hop=${LIBOS_PIDNS_HOP:-}
if [ -x "$hop" ] && unshare -p -f --mount-proc true 2>/dev/null; then
  out=$(unshare -p -f --mount-proc "$L" --cpus 2 -- sh -c \
    'a=$(nproc); "$0" /usr/bin/taskset -p -c 0 1 >/dev/null || exit 3; echo "$$ $a $(nproc)"' "$hop" 2>&1)
  if [ "$out" = "1 2 2" ]; then
    pass "a program in another PID namespace, reached through programs without the shim, changes its own namespace's pid 1"
  else
    fail "a program in another PID namespace, reached through programs without the shim, changes its own namespace's pid 1" \
      "1 2 2 (the shell's pid, nproc before and after)" "$out"
  fi
else
  skip "a program in another PID namespace, reached through programs without the shim" "no pidns_hop, or no unshare -p here"
fi

# ---- the wrapper, scripts/libos-run ---------------------------------------------------------------------
wrapper="$root/scripts/libos-run"
out=$(LIBOS_BUILD_DIR="$build" "$wrapper" --version 2>"$tmp/err")
if [ "$out" == "libos-run $version" ] && [ ! -s "$tmp/err" ]; then pass "scripts/libos-run --version, quietly"; else fail "scripts/libos-run --version, quietly" "$out" "$(cat "$tmp/err")"; fi
e=$(LIBOS_BUILD_DIR="$build" "$wrapper" --cpus 2 -- cat /proc/self/environ 2>"$tmp/err" | tr '\0' '\n')
if [ "$(value_of LIBOS_CPUS "$e")" == 2 ] && [ "$(value_of LD_PRELOAD "$e")" == "$ours" ] && [ ! -s "$tmp/err" ]; then
  pass "scripts/libos-run --cpus 2 runs the program on the machine"
else
  fail "scripts/libos-run --cpus 2 runs the program on the machine" "$e" "$(cat "$tmp/err")"
fi
LIBOS_BUILD_DIR="$build" "$wrapper" --cpus x -- true 2>"$tmp/err"
rc=$?
if [ $rc -eq 125 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ]; then pass "scripts/libos-run --cpus x exits 125 with one line"; else fail "scripts/libos-run --cpus x exits 125 with one line" "status $rc" "$(cat "$tmp/err")"; fi
LIBOS_BUILD_DIR="$build" "$wrapper" sh -c 'exit 9' 2>/dev/null
rc=$?
if [ $rc -eq 9 ]; then pass "scripts/libos-run passes the exit status through"; else fail "scripts/libos-run passes the exit status through" "status $rc"; fi

echo "1..$n"
