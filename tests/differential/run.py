#!/usr/bin/env python3
"""The differential suite: the CPU file views against the kernel, on a machine equal to the host.

The probe (probe_main.cpp) prints one line per probe, "PROBE -> RESULT". It is run natively (the
kernel's answers: the oracle) and on a virtual machine equal to the host, the host's online CPUs in
their order (--cpu-map 0,1 on a 2-CPU host), in each mode:

  shim            LD_PRELOAD=libshim.so LIBOS_CPU_MAP=<map> probe
  run             libos-run --cpu-map <map> -- probe
  strict          libos-run --strict --cpu-map <map> -- probe
  strict-no-shim  libos-run --strict --no-shim --cpu-map <map> -- probe_static

A difference is a probe whose result differs from the native one (or that one run printed and the
other did not). Each mode must show exactly the differences that expected_differences.txt lists
for it, each with its reason: an unlisted difference fails, and so does a listed one that no longer
occurs (stale), and a probe whose by-design result an entry states but that gives another (a
spelling of the path that escapes the view). Output is TAP: two checks of the native runs (two runs
agree; the static probe agrees with the dynamic one), then one test per mode, then the totals.

Usage: run.py [--modes shim,run,...] [--keep DIR] [--report FILE]
  --report FILE  also writes every difference of every mode, grouped by class with counts and
                 examples
The binaries come from the environment that tests/meson.build sets (LIBOS_DIFF_PROBE,
LIBOS_DIFF_PROBE_STATIC, LIBOS_LIBSHIM, LIBOS_LAUNCHER), or from LIBOS_BUILD_DIR (default build/),
with scripts/libos-run as the launcher."""
import argparse
import fnmatch
import os
import re
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import classes  # noqa: E402  (the classes of differences, for the report)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("LIBOS_SOURCE_ROOT") or os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("LIBOS_BUILD_DIR") or os.path.join(ROOT, "build")
MODES = ["shim", "run", "strict", "strict-no-shim"]
TIMEOUT = 600


def binary(var, default):
    return os.environ.get(var) or os.path.join(BUILD, default)


def host_map():
    """The machine equal to the host: its online CPUs, in order. None when the host has CPUs that
    are possible but not online (the views would then show a different machine)."""
    def cpus(name):
        with open("/sys/devices/system/cpu/" + name, encoding="ascii") as f:
            text = f.read().strip()
        out = []
        for part in filter(None, text.split(",")):
            lo, _, hi = part.partition("-")
            out += range(int(lo), int(hi or lo) + 1)
        return out
    online = cpus("online")
    return ",".join(map(str, online)) if online == cpus("possible") else None


def mode_command(mode, cpu_map, probe, probe_static, list_file):
    launcher = os.environ.get("LIBOS_LAUNCHER") or os.path.join(ROOT, "scripts", "libos-run")
    if mode == "shim":
        env = {"LD_PRELOAD": binary("LIBOS_LIBSHIM", "shim/libshim.so"), "LIBOS_CPU_MAP": cpu_map}
        return [probe, list_file], env
    flags = {"run": [], "strict": ["--strict"], "strict-no-shim": ["--strict", "--no-shim"]}[mode]
    program = probe_static if mode == "strict-no-shim" else probe
    return [launcher] + flags + ["--cpu-map", cpu_map, "--", program, list_file], {}


