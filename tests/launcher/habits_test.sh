#!/usr/bin/env bash
# taskset's and numactl's habits in the launcher (issue 16): the short options -n and -c, the kernel's
# cpulist strides in --cpu-map and LIBOS_CPU_MAP, --show, and one error prefix ("libos-run: " for the
# launcher's lines). The judges: taskset itself for the stride syntax (util-linux's cpulist parser), and
# the program's own view of the machine (the sysfs files the shim shows it) for what --show says. TAP.
set -u

L=${LIBOS_LAUNCHER:?LIBOS_LAUNCHER must name build/launcher/libos-run}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset LIBOS_CPUS LIBOS_CPU_MAP LIBOS_TOPOLOGY LIBOS_NUMA LIBOS_CPU_QUOTA LIBOS_CPUS_FROM_QUOTA LIBOS_PROPAGATE \
  LIBOS_STATE_FD LIBOS_AFFINITY LIBOS_SHIM_PATH LD_PRELOAD LIBOS_TRACE LIBOS_STRICT LIBOS_CWD

source "$(dirname "$0")/../lib/tap.sh"
# The program's environment entry NAME under the launcher's OPTIONS: value_under NAME OPTIONS...
value_under() {
  local name=$1
  shift
  "$L" "$@" -- cat /proc/self/environ 2>"$tmp/err" | tr '\0' '\n' | sed -n "s/^$name=//p"
}

own_list=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)
first=${own_list%%[-,]*}

# ---- -n and -c: the same as --cpus and --cpu-map, value attached or apart ------------------------------
for form in "-n 3" "-n3" "--cpus 3" "--cpus=3"; do
  # shellcheck disable=SC2086
  got=$(value_under LIBOS_CPUS $form)
  [ "$got" = 3 ]
  check "$form gives a machine of 3 vCPUs" $? "LIBOS_CPUS='$got'" "$(cat "$tmp/err")"
done
for form in "-c $first,$first" "-c$first,$first" "--cpu-map=$first,$first"; do
  # shellcheck disable=SC2086
  got=$(value_under LIBOS_CPU_MAP $form)
  [ "$got" = "$first,$first" ]
  check "$form maps two vCPUs onto host CPU $first" $? "LIBOS_CPU_MAP='$got'" "$(cat "$tmp/err")"
done
out=$("$L" -n 5 -- nproc 2>&1)
check "-n 5 -- nproc prints 5" "$([ "$out" = 5 ]; echo $?)" "$out"
out=$("$L" -n 2 -c "$first" -- true 2>&1)
rc=$?
[ $rc = 125 ] && [[ $out == "libos-run: --cpus: bad token '2': it disagrees with --cpu-map '$first'"* ]]
check "-n and -c that disagree: 125, one line naming the options" $? "status $rc: $out"
out=$("$L" -n 2>&1)
rc=$?
[ $rc = 125 ] && [[ $out == "libos-run: missing value for option '--cpus'"* ]]
check "-n without a value: 125 and one line" $? "status $rc: $out"

