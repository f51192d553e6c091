#!/usr/bin/env bash
# Host leaks (issue 14): every file and call that names a CPU, read by real tools on a machine whose
# answer differs from the host's. `--cpu-map 1` is one vCPU on host CPU 1, so a host CPU id (1) or
# count (2) that leaks through is visible; `--cpus 8` and `--topology sockets=2,cores=4,threads=2
# --numa 2` check the counts and the tools that read them (hwloc, ps, psutil). TAP output; a tool that
# is not installed is skipped with the reason.
#
# LIBOS_LAUNCHER is the launcher under test (meson sets it); LIBOS_TEST_LAUNCHER overrides it, to show
# that an older build fails these checks.
set -u
run=${LIBOS_TEST_LAUNCHER:-${LIBOS_LAUNCHER:?run through meson test}}
progs=${LIBOS_TEST_PROGRAMS:-}

source "$(dirname "$0")/../lib/tap.sh"

if ! taskset -c 1 true 2>/dev/null; then
  echo "1..0 # SKIP needs host CPU 1"
  exit 0
fi

one=(--cpu-map 1)

# ---- 1. the cgroup cpuset files of the program's own cgroup ------------------------------------
v1=$(sed -n 's/^[0-9]*:[^:]*\bcpuset\b[^:]*:\(.*\)$/\1/p' /proc/self/cgroup | head -1)
v2=$(sed -n 's/^0::\(.*\)$/\1/p' /proc/self/cgroup | head -1)
cpuset_dir=
if [ -n "$v1" ] && [ -f "/sys/fs/cgroup/cpuset${v1%/}/cpuset.cpus" ]; then
  cpuset_dir="/sys/fs/cgroup/cpuset${v1%/}"
  files=(cpuset.cpus cpuset.effective_cpus)
  mems=(cpuset.mems cpuset.effective_mems)
elif [ -n "$v2" ] && [ -f "/sys/fs/cgroup${v2%/}/cpuset.cpus.effective" ]; then
  cpuset_dir="/sys/fs/cgroup${v2%/}"
  files=(cpuset.cpus.effective)
  mems=(cpuset.mems.effective)
fi
if [ -n "$cpuset_dir" ]; then
  for f in "${files[@]}"; do
    expect "--cpu-map 1: $cpuset_dir/$f is vCPU 0" "0" "$run" "${one[@]}" -- cat "$cpuset_dir/$f"
    expect "--cpus 8: $f is 0-7" "0-7" "$run" --cpus 8 -- cat "$cpuset_dir/$f"
  done
  for f in "${mems[@]}"; do
    expect "--topology sockets=2,cores=4,threads=2 --numa 2: $f is 0-1" "0-1" \
      "$run" --topology sockets=2,cores=4,threads=2 --numa 2 -- cat "$cpuset_dir/$f"
  done
  expect "--cpus 8: the path spelled as hwloc spells it (a double slash)" "0-7" \
    "$run" --cpus 8 -- cat "$cpuset_dir//${files[0]}"
else
  skip "cgroup cpuset files" "no cpuset controller for this process (/proc/self/cgroup)"
fi

# ---- hwloc reads the cpuset (the allowed CPUs), the topology and the PCI localities --------------
if have lstopo-no-graphics && have hwloc-bind; then
  expect "--cpus 8: lstopo-no-graphics --no-io shows 8 PUs" "8" \
    "$run" --cpus 8 -- sh -c 'lstopo-no-graphics --no-io -p | grep -c "PU "'
  expect "--cpus 8: hwloc-bind pu:5 runs the command on vCPU 5" "5" \
    "$run" --cpus 8 -- hwloc-bind pu:5 -- sh -c 'taskset -cp $$ | sed "s/.*: //"'
  expect "--cpus 8: lstopo-no-graphics with I/O: no invalid-information banner" "0" \
    "$run" --cpus 8 -- sh -c 'lstopo-no-graphics 2>&1 | grep -c "invalid information"'
  expect "--topology sockets=2,cores=4,threads=2 --numa 2: lstopo shows 16 PUs, 2 NUMA nodes" "16 2" \
    "$run" --topology sockets=2,cores=4,threads=2 --numa 2 -- sh -c \
    'echo $(lstopo-no-graphics --no-io -p | grep -c "PU ") $(lstopo-no-graphics --no-io -p | grep -c NUMANode)'
  expect "--cpu-map 1: hwloc-bind --get-last-cpu-location is vCPU 0" "0x00000001" \
    "$run" "${one[@]}" -- hwloc-bind --get-last-cpu-location
