#!/usr/bin/env bash
# Strict mode's live files: a program without the shim (a static binary) that keeps a descriptor of a
# file that changes (/proc/stat, a status file, /proc/softirqs...) and reads it again, with pread from
# 0 or lseek(0) and read, sees it change, as on the host: libos-run serves those descriptors from a
# FUSE file system of its own (launcher/strict/live.cpp), where --no-fuse (or a host without FUSE)
# leaves the snapshot taken at the open. The oracle is the host: the same program natively sees the
# counters move, and its descriptor's attributes are the real file's. TAP output.
set -u

L=${LIBOS_LAUNCHER:?LIBOS_LAUNCHER must name build/launcher/libos-run}
LS=${LIBOS_LIVE_STATIC:?LIBOS_LIVE_STATIC must name strict_live_static}
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
# expect NAME WANTED COMMAND...: exits 0 with stdout WANTED and nothing on stderr.
expect() {
  local name=$1 want=$2
  shift 2
  run "$@"
  if [ $rc -eq 0 ] && [ "$out" == "$want" ] && [ -z "$err" ]; then
    pass "$name"
  else
    fail "$name" "command: $*" "status $rc" "wanted: $want" "got:    $out" "stderr: $err"
  fi
}
# expect_sometimes NAME WANTED COMMAND...: as expect, allowed up to 5 runs: for counters that the host
# itself does not move in every short window (a quiet host's TIMER softirqs can stay still for the
# 70 ms a watch takes, natively too); a frozen snapshot never moves, so the check can still fail.
expect_sometimes() {
  local name=$1 want=$2 try
  shift 2
  for try in 1 2 3 4 5; do
    run "$@"
    if [ $rc -eq 0 ] && [ "$out" == "$want" ] && [ -z "$err" ]; then
      pass "$name"
      return
    fi
  done
  fail "$name" "command: $*" "status $rc" "wanted: $want" "got:    $out" "stderr: $err" "(5 runs)"
}
# value KEY: the value of KEY=... in $out.
value() { sed -n "s/^$1=//p" <<<"$out" | head -n 1; }

have_busybox=0
if command -v busybox >/dev/null && file -L "$(command -v busybox)" 2>/dev/null | grep -q 'statically linked'; then
  have_busybox=1
fi
fuse_usable=0
[ "$(id -u)" -eq 0 ] && [ -c /dev/fuse ] && grep -qw fuse /proc/filesystems && fuse_usable=1

# ---- does this launch serve them live? ---------------------------------------------------------------
run "$L" --strict --cpus 8 --show
shown=$(sed -n 's/^changing files: *//p' <<<"$out")
live=0
if [ $rc -eq 0 ] && [[ "$shown" == "live without the shim"* ]]; then
  live=1
  pass "--show --strict: the changing files are live (FUSE)"
elif [ $fuse_usable -eq 1 ] && [[ "$shown" != *"built without libfuse3"* ]]; then
  fail "--show --strict: FUSE is usable here (root, /dev/fuse, the fuse file system) but" "status $rc" "said: $shown" \
    "stderr: $err"
else
  skip "--show --strict: the changing files are live" "FUSE cannot be used here: $shown"
fi
expect "--show --strict --no-fuse: snapshots" "snapshots at the open without the shim (--no-fuse)" \
  bash -c "'$L' --strict --no-fuse --cpus 8 --show | sed -n 's/^changing files: *//p'"
expect "--show without --strict says nothing of them" "" bash -c "'$L' --cpus 8 --show | grep '^changing files' || true"
run "$L" --no-fuse --cpus 8 -- true
if [ $rc -eq 125 ] && [ "$(grep -c . <<<"$err")" == 1 ] && grep -q -- "--no-fuse works only with --strict" <<<"$err"; then
  pass "--no-fuse without --strict is refused (125, one line)"
else
  fail "--no-fuse without --strict is refused" "status $rc" "stderr: $err"
