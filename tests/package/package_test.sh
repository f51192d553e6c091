#!/usr/bin/env bash
# The Debian package (issue 16): builds it from a copy of the tree (its files, as a clean clone has
# them, with this tree's changes) with dpkg-buildpackage -us -uc -b, checks it with lintian (no error or
# warning, and no override), unpacks it into a throw-away root with dpkg -x and runs it
# from there: `libos-run --cpus 8 -- nproc` prints 8 with only the package's files and the system's
# libraries, `man -l` renders both pages, and the release build has no test hook. Minutes of
# building: its own suite, `package`, left out of a plain scripts/test. TAP.
set -u
root=${LIBOS_SOURCE_ROOT:?LIBOS_SOURCE_ROOT must name the source tree}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

source "$(dirname "$0")/../lib/tap.sh"

for tool in dpkg-buildpackage dh fakeroot; do
  if ! command -v "$tool" >/dev/null; then
    skip "the Debian package" "$tool is not installed (scripts/test --suite package installs debhelper, dpkg-dev, fakeroot)"
    echo "1..$n"
    exit 0
  fi
done

# A copy of the tree's files (tracked, and new ones not ignored), without its build directories.
src=$tmp/libos-vcpu-0.2.0
mkdir -p "$src"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$src" 2>/dev/null ||
  tar -C "$root" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$src" -xf -)
if (cd "$src" && dpkg-buildpackage -us -uc -b >"$tmp/build.log" 2>&1); then
  pass "dpkg-buildpackage -us -uc -b builds the package"
else
  fail "dpkg-buildpackage -us -uc -b builds the package" "$(tail -30 "$tmp/build.log")"
  echo "1..$n"
  exit 0
fi
deb=$(ls "$tmp"/libos-vcpu_*_amd64.deb 2>/dev/null | head -1)
version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$root/meson.build" | head -1)
check "the package is libos-vcpu_${version}_amd64.deb, the version of meson.build" \
  "$([ "$(basename "$deb")" = "libos-vcpu_${version}_amd64.deb" ]; echo $?)" "$(ls "$tmp")"

if command -v lintian >/dev/null; then
  lint=$(lintian --fail-on error,warning --display-level '>=warning' "$tmp"/libos-vcpu_*_amd64.changes 2>&1)
  check "lintian: no error or warning, with no override" $? "$lint"
else
  skip "lintian" "lintian is not installed"
fi

# ---- installed into a throw-away root, run from there --------------------------------------------------
dest=$tmp/root
dpkg -x "$deb" "$dest"
L=$dest/usr/bin/libos-run
for f in usr/bin/libos-run usr/lib/x86_64-linux-gnu/libos-vcpu/libshim.so usr/share/man/man1/libos-run.1.gz \
  usr/share/man/man7/libos-vcpu.7.gz usr/share/doc/libos-vcpu/copyright usr/share/bash-completion/completions/libos-run \
  usr/lib/x86_64-linux-gnu/cmake/libos-vcpu/libos-vcpuConfig.cmake usr/share/libos-vcpu/pytest/pytest_libos_vcpu.py; do
  [ -f "$dest/$f" ]
  check "the package holds /$f" $?
done
out=$(env -i PATH="$dest/usr/bin:/usr/bin:/bin" libos-run --cpus 8 -- nproc 2>&1)
check "libos-run --cpus 8 -- nproc from the package's bin (on PATH) prints 8" "$([ "$out" = 8 ]; echo $?)" "$out"
shim=$("$L" --show | sed -n 's/^shim: *//p')
check "it preloads the package's libshim.so" "$([ "$shim" = "$(realpath "$dest/usr/lib/x86_64-linux-gnu/libos-vcpu/libshim.so")" ]; echo $?)" "$shim"
out=$(LIBOS_TEST_CRASH=segv "$L" --cpus 2 -- sh -c 'echo ran' 2>&1)
check "a release build: LIBOS_TEST_CRASH=segv is ignored (no test hook)" "$([ "$out" = ran ]; echo $?)" "$out"
for page in man1/libos-run.1.gz man7/libos-vcpu.7.gz; do
  text=$(MANWIDTH=100 man -l "$dest/usr/share/man/$page" 2>&1 | col -b)
  grep -q "^NAME" <<<"$text" && grep -q "libos-run\|libos-vcpu" <<<"$text" && ! grep -qi "warning" <<<"$text"
  check "man -l renders $page" $? "$(head -5 <<<"$text")"
done

echo "1..$n"
