#!/bin/sh
# tests/lib/skip.sh NAME REASON: stands in for a test that cannot run in this build (a sanitizer build,
# for instance), as one TAP case reported skipped with its reason, which scripts/test's summary prints.
echo "1..1"
echo "ok 1 - $1 # SKIP $2"