fi
run "$L" --strict --no-fuse=1 --cpus 8 -- true
if [ $rc -eq 125 ] && [ "$(grep -c . <<<"$err")" == 1 ] && grep -q -- "--no-fuse" <<<"$err"; then
  pass "--no-fuse=1 is refused (the option takes no value: 125, one line)"
else
  fail "--no-fuse=1 is refused" "status $rc" "stderr: $err"
fi

# ---- the oracle: natively, a kept descriptor's counters move --------------------------------------------
expect "natively: /proc/stat's ctxt moves through pread(0) and lseek(0)+read" \
  "$(printf 'watch_found=yes\npread=moved\nlseek=moved')" "$LS" watch /proc/stat ctxt 1

# ---- a static program under --strict ---------------------------------------------------------------------
moved=$(printf 'watch_found=yes\npread=moved\nlseek=moved')
frozen=$(printf 'watch_found=yes\npread=same\nlseek=same')
if [ $live -eq 1 ]; then
  expect "--strict --cpus 8: /proc/stat's ctxt moves through a kept descriptor" "$moved" \
    "$L" --strict --cpus 8 -- "$LS" watch /proc/stat ctxt 1
  expect "--strict --no-shim --cpus 8: the same (a dynamic program's raw opens are the supervisor's too)" "$moved" \
    "$L" --strict --no-shim --cpus 2 -- "$LS" watch /proc/stat ctxt 1
  expect "--strict --cpus 8: /proc/stat's aggregate user time moves (the program's own CPU time)" "$moved" \
    "$L" --strict --cpus 8 -- "$LS" watch /proc/stat "cpu " 1
  expect "--strict: /proc/self/stat's utime moves (a per-process file)" "$moved" \
    "$L" --strict --cpus 8 -- "$LS" watch /proc/self/stat "" 14
  expect "--strict: /proc/self/status's voluntary_ctxt_switches moves" "$moved" \
    "$L" --strict --cpus 8 -- "$LS" watch /proc/self/status voluntary_ctxt_switches: 1
  expect_sometimes "--strict: /proc/softirqs's TIMER counts move" "$moved" \
    "$L" --strict --cpus 8 -- "$LS" watch /proc/softirqs TIMER: sum
  if grep -q '^ *LOC:' /proc/interrupts; then
    expect_sometimes "--strict: /proc/interrupts's local timer counts move" "$moved" \
      "$L" --strict --cpus 8 -- "$LS" watch /proc/interrupts LOC: sum
  else
    skip "--strict: /proc/interrupts's local timer counts move" "this host's /proc/interrupts has no LOC line"
  fi
else
  skip "--strict: kept descriptors of the changing files move" "FUSE cannot be used here: $shown"
fi
expect "--strict --no-fuse: the snapshot stays as it was at the open (what FUSE changes)" "$frozen" \
  "$L" --strict --no-fuse --cpus 8 -- "$LS" watch /proc/stat ctxt 1

# The content of one read is one making of it, however small the reads: 8 vCPUs, 9 cpu lines, one
# ctxt, whole lines; and again after lseek(0).
one_pass=$(printf 'chunk_bytes=some\nchunk_lines=9\nchunk_ctxt=1\nchunk_tail=yes')
expect "--strict --cpus 8: /proc/stat read 7 bytes at a time is whole, twice" "$(printf '%s\n%s' "$one_pass" "$one_pass")" \
  "$L" --strict --cpus 8 -- "$LS" chunks /proc/stat 7
expect "--strict --cpus 8: /proc/stat read 64 KiB at a time is whole, twice" "$(printf '%s\n%s' "$one_pass" "$one_pass")" \
  "$L" --strict --cpus 8 -- "$LS" chunks /proc/stat 65536
expect "--strict: a fork child reads its parent's descriptor from 0" "child_read=some" \
  "$L" --strict --cpus 8 -- "$LS" fork /proc/stat
