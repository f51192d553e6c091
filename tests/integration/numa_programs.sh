#!/usr/bin/env bash
# Real NUMA clients on virtual nodes (issue 15): numactl, memhog, migratepages, libnuma (through
# tests/programs/numa_places, which checks each page with get_mempolicy(MPOL_F_NODE|MPOL_F_ADDR))
# and hwloc-bind, on `--cpus 8 --numa 2` and `--numa 4`; and on one node, the same answers as
# natively on this one-node host. TAP output; a tool that is not installed is skipped.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
run="$root/scripts/libos-run"
progs=${LIBOS_TEST_PROGRAMS:?run through meson test}
places="$progs/numa_places"

source "$(dirname "$0")/../lib/tap.sh"

if ! have numactl; then
  skip "numa clients" "numactl is not installed"
  echo "1..$n"
  exit 0
fi
two=("$run" --cpus 8 --numa 2 --)
four=("$run" --cpus 8 --numa 4 --)
one=("$run" --cpus 2 --numa 1 --)
show() { "$@" 2>&1 | grep -E "^(policy|preferred node|physcpubind|cpubind|nodebind|membind|interleavemask):"; }

expect "--numa 2: numactl --hardware lists two nodes" "available: 2 nodes (0-1)
node 0 cpus: 0 1 2 3
node 1 cpus: 4 5 6 7" sh -c "$(printf '%q ' "${two[@]}") numactl --hardware | grep -E '^(available|node [0-9] cpus)'"
expect "--numa 4: numactl --hardware lists four nodes" "available: 4 nodes (0-3)" \
  sh -c "$(printf '%q ' "${four[@]}") numactl --hardware | head -1"

# The acceptance line: the policy crosses two execs (numactl -> sh -> numactl).
expect "--numa 2: numactl --membind=1 --cpunodebind=1 -- sh -c 'numactl --show'" "policy: bind
preferred node: 1
physcpubind: 4 5 6 7 
cpubind: 1 
nodebind: 1 
membind: 1 " show "${two[@]}" numactl --membind=1 --cpunodebind=1 -- sh -c 'numactl --show'

# A node the machine lacks fails as on a real machine of that many nodes: this one-node host
# refuses node 1 with the same words and status.
hostnodes=$(numactl --hardware | sed -n 's/^available: \([0-9]*\) nodes.*/\1/p')
native=$(numactl --membind="$hostnodes" true 2>&1; echo "status $?")
expect "--numa 2: numactl --membind=2 fails as natively for a missing node" \
  "${native//<$hostnodes>/<2>}" bash -c "$(printf '%q ' "${two[@]}") numactl --membind=2 true 2>&1 | sed 's/argument 2 is/argument $hostnodes is/'; echo status \${PIPESTATUS[0]}"

expect "--numa 2: numactl --interleave=all --show" "policy: interleave
preferred node: 0 (interleave next)
interleavemask: 0 1 
physcpubind: 0 1 2 3 4 5 6 7 
cpubind: 0 1 
nodebind: 0 1 
membind: 0 1 " show "${two[@]}" numactl --interleave=all numactl --show
expect "--numa 2: numactl --preferred=1 --show" "policy: preferred
preferred node: 1
physcpubind: 0 1 2 3 4 5 6 7 
cpubind: 0 1 
nodebind: 0 1 
membind: 0 1 " show "${two[@]}" numactl --preferred=1 numactl --show
expect "--numa 2: numactl --localalloc --show" "policy: local" \
  sh -c "$(printf '%q ' "${two[@]}") numactl --localalloc numactl --show | head -1"

if [ -x "$places" ]; then
  expect "--numa 2: pages under --membind=1" "1 1 1 1 1 1 1 1" "${two[@]}" numactl --membind=1 "$places" where
  expect "--numa 4: pages under --membind=3" "3 3 3 3 3 3 3 3" "${four[@]}" numactl --membind=3 "$places" where
  expect "--numa 2: pages under --preferred=1" "1 1 1 1 1 1 1 1" "${two[@]}" numactl --preferred=1 "$places" where
  expect "--numa 2: pages under --cpunodebind=1 --localalloc" "1 1 1 1 1 1 1 1" \
    "${two[@]}" numactl --cpunodebind=1 --localalloc "$places" where
  expect "--numa 4: pages under --interleave=all follow the interleave index" "yes" \
    "${four[@]}" numactl --interleave=all "$places" interleaved
  expect "--numa 2: numa_alloc_onnode" "alloc 0: 0 0 0 0
