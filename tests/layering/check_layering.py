#!/usr/bin/env python3
"""check_layering.py SOURCE_ROOT: the project's layers and rooms, checked on its include edges (TAP).

Folders (each file's top-level directory) may include only:
    shim/      shim/, table/'s public headers (table/include/), pal/, unwind/
    launcher/  launcher/, table/'s public headers and its syscall list, pal/
    table/     table/, pal/'s public header, unwind/'s header
    pal/       pal/
    unwind/    unwind/
so that calls go one way: shim -> table -> pal (and launcher -> table, pal).

Rooms inside table/ (ARCHITECTURE.md, 'Rooms'):
  - a room's private header (table/machine/*.h, table/vfs/*.h) is included only inside its room, and
    machine/machine_internal.h also by start-up (table/libos_init.cpp, on top of everything);
  - table/machine/ reaches nothing above it: not the views, strict mode, the dispatcher, the
    handlers, tracing, exec or the signal family;
  - table/vfs/ reaches neither strict mode's room nor the dispatcher, tracing, exec or the signal
    family, nor the machine's private header;
  - the host is entered through PalSyscall only by the dispatcher (table/libos_dispatch.cpp): every
    other host service the LibOS needs is a named Pal* call.

An include that resolves to no file of the tree is an error too, so that a typo cannot hide an edge.
The checker tests itself first: small trees with one violation each must be caught.
"""
import os
import re
import shutil
import sys
import tempfile

SOURCE_DIRS = ("pal", "table", "shim", "launcher", "unwind")
EXTENSIONS = (".c", ".cc", ".cpp", ".h", ".hpp", ".def")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# Where #include "..." is looked for, besides the including file's own directory (meson's include
# directories of the four libraries and the launcher).
SEARCH = ("table/include", "table", "table/arch/x86_64", "pal/include", "pal/src/host/linux",
          "pal/src/host/linux/arch/x86_64", "unwind", "launcher", "shim")
# Generated at build time, and whose folder they belong to.
GENERATED = {"pal_strict_syscalls.h": "pal/src/host/linux/pal_strict_syscalls.h"}

FOLDER_RULES = {
    "shim": ("shim/", "table/include/", "pal/", "unwind/"),
    "launcher": ("launcher/", "table/include/", "table/arch/", "pal/include/"),
    "table": ("table/", "pal/include/", "unwind/"),
    "pal": ("pal/",),
    "unwind": ("unwind/",),
}
# Private headers of table's rooms, and who besides the room itself may include them.
PRIVATE = {
    "table/machine/": ("table/libos_init.cpp",),
    "table/vfs/": (),
}
# What a room must not include (prefixes of the included file's path).
ABOVE = {
    "table/machine/": ("table/vfs/", "table/strict/", "table/sys/", "table/include/libos/libos_vfs.h",
                       "table/include/libos/libos_strict.h", "table/include/libos/libos_table.h",
                       "table/include/libos/libos_adapter.h", "table/include/libos/libos_trace.h",
                       "table/include/libos/libos_exec.h", "table/include/libos/libos_signal.h"),
    "table/vfs/": ("table/strict/", "table/sys/", "table/machine/", "table/include/libos/libos_strict.h",
                   "table/include/libos/libos_table.h", "table/include/libos/libos_adapter.h",
                   "table/include/libos/libos_trace.h", "table/include/libos/libos_exec.h",
                   "table/include/libos/libos_signal.h"),
}
PAL_SYSCALL_RE = re.compile(r"\bPalSyscall\s*\(")
PAL_SYSCALL_ALLOWED = ("table/libos_dispatch.cpp",)


def source_files(root):
    for top in SOURCE_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith(EXTENSIONS):
                    yield os.path.relpath(os.path.join(dirpath, name), root)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def resolve(root, including, name):
    candidates = [os.path.join(os.path.dirname(including), name)] + [os.path.join(d, name) for d in SEARCH]
    for c in candidates:
        c = os.path.normpath(c)
        if os.path.isfile(os.path.join(root, c)):
            return c
    return GENERATED.get(name)


def violations(root):
    found = []
    for path in source_files(root):
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            text = f.read()
        folder = path.split("/", 1)[0]
        for name in INCLUDE_RE.findall(text):
            target = resolve(root, path, name)
            if target is None:
                found.append(f"{path}: #include \"{name}\" names no file of the tree")
                continue
            if not target.startswith(FOLDER_RULES[folder]):
                found.append(f"{path} -> {target}: {folder}/ may include only {', '.join(FOLDER_RULES[folder])}")
            for room, also in PRIVATE.items():
                if target.startswith(room) and target.endswith((".h", ".hpp")) and \
                        not path.startswith(room) and path not in also:
                    found.append(f"{path} -> {target}: a private header of {room}")
            for room, above in ABOVE.items():
                if path.startswith(room) and target.startswith(above) and not target.startswith(room):
                    found.append(f"{path} -> {target}: {room} must not reach above it")
        if path.startswith("table/") and path not in PAL_SYSCALL_ALLOWED and \
                PAL_SYSCALL_RE.search(strip_comments(text)):
            found.append(f"{path}: PalSyscall outside the dispatcher (a handler that needs the host gets a named "
                         "Pal* call; PalSyscall is the pass-through)")
    return found