else
  skip "hwloc" "hwloc-nox is not installed"
fi

# ---- 2. /proc/<pid>/stat field 39 ----------------------------------------------------------------
for f in /proc/self/stat /proc/thread-self/stat '/proc/$$/stat' '/proc/$$/task/$$/stat'; do
  expect "--cpu-map 1: field 39 of $f is vCPU 0" "0" \
    "$run" "${one[@]}" -- sh -c "sed 's/.*) //' $f | cut -d' ' -f37"
done
expect "--cpus 8: pinned to vCPU 6, field 39 of another process's stat (ps -o psr) is 6" "6" \
  "$run" --cpus 8 -- sh -c 'taskset -cp 6 $$ >/dev/null; ps -o psr= -p $$ | tr -d " "'
expect "--cpu-map 1: ps -o psr" "0" "$run" "${one[@]}" -- sh -c 'ps -o psr= -p $$ | tr -d " "'
if /usr/bin/python3 -c 'import psutil' 2>/dev/null; then
  expect "--cpu-map 1: psutil Process().cpu_num()" "0" \
    "$run" "${one[@]}" -- /usr/bin/python3 -c 'import psutil; print(psutil.Process().cpu_num())'
  expect "--cpus 8: pinned to vCPU 5, psutil cpu_num()" "5" \
    "$run" --cpus 8 -- /usr/bin/python3 -c 'import os, psutil; os.sched_setaffinity(0, {5}); print(psutil.Process().cpu_num())'
else
  skip "psutil cpu_num" "python3-psutil is not installed"
fi

# ---- 3. per-CPU /proc files ----------------------------------------------------------------------
expect "--cpu-map 1: /proc/interrupts has one CPU column" "CPU0" \
  "$run" "${one[@]}" -- sh -c 'head -1 /proc/interrupts | tr -s " " | sed "s/^ //; s/ $//"'
expect "--cpus 8: /proc/interrupts has CPU0..CPU7" "CPU0 CPU1 CPU2 CPU3 CPU4 CPU5 CPU6 CPU7" \
  "$run" --cpus 8 -- sh -c 'head -1 /proc/interrupts | tr -s " " | sed "s/^ //; s/ $//"'
expect "--cpus 8: every per-CPU line of /proc/interrupts has 8 counts" "" \
  "$run" --cpus 8 -- awk 'NR > 1 && $1 !~ /^(ERR|MIS):$/ { c = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) c++; if (c != 8) print }' /proc/interrupts
expect "--cpu-map 1: /proc/softirqs has one CPU column" "CPU0" \
  "$run" "${one[@]}" -- sh -c 'head -1 /proc/softirqs | tr -s " " | sed "s/^ //; s/ $//"'
expect "--cpus 8: /proc/softirqs TIMER has 8 counts" "9" \
  "$run" --cpus 8 -- awk '$1 == "TIMER:" { print NF }' /proc/softirqs
expect "--cpu-map 1: /proc/net/softnet_stat: one row, numbered 0" "1 00000000" \
  "$run" "${one[@]}" -- sh -c 'echo $(wc -l < /proc/net/softnet_stat) $(cut -d" " -f13 /proc/net/softnet_stat)'
expect "--cpus 8: /proc/net/softnet_stat: rows numbered 0..7" "$(printf '%08x\n' 0 1 2 3 4 5 6 7)" \
  "$run" --cpus 8 -- cut -d" " -f13 /proc/net/softnet_stat
