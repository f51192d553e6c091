#!/bin/bash
# numa_clients.sh NODES PLACES: the real NUMA clients of issue 15, each a section "== name" followed by
# its output and "== rc STATUS". Run natively in a guest of NODES real nodes (tests/hosts, shapes
# numa2 and numa4) and under `libos-run --cpus 8 --numa NODES` on a one-node host, the two transcripts
# must be equal: tests/hosts/numa_test.py compares them. PLACES is tests/programs/numa_places.
#
# What depends on the hosts' sizes is normalized here, so that the transcripts compare whole: memory
# sizes and free memory, numastat's megabytes (kept: which nodes hold memory), addresses.
set -u
n=$1
places=$2
last=$((n - 1))
section() { local name=$1; shift; echo "== $name"; "$@" 2>&1; echo "== rc $?"; }
# numactl --hardware without the sizes (the guest's nodes have 1 GiB or 512 MiB; the virtual
# nodes share this host's memory).
hardware() { numactl --hardware | sed -E 's/^(node [0-9]+ (size|free)): [0-9]+ MB$/\1: SIZE MB/'; }
# A numa_maps line reduced to its policy and the nodes its pages are on (not how many: the anonymous
# mapping merges with its neighbours as the address layout allows).
maps_line() { awk -v a="$1" '$1 == a { s = $2; for (i = 3; i <= NF; i++) if ($i ~ /^N[0-9]+=/) { split($i, f, "="); s = s " " f[1] } print s }' "$2"; }
# numastat -p PID: the header and the node that holds most of the process's private memory (its
# file pages are where the page cache put them, which differs from host to host).
numastat_nodes() {
  numastat -p "$1" | awk '/^ +Node / { $1 = $1; print } /^Private / { m = 2; for (i = 2; i < NF; i++) if ($i + 0 > $m + 0) m = i; print "most private memory: node " m - 2 }'
}

# A refusal: its standard error's first lines (numactl's usage text follows), then its standard
# output's, and its status (the two streams apart: how they interleave depends on buffering).
refusal() {
  local err rc
  err=$(mktemp)
  "$@" 2>"$err" | head -3
  rc=${PIPESTATUS[0]}
  head -3 "$err"
  rm -f "$err"
  return "$rc"
}

section hardware hardware
section show numactl --show
section acceptance numactl --membind=1 --cpunodebind=1 -- sh -c 'numactl --show'
section interleave-all numactl --interleave=all numactl --show
section preferred-1 numactl --preferred=1 numactl --show
section localalloc numactl --localalloc numactl --show
section membind-range numactl --membind=0-$last numactl --show
section bad-membind refusal numactl --membind=$n true
section bad-cpunodebind refusal numactl --cpunodebind=$n true
section bad-preferred refusal numactl --preferred=$n true
section bad-interleave refusal numactl --interleave=0,$n true
section bad-physcpubind refusal numactl --physcpubind=8 true
section mems-allowed grep Mems_allowed /proc/self/status
section node-files sh -c 'cd /sys/devices/system/node && for f in possible online has_memory has_normal_memory has_cpu; do echo "$f: $(cat $f)"; done; echo node*'
section node-cpulists sh -c "for i in \$(seq 0 $last); do cat /sys/devices/system/node/node\$i/cpulist; done"
section memhog-membind memhog 1m membind 1
section memhog-interleave memhog 1m interleave 0-$last
section memhog-bad refusal memhog 1m membind $n
section where-membind numactl --membind=$last "$places" where
section where-preferred numactl --preferred=1 "$places" where
section where-cpunodebind-localalloc numactl --cpunodebind=1 --localalloc "$places" where
section where-interleave numactl --interleave=all "$places" interleaved
section libnuma-alloc "$places" alloc
section libnuma-move "$places" move
section libnuma-run "$places" run 1
section hwloc-bind hwloc-bind --membind node:1 -- "$places" where
section hwloc-bind-cpu sh -c "hwloc-bind node:1 -- $places run 1"
section numa_maps-self numactl --membind=1 awk '/ stack / { s = $2; for (i = 3; i <= NF; i++) if ($i ~ /^N[0-9]+=/) { split($i, f, "="); s = s " " f[1] } print s }' /proc/self/numa_maps

# Another process: a holder pinned to node 0 (its pages first touched there), read and moved by
# other processes: its numa_maps, numastat -p, move_pages(pid) without nodes, migratepages 0 -> last.
fifo=$(mktemp -u)
mkfifo "$fifo"
numactl --cpunodebind=0 "$places" hold 600 >"$fifo" &
holder=$!
read -r _ addr <"$fifo"
rm -f "$fifo"
section other-numa_maps maps_line "$addr" /proc/$holder/numa_maps
section other-numastat numastat_nodes $holder
section other-move_pages "$places" peek $holder "$addr"
section migratepages migratepages $holder 0 $last
section other-numa_maps-after maps_line "$addr" /proc/$holder/numa_maps
section other-move_pages-after "$places" peek $holder "$addr"
section migratepages-bad refusal migratepages $holder 0 $n
kill $holder
wait $holder 2>/dev/null
section migratepages-gone migratepages $holder 0 1
