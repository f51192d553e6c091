#!/usr/bin/env python3
"""The measurements behind strict mode's views (docs/strict-mode.md, "The views of a static binary").

Prints two Markdown tables:
  1. per call: strict_views_probe's raw stat, access and listings, natively, under --strict without
     and with the views, and (with --trap-launcher) under a build whose filter traps the stat family;
  2. per launch: the wall-clock and CPU time of `libos-run --strict --cpus N -- /bin/true` with and
     without the views, at 8, 1024 and 8192 vCPUs.

Each figure is the median of --rounds runs, the configurations interleaved, everything pinned to one
host CPU (taskset -c 1) as scripts/bench pins its strict rows. The trapping build is not part of the
product: make it by marking stat, lstat, access, newfstatat, statx, faccessat, faccessat2, readlink
and readlinkat TRAP in table/arch/x86_64/libos_syscalls.def in a build directory of its own
(getdents64 cannot be marked: a trapped call needs a handler, and it has none).

  bench/strict_views_measure.py --launcher build/launcher/libos-run \\
      --probe build/bench/strict_views_probe [--trap-launcher build-trap/launcher/libos-run]
"""
import argparse
import os
import resource
import statistics
import subprocess
import time


def probe_once(command):
    out = subprocess.run(["taskset", "-c", "1"] + command, capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        rows[(parts[0], parts[1])] = float(parts[2])
    return rows


def launch_once(command):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    subprocess.run(["taskset", "-c", "1"] + command, check=True, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def fmt_ns(ns):
    return f"{ns / 1000:.1f} µs" if ns >= 1000 else f"{ns:.0f} ns"


def fmt_s(s):
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--launcher", required=True)
    parser.add_argument("--probe", required=True)
    parser.add_argument("--trap-launcher")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=5000)
    parser.add_argument("--cpus", type=int, default=8, help="vCPUs of the per-call runs")
    args = parser.parse_args()

    it = str(args.iterations)
    configs = [
        ("native", [args.probe, it]),
        ("--strict --no-views", [args.launcher, "--strict", "--no-views", "--cpus", str(args.cpus), "--", args.probe, it]),
        ("--strict (views)", [args.launcher, "--strict", "--cpus", str(args.cpus), "--", args.probe, it]),
    ]
    if args.trap_launcher:
        configs.append(("stat family trapped", [args.trap_launcher, "--strict", "--no-views", "--cpus",
                                                str(args.cpus), "--", args.probe, it]))
    samples = {name: [] for name, _ in configs}
    for _ in range(args.rounds):
        for name, command in configs:
            samples[name].append(probe_once(command))
    keys = list(samples["native"][0].keys())
    print(f"| raw call (static program, {args.cpus} vCPUs) | " + " | ".join(name for name, _ in configs) + " |")
    print("| --- |" + " --- |" * len(configs))
    for key in keys:
        cells = [fmt_ns(statistics.median(s[key] for s in samples[name])) for name, _ in configs]
        print(f"| `{key[0]}` {key[1]} | " + " | ".join(cells) + " |")
    print()

    print("| launch of `/bin/true` under --strict | without the views: wall (CPU) | with the views: wall (CPU) |")
    print("| --- | --- | --- |")
    for n in (8, 1024, 8192):
        rounds = args.rounds if n <= 1024 else 1
        cells = []
        for views in ([], ["--no-views"]):
            runs = [launch_once([args.launcher, "--strict"] + views + ["--cpus", str(n), "--", "/bin/true"])
                    for _ in range(rounds)]
            cells.append(f"{fmt_s(statistics.median(r[0] for r in runs))} ({fmt_s(statistics.median(r[1] for r in runs))})")
        print(f"| {n} vCPUs | {cells[1]} | {cells[0]} |")


if __name__ == "__main__":
    main()