expect "--cpu-map 1: /proc/irq/default_smp_affinity" "1" "$run" "${one[@]}" -- cat /proc/irq/default_smp_affinity
irq=$(for d in /proc/irq/[0-9]*; do [ -f "$d/smp_affinity_list" ] && { echo "${d#/proc/irq/}"; break; }; done)
if [ -n "$irq" ]; then
  # The host's set seen on the machine: under --cpu-map 1, vCPU 0 if host CPU 1 is in it; under
  # --cpus 8, vCPU v runs on the v % k-th of the k host CPUs this script may use.
  translate() { # translate FILE MACHINE(map1|cpus8)
    python3 - "$1" "$2" <<'PY'
import os, sys
text = open(sys.argv[1]).read().strip()
host = set()
for part in filter(None, text.split(",")):
    a, _, b = part.partition("-")
    host.update(range(int(a), int(b or a) + 1))
if sys.argv[2] == "map1":
    print("0" if 1 in host else "")
else:
    cpus = sorted(os.sched_getaffinity(0))
    print(format(sum(1 << v for v in range(8) if cpus[v % len(cpus)] in host), "x"))
PY
  }
  for f in smp_affinity_list effective_affinity_list; do
    [ -f "/proc/irq/$irq/$f" ] || continue
    expect "--cpu-map 1: /proc/irq/$irq/$f" "$(translate "/proc/irq/$irq/$f" map1)" \
      "$run" "${one[@]}" -- cat "/proc/irq/$irq/$f"
  done
  expect "--cpus 8: /proc/irq/$irq/smp_affinity" "$(translate "/proc/irq/$irq/smp_affinity_list" cpus8)" \
    "$run" --cpus 8 -- cat "/proc/irq/$irq/smp_affinity"
else
  skip "/proc/irq/N/smp_affinity_list" "no interrupt has one here"
fi

