#!/usr/bin/env bash
# The containers suite, Docker (docs/containers.md): a dockerd of the test's own (its data, sockets,
# trust key and cgroup parent in the test's directory; no iptables, no bridge), a Debian base imported
# from the host's own files (there is no registry), containers/Containerfile built FROM it, an image
# of a user's that takes the shim with COPY --from=, and runs limited with --cpus and --cpuset-cpus,
# natively and on virtual machines. Each run checks nproc, Python, Java (the host's JVM,
# bind-mounted read-only), /proc/cpuinfo and the quota file. Then the daemon is stopped by its pid
# and everything it made is removed. TAP output.
set -u
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/lib.sh"
docker=/usr/bin/docker # the Debian package's client: another one in PATH may not match the daemon

containers_begin "docker"
if ! have dockerd || ! [ -x $docker ]; then
  skip "docker" "docker.io is not installed (scripts/test --suite containers installs it)"
  exit 0
fi
d=$work/docker
mkdir -p "$d"
export DOCKER_HOST=unix://$d/docker.sock DOCKER_CONFIG=$d/client
# What dockerd makes outside its own directories, to remove if it was not there before.
made=()
for p in /etc/docker /run/docker /run/containerd; do [ -e $p ] || made+=("$p"); done
daemon=
cleanup_engine() {
  if [ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null; then
    local ids
    ids=$($docker ps -aq 2>/dev/null)
    [ -n "$ids" ] && $docker rm -f $ids >/dev/null 2>&1
    $docker image prune -af >/dev/null 2>&1
    kill "$daemon"
    for _ in $(seq 300); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$daemon" 2>/dev/null && kill -KILL "$daemon"
  fi
  remove_cgroups "$ctest_tag"
  local p
  for p in "${made[@]}"; do rm -rf "$p"; done
}

# ---- the daemon -----------------------------------------------------------------------------------
echo "{\"deprecated-key-path\": \"$d/key.json\"}" >"$d/daemon.json"
dockerd --config-file "$d/daemon.json" --data-root "$d/data" --exec-root "$d/exec" --pidfile "$d/dockerd.pid" \
  -H "$DOCKER_HOST" --iptables=false --ip6tables=false --bridge=none --cgroup-parent "$ctest_tag" \
  --containerd-namespace "$ctest_tag" --containerd-plugins-namespace "$ctest_tag-plugins" \
  >"$d/dockerd.log" 2>&1 &
daemon=$!
up=no
for _ in $(seq 600); do
  if $docker version >/dev/null 2>&1; then up=yes; break; fi
  kill -0 $daemon 2>/dev/null || break
  sleep 0.1
done
expect "dockerd of the test's own answers" yes echo $up
if [ $up != yes ]; then sed 's/^/#   /' "$d/dockerd.log" | tail -20; exit 1; fi

# ---- the images: a Debian base from the host's files, the recipe, a user's image ------------------
"$containers_dir/host_rootfs.py" "$d/base.tar" g++ meson ninja-build pkg-config python3 libunwind-dev libiberty-dev \
  coreutils dash grep sed
expect "docker import: a Debian 12 base with the compilers, from the host's own files" "" \
  sh -c "$docker import '$d/base.tar' $ctest_tag-base >/dev/null && rm '$d/base.tar'"
build() { # LOG ARGS...: docker build, its output shown only when it fails
  local log=$1
  shift
  $docker build "$@" >"$log" 2>&1 || { tail -30 "$log"; return 1; }
}
cd "$LIBOS_SOURCE_ROOT" || exit 1
expect "docker build containers/Containerfile FROM that base: the libos-vcpu layer" "" \
  build "$d/build.log" -f containers/Containerfile --build-arg BASE=$ctest_tag-base -t $ctest_tag-vcpu .
expect "the layer holds the launcher, the shim and the hook under /opt/libos-vcpu" \
  "/opt/libos-vcpu/bin/libos-run
/opt/libos-vcpu/lib/libos-vcpu/libshim.so
/opt/libos-vcpu/libexec/libos-vcpu-oci-hook
/opt/libos-vcpu/share/libos-vcpu/oci-hook/libos-vcpu.json" \
  sh -c "$docker save $ctest_tag-vcpu | tar -xO --wildcards '*/layer.tar' | tar -t | sed 's|^|/|' \
         | grep -E '/(bin/libos-run|lib/libos-vcpu/libshim.so|libexec/libos-vcpu-oci-hook|oci-hook/libos-vcpu.json)$' | sort"
mkdir -p "$d/app"
printf 'FROM %s\nCOPY --from=%s /opt/libos-vcpu /opt/libos-vcpu\n' $ctest_tag-base $ctest_tag-vcpu >"$d/app/Dockerfile"
expect "a user's image: COPY --from= the layer" "" build "$d/app.log" -t $ctest_tag-app "$d/app"

# ---- runs -------------------------------------------------------------------------------------------
run() { # DOCKER-RUN-OPTIONS... -- COMMAND...: in the user's image, the JVM and the probe mounted
  local opts=()
  while [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  $docker run --rm --network none -v /usr/lib/jvm:/usr/lib/jvm:ro -v /etc/java-17-openjdk:/etc/java-17-openjdk:ro \
    -v "$containers_dir:/libos-test:ro" "${opts[@]}" $ctest_tag-app "$@" 2>&1
}
shim_env=(-e LD_PRELOAD=/opt/libos-vcpu/lib/libos-vcpu/libshim.so)
limits=(--cpus 1.5 --cpuset-cpus 0)
probe=(sh /libos-test/probe.sh)
probe_case "--cpus 1.5 --cpuset-cpus 0, natively: nproc 1, Python the host's, the JVM 1" \
  "$(want 1 $host_cpus 1 $host_cpus 150000)" run "${limits[@]}" -- "${probe[@]}"
probe_case "--cpus 1.5 --cpuset-cpus 0, LIBOS_CPUS=8: 8 everywhere" \
  "$(want 8 8 8 8 -1)" run "${limits[@]}" "${shim_env[@]}" -e LIBOS_CPUS=8 -- "${probe[@]}"
probe_case "--cpus 1.5 --cpuset-cpus 0, LIBOS_CPUS_FROM_QUOTA=1: the one allowed CPU, the quota it can use" \
  "$(want 1 1 1 1 100000)" run "${limits[@]}" "${shim_env[@]}" -e LIBOS_CPUS_FROM_QUOTA=1 -- "${probe[@]}"
probe_case "--cpus 1.5, LIBOS_CPUS_FROM_QUOTA=1: 2 everywhere" \
  "$(want 2 2 2 2 150000)" run --cpus 1.5 "${shim_env[@]}" -e LIBOS_CPUS_FROM_QUOTA=1 -- "${probe[@]}"
probe_case "--cpus 0.5, the image's libos-run --cpus-from-quota: 1 everywhere" \
  "$(want 1 1 1 1 50000)" run --cpus 0.5 -- /opt/libos-vcpu/bin/libos-run --cpus-from-quota -- "${probe[@]}"
probe_case "--cpus 1.5 --cpuset-cpus 0, libos-run --cpus 4 --cpu-quota 2.5: the JVM 3" \
  "$(want 4 4 3 4 250000)" run "${limits[@]}" -- \
  sh -c 'exec /opt/libos-vcpu/bin/libos-run --cpus 4 --cpu-quota 2.5 -- sh /libos-test/probe.sh 2>/dev/null'