# ---- the checker's own test ------------------------------------------------------------------------

BASE_TREE = {
    "pal/include/pal/pal.h": "",
    "pal/src/host/linux/pal_file.cpp": '#include "pal/pal.h"\n',
    "unwind/libos_unwind.h": "",
    "table/include/libos/libos_vfs.h": "",
    "table/include/libos/libos_machine.h": "",
    "table/include/libos/libos_table.h": '#include "pal/pal.h"\n',
    "table/machine/machine_internal.h": '#include "libos/libos_machine.h"\n',
    "table/machine/map.cpp": '#include "machine/machine_internal.h"\n',
    "table/vfs/vfs_internal.h": "",
    "table/vfs/resolve.cpp": '#include "vfs/vfs_internal.h"\n#include "libos/libos_machine.h"\n',
    "table/libos_init.cpp": '#include "machine/machine_internal.h"\n#include "libos/libos_vfs.h"\n',
    "table/libos_dispatch.cpp": '#include "libos/libos_table.h"\nlong f() { return PalSyscall(1, 0, 0, 0, 0, 0, 0); }\n',
    "table/sys/libos_sched.cpp": '#include "libos/libos_table.h"\n/* PalSyscall( in a comment is fine */\n',
    "shim/shim.h": "",
    "shim/shim_sched.cpp": '#include "shim.h"\n#include "libos/libos_table.h"\n#include "libos_unwind.h"\n',
    "launcher/launcher.h": '#include "libos/libos_table.h"\n',
}
# Each adds one file (or replaces one) and must be caught, with the text of its finding.
BROKEN = {
    "pal includes the table (upward)": ("pal/src/host/linux/pal_bad.cpp", '#include "libos/libos_table.h"\n',
                                         "pal/ may include only"),
    "the table includes the shim (upward)": ("table/sys/libos_bad.cpp", '#include "shim.h"\n',
                                             "table/ may include only"),
    "the table includes the shim by path": ("table/sys/libos_bad.cpp", '#include "../../shim/shim.h"\n',
                                             "table/ may include only"),
    "the shim includes a room's private header": ("shim/shim_bad.cpp", '#include "machine/machine_internal.h"\n',
                                                   "shim/ may include only"),
    "a handler includes the machine's private header": ("table/sys/libos_bad.cpp",
                                                        '#include "machine/machine_internal.h"\n',
                                                        "a private header of table/machine/"),
    "the machine reaches up into the views": ("table/machine/bad.cpp", '#include "libos/libos_vfs.h"\n',
                                              "must not reach above it"),
    "the views reach the dispatcher": ("table/vfs/bad.cpp", '#include "libos/libos_table.h"\n',
                                       "must not reach above it"),
    "a handler enters the host through PalSyscall": ("table/sys/libos_bad.cpp",
                                                     "long g() { return PalSyscall(257, 0, 0, 0, 0, 0, 0); }\n",
                                                     "PalSyscall outside the dispatcher"),
    "an include that names no file": ("table/sys/libos_bad.cpp", '#include "libos/libos_tabel.h"\n', "names no file"),
}


def build_tree(base, files):
    for rel, text in files.items():
        p = os.path.join(base, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)


def self_test():
    results = []
    tmp = tempfile.mkdtemp(prefix="layering-")
    try:
        clean = os.path.join(tmp, "clean")
        build_tree(clean, BASE_TREE)
        v = violations(clean)
        results.append(("the checker finds nothing in a well-layered tree", not v, v))
        for what, (rel, text, expect) in BROKEN.items():
            tree = os.path.join(tmp, re.sub(r"\W+", "_", what))
            build_tree(tree, BASE_TREE)
            build_tree(tree, {rel: text})
            v = violations(tree)
            caught = bool(v) and all(line.startswith(rel) for line in v) and any(expect in line for line in v)
            results.append((f"the checker catches: {what}", caught, v))
    finally:
        shutil.rmtree(tmp)
    return results


def main() -> int:
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    checks = self_test()
    found = violations(root)
    print(f"1..{len(checks) + 1}")
    n = 0
    for name, ok, detail in checks:
        n += 1
        print(f"{'ok' if ok else 'not ok'} {n} - {name}")
        if not ok:
            for line in detail:
                print(f"#   {line}")
    n += 1
    files = sum(1 for _ in source_files(root))
    print(f"{'ok' if not found else 'not ok'} {n} - the tree's {files} source files keep the layers and rooms")
    for line in found:
        print(f"#   {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
