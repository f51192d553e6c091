#!/usr/bin/env python3
"""The hosts rig: boots a QEMU virtual machine of a chosen shape, runs commands inside, brings back
their output and exit statuses.

This machine is one kind of host (a few CPUs, no SMT, one socket, one node, cgroup v1); the rig
gives the suite the others: sockets, SMT, NUMA nodes, offline CPUs, cgroup v2 (docs/hosts.md).

- The kernel is Debian's own, fetched with `apt-get download` (the version that the linux-image-amd64
  metapackage names) and unpacked into a cache directory: never installed, so this machine's boot
  setup is never touched, and no root is needed.
- The initramfs is written here, as a cpio archive: a static busybox as /init's shell, the host's
  own tools with the libraries ldd names, and the files of the build tree the commands use, each at
  its own absolute path, so that build-tree paths and rpaths work unchanged inside.
- The commands' output comes back on a second serial port written to a file, framed by marker
  lines; the console (kernel messages) goes to another file, kept for diagnostics.
- Nothing inside is timed (emulated CPUs are slow); each command and the whole boot have generous
  timeouts, and QEMU is killed when the boot's runs out or this process is terminated.

Run by hand:  tests/hosts/rig.py SHAPE [--build DIR] [--file PATH...] -- 'COMMAND' ...
(SHAPE from tests/hosts/shapes.py; `tests/hosts/rig.py --list` names them)."""
import argparse
import gzip
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shapes  # noqa: E402

# Lines on the results port that frame each command's output. Chosen so that no program's own
# output is likely to begin with them.
BEGIN = "@@hosts-begin "
END = "@@hosts-end "
# Where the guest finds its own commands (inside the initramfs).
GUEST_DIR = "/hosts"
# The host tools that every boot carries, with their libraries: the guest's /init is busybox, but
# what the suite runs (and compares) is the host's own tools. Missing ones are left out: a command
# that needs one says so.
HOST_TOOLS = ["bash", "env", "cat", "ls", "lscpu", "taskset", "nproc", "getconf", "numactl", "lstopo-no-graphics",
              "hwloc-calc", "hwloc-info"]
BUSYBOX_CANDIDATES = ["/bin/busybox", "/usr/bin/busybox"]
QEMU = "qemu-system-x86_64"


class RigError(Exception):
    """The rig itself could not do its part (no kernel, no QEMU, a boot that never finished)."""


class RigMissing(RigError):
    """Something the rig needs is not installed here, and this user cannot install it."""


# ---- the kernel ----------------------------------------------------------------------------------

