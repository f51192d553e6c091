"""The figures of scripts/bench that issue 19 added, measured and turned into rows for run_bench.py:

- the shim's own part of a pass-through syscall(): a number the kernel rejects at once (ENOSYS), so
  that the kernel's cost and noise are as small as they get, in CPU time; and the user-mode
  instructions of each hot path, counted by single-stepping (bench_icount), which no load disturbs;
- loops that create processes and threads (fork, pthread_create, posix_spawn, vfork + exec, a shell
  loop, make -j2), whole process, natively and under the shim, interleaved;
- how the calls grow with the machine: the CPU calls, a CPU file and start-up at 2 to 8192 vCPUs.

Standard library only; the helpers (running, medians, rows) are run_bench's, passed in as `rb`.
"""

import os
import shutil
import subprocess
import tempfile

ICOUNT_CALLS = ["syscall_enosys", "syscall_getpid", "sched_getcpu", "getcpu", "read_1_byte", "write_1_byte",
                "syscall_write", "empty"]


def icounts(rb, paths, cpu, log):
    """bench_icount natively, under the shim and on the virtual machine (2 vCPUs), pinned to host CPU
    `cpu` like the timed figures (a stop that moved the child to another CPU would make the measured
    call a cache miss). Deterministic: one run of each. Returns {config: {call: instructions}}."""
    log("user-mode instructions of the hot paths (single-stepped)")
    out = {}
    for name, env in (("native", rb.base_env()),
                      ("shim", dict(rb.base_env(), LD_PRELOAD=paths["shim"])),
                      ("vm", dict(rb.base_env(), LD_PRELOAD=paths["shim"], LIBOS_CPUS="2"))):
        out[name] = rb.run_json([paths["icount"]] + ICOUNT_CALLS, env=env, cpu=cpu, what="bench_icount (%s)" % name)
    return out


def passthrough_rows(rb, res):
    """The shim's own part of syscall() for a number without a handler: ENOSYS, CPU time (target +3 ns),
    with the instruction counts in the note; and the instruction rows themselves, reported."""
    calls, ic = res["calls"], res["icount"]
    rows = []
    bench = "call/syscall_enosys"
    native, shim = rb.median(calls["native"][bench]), rb.median(calls["shim"][bench])
    added = shim - native
    ins = ic["shim"]["syscall_enosys"] - ic["native"]["syscall_enosys"]
    row = rb.ratio_row("passthrough_enosys", "`syscall()` of a number the kernel rejects at once (ENOSYS): the "
                       "shim's own part of a pass-through", "shim, no configuration", native, shim, None, None,
                       "CPU time per call, medians of interleaved runs: %+.1f ns; user-mode instructions %d "
                       "natively, %d under the shim (%+d), counted by single-stepping (bench_icount), which "
                       "neither the clock nor the load of the machine moves" % (
                           added, ic["native"]["syscall_enosys"], ic["shim"]["syscall_enosys"], ins),
                       {"samples": {"native": len(calls["native"][bench]), "shim": len(calls["shim"][bench])},
                        "instructions": {"native": ic["native"]["syscall_enosys"],
                                         "shim": ic["shim"]["syscall_enosys"]}})
    row.update({"value": round(added, 3), "value_unit": "ns added",
                "target": {"op": "<=", "value": 3, "text": "≤ +3 ns"},
                "status": "met" if round(added, 3) <= 3 else "MISSED"})
    row["cells"]["ratio"] = "%s (%+.1f ns)" % (rb.fmt_ratio(shim / native), added)
    rows.append(row)
    for call, figure in (("syscall_getpid", "`syscall(SYS_getpid)`"), ("syscall_enosys", "`syscall(1000)` (ENOSYS)"),
                         ("sched_getcpu", "`sched_getcpu`"), ("getcpu", "`getcpu`"),
                         ("read_1_byte", "`read` of 1 byte of `/dev/zero` (the live files' hook)"),
                         ("write_1_byte", "`write` of 1 byte to `/dev/null` (the refused writes' hook)"),
                         ("syscall_write", "`syscall(SYS_write)` of 1 byte to `/dev/null` (a pass-through until "
                          "a generated file is opened for reading and writing)")):
        for cfg, cfg_text in (("shim", "shim, no configuration"), ("vm", rb.VM)):
            n, s = ic["native"][call], ic[cfg][call]
            rows.append({
                "id": "instructions_%s_%s" % (call, "passthrough" if cfg == "shim" else "vm"),
                "figure": "user-mode instructions of one %s" % figure, "config": cfg_text,
                "unit": "instructions", "native": n, "shim": s, "ratio": rb.significant(s / n),
                "value": s - n, "value_unit": "instructions added",
                "target": {"op": None, "value": None, "text": "—"}, "status": "reported",
                "note": "counted by single-stepping one warm call (bench_icount), the call itself and the "
                        "benchmark's %d instructions around it included; a `syscall` instruction counts "
                        "as one" % ic["native"]["empty"],
                "cells": {"native": "%d" % n, "shim": "%d" % s, "ratio": "%s (%+d)" % (rb.fmt_ratio(s / n), s - n)},
            })
    return rows


