#!/usr/bin/env bash
# The containers suite, Podman with the runc runtime (docs/containers.md): storage, run directories,
# hooks.d and network configuration of the test's own. `podman run --rootfs` of the host's own files
# with a CPU limit, natively and with the shim; the OCI hook from hooks.d (precreate), chosen by the
# annotation libos-vcpu.cpus; `podman kube play` of containers/k8s/pod.yaml and of the pod template
# of containers/k8s/job-matrix.yaml, once per index, with an image imported from the host's files
# (there is no registry); `podman build` of the image recipe and a user's image COPY --from= it.
# Each run checks nproc, Python, Java (the host's JVM, bind-mounted
# read-only), /proc/cpuinfo and the quota file. TAP output.
set -u
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/lib.sh"

containers_begin "podman"
if ! have podman || ! have runc; then
  skip "podman" "podman or runc is not installed (scripts/test --suite containers installs them)"
  exit 0
fi
p=$work/podman
mkdir -p "$p"/{hooks.d,net,tmp}
cat >"$p/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
hooks_dir = ["$p/hooks.d"]
[network]
network_config_dir = "$p/net"
EOF
export CONTAINERS_CONF=$p/containers.conf
podman() { command podman --root "$p/storage" --runroot "$p/run" --tmpdir "$p/tmp" "$@"; }
# What podman makes outside its own directories, to remove if it was not there before.
made=()
for path in /sys/fs/cgroup/cpu/libpod_parent /run/libpod /run/containers; do [ -e $path ] || made+=("$path"); done
cleanup_engine() {
  podman pod rm -af >/dev/null 2>&1
  podman rm -af >/dev/null 2>&1
  podman rmi -af >/dev/null 2>&1
  podman system reset -f >/dev/null 2>&1
  remove_cgroups "$ctest_tag"
  local path
  for path in "${made[@]}"; do
    case $path in
      /sys/fs/cgroup/cpu/libpod_parent) remove_cgroups libpod_parent ;;
      *) rm -rf "$path" ;;
    esac
  done
}

# ---- podman run --rootfs: the host's own files ----------------------------------------------------
rootfs=$work/rootfs
host_rootfs_dir "$rootfs"
run() { # PODMAN-RUN-OPTIONS...: the probe in the rootfs, the host's /usr and /etc read-only
  podman run --rm --network none --cgroup-parent "/$ctest_tag" -v /usr:/usr:ro -v /etc:/etc:ro \
    -v "$containers_dir:/libos-test:ro" "$@" --rootfs "$rootfs" /bin/sh /libos-test/probe.sh 2>&1
}
with_shim=(-v "$shim:/opt/libos-vcpu/lib/libshim.so:ro" -e LD_PRELOAD=/opt/libos-vcpu/lib/libshim.so)
all=$host_cpus
probe_case "--rootfs, --cpus 1.5, natively" "$(want $all $all 2 $all 150000)" run --cpus 1.5
probe_case "--rootfs, --cpus 1.5, LIBOS_CPUS=8: 8 everywhere" "$(want 8 8 8 8 -1)" \
  run --cpus 1.5 "${with_shim[@]}" -e LIBOS_CPUS=8
probe_case "--rootfs, --cpus 0.5, LIBOS_CPUS_FROM_QUOTA=1: 1 everywhere" "$(want 1 1 1 1 50000)" \
  run --cpus 0.5 "${with_shim[@]}" -e LIBOS_CPUS_FROM_QUOTA=1

# ---- the OCI hook from hooks.d: containers/oci-hook/libos-vcpu.json, pointed at this tree ---------
python3 - "$LIBOS_SOURCE_ROOT/containers/oci-hook/libos-vcpu.json" "$p/hooks.d/libos-vcpu.json" \
  "$LIBOS_SOURCE_ROOT/containers/oci-hook/libos-vcpu-oci-hook" "$shim" <<'EOF'
import json, sys
source, out, program, shim = sys.argv[1:]
hook = json.load(open(source))
hook["hook"]["path"] = program
hook["hook"]["args"] = hook["hook"]["args"] + ["--shim", shim]
json.dump(hook, open(out, "w"))
EOF
probe_case "hook, --cpus 1.5 without the annotation: native" "$(want $all $all 2 $all 150000)" run --cpus 1.5
probe_case "hook, --annotation libos-vcpu.cpus=8: 8 everywhere" "$(want 8 8 8 8 -1)" \
  run --cpus 1.5 --annotation libos-vcpu.cpus=8