# busybox cat copies with sendfile, which reads a FUSE file of size 0 as empty unless it is O_DIRECT.
if [ $have_busybox -eq 1 ]; then
  expect "--strict --cpus 8: busybox cat (sendfile) of /proc/stat has its 9 cpu lines" "9" \
    bash -c "'$L' --strict --cpus 8 -- busybox cat /proc/stat | grep -c '^cpu'"
  expect "--strict --cpus 8: busybox cat (sendfile) of /proc/self/status has its Cpus_allowed_list" "Cpus_allowed_list:	0-7" \
    bash -c "'$L' --strict --cpus 8 -- busybox cat /proc/self/status | grep '^Cpus_allowed_list'"
else
  skip "--strict: busybox cat (sendfile)" "busybox-static is not installed"
fi

# ---- the descriptor looks like the real file ---------------------------------------------------------
# fstat of the descriptor against stat of the path (procfs's own: stat is not trapped), and the open
# flags against the same open natively, with O_DIRECT (040000) more: the live file is opened so, for
# sendfile's sake (docs/strict-mode.md). The device differs (documented: FUSE's).
for path in /proc/stat /proc/softirqs /proc/self/status; do
  for flags in rdonly cloexec nonblock; do
    run "$LS" fstat "$path" "$flags"
    native_fl=$(value fl) native_cloexec=$(value cloexec)
    run "$L" --strict --cpus 8 -- "$LS" fstat "$path" "$flags"
    bad=""
    for field in mode nlink uid gid size; do
      [ "$(value fd_$field)" == "$(value path_$field)" ] || bad+=" $field: fd $(value fd_$field), path $(value path_$field);"
    done
    # /proc/self names the launched program, a process of its own: its status file has the inode of that
    # process's, which stat of the path (the same process) gives too.
    [ "$(value fd_ino)" == "$(value path_ino)" ] || bad+=" ino: fd $(value fd_ino), path $(value path_ino);"
    want_fl=$native_fl
    [ $live -eq 1 ] && want_fl=$(printf '%o' $((0$native_fl | 040000)))
    [ "$(value fl)" == "$want_fl" ] || bad+=" F_GETFL $(value fl), natively $native_fl;"
    [ "$(value cloexec)" == "$native_cloexec" ] || bad+=" FD_CLOEXEC $(value cloexec), natively $native_cloexec;"
    if [ $rc -eq 0 ] && [ -n "$native_fl" ] && [ -z "$bad" ]; then
      pass "--strict: fstat and flags of $path ($flags) are the real file's"
    else
      fail "--strict: fstat and flags of $path ($flags)" "status $rc" "$bad" "got: $out" "stderr: $err"
    fi
  done
done

# ---- a task's file outlives the task -------------------------------------------------------------------------
# The kernel's descriptor of /proc/<pid>/status (stat, numa_maps) holds the task: once it is reaped, reads
# fail with ESRCH, even when a new task has taken the pid (made so through ns_last_pid, in a pid namespace
# of this test's own). The live file must not make its content from whatever task has the number now.
if [ $live -eq 1 ] && unshare --pid --fork --mount-proc true 2>/dev/null; then
  gone=$(printf 'gone_reused=yes\ngone_read=ESRCH')
  for leaf in status stat numa_maps; do
    expect "natively: a reaped task's $leaf reads ESRCH, its pid taken again" "$gone" \
      unshare --pid --fork --mount-proc "$LS" gone $leaf
    expect "--strict: a reaped task's $leaf reads ESRCH, not the new task's of the same pid" "$gone" \
      unshare --pid --fork --mount-proc "$L" --strict --cpus 8 -- "$LS" gone $leaf
  done
else
  skip "--strict: a reaped task's files read ESRCH" "FUSE or a pid namespace of this test's own cannot be used here"
fi

