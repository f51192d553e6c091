#!/usr/bin/env python3
"""gen_strict_syscalls.py DEF OUTPUT: writes the PAL's list of the system calls strict mode traps
(the TRAP entries of the architecture's syscall list) as an X-macro header, so that the PAL tags its
own calls of exactly those. The list is table/'s; the PAL reads it at build time, never includes it."""
import re
import sys

ENTRY = re.compile(r'LIBOS_SYSCALL\(\s*(\d+)\s*,\s*(\w+)\s*,\s*(\w+)\s*,\s*(\w+)\s*,')


def main() -> int:
    source, output = sys.argv[1], sys.argv[2]
    trapped = []
    with open(source, encoding="utf-8") as f:
        # The list as the compiler reads it: comments out, and every LIBOS_SYSCALL( an entry, which
        # must parse (an entry this script missed would be trapped by the filter but not tagged).
        text = re.sub(r"/\*.*?\*/", " ", f.read(), flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
    for at in [m.start() for m in re.finditer(r"LIBOS_SYSCALL\s*\(", text)]:
        m = ENTRY.match(text, at)
        if not m:
            sys.exit(f"{source}: cannot read the entry at: {text[at:at + 60]!r}")
        name, strict = m.group(2), m.group(4)
        if strict not in ("TRAP", "NOTRAP"):
            sys.exit(f"{source}: {name}: strict column '{strict}' is neither TRAP nor NOTRAP")
        if strict == "TRAP":
            trapped.append(name)
    if not trapped:
        sys.exit(f"{source}: no TRAP entry")
    with open(output, "w", encoding="utf-8") as f:
        f.write("/* Generated from the syscall list (table/arch/<arch>/libos_syscalls.def) by "
                "pal/gen_strict_syscalls.py. Do not edit. */\n")
        f.write("#ifndef PAL_STRICT_SYSCALLS_H\n#define PAL_STRICT_SYSCALLS_H\n\n")
        f.write("/* The system calls strict mode's filter traps unless they carry the launch's tag. */\n")
        f.write("#define PAL_STRICT_SYSCALLS(X)" + "".join(f" X(__NR_{n})" for n in trapped) + "\n\n#endif\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