probe_case "hook, --annotation libos-vcpu.cpus=quota, --cpus 1.5: 2 everywhere" "$(want 2 2 2 2 150000)" \
  run --cpus 1.5 --annotation libos-vcpu.cpus=quota
probe_case "hook, --annotation libos-vcpu.cpus=quota, --cpus 0.5: 1 everywhere" "$(want 1 1 1 1 50000)" \
  run --cpus 0.5 --annotation libos-vcpu.cpus=quota
# Podman reports a precreate hook's failure with its status, not its words.
expect "hook, --annotation libos-vcpu.cpus=0: the container is refused (the hook's status 125)" yes \
  sh -c "podman() { command podman --root '$p/storage' --runroot '$p/run' --tmpdir '$p/tmp' \"\$@\"; }
         out=\$(podman run --rm --network none --annotation libos-vcpu.cpus=0 -v /usr:/usr:ro \
                --rootfs '$rootfs' /bin/true 2>&1)
         [ \$? != 0 ] && echo \"\$out\" | grep -q 'libos-vcpu-oci-hook.*exit status 125' && echo yes"

# ---- podman kube play: the pod and the Job's pod template ----------------------------------------
"$containers_dir/host_rootfs.py" "$p/image.tar" --file /opt/libos-vcpu/lib/libos-vcpu/libshim.so="$shim" \
  python3 coreutils dash grep sed zlib1g libstdc++6 # and what the host's JVM links
image=localhost/$ctest_tag-image:latest
expect "podman import: an image of the host's files with the shim under /opt/libos-vcpu" "" \
  sh -c "podman() { command podman --root '$p/storage' --runroot '$p/run' --tmpdir '$p/tmp' \"\$@\"; }
         podman import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' '$p/image.tar' $image >'$p/import.log' 2>&1 && rm '$p/image.tar' || cat '$p/import.log'"
# The manifest as shipped, with this test's image, the probe as the command (unless KEEP), the probe
# and the host's JVM as hostPath volumes, LIMIT for the CPU limits and INDEX for a Job's pod.
manifest() { # SOURCE OUT LIMIT INDEX KEEP
  python3 - "$@" "$image" "$containers_dir" <<'EOF'
import sys, yaml
source, out, limit, index, keep, image, probe_dir = sys.argv[1:]
doc = yaml.safe_load(open(source))
if doc["kind"] == "Job":
    template = doc["spec"]["template"]
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"matrix-{index}"}, "spec": template["spec"]}
doc["metadata"]["name"] += "-" + index
spec = doc["spec"]
spec.pop("topologySpreadConstraints", None)
spec["volumes"] += [{"name": n, "hostPath": {"path": h, "type": "Directory"}}
                    for n, h in (("probe", probe_dir), ("jvm", "/usr/lib/jvm"), ("jvmconf", "/etc/java-17-openjdk"))]
for c in spec["initContainers"] + spec["containers"]:
    c["image"], c["imagePullPolicy"] = image, "Never"
for c in spec["containers"]:
    if keep != "keep":
        c["command"] = ["sh", "/libos-test/probe.sh"]
    if index.isdigit():
        c["env"].append({"name": "JOB_COMPLETION_INDEX", "value": index})
    if limit != "-":
        c["resources"]["limits"]["cpu"] = limit
    c["volumeMounts"] += [{"name": "probe", "mountPath": "/libos-test", "readOnly": True},
                          {"name": "jvm", "mountPath": "/usr/lib/jvm", "readOnly": True},
                          {"name": "jvmconf", "mountPath": "/etc/java-17-openjdk", "readOnly": True}]
yaml.safe_dump(doc, open(out, "w"))
EOF
}
play() { # MANIFEST CONTAINER...: plays the pod, prints each container's output, removes the pod
  local file=$1 pod c
  shift
  pod=$(python3 -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["metadata"]["name"])' "$file")
  podman kube play --network none "$file" >/dev/null 2>"$p/play.log" || { cat "$p/play.log"; return 1; }
  for c in "$@"; do
    podman wait "$pod-$c" >/dev/null
    podman logs "$pod-$c" 2>&1
  done
  podman pod rm -f "$pod" >/dev/null 2>&1
}
pod_yaml=$LIBOS_SOURCE_ROOT/containers/k8s/pod.yaml
manifest "$pod_yaml" "$p/pod.yaml" - shipped keep
expect "kube play pod.yaml as shipped (limits.cpu 1500m): from-quota and from-limit both say 2" \
  "nproc=2 cpuinfo=2
