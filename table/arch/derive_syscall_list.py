#!/usr/bin/env python3
"""derive_syscall_list.py REFERENCE_DEF UNISTD_DEFINES OUTPUT [ARCH]: writes a new architecture's
syscall list (table/arch/<arch>/libos_syscalls.def) from the kernel's numbers for it and the
reference list (x86_64's).

UNISTD_DEFINES is the compiler's macro dump of <asm/unistd.h> for the architecture, e.g.
    echo '#include <asm/unistd.h>' | aarch64-linux-gnu-gcc -E -dM - > unistd.defines
Every number of the architecture gets an entry; a name the reference list has keeps its support,
strict, note and arguments columns there (the handlers are the same C++ functions; only the numbers
differ), a name it lacks stops the script (its columns, the arguments' letters among them, are to be
written by hand). The arguments' letters are the same on both for every call the two share
(clone's raw order differs on arm64, tls before child_tid, but both are addresses). Numbers from
403 up are the same on every architecture since Linux 5.1, so the reference's entries there that
the headers are too old to name are kept, except those the reference marks as its own (uretprobe,
uprobe: x86_64 only). The result is a starting point:
review it (docs/implementing-new-syscall.md, "Adding an architecture")."""
import re
import sys

ENTRY = re.compile(r'LIBOS_SYSCALL\(\s*(\d+)\s*,\s*(\w+)\s*,\s*(\w+)\s*,\s*(\w+)\s*,\s*(".*")\s*,\s*("[^"]*")\)\s*$')
DEFINE = re.compile(r'#define __NR_(\w+) (.+)$')
# Entries of the x86_64 list from 403 up that are x86_64's own.
X86_ONLY = {"uretprobe", "uprobe"}


def main() -> int:
    reference, defines, output = sys.argv[1], sys.argv[2], sys.argv[3]
    arch = sys.argv[4] if len(sys.argv) > 4 else "aarch64"
    ref = {}
    with open(reference, encoding="utf-8") as f:
        for line in f:
            m = ENTRY.match(line.strip())
            if m:
                ref[m.group(2)] = (int(m.group(1)), m.group(3), m.group(4), m.group(5), m.group(6))
    raw = {}
    with open(defines, encoding="utf-8") as f:
        for line in f:
            m = DEFINE.match(line.strip())
            if m:
                raw[m.group(1)] = m.group(2).strip()

    def value(name, depth=0):
        v = raw[name]
        if re.fullmatch(r"\d+", v):
            return int(v)
        m = re.fullmatch(r"\(?__NR(?:3264)?_(\w+)\)?", v)
        if m and depth < 4:
            key = m.group(1)
            if v.lstrip("(").startswith("__NR3264_"):
                return value3264(key)
            return value(key, depth + 1)
        return None

    def value3264(key):
        m = re.search(rf"#define __NR3264_{key} (\d+)", text)
        return int(m.group(1)) if m else None

    with open(defines, encoding="utf-8") as f:
        text = f.read()
    numbers = {}
    for name in raw:
        if name in ("syscalls", "arch_specific_syscall") or name.startswith("3264"):
            continue
        n = value(name)
        if n is not None:
            numbers[n] = name
    for name, (n, *_rest) in ref.items():
        if n >= 403 and n not in numbers and name not in X86_ONLY:
            numbers[n] = name
    present = set(numbers.values())

    def note_of(name):
        """The note, with "as NAME" spelt out when NAME is not a call of this architecture."""
        note = ref.get(name, (None, "PASS", "NOTRAP", '""', '""'))[3]
        m = re.match(r'"as (\w+)(.*)"$', note)
        if m and m.group(1) not in present and m.group(1) in ref:
            inner = note_of(m.group(1))[1:-1]
            note = f'"{inner}{m.group(2)}"'
        return note

    with open(output, "w", encoding="utf-8") as f:
        f.write(f"/* Every system call of the {arch} Linux ABI: derived by table/arch/derive_syscall_list.py\n"
                " * from the kernel's numbers and x86_64's list, whose columns the same names keep; see\n"
                " * table/arch/x86_64/libos_syscalls.def for what the columns mean. tests/unit/table_test.cpp\n"
                " * checks this list against the architecture's <asm/unistd.h>. */\n\n")
        for n in sorted(numbers):
            name = numbers[n]
            support, strict = ref.get(name, (None, "PASS", "NOTRAP", '""', '""'))[1:3]
            note = note_of(name)
            if name not in ref:
                sys.exit(f"{name} ({n}): not in the reference list: give it its columns by hand")
            arguments = ref[name][4]
            f.write(f"LIBOS_SYSCALL({n}, {name}, {support}, {strict}, {note}, {arguments})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
