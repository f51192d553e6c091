#!/usr/bin/env bash
# libc's directory walkers on virtual machines (issue 14): glob, ftw, nftw and fts_* list the
# machine's CPUs and nodes, not the host's. TAP output.
#
#   1. walk_probe's transcript (every walker, flag and callback: walk_probe.c) natively, twice (the
#      oracle is stable), and under the shim on a machine equal to the host (its online CPUs in
#      their order): identical.
#   2. On larger and smaller machines: the walkers list cpu0..cpu(n-1) and node0..node(k-1), and a
#      vCPU's subtree is there.
#   3. Real programs: make's $(wildcard) (glibc's glob), hardlink (nftw), python's glob (os.scandir),
#      bash's own globbing (opendir), find and du (gnulib's fts, on openat and fdopendir).
# LIBOS_WALK_PROBE, LIBOS_LIBSHIM and LIBOS_LAUNCHER come from meson.
set -u
probe=${LIBOS_WALK_PROBE:?run through meson test}
shim=${LIBOS_LIBSHIM:?run through meson test}
run=${LIBOS_LAUNCHER:?run through meson test}
source "$(dirname "$0")/../lib/tap.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# The machine equal to the host: its online CPUs in order (none when some are offline, as the views
# would then show another machine).
host_map() {
  local online part lo hi out=()
  online=$(cat /sys/devices/system/cpu/online)
  [ "$online" == "$(cat /sys/devices/system/cpu/possible)" ] || return 1
  IFS=, read -ra parts <<<"$online"
  for part in "${parts[@]}"; do
    lo=${part%-*} hi=${part#*-}
    for ((c = lo; c <= hi; c++)); do out+=("$c"); done
  done
  (IFS=,; echo "${out[*]}")
}

# ---- 1. the transcript -------------------------------------------------------------------------
"$probe" transcript >"$dir/native" 2>&1
"$probe" transcript >"$dir/native2" 2>&1
n=$((n + 1))
if [ -s "$dir/native" ] && cmp -s "$dir/native" "$dir/native2"; then
  echo "ok $n - native transcript is stable ($(wc -l <"$dir/native") lines)"
else
  echo "not ok $n - native transcript is stable"
  diff "$dir/native" "$dir/native2" | head -20 | sed 's/^/# /'
fi
if map=$(host_map); then
  LD_PRELOAD=$shim LIBOS_CPU_MAP=$map "$probe" transcript >"$dir/shim" 2>&1
  n=$((n + 1))
  if cmp -s "$dir/native" "$dir/shim"; then
    echo "ok $n - on a machine equal to the host (--cpu-map $map) the walkers give the native transcript"
  else
    echo "not ok $n - on a machine equal to the host (--cpu-map $map) the walkers give the native transcript"
    diff "$dir/native" "$dir/shim" | head -40 | sed 's/^/# /'
  fi
else
  skip "transcript on a machine equal to the host" "the host has offline CPUs"
fi

# ---- 2. larger and smaller machines --------------------------------------------------------------
cpus() { # the cpuN names a walker printed, in order
  grep -oE '/sys/devices/system/cpu/cpu[0-9]+$' | sed 's|.*/||' | sort -V | tr '\n' ' ' | sed 's/ $//'
}
nodes() { # "nodeK:cpuV" pairs of a node walk
  grep -oE '/node[0-9]+/cpu[0-9]+$' | sed 's|^/||; s|/|:|' | sort -V | tr '\n' ' ' | sed 's/ $//'
}
seq_names() { local p=$1 last=$2 i out=(); for ((i = 0; i <= last; i++)); do out+=("$p$i"); done; echo "${out[*]}"; }
sockets=(--cpus 16 --topology sockets=2,cores=4,threads=2 --numa 2)
node_pairs=$(for v in $(seq 0 15); do echo "node$((v / 8)):cpu$v"; done | tr '\n' ' ' | sed 's/ $//')
# The names a walker run under the launcher prints: its cpuV entries, or its nodeK/cpuV pairs.
walk_cpus() { "$run" "$@" 2>&1 | cpus; }
walk_nodes() { "$run" "$@" 2>&1 | nodes; }
# A vCPU's own subtree (its topology directory) through the walker: how many files.
walk_count() { local pattern=$1; shift; "$run" "$@" 2>&1 | grep -c "$pattern"; }
for walker in glob nftw fts; do
  root=/sys/devices/system/cpu
  [ $walker == glob ] && root='/sys/devices/system/cpu/cpu*'
  expect "--cpus 8: $walker lists cpu0..cpu7" "$(seq_names cpu 7)" walk_cpus --cpus 8 -- "$probe" $walker "$root"
  expect "--cpus 16 (2 sockets): $walker lists cpu0..cpu15" "$(seq_names cpu 15)" \
    walk_cpus "${sockets[@]}" -- "$probe" $walker "$root"
  expect "--cpu-map 1: $walker lists cpu0 alone" "cpu0" walk_cpus --cpu-map 1 -- "$probe" $walker "$root"
  noderoot=/sys/devices/system/node
  [ $walker == glob ] && noderoot='/sys/devices/system/node/node*/cpu*'
  expect "--numa 2: $walker lists node0/cpu0-7 and node1/cpu8-15" "$node_pairs" \
    walk_nodes "${sockets[@]}" -- "$probe" $walker "$noderoot"
done
topology_files=$(ls /sys/devices/system/cpu/cpu0/topology | wc -l)
expect "--cpus 8: nftw walks cpu7/topology ($topology_files files)" "$topology_files" \
  walk_count '/cpu7/topology/' --cpus 8 -- "$probe" nftw /sys/devices/system/cpu
expect "--cpus 8: fts walks cpu7/topology ($topology_files files)" "$topology_files" \
  walk_count '/cpu7/topology/' --cpus 8 -- "$probe" fts /sys/devices/system/cpu
expect "--cpus 8: glob cpu*/topology/core_id finds 8" "8" \
  walk_count core_id --cpus 8 -- "$probe" glob '/sys/devices/system/cpu/cpu*/topology/core_id'
expect "--cpu-map 1: glob of cpu1/* finds nothing (the host's cpu1 is not the machine's)" "glob: 3" \
  "$run" --cpu-map 1 -- "$probe" glob '/sys/devices/system/cpu/cpu1/*'
expect "--cpus 4: a relative walk in the CPU directory (nftw cpu3)" "1" \
  walk_count 'cpu3/topology$' --cpus 4 -- sh -c "cd /sys/devices/system/cpu && '$probe' nftw cpu3"

# ---- 3. real programs --------------------------------------------------------------------------
if have make; then
  printf 'all:\n\t@echo $(notdir $(wildcard /sys/devices/system/cpu/cpu[0-9]*))\n' >"$dir/wildcard.mk"
  expect "--cpus 8: make's \$(wildcard) (glibc's glob) lists cpu0..cpu7" "$(seq_names cpu 7)" \
    "$run" --cpus 8 -- make -s -f "$dir/wildcard.mk"
  expect "--cpu-map 1: make's \$(wildcard) lists cpu0" "cpu0" "$run" --cpu-map 1 -- make -s -f "$dir/wildcard.mk"
else
  skip "make's \$(wildcard)" "make is not installed"
fi
if have hardlink && map=$(host_map); then
  # hardlink(1) walks with nftw and counts the files it saw.
  files() { "$@" hardlink -n /sys/devices/system/cpu 2>&1 | sed -n 's/^Files: *//p'; }
  native=$(files)
  expect "--cpu-map $map: hardlink (nftw) counts the native number of files" "$native" files "$run" --cpu-map "$map" --
  one=$(files "$run" --cpu-map 1 --) eight=$(files "$run" --cpus 8 --)
  n=$((n + 1))
  if [ -n "$one" ] && [ -n "$eight" ] && [ "$one" -lt "$native" ] && [ "$eight" -gt "$native" ]; then
    echo "ok $n - hardlink (nftw) counts fewer files on 1 vCPU ($one) and more on 8 ($eight) than natively ($native)"
  else
    echo "not ok $n - hardlink (nftw) counts fewer files on 1 vCPU ($one) and more on 8 ($eight) than natively ($native)"
  fi
else
  skip "hardlink (nftw)" "hardlink is not installed, or the host has offline CPUs"
fi
expect "--cpus 8: python's glob.glob lists cpu0..cpu7" "$(seq_names cpu 7)" \
  "$run" --cpus 8 -- python3 -c "import glob, os; print(' '.join(sorted((os.path.basename(p) for p in glob.glob('/sys/devices/system/cpu/cpu[0-9]*')), key=lambda s: int(s[3:]))))"
expect "--cpus 8: bash's globbing lists cpu0..cpu7" "$(seq_names cpu 7)" \
  "$run" --cpus 8 -- bash -c 'cd /sys/devices/system/cpu && ls -d cpu[0-9]* | sort -V | tr "\n" " " | sed "s/ $//"'
expect "--cpus 8: find (gnulib's fts) lists cpu0..cpu7" "$(seq_names cpu 7)" \
  walk_cpus --cpus 8 -- find /sys/devices/system/cpu -maxdepth 1
expect "--cpus 8: du -a (gnulib's fts) reaches cpu7/topology/core_id" "1" \
  walk_count 'cpu7/topology/core_id$' --cpus 8 -- du -a /sys/devices/system/cpu

# Walks that visit a directory once per inode (nftw without FTW_PHYS, FTS_LOGICAL, find -L, du of
# several roots): each vCPU's directory, and each node's, has an inode of its own where it shares its
# host directory with a lower one; a machine equal to the host keeps the host's inodes. getdents'
# d_ino (Python's DirEntry.inode) and lstat agree everywhere.
regress=${LIBOS_WALK_REGRESS:-}
if [ -x "$regress" ]; then
  expect "--cpus 8: nftw (not FTW_PHYS) and FTS_LOGICAL reach cpu0..cpu7 (one cycle: the start)" \
    "nftw: 8 directories
fts FTS_LOGICAL: 8 directories, 1 cycles" "$run" --cpus 8 -- "$regress" inodes /sys/devices/system/cpu cpu
  expect "--cpus 16 (2 sockets): nftw (not FTW_PHYS) reaches cpu0..cpu15" "nftw: 16 directories" \
    sh -c "$(printf '%q ' "$run" "${sockets[@]}") -- '$regress' inodes /sys/devices/system/cpu cpu | head -1"
  expect "--cpus 8 --numa 4: nftw (not FTW_PHYS) reaches node0..node3" "nftw: 4 directories" \
    sh -c "$(printf '%q ' "$run") --cpus 8 --numa 4 -- '$regress' inodes /sys/devices/system/node node | head -1"
  if map=$(host_map); then
    expect "--cpu-map $map: the inode walks as natively" "$("$regress" inodes /sys/devices/system/cpu cpu)" \
      "$run" --cpu-map "$map" -- "$regress" inodes /sys/devices/system/cpu cpu
  fi
else
  skip "the walks by inode" "walk_regress is not built"
fi
inodes_of() { stat -L -c %i /sys/devices/system/cpu/cpu[0-9]* /sys/devices/system/node/node[0-9]* /dev/cpu/[0-9]* 2>/dev/null | sort -n | tr '\n' ' '; }
if map=$(host_map); then
  expect "--cpu-map $map: the CPUs' and nodes' directories keep the host's inodes" "$(inodes_of)" \
    "$run" --cpu-map "$map" -- bash -c "$(declare -f inodes_of); inodes_of"
fi
distinct() { # how many entries a glob gives, and how many inodes they have (stat, or lstat with -l)
  local call=stat
  [ "$1" == -l ] && { call=lstat; shift; }
  python3 -c "import os, glob; ds = glob.glob('$1'); print(len(ds), len({os.$call(d).st_ino for d in ds}))"
}
expect "--cpus 8 --numa 2: the 8 CPU, 8 bus CPU and 2 node directories have distinct inodes" "8 8
8 8
2 2" "$run" --cpus 8 --numa 2 -- bash -c "$(declare -f distinct); distinct '/sys/devices/system/cpu/cpu[0-9]*'
  distinct -l '/sys/bus/cpu/devices/cpu*'; distinct '/sys/devices/system/node/node[0-9]*'"
dino='import os, sys
bad = n = 0
for d in sys.argv[1:]:
    if not os.path.isdir(d):
        continue
    for e in os.scandir(d):
        n += 1
        if e.inode() != e.stat(follow_symlinks=False).st_ino:
            bad += 1
            print("d_ino", e.inode(), "lstat", e.stat(follow_symlinks=False).st_ino, e.path)
print("mismatches:", bad, "of", n > 0)'
expect "--cpus 8 --numa 2: getdents' d_ino equals lstat's inode in every listing of the views" "mismatches: 0 of True" \
  "$run" --cpus 8 --numa 2 -- python3 -c "$dino" /sys/devices/system/cpu /sys/bus/cpu/devices /sys/devices/system/node \
  /sys/devices/system/node/node1 /sys/devices/system/node/node1/power /sys/devices/system/cpu/cpu5 \
  /sys/devices/system/cpu/cpu5/cache /sys/devices/system/cpu/cpu5/cache/index0 /dev/cpu
expect "--cpus 8: du of the eight CPU directories lists each" "8" \
  sh -c "$(printf '%q ' "$run") --cpus 8 -- du /sys/devices/system/cpu/cpu0 /sys/devices/system/cpu/cpu1 /sys/devices/system/cpu/cpu2 /sys/devices/system/cpu/cpu3 /sys/devices/system/cpu/cpu4 /sys/devices/system/cpu/cpu5 /sys/devices/system/cpu/cpu6 /sys/devices/system/cpu/cpu7 2>/dev/null | grep -cE 'cpu[0-9]+\$'"
expect "--cpus 8: find -L through cpu0/subsystem/devices reaches cpu1..cpu7 (cpu0 is the loop)" "7" \
  sh -c "$(printf '%q ' "$run") --cpus 8 -- find -L /sys/devices/system/cpu/cpu0/subsystem/devices -mindepth 1 -maxdepth 1 -type d 2>/dev/null | grep -v '/cpu0\$' | wc -l"
expect "--cpus 8: Python's os.walk(followlinks=True) reaches 8 CPU directories of 8 inodes" "8 8" \
  "$run" --cpus 8 -- python3 -c '
import os, re
inos = set(); count = 0
for root, dirs, files in os.walk("/sys/bus/cpu/devices", followlinks=True):
    if root == "/sys/bus/cpu/devices":
        continue
    dirs[:] = []
    count += 1
    inos.add(os.stat(root).st_ino)
print(count, len(inos))'

# From the review of the walkers: a program linked with glob@GLIBC_2.2.5 that passes its own
# GLOB_ALTDIRFUNC without gl_lstat (that glob never calls it), with the shim alone and no machine;
# and a deep tree under fts's FTS_NOCHDIR, where the path buffer moves as it grows.
if [ -n "${LIBOS_TEST_SANITIZERS:-}" ] && [ -x "$regress" ]; then
  skip "glob@GLIBC_2.2.5 with the caller's GLOB_ALTDIRFUNC" "a sanitizer build: ASan's glob interceptor calls today's glob, which calls gl_lstat, natively too"
fi
if [ -x "$regress" ]; then
  [ -n "${LIBOS_TEST_SANITIZERS:-}" ] ||
  expect "glob@GLIBC_2.2.5 with the caller's GLOB_ALTDIRFUNC and no gl_lstat: as natively, with the shim alone" \
    "$("$regress" oldglob '/e*c/hostname' 2>&1)" env LD_PRELOAD="$LIBOS_LIBSHIM" "$regress" oldglob '/e*c/hostname'
  # The walkers' review's small ones: the shim's walker kept a private bit in fts_options; glob
  # compared the caller's gl_flags, which it may never have initialised; fts_children left its
  # descriptor of "." open when fchdir back failed.
  expect "--cpus 8: fts_options as natively, for every way of walking" \
    "$("$regress" options /sys/devices/system/cpu)" "$run" --cpus 8 -- "$regress" options /sys/devices/system/cpu
  expect "--cpus 8: fts_children whose fchdir back fails closes its descriptor" \
    "fts_children: none; descriptors left open: 0" "$run" --cpus 8 -- "$regress" childfd /sys/devices/system cpu
  if ! have valgrind; then
    skip "valgrind on glob into an uninitialised glob_t" "valgrind is not installed"
  elif [ -n "${LIBOS_TEST_SANITIZERS:-}" ]; then
    skip "valgrind on glob into an uninitialised glob_t" "a sanitizer build (valgrind cannot run ASan's programs)"
  else
    for pattern in '/sys/devices/system/cpu/nomatch*' '/sys/devices/system/cpu/cpu[0-9]*'; do
      expect "--cpus 8: valgrind finds nothing in glob '$pattern' into an uninitialised glob_t" \
        "$(valgrind -q --error-exitcode=3 "$regress" uninitglob "$pattern" 2>&1; echo "status $?")" \
        sh -c "LD_PRELOAD='$shim' LIBOS_CPUS=8 valgrind -q --error-exitcode=3 '$regress' uninitglob '$pattern' 2>&1; echo status \$?"
    done
  fi
  deep=$(mktemp -d)
  p=$deep
  for i in $(seq 30); do p=$p/$(printf 'n%02d%058d' "$i" 0); mkdir "$p"; touch "$p/f"; done
  expect "fts from / with FTS_NOCHDIR into a tree 30 levels deep: every entry, as natively" \
    "$("$regress" deepfts "$deep")" "$run" --cpu-map 0,1 -- "$regress" deepfts "$deep"
  rm -rf "$deep"
else
  skip "the review's regressions" "walk_regress is not built"
fi

echo "1..$n"
