#!/usr/bin/env python3
"""hosts_test.py SHAPE [--build DIR] [--source DIR]: the hosts suite on one simulated host (TAP).

Boots SHAPE (tests/hosts/shapes.py) twice with the rig (tests/hosts/rig.py): once to read the
guest's facts, once to run the conformance suite and the real tools natively, under the shim and on
the machines chosen from those facts (tests/hosts/checks.py). Prints one TAP case per check and a
"# summary:" line with the time each boot took, which scripts/test prints before its closing line.

When QEMU or a static busybox is missing and this user cannot install them (scripts/test installs
them as root), every case is skipped with the reason. A rig that fails (no kernel, a guest that
does not finish) is a failure, with the console's end as diagnostics."""
import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import checks  # noqa: E402
import rig  # noqa: E402
import shapes  # noqa: E402


def log(message):
    print(f"# {message}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("shape", choices=sorted(shapes.SHAPES))
    parser.add_argument("--build", default=os.environ.get("LIBOS_BUILD_DIR"))
    parser.add_argument("--source", default=os.environ.get("LIBOS_SOURCE_ROOT",
                                                           str(Path(__file__).resolve().parents[2])))
    args = parser.parse_args()
    shape = shapes.SHAPES[args.shape]
    tap = checks.Tap(shape.name)
    paths = checks.Paths(os.path.abspath(args.build), os.path.abspath(args.source))
    why = rig.qemu_missing()
    if why:
        verb = "scripts/test --suite hosts installs it as root" if os.getuid() else "install it"
        print(f"1..1\nok 1 - {shape.name}: every check # SKIP {why}; not installed here ({verb})")
        return 0
    log(f"{shape.name}: {shape.description}")
    files = rig.build_tree_files(paths.build) + [f"{paths.source}/tests/conformance/compare.sh"]
    extra = {checks.VIEWS_PATH: checks.VIEWS}
    started = time.monotonic()
    try:
        probe = rig.boot(shape, [("facts", checks.FACTS)], timeout=900, log=log)
        if not probe.finished or probe.statuses.get("facts") != 0:
            tap.case("the facts boot", False, [f"facts: status {probe.statuses.get('facts')}",
                                               probe.outputs.get("facts", ""), "console:", probe.console[-4000:]])
            return report(tap, f"hosts/{shape.name}: the facts boot failed")
        facts = checks.parse_facts(probe.outputs["facts"])
        log("facts: " + " | ".join(probe.outputs["facts"].splitlines()))
        machines, refusals = checks.choose_machines(facts)
        for m in machines:
            log(f"machine {m.label}: vCPUs on host CPUs {m.cpus} ({m.why})")
        cmds = checks.commands(paths, facts, machines, refusals)
        run = rig.boot(shape, cmds, files=files, extra=extra, timeout=3000, log=log)
    except rig.RigMissing as e:
        print(f"1..1\nok 1 - {shape.name}: every check # SKIP {e}")
        return 0
    except rig.RigError as e:
        tap.case("the rig", False, [str(e)])
        return report(tap, f"hosts/{shape.name}: the rig failed")
    tap.case(f"the facts boot ({probe.seconds:.0f} s)", True)
    tap.case(f"the run boot ({run.seconds:.0f} s) finished", run.finished, ["console:", run.console[-4000:]])
    checks.judge(tap, paths, facts, machines, refusals, run)
    total = time.monotonic() - started
    return report(tap, f"hosts/{shape.name}: {total:.0f} s ({probe.seconds:.0f} s facts boot,"
                       f" {run.seconds:.0f} s run boot, {len(cmds)} commands)")


def report(tap, summary) -> int:
    for line in tap.lines:
        print(line)
    print(f"1..{tap.count}")
    print(f"# summary: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