nproc=2 cpuinfo=2" play "$p/pod.yaml" from-quota from-limit
manifest "$pod_yaml" "$p/pod.yaml" - probe probe
probe_case "kube play pod.yaml, 1500m: LIBOS_CPUS_FROM_QUOTA=1 and Downward API's limits.cpu" \
  "$(want 2 2 2 2 150000)
$(want 2 2 2 2 -1)" play "$p/pod.yaml" from-quota from-limit
manifest "$pod_yaml" "$p/pod.yaml" 500m limit500 probe
probe_case "kube play pod.yaml, limits.cpu 500m: 1 everywhere" \
  "$(want 1 1 1 1 50000)
$(want 1 1 1 1 -1)" play "$p/pod.yaml" from-quota from-limit
manifest "$pod_yaml" "$p/pod.yaml" 3 limit3 probe
three=$((all < 3 ? all : 3))
probe_case "kube play pod.yaml, limits.cpu 3 on a $host_cpus-CPU host: the quota's count up to the allowed CPUs, the limit's 3" \
  "$(want $three $three $three $three $((three * 100000)))
$(want 3 3 3 3 -1)" play "$p/pod.yaml" from-quota from-limit
cpus=(1 2 8 64)
for index in 0 1 2 3; do
  manifest "$LIBOS_SOURCE_ROOT/containers/k8s/job-matrix.yaml" "$p/job-$index.yaml" - $index keep
  expect "job-matrix.yaml's pod, JOB_COMPLETION_INDEX=$index: ${cpus[$index]} vCPUs" \
    "index=$index cpus=${cpus[$index]} nproc=${cpus[$index]}" play "$p/job-$index.yaml" experiment
done

# ---- podman build of the image recipe, as docker_test.sh builds it -------------------------------
# The base: the host's compilers as an image (there is no registry), so the recipe's build stage
# installs nothing and needs no network. Then a user's image takes the layer with COPY --from= and
# runs the launcher and the shim from it.
"$containers_dir/host_rootfs.py" "$p/base.tar" g++ meson ninja-build pkg-config python3 libunwind-dev libiberty-dev \
  coreutils dash grep sed
base=localhost/$ctest_tag-base:latest
expect "podman import: a Debian 12 base with the compilers, from the host's own files" "" \
  sh -c "podman() { command podman --root '$p/storage' --runroot '$p/run' --tmpdir '$p/tmp' \"\$@\"; }
         podman import '$p/base.tar' $base >'$p/import.log' 2>&1 && rm '$p/base.tar' || cat '$p/import.log'"
pbuild() { # LOG ARGS...: podman build, its output shown only when it fails
  local log=$1
  shift
  podman build --network none "$@" >"$log" 2>&1 || { tail -30 "$log"; return 1; }
}
expect "podman build containers/Containerfile FROM that base: the libos-vcpu layer" "" \
  pbuild "$p/build.log" -f "$LIBOS_SOURCE_ROOT/containers/Containerfile" --build-arg "BASE=$base" \
    -t "localhost/$ctest_tag-vcpu" "$LIBOS_SOURCE_ROOT"
mkdir -p "$p/app"
printf 'FROM %s\nCOPY --from=%s /opt/libos-vcpu /opt/libos-vcpu\n' "$base" "localhost/$ctest_tag-vcpu" >"$p/app/Containerfile"
expect "a user's image: COPY --from= the layer" "" pbuild "$p/app.log" -t "localhost/$ctest_tag-app" "$p/app"
expect "the image's libos-run --cpus 8 -- nproc" "8" \
  podman run --rm --network none "localhost/$ctest_tag-app" /opt/libos-vcpu/bin/libos-run --cpus 8 -- nproc
expect "the image's shim alone, LIBOS_CPUS=3: nproc" "3" \
  podman run --rm --network none -e LD_PRELOAD=/opt/libos-vcpu/lib/libos-vcpu/libshim.so -e LIBOS_CPUS=3 \
    "localhost/$ctest_tag-app" nproc
