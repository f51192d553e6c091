#!/usr/bin/env python3
"""host_rootfs.py OUT.tar [--file DEST=SRC]... PACKAGE...: a root filesystem made of the host's own files, as a tar for
`docker import` / `podman import`: the installed Debian packages named and everything they depend
on (Depends and Pre-Depends, the first installed choice of each alternative, virtual packages through
what provides them), with the files dpkg lists for them, /etc/alternatives, the merged-/usr links
an /etc/passwd and /etc/group of root alone, and each --file's host file SRC at DEST. There is no image registry here, and debootstrap
takes minutes: this takes seconds (docs/containers.md, "How the suite builds its images")."""
import io
import os
import subprocess
import sys
import tarfile


arches = {}  # each package's architecture, as installed_packages() chose it


def installed_packages():
    """Each installed package of this machine's architecture (or all) with its dependency fields."""
    native = subprocess.run(["dpkg", "--print-architecture"], check=True, capture_output=True,
                            text=True).stdout.strip()
    out = subprocess.run(
        ["dpkg-query", "-W",
         "-f=${db:Status-Abbrev}\t${Package}\t${Architecture}\t${Depends}\t${Pre-Depends}\t${Provides}\n"],
        check=True, capture_output=True, text=True).stdout
    packages, provides = {}, {}
    for line in out.splitlines():
        status, name, arch, depends, pre, provided = line.split("\t")
        # A foreign architecture's instance (multiarch: libc6:arm64 beside libc6:amd64) is not
        # this machine's to run, and would make the bare name ambiguous to dpkg-query -L.
        if not status.startswith("ii") or arch not in (native, "all"):
            continue
        packages[name] = [d for d in (depends, pre) if d]
        arches[name] = arch
        for p in provided.split(","):
            p = p.strip().split(" ")[0]
            if p:
                provides.setdefault(p, []).append(name)
    return packages, provides


def closure(roots, packages, provides):
    def resolve(token):
        name = token.strip().split(" ")[0].split(":")[0]
        if name in packages:
            return name
        for candidate in provides.get(name, []):
            if candidate in packages:
                return candidate
        return None

    wanted, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        if name not in packages:
            sys.exit(f"host_rootfs: package {name} is not installed")
        wanted.add(name)
        for field in packages[name]:
            for group in field.split(","):
                for choice in group.split("|"):
                    found = resolve(choice)
                    if found:
                        todo.append(found)
                        break
    return wanted


def package_files(name):
    qualified = name if arches.get(name, "all") == "all" else f"{name}:{arches[name]}"
    done = subprocess.run(["dpkg-query", "-L", qualified], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"host_rootfs: dpkg-query -L {qualified}: {done.stderr.strip()}")
    out = done.stdout
    return [line for line in out.splitlines() if line.startswith("/")]


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: host_rootfs.py OUT.tar PACKAGE...")
    out, roots, extra = sys.argv[1], [], []
    args = sys.argv[2:]
    while args:
        if args[0] == "--file" and len(args) > 1:
            dest, _, src = args[1].partition("=")
            extra.append((dest, src))
            args = args[2:]
        else:
            roots.append(args.pop(0))
    packages, provides = installed_packages()
    paths = set()
    for name in sorted(closure(roots, packages, provides)):
        paths.update(package_files(name))
    # update-alternatives' links (c++, cc, ...) are in no package's list.
    for entry in os.listdir("/etc/alternatives"):
        paths.add("/etc/alternatives/" + entry)
    for bindir in ("/usr/bin", "/usr/sbin"):
        for entry in os.listdir(bindir):
            path = os.path.join(bindir, entry)
            if os.path.islink(path) and os.readlink(path).startswith("/etc/alternatives/"):
                paths.add(path)
    with tarfile.open(out, "w") as tar:
        added = set()

        def add_dir(path):
            parent = os.path.dirname(path)
            if parent not in ("/", "") and parent not in added:
                add_dir(parent)
            if path in added:
                return
            info = tarfile.TarInfo(path.lstrip("/"))
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            if path == "/tmp":
                info.mode = 0o1777
            tar.addfile(info)
            added.add(path)

        def add_link(path, target):
            add_dir(os.path.dirname(path))
            info = tarfile.TarInfo(path.lstrip("/"))
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
            added.add(path)

        def add_text(path, text):
            info = tarfile.TarInfo(path.lstrip("/"))
            data = text.encode()
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
            added.add(path)

        # Debian 12 merges /usr: the top-level directories are links into it.
        for top in ("bin", "sbin", "lib", "lib64"):
            if os.path.islink("/" + top):
                add_link("/" + top, os.readlink("/" + top))
        for d in ("/tmp", "/proc", "/sys", "/dev", "/etc", "/root", "/run", "/var/tmp", "/opt"):
            add_dir(d)
        add_text("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
        add_text("/etc/group", "root:x:0:\n")
        for dest, src in extra:
            add_dir(os.path.dirname(dest))
            tar.add(src, arcname=dest.lstrip("/"), recursive=False)
            added.add(dest)
        for path in sorted(paths):
            real = path
            # Through the merged-/usr links: /bin/sh is stored as usr/bin/sh.
            head = "/" + path.split("/")[1] if path.count("/") > 1 else path
            if os.path.islink(head) and head != path:
                real = os.path.join(os.path.realpath(head), path[len(head) + 1:])
            if real in added or not os.path.lexists(real):
                continue
            if os.path.islink(real):
                add_link(real, os.readlink(real))
            elif os.path.isdir(real):
                add_dir(real)
            elif os.path.isfile(real):
                add_dir(os.path.dirname(real))
                tar.add(real, arcname=real.lstrip("/"), recursive=False)
                added.add(real)


if __name__ == "__main__":
    main()