alloc 1: 1 1 1 1" "${two[@]}" "$places" alloc
  expect "--numa 4: numa_alloc_onnode" "alloc 0: 0 0 0 0
alloc 1: 1 1 1 1
alloc 2: 2 2 2 2
alloc 3: 3 3 3 3" "${four[@]}" "$places" alloc
  expect "--numa 4: numa_move_pages" "status: 3 0 3 0
nodes: 3 0 3 0" "${four[@]}" "$places" move
  expect "--numa 2: numa_run_on_node(1)" "run 1: node 1, cpu's node 1" "${two[@]}" "$places" run 1
  expect "--numa 1: libnuma as natively" "$("$places" alloc; "$places" move)" \
    sh -c "$(printf '%q ' "${one[@]}") $places alloc; $(printf '%q ' "${one[@]}") $places move"
  # Another process of the launch: its numa_maps and move_pages(pid) answered from its own records
  # (a bind, an interleave and a default policy on a node's vCPUs), as a real 4-node machine does.
  other='h() { mkfifo "$1"; $2 '"$places"' hold 60 >"$1" & p=$!; read -r _ a <"$1"; rm -f "$1"
awk -v a="$a" '"'"'$1 == a { s = $2; for (i = 3; i <= NF; i++) if ($i ~ /^N[0-9]+=/) { split($i, f, "="); s = s " " f[1] } print s }'"'"' /proc/$p/numa_maps
'"$places"' peek $p $a; echo "first page mod 4: $(( 0x$a / 4096 % 4 ))"; kill $p; }
d=$(mktemp -d); h $d/1 "numactl --membind=1"; h $d/2 "numactl --interleave=all"; h $d/3 "numactl --cpunodebind=2"; rmdir $d'
  got=$("${four[@]}" bash -c "$other" 2>&1)
  first=$(echo "$got" | sed -n 's/^first page mod 4: //p' | sed -n 2p)
  want="bind:1 N1
pages: 1 1 1 1
first page mod 4: $(echo "$got" | sed -n 's/^first page mod 4: //p' | sed -n 1p)
interleave:0-3 N0 N1 N2 N3
pages: $(( first % 4 )) $(( (first + 1) % 4 )) $(( (first + 2) % 4 )) $(( (first + 3) % 4 ))
first page mod 4: $first
default N2
pages: 2 2 2 2
first page mod 4: $(echo "$got" | sed -n 's/^first page mod 4: //p' | sed -n 3p)"
  expect "--numa 4: another process's numa_maps and move_pages from its records" "$want" echo "$got"
  # A process forked by a thread other than the first: its task policy is that thread's (bind:2),
  # not the policy of its parent's first thread (none), as a real 4-node machine shows it.
  forked='d=$(mktemp -d); mkfifo $d/f; '"$places"' forkhold 2 60 >$d/f & read -r _ p a <$d/f; rm -r $d
awk -v a="$a" '"'"'$1 == a { s = $2; for (i = 3; i <= NF; i++) if ($i ~ /^N[0-9]+=/) { split($i, f, "="); s = s " " f[1] } print s }'"'"' /proc/$p/numa_maps
'"$places"' peek $p $a; kill $p; wait'
  expect "--numa 4: numa_maps and move_pages of a child forked by a second thread" "bind:2 N2
pages: 2 2 2 2" "${four[@]}" bash -c "$forked"
  # Another process's pages moved by others (migratepages, move_pages(pid) with nodes): the moved
  # process itself, a reader before it took the moves and one after, all see them where a real
  # 4-node machine puts them; a caller the host refuses (another uid) moves nothing.
  moved='places='"$places"'; d=$(mktemp -d); mkfifo $d/in $d/out
