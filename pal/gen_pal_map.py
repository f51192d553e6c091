#!/usr/bin/env python3
"""Writes pal.map (an ld version script) from the one list of PAL symbols."""
import sys


def main() -> int:
    source, output = sys.argv[1], sys.argv[2]
    names = []
    with open(source, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                if not (line.startswith("Pal") or line.startswith("g_pal_")):
                    sys.exit(f"{source}: '{line}' is neither a Pal* call nor a g_pal_* constant")
                names.append(line)
    if len(set(names)) != len(names):
        sys.exit(f"{source}: a symbol is listed twice")
    with open(output, "w", encoding="utf-8") as f:
        f.write("/* Generated from pal/pal_symbols by pal/gen_pal_map.py. Do not edit. */\n")
        f.write("PAL {\n  global:\n")
        for name in names:
            f.write(f"    {name};\n")
        f.write("  local:\n    *;\n};\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
