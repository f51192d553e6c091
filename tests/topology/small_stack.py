#!/usr/bin/env python3
"""Preloaded code on small stacks (docs/layout.md, "Stack"): tests/programs/small_stack_views reads
every CPU view, as the first CPU-view use of its process, on a thread whose stack has a guard page
right below it. Natively and under libos-run on several machines (TAP, one case per check):

- on a stack of PTHREAD_STACK_MIN (16 KiB on x86_64) the program completes (an overflow inside the
  LibOS faults on the guard page and kills it);
- on a large stack, with SMALL_STACK_DEPTHS, each item's deepest stack byte is measured, natively
  and under the shim; the LibOS may add at most BOUND bytes to any item (the bound docs/layout.md
  states);
- every item that works natively works under the shim, and on a machine equal to the host every
  line but the depths is the native one.

Environment: LIBOS_LAUNCHER (libos-run), LIBOS_SMALL_STACK_PROBE (the program).
"""
import os
import subprocess
import sys

LAUNCHER = os.environ["LIBOS_LAUNCHER"]
PROBE = os.environ["LIBOS_SMALL_STACK_PROBE"]
# What the LibOS adds at most to the stack of any call that reaches a view (docs/layout.md).
BOUND = 8 * 1024
# The stack the program completes on, with the guard page right below it: PTHREAD_STACK_MIN, the
# program's default.
SMALL = None
LARGE = 512 * 1024
MACHINES = [
    ("host-equal", []),
    ("cpus-8", ["--cpus", "8"]),
    ("cpus-64", ["--cpus", "64"]),
    ("cpus-1024", ["--cpus", "1024"]),
    ("cpus-8-numa-4", ["--cpus", "8", "--numa", "4"]),
]
results = []


def run(prefix, stack, depths):
    env = dict(os.environ)
    env.pop("SMALL_STACK_DEPTHS", None)
    if depths:
        env["SMALL_STACK_DEPTHS"] = "1"
    p = subprocess.run(prefix + [PROBE] + ([str(stack)] if stack else []), capture_output=True, text=True, errors="replace", env=env,
                       timeout=600)
    return p.returncode, p.stdout, p.stderr


def split(out):
    """The item lines (no depths, no final figure) and each item's depth."""
    items, depths = [], {}
    for line in out.splitlines():
        if line.startswith("depth "):
            _, n, name = line.split(" ", 2)
            depths[name] = int(n)
        elif not line.startswith("stack used"):
            items.append(line)
    return items, depths


def failed(line):
    return " errno " in line or "read-error" in line or "link broken" in line or line.endswith(" failed") or \
        line.endswith(" 0") and line.startswith("a task's")


code, native_out, err = run([], LARGE, True)
if code != 0:
    print("1..1")
    print(f"not ok 1 - native run of the probe # exit {code}: {err.strip()[:200]}")
    sys.exit(0)
native_items, native_depths = split(native_out)

for name, args in MACHINES:
    prefix = [LAUNCHER] + args + ["--"] if args else [LAUNCHER, "--"]
    code, out, err = run(prefix, SMALL, False)
    size = out.strip().rsplit(" ", 1)[-1] if code == 0 else "PTHREAD_STACK_MIN"
    results.append((code == 0, f"{name}: every view read on a stack of {size} bytes with a guard page",
                    f"exit {code}: {err.strip()[:200]}"))
    code, out, err = run(prefix, LARGE, True)
    if code != 0:
        results.append((False, f"{name}: depths measured", f"exit {code}: {err.strip()[:200]}"))
        continue
    items, depths = split(out)
    worst, what = 0, ""
    for item, depth in depths.items():
        if item in native_depths and depth - native_depths[item] > worst:
            worst, what = depth - native_depths[item], item
    results.append((worst <= BOUND, f"{name}: the LibOS adds at most {BOUND} bytes of stack to any item",
                    f"{worst} bytes at {what}"))
    natively_working = {line.split(" ")[0] for line in native_items if not failed(line)}
    broken = [line for line in items if failed(line) and line.split(" ")[0] in natively_working]
    results.append((not broken, f"{name}: what works natively works under the shim", "; ".join(broken[:5])))
    if name == "host-equal":
        differ = [f"{a!r} != {b!r}" for a, b in zip(native_items, items) if a != b]
        if len(native_items) != len(items):
            differ.append(f"{len(native_items)} lines natively, {len(items)} under the shim")
        results.append((not differ, f"{name}: every line is the native one", "; ".join(differ[:5])))

print(f"1..{len(results)}")
for i, (ok, name, detail) in enumerate(results, 1):
    print(f"{'ok' if ok else 'not ok'} {i} - {name}" + ("" if ok else f" # {detail}"))
    if ok and detail and "bytes at" in detail:
        print(f"# {detail}")
