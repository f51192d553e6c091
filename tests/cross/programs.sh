#!/usr/bin/env bash
# A cross build's real programs (tests/cross/meson.build): the cross-built libos-run under qemu-user
# (LIBOS_CROSS_EMULATOR) starts programs of the architecture, which run through binfmt_misc, each
# with the cross-built shim. The architecture's own nproc, cat and lscpu come from Debian's
# packages, unpacked by scripts/test --cross into LIBOS_CROSS_TOOLS (each missing one is a skip).
# TAP output.
set -u
launcher=${LIBOS_LAUNCHER:?run through meson test}
emulator=${LIBOS_CROSS_EMULATOR:?run through meson test}
progs=${LIBOS_TEST_PROGRAMS:?run through meson test}
arch=${LIBOS_ARCH:?run through meson test}
tools=${LIBOS_CROSS_TOOLS:-}
source "$(dirname "$0")/../lib/tap.sh"

run() { "$emulator" "$launcher" "$@"; }
tool() { local d; for d in usr/bin bin; do [ -n "$tools" ] && [ -x "$tools/$d/$1" ] && { echo "$tools/$d/$1"; return 0; }; done; return 1; }

# Without binfmt_misc the launcher cannot start a program of the architecture at all.
if ! "$progs/cross_hardware_concurrency" >/dev/null 2>&1; then
  echo "1..0 # SKIP the kernel cannot run $arch programs (no binfmt_misc entry for qemu-user: scripts/test --cross registers one)"
  exit 0
fi

host_cpus=$(getconf _NPROCESSORS_ONLN)
# A program of the architecture without the LibOS: the host's CPUs, as the emulator passes them on.
expect "no launch: C++ hardware_concurrency is the host's" "$host_cpus" "$progs/cross_hardware_concurrency"
for cpus in 1 3 8; do
  last=$((cpus - 1))
  expect "--cpus $cpus: C++ std::thread::hardware_concurrency" "$cpus" run --cpus "$cpus" -- "$progs/cross_hardware_concurrency"
  if [ -x "$progs/cross_openmp_procs" ]; then
    expect "--cpus $cpus: OpenMP omp_get_num_procs, team size" "$cpus $cpus" run --cpus "$cpus" -- "$progs/cross_openmp_procs"
  else
    skip "--cpus $cpus: OpenMP" "libgomp (OpenMP) is not available to the cross compiler"
  fi
  want=$(for ((c = 0; c < cpus; c++)); do echo "cpu $c: sched_getcpu $c getcpu $c"; done)
  expect "--cpus $cpus: pinned to each vCPU, sched_getcpu and getcpu read it" "$want" run --cpus "$cpus" -- "$progs/cross_pin_each"
done
expect "--cpus 8: vfork + exec: the parent sees its child's {6}" "6" run --cpus 8 -- "$progs/cross_vfork_exec" vfork
expect "--cpus 8: a clone() fork child pins itself to 5: mask 5, sched_getcpu 5" "5 5" \
  run --cpus 8 -- "$progs/cross_vfork_exec" clone-fork

# The architecture's nproc (coreutils): the README's command.
if nproc_bin=$(tool nproc); then
  expect "no launch: $arch nproc is the host's" "$host_cpus" "$nproc_bin"
  expect "--cpus 8: $arch nproc" "8" run --cpus 8 -- "$nproc_bin"
  expect "--cpus 8: $arch nproc --all" "8" run --cpus 8 -- "$nproc_bin" --all
  expect "--cpus 3 --cpu-map 1,0,1: $arch nproc" "3" run --cpu-map 1,0,1 -- "$nproc_bin"
  # Tracing decodes the architecture's numbers: nproc's one affinity call, by name, with its mask.
  traced=$(run --cpus 2 --trace --trace-filter=%cpu -- "$nproc_bin" 2>&1)
  check "--cpus 2 --trace --trace-filter=%cpu: $arch nproc's sched_getaffinity, traced by name" \
    "$([[ $traced == *"sched_getaffinity(0, "*"[0 1]) = "* ]] && [[ $traced == *$'\n2' ]]; echo $?)" "$traced"
else
  skip "$arch nproc" "no $arch coreutils unpacked (LIBOS_CROSS_TOOLS; scripts/test --cross unpacks it)"