numactl --cpunodebind=0 $places watch 60 <$d/in >$d/out & p=$!
exec 3>$d/in; exec 4<$d/out; read -r _ a <&4
maps() { awk -v a="$a" '"'"'$1 == a { s = $2; for (i = 3; i <= NF; i++) if ($i ~ /^N[0-9]+=/) { split($i, f, "="); s = s " " f[1] } print s }'"'"' /proc/$p/numa_maps; }
own() { echo own >&3; read -r l <&4; echo "$l"; }
migratepages $p 0 1; $places push $p $a 3; maps; $places peek $p $a; own
migratepages $p 1,3 2; $places peek $p $a; own
if command -v setpriv >/dev/null; then setpriv --reuid=65534 --regid=65534 --clear-groups migratepages $p 2 0 2>/dev/null
setpriv --reuid=65534 --regid=65534 --clear-groups $places push $p $a 0 2>/dev/null; fi; $places peek $p $a; maps
exec 3>&-; wait $p; rm -r $d'
  expect "--numa 4: another process's pages moved by migratepages and move_pages(pid)" "status: 3 3
default N1 N3
pages: 3 3 1 1
own: 3 3 1 1
pages: 2 2 2 2
own: 2 2 2 2
pages: 2 2 2 2
default N2" "${four[@]}" bash -c "$moved"
  # A migration by another process comes before the policies the process sets after it: pages
  # bound to node 0 after `migratepages P 0 1` are on node 0, as on a real machine (the migration
  # moved what was there then), and so are they after the process looked at its other pages.
  later='places='"$places"'; d=$(mktemp -d); mkfifo $d/in $d/out
numactl --cpunodebind=0 $places watch 60 <$d/in >$d/out & p=$!
exec 3>$d/in; exec 4<$d/out; read -r _ a <&4
ask() { echo "$1" >&3; read -r l <&4; echo "$l"; }
migratepages $p 0 1; ask "bind 0"; ask own; ask "bind 0"
exec 3>&-; wait $p; rm -r $d'
  expect "--numa 4: policies set after another process's migration are not migrated" "bound: 0 0 0 0
own: 1 1 1 1
bound: 0 0 0 0" "${four[@]}" bash -c "$later"
  # A child forked after another process's migration of its parent has the migrated pages where
  # they are (the kernel moved them before the fork), though the parent had not looked yet.
  forked_later='places='"$places"'; d=$(mktemp -d); mkfifo $d/in $d/out
numactl --cpunodebind=0 $places watch 60 <$d/in >$d/out & p=$!
exec 3>$d/in; exec 4<$d/out; read -r _ a <&4
ask() { echo "$1" >&3; read -r l <&4; echo "$l"; }
migratepages $p 0 1; ask fork; ask own
exec 3>&-; wait $p; rm -r $d'
  expect "--numa 4: a child forked after another process's migration sees it" "child: 1 1 1 1
own: 1 1 1 1" "${four[@]}" bash -c "$forked_later"
  # Posts of moves are input from other processes: one naming another exec of the process (wrong
  # AT_RANDOM bytes), one to a node the machine lacks and one left half-written are dropped by the
  # process and by its readers; a whole one is taken, as any process of the launch may post one.
  forged='places='"$places"'; d=$(mktemp -d); mkfifo $d/in $d/out
numactl --cpunodebind=0 $places watch 60 <$d/in >$d/out & p=$!
exec 3>$d/in; exec 4<$d/out; read -r _ a <&4
own() { echo own >&3; read -r l <&4; echo "$l"; }
$places forge $p $a 2 stranger; $places forge $p $a 9 whole; $places forge $p $a 2 torn
$places peek $p $a; own; $places forge $p $a 2 whole; $places peek $p $a; own
exec 3>&-; wait $p; rm -r $d'
  # (On a host of several nodes a post is believed only where the host keeps the page: not here.)
  if [ "$hostnodes" == 1 ]; then
  expect "--numa 4: forged posts of moves are checked" "forged stranger
forged whole
forged torn
pages: 0 0 0 0
own: 0 0 0 0
forged whole
pages: 2 2 0 0
own: 2 2 0 0" "${four[@]}" bash -c "$forged"
  else
    skip "--numa 4: forged posts of moves are checked" "the host has $hostnodes nodes"
  fi
  # A process of another launch (the same shim, another machine: --numa 4 against this --numa 2)
  # is seen through the map (on a one-node host: bind:0 is virtual nodes 0-1, its pages on node 0),
  # not from its records, whose node numbers are the other machine's (bind:1).
  outside='d=$(mktemp -d); mkfifo $d/f; '"$(printf '%q ' "${four[@]}")"' numactl --membind=1 '"$places"' hold 60 >$d/f & p=$!
