"""Classes of differences between a mode and the kernel, for run.py's messages and its --report.

A difference is (probe, native result, mode result); results are None where a run did not print the
probe. A class is named from the operation (the probe without its path), the kind of the two
results (an errno, a descriptor, a value) and, for two values, which of their fields differ. The
path is left out so that one defect seen on many files is one class."""
import re

ERRNO = re.compile(r"E[A-Z0-9]+")


def operation(probe):
    """'cwd=/a/b open O_RDONLY x | fstat' -> 'cwd=DIR open O_RDONLY PATH | fstat'."""
    main, _, follow = probe.partition(" | ")
    tokens = main.split(" ")
    context = ""
    if tokens[0].startswith(("cwd=", "dirfd=")):
        context = tokens[0].split("=")[0] + "=DIR "
        tokens = tokens[1:]
    if tokens[0].endswith(":"):  # "thread2:", "start:", "after close(0):"...
        return main + (" | " + follow if follow else "")
    return context + " ".join(tokens[:-1] + ["PATH"]) + (" | " + follow if follow else "")


def kind(result):
    if result is None:
        return "not printed"
    if ERRNO.fullmatch(result):
        return result
    if result.startswith("fd "):
        return "a descriptor"
    if result.startswith("not probed"):
        return result
    return "a value"


def fields(result):
    return dict(t.split("=", 1) for t in result.split(" ") if "=" in t and not t.startswith("="))


def value_change(native, other):
    """Which fields of two values differ ('mode,nlink'), or 'content'."""
    a, b = fields(native), fields(other)
    if a and b and set(a) == set(b):
        changed = [k for k in a if a[k] != b[k]]
        type_a, type_b = native.split(" ")[0], other.split(" ")[0]
        if type_a != type_b and "=" not in type_a:
            changed.insert(0, "type")
        return ",".join(changed) or "content"
    return "content"


STAT_CALLS = ("stat", "lstat", "fstatat", "statx", "syscall(SYS_newfstatat)", "syscall(SYS_statx)")
LISTINGS = ("readdir", "getdents64", "opendir .")


def is_success(result):
    return result is not None and not ERRNO.fullmatch(result) and not result.startswith("not probed")


def fd_number(result):
    return result.split(" ")[1] if result and result.startswith("fd ") else None


