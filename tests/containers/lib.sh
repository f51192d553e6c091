# Shared by the containers suite's tests (source it after tests/lib/tap.sh): the work directory, the
# probe and what it should print, a root filesystem of the host's own files, and the checks that
# nothing is left behind. The tests run real engines as root (../shared/CONTAINERS.md's recipes).
#
#   containers_begin NAME          skips the whole test unless root; makes $work, sets the trap
#   want NPROC PYTHON JAVA CPUINFO QUOTA   the probe's line for those values (JAVA: the JVM's count)
#   probe_case NAME WANT COMMAND...        runs COMMAND (which runs the probe in a container) as a case
#   host_rootfs_dir DIR            an empty root with the merged-/usr links; the test bind-mounts
#                                  the host's /usr and /etc over it
#   leftovers                      what this test left: mounts, processes, cgroups (empty: none)
#
# A test defines cleanup_engine (stops what it started, by pid, and removes what it made); the EXIT
# trap runs it, then checks that nothing is left and says so as a last case, also when the test
# failed half-way.
containers_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
shim=${LIBOS_LIBSHIM:?run through meson test}
launcher=${LIBOS_LAUNCHER:?run through meson test}
host_cpus=$(nproc --all)
java_home=/usr/lib/jvm/default-java
have_java=0
[ -x "$java_home/bin/java" ] && have_java=1
ctest_tag=libos-ctest-$$

containers_begin() {
  if [ "$(id -u)" != 0 ]; then
    echo "1..1"
    echo "ok 1 - $1 # SKIP needs root: the engines make namespaces, cgroups and mounts"
    exit 0
  fi
  work=$(mktemp -d "/tmp/$ctest_tag.XXXXXX")
  chmod 755 "$work"
  trap containers_end EXIT
  start_seconds=$SECONDS
  if [ $have_java = 0 ]; then
    skip "the JVM's CPU count" "no JVM at $java_home (apt-get install default-jre-headless)"
  fi
}

want() {
  local java=$3
  [ $have_java = 0 ] && java=none
  echo "nproc=$1 python=$2 java=$java cpuinfo=$4 quota=$5"
}

probe_case() {
  local name=$1 wanted=$2
  shift 2
  expect "$name" "$wanted" "$@"
}

# The mounts a container of the host's own files needs over host_rootfs_dir's root, read-only:
# the host's /usr (programs and libraries), its /etc (alternatives, the dynamic loader's cache, the
# JVM's configuration), the probe, and the shim at the prefix the image recipe installs to.
host_rootfs_dir() {
  local dir=$1 top
  mkdir -p "$dir"/{usr,etc,proc,sys,dev,tmp,root,run,opt/libos-vcpu/lib,libos-test}
  chmod 1777 "$dir/tmp"
  for top in bin sbin lib lib64; do
    if [ -L "/$top" ]; then ln -sfn "$(readlink "/$top")" "$dir/$top"; else mkdir -p "$dir/$top"; fi
  done
}

leftovers() {
  local what
  # Mounts under the work directory (engines' overlays, shm, bind mounts), in this namespace.
  awk -v w="$work" 'index($5, w) == 1 { print "mount " $5 }' /proc/self/mountinfo
  # Processes started for this test (daemons, shims, conmon) still running.
  for what in /proc/[0-9]*; do # (a process may end while it is read)
    if tr '\0' ' ' 2>/dev/null <"$what/cmdline" | grep -q -- "$work"; then
      echo "process ${what#/proc/}: $(tr '\0' ' ' 2>/dev/null <"$what/cmdline" | head -c 120)"
    fi
  done
  # Cgroups of this test's containers, in every hierarchy.
  for what in /sys/fs/cgroup/*/"$ctest_tag"* /sys/fs/cgroup/"$ctest_tag"*; do
    [ -d "$what" ] && echo "cgroup $what"
  done
}

# Removes the cgroup directories named DIR (relative) in every hierarchy, deepest first.
remove_cgroups() {
  local name=$1 dir
  for dir in /sys/fs/cgroup/*/"$name" /sys/fs/cgroup/"$name"; do
    [ -d "$dir" ] || continue
    find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null
  done
}

containers_end() {
  local status=$?
  set +e
  declare -F cleanup_engine >/dev/null && cleanup_engine
  local left
  left=$(leftovers)
  if [ -n "$left" ]; then
    # Unmount and remove what is left all the same, then fail.
    awk -v w="$work" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
      umount -l "$m"
    done
  fi
  rm -rf "$work"
  n=$((n + 1))
  if [ -z "$left" ] && ! [ -e "$work" ]; then
    echo "ok $n - nothing left behind: no mount, process or cgroup of the test, and its files removed"
  else
    echo "not ok $n - nothing left behind"
    echo "$left" | sed 's/^/#   left: /'
  fi
  echo "# took $((SECONDS - start_seconds)) s"
  echo "1..$n"
  exit $status
}