read -r _ a <$d/f; rm -r $d; '"$(printf '%q ' "${two[@]}")"' awk -v a="$a" '"'"'$1 == a { s = $2; for (i = 3; i <= NF; i++) if ($i ~ /^N[0-9]+=/) { split($i, f, "="); s = s " " f[1] } print s }'"'"' /proc/$p/numa_maps
kill $p; wait'
  if [ "$hostnodes" == 1 ]; then
    expect "--numa 2: numa_maps of a process of another launch, through the map" "bind:0-1 N0" bash -c "$outside"
  else
    skip "--numa 2: numa_maps of a process of another launch" "the host has $hostnodes nodes"
  fi
  if have hwloc-bind; then
    expect "--numa 2: hwloc-bind --membind node:1" "1 1 1 1 1 1 1 1" "${two[@]}" hwloc-bind --membind node:1 -- "$places" where
  else
    skip "--numa 2: hwloc-bind --membind node:1" "hwloc-bind is not installed"
  fi
else
  skip "libnuma placements" "tests/programs/numa_places was not built (no libnuma-dev)"
fi

expect "--numa 1: numactl --membind=0 --show as natively" "$(show numactl --membind=0 numactl --show)" \
  show "${one[@]}" numactl --membind=0 numactl --show
if have memhog; then
  expect "--numa 2: memhog membind 1" "." "${two[@]}" memhog 1m membind 1
else
  skip "--numa 2: memhog" "memhog is not installed"
fi
if have migratepages; then
  expect "--numa 2: migratepages of a process of the launch" "status 0" \
    "${two[@]}" sh -c 'sleep 5 & migratepages $! 0 1; echo status $?; kill $!'
else
  skip "--numa 2: migratepages" "migratepages is not installed"
fi
# /proc/self/numa_maps: a range's policy and its pages' node columns on the virtual nodes, as
# get_mempolicy reports them (8 pages bound to the last node, 8 interleaved over all); a relative and
# a static mask show the nodes in use (a missing node folded onto node 0, or left out), as the
# kernel's mpol_to_str does.
numa_maps_py='
import ctypes, mmap, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
nodes = int(sys.argv[1])
def columns(mode, mask_bits):
    m = mmap.mmap(-1, 8 * 4096)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
    mask = (ctypes.c_ulong * 16)(*[(mask_bits >> (64 * i)) & ((1 << 64) - 1) for i in range(16)])
    if libc.syscall(237, ctypes.c_void_p(addr), ctypes.c_ulong(8 * 4096), mode, mask, 1025, 0) != 0:
        return "mbind failed"
    for i in range(8):
        m[i * 4096] = 1
    for line in open("/proc/self/numa_maps"):
        f = line.split()
        if f[0] == "%x" % addr:
            return " ".join([f[1]] + [x for x in f if x[0] == "N" and x[1].isdigit()])
if nodes > 256:
    print(columns(2, 1 << 300))
    print(columns(3, ((1 << 8) - 1) << 254))
    sys.exit(0)
print(columns(2, 1 << (nodes - 1)))
print(columns(3, (1 << nodes) - 1))
print(columns(2 | 1 << 14, 1 << nodes))
print(columns(2 | 1 << 15, 1 | 1 << nodes))
'
expect "--numa 2: /proc/self/numa_maps on the virtual nodes" "bind:1 N1=8
interleave:0-1 N0=4 N1=4
bind=relative:0 N0=8
bind=static:0 N0=8" "${two[@]}" python3 -c "$numa_maps_py" 2
expect "--numa 4: /proc/self/numa_maps on the virtual nodes" "bind:3 N3=8
interleave:0-3 N0=2 N1=2 N2=2 N3=2
bind=relative:0 N0=8
bind=static:0 N0=8" "${four[@]}" python3 -c "$numa_maps_py" 4
# Nodes of 256 and above have their columns (counted a block of nodes at a time).
expect "--numa 1024: /proc/self/numa_maps columns of nodes past 255" "bind:300 N300=8
interleave:254-261 N254=1 N255=1 N256=1 N257=1 N258=1 N259=1 N260=1 N261=1" \
  "$run" --cpus 1024 --numa 1024 -- python3 -c "$numa_maps_py" 1024
expect "--numa 1: /proc/self/numa_maps as natively" "$(python3 -c "$numa_maps_py" 1)" \
  "${one[@]}" python3 -c "$numa_maps_py" 1