# (class, test) in order: the first that holds names the class of a difference. A test receives the
# operation (the probe with its path left out), the path, the follow-up call after " | " (or ""),
# and the two results.
RULES = [
    ("descriptor numbers: the open of a view does not return the lowest free descriptor",
     lambda op, path, follow, a, b: (kind(a) == kind(b) == "a descriptor" and fd_number(a) != fd_number(b))
     or (op.startswith(("after close(0)", "with a hole")) and is_success(a) and is_success(b))
     or (follow == "open O_RDONLY /proc/self/fd/N" and is_success(a) and is_success(b)
         and fd_number(a) != fd_number(b))),
    ("a file taken as a directory: 'file/', 'file/.', 'file/..' resolve (lexical normalisation; kernel: ENOTDIR)",
     lambda op, path, follow, a, b: not follow and a == "ENOTDIR" and is_success(b)),
    ("'..' resolved lexically: after a symlink (node0/cpu0/.., thread-self/..) or a missing component "
     "(nonexistent/..), the view finds what the kernel does not (ENOENT), or misses what it finds, or reads "
     "another file",
     lambda op, path, follow, a, b: ".." in path and (
         (not follow and a == "ENOENT" and is_success(b)) or (not follow and is_success(a) and b == "ENOENT")
         or (follow == "read" and is_success(a) and is_success(b)))),
    ("a name the host does not have is reported present (kernel: ENOENT)",
     lambda op, path, follow, a, b: not follow and a == "ENOENT" and is_success(b)),
    ("a name the host does not have gets another error than ENOENT (the view takes it for a file)",
     lambda op, path, follow, a, b: not follow and a == "ENOENT" and b is not None and ERRNO.fullmatch(b)
     and "O_CREAT" not in op),
    ("O_CREAT: another error than the kernel's (EEXIST for an existing file; EACCES where sysfs cannot create)",
     lambda op, path, follow, a, b: not follow and "O_CREAT" in op and not is_success(a) and not is_success(b)),
    ("a write open of a view file is refused with EACCES before the kernel's ENOTDIR/EISDIR",
     lambda op, path, follow, a, b: not follow and a in ("ENOTDIR", "EISDIR") and b == "EACCES"),
    ("a symlink is followed where the kernel refuses: O_NOFOLLOW, RESOLVE_NO_SYMLINKS (ELOOP)",
     lambda op, path, follow, a, b: not follow and a == "ELOOP"),
    ("O_CREAT|O_EXCL of an existing view file does not give EEXIST",
     lambda op, path, follow, a, b: not follow and a == "EEXIST"),
    ("O_DIRECT is accepted on a view file (kernel: EINVAL)",
     lambda op, path, follow, a, b: not follow and "O_DIRECT" in op and a == "EINVAL"),
    ("O_TMPFILE on a view path: another error than the kernel's",
     lambda op, path, follow, a, b: not follow and "O_TMPFILE" in op),
    ("openat2's resolve flags are not applied (RESOLVE_NO_XDEV: EXDEV, RESOLVE_BENEATH/IN_ROOT...)",
     lambda op, path, follow, a, b: not follow and op.startswith("openat2") and (a or "").startswith("EXDEV")),
    ("O_PATH: the open of a view fails (EBADF) where the kernel gives an O_PATH descriptor",
     lambda op, path, follow, a, b: not follow and "O_PATH" in op and is_success(a) and b == "EBADF"),
    ("O_PATH: a generated file gives an ordinary readable descriptor (F_GETFL without O_PATH, read works)",
     lambda op, path, follow, a, b: "O_PATH" in op.split(" | ")[0]
     and follow in ("F_GETFL", "read", "write 0 bytes")),
    ("the open for writing of a writable host file (cpu1/online) is refused",
     lambda op, path, follow, a, b: not follow and ("O_WRONLY" in op or "O_RDWR" in op) and is_success(a)
     and b == "EACCES"),
    ("fstat of a generated descriptor describes the memfd (mode, nlink, size, blocks, dev, ino)",
     lambda op, path, follow, a, b: follow in ("fstat", "fstatat AT_EMPTY_PATH", "statx AT_EMPTY_PATH")),
    ("fstatfs of a generated descriptor gives tmpfs's",
     lambda op, path, follow, a, b: follow == "fstatfs"),
    ("readlink of /proc/self/fd/N of a generated descriptor names the memfd",
     lambda op, path, follow, a, b: follow == "readlink /proc/self/fd/N"),
    ("mmap of a generated descriptor succeeds (sysfs: ENODEV, procfs: EIO)",
     lambda op, path, follow, a, b: follow.startswith("mmap")),
    ("lseek and pread of a generated descriptor answer as a regular file's",
     lambda op, path, follow, a, b: follow.startswith(("lseek", "pread"))),
    ("F_GETFL of a generated descriptor lacks flags the open asked for",
     lambda op, path, follow, a, b: follow == "F_GETFL"),
    ("reopening through /proc/self/fd/N: another outcome than the kernel's (O_PATH|O_NOFOLLOW of a symlink: ELOOP)",
     lambda op, path, follow, a, b: follow.startswith("open O_RDONLY /proc/self/fd") and kind(a) != kind(b)
     and not (is_success(a) and is_success(b))),
    ("the content read differs",
     lambda op, path, follow, a, b: follow in ("read", "fread")
     or follow.startswith("open O_RDONLY /proc/self/fd")),
    ("lstat of 'symlink/' (a trailing slash) does not follow the link",
     lambda op, path, follow, a, b: not follow and path.endswith("/") and is_success(a) and is_success(b)
     and (op.startswith("lstat") or "AT_SYMLINK_NOFOLLOW" in op) and a.split(" ")[0] != b.split(" ")[0]),
    ("stat of a view path describes another file (a mask file: its _list twin's inode)",
     lambda op, path, follow, a, b: not follow and op.split(" ")[0] in STAT_CALLS
     and is_success(a) and is_success(b)),
    ("a directory listing differs (names, types or inode numbers)",
     lambda op, path, follow, a, b: follow in LISTINGS or op.startswith(("scandir", "fdopendir"))),
    ("getcwd after a chdir through a symlink gives the link's path (kernel: the resolved one)",
     lambda op, path, follow, a, b: follow == "getcwd"),
]


