#!/usr/bin/env python3
"""Real topology readers under libos-run, each asked for the machine's CPUs, cores, sockets, threads
per core and nodes, on every configuration of the topology suite: lscpu (summary, -p, -e, --caches),
hwloc (lstopo with I/O discovery and no warning, hwloc-calc, hwloc-bind), numactl --hardware, nproc,
GNU parallel, psutil, zstd -T0, the JVM and libgomp's OMP_PLACES. Every
tool must report the machine that was asked for (TAP, one case per tool and configuration).

The host layout's expected shape is computed from the host's own sysfs, so the same cases hold on
any host (the hosts suite runs them on other shapes).

Environment: LIBOS_LAUNCHER (libos-run), LIBOS_TEST_OMP (an OpenMP program printing its places).
"""
import os
import re
import shutil
import subprocess
import sys

LAUNCHER = os.environ["LIBOS_LAUNCHER"]
OMP = os.environ.get("LIBOS_TEST_OMP")
results = []


def report(ok, name, detail=""):
    results.append((ok, name, detail))


def skip(name, reason):
    results.append((None, name, reason))


def run(args, env=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.run(args, capture_output=True, text=True, errors="replace", env=full_env, timeout=300)
    return p.returncode, p.stdout, p.stderr


def cpu_list(text):
    out = []
    for item in text.strip().split(","):
        if not item:
            continue
        a, _, b = item.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def host_shape(cpu_map):
    """The shape the host layout gives a map: the host's packages and cores of the mapped CPUs, and
    vCPUs per core (two vCPUs on one host CPU are two threads of its core)."""
    def read(cpu, name):
        with open(f"/sys/devices/system/cpu/cpu{cpu}/topology/{name}") as f:
            return f.read().strip()
    per_core = {}
    for host in cpu_map:
        key = (read(host, "physical_package_id"), read(host, "die_id"), read(host, "core_id"))
        per_core[key] = per_core.get(key, 0) + 1
    packages = {k[0] for k in per_core}
    threads = max(per_core.values())
    return len(cpu_map), len(packages), len(per_core) // len(packages), threads


# name: (options, cpus, sockets, cores per socket, threads per core, nodes); None: the host layout's.
CONFIGS = [
    ("--cpus 1", ["--cpus", "1"], (1, 1, 1, 1, 1)),
    ("--cpus 3", ["--cpus", "3"], (3, 1, 3, 1, 1)),
    ("--cpus 8", ["--cpus", "8"], (8, 1, 8, 1, 1)),
    ("--cpus 64", ["--cpus", "64"], (64, 1, 64, 1, 1)),
    ("--cpus 16 --topology sockets=2,cores=4,threads=2 --numa 2",
     ["--cpus", "16", "--topology", "sockets=2,cores=4,threads=2", "--numa", "2"], (16, 2, 4, 2, 2)),
    ("--cpu-map 1,0", ["--cpu-map", "1,0"], None),
    ("--cpu-map 0,0,1,1", ["--cpu-map", "0,0,1,1"], (4, 1, 4, 1, 1)),
    ("--cpu-map 0,0,1,1 --topology host", ["--cpu-map", "0,0,1,1", "--topology", "host"], None),
]


def host_layout(options):
    cpu_map = cpu_list(options[options.index("--cpu-map") + 1])
    n, sockets, cores, threads = host_shape(cpu_map)
    nodes = set()
    for host in set(cpu_map):
        links = [e for e in os.listdir(f"/sys/devices/system/cpu/cpu{host}") if re.fullmatch(r"node\d+", e)]
        nodes.update(links or ["node0"])
    return n, sockets, cores, threads, len(nodes)


def field(text, name):
    m = re.search(rf"^{re.escape(name)}:\s*(.+)$", text, re.M)
    return m.group(1).strip() if m else None


def check_lscpu(label, options, want):
    n, sockets, cores, threads, nodes = want
    rc, out, err = run([LAUNCHER, *options, "--", "lscpu"])
    got = (field(out, "CPU(s)"), field(out, "Socket(s)"), field(out, "Core(s) per socket"),
           field(out, "Thread(s) per core"), field(out, "NUMA node(s)") or "1")
    expect = tuple(str(x) for x in want)
    report(rc == 0 and got == expect, f"{label}: lscpu says {n} CPUs, {sockets} sockets x {cores} cores x "
           f"{threads} threads, {nodes} nodes", f"got {got} rc {rc} {err.strip()[:200]}")
    rc, out, err = run([LAUNCHER, *options, "--", "lscpu", "-p=CPU,CORE,SOCKET,NODE"])
    rows = [line.split(",") for line in out.splitlines() if line and not line.startswith("#")]
    cores_seen = {(r[2], r[1]) for r in rows}
    got = (len(rows), len({r[2] for r in rows}), len(cores_seen), len({r[3] for r in rows}))
    report(rc == 0 and got == (n, sockets, sockets * cores, nodes),
           f"{label}: lscpu -p lists {n} CPUs on {sockets * cores} cores, {sockets} sockets, {nodes} nodes",
           f"got {got}")
    rc, out, err = run([LAUNCHER, *options, "--", "lscpu", "-e"])
    report(rc == 0 and len(out.splitlines()) == n + 1, f"{label}: lscpu -e has a row per CPU",
           f"rc {rc}, {len(out.splitlines())} lines")
    rc, out, err = run([LAUNCHER, *options, "--", "lscpu", "--caches"])
    report(rc == 0 and "L1d" in out and not err, f"{label}: lscpu --caches", f"rc {rc} {err.strip()[:200]}")


def check_hwloc(label, options, want):
    n, sockets, cores, threads, nodes = want
    if not shutil.which("lstopo-no-graphics") or not shutil.which("hwloc-calc"):
        skip(f"{label}: hwloc", "hwloc is not installed")
        return
    rc, out, err = run([LAUNCHER, *options, "--", "lstopo-no-graphics"])
    pus = len(re.findall(r"\bPU L#", out))
    report(rc == 0 and pus == n and not err.strip(),
           f"{label}: lstopo (with I/O discovery) shows {n} PUs and no warning", f"rc {rc}, {pus} PUs, {err.strip()[:300]}")
    got = []
    for what in ("package", "core", "pu", "numanode"):
        rc, out, err = run([LAUNCHER, *options, "--", "hwloc-calc", "--number-of", what, "machine:0"])
        got.append(out.strip())
    report(got == [str(sockets), str(sockets * cores), str(n), str(nodes)],
           f"{label}: hwloc-calc counts {sockets} packages, {sockets * cores} cores, {n} PUs, {nodes} nodes",
           f"got {got}")
    last = n - 1
    rc, out, err = run([LAUNCHER, *options, "--", "hwloc-bind", f"pu:{last}", "--", "hwloc-bind",
                        "--get-last-cpu-location", "--taskset"])
    report(rc == 0 and out.strip() == hex(1 << last), f"{label}: hwloc-bind pu:{last} runs there, as "
           "--get-last-cpu-location says", f"got {out.strip()!r} rc {rc} {err.strip()[:200]}")


def check_counters(label, options, want):
    n, sockets, cores, threads, nodes = want
    rc, out, _ = run([LAUNCHER, *options, "--", "nproc"])
    report(rc == 0 and out.strip() == str(n), f"{label}: nproc says {n}", f"got {out.strip()}")
    if shutil.which("numactl"):
        rc, out, err = run([LAUNCHER, *options, "--", "numactl", "--hardware"])
        m = re.search(r"available: (\d+) nodes", out)
        report(rc == 0 and m and int(m.group(1)) == nodes, f"{label}: numactl --hardware has {nodes} nodes",
               f"got {m.group(0) if m else out[:100]!r} {err.strip()[:200]}")
    else:
        skip(f"{label}: numactl", "numactl is not installed")
    if shutil.which("parallel"):
        got = []
        for what in ("--number-of-cores", "--number-of-threads", "--number-of-sockets"):
            rc, out, _ = run([LAUNCHER, *options, "--", "parallel", what])
            got.append(out.strip())
        report(got == [str(sockets * cores), str(n), str(sockets)],
               f"{label}: GNU parallel counts {sockets * cores} cores, {n} threads, {sockets} sockets", f"got {got}")
    else:
        skip(f"{label}: GNU parallel", "parallel is not installed")
    probe = ("import psutil; p = psutil.Process(); print(psutil.cpu_count(logical=False), psutil.cpu_count(),"
             " p.cpu_num() in p.cpu_affinity())")
    rc, out, err = run([LAUNCHER, *options, "--", "/usr/bin/python3", "-c", probe])
    if "No module named" in err:
        skip(f"{label}: psutil", "python3-psutil is not installed")
    else:
        report(rc == 0 and out.split() == [str(sockets * cores), str(n), "True"],
               f"{label}: psutil counts {sockets * cores} cores, {n} CPUs, and cpu_num() is a vCPU of its mask",
               f"got {out.strip()} {err.strip()[-200:]}")
    if shutil.which("zstd"):
        rc, out, err = run([LAUNCHER, *options, "--", "zstd", "-T0", "-v", "-o", "/dev/null", "-f", "/etc/hostname"])
        m = re.search(r"(\d+) physical core", err)
        report(m and int(m.group(1)) == sockets * cores,
               f"{label}: zstd -T0 detects {sockets * cores} physical cores", f"got {m.group(0) if m else err[:200]!r}")
    else:
        skip(f"{label}: zstd", "zstd is not installed")
    if shutil.which("java"):
        rc, out, err = run([LAUNCHER, *options, "--", "java", "-XshowSettings:system", "-version"])
        m = re.search(r"Effective CPU Count: (\d+)", err)
        report(m and int(m.group(1)) == n, f"{label}: the JVM's effective CPU count is {n}",
               f"got {m.group(0) if m else err[:200]!r}")
    else:
        skip(f"{label}: the JVM", "java is not installed")


def check_omp(label, options, want):
    n, sockets, cores, threads, nodes = want
    if not OMP:
        skip(f"{label}: libgomp", "no OpenMP program was built")
        return
    expect = {"threads": n, "cores": sockets * cores, "sockets": sockets, "numa_domains": nodes}
    for places, count in expect.items():
        rc, out, err = run([LAUNCHER, *options, "--", OMP], env={"OMP_PLACES": places})
        lines = out.splitlines()
        m = re.match(r"places (\d+)", lines[0]) if lines else None
        procs = [p for line in lines[1:] for p in line.split(":")[1].split()]
        report(rc == 0 and m and int(m.group(1)) == count and sorted(map(int, procs)) == list(range(n)),
               f"{label}: OMP_PLACES={places} makes {count} places covering the {n} CPUs",
               f"got {lines[:2]} rc {rc} {err.strip()[:200]}")
    rc, out, err = run([LAUNCHER, *options, "--", OMP], env={"OMP_PLACES": "cores", "OMP_PROC_BIND": "spread",
                                                              "LIBOS_TEST_OMP_BIND": "1"})
    report(rc == 0 and "bound ok" in out, f"{label}: OMP_PROC_BIND=spread binds each thread inside its place",
           f"got {out.strip()[-200:]} rc {rc} {err.strip()[:200]}")


# Files whose content strict mode's supervisor generates for a static program: they must read as the
# shim's do (the same model, from the same settings).
STRICT_FILES = [
    "/sys/devices/system/cpu/cpu5/topology/core_id", "/sys/devices/system/cpu/cpu5/topology/physical_package_id",
    "/sys/devices/system/cpu/cpu5/topology/thread_siblings_list", "/sys/devices/system/cpu/cpu5/topology/core_siblings",
    "/sys/devices/system/cpu/cpu5/topology/die_cpus_list", "/sys/devices/system/cpu/cpu5/cache/index3/shared_cpu_list",
    "/sys/devices/system/cpu/cpu5/cache/index2/id", "/sys/devices/system/cpu/smt/active",
    "/sys/devices/system/cpu/smt/control", "/sys/devices/system/node/online", "/sys/devices/system/node/node1/cpulist",
    "/sys/devices/system/node/node1/cpumap", "/sys/devices/system/node/node1/distance",
]


def check_strict(label, options):
    busybox = shutil.which("busybox")
    if not busybox:
        skip(f"{label}: strict mode", "busybox (static) is not installed")
        return
    for path in STRICT_FILES:
        rc, shim_out, _ = run([LAUNCHER, *options, "--", "cat", path])
        src, strict_out, err = run([LAUNCHER, "--strict", *options, "--", busybox, "cat", path])
        report(rc == src and shim_out == strict_out, f"{label}: strict mode's {path} is the shim's",
               f"shim {shim_out.strip()!r} ({rc}), strict {strict_out.strip()!r} ({src}) {err.strip()[:200]}")


def main():
    for label, options, want in CONFIGS:
        if want is None:
            want = host_layout(options)
        check_lscpu(label, options, want)
        check_hwloc(label, options, want)
        check_counters(label, options, want)
        check_omp(label, options, want)
        if "--topology" in options or "--numa" in options:
            check_strict(label, options)
    print(f"1..{len(results)}")
    for i, (ok, name, detail) in enumerate(results, 1):
        if ok is None:
            print(f"ok {i} - {name} # SKIP {detail}")
        elif ok:
            print(f"ok {i} - {name}")
        else:
            print(f"not ok {i} - {name}")
            for line in str(detail).splitlines() or [""]:
                print(f"# {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
