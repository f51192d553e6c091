#!/usr/bin/env python3
"""gen_strict_syscalls.py DEF OUTPUT: writes the PAL's list of the system calls strict mode traps
(the TRAP entries of the architecture's syscall list) as an X-macro header, so that the PAL tags its
own calls of exactly those. The list is table/'s; the PAL reads it at build time, never includes it."""
import re
import sys

ENTRY = re.compile(r'^LIBOS_SYSCALL\((\d+),\s*(\w+),\s*(\w+),\s*(\w+),')


def main() -> int:
    source, output = sys.argv[1], sys.argv[2]
    trapped = []
    with open(source, encoding="utf-8") as f:
        for line in f:
            m = ENTRY.match(line)
            if not m:
                continue
            nr, name, support, strict = m.groups()
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