def classify(probe, native, other, diffs_by_probe=None):
    main, _, follow = probe.partition(" | ")
    if follow and diffs_by_probe is not None and main in diffs_by_probe:
        _, parent_native, parent_other = diffs_by_probe[main]
        if kind(parent_native) != kind(parent_other):
            return "follow-ups of an open that differs (the open itself is counted in its own class)"
    tokens = main.split(" ")
    path = tokens[-1]
    op = operation(probe)
    bare = op.split(" ", 1)[1] if op.startswith(("cwd=", "dirfd=")) else op
    for name, test in RULES:
        if test(bare, path, follow, native, other):
            return name
    if not is_success(native) and not is_success(other):
        return f"another error than the kernel's: {op}: {native} natively"
    if is_success(native) and not is_success(other):
        return f"refused where the kernel succeeds: {op}: {other}"
    name = f"{op}: {kind(native)} natively, {kind(other)}"
    if kind(native) == kind(other) == "a value":
        name += f" ({value_change(native, other)} differ)"
    return name


def group(diffs):
    """[(class, [difference...])], the largest class first."""
    by_probe = {d[0]: d for d in diffs}
    by_class = {}
    for d in diffs:
        by_class.setdefault(classify(*d, by_probe), []).append(d)
    return sorted(by_class.items(), key=lambda item: (-len(item[1]), item[0]))


def write_report(path, probes, cpu_map, verdicts):
    """What fails each mode: the unlisted differences by class, the probes not as listed, the stale
    globs (run.py's judge())."""
    def result(r):
        return "(not printed)" if r is None else r
    with open(path, "w", encoding="utf-8") as out:
        out.write("# What the differential suite finds wrong in the CPU file views, by mode: written by\n")
        out.write("#   tests/differential/run.py --report FILE\n")
        out.write(f"# on a machine equal to the host (map {cpu_map}), {probes} probes a run. For each mode:\n")
        out.write("# the differences from the kernel that expected_differences.txt does not list, by class\n")
        out.write("# (the probe without its path; the kernel's result, then the mode's), each with its count\n")
        out.write("# and two examples; then the probes where a by-design result of expected_differences.txt\n")
        out.write("# is not given (a spelling of the path that escapes the view). The suite passes when all\n")
        out.write("# of this is gone.\n")
        modes = list(verdicts)
        counts = {}
        for mode, v in verdicts.items():
            for name, members in group(v["unlisted"]):
                counts.setdefault(name, {})[mode] = len(members)
            for e, *_ in v["not_as_listed"]:
                name = f"not as listed, {e['name']}: a spelling of the path escapes the view"
                counts.setdefault(name, {}).setdefault(mode, 0)
                counts[name][mode] += 1
        out.write("\n## Summary: what fails, by class; counts under " + ", ".join(modes) + "\n\n")
        for mode in modes:
            v = verdicts[mode]
            out.write(f"{mode}: {len(v['diffs'])} differences of {v['probes']} probes; {v['listed']} listed by "
                      f"design; {len(v['unlisted'])} not listed; {len(v['not_as_listed'])} not as listed\n")
        out.write("\n")
        for name, per_mode in sorted(counts.items(), key=lambda item: -max(item[1].values())):
            out.write(" ".join(f"{per_mode.get(m, 0):6d}" for m in modes) + f"  {name}\n")
        for mode, v in verdicts.items():
            out.write(f"\n## {mode}: {len(v['diffs'])} differences, {v['listed']} of them listed by design; "
                      f"{len(v['unlisted'])} not listed, {len(v['not_as_listed'])} probes not as listed\n")
            for name, members in group(v["unlisted"]):
                out.write(f"\n{len(members):6d}  {name}\n")
                for probe, native, other in members[:2]:
                    out.write(f"        {probe}\n")
                    out.write(f"            native: {result(native)}\n")
                    out.write(f"            {mode}: {result(other)}\n")
            by_entry = {}
            for e, probe, native, other in v["not_as_listed"]:
                by_entry.setdefault(e["name"], []).append((probe, native, other, e["result"]))
            for name, members in by_entry.items():
                out.write(f"\n{len(members):6d}  not as listed, {name}: a spelling of the path escapes the view\n")
                for probe, native, other, listed in members:
                    out.write(f"        {probe}\n")
                    out.write(f"            native: {result(native)}; {mode}: {result(other)}; listed: {listed}\n")
            for e, line, glob in v["stale"]:
                out.write(f"\n  stale: expected_differences.txt:{line} ({glob})\n")