fi

# /proc/cpuinfo and the topology files as the architecture's kernel writes them.
if cat_bin=$(tool cat); then
  cpuinfo=$(run --cpus 8 -- "$cat_bin" /proc/cpuinfo)
  expect "--cpus 8: /proc/cpuinfo has 8 processor blocks, numbered 0-7" "0 1 2 3 4 5 6 7" \
    sh -c 'printf "%s\n" "$1" | sed -n "s/^processor\t: //p" | tr "\n" " " | sed "s/ $//"' _ "$cpuinfo"
  if [ "$arch" = aarch64 ]; then
    # Each block: the fields of arch/arm64/kernel/cpuinfo.c, in its order, then an empty line.
    fields=$(printf '%s\n' "$cpuinfo" | sed -n '1,/^$/p' | sed 's/[[:space:]]*:.*//' | tr '\n' '|')
    expect "--cpus 8: /proc/cpuinfo blocks in arm64's format" \
      "processor|BogoMIPS|Features|CPU implementer|CPU architecture|CPU variant|CPU part|CPU revision||" echo "$fields"
    expect "--cpus 8: /proc/cpuinfo has no x86 fields (apicid, vendor_id, flags)" "0" \
      sh -c 'printf "%s\n" "$1" | grep -cE "^(apicid|initial apicid|vendor_id|flags)[[:space:]]*:"' _ "$cpuinfo"
    expect "--cpus 8: every block says the same Features" "1" \
      sh -c 'printf "%s\n" "$1" | grep "^Features" | sort -u | wc -l' _ "$cpuinfo"
    # Every capability bit of the process's auxiliary vector is one name of the Features line (the
    # kernel names each bit of AT_HWCAP and AT_HWCAP2; qemu-user's CPU has SME's, in AT_HWCAP2 23-30).
    expect "--cpus 8: Features names every AT_HWCAP and AT_HWCAP2 bit" "$("$progs/cross_hwcap_bits")" \
      sh -c 'printf "%s\n" "$1" | sed -n "s/^Features\t: //p" | head -1 | wc -w' _ "$cpuinfo"
  fi
  topo=/sys/devices/system/cpu/cpu5/topology
  expect "--topology sockets=1,clusters=2,cores=2,threads=2: cpu5's cluster, its CPUs, its core's CPUs" "1 4-7 4-5" \
    sh -c '"$@" | tr "\n" " " | sed "s/ $//"' _ "$emulator" "$launcher" --topology sockets=1,clusters=2,cores=2,threads=2 -- \
    "$cat_bin" $topo/cluster_id $topo/cluster_cpus_list $topo/core_cpus_list
  expect "--cpus 8: /sys/devices/system/cpu/online" "0-7" run --cpus 8 -- "$cat_bin" /sys/devices/system/cpu/online
else
  skip "$arch cat: /proc/cpuinfo and topology" "no $arch coreutils unpacked (LIBOS_CROSS_TOOLS)"
fi

if lscpu_bin=$(tool lscpu); then
  expect "--cpus 8: $arch lscpu CPU(s)" "8" sh -c "'$emulator' '$launcher' --cpus 8 -- '$lscpu_bin' | sed -n 's/^CPU(s): *//p'"
  expect "--cpus 8: $arch lscpu -p lists every vCPU" "0 1 2 3 4 5 6 7 " \
    sh -c "'$emulator' '$launcher' --cpus 8 -- '$lscpu_bin' -p | grep -v '^#' | cut -d, -f1 | tr '\n' ' '"
else
  skip "$arch lscpu" "no $arch util-linux unpacked (LIBOS_CROSS_TOOLS)"
fi

# Strict mode cannot work under a user-mode emulator: refused with one line, status 125.
out=$(run --strict --cpus 2 -- "$progs/cross_hardware_concurrency" 2>&1)
status=$?
lines=$(printf '%s\n' "$out" | wc -l)
check "--strict under qemu-user: refused with one line and status 125" \
  "$([ "$status" = 125 ] && [ "$lines" = 1 ] && [[ $out == *"strict mode needs a real $arch kernel"* ]]; echo $?)" \
  "status $status, $lines line(s): $out"
echo "1..$n"
