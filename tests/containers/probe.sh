#!/bin/sh
# tests/containers/probe.sh: run inside a container, prints on one line what the container's programs
# see: nproc, Python's os.cpu_count(), the JVM's Runtime.availableProcessors() (its "Effective CPU
# Count"), the processor entries of /proc/cpuinfo, and the CFS quota of the container's own cgroup
# (v1 cpu.cfs_quota_us, or v2 cpu.max's first field): "nproc=2 python=2 java=2 cpuinfo=2 quota=150000".
# java=none when the container has no JVM at /usr/lib/jvm/default-java (the host's, bind-mounted).
# /usr/bin/nproc by path: a shell with built-in applets (busybox) would not run the real one.
java=none
for j in /usr/lib/jvm/default-java/bin/java /usr/lib/jvm/java-17-openjdk-amd64/bin/java; do
  if [ -x "$j" ]; then
    java=$("$j" -XshowSettings:system -version 2>&1 | sed -n 's/^ *Effective CPU Count: *//p')
    break
  fi
done
quota=none
if [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
  quota=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)
elif [ -f /sys/fs/cgroup/cpu.max ]; then
  quota=$(cut -d' ' -f1 /sys/fs/cgroup/cpu.max)
fi
echo "nproc=$(/usr/bin/nproc) python=$(python3 -c 'import os; print(os.cpu_count())')" \
  "java=${java:-unknown} cpuinfo=$(grep -c '^processor' /proc/cpuinfo) quota=$quota"