def run(command, extra_env, out_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIBOS_") and k != "LD_PRELOAD"}
    env.update(extra_env)
    with open(out_path, "w", encoding="utf-8") as out:
        try:
            proc = subprocess.run(command, stdout=out, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                  env=env, timeout=TIMEOUT, cwd="/", check=False)
        except subprocess.TimeoutExpired:
            return -1, f"timed out after {TIMEOUT} s"
    return proc.returncode, proc.stderr.decode("utf-8", "replace")


def parse(path):
    results, order = {}, []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            probe, sep, result = line.rstrip("\n").partition(" -> ")
            if not sep:
                continue
            if probe in results:
                raise SystemExit(f"{path}: probe printed twice: {probe}")
            results[probe] = result
            order.append(probe)
    return results, order


def differences(native, native_order, other, other_order):
    """[(probe, native result or None, other result or None)] in the native order."""
    diffs = [(p, native[p], other.get(p)) for p in native_order if other.get(p) != native[p]]
    diffs += [(p, None, other[p]) for p in other_order if p not in native]
    return diffs


def load_expected(path, cpus):
    """The entries of expected_differences.txt (its header describes the format)."""
    entries, entry = [], None
    tokens = {"$LAST": str(cpus - 1), "$N": str(cpus)}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if not sep or not value or key not in ("entry", "modes", "reason", "probe", "native", "result",
                                                   "if-missing"):
                raise SystemExit(f"{path}:{number}: want KEY: VALUE (entry, modes, reason, probe, native, "
                                 f"result, if-missing): {line!r}")
            if key == "entry":
                entry = {"name": value, "line": number, "modes": None, "reason": None, "probes": [],
                         "native": "*", "result": None, "if-missing": None}
                entries.append(entry)
                continue
            if entry is None:
                raise SystemExit(f"{path}:{number}: {key}: before the first entry:")
            if key == "modes":
                entry["modes"] = [m.strip() for m in value.split(",")]
                for m in entry["modes"]:
                    if m != "*" and m not in MODES:
                        raise SystemExit(f"{path}:{number}: unknown mode {m!r} (modes: {', '.join(MODES)}, *)")
            elif key == "probe":
                entry["probes"].append((number, value))
            else:
                for token, text in tokens.items():
                    value = value.replace(token, text)
                entry[key] = value
    for e in entries:
        if not e["modes"] or not e["reason"] or not e["probes"]:
            raise SystemExit(f"{path}:{e['line']}: entry {e['name']!r} needs modes:, reason: and probe:")
        e["probe_res"] = [(n, re.compile(fnmatch.translate(glob))) for n, glob in e["probes"]]
        e["native_re"] = re.compile(fnmatch.translate(e["native"]))
        e["result_re"] = re.compile(fnmatch.translate(e["result"] or "*"))
    return [e for e in entries if not e["if-missing"] or not os.path.lexists(e["if-missing"])]


def shown(result):
    return "(not printed)" if result is None else result


def tap_case(number, ok, name, lines=()):
    print(f"{'ok' if ok else 'not ok'} {number} - {name}")
    for line in lines:
        print("# " + line)


def selects(entry, probe, native):
    """The probe-glob line of `entry` that selects (probe, native result), or None."""
    if not entry["native_re"].match(shown(native)):
        return None
    return next((n for n, regex in entry["probe_res"] if regex.match(probe)), None)


def judge(mode, oracle, results, diffs, expected):
    """Sorts a mode's differences by expected_differences.txt: listed, unlisted, not as listed (a
    probe an entry with result: selects gives another result), and the stale probe globs."""
    entries = [e for e in expected if "*" in e["modes"] or mode in e["modes"]]
    used, listed, unlisted = set(), 0, []
    for probe, native, other in diffs:
        for e in entries:
            line = selects(e, probe, native)
            if line and (e["result"] is None or e["result_re"].match(shown(other))):
                used.add(line)
                listed += 1
                break
        else:
            unlisted.append((probe, native, other))
    not_as_listed = []
    everything = list(oracle) + [p for p in results if p not in oracle]
    for e in entries:
        if e["result"] is None:
            continue
        for probe in everything:
            native = oracle.get(probe)
            line = selects(e, probe, native)
            if line:
                used.add(line)
                if not e["result_re"].match(shown(results.get(probe))):
                    not_as_listed.append((e, probe, native, results.get(probe)))
    # An assertion that selects nothing may just not apply to this host (no cpu1/online on one CPU).
    unused = [(e, n, glob) for e in entries for n, glob in e["probes"] if n not in used]
    stale = [u for u in unused if u[0]["result"] is None]
    idle = [u for u in unused if u[0]["result"] is not None]
    return {"diffs": diffs, "listed": listed, "unlisted": unlisted, "not_as_listed": not_as_listed,
            "stale": stale, "idle": idle, "probes": len(oracle)}


def check_mode(number, mode, verdict):
    """One TAP case: ok when every difference is listed, nothing is stale or not as listed."""
    lines = []
    unlisted, not_as_listed, stale = verdict["unlisted"], verdict["not_as_listed"], verdict["stale"]
    if unlisted:
        lines.append(f"{len(unlisted)} differences not listed in expected_differences.txt, by class:")
        for name, members in classes.group(unlisted):
            probe, native, other = members[0]
            lines.append(f"  {len(members):6d}  {name}")
            lines.append(f"          e.g. {probe}")
            lines.append(f"               native: {shown(native)}")
            lines.append(f"               {mode}: {shown(other)}")
    for e, probe, native, other in not_as_listed[:40]:
        lines.append(f"not as listed (expected_differences.txt:{e['line']}, {e['name']}): {probe}")
        lines.append(f"    native: {shown(native)}; {mode}: {shown(other)}; listed: {e['result']}")
    if len(not_as_listed) > 40:
        lines.append(f"... and {len(not_as_listed) - 40} more probes not as listed")
    for e, n, glob in stale:
        lines.append(f"stale: expected_differences.txt:{n} ({e['name']}: {glob}) "
                     f"matches no difference under {mode}")
    for e, n, glob in verdict["idle"]:
        lines.append(f"note: expected_differences.txt:{n} ({e['name']}: {glob}) selects no probe on this host")
    name = (f"{mode}: {len(verdict['diffs'])} of {verdict['probes']} probes differ from native, "
            "all listed with a reason")
    tap_case(number, not unlisted and not stale and not not_as_listed, name, lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--keep", help="keep the list and the transcripts in this directory")
    parser.add_argument("--report", help="write every difference, grouped by class, to this file")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    for m in modes:
        if m not in MODES:
            parser.error(f"unknown mode {m!r}")

    cpu_map = host_map()
    if cpu_map is None:
        print("1..0 # SKIP the host has possible CPUs that are not online: no machine equal to it")
        return 0
    probe = binary("LIBOS_DIFF_PROBE", "tests/differential/diff_probe")
    probe_static = binary("LIBOS_DIFF_PROBE_STATIC", "tests/differential/diff_probe_static")
    expected = load_expected(os.path.join(HERE, "expected_differences.txt"), len(cpu_map.split(",")))
    work = args.keep or tempfile.mkdtemp(prefix="libos-differential-")
    os.makedirs(work, exist_ok=True)
    list_file = os.path.join(work, "paths.txt")
    status, err = run([probe, "--list"], {}, list_file)
    if status != 0:
        print(f"Bail out! probe --list failed ({status}): {err.strip()}")
        return 1

    print(f"1..{2 + len(modes)}")
    native_path = os.path.join(work, "native.txt")
    status, err = run([probe, list_file], {}, native_path)
    again_status, _ = run([probe, list_file], {}, os.path.join(work, "native-again.txt"))
    native, native_order = parse(native_path)
    again, again_order = parse(os.path.join(work, "native-again.txt"))
    unstable = differences(native, native_order, again, again_order)
    tap_case(1, status == 0 and again_status == 0 and native and not unstable,
             f"native: {len(native)} probes, the same in two runs",
             [err.strip()] * bool(err.strip()) + [f"{p}: {shown(a)} then {shown(b)}" for p, a, b in unstable[:20]])
    static_path = os.path.join(work, "native-static.txt")
    status, err = run([probe_static, list_file], {}, static_path)
    native_static, static_order = parse(static_path)
    linkage = differences(native, native_order, native_static, static_order)
    tap_case(2, status == 0 and not linkage, "native: the static probe prints what the dynamic one does",
             [err.strip()] * bool(err.strip())
             + [f"{p}: {shown(a)} / static {shown(b)}" for p, a, b in linkage[:20]])

    totals, verdicts = [], {}
    for number, mode in enumerate(modes, 3):
        command, env = mode_command(mode, cpu_map, probe, probe_static, list_file)
        out_path = os.path.join(work, mode + ".txt")
        status, err = run(command, env, out_path)
        oracle, order = (native_static, static_order) if mode == "strict-no-shim" else (native, native_order)
        if status != 0:
            tap_case(number, False, f"{mode}: the probe runs ({' '.join(command)})",
                     [f"exit status {status}"] + err.strip().splitlines()[-20:])
            totals.append((mode, None))
            continue
        results, results_order = parse(out_path)
        verdict = judge(mode, oracle, results, differences(oracle, order, results, results_order), expected)
        verdicts[mode] = verdict
        check_mode(number, mode, verdict)
        totals.append((mode, verdict))

    with open(list_file, encoding="utf-8") as f:
        paths = sum(1 for line in f if not line.startswith("#"))
    print(f"# probes: {len(native)} (map {cpu_map}; {paths} sysfs paths listed, and the /proc views)")
    for mode, v in totals:
        if v is None:
            print(f"# {mode}: did not run")
        else:
            print(f"# {mode}: {len(v['diffs'])} differences: {v['listed']} listed by design, "
                  f"{len(v['unlisted'])} not listed; {len(v['not_as_listed'])} probes not as listed, "
                  f"{len(v['stale'])} stale probe globs")
    if args.report:
        classes.write_report(args.report, len(native), cpu_map, verdicts)
    if not args.keep:
        for name in os.listdir(work):
            os.unlink(os.path.join(work, name))
        os.rmdir(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