# ---- a reader the server cannot name ------------------------------------------------------------------------
# A process above the launch's pid namespace reaches a live file through /proc/<holder>/fd/N (the
# holder: a process of the launch without capabilities, so that root without them may look into it);
# FUSE gives the server no pid for it. The kernel shows /proc/<pid>/stat's start_code (field 26) only to
# a reader that may trace the task (here a task of uid 65534; the reader is root without capabilities):
# 1 to this one. The live file must not make it with the rights of the program that opened it.
# foreign_read MAIN...: runs MAIN (which prints foreign_code) in a pid namespace of its own, and reads
# the holder's descriptor from here without capabilities: $foreign_code, $outside_code.
foreign_read() {
  "$@" >"$tmp/foreign" 2>&1 </dev/null &
  local main=$! holder="" fd="" i
  for i in $(seq 1 300); do
    grep -q '^foreign_code=' "$tmp/foreign" && break
    sleep 0.1
  done
  foreign_code=$(sed -n 's/^foreign_code=//p' "$tmp/foreign")
  fd=$(sed -n 's/^foreign_fd=//p' "$tmp/foreign")
  # The holder: the "live-holder" below MAIN (other tests may run one of their own).
  local p up
  for i in $(pgrep -x live-holder); do
    p=$i
    for up in 1 2 3 4 5 6; do
      p=$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ')
      [ -z "$p" ] && break
      [ "$p" == "$main" ] && holder=$i && break
    done
  done
  outside_code=$(setpriv --inh-caps=-all --bounding-set=-all dd if="/proc/$holder/fd/$fd" bs=64k status=none 2>/dev/null |
    awk '{sub(/.*\) /, ""); print $24}')
  [ -n "$holder" ] && kill "$holder" 2>/dev/null
  wait "$main"
}
if [ $live -eq 1 ] && command -v setpriv >/dev/null && unshare --pid --fork --mount-proc true 2>/dev/null; then
  foreign_read timeout -k 5 60 unshare --pid --fork --mount-proc "$LS" foreign 10
  if [ -n "$foreign_code" ] && [ "$foreign_code" != 1 ] && [ "$outside_code" == 1 ]; then
    pass "natively: a reader without the rights sees stat's start_code as 1 (the opener sees $foreign_code)"
  else
    fail "natively: start_code to a reader without the rights" "opener: $foreign_code" "outside: $outside_code" "$(cat "$tmp/foreign")"
  fi
  foreign_read timeout -k 5 60 unshare --pid --fork --mount-proc "$L" --strict --cpus 8 -- "$LS" foreign 10
  if [ -n "$foreign_code" ] && [ "$foreign_code" != 1 ] && { [ "$outside_code" == 1 ] || [ -z "$outside_code" ]; }; then
    pass "--strict: a reader the server cannot name never gets the opener's rights (start_code: ${outside_code:-refused})"
  else
    fail "--strict: a reader the server cannot name" "opener: $foreign_code" "outside: $outside_code" "$(cat "$tmp/foreign")"
  fi
else
  skip "a reader the server cannot name" "FUSE, setpriv or a pid namespace of this test's own cannot be used here"
fi

# ---- the shim's own path is unchanged ------------------------------------------------------------------
# With the shim loaded, libc's open of /proc/stat is answered in-process (its live memfd, whose fstat the
# shim makes the real file's): the supervisor and FUSE are not involved, so the device is procfs's.
if command -v python3 >/dev/null; then
  expect "--strict with the shim: a dynamic program's /proc/stat is the shim's, not FUSE's" "same-dev moved" \
    "$L" --strict --cpus 8 -- python3 -c "
import os, time
fd = os.open('/proc/stat', os.O_RDONLY)
def ctxt():
    return int([l for l in os.pread(fd, 1 << 16, 0).decode().splitlines() if l.startswith('ctxt ')][0].split()[1])
a = ctxt()
for _ in range(5):
    time.sleep(0.002)
b = ctxt()
print('same-dev' if os.fstat(fd).st_dev == os.stat('/proc/stat').st_dev else 'other-dev', 'moved' if b > a else 'same')"
else
  skip "--strict with the shim: the in-process path" "python3 is not installed"
