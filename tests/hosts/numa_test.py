#!/usr/bin/env python3
"""numa_test.py SHAPE [--build DIR] [--source DIR]: virtual NUMA against a real multi-node kernel (TAP).

SHAPE is numa2 or numa4 (tests/hosts/shapes.py): 8 CPUs on 2 or 4 real nodes, the shape that
`libos-run --cpus 8 --numa N` gives. The guest runs the real NUMA clients of issue 15
(tests/hosts/numa_clients.sh: numactl, memhog, migratepages, numastat, libnuma, hwloc-bind, a
get_mempolicy(MPOL_F_NODE|MPOL_F_ADDR) page checker, refusals of a missing node) natively: that is
the oracle. The same script then runs
  - in the guest under `libos-run --cpus 8 --numa N` (each virtual node on its own real node), and
  - on this machine under `libos-run --cpus 8 --numa N` (every virtual node on this host's nodes),
and each section of each transcript must equal the guest's own, the script having normalized what
depends on the hosts' sizes (memory sizes, addresses). A known difference of the product is an
expected failure (`# TODO`), declared in KNOWN_DIFFERENCES and shown only where it applies; a fix
makes it an unexpected pass, which fails the suite until the entry is removed."""
import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import checks  # noqa: E402
import rig  # noqa: E402
import shapes  # noqa: E402

NODES = {"numa2": 2, "numa4": 4}
CLIENTS = ["memhog", "migratepages", "numastat", "hwloc-bind"]

# (where, section): the name of a known defect (checks.KNOWN_DEFECTS says why). `where` is "here"
# (this machine, whose virtual nodes share its host nodes) or "guest". None is left: another
# process's pages moved by migratepages between virtual nodes on one host node were the last
# (docs/numa.md, "Another process of the launch").
KNOWN_DIFFERENCES = {}


def sections(text):
    """{name: (output, status line)} of a transcript of numa_clients.sh."""
    out, name, lines = {}, None, []
    for line in text.replace("\r", "").split("\n"):
        if line.startswith("== rc ") and name is not None:
            out[name] = "\n".join(lines + [line])
            name = None
        elif line.startswith("== "):
            name, lines = line[3:], []
        elif name is not None:
            lines.append(line)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("shape", choices=sorted(NODES))
    parser.add_argument("--build", default=os.environ.get("LIBOS_BUILD_DIR"))
    parser.add_argument("--source", default=os.environ.get("LIBOS_SOURCE_ROOT",
                                                           str(Path(__file__).resolve().parents[2])))
    args = parser.parse_args()
    shape, nodes = shapes.SHAPES[args.shape], NODES[args.shape]
    build, source = os.path.abspath(args.build), os.path.abspath(args.source)
    tap = checks.Tap(shape.name)
    script = f"{source}/tests/hosts/numa_clients.sh"
    places = f"{build}/tests/programs/numa_places"
    run = f"{build}/launcher/libos-run"
    missing = [t for t in ["numactl"] + CLIENTS if not shutil.which(t)]
    why = rig.qemu_missing() or (f"{', '.join(missing)} not installed" if missing else "") or \
        ("" if os.path.exists(places) else "tests/programs/numa_places was not built (no libnuma-dev)")
    if why:
        print(f"1..1\nok 1 - {shape.name}: every check # SKIP {why}")
        return 0
    print(f"# {shape.name}: {shape.description}", flush=True)
    here = subprocess.run([run, "--cpus", "8", "--numa", str(nodes), "--", "bash", script, str(nodes), places],
                          capture_output=True, text=True, timeout=600)
    commands = [("native", f"bash {script} {nodes} {places}"),
                ("shim", f"{run} --cpus 8 --numa {nodes} -- bash {script} {nodes} {places}")]
    files = rig.build_tree_files(build) + [script] + [shutil.which(t) for t in CLIENTS]
    try:
        result = rig.boot(shape, commands, files=files, timeout=1800, log=lambda m: print(f"# {m}", flush=True))
    except rig.RigMissing as e:
        print(f"1..1\nok 1 - {shape.name}: every check # SKIP {e}")
        return 0
    except rig.RigError as e:
        tap.case("the rig", False, [str(e)])
        return report(tap, f"hosts/{shape.name}: the rig failed")
    tap.case(f"the boot ({result.seconds:.0f} s) finished", result.finished, ["console:", result.console[-4000:]])
    oracle = sections(result.outputs.get("native", ""))
    tap.case(f"natively: the clients ran ({len(oracle)} sections)", len(oracle) > 30 and
             result.statuses.get("native") == 0, [result.outputs.get("native", "")[-3000:]])
    for where, text in (("guest", result.outputs.get("shim", "")), ("here", here.stdout + here.stderr)):
        got = sections(text)
        for name, want in oracle.items():
            defect = KNOWN_DIFFERENCES.get((where, name))
            have = got.get(name, "(missing)")
            tap.case(f"{where}, --cpus 8 --numa {nodes}: {name}", have == want,
                     ["wanted:", want, "got:", have], defect=defect)
    return report(tap, f"hosts/{shape.name}: {result.seconds:.0f} s boot, {len(oracle)} sections compared twice")


def report(tap, summary) -> int:
    for line in tap.lines:
        print(line)
    print(f"1..{tap.count}")
    print(f"# summary: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
