#!/usr/bin/env python3
"""cpuid under libos-run, as real programs see it (TAP). docs/machine.md, "cpuid".

- hwloc's x86 backend (HWLOC_COMPONENTS=x86,stop: the topology from cpuid alone, each PU bound to in
  turn) on --topology sockets=2,cores=4,threads=2 finds 2 packages of 4 cores of 2 PUs.
- A dynamic program's cpuid shows the machine (leaf 0xB on 2 sockets of 4 cores of 2 threads: 8 per package).
- A static program's cpuid shows the host's, with and without --strict: CPUID faulting is a flag of
  each thread that execve clears, and only the LibOS inside the process (the shim) sets it again; the
  strict supervisor cannot set it for another process.

Skipped where the host has no CPUID faulting (the /proc/cpuinfo flag cpuid_fault).

Environment: LIBOS_LAUNCHER (libos-run), LIBOS_CPUID_PROBE and LIBOS_CPUID_PROBE_STATIC (cpuid_probe.c,
dynamic and static).
"""
import os
import shutil
import subprocess
import sys

LAUNCHER = os.environ["LIBOS_LAUNCHER"]
PROBE = os.environ["LIBOS_CPUID_PROBE"]
STATIC = os.environ.get("LIBOS_CPUID_PROBE_STATIC")
SHAPE = ["--topology", "sockets=2,cores=4,threads=2"]
results = []


def run(args, env=None):
    full = dict(os.environ)
    full.update(env or {})
    p = subprocess.run(args, capture_output=True, text=True, errors="replace", env=full, timeout=300)
    return p.returncode, p.stdout, p.stderr


def host_has_faulting():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return "cpuid_fault" in line.split()
    return False


def probe(args):
    rc, out, err = run(args)
    if rc != 0:
        return None, "exit %d: %s" % (rc, err.strip())
    fields = dict(item.split("=") for item in out.split())
    return {k: int(v) for k, v in fields.items()}, out.strip()


def main():
    if not host_has_faulting():
        print("1..0 # SKIP this host has no CPUID faulting (no cpuid_fault in /proc/cpuinfo)")
        return 0
    native, _ = probe([PROBE])

    got, text = probe([LAUNCHER, "--cpuid"] + SHAPE + ["--", PROBE])
    results.append((got is not None and got["package"] == 8 and got["smt"] == 2,
                    "dynamic program: leaf 0xB shows 8 logical processors per package, 2 per core", text))
    got, text = probe([LAUNCHER] + SHAPE + ["--", PROBE])
    results.append((got is not None and native is not None and got["package"] == native["package"] and
                    got["smt"] == native["smt"], "without --cpuid, cpuid is the host's (it is opt-in)", text))
    got, text = probe([LAUNCHER, "--cpuid"] + SHAPE + ["--", "/bin/sh", "-c", "exec " + PROBE])
    results.append((got is not None and got["package"] == 8 and got["smt"] == 2,
                    "--cpuid holds across exec", text))

    if STATIC and native is not None:
        for strict in ([], ["--strict"]):
            got, text = probe([LAUNCHER, "--cpuid"] + strict + SHAPE + ["--", STATIC])
            name = "static program%s: cpuid is the host's (not covered)" % (" under --strict" if strict else "")
            results.append((got is not None and got["package"] == native["package"] and got["smt"] == native["smt"],
                            name, text))
    else:
        results.append((None, "static program", "no static probe (no static libc)"))

    lstopo = shutil.which("lstopo-no-graphics")
    if not lstopo:
        results.append((None, "hwloc x86 backend", "lstopo-no-graphics is not installed"))
    else:
        counts = {}
        for kind in ("package", "core", "pu"):
            rc2, out2, err2 = run([LAUNCHER, "--cpuid"] + SHAPE + ["--", lstopo, "--no-io", "--only", kind],
                                  env={"HWLOC_COMPONENTS": "x86,stop"})
            counts[kind] = len([l for l in out2.splitlines() if l.strip()]) if rc2 == 0 else -1
        ok = counts == {"package": 2, "core": 8, "pu": 16}
        results.append((ok, "hwloc x86 backend: 2 packages, 8 cores, 16 PUs", repr(counts)))

    print("1..%d" % len(results))
    failed = 0
    for i, (ok, name, detail) in enumerate(results, 1):
        if ok is None:
            print("ok %d - %s # SKIP %s" % (i, name, detail))
        elif ok:
            print("ok %d - %s" % (i, name))
        else:
            failed += 1
            print("not ok %d - %s" % (i, name))
            for line in detail.splitlines():
                print("# " + line)
    return 1 if failed else 0


sys.exit(main())