# ---- strides: taskset's A-B:S, read by taskset itself, and the kernel's A-B:U/G ---------------------
# Ranges of this machine's CPUs from the first allowed one, each as taskset expands it.
if [[ $own_list == "$first"-* ]]; then
  last=${own_list#*-}
  last=${last%%,*}
  for spec in "$first-$last:1" "$first-$last:2" "$first-$last:3"; do
    want=$(taskset -c "$spec" sh -c 'sed -n "s/^Cpus_allowed_list:[[:space:]]*//p" /proc/self/status' 2>&1)
    got=$("$L" -c "$spec" --show | sed -n 's/^host CPUs: *//p')
    [ -n "$want" ] && [ "$got" = "$want" ]
    check "-c $spec names the host CPUs taskset -c $spec does ($want)" $? "launcher: '$got'" "taskset: '$want'"
  done
  count=$("$L" -c "$first-$last:1/2" -- nproc 2>&1)
  want=$(((last - first) / 2 + 1))
  check "-c $first-$last:1/2 (the kernel's groups) makes a machine of every other CPU: $want vCPUs" \
    "$([ "$count" = "$want" ]; echo $?)" "nproc: $count"
else
  skip "strides over a range of host CPUs" "this process's CPUs ($own_list) do not start with a range"
fi
got=$(LIBOS_CPU_MAP="$first-$first:2,$first" "$L" -- sh -c 'echo "$LIBOS_CPU_MAP $(nproc)"' 2>&1)
check "LIBOS_CPU_MAP takes a stride too, and the program gets the map expanded" \
  "$([ "$got" = "$first,$first 2" ]; echo $?)" "$got"
for bad in "0-7:0" "0-7:3/2" "5:2" "0-7:2/"; do
  out=$("$L" -c "$bad" -- true 2>&1)
  rc=$?
  [ $rc = 125 ] && [ "$(wc -l <<<"$out")" = 1 ] && [[ $out == "libos-run: --cpu-map: bad token '$bad': expected"* ]]
  check "-c $bad: 125 and one line saying what is allowed" $? "status $rc: $out"
done

# ---- --show: the machine a run would make, the same one the program sees ----------------------------
marker=$tmp/ran
out=$("$L" -n 8 --show -- touch "$marker" 2>&1)
rc=$?
[ $rc = 0 ] && [ ! -e "$marker" ] && grep -q '^vCPUs: *8 (0-7)$' <<<"$out"
check "--show prints the machine (8 vCPUs), exits 0 and runs nothing" $? "status $rc" "$out"
out=$("$L" --cpus 2 --show 2>&1)
check "--show needs no PROGRAM" "$([ $? = 0 ] && grep -q '^map:' <<<"$out"; echo $?)" "$out"
out=$("$L" --show 2>&1)
grep -q '^machine: *none' <<<"$out"
check "--show without a machine says the program sees the host" $? "$out"
out=$("$L" --cpus 0 --show 2>&1)
rc=$?
[ $rc = 125 ] && [[ $out == "libos-run: --cpus: bad token '0'"* ]]
check "--show with a bad configuration: 125 and the refusal" $? "status $rc: $out"

# What the program sees, read from the files the shim shows: the nodes' vCPUs, the packages, the
# threads of a core. view OPTIONS...: "nodes=N node0=LIST ... sockets=S threads=T".
view() {
  "$L" "$@" -- sh -c '
    set -- /sys/devices/system/node/node[0-9]*
    printf "nodes=%s" $#
    for d; do printf " %s=%s" "${d##*/}" "$(cat "$d/cpulist")"; done
    printf " sockets=%s" "$(cat /sys/devices/system/cpu/cpu[0-9]*/topology/physical_package_id | sort -u | wc -l)"
    awk -F, "{ for (i = 1; i <= NF; i++) { split(\$i, r, \"-\"); c += (r[2] == \"\" ? 1 : r[2] - r[1] + 1) } }
      END { printf \" threads=%s\\n\", c }" /sys/devices/system/cpu/cpu0/topology/thread_siblings_list'
}
# shown OPTIONS...: the same, from --show.
shown() {
  "$L" "$@" --show | awk '
    /^NUMA nodes:/ { nodes = $3 }
    /^node [0-9]+:/ { sub(":", "", $2); list = $4; sub(",$", "", list); lists = lists " node" $2 "=" list }
    /^shape:/ { sockets = $2; for (i = 1; i <= NF; i++) if ($i == "threads" || $i == "thread") threads = $(i - 1) }
    END { printf "nodes=%s%s sockets=%s threads=%s\n", nodes, lists, sockets, threads }'
}
for machine in "-n 8" "-n 16 --numa 2" "--topology sockets=2,cores=2,threads=2 --numa 0-1,4-5:2-3,6-7" \
  "-n 6 --numa 3" "--topology sockets=4,cores=2 --numa 2"; do
  # shellcheck disable=SC2086
  want=$(view $machine 2>&1)
  # shellcheck disable=SC2086
  got=$(shown $machine 2>&1)
  [ -n "$want" ] && [ "$got" = "$want" ]
  check "--show $machine says what the program sees: $want" $? "--show: $got" "program: $want"
done

# ---- the error prefix: the launcher's own lines and the shared parser's, all "libos-run: " -----------
for args in "--bogus" "--cpus" "--cpus x" "--cpu-map 99999" "--topology sockets=x" "--numa 0" \
  "--trace-format xml" "--no-shim" "--cpu-quota 0"; do
  # shellcheck disable=SC2086
  out=$("$L" $args -- true 2>&1)
  rc=$?
  [ $rc = 125 ] && [ "$(wc -l <<<"$out")" = 1 ] && [[ $out == "libos-run: "* ]]
  check "libos-run $args: one line starting 'libos-run: '" $? "status $rc: $out"
done
out=$(LD_PRELOAD=$("$L" --show | sed -n 's/^shim: *//p') LIBOS_CPUS=x /bin/true 2>&1)
[[ $out == "libos: LIBOS_CPUS: bad token 'x'"* ]]
check "the shim inside a program says 'libos: '" $? "$out"

# ---- --help lists the new habits ------------------------------------------------------------------
help=$("$L" --help)
for word in "-n N" "-c LIST" "--show" "0-7:2" "0-7:2/4"; do
  grep -q -e "$word" <<<"$help"
  check "--help mentions $word" $?
done

echo "1..$n"