fi

# ---- busybox: a real static sampler ------------------------------------------------------------------------
# The shell keeps descriptor 3 of /proc/stat; grep reads it through /dev/fd/3, an open of the
# descriptor's own file again (not of /proc/stat: the kernel follows the link to the file): the FUSE
# file's content is made anew, where the snapshot's memfd reads as it was.
kept_fd_script='
exec 3</proc/stat
a=$(busybox grep "^ctxt" /dev/fd/3 | busybox cut -d" " -f2)
busybox usleep 20000; busybox usleep 20000
b=$(busybox grep "^ctxt" /dev/fd/3 | busybox cut -d" " -f2)
[ "$b" -gt "$a" ] && echo moved || echo same'
if [ $have_busybox -eq 1 ] && [ $live -eq 1 ]; then
  expect "--strict: busybox sh reading a kept /proc/stat through /dev/fd/3 sees ctxt move" "moved" \
    "$L" --strict --cpus 8 -- busybox sh -c "$kept_fd_script"
  expect "--strict --no-fuse: the same reads the snapshot" "same" \
    "$L" --strict --no-fuse --cpus 8 -- busybox sh -c "$kept_fd_script"
else
  skip "--strict: busybox sh reading a kept /proc/stat" "needs a static busybox and FUSE"
fi

# ---- where FUSE cannot be used: the snapshot, silently ----------------------------------------------------
# /dev/fuse hidden by /dev/null in a mount namespace of this test's own: opened, it is no FUSE device,
# and the mount is refused.
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
  run unshare -m sh -c "mount --bind /dev/null /dev/fuse && exec '$L' --strict --cpus 8 -- '$LS' watch /proc/stat ctxt 1"
  if [ $rc -eq 0 ] && [ "$out" == "$frozen" ] && [ -z "$err" ]; then
    pass "no FUSE device: the launch runs, with snapshots, and says nothing"
  else
    fail "no FUSE device: the launch runs with snapshots" "status $rc" "got: $out" "stderr: $err"
  fi
  run unshare -m sh -c "mount --bind /dev/null /dev/fuse && exec '$L' --strict --cpus 8 --show"
  if [ $rc -eq 0 ] && grep -q "^changing files: *snapshots at the open without the shim: FUSE cannot be used here (" <<<"$out"; then
    pass "no FUSE device: --show says why ($(sed -n 's/^changing files: *//p' <<<"$out"))"
  else
    fail "no FUSE device: --show says why" "status $rc" "got: $out" "stderr: $err"
  fi
else
  skip "no FUSE device" "needs root and unshare"
fi
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  # A launcher without root: FUSE in a user namespace of its own where /dev/fuse lets it, else the
  # snapshot; either way the launch runs and says nothing of it.
  run setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$L" --strict --no-views --cpus 8 -- "$LS" watch /proc/stat ctxt 1
  if [ $rc -eq 0 ] && { [ "$out" == "$moved" ] || [ "$out" == "$frozen" ]; } && [ -z "$err" ]; then
    pass "launcher as nobody: the launch runs, live or with snapshots ($(sed -n 's/^pread=//p' <<<"$out")), silently"
  else
    fail "launcher as nobody: the launch runs" "status $rc" "got: $out" "stderr: $err"
  fi
  # With a /dev/fuse it may open (a node of mode 0666, bound over /dev/fuse in a mount namespace of
  # this test's own), a launcher without root mounts FUSE from a helper in a user namespace of its
  # own: live.
  mkdir -p "$tmp/dev"
  run unshare -m sh -c "mknod -m 666 '$tmp/dev/fuse' c 10 229 && mount --bind '$tmp/dev/fuse' /dev/fuse || exit 99
    exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all '$L' --strict --cpus 8 -- '$LS' watch /proc/stat ctxt 1"
  if [ $rc -eq 99 ] || [ $live -eq 0 ]; then
    skip "launcher as nobody, /dev/fuse open to it: live through a user namespace of its own" \
      "no device node could be made here, or FUSE cannot be used: $shown $err"
  elif [ $rc -eq 0 ] && [ "$out" == "$moved" ] && [ -z "$err" ]; then
    pass "launcher as nobody, /dev/fuse open to it: live through a user namespace of its own"
  else
    fail "launcher as nobody, /dev/fuse open to it: live" "status $rc" "got: $out" "stderr: $err"
  fi