# The kernel's names of MPOL_PREFERRED_MANY and MPOL_WEIGHTED_INTERLEAVE hold a space ("prefer
# (many):1-2"): their node lists are made virtual too, not left as the host's.
policy_names_py='
import ctypes, mmap
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
for mode in (5, 6):
    m = mmap.mmap(-1, 4096)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
    mask = ctypes.c_ulong(0b110)
    if libc.syscall(237, ctypes.c_void_p(addr), ctypes.c_ulong(4096), mode, ctypes.byref(mask), 64, 0) != 0:
        print("mbind failed", ctypes.get_errno())
    for line in open("/proc/self/numa_maps"):
        if line.split()[0] == "%x" % addr:
            policy, nodes = line.split(None, 1)[1].split(":", 1)
            print(policy + ":" + nodes.split()[0])
'
if python3 -c 'import ctypes, mmap
libc = ctypes.CDLL(None); m = mmap.mmap(-1, 4096); a = ctypes.addressof(ctypes.c_char.from_buffer(m)); one = ctypes.c_ulong(1)
raise SystemExit(any(libc.syscall(237, ctypes.c_void_p(a), ctypes.c_ulong(4096), mode, ctypes.byref(one), 64, 0) for mode in (5, 6)))'; then
  expect "--numa 4: numa_maps of prefer (many) and weighted interleave on virtual nodes" "prefer (many):1-2
weighted interleave:1-2" "${four[@]}" python3 -c "$policy_names_py"
else
  skip "--numa 4: numa_maps of prefer (many) and weighted interleave" "the host kernel has not both modes"
fi

# numastat (numactl's reader of nodeN/numastat, and with -m of nodeN/meminfo): one column per virtual
# node, the same counters as natively; the columns add up to the host's (checked exactly by the numa
# conformance suite's NodeFiles tests, where the counters can be read still).
if have numastat; then
  rows() { "$@" 2>/dev/null | awk 'NR > 1 { print $1 }'; }
  expect "--numa 2: numastat has a column per node" "node0 node1" \
    sh -c "$(printf '%q ' "${two[@]}") numastat | head -1 | xargs"
  expect "--numa 4: numastat -m has a column per node and the total" "Node 0 Node 1 Node 2 Node 3 Total" \
    sh -c "$(printf '%q ' "${four[@]}") numastat -m 2>/dev/null | grep -m1 'Node 0' | xargs"
  expect "--numa 2: numastat lists the host's counters" "$(rows numastat)" rows "${two[@]}" numastat
  expect "--numa 1: numastat is the host's" "$(numastat | head -1)
$(rows numastat)" sh -c "$(printf '%q ' "${one[@]}") numastat | head -1; $(printf '%q ' "${one[@]}") numastat 2>/dev/null | awk 'NR > 1 { print \$1 }'"
  # The counters move: a column of --numa 2 is about half the host's numa_hit (within 1%).
  hits=$(numastat | awk '$1 == "numa_hit" { print $2 }')
  halves=$("${two[@]}" numastat | awk '$1 == "numa_hit" { print $2, $3 }')
  read -r h0 h1 <<<"$halves"
  check "--numa 2: numastat's numa_hit is half the host's on each node" \
    "$(awk -v a="$h0" -v b="$h1" -v t="$hits" 'BEGIN { exit !(a > 0 && b > 0 && (a - b < 2 && b - a < t / 100) && (a + b - t) * (a + b - t) < (t / 100) * (t / 100)) }'; echo $?)" \
    "host $hits, nodes $halves"
else
  skip "numastat" "numastat is not installed"
fi

# The trace shows node masks as strace does (the program's words, virtual), with the host nodes they
# became in a comment (on a one-node host, every virtual node is host node 0).
if [ "$hostnodes" == 1 ]; then
  expect "--numa 2: the trace shows set_mempolicy's nodes and their host nodes" \
    "set_mempolicy(MPOL_BIND, [$(printf '0x%014x, ' 2)$(for i in $(seq 15); do printf '0000000000000000, '; done | sed 's/, $//')], 1025) = 0 /* host nodes [0] */ <libos>" \
    bash -c "$(printf '%q ' "$run") --cpus 8 --numa 2 --trace -- numactl --membind=1 true 2>&1 | grep -o 'set_mempolicy(MPOL_BIND, .*' | sed 's/ <[0-9.]*>$//'"
else
  skip "--numa 2: the trace of set_mempolicy" "the host has $hostnodes nodes"
fi
echo "1..$n"
