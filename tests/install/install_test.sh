#!/usr/bin/env bash
# `meson install --destdir` (issue 16): the layout (the launcher in bindir, the preloaded libraries in
# LIBDIR/libos-vcpu, man pages, completion, docs and LICENSE, pkg-config and CMake files, the kit), and
# the installed tree at work where it landed: the launcher finds its shim relative to itself. The man
# pages are checked against the sources of truth (every option of --help in libos-run(1), every
# variable of libos_env.h in libos-vcpu(7)), and so is the completion (every long option). TAP.
set -u
build=${LIBOS_BUILD_DIR:?LIBOS_BUILD_DIR must name the build directory}
root=${LIBOS_SOURCE_ROOT:?LIBOS_SOURCE_ROOT must name the source tree}
hooks=${LIBOS_TEST_HOOKS:-1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset LIBOS_CPUS LIBOS_CPU_MAP LIBOS_SHIM_PATH LD_PRELOAD LIBOS_STATE_FD LIBOS_AFFINITY LIBOS_TEST_CRASH

source "$(dirname "$0")/../lib/tap.sh"

dest=$tmp/root
if ! meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >"$tmp/log" 2>&1; then
  fail "meson install --destdir" "$(tail -20 "$tmp/log")"
  echo "1..$n"
  exit 0
fi
pass "meson install --destdir"
# The build's directories, as meson has them.
option() { meson introspect --buildoptions "$build" | python3 -c "
import json, sys
print(next(o['value'] for o in json.load(sys.stdin) if o['name'] == sys.argv[1]))" "$1"; }
prefix=$(option prefix) bindir=$(option bindir) libdir=$(option libdir) datadir=$(option datadir)
mandir=$(option mandir)
top=$dest$prefix
pkglib=$top/$libdir/libos-vcpu
doc=$top/$datadir/doc/libos-vcpu

# ---- the layout ------------------------------------------------------------------------------------
for f in "$bindir/libos-run" "$libdir/libos-vcpu/libshim.so" "$libdir/libos-vcpu/libpal.so" \
  "$libdir/libos-vcpu/libos_unwind.so" "$mandir/man1/libos-run.1" "$mandir/man7/libos-vcpu.7" \
  "$datadir/bash-completion/completions/libos-run" "$datadir/doc/libos-vcpu/LICENSE" \
  "$datadir/doc/libos-vcpu/README.md" "$datadir/doc/libos-vcpu/CHANGELOG.md" \
  "$datadir/doc/libos-vcpu/docs/configuration.md" "$datadir/doc/libos-vcpu/docs/test-suites.md" \
  "$libdir/pkgconfig/libos-vcpu.pc" "$libdir/cmake/libos-vcpu/libos-vcpuConfig.cmake" \
  "$libdir/cmake/libos-vcpu/libos-vcpuConfigVersion.cmake" "$datadir/libos-vcpu/cmake/CMakeLists.txt" \
  "$datadir/libos-vcpu/meson/meson.build" "$datadir/libos-vcpu/pytest/pytest_libos_vcpu.py"; do
  [ -f "$top/$f" ]
  check "installed: PREFIX/$f" $?
done
stray=$(cd "$top/$libdir" && ls libshim.so libpal.so libos_unwind.so 2>/dev/null)
check "no preloaded library lands in LIBDIR itself (they are private)" "$([ -z "$stray" ]; echo $?)" "$stray"
grep -q "MIT License" "$doc/LICENSE" && grep -q "Copyright (c) 2026" "$doc/LICENSE" &&
  grep -q "license : 'MIT'" "$root/meson.build"
check "LICENSE is the MIT licence that meson.build declares, 2026" $?

# ---- the installed launcher where it landed -------------------------------------------------------
L=$top/$bindir/libos-run
out=$("$L" --cpus 8 -- nproc 2>&1)
check "DESTDIR$prefix/$bindir/libos-run --cpus 8 -- nproc prints 8" "$([ "$out" = 8 ]; echo $?)" "$out"
shim=$("$L" --show | sed -n 's/^shim: *//p')
check "it preloads the shim installed beside it ($shim)" \
  "$([ "$shim" = "$(realpath "$pkglib/libshim.so")" ]; echo $?)" "want $pkglib/libshim.so"
out=$("$L" --cpus 2 --trace-stack -- nproc 2>&1 >/dev/null)
grep -q "^ > .*nproc" <<<"$out" && ! grep -q "bad token" <<<"$out"
check "the installed shim finds libos_unwind.so beside itself (--trace-stack works)" $? "$(head -3 <<<"$out")"
out=$(LIBOS_TEST_CRASH=segv "$L" --cpus 2 -- sh -c 'echo ran' 2>&1)
rc=$?
if [ "$hooks" = 1 ]; then
  [ $rc -ne 0 ] && grep -q "libos: fatal SIGSEGV" <<<"$out"
  check "a build with test hooks (test_hooks on) keeps them: LIBOS_TEST_CRASH=segv crashes the shim" $? "status $rc: $out"
  grep -q "expected segv, ill, fpe or abort" "$pkglib/libshim.so"
  check "the hook's words are in that libshim.so (what the release check looks for)" $?
else
  [ $rc = 0 ] && [ "$out" = ran ]
  check "a build without test hooks ignores LIBOS_TEST_CRASH=segv (no hook in the installed shim)" $? "status $rc: $out"
  # The hook's own words (its refusal of a bad value) are in a shim that has it.
  ! grep -q "expected segv, ill, fpe or abort" "$pkglib/libshim.so"
  check "the installed libshim.so holds no test hook" $?
fi

# ---- man pages: rendered, and true to --help and libos_env.h ----------------------------------------
render() { MANWIDTH=200 man -l "$1" 2>/dev/null | col -b; }
page1=$(render "$top/$mandir/man1/libos-run.1")
page7=$(render "$top/$mandir/man7/libos-vcpu.7")
check "man -l renders libos-run(1)" "$(grep -q "libos-run - run a program on a virtual CPU machine" <<<"$page1"; echo $?)" \
  "$(head -5 <<<"$page1")"
check "man -l renders libos-vcpu(7)" "$(grep -q "^ENVIRONMENT" <<<"$page7"; echo $?)" "$(head -5 <<<"$page7")"
help=$("$L" --help)
options=$(grep -o -e '--[a-z][a-z-]*' -e '^  -[a-zA-Z],\? ' <<<"$help" | tr -d ' ,' | sort -u)
missing=()
for o in $options; do grep -q -e "$o" <<<"$page1" || missing+=("$o"); done
check "libos-run(1) has every option of --help ($(wc -w <<<"$options") of them)" "${#missing[@]}" "missing: ${missing[*]}"
# LIBOS_ENVIRONMENT's entries: X(kEnvName, "LIBOS_NAME", launch, exec).
variables=$(grep -o 'X(kEnv[A-Za-z]*, "LIBOS_[A-Z_]*"' "$root/table/include/libos/libos_env.h" |
  grep -o 'LIBOS_[A-Z_]*' | sort -u)
missing=()
for v in $variables; do grep -q -w -e "$v" <<<"$page7" || missing+=("$v"); done
check "libos-vcpu(7) has every variable of libos_env.h ($(wc -w <<<"$variables") of them)" "${#missing[@]}" \
  "missing: ${missing[*]}"
grep -q "$prefix/$libdir/libos-vcpu/libshim.so" <<<"$page7"
check "libos-vcpu(7) names the installed shim's path" $?

# ---- bash completion: every long option of --help --------------------------------------------------
if [ -f /usr/share/bash-completion/bash_completion ]; then
  completed=$(bash -c '
    source /usr/share/bash-completion/bash_completion
    source "$1"
    COMP_WORDS=(libos-run --); COMP_CWORD=1; COMP_LINE="libos-run --"; COMP_POINT=${#COMP_LINE}
    _libos_run libos-run -- libos-run
    printf "%s\n" "${COMPREPLY[@]}"' bash "$top/$datadir/bash-completion/completions/libos-run" 2>&1)
  missing=()
  for o in $(grep -o -e '--[a-z][a-z-]*' <<<"$help" | sort -u); do
    grep -qx -e "$o" -e "$o=" <<<"$completed" || missing+=("$o")
  done
  check "bash completion offers every long option of --help" "${#missing[@]}" "missing: ${missing[*]}" "$completed"
  completed=$(bash -c '
    source /usr/share/bash-completion/bash_completion
    source "$1"
    COMP_WORDS=(libos-run --trace-format ""); COMP_CWORD=2; COMP_LINE="libos-run --trace-format "; COMP_POINT=${#COMP_LINE}
    _libos_run libos-run "" --trace-format
    printf "%s\n" "${COMPREPLY[@]}"' bash "$top/$datadir/bash-completion/completions/libos-run" 2>&1)
  check "bash completion offers --trace-format's values" "$([ "$(sort <<<"$completed" | tr '\n' ' ')" = "json text " ]; echo $?)" \
    "$completed"
else
  skip "bash completion offers every long option of --help" "bash-completion is not installed"
  skip "bash completion offers --trace-format's values" "bash-completion is not installed"
fi

# ---- pkg-config ------------------------------------------------------------------------------------
export PKG_CONFIG_PATH=$top/$libdir/pkgconfig
got="$(pkg-config --modversion libos-vcpu) $(pkg-config --variable=launcher libos-vcpu) $(pkg-config --variable=shim libos-vcpu)"
want="$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$root/meson.build" | head -1) $prefix/$bindir/libos-run $prefix/$libdir/libos-vcpu/libshim.so"
check "pkg-config: the version, the launcher and the shim" "$([ "$got" = "$want" ]; echo $?)" "got  $got" "want $want"

echo "1..$n"
