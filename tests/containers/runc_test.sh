#!/usr/bin/env bash
# The containers suite, runc (docs/containers.md): an OCI bundle whose root is made of the host's own
# files (/usr and /etc bind-mounted read-only), with a CFS quota in linux.resources.cpu, run with
# `runc run`. Natively, with the shim bind-mounted read-only and its variables in process.env, and
# with the OCI hook (containers/oci-hook/) run over config.json as podman runs it (precreate stage),
# chosen by the annotation libos-vcpu.cpus. Each run checks nproc, Python, Java, /proc/cpuinfo and
# the quota file inside the container. TAP output.
set -u
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/lib.sh"
hook="$LIBOS_SOURCE_ROOT/containers/oci-hook/libos-vcpu-oci-hook"

containers_begin "runc"
if ! have runc; then
  skip "runc" "runc is not installed (scripts/test --suite containers installs it)"
  exit 0
fi
bundle=$work/bundle
mkdir -p "$bundle"
host_rootfs_dir "$bundle/rootfs"
(cd "$bundle" && runc spec)
ids=()
cleanup_engine() {
  local id
  for id in "${ids[@]}"; do runc delete --force "$id" >/dev/null 2>&1; done
  remove_cgroups "$ctest_tag"
}

# config.json for a run: QUOTA_US of CPU time per 100 ms, VARIABLE=VALUE... in the environment,
# and the shim mounted when a variable names it; annotations from ANNOTATIONS (a JSON object).
configure() { # QUOTA_US ANNOTATIONS [VARIABLE=VALUE...]
  local quota=$1 annotations=$2
  shift 2
  python3 - "$bundle/config.json" "$quota" "$annotations" "$shim" "$ctest_tag" "$containers_dir" "$@" <<'EOF'
import json, sys
path, quota, annotations, shim, tag, probe_dir, *env = sys.argv[1:]
config = json.load(open(path))
process = config["process"]
process["terminal"] = False
process["args"] = ["/bin/sh", "/libos-test/probe.sh"]
process["env"] = [e for e in process["env"] if not e.startswith(("LD_PRELOAD=", "LIBOS_"))] + env
mounts = [m for m in config["mounts"] if m["destination"] not in ("/usr", "/etc", "/libos-test", "/opt/libos-vcpu/lib/libshim.so")]
for src, dst in (("/usr", "/usr"), ("/etc", "/etc"), (probe_dir, "/libos-test")):
    mounts.append({"destination": dst, "type": "bind", "source": src, "options": ["rbind", "ro"]})
if any(e.startswith("LD_PRELOAD=") for e in env):
    mounts.append({"destination": "/opt/libos-vcpu/lib/libshim.so", "type": "bind", "source": shim,
                   "options": ["bind", "ro"]})
config["mounts"] = mounts
config["annotations"] = json.loads(annotations)
linux = config["linux"]
linux["resources"]["cpu"] = {"quota": int(quota), "period": 100000}
linux["cgroupsPath"] = "/" + tag + "/run"
json.dump(config, open(path, "w"), indent=1)
EOF
}
run() { # ID: runc run in the bundle, the probe's line on stdout
  ids+=("$1")
  (cd "$bundle" && runc run "$1" 2>&1)
}
hooked() { # ID: the hook over config.json first, as podman's precreate stage does, then runc run
  "$hook" --shim "$shim" <"$bundle/config.json" >"$bundle/config.hooked" || return
  mv "$bundle/config.hooked" "$bundle/config.json"
  run "$1"
}
preload=LD_PRELOAD=/opt/libos-vcpu/lib/libshim.so
all=$host_cpus

# ---- without the hook: the shim and its variables in config.json --------------------------------
configure 150000 '{}'
probe_case "native, 1.5 CPUs: the host's counts, the JVM rounds the quota up" \
  "$(want $all $all 2 $all 150000)" run "$ctest_tag-native"
configure 150000 '{}' $preload LIBOS_CPUS=8
probe_case "LIBOS_CPUS=8 in a 1.5-CPU container: 8 everywhere, no quota shown" \
  "$(want 8 8 8 8 -1)" run "$ctest_tag-cpus8"
configure 150000 '{}' $preload LIBOS_CPUS_FROM_QUOTA=1
probe_case "LIBOS_CPUS_FROM_QUOTA=1 in a 1.5-CPU container: 2" \
  "$(want 2 2 2 2 150000)" run "$ctest_tag-quota15"
configure 50000 '{}' $preload LIBOS_CPUS_FROM_QUOTA=1
probe_case "LIBOS_CPUS_FROM_QUOTA=1 in a 0.5-CPU container: 1" \
  "$(want 1 1 1 1 50000)" run "$ctest_tag-quota05"
configure 150000 '{}' $preload LIBOS_CPUS=4 LIBOS_CPU_QUOTA=2.5
probe_case "LIBOS_CPUS=4 LIBOS_CPU_QUOTA=2.5: the JVM sizes itself by the machine's quota" \
  "$(want 4 4 3 4 250000)" run "$ctest_tag-machinequota"

# ---- with the hook: chosen by the annotation ----------------------------------------------------
configure 150000 '{}'
probe_case "hook, no annotation: the configuration passes unchanged" \
  "$(want $all $all 2 $all 150000)" hooked "$ctest_tag-hook-none"
configure 150000 '{"libos-vcpu.cpus": "8"}'
probe_case "hook, libos-vcpu.cpus=8: 8 everywhere" "$(want 8 8 8 8 -1)" hooked "$ctest_tag-hook-8"
configure 50000 '{"libos-vcpu.cpus": "quota"}'
probe_case "hook, libos-vcpu.cpus=quota in a 0.5-CPU container: 1" \
  "$(want 1 1 1 1 50000)" hooked "$ctest_tag-hook-quota"
configure 150000 '{"libos-vcpu.cpus": "quota"}' $preload LIBOS_CPUS=3
probe_case "hook, libos-vcpu.cpus=quota over an image's LIBOS_CPUS=3: the annotation wins" \
  "$(want 2 2 2 2 150000)" hooked "$ctest_tag-hook-over"
configure 150000 '{"libos-vcpu.cpus": "many"}'
expect "hook, libos-vcpu.cpus=many: one line, exit 125" \
  "libos-vcpu-oci-hook: annotation libos-vcpu.cpus: bad value 'many': expected a number of vCPUs (1 to 99999) or 'quota'
125" sh -c "'$hook' --shim '$shim' <'$bundle/config.json' >/dev/null; echo \$?"
configure 150000 '{"libos-vcpu.cpus": "8"}'
expect "hook, a missing shim: one line, exit 125" \
  "libos-vcpu-oci-hook: --shim: $work/none.so: no such file (where is libshim.so on this host?)
125" sh -c "'$hook' --shim '$work/none.so' <'$bundle/config.json' >/dev/null; echo \$?"
