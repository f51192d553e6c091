#!/usr/bin/env python3
"""The measurements behind strict mode's views (docs/strict-mode.md, "The views of a static binary").

Prints two Markdown tables:
  1. per call: strict_views_probe's raw stat, access and listings, natively, under --strict without
     and with the views, and (with --trap-launcher) under a build whose filter traps the stat family;
  2. per launch: the wall-clock and CPU time of a launch under `libos-run --strict --cpus N` with and
     without the views, at 8, 1024 and 8192 vCPUs, and what the trees hold (names, data), which
     a static busybox's `stat -f` inside the launch reports.

Each figure is the median of --rounds runs, the configurations interleaved, everything pinned to one
host CPU (taskset -c 1) as scripts/bench pins its strict rows. The trapping build is not part of the
product: make it by marking stat, lstat, access, newfstatat, statx, faccessat, faccessat2, readlink
and readlinkat TRAP in table/arch/x86_64/libos_syscalls.def in a build directory of its own
(getdents64 cannot be marked: a trapped call needs a handler, and it has none).

  bench/strict_views_measure.py --launcher build/launcher/libos-run \\
      --probe build/bench/strict_views_probe [--trap-launcher build-trap/launcher/libos-run] \\
      [--write-doc docs/strict-mode.md]

--write-doc FILE replaces what stands between FILE's two marker lines
("<!-- bench/strict_views_measure.py --write-doc: begin -->" and "...: end -->") with the tables.
"""
import argparse
import io
import os
import platform
import resource
import shutil
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
    out = subprocess.run(["taskset", "-c", "1"] + command, check=True, stdout=subprocess.PIPE, text=True).stdout
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out


def tree_usage(out):
    """Names and bytes of data the two trees hold, from `busybox stat -f` inside the launch (tmpfs
    counts a name, a link included, as an inode of its limit)."""
    inodes = data = 0
    for line in out.split("\n"):
        parts = line.split()
        if len(parts) == 5:
            total_inodes, free_inodes, blocks, free_blocks, block_size = map(int, parts)
            inodes += total_inodes - free_inodes
            data += (blocks - free_blocks) * block_size
    return inodes, data


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
    parser.add_argument("--write-doc", metavar="FILE")
    args = parser.parse_args()
    out = io.StringIO()

    def emit(line=""):
        print(line)
        out.write(line + "\n")

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
    emit(f"| raw call (static program, {args.cpus} vCPUs) | " + " | ".join(name for name, _ in configs) + " |")
    emit("| --- |" + " --- |" * len(configs))
    for key in keys:
        cells = [fmt_ns(statistics.median(s[key] for s in samples[name])) for name, _ in configs]
        emit(f"| `{key[0]}` {key[1]} | " + " | ".join(cells) + " |")
    emit()

    # The launch's program: the static busybox's `stat -f` of the two trees where it is installed (the
    # kernel's answer: the trees' inodes and data), else /bin/true.
    busybox = shutil.which("busybox")
    program = ([busybox, "stat", "-f", "-c", "%c %d %b %f %S", "/sys/devices/system/cpu", "/sys/devices/system/node"]
               if busybox else ["/bin/true"])
    emit("| launch under --strict | without the views: wall (CPU) | with the views: wall (CPU) | the trees: names, data |")
    emit("| --- | --- | --- | --- |")
    for n in (8, 1024, 8192):
        rounds = args.rounds if n <= 1024 else 1
        cells = []
        usage = "—"
        for views in ([], ["--no-views"]):
            runs = [launch_once([args.launcher, "--strict"] + views + ["--cpus", str(n), "--"] + program)
                    for _ in range(rounds)]
            cells.append(f"{fmt_s(statistics.median(r[0] for r in runs))} ({fmt_s(statistics.median(r[1] for r in runs))})")
            if not views and busybox:
                inodes, data = tree_usage(runs[0][2])
                usage = f"{inodes} names, {data / 2**20:.1f} MiB"
        emit(f"| {n} vCPUs | {cells[1]} | {cells[0]} | {usage} |")


    load = os.getloadavg()[0]
    emit()
    emit(f"Measured on {platform.node() and 'this machine'}: {os.cpu_count()} CPUs, Linux {platform.release()}, "
         f"load average {load:.1f} at the end; medians of {args.rounds} rounds (8192 vCPUs: one), "
         f"pinned to host CPU 1. Wall-clock times grow with the machine's load; the CPU times are "
         f"the launch's own.")
    if args.write_doc:
        begin = "<!-- bench/strict_views_measure.py --write-doc: begin -->"
        end = "<!-- bench/strict_views_measure.py --write-doc: end -->"
        with open(args.write_doc, encoding="utf-8") as f:
            text = f.read()
        if begin not in text or end not in text:
            raise SystemExit(f"{args.write_doc}: the two marker lines are missing")
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        with open(args.write_doc, "w", encoding="utf-8") as f:
            f.write(head + begin + "\n" + out.getvalue() + end + tail)


if __name__ == "__main__":
    main()