else
  skip "launcher as nobody" "needs root and setpriv"
fi

# ---- nothing left: no mount anywhere, no connection, no server ----------------------------------------
# The launch's own FUSE connection is found by its device number, which names it in the fusectl file
# system; fusectl is mounted in a mount namespace of this test's own to look (hosts seldom mount it,
# and other launches on the machine may have connections of their own, so nothing is counted): it is
# there while the launch runs, and gone after.
connection_listed() {
  unshare -m sh -c "mount -t fusectl none /sys/fs/fuse/connections && [ -e /sys/fs/fuse/connections/$1 ]" 2>/dev/null
}
can_list=0
if [ $live -eq 1 ] && [ $have_busybox -eq 1 ] && grep -qw fusectl /proc/filesystems &&
  unshare -m sh -c "mount -t fusectl none /sys/fs/fuse/connections" 2>/dev/null; then
  can_list=1
fi
before=$(cat /proc/self/mountinfo)
# The program reads a live file, then stays a while, so that its namespace can be looked at. busybox's
# shell opens /proc/stat itself (a raw open, trapped): its descriptor is a live file, whose device
# busybox stat gives (stat is not trapped).
"$L" --strict --cpus 8 -- busybox sh -c "exec 3</proc/stat; busybox stat -L -c conn=%d /dev/fd/3; exec 3<&-
  '$LS' watch /proc/stat ctxt 1 && sleep 5" >"$tmp/bg" 2>&1 </dev/null &
bg_pid=$!
inside=""
listed_while=""
for _ in $(seq 1 200); do
  sleep 0.05
  child=$(pgrep -P "$(pgrep -P $bg_pid | head -n 1)" 2>/dev/null | head -n 1)
  if [ -n "$child" ] && grep -q watch_found "$tmp/bg"; then
    # grep -c prints 0 (and fails) when there is no FUSE mount; nothing when the process is gone.
    inside=$(grep -cE ' - fuse(\.[^ ]*)? ' "/proc/$child/mountinfo" 2>/dev/null)
    conn=$(sed -n 's/^conn=//p' "$tmp/bg" | head -n 1)
    if [ $can_list -eq 1 ] && [ -n "$conn" ]; then
      connection_listed "$conn" && listed_while=yes || listed_while=no
    fi
    [ -n "$inside" ] && break
  fi
done
wait $bg_pid
bg_rc=$?
bg_pid=""
after=$(cat /proc/self/mountinfo)
if [ $bg_rc -eq 0 ] && [ "${inside:-x}" == 0 ] && [ "$before" == "$after" ]; then
  pass "the FUSE mount is in no namespace (the launch's has none either); host mounts as before"
else
  fail "cleanup" "status $bg_rc: $(cat "$tmp/bg")" "fuse mounts in the launch's namespace: ${inside:-none seen}" \
    "host mounts: $(diff <(echo "$before") <(echo "$after") | head -n 5)"
fi
if [ $can_list -eq 1 ]; then
  if [ "$listed_while" == yes ] && ! connection_listed "$conn"; then
    pass "the launch's FUSE connection ($conn) is listed while it runs, and gone after"
  else
    fail "the launch's FUSE connection" "device: ${conn:-not seen}" "listed while the launch ran: ${listed_while:-not looked}" \
      "listed after: $(connection_listed "$conn" && echo yes || echo no)" "$(cat "$tmp/bg")"
  fi
else
  skip "the launch's FUSE connection is gone after" "no live files, busybox or fusectl here"
fi

echo "1..$n"