# ---- 4. the devices' local CPUs ----------------------------------------------------------------
pci=$(for d in /sys/bus/pci/devices/*; do [ -f "$d/local_cpulist" ] && { echo "$d"; break; }; done)
if [ -n "$pci" ]; then
  expect "--cpu-map 1: $pci/local_cpulist" "0" "$run" "${one[@]}" -- cat "$pci/local_cpulist"
  expect "--cpu-map 1: $pci/local_cpus" "1" "$run" "${one[@]}" -- cat "$pci/local_cpus"
  expect "--cpus 8: $pci/local_cpus" "ff" "$run" --cpus 8 -- cat "$pci/local_cpus"
  expect "--cpus 8: $pci/local_cpulist through its /sys/devices path" "0-7" \
    "$run" --cpus 8 -- cat "$(readlink -f "$pci")/local_cpulist"
else
  skip "PCI local_cpulist" "no PCI device with local_cpulist"
fi
net=$(for d in /sys/class/net/*; do [ -f "$d/device/local_cpulist" ] && { echo "$d"; break; }; done)
if [ -n "$net" ]; then
  expect "--cpu-map 1: $net/device/local_cpulist" "0" "$run" "${one[@]}" -- cat "$net/device/local_cpulist"
else
  skip "network device local_cpulist" "no network device with local_cpulist (virtio's are not PCI functions)"
fi

# ---- 8. glibc's rseq area, whose cpu_id is the host's CPU: off on the machine --------------------
rseq='import ctypes; print(ctypes.c_uint.in_dll(ctypes.CDLL(None), "__rseq_size").value)'
if /usr/bin/python3 -c "$rseq" >/dev/null 2>&1; then
  expect "--cpu-map 1: glibc registers no rseq area (__rseq_size 0)" "0" "$run" "${one[@]}" -- /usr/bin/python3 -c "$rseq"
  expect "--cpu-map 1: nor in a child exec'd with a scrubbed environment" "0" \
    "$run" "${one[@]}" -- env -i /usr/bin/python3 -c "$rseq"
  expect "--cpu-map 1: the program's own GLIBC_TUNABLES are kept, rseq off after them" \
    "glibc.malloc.check=0:glibc.pthread.rseq=0" \
    env GLIBC_TUNABLES=glibc.malloc.check=0 "$run" "${one[@]}" -- sh -c 'echo $GLIBC_TUNABLES'
  expect "--cpus 8: pinned to vCPU 5, sched_getcpu without rseq" "5" \
    "$run" --cpus 8 -- /usr/bin/python3 -c 'import os, ctypes; os.sched_setaffinity(0, {5}); print(ctypes.CDLL(None).sched_getcpu())'
else
  skip "rseq" "this glibc has no __rseq_size"
fi

# ---- 9. listings through the raw system call, the CPUs as devices, xattrs, SO_INCOMING_CPU -------
if [ -n "$progs" ] && [ -x "$progs/raw_listing" ]; then
  cpus_of() { grep -xE "$1" | tr '\n' ' ' | sed 's/ $//'; }
  for d in /sys/devices/system/cpu /sys/devices/system/node/node0 /sys/bus/cpu/devices; do
    [ -d "$d" ] || { skip "--cpu-map 1: raw getdents64 of $d" "no $d here"; continue; }
    expect "--cpu-map 1: raw getdents64 of $d lists cpu0 alone" "cpu0" \
      sh -c "\"\$@\" | grep -xE 'cpu[0-9]+' | tr '\n' ' ' | sed 's/ \$//'" _ "$run" "${one[@]}" -- "$progs/raw_listing" "$d" 64
  done
  if [ -d /dev/cpu ]; then
    expect "--cpu-map 1: raw getdents64 of /dev/cpu lists 0 alone" "0" \
      sh -c "\"\$@\" | grep -xE '[0-9]+' | tr '\n' ' ' | sed 's/ \$//'" _ "$run" "${one[@]}" -- "$progs/raw_listing" /dev/cpu 64
    expect "--cpus 16: ls /dev/cpu lists 0-15" "$(seq 0 15 | sort | tr '\n' ' ')" \
      sh -c '"$@" | tr "\n" " "' _ "$run" --cpus 16 -- ls /dev/cpu
    dev0=$(ls /dev/cpu/0 2>/dev/null | head -1)
    if [ -n "$dev0" ]; then
      expect "--cpu-map 1: stat of /dev/cpu/0/$dev0 shows minor 0 (not host CPU 1's)" "0" \
        "$run" "${one[@]}" -- stat -c %T "/dev/cpu/0/$dev0"
    fi
    expect "--cpu-map 1: /dev/cpu/1 does not exist" "missing" \
      sh -c '"$@" 2>/dev/null || echo missing' _ "$run" "${one[@]}" -- test -e /dev/cpu/1
  else
    skip "/dev/cpu" "no /dev/cpu here (the msr and cpuid modules are not loaded)"
  fi
  expect "--cpus 16: raw getdents64 keeps the kernel's rules (d_off resumes, dup shares, EINVAL)" "0" \
    sh -c '"$@" >/dev/null; echo $?' _ "$run" --cpus 16 -- "$progs/raw_listing" /sys/devices/system/cpu 64
  # A machine equal to the host lists as the host does, byte for byte (names, order, inodes, d_off).
  host_map=$(python3 -c 'import os; print(",".join(map(str, sorted(os.sched_getaffinity(0)))))')
  if [ "$(tr -d '\n' < /sys/devices/system/cpu/online)" = "0-$(( $(nproc --all) - 1 ))" ] &&
     [ "$(nproc)" = "$(nproc --all)" ]; then
    for d in /sys/devices/system/cpu /sys/devices/system/node /sys/bus/cpu/devices /sys/bus/node/devices /dev/cpu; do
      [ -d "$d" ] || continue
      expect "--cpu-map $host_map (the host's): raw getdents64 of $d equals the native listing" \
        "$("$progs/raw_listing" "$d" 100 full | md5sum)" \
        sh -c '"$@" | md5sum' _ "$run" --cpu-map "$host_map" -- "$progs/raw_listing" "$d" 100 full
    done
  else
    skip "a machine equal to the host" "some host CPUs are offline or not allowed here"
  fi
  expect "--cpu-map 1: readlink /sys/bus/cpu/devices/cpu0" "../../../devices/system/cpu/cpu0" \
    "$run" "${one[@]}" -- readlink /sys/bus/cpu/devices/cpu0
  expect "--cpu-map 1: /sys/bus/cpu/devices/cpu0/topology/core_id through the link" "0" \
    "$run" "${one[@]}" -- cat /sys/bus/cpu/devices/cpu0/topology/core_id
  expect "--cpu-map 1: /sys/bus/cpu/devices/cpu1 does not exist" "missing" \
    sh -c '"$@" 2>/dev/null || echo missing' _ "$run" "${one[@]}" -- stat /sys/bus/cpu/devices/cpu1
  # The nodes as devices: the machine's nodes, links that lead to them.
  if [ -d /sys/bus/node/devices ]; then
    expect "--cpus 8 --numa 4: ls /sys/bus/node/devices lists node0-node3" "node0 node1 node2 node3" \
      sh -c '"$@" | tr "\n" " " | sed "s/ \$//"' _ "$run" --cpus 8 --numa 4 -- ls /sys/bus/node/devices
    expect "--cpus 8 --numa 4: raw getdents64 of /sys/bus/node/devices lists node0-node3" "node0 node1 node2 node3" \
      sh -c "\"\$@\" | grep -xE 'node[0-9]+' | sort | tr '\n' ' ' | sed 's/ \$//'" _ "$run" --cpus 8 --numa 4 -- \
      "$progs/raw_listing" /sys/bus/node/devices 64
    expect "--cpus 8 --numa 4: readlink /sys/bus/node/devices/node3" "../../../devices/system/node/node3" \
      "$run" --cpus 8 --numa 4 -- readlink /sys/bus/node/devices/node3
    expect "--cpus 8 --numa 4: realpath /sys/bus/node/devices/node3" "/sys/devices/system/node/node3" \
      "$run" --cpus 8 --numa 4 -- realpath /sys/bus/node/devices/node3
    expect "--cpus 8 --numa 4: node3/cpulist through the bus link" "6-7" \
      "$run" --cpus 8 --numa 4 -- cat /sys/bus/node/devices/node3/cpulist
    expect "--cpus 8 --numa 4: the four links have four inodes" "4" \
      sh -c '"$@" | sort -u | wc -l' _ "$run" --cpus 8 --numa 4 -- sh -c 'stat -c %i /sys/bus/node/devices/node*'
    expect "--cpus 8 --numa 4: /sys/bus/node/devices/node4 does not exist" "missing" \
      sh -c '"$@" 2>/dev/null || echo missing' _ "$run" --cpus 8 --numa 4 -- stat /sys/bus/node/devices/node4
  else
    skip "/sys/bus/node/devices" "no /sys/bus/node/devices here"
  fi
else
  skip "raw getdents64" "tests/programs/raw_listing is not built"
fi
expect "--cpus 16: ls -l of cpu9 (lgetxattr of a vCPU the host lacks) succeeds" "0" \
  sh -c '"$@" >/dev/null 2>&1; echo $?' _ "$run" --cpus 16 -- ls -lZd /sys/devices/system/cpu/cpu9 /sys/devices/system/cpu/cpu9/online
expect "--cpus 16: ls -l of cpu99 fails as a missing file does" "2" \
  sh -c '"$@" >/dev/null 2>&1; echo $?' _ "$run" --cpus 16 -- ls -l /sys/devices/system/cpu/cpu99
if have getfattr; then
  expect "--cpus 16: getfattr -d -m- of cpu9 answers as the host CPU's directory" \
    "$(getfattr -d -m- /sys/devices/system/cpu/cpu0 2>&1 | sed 's/cpu0/cpuV/g'; echo $?)" \
    sh -c '"$@" 2>&1 | sed "s/cpu9/cpuV/g"; echo $?' _ "$run" --cpus 16 -- getfattr -d -m- /sys/devices/system/cpu/cpu9
else
  skip "getfattr" "package attr is not installed"
fi
# ---- 9b. listings on small stacks, on shared descriptors, and the calls' argument checks -------
if [ -n "$progs" ] && [ -x "$progs/small_stack_listing" ] && [ -x "$progs/shared_listing" ] &&
   [ -x "$progs/call_order" ]; then
  # readdir and getdents64 run in the caller's stack: a 16 KiB thread stack and a 16 KiB sigaltstack.
  # A sanitizer build's programs carry ASan, whose redzones and interceptors alone outgrow 16 KiB.
  if [ -n "${LIBOS_TEST_SANITIZERS:-}" ]; then
    skip "readdir and getdents64 on 16 KiB stacks" "a sanitizer build: ASan's own frames outgrow a 16 KiB stack"
  else
  want=$(for way in thread "thread raw" handler "handler raw"; do echo "$way: $(seq -s ' ' 0 63)"; done)
  for d in /sys/devices/system/cpu /sys/bus/cpu/devices /dev/cpu; do
    [ -d "$d" ] || continue
    expect "--cpus 64: readdir and getdents64 of $d on a 16 KiB thread stack and on a 16 KiB sigaltstack" \
      "$want" "$run" --cpus 64 -- "$progs/small_stack_listing" "$d"
  done
  expect "natively: the same program lists the host's CPUs" \
    "$(for way in thread "thread raw" handler "handler raw"; do echo "$way: $(ls /sys/devices/system/cpu | grep -xE 'cpu[0-9]+' | sed 's/cpu//' | sort -n | tr '\n' ' ' | sed 's/ $//')"; done)" \
    "$progs/small_stack_listing" /sys/devices/system/cpu
  fi
  # Processes that share a descriptor share its listing: each entry goes to one of them, and a call
  # never moves the offset back while it works. (From the start two calls at once may both list a
  # host entry, docs/machine.md: that count is shown, not checked.)
  shared=$("$run" --cpus 8192 -- "$progs/shared_listing" /sys/devices/system/cpu 2>&1)
  expect "--cpus 8192: a shared descriptor's offset never goes back while one process lists ($(echo "$shared" | sed -n 2p))" \
    "missing 0 rewound 0" echo "$(echo "$shared" | sed -n 1p)"
  expect "--cpus 8192: two processes listing through one descriptor get each of the machine's entries once" \
    "from three quarters: missing 0 duplicates 0" echo "$(echo "$shared" | sed -n 3p)"
  # The argument checks of getdents64 and getdents (Linux 6.x: per record, an int count).
  expect "--cpus 16: getdents64 and getdents check their arguments as the host kernel does" \
    "$("$progs/call_order" getdents /sys/devices/system/cpu 2>&1)" \
    "$run" --cpus 16 -- "$progs/call_order" getdents /sys/devices/system/cpu
  # The xattr calls on a path the machine lacks (fs/xattr.c: flags, name, size, value, then the lookup).
  # In a sanitizer build ASan's interceptors check the bad pointers before the kernel (natively too).
  if [ -n "${LIBOS_TEST_SANITIZERS:-}" ]; then
    skip "the xattr calls' argument checks" "a sanitizer build: ASan's xattr interceptors check the pointers first"
  elif [ ! -e /sys/devices/system/cpu/cpu9 ]; then
    expect "--cpus 8: the xattr calls on cpu9 (missing) check flags, name, size and value before the path" \
      "$("$progs/call_order" xattr /sys/devices/system/cpu/cpu9 2>&1)" \
      "$run" --cpus 8 -- "$progs/call_order" xattr /sys/devices/system/cpu/cpu9
  else
    skip "xattr calls on a missing vCPU" "the host has a cpu9"
  fi
  [ -n "${LIBOS_TEST_SANITIZERS:-}" ] ||
  expect "--cpus 16: the xattr calls on cpu1 (the host's) are the host's" \
    "$("$progs/call_order" xattr /sys/devices/system/cpu/cpu1 2>&1)" \
    "$run" --cpus 16 -- "$progs/call_order" xattr /sys/devices/system/cpu/cpu1
  # More DIR streams (opendir through python's os.scandir) than the first block of 64 slots: every
  # one lists the machine.
  streams='import os, sys
ds = [os.scandir("/sys/devices/system/cpu") for _ in range(200)]
bad = [i for i, d in enumerate(ds) if sorted(e.name for e in d if e.name.startswith("cpu") and e.name[3:].isdigit()) != ["cpu0"]]
print("streams listing another machine:", bad[:5], len(bad))'
  expect "--cpus 1: 200 DIR streams open at once all list cpu0 alone" "streams listing another machine: [] 0" \
    "$run" --cpus 1 -- /usr/bin/python3 -c "$streams"
else
  skip "listings on small stacks and shared descriptors" "tests/programs are not built"
fi
if [ -n "$progs" ] && [ -x "$progs/incoming_cpu" ]; then
  expect "--cpu-map 1: SO_INCOMING_CPU of a loopback socket is vCPU 0 (host CPU 1 runs it)" "incoming 0 running 0" \
    "$run" "${one[@]}" -- "$progs/incoming_cpu"
  expect "--cpus 4, pinned to vCPU 3: SO_INCOMING_CPU is 3, not 1 (which shares its host CPU)" "incoming 3 running 3" \
    "$run" --cpus 4 -- taskset -c 3 "$progs/incoming_cpu"
  expect "--cpu-map 1: setsockopt(SO_INCOMING_CPU, 1) reads back 1 (no vCPU; not host CPU 1's vCPU 0)" "1" \
    "$run" "${one[@]}" -- "$progs/incoming_cpu" set 1
  # Every int but a vCPU's reads back as it was set, as natively (a vCPU's is its host CPU's vCPU).
  ints="-2147483648 -5 -1 8 9 8191 8192 8193 2147467264 2147475455 2147475456 2147483639 2147483646 2147483647"
  for machine in "--cpus 8" "--cpu-map 1" "--cpus 8192"; do
    [ "$machine" == "--cpus 8192" ] && ints="-2147483648 -1 8192 8193 2147475456 2147483646 2147483647"
    expect "$machine: setsockopt(SO_INCOMING_CPU) of other ints reads each back" \
      "$("$progs/incoming_cpu" set $ints 2>&1)" "$run" $machine -- "$progs/incoming_cpu" set $ints
  done
  # An optlen of 1 to 3 gets the low bytes of the vCPU's number (the kernel's min(len, sizeof(int))).
  for len in 1 2 3; do
    expect "--cpu-map 1,0, pinned to vCPU 0: getsockopt(SO_INCOMING_CPU) with optlen $len" \
      "bytes$(printf ' 00%.0s' $(seq $len)) whole 0" \
      "$run" --cpu-map 1,0 -- taskset -c 0 "$progs/incoming_cpu" len $len
  done
else
  skip "SO_INCOMING_CPU" "tests/programs/incoming_cpu is not built"
fi

# ---- 10. libc's own directory walkers: glob, nftw and fts read /sys inside libc ----------------
walkers='import ctypes, re, sys
libc = ctypes.CDLL(None)
names = set()
def keep(path):
    m = re.search(r"/cpu/(cpu[0-9]+)$", path)
    if m: names.add(m.group(1))
which = sys.argv[1]
if which == "glob":
    class Glob(ctypes.Structure):
        _fields_ = [("pathc", ctypes.c_size_t), ("pathv", ctypes.POINTER(ctypes.c_char_p)), ("offs", ctypes.c_size_t),
                    ("flags", ctypes.c_int), ("rest", ctypes.c_void_p * 5)]
    g = Glob()
    libc.glob(b"/sys/devices/system/cpu/cpu*", 0, None, ctypes.byref(g))
    for i in range(g.pathc): keep(g.pathv[i].decode())
elif which == "nftw":
    CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)
    cb = CB(lambda p, st, flag, f: keep(p.decode()) or 0)
    libc.nftw(b"/sys/devices/system/cpu", cb, 8, 1)
else:
    libc.fts_open.restype = ctypes.c_void_p
    libc.fts_read.restype = ctypes.c_void_p
    libc.fts_read.argtypes = [ctypes.c_void_p]
    libc.fts_close.argtypes = [ctypes.c_void_p]
    roots = (ctypes.c_char_p * 2)(b"/sys/devices/system/cpu", None)
    fts = libc.fts_open(roots, 0x10, None)
    while True:
        e = libc.fts_read(fts)
        if not e: break
        keep(ctypes.cast(ctypes.c_void_p.from_address(e + 48).value, ctypes.c_char_p).value.decode())
    libc.fts_close(fts)
print(" ".join(sorted(names)))'
for walker in glob nftw fts; do
  expect "--cpu-map 1: libc's $walker lists cpu0 alone" "cpu0" "$run" "${one[@]}" -- /usr/bin/python3 -c "$walkers" $walker
done
if have make; then
  printf 'all:\n\t@echo $(notdir $(wildcard /sys/devices/system/cpu/cpu[0-9]*))\n' >"${TMPDIR:-/tmp}/host-leaks-$$.mk"
  expect "--cpu-map 1: make's \$(wildcard) (glibc's glob) lists cpu0 alone" "cpu0" \
    "$run" "${one[@]}" -- make -s -f "${TMPDIR:-/tmp}/host-leaks-$$.mk"
  rm -f "${TMPDIR:-/tmp}/host-leaks-$$.mk"
else
  skip "make's \$(wildcard)" "make is not installed"
fi

echo "1..$n"
