#!/usr/bin/env python3
"""Runs the benchmarks of scripts/bench natively and under the shim, in the same run, and reports.

Usage: run_bench.py --build-dir DIR [--quick] [--json PATH] [--md PATH] [--doc PATH] [--cpu N]

Called by scripts/bench once DIR (a release build) is up to date. Measures every figure of the
performance targets natively and under DIR/shim/libshim.so, and the strict-mode figures under
DIR/launcher/libos-run --strict, prints the machine, the build and a Markdown table (figure, native,
shim, ratio, target, result), and writes the same as JSON (--json, default DIR/bench.json) and
Markdown (--md, default DIR/bench.md). A full run also writes the project's performance page
(--doc, default docs/performance.md): the docs' table of figures is this script's, never typed by
hand. A figure without a target (what a trapped call costs under strict mode) has the result
"reported". Exits 0 whether the targets are met or not (this is a
report); 1 when a benchmark could not be run. Standard library only.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

import bench_extra

rb = sys.modules[__name__]  # the helpers bench_extra uses

SCHEMA = 1

# How long each part runs: --quick must finish in well under a minute on a 2-core machine.
SETTINGS = {
    "quick": {
        "call_rounds": 1, "call_repetitions": 3, "call_min_time": 0.02,
        "scale_rounds": 1, "scale_repetitions": 3, "scale_min_time": 0.02,
        "true_runs": 100, "python_runs": 20, "rss_runs": 9, "state_threads": 1000,
        "launch_runs": 40, "strict_true_runs": 30,
        "topology_runs": 1, "topology_warmup": 0, "topology_sizes": [8, 1024],
    },
    "full": {
        "call_rounds": 3, "call_repetitions": 5, "call_min_time": 0.05,
        "scale_rounds": 3, "scale_repetitions": 5, "scale_min_time": 0.1,
        "true_runs": 200, "python_runs": 60, "rss_runs": 31, "state_threads": 1000,
        "launch_runs": 200, "strict_true_runs": 200,
        "topology_runs": 3, "topology_warmup": 1, "topology_sizes": [8, 1024, 8192],
    },
}

VM = "LIBOS_CPUS=2"  # the small virtual machine of the per-call figures
STRICT = "libos-run --strict --cpus 2"  # the same machine in strict mode


class BenchError(Exception):
    pass


# ---- running things ----------------------------------------------------------------------------

def base_env():
    """This process's environment without the shim's variables: the native environment."""
    return {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("LIBOS_")}


def run(cmd, env=None, cpu=None, what=None):
    """Runs cmd (a list), pinned to host CPU `cpu` if given; returns its stdout. Raises BenchError."""
    preexec = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    proc = subprocess.run(cmd, env=env, preexec_fn=preexec, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise BenchError("%s failed (status %d): %s\n%s" % (what or cmd[0], proc.returncode,
                                                             " ".join(cmd), proc.stderr.strip()))
    return proc.stdout


def run_json(cmd, env=None, cpu=None, what=None):
    out = run(cmd, env=env, cpu=cpu, what=what)
    try:
        return json.loads(out)
    except ValueError as e:
        raise BenchError("%s printed no JSON (%s): %s" % (what or cmd[0], e, out[:300]))


def median(values):
    if not values:
        raise BenchError("no samples")
    return statistics.median(values)


# ---- the machine and the build -------------------------------------------------------------------

def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def machine_info():
    model = "unknown"
    for line in read_text("/proc/cpuinfo").splitlines():
        if line.startswith("model name") and ":" in line:
            model = line.split(":", 1)[1].strip()
            break
    hypervisor = ""
    if " hypervisor" in read_text("/proc/cpuinfo"):
        hypervisor = "virtual machine"
    uname = platform.uname()
    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        glibc = "unknown"
    return {
        "cpu_model": model,
        "cpus_online": read_text("/sys/devices/system/cpu/online").strip(),
        "cores": os.cpu_count(),
        "cpus_allowed": sorted(os.sched_getaffinity(0)),
        "hypervisor": hypervisor,
        "kernel": "%s %s" % (uname.system, uname.release),
        "glibc": glibc,
        "load_average_start": read_text("/proc/loadavg").split()[:3],
    }


def build_info(build_dir, root):
    info = {"dir": build_dir}
    try:
        with open(os.path.join(build_dir, "meson-info", "intro-buildoptions.json")) as f:
            options = {o["name"]: o["value"] for o in json.load(f)}
        for key in ("buildtype", "optimization", "debug", "b_sanitize", "b_lto", "b_ndebug", "tests"):
            if key in options:
                info[key] = options[key]
    except (OSError, ValueError, KeyError):
        pass
    compiler = "unknown"
    try:
        with open(os.path.join(build_dir, "compile_commands.json")) as f:
            commands = json.load(f)
        cxx = (commands[0].get("command") or " ".join(commands[0]["arguments"])).split()[0]
        version = subprocess.run([cxx, "--version"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True, check=False).stdout.splitlines()
        compiler = version[0] if version else cxx
    except (OSError, ValueError, IndexError, KeyError):
        pass
    info["compiler"] = compiler
    try:
        info["google_benchmark"] = subprocess.run(
            ["pkg-config", "--modversion", "benchmark"], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, check=False).stdout.strip() or "unknown"
    except OSError:
        info["google_benchmark"] = "unknown"
    try:
        rev = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, check=False).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               check=False).stdout.strip()
        info["revision"] = (rev + (" + uncommitted changes" if dirty else "")) if rev else "unknown"
    except OSError:
        info["revision"] = "unknown"
    return info


# ---- the benchmarks -------------------------------------------------------------------------------

def gbench(binary, filt, repetitions, min_time, env, cpu=None, what=None, expect=None, prefix=None):
    """Runs a Google Benchmark binary; returns its JSON benchmark entries of the repetitions. `expect`
    holds values the run's context must have (bench_calls reports whether libshim.so is mapped: a
    preload that ld.so cannot load only warns, and the run would silently be native). `prefix` is a
    command to run it under (the launcher, for strict mode)."""
    cmd = list(prefix or []) + [binary, "--benchmark_filter=" + filt, "--benchmark_repetitions=%d" % repetitions,
           "--benchmark_min_time=%g" % min_time, "--benchmark_enable_random_interleaving=true",
           "--benchmark_format=json"]
    data = run_json(cmd, env=env, cpu=cpu, what=what)
    context = data.get("context", {})
    for key, value in (expect or {}).items():
        if str(context.get(key)) != value:
            raise BenchError("%s: %s is %r, expected %r" % (what, key, context.get(key), value))
    entries = []
    for b in data.get("benchmarks", []):
        if b.get("error_occurred"):
            raise BenchError("%s: %s: %s" % (what, b.get("name"), b.get("error_message")))
        if b.get("run_type", "iteration") == "iteration":
            entries.append(b)
    if not entries:
        raise BenchError("%s: no results for %s" % (what, filt))
    return entries


UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def cpu_ns(entry):
    return entry["cpu_time"] * UNIT_NS[entry.get("time_unit", "ns")]


def real_ns(entry):
    return entry["real_time"] * UNIT_NS[entry.get("time_unit", "ns")]


def per_call(paths, s, cpu, log):
    """The one-thread figures: bench_calls' call/ group, natively, under the shim without a
    configuration and on the virtual machine, pinned to host CPU `cpu`, in rounds whose order
    rotates. Returns {config: {benchmark: [CPU ns per call, one per repetition]}}."""
    configs = [
        ("native", base_env(), {"libshim_loaded": "no", "affinity_cpus": "1"}),
        ("shim", dict(base_env(), LD_PRELOAD=paths["shim"]), {"libshim_loaded": "yes", "affinity_cpus": "1"}),
        # Pinned to one host CPU, the virtual machine still shows its two vCPUs.
        ("vm", dict(base_env(), LD_PRELOAD=paths["shim"], LIBOS_CPUS="2"),
         {"libshim_loaded": "yes", "affinity_cpus": "2", "nprocessors_onln": "2"}),
    ]
    samples = {name: {} for name, _, _ in configs}
    for r in range(s["call_rounds"]):
        for k in range(len(configs)):
            name, env, expect = configs[(r + k) % len(configs)]
            log("per-call benchmarks, round %d/%d, %s" % (r + 1, s["call_rounds"], name))
            for e in gbench(paths["calls"], "^call/", s["call_repetitions"], s["call_min_time"], env,
                            cpu=cpu, what="bench_calls (%s)" % name, expect=expect):
                samples[name].setdefault(e["name"], []).append(cpu_ns(e))
    # cpuid is trapped only with LIBOS_CPUID=1, which the other figures do without (docs/machine.md,
    # "cpuid": it costs every context switch a register write).
    env = dict(base_env(), LD_PRELOAD=paths["shim"], LIBOS_CPUS="2", LIBOS_CPUID="1")
    samples["vm_cpuid"] = {}
    for r in range(s["call_rounds"]):
        log("per-call benchmarks, round %d/%d, vm with LIBOS_CPUID=1 (cpuid only)" % (r + 1, s["call_rounds"]))
        for e in gbench(paths["calls"], "^call/cpuid", s["call_repetitions"], s["call_min_time"], env, cpu=cpu,
                        what="bench_calls (vm, LIBOS_CPUID=1)"):
            samples["vm_cpuid"].setdefault(e["name"], []).append(cpu_ns(e))
    return samples


def scaling(paths, s, cpus, log):
    """Two threads at once against one, natively and on a virtual machine of the two host CPUs `cpus`,
    each thread pinned to its own CPU. Returns {config: {name: {threads: {"cpu": [...], "ips": [...]}}}}
    with the CPU ns per call and the items per second (wall clock) of each repetition."""
    a, b = cpus
    configs = [
        ("native", dict(base_env(), BENCH_PIN="%d,%d" % (a, b)), {"libshim_loaded": "no"}),
        ("vm", dict(base_env(), LD_PRELOAD=paths["shim"], LIBOS_CPU_MAP="%d,%d" % (a, b), BENCH_PIN="0,1"),
         {"libshim_loaded": "yes", "nprocessors_onln": "2"}),
    ]
    out = {name: {} for name, _, _ in configs}
    for r in range(s["scale_rounds"]):
        for k in range(len(configs)):
            name, env, expect = configs[(r + k) % len(configs)]
            log("two-thread benchmarks, round %d/%d, %s" % (r + 1, s["scale_rounds"], name))
            for e in gbench(paths["calls"], "^scale/", s["scale_repetitions"], s["scale_min_time"], env,
                            what="bench_calls scale (%s)" % name, expect=expect):
                base = e["name"].split("/real_time")[0]
                slot = out[name].setdefault(base, {}).setdefault(int(e.get("threads", 1)), {"cpu": [], "ips": []})
                slot["cpu"].append(cpu_ns(e))
                slot["ips"].append(float(e.get("items_per_second", 0.0)))
    return out


def processes(paths, s, program, runs, log):
    """Whole-process runs of `program` (a list), natively, under the shim without a configuration and
    on the virtual machine, interleaved. Returns {config: {"ns": [...], "cpu_ns": [...]}}."""
    log("whole process: %s, %d runs of each" % (" ".join(program), runs))
    specs = [("native", ""), ("shim", "LD_PRELOAD=" + paths["shim"]),
             ("vm", "LD_PRELOAD=%s,%s" % (paths["shim"], VM))]
    if "," in paths["shim"]:
        raise BenchError("the path of libshim.so contains a comma: %s" % paths["shim"])
    # A preload that ld.so cannot load only gives a warning: make sure it does load.
    probe = subprocess.run(program, env=dict(base_env(), LD_PRELOAD=paths["shim"], LD_DEBUG="files"),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    if "calling init: " + paths["shim"] not in probe.stderr:
        raise BenchError("%s does not load %s:\n%s" % (program[0], paths["shim"], probe.stderr[-2000:]))
    cmd = [paths["spawn"], "--runs", str(runs), "--warmup", "3"]
    for _, spec in specs:
        cmd += ["--variant", spec]
    data = run_json(cmd + ["--"] + program, env=base_env(), what="bench_spawn " + program[0])
    return {name: {"ns": v["ns"], "cpu_ns": v["cpu_ns"]} for (name, _), v in zip(specs, data["variants"])}


TOPOLOGY_READERS = [("lscpu", ["lscpu"]), ("lstopo", ["lstopo-no-graphics", "--no-io"])]


def topology_readers(paths, s, log):
    """Whole-process runs of the topology readers natively (the host's CPUs) and on machines of
    s["topology_sizes"] vCPUs. Returns {name: {"native": {...}, n: {...}}}, a reader that is not
    installed left out."""
    out = {}
    for name, program in TOPOLOGY_READERS:
        if not shutil.which(program[0]):
            log("topology readers: %s is not installed" % program[0])
            continue
        sizes = s["topology_sizes"]
        log("whole process: %s at %s vCPUs, %d runs of each" % (" ".join(program), sizes, s["topology_runs"]))
        cmd = [paths["spawn"], "--runs", str(s["topology_runs"]), "--warmup", str(s["topology_warmup"]),
               "--variant", ""]
        for n in sizes:
            cmd += ["--variant", "LD_PRELOAD=%s,LIBOS_CPUS=%d" % (paths["shim"], n)]
        data = run_json(cmd + ["--", shutil.which(program[0])] + program[1:], env=base_env(),
                        what="bench_spawn " + program[0])
        variants = data["variants"]
        out[name] = {"program": " ".join(program), "native": variants[0]}
        for n, v in zip(sizes, variants[1:]):
            out[name][n] = v
    return out


def topology_rows(res):
    rows = []
    for name, d in sorted(res.get("topology", {}).items()):
        native = median(d["native"]["ns"])
        sizes = sorted(k for k in d if isinstance(k, int))
        for n in sizes:
            wall = median(d[n]["ns"])
            note = "by the wall clock; natively on this machine's own CPUs; CPU time %s against %s" % (
                fmt_time(median(d[n]["cpu_ns"])), fmt_time(median(d["native"]["cpu_ns"])))
            if n == sizes[-1] and len(sizes) > 1:
                low = sizes[-2]
                per = (wall - median(d[low]["ns"])) / (n - low)
                note += "; from %d to %d vCPUs it grows by %s per vCPU" % (low, n, fmt_time(per))
            rows.append(reported_row("topology_%s_%d" % (name, n), "`%s`, whole process, on %d vCPUs" % (
                d["program"], n), "LIBOS_CPUS=%d" % n, native, wall, note))
    return rows


def resident(paths, s, log):
    """bench_probe rss natively, under the shim and on the virtual machine, interleaved."""
    log("resident memory: %d runs of each" % s["rss_runs"])
    configs = [
        ("native", base_env()),
        ("shim", dict(base_env(), LD_PRELOAD=paths["shim"])),
        ("vm", dict(base_env(), LD_PRELOAD=paths["shim"], LIBOS_CPUS="2")),
    ]
    out = {name: [] for name, _ in configs}
    for r in range(s["rss_runs"]):
        for k in range(len(configs)):
            name, env = configs[(r + k) % len(configs)]
            probe = run_json([paths["probe"], "rss"], env=env, what="bench_probe rss (%s)" % name)
            if probe.get("libshim_loaded") != (name != "native"):
                raise BenchError("bench_probe rss (%s): libshim.so %s mapped" % (
                    name, "is" if probe.get("libshim_loaded") else "is not"))
            out[name].append(probe)
    return out


def thread_state(paths, s, log):
    n = s["state_threads"]
    log("shared state: %d threads on the virtual machine" % n)
    env = dict(base_env(), LD_PRELOAD=paths["shim"], LIBOS_CPUS="2")
    return run_json([paths["probe"], "threads", str(n)], env=env, what="bench_probe threads")


# ---- the report ---------------------------------------------------------------------------------

def fmt_time(ns):
    if ns is None:
        return "—"
    for unit, scale in (("ns", 1.0), ("µs", 1e3), ("ms", 1e6), ("s", 1e9)):
        v = ns / scale
        if v < 1000 or unit == "s":
            break
    if v < 10:
        return "%.2f %s" % (v, unit)
    if v < 100:
        return "%.1f %s" % (v, unit)
    return "%.0f %s" % (v, unit)


def fmt_ratio(r):
    if r is None:
        return "—"
    if r < 0.1:
        return "%.2g" % r
    return "%.3f" % r if r < 10 else "%.1f" % r


def check(value, op, target):
    return value <= target if op == "<=" else value >= target


def target_text(op, value, unit=""):
    sym = "≤" if op == "<=" else "≥"
    return "%s %s%s" % (sym, ("%g" % value), unit)


def significant(x, digits=4):
    """x to `digits` significant digits: a ratio far below 1 (a call served from memory against a
    file read, 0.00037) keeps its precision, which a fixed number of decimals loses."""
    return float("%.*g" % (digits, x))


def ratio_row(rid, figure, config, native_ns, shim_ns, op, target, note="", extra=None):
    ratio = shim_ns / native_ns
    row = {
        "id": rid, "figure": figure, "config": config, "unit": "ns",
        "native": round(native_ns, 3), "shim": round(shim_ns, 3), "ratio": significant(ratio),
        "value": significant(ratio), "value_unit": "ratio",
        "target": {"op": op, "value": target, "text": target_text(op, target) if op else ""},
        # Judged on the value as recorded, so that the status always follows from what the JSON says.
        "status": ("met" if check(significant(ratio), op, target) else "MISSED") if op else "reported",
        "note": note,
        "cells": {"native": fmt_time(native_ns), "shim": fmt_time(shim_ns), "ratio": fmt_ratio(ratio)},
    }
    if extra:
        row.update(extra)
    return row


def na_row(rid, figure, reason, target_op, target_value, target_str):
    return {
        "id": rid, "figure": figure, "config": "", "unit": None,
        "native": None, "shim": None, "ratio": None, "value": None, "value_unit": None,
        "target": {"op": target_op, "value": target_value, "text": target_str},
        "status": "n/a", "reason": reason, "note": reason,
        "cells": {"native": "n/a", "shim": "n/a", "ratio": "n/a"},
    }


PER_CALL = [
    # id, benchmark, figure, config, op, target, note
    ("getpid_passthrough", "call/syscall_getpid", "`syscall(SYS_getpid)` passed through the table",
     "shim, no configuration", "<=", 1.02, ""),
    ("getpid_vm", "call/syscall_getpid", "`syscall(SYS_getpid)` passed through the table",
     VM, "<=", 1.02, ""),
    ("sched_getaffinity", "call/sched_getaffinity", "`sched_getaffinity` (served from memory)",
     VM, "<=", 0.25, ""),
    ("sched_setaffinity", "call/sched_setaffinity", "`sched_setaffinity` (its own mask again)",
     VM, "<=", 1.15, ""),
    ("sched_getcpu", "call/sched_getcpu", "`sched_getcpu`", VM, "<=", 1.0,
     "a hit in the thread's cache, inline: the rseq cpu_id, the slot and its mask's sequence number compared"),
    ("get_mempolicy", "call/get_mempolicy", "`get_mempolicy` (the thread's policy and mask)", VM, "<=", 2.5,
     "the host's policy is asked too, to confirm the virtual record (docs/numa.md)"),
    ("mbind", "call/mbind", "`mbind` of one page to node 0", VM, "<=", 2.5,
     "the host's mbind, then its get_mempolicy(MPOL_F_ADDR) for the range's record"),
    ("move_pages_other", "call/move_pages_other",
     "`move_pages(pid)` without nodes: where 4 pages of another process of the launch are", VM, "<=", 6.0,
     "the host's move_pages, then the other process's records: found by its slot's hint, read with one "
     "process_vm_readv (two when it has ranges or moved pages; docs/numa.md)"),
    ("getcpu", "call/getcpu", "`getcpu`", VM, "<=", 1.0, ""),
    ("cpuid", "call/cpuid_leaf_b", "`cpuid` leaf 0xB, an instruction (trapped and answered by the LibOS)",
     VM + " LIBOS_CPUID=1",
     None, None, "no target: natively the instruction itself (on a virtual host, an exit to the "
     "hypervisor); on the machine a SIGSEGV and the answer kept from the host's (docs/machine.md, \"cpuid\")"),
    ("sysconf_onln", "call/sysconf_nprocessors_onln", "`sysconf(_SC_NPROCESSORS_ONLN)`", VM, "<=", 0.02, ""),
    ("get_nprocs", "call/get_nprocs", "`get_nprocs()`", VM, "<=", 0.02, ""),
    ("read_proc_cpuinfo", "call/read_proc_cpuinfo", "open + read + close `/proc/cpuinfo`", VM, "<=", 1.0,
     "virtual file against the real one"),
    ("read_cpu_online", "call/read_cpu_online", "open + read + close `/sys/devices/system/cpu/online`",
     VM, "<=", 1.0, "virtual file against the real one"),
    ("read_1_byte", "call/read_1_byte", "`read` of 1 byte of `/dev/zero` (a descriptor that is no generated file)",
     VM, "<=", 1.02, "the shim's read: one branch, then glibc's own __read (the program has live files open: "
     "one more load, of the descriptor's entry)"),
    ("reread_proc_stat", "call/reread_proc_stat", "`lseek(fd, 0)` + read to the end of `/proc/stat` kept open "
     "(vmstat's way)", VM, "<=", 1.0, "the content made again in place at the read from offset 0 "
     "(table/vfs/live.cpp) against the kernel's seq file"),
    ("read_proc_stat", "call/read_proc_stat", "open + read + close `/proc/stat`", VM, "<=", 1.0,
     "a changing file: the host's read, then the content made for the machine into a reused memfd "
     "(table/vfs/generated_pool.cpp)"),
    ("read_proc_self_status", "call/read_proc_self_status", "open + read + close `/proc/self/status`", VM, "<=",
     1.0, "a changing file, as /proc/stat"),
    ("reread_proc_self_status", "call/reread_proc_self_status", "`lseek(fd, 0)` + read to the end of "
     "`/proc/self/status` kept open", VM, "<=", 1.0, "the content made again in place (table/vfs/live.cpp) "
     "against the kernel's"),
    ("read_proc_interrupts", "call/read_proc_interrupts", "open + read + close `/proc/interrupts`", VM, "<=", 1.0,
     "a changing file: the host's read, then its rows made for the machine (table/vfs/procfs_cpus.cpp)"),
    ("read_proc_softirqs", "call/read_proc_softirqs", "open + read + close `/proc/softirqs`", VM, "<=", 1.0,
     "a changing file, as /proc/interrupts"),
    ("read_softnet_stat", "call/read_softnet_stat", "open + read + close `/proc/net/softnet_stat`", VM, "<=", 1.0,
     "a changing file, as /proc/interrupts"),
    ("read_proc_self_stat", "call/read_proc_self_stat", "open + read + close `/proc/self/stat`", VM, "<=", 1.0,
     "a changing file: field 39 is the vCPU"),
]


def tracing_cost(paths, notrace_shim, s, cpu, log):
    """Tracing off against a build without tracing: the same per-call benchmarks on the same virtual
    machine, under the release shim (tracing compiled in, not enabled) and under one built with
    -Dtracing=false, in alternating rounds. Returns {config: {benchmark: [CPU ns per call]}}."""
    configs = [
        ("tracing_off", dict(base_env(), LD_PRELOAD=paths["shim"], LIBOS_CPUS="2")),
        ("no_tracing", dict(base_env(), LD_PRELOAD=notrace_shim, LIBOS_CPUS="2")),
    ]
    expect = {"libshim_loaded": "yes", "nprocessors_onln": "2"}
    samples = {name: {} for name, _ in configs}
    for r in range(s["call_rounds"]):
        for k in range(len(configs)):
            name, env = configs[(r + k) % len(configs)]
            log("tracing cost, round %d/%d, %s" % (r + 1, s["call_rounds"], name))
            for e in gbench(paths["calls"], "^call/(syscall_getpid|sched_getaffinity|sched_setaffinity)$",
                            s["call_repetitions"], s["call_min_time"], env, cpu=cpu,
                            what="bench_calls (%s)" % name, expect=expect):
                samples[name].setdefault(e["name"], []).append(cpu_ns(e))
    return samples


def tracing_reason(root):
    """Why the tracing figure is not measured: it needs a shim built without tracing to compare with."""
    if not os.path.exists(os.path.join(root, "table", "libos_trace.cpp")):
        return "n/a (tracing not implemented yet)"
    return "n/a (no build without tracing to compare with: run scripts/bench, which makes one)"


def strict_prefix(paths):
    return [paths["launcher"], "--strict", "--cpus", "2", "--"]


def strict_reason(paths):
    """None when strict mode runs here; else why its figures are not measured. A launcher that refuses
    strict mode (status 125: an old kernel, a missing feature) gives n/a; one that fails otherwise is
    an error."""
    if not os.access(paths["launcher"], os.X_OK):
        return "n/a (%s was not built)" % paths["launcher"]
    proc = subprocess.run(strict_prefix(paths) + ["/bin/true"], env=base_env(), stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=False)
    if proc.returncode == 125:
        last = (proc.stderr.strip().splitlines() or ["no reason given"])[-1]
        return "n/a (strict mode refused here: %s)" % last
    if proc.returncode != 0:
        raise BenchError("%s /bin/true failed (status %d): %s" % (STRICT, proc.returncode, proc.stderr.strip()))
    return None


def strict_calls(paths, s, cpu, log):
    """The per-call strict-mode figures, pinned to host CPU `cpu` like the others, in rounds whose order
    rotates: bench_calls' raw/ group natively and under `libos-run --strict --cpus 2` (the launcher is
    pinned, and with it the program and the supervisor's threads; both vCPUs land on that CPU), and
    the libc calls the shim answers under strict mode and under the plain shim (LIBOS_CPUS=2).
    Returns {config: {benchmark: {"cpu": [ns per call], "real": [ns per call]}}}."""
    libc = "call/(sched_getaffinity|sched_getcpu)"
    configs = [
        # The raw calls see the host natively: one CPU, since the process is pinned.
        ("native", None, base_env(), "^raw/", {"libshim_loaded": "no", "raw_affinity_cpus": "1"}),
        # The floor of any filter: one that allows everything (the kernel's seccomp entry path).
        ("allow_all", None, dict(base_env(), BENCH_SECCOMP_ALLOW_ALL="1"), "^raw/getpid$",
         {"libshim_loaded": "no", "seccomp": "2"}),
        ("vm", None, dict(base_env(), LD_PRELOAD=paths["shim"], LIBOS_CPUS="2"), "^%s$" % libc,
         {"libshim_loaded": "yes", "affinity_cpus": "2", "nprocessors_onln": "2"}),
        # Under the filter, a raw sched_getaffinity reaches the supervisor and sees both vCPUs.
        ("strict", strict_prefix(paths), base_env(), "^(raw/.*|%s)$" % libc,
         {"libshim_loaded": "yes", "affinity_cpus": "2", "nprocessors_onln": "2", "seccomp": "2",
          "raw_affinity_cpus": "2"}),
    ]
    samples = {name: {} for name, _, _, _, _ in configs}
    for r in range(s["call_rounds"]):
        for k in range(len(configs)):
            name, prefix, env, filt, expect = configs[(r + k) % len(configs)]
            log("strict-mode benchmarks, round %d/%d, %s" % (r + 1, s["call_rounds"], name))
            for e in gbench(paths["calls"], filt, s["call_repetitions"], s["call_min_time"], env, cpu=cpu,
                            what="bench_calls (strict figures, %s)" % name, expect=expect, prefix=prefix):
                slot = samples[name].setdefault(e["name"], {"cpu": [], "real": []})
                slot["cpu"].append(cpu_ns(e))
                slot["real"].append(real_ns(e))
    return samples


def strict_startup(paths, s, log):
    """/bin/true natively, under the launcher and under the launcher in strict mode, interleaved.
    Returns {config: {"ns": [...], "cpu_ns": [...]}}; the launcher's CPU time includes its child's."""
    runs = s["strict_true_runs"]
    log("whole process under %s: /bin/true, %d runs of each" % (STRICT, runs))
    if " " in paths["launcher"]:
        raise BenchError("the path of libos-run contains a space: %s" % paths["launcher"])
    specs = [("native", None), ("launcher", [paths["launcher"], "--cpus", "2", "--"]),
             ("strict", strict_prefix(paths))]
    cmd = [paths["spawn"], "--runs", str(runs), "--warmup", "3"]
    for _, via in specs:
        cmd += ["--variant", ""]
        if via:
            cmd += ["--via", " ".join(via)]
    data = run_json(cmd + ["--", "/bin/true"], env=base_env(), what="bench_spawn /bin/true (strict)")
    return {name: {"ns": v["ns"], "cpu_ns": v["cpu_ns"]} for (name, _), v in zip(specs, data["variants"])}


def launch_startup(paths, root, build_dir, s, cpu, log):
    """/bin/true under `taskset -c CPU` (the native way to start a program on chosen CPUs), under the
    built launcher on a machine of 8 vCPUs, and under scripts/libos-run (the README's command, which
    checks that the build is up to date first), interleaved. Returns {config: {"ns", "cpu_ns"}}."""
    runs = s["launch_runs"]
    script = os.path.join(root, "scripts", "libos-run")
    log("whole process: /bin/true under taskset, libos-run and scripts/libos-run, %d runs of each" % runs)
    for path in (paths["launcher"], script, build_dir):
        if " " in path:
            raise BenchError("a path with a space cannot be a --via word: %s" % path)
    env = dict(base_env(), LIBOS_BUILD_DIR=build_dir)
    # The script's first run checks the build (and brings the launcher up to date if it is not).
    run([script, "--cpus", "8", "--", "/bin/true"], env=env, what="scripts/libos-run /bin/true")
    # bench_spawn starts each variant without the LIBOS_ variables: the script's is given back its
    # build directory, without which it would check (and bring up to date) the default build/ instead.
    if "," in build_dir:
        raise BenchError("the build directory's path contains a comma: %s" % build_dir)
    specs = [("taskset", "", ["/usr/bin/taskset", "-c", str(cpu)]),
             ("launcher", "", [paths["launcher"], "--cpus", "8", "--"]),
             ("script", "LIBOS_BUILD_DIR=" + build_dir, [script, "--cpus", "8", "--"])]
    cmd = [paths["spawn"], "--runs", str(runs), "--warmup", "3"]
    for _, spec, via in specs:
        cmd += ["--variant", spec, "--via", " ".join(via)]
    data = run_json(cmd + ["--", "/bin/true"], env=env, what="bench_spawn /bin/true (launchers)")
    return {name: {"ns": v["ns"], "cpu_ns": v["cpu_ns"]} for (name, _, _), v in zip(specs, data["variants"])}


def launch_rows(res):
    """The launcher against taskset (CPU time, as the start-up rows), and what scripts/libos-run adds
    to the launcher (wall clock: the time a user or a test suite waits)."""
    proc = res["launch"]
    rows = []
    taskset, launcher = median(proc["taskset"]["cpu_ns"]), median(proc["launcher"]["cpu_ns"])
    taskset_wall, launcher_wall = median(proc["taskset"]["ns"]), median(proc["launcher"]["ns"])
    samples = {"native": len(proc["taskset"]["ns"]), "shim": len(proc["launcher"]["ns"])}
    row = ratio_row("launcher_start", "`libos-run --cpus 8 -- /bin/true` against `taskset -c CPU /bin/true`, "
                    "whole process", "the built launcher, 8 vCPUs", taskset, launcher, "<=", 1.2,
                    "CPU time (user + system) of the whole process; by the wall clock %s against %s (ratio %s)" % (
                        fmt_time(launcher_wall), fmt_time(taskset_wall), fmt_ratio(launcher_wall / taskset_wall)),
                    {"samples": samples})
    row["baseline_label"] = "taskset"
    rows.append(row)
    script_wall = median(proc["script"]["ns"])
    added = script_wall - launcher_wall
    row = ratio_row("script_start", "`scripts/libos-run --cpus 8 -- /bin/true` against the built launcher, "
                    "whole process, wall clock", "the build up to date", launcher_wall, script_wall, None, None,
                    "what the README's command adds to each launch: %s (bash, and the check that the build is "
                    "up to date); the target is the install issue's 0.5 s per 100 calls" % fmt_time(added),
                    {"samples": {"native": len(proc["launcher"]["ns"]), "shim": len(proc["script"]["ns"])}})
    row.update({"value": round(added, 1), "value_unit": "ns added",
                "target": {"op": "<=", "value": 5e6, "text": "≤ +5 ms"},
                "status": "met" if round(added, 1) <= 5e6 else "MISSED",
                "baseline_label": "libos-run", "measured_label": "scripts/libos-run"})
    row["cells"]["ratio"] = "%s (%+.2f ms)" % (fmt_ratio(script_wall / launcher_wall), added / 1e6)
    rows.append(row)
    return rows


def reported_row(rid, figure, config, native_ns, strict_ns, note, extra=None):
    """A figure without a target: measured and shown, neither met nor missed."""
    row = ratio_row(rid, figure, config, native_ns, strict_ns, None, None, note, extra)
    row["target"] = {"op": None, "value": None, "text": "—"}
    row["status"] = "reported"
    return row


STRICT_IDS = [
    # id, figure, target (None: reported)
    ("strict_getpid", "strict: raw `getpid` (a `syscall` instruction), allowed by the filter, against a filter "
     "that allows everything", ("<=", 3, "≤ +3 ns")),
    ("strict_sched_getaffinity", "strict: `sched_getaffinity` through libc, shim loaded", ("<=", 1.05, "≤ 1.05")),
    # No target: at 4 ns, this call's time moves by about half a nanosecond from one process to the next
    # in either configuration (it is the same code), more than the 5% a target would judge.
    ("strict_sched_getcpu", "strict: `sched_getcpu` through libc, shim loaded", None),
    ("strict_trapped_getaffinity", "strict: raw `sched_getaffinity`, trapped and answered by the supervisor",
     None),
    ("strict_trapped_open", "strict: raw `openat` + `close` of `/dev/null` (trapped, continued on the host)",
     None),
    ("strict_trapped_cpu_online",
     "strict: raw `openat` + `read` + `close` of `/sys/devices/system/cpu/online` (trapped)", None),
    ("strict_live_proc_stat",
     "strict: raw `pread` from 0 to the end of a kept `/proc/stat` (a live file of the supervisor's FUSE server)",
     None),
    ("strict_start_true", "strict: start-up and exit of `/bin/true` under `libos-run --strict`, whole process",
     None),
]


def strict_rows(res):
    figures = {rid: (figure, target) for rid, figure, target in STRICT_IDS}
    reason = res.get("strict_reason")
    if reason:
        out = []
        for rid, figure, target in STRICT_IDS:
            op, value, text = target or (None, None, "—")
            out.append(na_row(rid, figure, reason, op, value, text))
        return out
    calls = res["strict"]

    def med(cfg, bench, clock):
        return median(calls[cfg][bench][clock])

    def count(cfg, bench):
        return len(calls[cfg][bench]["cpu"])

    rows = []
    # The filter's cost on a call it lets through: CPU time, all of it spent in the calling thread,
    # against the floor of a filter that allows everything (the seccomp entry path, measured in the
    # same run): every number the filter does not trap is in the kernel's action cache
    # (tests/unit/strict_filter_test.cpp), so the filter itself never runs for it.
    native, floor, strict = (med("native", "raw/getpid", "cpu"), med("allow_all", "raw/getpid", "cpu"),
                             med("strict", "raw/getpid", "cpu"))
    added = strict - floor
    figure, (op, target, text) = figures["strict_getpid"]
    row = ratio_row("strict_getpid", figure, STRICT, floor, strict, op, target,
                    "CPU time per call of a `syscall` instruction the shim cannot see (every call but the "
                    "trapped ones takes this path): natively %s, under a filter that allows everything %s "
                    "(the kernel's seccomp entry, %+.1f ns), under strict mode's filter %s: %+.1f ns above "
                    "that floor, %+.1f ns above native. By the wall clock: %s, %s and %s" % (
                        fmt_time(native), fmt_time(floor), floor - native, fmt_time(strict), added,
                        strict - native, fmt_time(med("native", "raw/getpid", "real")),
                        fmt_time(med("allow_all", "raw/getpid", "real")),
                        fmt_time(med("strict", "raw/getpid", "real"))),
                    {"samples": {"native": count("allow_all", "raw/getpid"), "shim": count("strict", "raw/getpid")},
                     "unfiltered_native": round(native, 3)})
    row.update({"value": round(added, 3), "value_unit": "ns added",
                "target": {"op": op, "value": target, "text": text},
                "status": "met" if check(round(added, 3), op, target) else "MISSED",
                "baseline_label": "a filter that allows everything", "measured_label": "under --strict"})
    row["cells"]["native"] = "allow-all %s (native %s)" % (fmt_time(floor), fmt_time(native))
    row["cells"]["ratio"] = "%s (%+.1f ns)" % (fmt_ratio(strict / floor), added)
    rows.append(row)

    # The shim's answers keep their speed: the shim's own calls carry the tag the filter lets past.
    for rid, bench in (("strict_sched_getaffinity", "call/sched_getaffinity"),
                       ("strict_sched_getcpu", "call/sched_getcpu")):
        base, strict = med("vm", bench, "cpu"), med("strict", bench, "cpu")
        figure, target = figures[rid]
        note = ("the native column is the plain shim on the same machine (%s, same pinning), the second "
                "%s: CPU time per call" % (VM, STRICT))
        extra = {"samples": {"native": count("vm", bench), "shim": count("strict", bench)}}
        if target:
            row = ratio_row(rid, figure, STRICT, base, strict, target[0], target[1], note, extra)
        else:
            row = reported_row(rid, figure, STRICT, base, strict,
                               note + "; no target: a 4 ns call whose time moves by about 0.5 ns from one "
                               "process to the next in either configuration", extra)
        row["baseline_label"] = "shim without --strict (%s)" % VM
        row["measured_label"] = "under --strict"
        rows.append(row)

    # Trapped calls: the supervisor's work is done by another process's thread, which the caller's
    # CPU time does not see; the program, the launcher and its threads share one host CPU here, so
    # the wall clock counts everything.
    for rid, bench, what in (
            ("strict_trapped_getaffinity", "raw/sched_getaffinity",
             "the supervisor answers it with the virtual mask (both vCPUs)"),
            ("strict_trapped_open", "raw/openat_close_dev_null",
             "a path outside the views: the supervisor reads it and lets the call continue on the host"),
            ("strict_trapped_cpu_online", "raw/read_cpu_online",
             "the supervisor opens the virtual file itself and installs the descriptor in the caller "
             "(SECCOMP_IOCTL_NOTIF_ADDFD); the reads and the close are not trapped"),
            ("strict_live_proc_stat", "raw/reread_proc_stat",
             "nothing is trapped: each read is a round trip to the supervisor's FUSE server, which makes the "
             "content anew at offset 0 (two reads: the content, then the end)")):
        native, strict = med("native", bench, "real"), med("strict", bench, "real")
        figure, _ = figures[rid]
        rows.append(reported_row(
            rid, figure, STRICT, native, strict,
            "%s. Wall-clock time per call (the supervisor runs in libos-run, whose time the caller's CPU "
            "time does not include; all on one host CPU): %+.2f µs; the caller's own CPU time %s against %s" % (
                what[0].upper() + what[1:], (strict - native) / 1e3, fmt_time(med("strict", bench, "cpu")),
                fmt_time(med("native", bench, "cpu"))),
            {"samples": {"native": count("native", bench), "shim": count("strict", bench)},
             "clock": "real", "measured_label": "under --strict"}))

    proc = res["strict_true"]
    native, strict = median(proc["native"]["cpu_ns"]), median(proc["strict"]["cpu_ns"])
    launcher = median(proc["launcher"]["cpu_ns"])
    walls = {k: median(v["ns"]) for k, v in proc.items()}
    figure, _ = figures["strict_start_true"]
    rows.append(reported_row(
        "strict_start_true", figure, STRICT, native, strict,
        "CPU time (user + system) of the launcher and everything it ran, from wait4; `libos-run --cpus 2` "
        "without --strict: %s (ratio %s). By the wall clock, spawn to reaped: %s natively, %s without "
        "--strict, %s with it" % (fmt_time(launcher), fmt_ratio(launcher / native), fmt_time(walls["native"]),
                                  fmt_time(walls["launcher"]), fmt_time(walls["strict"])),
        {"wall_clock": {"native": walls["native"], "shim": walls["strict"], "launcher": walls["launcher"],
                        "ratio": round(walls["strict"] / walls["native"], 5)},
         "launcher_cpu_ns": launcher,
         "samples": {"native": len(proc["native"]["ns"]), "shim": len(proc["strict"]["ns"])}}))
    return rows


def build_rows(res, s, cpu, scale_cpus):
    rows = []
    calls = res["calls"]
    for rid, bench, figure, config, op, target, note in PER_CALL:
        shim_cfg = "shim" if config.startswith("shim") else "vm_cpuid" if "LIBOS_CPUID" in config else "vm"
        native = median(calls["native"][bench])
        shim = median(calls[shim_cfg][bench])
        extra = {"samples": {"native": len(calls["native"][bench]), "shim": len(calls[shim_cfg][bench])}}
        if op:
            rows.append(ratio_row(rid, figure, config, native, shim, op, target, note, extra))
        else:
            rows.append(reported_row(rid, figure, config, native, shim, note, extra))

    for rid, key, figure, target in (("start_true", "true", "start-up and exit of `/bin/true`, whole process", 1.10),
                                     ("start_python", "python", "`python3 -c pass`, whole process", 1.05)):
        proc = res[key]
        native = median(proc["native"]["cpu_ns"])
        native_wall = median(proc["native"]["ns"])
        for cfg_name, cfg_text in (("shim", "shim, no configuration"), ("vm", VM)):
            shim = median(proc[cfg_name]["cpu_ns"])
            shim_wall = median(proc[cfg_name]["ns"])
            note = "the process's CPU time (user + system); by the wall clock, spawn to reaped: %s against %s (ratio %s)" % (
                fmt_time(shim_wall), fmt_time(native_wall), fmt_ratio(shim_wall / native_wall))
            if key == "python":
                note = "%s; interpreter %s" % (note, res["python_path"])
            rows.append(ratio_row("%s_%s" % (rid, "passthrough" if cfg_name == "shim" else "vm"), figure,
                                  cfg_text, native, shim, "<=", target, note,
                                  {"wall_clock": {"native": native_wall, "shim": shim_wall,
                                                  "ratio": round(shim_wall / native_wall, 5)},
                                   "samples": {"native": len(proc["native"]["ns"]),
                                               "shim": len(proc[cfg_name]["ns"])}}))

    scale = res.get("scale")
    for rid, bench, figure in (("scale_getaffinity", "scale/sched_getaffinity",
                                "2 threads calling `sched_getaffinity` at once: throughput against 1 thread"),
                               ("scale_getcpu", "scale/sched_getcpu",
                                "2 threads calling `sched_getcpu` at once: throughput against 1 thread")):
        if scale is None:
            rows.append(na_row(rid, figure, res["scale_reason"], ">=", 1.8, "≥ 1.8"))
            continue

        def throughput(cfg, threads):
            """Calls per second of `threads` threads, each on a CPU of its own: threads / CPU time per
            call (so that other processes' load does not count), and by the wall clock."""
            d = scale[cfg][bench][threads]
            return threads * 1e9 / median(d["cpu"]), median(d["ips"])

        one, one_wall = throughput("vm", 1)
        two, two_wall = throughput("vm", 2)
        n_one, n_one_wall = throughput("native", 1)
        n_two, n_two_wall = throughput("native", 2)
        value = two / one
        row = {
            "id": rid, "figure": figure,
            "config": "LIBOS_CPU_MAP=%d,%d, thread i pinned to vCPU i" % scale_cpus,
            "unit": "calls/s",
            "native": round(one, 1), "shim": round(two, 1), "ratio": round(value, 5),
            "baseline_label": "1 thread under the shim", "measured_label": "2 threads under the shim",
            "value": round(value, 5), "value_unit": "ratio",
            "target": {"op": ">=", "value": 1.8, "text": "≥ 1.8"},
            "status": "met" if round(value, 5) >= 1.8 else "MISSED",
            "wall_clock": {"one_thread": one_wall, "two_threads": two_wall, "ratio": round(two_wall / one_wall, 5)},
            "native_scaling": {"one_thread": n_one, "two_threads": n_two, "ratio": round(n_two / n_one, 5),
                               "wall_clock_ratio": round(n_two_wall / n_one_wall, 5)},
            "note": ("columns: 1 thread and 2 threads under the shim, calls/s from CPU time per call; "
                     "by the wall clock %s; natively %s (wall clock %s)") % (
                         fmt_ratio(two_wall / one_wall), fmt_ratio(n_two / n_one),
                         fmt_ratio(n_two_wall / n_one_wall)),
            "cells": {"native": "1 thread: %s/s" % fmt_rate(one), "shim": "2 threads: %s/s" % fmt_rate(two),
                      "ratio": fmt_ratio(value)},
        }
        rows.append(row)

    rss = res["rss"]
    native_rss = median([p["rss_kib"] for p in rss["native"]])
    native_uss = median([p["private_dirty_kib"] + p["private_clean_kib"] for p in rss["native"]])
    native_pss = median([p["pss_kib"] for p in rss["native"]])
    for cfg_name, cfg_text in (("shim", "shim, no configuration"), ("vm", VM)):
        shim_rss = median([p["rss_kib"] for p in rss[cfg_name]])
        shim_uss = median([p["private_dirty_kib"] + p["private_clean_kib"] for p in rss[cfg_name]])
        shim_pss = median([p["pss_kib"] for p in rss[cfg_name]])
        added = shim_rss - native_rss
        rows.append({
            "id": "rss_" + ("passthrough" if cfg_name == "shim" else "vm"),
            "figure": "resident memory added to a process by the shim", "config": cfg_text,
            "unit": "KiB", "native": native_rss, "shim": shim_rss, "ratio": round(shim_rss / native_rss, 5),
            "value": added, "value_unit": "KiB added",
            "target": {"op": "<=", "value": 1024, "text": "≤ 1 MiB added"},
            "status": "met" if added <= 1024 else "MISSED",
            "private": {"native": native_uss, "shim": shim_uss, "added": shim_uss - native_uss},
            "pss": {"native": native_pss, "shim": shim_pss, "added": shim_pss - native_pss},
            "samples": {"native": len(rss["native"]), "shim": len(rss[cfg_name])},
            "note": ("Rss of a small program after it asked sysconf, sched_getaffinity and sched_getcpu once "
                     "(/proc/self/smaps_rollup, medians): %+d KiB; private memory (USS) %+d KiB, Pss %+d KiB") % (
                         added, shim_uss - native_uss, shim_pss - native_pss),
            "cells": {"native": "%d KiB" % native_rss, "shim": "%d KiB" % shim_rss,
                      "ratio": "%s (%+d KiB)" % (fmt_ratio(shim_rss / native_rss), added)},
        })

    st = res["state"]
    n = st["threads"]
    grown = (st["state_rss_during_kib"] - st["state_rss_before_kib"]) * 1024
    per_thread = grown / n
    rows.append({
        "id": "state_per_thread", "figure": "shared state per thread", "config": VM,
        "unit": "bytes", "native": None, "shim": round(per_thread, 1), "ratio": None,
        "value": round(per_thread, 1), "value_unit": "bytes per thread",
        "target": {"op": "<=", "value": 64, "text": "≤ 64 B per thread"},
        "status": "met" if round(per_thread, 1) <= 64 else "MISSED",
        "state": st,
        "note": ("native: no shared state; ratio: none. Resident size of the memfd:libos-vcpu-state mapping "
                 "before and while %d more threads are alive: %d KiB -> %d KiB of a %d KiB region, "
                 "%d more 4 KiB pages (the slot itself is 64 B by design, static_assert in "
                 "table/machine/machine_internal.h)") % (
                     n, st["state_rss_before_kib"], st["state_rss_during_kib"], st["state_size_kib"],
                     (st["state_rss_during_kib"] - st["state_rss_before_kib"]) // 4),
        "cells": {"native": "—", "shim": "%.0f B/thread" % per_thread, "ratio": "—"},
    })

    cost = res.get("tracing_cost")
    if cost is None:
        rows.append(na_row("tracing_off", "tracing off against a build without tracing", res["tracing_reason"],
                           "<=", 1.02, "≤ 1.02"))
    else:
        # The routed path (syscall() through dispatch) is where the branch sits; the others are notes.
        bench = "call/syscall_getpid"
        base, traced = median(cost["no_tracing"][bench]), median(cost["tracing_off"][bench])
        others = "; ".join("%s: %s against %s (ratio %s)" % (
            b.split("/")[1], fmt_time(median(cost["tracing_off"][b])), fmt_time(median(cost["no_tracing"][b])),
            fmt_ratio(median(cost["tracing_off"][b]) / median(cost["no_tracing"][b])))
            for b in sorted(cost["tracing_off"]) if b != bench)
        row = ratio_row("tracing_off", "tracing off against a build without tracing (`syscall(SYS_getpid)`)",
                        VM, base, traced, "<=", 1.02, others)
        row["baseline_label"] = "built without tracing"
        row["measured_label"] = "tracing built in, off"
        rows.append(row)
    rows.extend(launch_rows(res))
    rows.extend(strict_rows(res))
    rows.extend(topology_rows(res))
    return rows


def fmt_rate(x):
    if x >= 1e9:
        return "%.2f G" % (x / 1e9)
    if x >= 1e6:
        return "%.1f M" % (x / 1e6)
    return "%.1f k" % (x / 1e3)


def extra_rows(res):
    """Every per-call benchmark under the shim without a configuration (pass-through), for reference."""
    calls = res["calls"]
    out = []
    for bench in sorted(calls["native"]):
        native = median(calls["native"][bench])
        shim = median(calls["shim"][bench])
        vm = median(calls["vm"][bench])
        out.append({"benchmark": bench, "native": round(native, 3), "shim": round(shim, 3),
                    "vm": round(vm, 3), "shim_ratio": round(shim / native, 5), "vm_ratio": round(vm / native, 5)})
    return out


def markdown(report):
    m, b = report["machine"], report["build"]
    lines = []
    lines.append("- Machine: %s, %s CPUs (online %s)%s; %s; %s" % (
        m["cpu_model"], m["cores"], m["cpus_online"], ", " + m["hypervisor"] if m["hypervisor"] else "",
        m["kernel"], m["glibc"]))
    lines.append("- Build: %s, buildtype %s, -O%s, sanitizers %s; Google Benchmark %s; revision %s" % (
        b.get("compiler"), b.get("buildtype"), b.get("optimization"), b.get("b_sanitize"),
        b.get("google_benchmark"), b.get("revision")))
    lines.append("- Run: %s%s; load average %s at the start, %s at the end" % (
        report["generated"], " (--quick)" if report["quick"] else "",
        " ".join(m["load_average_start"]), " ".join(m.get("load_average_end", []))))
    if "raw_syscall_ns" in report:
        lines.append("- A raw system call here: `getpid` %s, a number the kernel rejects (ENOSYS) %s, natively "
                     "(CPU time)" % (fmt_time(report["raw_syscall_ns"]), fmt_time(report["syscall_enosys_ns"])))
    lines.append("")
    lines.append("| figure | configuration | native | shim | ratio | target | result |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    for r in report["rows"]:
        result = {"met": "met", "MISSED": "**MISSED**"}.get(r["status"], r["status"])
        if r["status"] == "n/a":
            result = r["reason"]
        elif r["value_unit"] == "ns added":
            # Added times span nanoseconds (a call) to milliseconds (a launch): each in its own unit.
            added = r["value"]
            result = "%s (%s%s)" % (result, "-" if added < 0 else "+", fmt_time(abs(added)))
        elif r["value_unit"] not in ("ratio",):
            result = "%s (%s %s)" % (result, ("%+d" % r["value"]) if r["value_unit"] == "KiB added"
                                     else "%g" % r["value"], r["value_unit"])
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            r["figure"], r["config"] or "—", r["cells"]["native"], r["cells"]["shim"], r["cells"]["ratio"],
            r["target"]["text"], result))
    lines.append("")
    lines.append("Ratios are shim / native (for the two-thread rows: 2 threads / 1 thread under the shim), "
                 "medians of the same run. Times are CPU time, so that other processes' load counts as little "
                 "as it can (wall-clock figures are in the notes and the JSON). Per call: Google Benchmark, "
                 "%d round(s) × %d repetitions, native and shim runs alternating, the process pinned to host "
                 "CPU %d (so %s puts both vCPUs on it). Whole process: %d (`/bin/true`) and %d (`python3`) "
                 "interleaved runs of each, the child's user + system time from wait4." % (
                     report["settings"]["call_rounds"], report["settings"]["call_repetitions"], report["pin_cpu"],
                     VM, report["settings"]["true_runs"], report["settings"]["python_runs"]))
    lines.append("")
    lines.append("The `strict:` rows run the program under `%s`, the launcher pinned like the per-call "
                 "runs (the program and the supervisor's threads with it). Their second column is the time "
                 "under --strict; the first is native, except for the calls through libc, whose baseline is "
                 "the plain shim (%s), and for the call the filter allows, whose baseline is the same call "
                 "under a filter that allows everything (target: within +3 ns of it). Trapped calls are wall-clock times, since the supervisor's work is done "
                 "in the launcher; they, and `sched_getcpu` (too short a call for a 5%% target), have no "
                 "target: they are reported." % (STRICT, VM))
    notes = [(r["id"], r["note"]) for r in report["rows"] if r.get("note") and r["status"] != "n/a"]
    if notes:
        lines.append("")
        for rid, note in notes:
            lines.append("- `%s`: %s" % (rid, note))
    lines.append("")
    lines.append("Every per-call benchmark, natively, under the shim without a configuration and on the "
                 "virtual machine (%s):" % VM)
    lines.append("")
    lines.append("| benchmark | native | shim, no configuration | ratio | %s | ratio |" % VM)
    lines.append("| --- | --- | --- | --- | --- | --- |")
    for e in report["extra"]:
        lines.append("| `%s` | %s | %s | %s | %s | %s |" % (
            e["benchmark"], fmt_time(e["native"]), fmt_time(e["shim"]), fmt_ratio(e["shim_ratio"]),
            fmt_time(e["vm"]), fmt_ratio(e["vm_ratio"])))
    return "\n".join(lines) + "\n"


DOC_HEAD = """# Performance

Written by `scripts/bench`, which measured every figure below natively and under the shim in the same
run; do not edit by hand (run `scripts/bench` again). It builds a release build of its own
(`build-release/`, `-O2`, without the test hooks, and `build-release-notrace/`, the same without
tracing, for the tracing row), times single calls with Google Benchmark and whole processes with
interleaved runs, counts the user-mode instructions of the hot paths by single-stepping them
(`bench/bench_icount`), and prints, beside this page, the same table on standard output and as JSON
(`build-release/bench.json`). `scripts/bench --quick` runs the same figures with fewer repetitions
and writes no page.

What the figures mean:

- Ratios are shim / native, medians of the same run, in CPU time; a target is met or missed on this
  run's figures. Absolute times vary between machines (a system call costs two to three times as
  much on some machines of the same kind), and a loaded machine moves them by several nanoseconds,
  so where a few nanoseconds matter the page gives the time added and the instruction counts, which
  neither the clock nor the load moves.
- The pass-through: `syscall()` of a number without a handler tests one flag (set up, not tracing)
  and one byte of a constant table, then jumps to the PAL, whose `ret` is the only one after the
  kernel's return. That last point is most of the cost: the kernel's entry and exit leave the CPU's
  return predictions behind (RSB filling, Safe RET), so each return level between the `syscall`
  instruction and the program costs a mispredicted `ret`, about 5 ns. `syscall(1000)`, which the
  kernel rejects at once with ENOSYS, shows the shim's part with the least kernel time around it.
- `sched_getcpu` and `getcpu` on a machine are a hit in the thread's cache, inline: the rseq
  `cpu_id`, the thread's slot and its mask's sequence number compared, no call.
- Start-up: every preloaded library costs ld.so a map, a relocation and its pages (an empty
  preloaded library costs `/bin/true` about 7 % on the machine this was tuned on), so the PAL is
  linked into `libshim.so` rather than loaded as a second library; the code every process runs at
  start-up is kept together (`.text.startup`) and the large arrays after the small globals
  (`.lbss`), since each page touched is a page fault; and a machine's first process creates its
  shared state only when a call first needs it (a CPU call, fork, vfork, exec or a new thread),
  which `/bin/true` never makes. The settings are read in one walk over the environment (its
  `LIBOS_` entries kept), with no call into libc. Where the rest goes (one 2-CPU virtual machine,
  `/bin/true` natively 520 µs of CPU, measured with libraries built to isolate each cost): an empty
  preloaded library alone adds about 8 % (its open, four mappings and six page faults); each symbol
  ld.so binds for `libshim.so` at load (`-z now`) about 0.3 µs (about 550 user-mode instructions
  in ld.so, counted by single-stepping `/bin/true`; the shim's own code runs about 1,200 of them
  transparent, 6,000 on a machine); and each page a process first touches 0.6 µs (a read of
  untouched memory) to 2 µs (a write, or a copy of a file page that ld.so relocates). So the shim
  binds as few symbols as it can (the libc functions of rare paths are looked up at their first
  call, `shim/shim_lazy.cpp`, and its second names call its first by hidden aliases), the code a
  machine's start-up runs is in `.text.startup`, and the globals every start-up writes share the
  page ld.so writes anyway. What remains is the preload itself, about 80 bindings (half of them
  the string functions and libc's own entry points the shim passes calls to) and the relocated
  tables (`.data.rel.ro`, three pages); the target of 1.10 leaves a few µs above an empty library.
- Creating processes and threads: loops of `fork`, `pthread_create`, `posix_spawn`, `vfork` + exec,
  a shell loop and `make -j2`, whole tree CPU time; start-up bounds the ones that exec. A fork costs
  the kernel work for each mapping of the process (copied at the fork, torn down at the child's
  exit: about 1 to 3 us each on the machine this was tuned on), and a page fault for each private
  page either process writes after it and for each 64 KiB of code the child runs. So `libshim.so` has
  one code segment (`-z noseparate-code`: its headers and constants are executable too; RELRO still
  makes the GOT read-only), four mappings rather than six; without a machine `fork` jumps to libc's,
  so the child never returns through the shim; the fork path's code, `_exit` included, sits with the
  start-up code; and a child on a machine writes one page of the shim's (its pid) besides its
  thread's own block (which the kernel writes for it anyway), and reads none its parent never
  touched. Counted (`tests/programs/fork_faults`, a child that `_exit`s at once): 8 faults natively,
  9 under the shim and 10 on a machine (were 10 and 15); the parent 2 natively, 3 on a machine (the
  forking thread's mask and the launch's clock, kept for the child's claim).
- Machine size: the CPU calls, a CPU file and start-up from 2 to 8192 vCPUs; the target is that
  none grows faster than the mask (8 to 1024 bytes).
- Strict mode: the `strict:` rows. Calls the filter lets through pay the kernel's seccomp entry and
  nothing more (every untrapped number is in the kernel's action cache, docs/strict-mode.md), shown
  against a filter that allows everything; calls the shim answers in-process pay nothing more;
  trapped calls pay a round trip to the supervisor: two context switches between processes (4.7 µs
  on the machine strict5 measured, the floor of user notification) plus the supervisor's own system
  calls, 5 for a `sched_getaffinity` (its copy out, `process_vm_writev`, 1.5 µs) and 4 for an open
  left to the host. One supervisor thread receives at a time: each further waiting thread cost every
  trapped call about 2 µs (the kernel woke them all), so these rows, pinned to one CPU, were the
  only ones that did not pay it. Start-up under `--strict` is mostly the views' trees (11–12 ms of
  14–16 ms at 2 vCPUs, docs/strict-mode.md, "Start-up").

## The latest full run

"""


def performance_page(text):
    """docs/performance.md: the fixed explanation, then this run's machine, table and notes."""
    return DOC_HEAD + text


def find_python():
    """The python3 of `python3 -c pass`: the system's, else the one running this script (a wrapper such
    as a pyenv shim would measure a shell script)."""
    for candidate in ("/usr/bin/python3", sys.executable):
        if candidate and os.access(candidate, os.X_OK):
            return os.path.realpath(candidate)
    found = shutil.which("python3")
    if not found:
        raise BenchError("python3 not found")
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    parser.add_argument("--md")
    parser.add_argument("--doc", help="the performance page to write (a full run's default: docs/performance.md)")
    parser.add_argument("--notrace-build-dir", help="a release build made with -Dtracing=false, to compare with")
    parser.add_argument("--cpu", type=int, help="host CPU to pin the per-call benchmarks to (default: the last allowed)")
    args = parser.parse_args()

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    build = os.path.abspath(args.build_dir)
    paths = {
        "shim": os.path.join(build, "shim", "libshim.so"),
        "calls": os.path.join(build, "bench", "bench_calls"),
        "spawn": os.path.join(build, "bench", "bench_spawn"),
        "probe": os.path.join(build, "bench", "bench_probe"),
        "icount": os.path.join(build, "bench", "bench_icount"),
        "procs": os.path.join(build, "bench", "bench_procs"),
    }
    # Not required: without it (or where strict mode is refused) the strict rows are n/a.
    launcher = os.path.join(build, "launcher", "libos-run")
    for key, path in paths.items():
        if not os.path.exists(path):
            print("bench: %s was not built (is subdir('bench') in meson.build?)" % path, file=sys.stderr)
            return 1
    paths["launcher"] = launcher
    json_path = os.path.abspath(args.json or os.path.join(build, "bench.json"))
    md_path = os.path.abspath(args.md or os.path.join(build, "bench.md"))
    doc_path = os.path.abspath(args.doc) if args.doc else (
        None if args.quick else os.path.join(root, "docs", "performance.md"))
    s = SETTINGS["quick" if args.quick else "full"]
    started = time.monotonic()

    def log(msg):
        print("bench: [%5.1fs] %s" % (time.monotonic() - started, msg), file=sys.stderr, flush=True)

    allowed = sorted(os.sched_getaffinity(0))
    cpu = args.cpu if args.cpu is not None else allowed[-1]
    if cpu not in allowed:
        print("bench: --cpu %d is not a CPU this process may run on (%s)" % (cpu, allowed), file=sys.stderr)
        return 1

    machine = machine_info()
    report = {
        "schema": SCHEMA,
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "quick": args.quick,
        "machine": machine,
        "build": build_info(build, root),
        "settings": s,
        "pin_cpu": cpu,
        "shim": paths["shim"],
    }
    res = {}
    try:
        res["calls"] = per_call(paths, s, cpu, log)
        if len(allowed) >= 2:
            scale_cpus = (allowed[-2], allowed[-1])
            res["scale"] = scaling(paths, s, scale_cpus, log)
        else:
            scale_cpus = (allowed[0], allowed[0])
            res["scale"] = None
            res["scale_reason"] = "n/a (this process may run on one CPU only: two threads cannot run at once)"
        res["true"] = processes(paths, s, ["/bin/true"], s["true_runs"], log)
        res["python_path"] = find_python()
        res["python"] = processes(paths, s, [res["python_path"], "-c", "pass"], s["python_runs"], log)
        res["launch"] = launch_startup(paths, root, build, s, cpu, log)
        res["icount"] = bench_extra.icounts(rb, paths, cpu, log)
        res["creation"] = bench_extra.creation(rb, paths, s, args.quick, log)
        res["sizes"] = bench_extra.sizes(rb, paths, s, cpu, args.quick, log)
        res["rss"] = resident(paths, s, log)
        res["state"] = thread_state(paths, s, log)
        res["topology"] = topology_readers(paths, s, log)
        res["tracing_reason"] = tracing_reason(root)
        notrace_shim = os.path.join(os.path.abspath(args.notrace_build_dir), "shim", "libshim.so") \
            if args.notrace_build_dir else None
        if notrace_shim and os.path.exists(notrace_shim):
            res["tracing_cost"] = tracing_cost(paths, notrace_shim, s, cpu, log)
        res["strict_reason"] = strict_reason(paths)
        if res["strict_reason"]:
            log("strict mode: %s" % res["strict_reason"])
        else:
            res["strict"] = strict_calls(paths, s, cpu, log)
            res["strict_true"] = strict_startup(paths, s, log)
        report["rows"] = build_rows(res, s, cpu, scale_cpus)
        report["rows"] += bench_extra.passthrough_rows(rb, res)
        report["rows"] += bench_extra.creation_rows(rb, res, paths, args.quick)
        report["rows"] += bench_extra.size_rows(rb, res)
        # The base cost of a system call on this machine: getpid with the instruction itself, natively.
        raw = (res.get("strict") or {}).get("native", {}).get("raw/getpid")
        report["raw_syscall_ns"] = round(median(raw["cpu"]) if raw else median(res["calls"]["native"]["call/syscall_getpid"]), 1)
        report["syscall_enosys_ns"] = round(median(res["calls"]["native"]["call/syscall_enosys"]), 1)
        report["extra"] = extra_rows(res)
    except BenchError as e:
        print("bench: %s" % e, file=sys.stderr)
        return 1
    machine["load_average_end"] = read_text("/proc/loadavg").split()[:3]
    report["elapsed_s"] = round(time.monotonic() - started, 1)
    log("done")

    text = markdown(report)
    for path in (json_path, md_path):
        d = os.path.dirname(path)
        if d:
            os.makedirs(d, exist_ok=True)
    with open(json_path + ".tmp", "w") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(json_path + ".tmp", json_path)
    with open(md_path + ".tmp", "w") as f:
        f.write(text)
    os.replace(md_path + ".tmp", md_path)
    if doc_path:
        with open(doc_path + ".tmp", "w") as f:
            f.write(performance_page(text))
        os.replace(doc_path + ".tmp", doc_path)

    print(text, end="")
    missed = [r["id"] for r in report["rows"] if r["status"] == "MISSED"]
    print("")
    print("%d figures: %d met, %d missed%s, %d reported without a target, %d not measured" % (
        len(report["rows"]), sum(r["status"] == "met" for r in report["rows"]), len(missed),
        (" (" + ", ".join(missed) + ")") if missed else "",
        sum(r["status"] == "reported" for r in report["rows"]),
        sum(r["status"] == "n/a" for r in report["rows"])))
    print("JSON: %s" % json_path)
    print("Markdown: %s" % md_path)
    if doc_path:
        print("Page: %s" % doc_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