def cache_dir() -> Path:
    """Where fetched kernels are kept between runs: LIBOS_HOSTS_CACHE, else the user's cache
    directory (so that every clone and build shares one download), else the system's temporary
    directory."""
    if os.environ.get("LIBOS_HOSTS_CACHE"):
        return Path(os.environ["LIBOS_HOSTS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache" if Path.home().is_dir() else None)
    if base is None or not os.access(Path(base).parent if not Path(base).exists() else base, os.W_OK):
        return Path(tempfile.gettempdir()) / f"libos-vcpu-hosts-{os.getuid()}"
    return Path(base) / "libos-vcpu" / "hosts"


def kernel_package() -> str:
    """The kernel package apt offers now: the one Debian's linux-image-amd64 metapackage depends on."""
    out = subprocess.run(["apt-cache", "depends", "linux-image-amd64"], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        word = line.strip().split(":", 1)
        if word[0] == "Depends" and word[1].strip().startswith("linux-image-"):
            return word[1].strip()
    raise RigError("apt-cache depends linux-image-amd64 names no kernel package"
                   f" (apt lists missing? run apt-get update): {out.stderr.strip()}")


def fetch_kernel(log=print) -> Path:
    """The path of a bootable vmlinuz: LIBOS_HOSTS_KERNEL, or Debian's, fetched once into the cache.
    Only ./boot/vmlinuz-* is unpacked from the package: the modules (hundreds of MB) are not needed,
    since everything a shape uses (NUMA, cgroup v2, CPU hotplug, the serial ports) is built in."""
    if os.environ.get("LIBOS_HOSTS_KERNEL"):
        return Path(os.environ["LIBOS_HOSTS_KERNEL"])
    package = kernel_package()
    target = cache_dir() / package / "vmlinuz"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log(f"fetching {package} into {target.parent}")
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        # apt-get download works without root; as root it warns that the _apt user cannot write
        # here, and downloads anyway.
        got = subprocess.run(["apt-get", "download", "-q", package], cwd=tmp, capture_output=True, text=True)
        debs = list(Path(tmp).glob("*.deb"))
        if got.returncode != 0 or not debs:
            raise RigError(f"apt-get download {package} failed: {got.stderr.strip()}")
        tar = subprocess.run(f"dpkg-deb --fsys-tarfile '{debs[0]}' | tar -x -C '{tmp}' --wildcards './boot/vmlinuz-*'",
                             shell=True, capture_output=True, text=True)
        images = list(Path(tmp).glob("boot/vmlinuz-*"))
        if tar.returncode != 0 or not images:
            raise RigError(f"no vmlinuz in {debs[0].name}: {tar.stderr.strip()}")
        os.replace(images[0], target)  # atomic: a concurrent fetch finds a whole file or none
    return target


# ---- the initramfs -------------------------------------------------------------------------------

class Initramfs:
    """A newc cpio archive built in memory: directories, files and symlinks by absolute path."""

    def __init__(self):
        self.entries = {}  # path -> (mode, data: bytes)

    def _parents(self, path: str):
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/" + "/".join(parts[:i])
            if d not in self.entries:
                self.entries[d] = (stat.S_IFDIR | 0o755, b"")

    def add_dir(self, path: str, mode=0o755):
        self._parents(path)
        self.entries.setdefault(path, (stat.S_IFDIR | mode, b""))

    def add_data(self, path: str, data: bytes, mode=0o644):
        self._parents(path)
        self.entries[path] = (stat.S_IFREG | mode, data)

    def add_symlink(self, path: str, target: str):
        self._parents(path)
        self.entries[path] = (stat.S_IFLNK | 0o777, target.encode())

    def add_host_path(self, path: str):
        """Copies a host file to the same path, with every symlink met on the way (/lib64 -> usr/lib64
        on a merged-/usr system, the loader's and the libraries' version links) copied as a link."""
        path = os.path.normpath(path)
        prefix = "/"
        parts = path.strip("/").split("/")
        for i, part in enumerate(parts):
            current = os.path.join(prefix, part)
            if os.path.islink(current):
                target = os.readlink(current)
                self.add_symlink(current, target)
                rest = "/".join(parts[i + 1:])
                resolved = os.path.normpath(os.path.join(prefix, target, rest) if not target.startswith("/")
                                            else os.path.join(target, rest))
                self.add_host_path(resolved)
                return
            prefix = current
        if os.path.isdir(path):
            self.add_dir(path)
            return
        mode = os.stat(path).st_mode & 0o7777
        with open(path, "rb") as f:
            self.add_data(path, f.read(), mode)

    def add_program(self, path: str):
        """A host program or library and the shared libraries ldd names for it."""
        self.add_host_path(path)
        out = subprocess.run(["ldd", path], capture_output=True, text=True)
        for line in out.stdout.splitlines():
            words = line.split()
            if "=>" in words and len(words) > words.index("=>") + 1 and words[words.index("=>") + 1].startswith("/"):
                self.add_host_path(words[words.index("=>") + 1])
            elif words and words[0].startswith("/"):
                self.add_host_path(words[0])  # the loader

    def write(self, out_path: Path):
        blob = bytearray()

        def entry(ino, name, mode, data):
            nonlocal blob
            name_bytes = name.encode() + b"\0"
            header = "070701" + "".join(f"{v:08x}" for v in (
                ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_bytes), 0))
            blob += header.encode() + name_bytes
            blob += b"\0" * (-len(blob) % 4)
            blob += data
            blob += b"\0" * (-len(blob) % 4)

        for ino, path in enumerate(sorted(self.entries), start=1):  # parents before children
            mode, data = self.entries[path]
            entry(ino, path.lstrip("/"), mode, data)
        entry(0, "TRAILER!!!", 0, b"")
        with open(out_path, "wb") as f:
            f.write(gzip.compress(bytes(blob), compresslevel=1))


def build_tree_files(build: str):
    """The files of a build tree that programs run inside need: the launcher, the libraries it
    preloads and loads, and the conformance suite. Not the whole tree: objects and logs would make
    the initramfs ten times larger."""
    names = ["launcher/libos-run", "shim/libshim.so", "pal/libpal.so", "unwind/libos_unwind.so",
             "tests/conformance", "tests/numa_conformance", "tests/programs/numa_places"]
    return [os.path.join(build, n) for n in names if os.path.exists(os.path.join(build, n))]


def find_busybox() -> str:
    for path in BUSYBOX_CANDIDATES:
        if os.path.isfile(path):
            ldd = subprocess.run(["ldd", path], capture_output=True, text=True)
            if "not a dynamic executable" in ldd.stdout + ldd.stderr or ldd.returncode != 0:
                return path
    raise RigMissing("no static busybox (package busybox-static)")


INIT = """#!/bin/busybox sh
# /init of a hosts-rig guest: mounts what programs expect, shapes the host, runs the commands with
# their output framed on the second serial port, and powers off whatever happened. /tmp is the
# initramfs's own (writable): a tmpfs over it would hide a build tree that lives under /tmp.
/bin/busybox --install -s /bin 2>/dev/null
export PATH=/usr/local/bin:/usr/bin:/usr/sbin:/bin HOME=/root TMPDIR=/tmp LC_ALL=C
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
mount -t cgroup2 cgroup2 /sys/fs/cgroup
out=/dev/ttyS1
{setup}
cd /tmp
echo "@@hosts-ready" >$out
sh {guest_dir}/commands.sh
echo "@@hosts-done" >$out
poweroff -f
"""


def build_initramfs(out_path: Path, shape: shapes.Shape, commands, files, timeout_each: int, extra=None):
    """commands: [(name, shell text)]; files: host paths (files or directories of the build tree and
    source tree) to carry, at the same paths; extra: {guest path: text} of files written for the
    guest (scripts the commands run). Each command runs in its own shell with a timeout,
    its stdin empty, stdout and stderr to the results port."""
    image = Initramfs()
    # busybox lives in /bin, but on a merged-/usr host /bin is a link to usr/bin: keep the host's
    # layout (so the loader's and the libraries' paths hold) and put busybox where /bin leads.
    image.add_host_path("/bin")
    image.add_data(os.path.realpath("/bin") + "/busybox", open(find_busybox(), "rb").read(), 0o755)
    for d in ("/proc", "/sys", "/dev", "/tmp", "/root", "/etc", "/run"):
        image.add_dir(d)
    image.add_data("/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    image.add_data("/etc/group", b"root:x:0:\n")
    for tool in HOST_TOOLS:
        found = shutil.which(tool)
        if found:
            image.add_program(found)
    for path in files:
        for root, _, names in os.walk(path) if os.path.isdir(path) else [(os.path.dirname(path), [], [os.path.basename(path)])]:
            for name in names:
                full = os.path.join(root, name)
                if os.access(full, os.X_OK) and not os.path.islink(full):
                    image.add_program(full)
                else:
                    image.add_host_path(full)
    for path, text in (extra or {}).items():
        image.add_data(path, text.encode(), 0o755)
    script = ["# the commands, in order; each one's output framed by marker lines"]
    for name, text in commands:
        quoted = text.replace("'", "'\\''")
        script.append(f"echo '{BEGIN}{name}' >$out")
        script.append(f"timeout -s KILL {timeout_each} sh -c '{quoted}' </dev/null >$out 2>&1")
        script.append(f"echo \"{END}{name} $?\" >$out")
    image.add_data(f"{GUEST_DIR}/commands.sh", ("out=/dev/ttyS1\n" + "\n".join(script) + "\n").encode(), 0o755)
    image.add_data("/init", INIT.format(setup=shape.setup, guest_dir=GUEST_DIR).encode(), 0o755)
    image.write(out_path)


# ---- booting -------------------------------------------------------------------------------------

class Result:
    """What came back from one boot: each command's output and exit status, and the console."""

    def __init__(self, outputs, statuses, console, finished, seconds):
        self.outputs = outputs    # name -> output text (stdout and stderr, interleaved)
        self.statuses = statuses  # name -> exit status (137: killed by the command's timeout)
        self.console = console    # the kernel console, for diagnostics
        self.finished = finished  # the guest reached the end of its commands
        self.seconds = seconds


def parse_results(text: str):
    outputs, statuses, current, lines = {}, {}, None, []
    finished = False
    for line in text.replace("\r", "").split("\n"):
        if line.startswith(BEGIN):
            current, lines = line[len(BEGIN):], []
        elif line.startswith(END) and current is not None:
            name, _, status = line[len(END):].rpartition(" ")
            outputs[name] = "\n".join(lines)
            statuses[name] = int(status) if status.lstrip("-").isdigit() else -1
            current = None
        elif line == "@@hosts-done":
            finished = True
        elif current is not None:
            lines.append(line)
    if current is not None:  # the boot ended inside a command
        outputs[current] = "\n".join(lines)
    return outputs, statuses, finished


def qemu_missing() -> str:
    """Why the rig cannot boot here, or '' when it can."""
    if not shutil.which(QEMU):
        return f"{QEMU} is not installed (package qemu-system-x86)"
    try:
        find_busybox()
    except RigMissing as e:
        return str(e)
    return ""


def boot(shape: shapes.Shape, commands, files=(), timeout=1800, timeout_each=900, workdir=None, log=print,
         extra=None) -> Result:
    """Boots SHAPE, runs COMMANDS ([(name, shell text)]) inside, and returns their results. QEMU is
    killed when TIMEOUT seconds pass, or when this process gets SIGTERM (meson's timeout)."""
    why = qemu_missing()
    if why:
        raise RigMissing(why)
    kernel = fetch_kernel(log)
    own_tmp = workdir is None
    work = Path(tempfile.mkdtemp(prefix="libos-hosts-")) if own_tmp else Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    qemu = None
    old_term = signal.getsignal(signal.SIGTERM)

    def on_term(signum, frame):
        if qemu and qemu.poll() is None:
            qemu.kill()
        raise SystemExit(128 + signum)

    try:
        initrd = work / "initramfs.cpio.gz"
        build_initramfs(initrd, shape, commands, files, timeout_each, extra)
        results, console = work / "results.log", work / "console.log"
        argv = [QEMU, "-accel", "tcg,thread=multi", "-cpu", os.environ.get("LIBOS_HOSTS_CPU", "max,vendor=GenuineIntel"), "-m", str(shape.memory_mib),
                *shape.qemu_args, "-kernel", str(kernel), "-initrd", str(initrd),
                "-append", "console=ttyS0 panic=-1 loglevel=4 " + shape.kernel_args,
                "-display", "none", "-monitor", "none", "-nodefaults", "-no-reboot",
                "-serial", f"file:{console}", "-serial", f"file:{results}"]
        log("boot: " + " ".join(argv))
        signal.signal(signal.SIGTERM, on_term)
        import time
        start = time.monotonic()
        qemu_log = work / "qemu.log"
        # A boot now and then hangs before the kernel prints anything (TCG on a loaded host): nothing
        # on either serial port for STALL seconds (a boot reaches its first command in ~15 s) gets one
        # more boot; a boot that has begun is never restarted.
        stall, attempts = 240, 2
        while True:
            with open(qemu_log, "wb") as qemu_out_file:
                qemu = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=qemu_out_file,
                                        stderr=subprocess.STDOUT)
            attempts -= 1
            killed = None
            while qemu.poll() is None:
                try:
                    qemu.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    pass
                elapsed = time.monotonic() - start
                silent = all(not f.exists() or f.stat().st_size == 0 for f in (results, console))
                if qemu.poll() is None and attempts > 0 and silent and elapsed > stall:
                    killed = "stalled"
                elif qemu.poll() is None and elapsed > timeout:
                    killed = "timeout"
                if killed:
                    qemu.kill()
                    qemu.wait()
            if killed != "stalled":
                break
            log(f"boot: nothing on the serial ports after {stall} s; booting again")
            for f in (results, console):
                f.unlink(missing_ok=True)
        qemu_out = qemu_log.read_bytes()
        if killed == "timeout":
            qemu_out += f"\n(rig: killed QEMU after {timeout} s)".encode()
        seconds = time.monotonic() - start
        text = results.read_text(errors="replace") if results.exists() else ""
        console_text = console.read_text(errors="replace") if console.exists() else ""
        if qemu.returncode != 0:
            console_text += f"\n(rig: QEMU exited {qemu.returncode}: {qemu_out.decode(errors='replace').strip()})"
        outputs, statuses, finished = parse_results(text)
        return Result(outputs, statuses, console_text, finished, seconds)
    finally:
        if qemu and qemu.poll() is None:
            qemu.kill()
            qemu.wait()
        signal.signal(signal.SIGTERM, old_term)
        if own_tmp:
            shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shape", nargs="?", help="a shape from tests/hosts/shapes.py")
    parser.add_argument("--list", action="store_true", help="name the shapes and stop")
    parser.add_argument("--build", help="a build tree to carry (at its own path)")
    parser.add_argument("--file", action="append", default=[], help="another host file or directory to carry")
    parser.add_argument("--keep", help="a directory to keep the initramfs, console and results in")
    parser.add_argument("commands", nargs="*", help="shell commands to run inside, in order")
    args = parser.parse_intermixed_args()
    if args.list or not args.shape:
        for shape in shapes.SHAPES.values():
            print(f"{shape.name}: {shape.description}")
        return 0
    files = args.file + (build_tree_files(os.path.abspath(args.build)) if args.build else [])
    try:
        result = boot(shapes.SHAPES[args.shape], [(f"cmd{i}", c) for i, c in enumerate(args.commands)], files,
                      workdir=args.keep, log=lambda m: print(m, file=sys.stderr))
    except RigError as e:
        print(f"rig: {e}", file=sys.stderr)
        return 125
    for i, command in enumerate(args.commands):
        name = f"cmd{i}"
        print(f"$ {command}\n{result.outputs.get(name, '(no output: the boot ended first)')}")
        print(f"[exit {result.statuses.get(name, 'none')}]")
    print(f"rig: {result.seconds:.0f} s, guest {'finished' if result.finished else 'did NOT finish'}", file=sys.stderr)
    if not result.finished:
        print(result.console[-3000:], file=sys.stderr)
    return 0 if result.finished else 1


if __name__ == "__main__":
    sys.exit(main())
