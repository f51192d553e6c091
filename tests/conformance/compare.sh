#!/usr/bin/env bash
# compare.sh BINARY SHIM [ENV...]: runs the conformance BINARY natively and under SHIM (with the
# extra environment ENV, if any), and compares the two transcripts line by line: with no
# configuration the shim must be invisible. Output is TAP: one line per run, one for the comparison.
set -u
bin=$1 shim=$2
shift 2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

echo "1..3"
LIBOS_TRANSCRIPT="$dir/native" "$bin" --gtest_brief=1 >"$dir/native.log" 2>&1
native=$?
[ $native -eq 0 ] && echo "ok 1 - native run passes" || { echo "not ok 1 - native run passes"; sed 's/^/# /' "$dir/native.log"; }

env "$@" LIBOS_EXPECT_SHIM=1 LD_PRELOAD="$shim" LIBOS_TRANSCRIPT="$dir/shim" "$bin" --gtest_brief=1 >"$dir/shim.log" 2>&1
shimmed=$?
[ $shimmed -eq 0 ] && echo "ok 2 - run under the shim passes" || { echo "not ok 2 - run under the shim passes"; sed 's/^/# /' "$dir/shim.log"; }

if [ -s "$dir/native" ] && diff -u "$dir/native" "$dir/shim" >"$dir/diff"; then
  echo "ok 3 - transcripts identical ($(wc -l <"$dir/native") observations)"
else
  echo "not ok 3 - transcripts identical"
  sed 's/^/# /' "$dir/diff"
fi