# ---- creating processes and threads ----------------------------------------------------------------

def shell_loop(n):
    return ["/bin/sh", "-c", "i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1)); done" % n]


def creation_specs(paths, quick):
    """(id, figure, program, target): the loops, smaller in a quick run."""
    k = 20 if quick else 1
    return [
        ("fork_wait", "a loop of %d `fork` + `waitpid`" % (3000 // k), [paths["procs"], "fork", str(3000 // k)], 1.05),
        ("thread_create_join", "a loop of %d `pthread_create` + `pthread_join`" % (20000 // k),
         [paths["procs"], "thread", str(20000 // k)], 1.05),
        ("posix_spawn_true", "a loop of %d `posix_spawn` of `/bin/true` + `waitpid`" % (500 // k),
         [paths["procs"], "spawn", str(500 // k)], 1.10),
        ("vfork_exec_true", "a loop of %d `vfork` + `execve` of `/bin/true` + `waitpid`" % (500 // k),
         [paths["procs"], "vfork", str(500 // k)], 1.10),
        ("shell_loop_true", "a shell loop of %d `/bin/true`" % (500 // k), shell_loop(500 // k), 1.10),
    ]


def make_tree(directory, files):
    """`files` small C files and a Makefile that compiles each to an object."""
    for i in range(files):
        with open(os.path.join(directory, "f%03d.c" % i), "w") as f:
            f.write("int f%d(int x) { int s = 0; for (int i = 0; i < x; ++i) s += i * %d; return s; }\n" % (i, i))
    with open(os.path.join(directory, "Makefile"), "w") as f:
        f.write("OBJS := $(patsubst %.c,%.o,$(wildcard *.c))\nall: $(OBJS)\n%.o: %.c\n\tcc -O1 -c $< -o $@\n")


def creation(rb, paths, s, quick, log):
    """Each loop natively, under the shim and on the virtual machine, interleaved (bench_spawn), and
    make -j2 of 200 small C files in a full run. Returns {id: {config: {"ns", "cpu_ns"}}}."""
    runs = 3 if quick else 7
    specs = [("native", ""), ("shim", "LD_PRELOAD=" + paths["shim"]),
             ("vm", "LD_PRELOAD=%s,%s" % (paths["shim"], rb.VM))]
    out = {}
    programs = [(rid, program) for rid, _, program, _ in creation_specs(paths, quick)]
    tree = None
    if not quick and shutil.which("make") and shutil.which("cc"):
        tree = tempfile.mkdtemp(prefix="libos-bench-make-")
        make_tree(tree, 200)
        programs.append(("make_j2", [shutil.which("make"), "-s", "-B", "-j2", "-C", tree]))
    try:
        for rid, program in programs:
            n = 3 if rid == "make_j2" else runs
            log("whole process: %s, %d runs of each" % (" ".join(program[:4]), n))
            cmd = [paths["spawn"], "--runs", str(n), "--warmup", "1"]
            for _, spec in specs:
                cmd += ["--variant", spec]
            data = rb.run_json(cmd + ["--"] + program, env=rb.base_env(), what="bench_spawn " + rid)
            out[rid] = {name: {"ns": v["ns"], "cpu_ns": v["cpu_ns"]} for (name, _), v in zip(specs, data["variants"])}
    finally:
        if tree:
            shutil.rmtree(tree, ignore_errors=True)
    return out


def creation_rows(rb, res, paths, quick):
    rows = []
    specs = creation_specs(paths, quick) + [("make_j2", "`make -j2` of 200 small C files", None, 1.03)]
    for rid, figure, _, target in specs:
        proc = res["creation"].get(rid)
        if proc is None:
            rows.append(rb.na_row(rid + "_vm", figure + ", whole process",
                                  "n/a (a full run only, where make and cc are installed)", "<=", target,
                                  "≤ %g" % target))
            continue
        native = rb.median(proc["native"]["cpu_ns"])
        for cfg, cfg_text in (("shim", "shim, no configuration"), ("vm", rb.VM)):
            shim = rb.median(proc[cfg]["cpu_ns"])
            wall_n, wall_s = rb.median(proc["native"]["ns"]), rb.median(proc[cfg]["ns"])
            rows.append(rb.ratio_row(
                "%s_%s" % (rid, "passthrough" if cfg == "shim" else "vm"), figure + ", whole process", cfg_text,
                native, shim, "<=", target,
                "CPU time (user + system) of the whole tree, from wait4; by the wall clock %s against %s "
                "(ratio %s)" % (rb.fmt_time(wall_s), rb.fmt_time(wall_n), rb.fmt_ratio(wall_s / wall_n)),
                {"samples": {"native": len(proc["native"]["ns"]), "shim": len(proc[cfg]["ns"])},
                 "wall_clock": {"native": wall_n, "shim": wall_s, "ratio": round(wall_s / wall_n, 5)}}))
    return rows


# ---- how the calls grow with the machine ----------------------------------------------------------

SIZE_CALLS = [("sched_getaffinity", "call/sched_getaffinity", "`sched_getaffinity`"),
              ("sched_setaffinity", "call/sched_setaffinity", "`sched_setaffinity` (its own mask again)"),
              ("getcpu", "call/getcpu", "`getcpu`"),
              ("read_cpu_online", "call/read_cpu_online", "open + read + close `/sys/devices/system/cpu/online`")]


def mask_bytes(n):
    return (n + 63) // 64 * 8


def sizes(rb, paths, s, cpu, quick, log):
    """The CPU calls and /bin/true's start-up on machines of 2 to 8192 vCPUs (LIBOS_CPUS=n), pinned to
    host CPU `cpu`. Returns {"sizes": [...], "calls": {n: {bench: [ns]}}, "start": {n: {...}}}."""
    ns = [2, 1024] if quick else [2, 64, 1024, 8192]
    filt = "^(%s)$" % "|".join(b for _, b, _ in SIZE_CALLS)
    out = {"sizes": ns, "calls": {}, "start": {}}
    rounds = 1 if quick else 2
    for r in range(rounds):
        for n in (ns if r % 2 == 0 else list(reversed(ns))):
            log("machine size: %d vCPUs, round %d/%d" % (n, r + 1, rounds))
            env = dict(rb.base_env(), LD_PRELOAD=paths["shim"], LIBOS_CPUS=str(n))
            for e in rb.gbench(paths["calls"], filt, s["call_repetitions"], s["call_min_time"], env, cpu=cpu,
                               what="bench_calls (%d vCPUs)" % n, expect={"nprocessors_onln": str(n)}):
                out["calls"].setdefault(n, {}).setdefault(e["name"], []).append(rb.cpu_ns(e))
    runs = 20 if quick else 100
    log("machine size: /bin/true at %s vCPUs, %d runs of each" % (ns, runs))
    cmd = [paths["spawn"], "--runs", str(runs), "--warmup", "2"]
    for n in ns:
        cmd += ["--variant", "LD_PRELOAD=%s,LIBOS_CPUS=%d" % (paths["shim"], n)]
    data = rb.run_json(cmd + ["--", "/bin/true"], env=rb.base_env(), what="bench_spawn /bin/true (sizes)")
    for n, v in zip(ns, data["variants"]):
        out["start"][n] = v
    return out


def size_rows(rb, res):
    """One row per call: its time at the smallest and the largest machine, met when it grows no faster
    than the mask (growth / mask growth ≤ 1); every size in the note."""
    d = res["sizes"]
    ns = d["sizes"]
    low, high = ns[0], ns[-1]
    mask_growth = mask_bytes(high) / mask_bytes(low)
    series = [(rid, figure, {n: rb.median(d["calls"][n][bench]) for n in ns}) for rid, bench, figure in SIZE_CALLS]
    series.append(("start_true", "start-up and exit of `/bin/true` (CPU time)",
                   {n: rb.median(d["start"][n]["cpu_ns"]) for n in ns}))
    rows = []
    for rid, figure, t in series:
        growth = t[high] / t[low]
        rel = growth / mask_growth
        row = rb.ratio_row("size_%s" % rid, "%s: %d against %d vCPUs" % (figure, high, low),
                           "LIBOS_CPUS=%d … %d" % (low, high), t[low], t[high], "<=", 1.0,
                           "at %s; the mask grows %gx (%d to %d bytes); the call %sx" % (
                               ", ".join("%d vCPUs %s" % (n, rb.fmt_time(t[n])) for n in ns), mask_growth,
                               mask_bytes(low), mask_bytes(high), rb.fmt_ratio(growth)),
                           {"by_size": {str(n): round(t[n], 3) for n in ns}})
        row.update({"value": rb.significant(rel), "value_unit": "growth against the mask's",
                    "target": {"op": "<=", "value": 1.0, "text": "grows no faster than the mask"},
                    "status": "met" if rb.significant(rel) <= 1.0 else "MISSED",
                    "baseline_label": "%d vCPUs" % low, "measured_label": "%d vCPUs" % high})
        row["cells"]["ratio"] = "%s (mask %gx)" % (rb.fmt_ratio(growth), mask_growth)
        rows.append(row)
    return rows
