#!/usr/bin/env python3
"""check_lists.py SOURCE_ROOT: the architectures' syscall lists agree. Every name that two lists of
table/arch/*/libos_syscalls.def both have must have the same support and strict columns there (the
handler is the same function), and a note either the same or, where it says "as NAME" of a call
the other architecture lacks, spelt out (table/arch/derive_syscall_list.py). A change to one list
that is not made to the others fails here, in the native build, which has no cross compiler.
TAP output."""
import os
import re
import sys

ENTRY = re.compile(r'LIBOS_SYSCALL\(\s*(\d+)\s*,\s*(\w+)\s*,\s*(\w+)\s*,\s*(\w+)\s*,\s*(".*")\s*,\s*("[^"]*")\)\s*$')


def read(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = ENTRY.match(line.strip())
            if m:
                out[m.group(2)] = (m.group(3), m.group(4), m.group(5), m.group(6))
    return out


def main() -> int:
    root = sys.argv[1]
    arch_dir = os.path.join(root, "table", "arch")
    lists = {a: read(os.path.join(arch_dir, a, "libos_syscalls.def"))
             for a in sorted(os.listdir(arch_dir)) if os.path.isfile(os.path.join(arch_dir, a, "libos_syscalls.def"))}
    reference = lists.get("x86_64", {})
    checks = []
    for arch, entries in lists.items():
        if arch == "x86_64":
            continue
        checks.append((f"{arch}: a list of {len(entries)} calls", len(entries) > 200, []))
        differing = []
        for name in sorted(set(entries) & set(reference)):
            support, strict, note, arguments = entries[name]
            ref_support, ref_strict, ref_note, ref_arguments = reference[name]
            why = []
            if (support, strict) != (ref_support, ref_strict):
                why.append(f"{support}/{strict} on {arch}, {ref_support}/{ref_strict} on x86_64")
            m = re.match(r'"as (\w+)(.*)"$', ref_note)
            spelt = m and m.group(1) not in entries
            if arguments != ref_arguments:
                why.append(f"the arguments differ: {arguments} on {arch}, {ref_arguments} on x86_64")
            if note != ref_note and not spelt:
                why.append(f"the notes differ: {note} on {arch}, {ref_note} on x86_64")
            if why:
                differing.append((f"{arch}: {name} as on x86_64", False, why))
        checks += differing or [(f"{arch}: every call it shares with x86_64 has x86_64's columns", True, [])]
    print(f"1..{len(checks)}")
    for i, (name, ok, why) in enumerate(checks, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {name}")
        for line in why:
            print(f"# {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
