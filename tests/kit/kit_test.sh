#!/usr/bin/env bash
# The kit for test suites (kit/, installed in share/libos-vcpu; docs/test-suites.md), each piece run
# from an installed tree (meson install --destdir) the way a user's suite would run it, on 1 and 8
# vCPUs: the CMake package and libos_vcpu_add_test (LIBOS_VCPU_LAUNCHER, LIBOS_VCPU_SHIM, the test
# property LIBOS_VCPUS), the meson example's test setups, and the pytest plugin's vcpus marker (its
# launcher given as --libos-run, as LIBOS_RUN would). Each also fails where it should: the example's
# test on the host, a pytest test whose machine is not the one it expects. TAP.
set -u
build=${LIBOS_BUILD_DIR:?LIBOS_BUILD_DIR must name the build directory}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset LIBOS_CPUS LIBOS_CPU_MAP LIBOS_SHIM_PATH LD_PRELOAD LIBOS_STATE_FD LIBOS_AFFINITY LIBOS_RUN

source "$(dirname "$0")/../lib/tap.sh"

dest=$tmp/root
if ! meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >"$tmp/log" 2>&1; then
  fail "meson install --destdir" "$(tail -20 "$tmp/log")"
  echo "1..$n"
  exit 0
fi
option() { meson introspect --buildoptions "$build" | python3 -c "
import json, sys
print(next(o['value'] for o in json.load(sys.stdin) if o['name'] == sys.argv[1]))" "$1"; }
prefix=$(option prefix) bindir=$(option bindir) libdir=$(option libdir) datadir=$(option datadir)
top=$dest$prefix
kit=$top/$datadir/libos-vcpu
launcher=$top/$bindir/libos-run

# ---- CMake ------------------------------------------------------------------------------------------
if command -v cmake >/dev/null && command -v ctest >/dev/null; then
  cm=$tmp/cmake
  if cmake -S "$kit/cmake" -B "$cm" -DCMAKE_PREFIX_PATH="$top" >"$tmp/cmake.log" 2>&1 &&
    cmake --build "$cm" >>"$tmp/cmake.log" 2>&1; then
    pass "the CMake example configures with find_package(libos-vcpu) and builds"
    names=$(cd "$cm" && ctest -N | sed -n 's/^ *Test *#[0-9]*: //p' | tr '\n' ' ')
    check "libos_vcpu_add_test(VCPUS 1 2 8 64) adds a test per machine" \
      "$([ "$names" = "cpu_count.vcpus-1 cpu_count.vcpus-2 cpu_count.vcpus-8 cpu_count.vcpus-64 " ]; echo $?)" "$names"
    props=$(cd "$cm" && ctest --show-only=json-v1 | python3 -c '
import json, sys
for t in json.load(sys.stdin)["tests"]:
    p = {x["name"]: x["value"] for x in t.get("properties", [])}
    print(t["name"], t["command"][0], t["command"][1:4], p.get("LABELS"))')
    want=$(realpath "$launcher")
    grep -q "^cpu_count.vcpus-8 $want \['--cpus', '8', '--'\] \['libos-vcpu'" <<<"$props"
    check "each runs LIBOS_VCPU_LAUNCHER --cpus N, with the label libos-vcpu" $? "$props"
    for m in 1 8; do
      out=$(cd "$cm" && ctest -R "^cpu_count\.vcpus-$m\$" --output-on-failure 2>&1)
      check "ctest: cpu_count.vcpus-$m passes on its machine" $? "$out"
    done
    "$cm/cpu_count" >/dev/null 2>&1 && host_ok=0 || host_ok=1
    LIBOS_CPUS=8 "$cm/cpu_count" >/dev/null 2>&1 && unshimmed=0 || unshimmed=1
    check "the example's test fails off the machine (on the host, and with LIBOS_CPUS=8 but no shim)" \
      "$([ $host_ok = 1 ] && [ $unshimmed = 1 ]; echo $?)"
    cat >"$tmp/vars.cmake" <<'CMAKE'
find_package(libos-vcpu 0.2 REQUIRED CONFIG)
libos_vcpu_add_test(NAME t VCPUS 8 COMMAND /bin/true)
get_property(n TEST t.vcpus-8 PROPERTY LIBOS_VCPUS)
message(STATUS "vars ${LIBOS_VCPU_LAUNCHER} ${LIBOS_VCPU_SHIM} ${n}")
CMAKE
    # A language, so that CMake looks in LIBDIR's multiarch directory, as any C or C++ project does.
    cat >"$tmp/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(vars C)
enable_testing()
include(${CMAKE_CURRENT_LIST_DIR}/vars.cmake)
CMAKE
    vars=$(cmake -S "$tmp" -B "$tmp/vars-build" -DCMAKE_PREFIX_PATH="$top" 2>&1 | sed -n 's/^-- vars //p')
    want_vars="$(realpath "$launcher") $(realpath "$top/$libdir/libos-vcpu/libshim.so") 8"
    [ "$vars" = "$want_vars" ]
    check "LIBOS_VCPU_LAUNCHER and LIBOS_VCPU_SHIM name the installed files where the tree lies; LIBOS_VCPUS is 8" $? \
      "$vars" "want $want_vars"
    sed -i 's/0.2 REQUIRED/9.0 REQUIRED/' "$tmp/vars.cmake"
    out=$(cmake -S "$tmp" -B "$tmp/vars-build2" -DCMAKE_PREFIX_PATH="$top" 2>&1)
    rc=$?
    [ $rc != 0 ] && grep -q "version" <<<"$out"
    check "find_package(libos-vcpu 9.0) refuses this version" $? "status $rc"
  else
    fail "the CMake example configures with find_package(libos-vcpu) and builds" "$(tail -20 "$tmp/cmake.log")"
  fi
else
  skip "the CMake example" "cmake is not installed"
fi

# ---- meson: a test setup per machine ----------------------------------------------------------------
ms=$tmp/meson
if PKG_CONFIG_PATH=$top/$libdir/pkgconfig PATH=$top/$bindir:$PATH meson setup "$ms" "$kit/meson" >"$tmp/meson.log" 2>&1; then
  pass "the meson example configures"
  for m in 1 8; do
    out=$(PATH=$top/$bindir:$PATH meson test -C "$ms" --setup "vcpus$m" --print-errorlogs 2>&1)
    rc=$?
    [ $rc = 0 ] && grep -q "LIBOS_CPUS=$m online=$m allowed=$m" "$ms/meson-logs/testlog-vcpus$m.txt"
    check "meson test --setup vcpus$m runs cpu_count on $m vCPUs" $? "$(tail -15 <<<"$out")"
  done
  out=$(meson test -C "$ms" 2>&1)
  check "a plain meson test (on the host) fails the same test" "$([ $? != 0 ]; echo $?)" "$(tail -5 <<<"$out")"
else
  fail "the meson example configures" "$(tail -20 "$tmp/meson.log")"
fi

# ---- pytest: the vcpus marker -------------------------------------------------------------------------
# The first python3 with pytest: PATH's, else the system's (python3-pytest).
python=
for p in python3 /usr/bin/python3; do
  if "$p" -c 'import pytest' 2>/dev/null; then python=$p; break; fi
done
if [ -n "$python" ]; then
  py=$tmp/pytest
  mkdir -p "$py"
  cp "$kit/pytest/test_example.py" "$py/"
  out=$(cd "$py" && PYTHONPATH=$kit/pytest "$python" -m pytest -p pytest_libos_vcpu -p no:cacheprovider \
    --libos-run "$launcher" -v test_example.py 2>&1)
  rc=$?
  [ $rc = 0 ] && grep -q "test_cpu_count\[vcpus1\] PASSED" <<<"$out" && grep -q "test_cpu_count\[vcpus8\] PASSED" <<<"$out" &&
    grep -q "test_children_see_the_machine\[vcpus8\] PASSED" <<<"$out" && grep -q "7 passed" <<<"$out"
  check "pytest -p pytest_libos_vcpu: the example's tests pass on 1, 2, 8 and 64 vCPUs" $? "$(tail -15 <<<"$out")"
  cat >"$py/test_wrong.py" <<'PY'
import os
import pytest
@pytest.mark.vcpus(3)
def test_expects_four(vcpus):
    assert os.cpu_count() == 4
PY
  out=$(cd "$py" && LIBOS_RUN=$launcher PYTHONPATH=$kit/pytest "$python" -m pytest -p pytest_libos_vcpu \
    -p no:cacheprovider test_wrong.py 2>&1)
  rc=$?
  [ $rc = 1 ] && grep -q "on 3 vCPUs" <<<"$out" && grep -q "1 failed" <<<"$out"
  check "a test that is wrong about its machine fails, with the inner run's output (launcher from LIBOS_RUN)" $? \
    "$(tail -15 <<<"$out")"
else
  skip "the pytest plugin" "pytest is not installed (python3-pytest)"
  skip "the pytest plugin's failures" "pytest is not installed (python3-pytest)"
fi

echo "1..$n"
