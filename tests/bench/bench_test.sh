#!/usr/bin/env bash
# scripts/bench --quick runs and emits well-formed results. Not a timed test: the figures themselves
# are not judged (a missed target is still a pass here), only that every figure is reported, with a
# native time, a shim time and a ratio that are numbers (or, where a column does not apply, null with
# a note), or, for a figure that cannot be measured, "n/a" and the reason. A figure without a target
# (the strict-mode rows for trapped calls) has the status "reported", numbers and a note. TAP output.
set -u
root=${LIBOS_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; shift; for line in "$@"; do echo "$line" | sed 's/^/# /'; done; }

start=$(date +%s)
"$root/scripts/bench" --quick --json "$work/bench.json" --md "$work/bench.md" >"$work/stdout" 2>"$work/stderr"
status=$?
elapsed=$(($(date +%s) - start))
# The run's own time (the figures, without the release builds scripts/bench makes or checks first).
measured=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("elapsed_s", "?"))' \
  "$work/bench.json" 2>/dev/null || echo "?")
if [ $status -eq 0 ]; then
  ok "scripts/bench --quick exits 0 (${elapsed}s, of which ${measured}s measuring; load $(cut -d' ' -f1-3 /proc/loadavg))"
else
  not_ok "scripts/bench --quick exits 0 (status $status)" "$(tail -n 30 "$work/stderr")"
fi

for f in bench.json bench.md; do
  if [ -s "$work/$f" ]; then ok "$f written"; else not_ok "$f written"; fi
done

if grep -q '^| figure |' "$work/stdout" && grep -q "^JSON: $work/bench.json\$" "$work/stdout" \
   && grep -q "^Markdown: $work/bench.md\$" "$work/stdout"; then
  ok "the table and the paths of the results are printed"
else
  not_ok "the table and the paths of the results are printed" "$(head -n 40 "$work/stdout")"
fi

# Each check prints "ok" or the problems, one per line.
check_json() { # check_json NAME PYTHON-CODE: runs the code with `report` loaded from bench.json
  local out
  out=$(python3 - "$work/bench.json" "$work/bench.md" 2>&1 <<PY
import json, math, sys
problems = []
try:
    with open(sys.argv[1]) as f:
        report = json.load(f)
    with open(sys.argv[2]) as f:
        md = f.read()
except Exception as e:
    print("cannot load the results: %s" % e)
    sys.exit(0)
def number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
$2
print("\n".join(problems) if problems else "ok")
PY
)
  if [ "$out" == "ok" ]; then ok "$1"; else not_ok "$1" "$out"; fi
}

check_json "bench.json names the machine, the compiler and a release build" '
m, b = report.get("machine", {}), report.get("build", {})
for key in ("cpu_model", "cores", "kernel"):
    if not m.get(key):
        problems.append("machine.%s missing" % key)
if not b.get("compiler") or b.get("compiler") == "unknown":
    problems.append("build.compiler missing")
if b.get("buildtype") != "release":
    problems.append("build.buildtype is %r, not release" % b.get("buildtype"))
if b.get("b_sanitize") not in ("none", None):
    problems.append("built with sanitizers: %r" % b.get("b_sanitize"))
if report.get("quick") is not True:
    problems.append("quick is not true")
'

check_json "bench.json has every figure, each with numbers or a reason" '
expected = ["getpid_passthrough", "getpid_vm", "sched_getaffinity", "sched_setaffinity", "sched_getcpu",
            "getcpu", "cpuid", "sysconf_onln", "get_nprocs", "read_proc_cpuinfo", "read_cpu_online",
            "start_true_passthrough", "start_true_vm", "start_python_passthrough", "start_python_vm",
            "scale_getaffinity", "scale_getcpu", "rss_passthrough", "rss_vm", "state_per_thread",
            "tracing_off", "strict_getpid", "strict_sched_getaffinity", "strict_sched_getcpu",
            "strict_trapped_getaffinity", "strict_trapped_open", "strict_trapped_cpu_online", "strict_live_proc_stat",
            "strict_start_true", "launcher_start", "script_start"]
rows = report.get("rows", [])
ids = [r.get("id") for r in rows]
for rid in expected:
    if rid not in ids:
        problems.append("figure %s missing" % rid)
for r in rows:
    rid = r.get("id")
    if not r.get("figure") or not isinstance(r.get("target"), dict) or not r["target"].get("text"):
        problems.append("%s: no figure name or target" % rid)
    status = r.get("status")
    if status == "n/a":
        if not r.get("reason"):
            problems.append("%s: n/a without a reason" % rid)
        continue
    if status not in ("met", "MISSED", "reported"):
        problems.append("%s: status %r" % (rid, status))
    if not number(r.get("value")):
        problems.append("%s: value %r is not a number" % (rid, r.get("value")))
    for key in ("native", "shim", "ratio"):
        v = r.get(key, "absent")
        if v is None:
            if not r.get("note"):
                problems.append("%s: %s is null without a note" % (rid, key))
        elif not number(v) or v < 0:
            problems.append("%s: %s %r is not a number" % (rid, key, v))
    if number(r.get("native")) and number(r.get("shim")) and number(r.get("ratio")) and r["native"] > 0 \
       and abs(r["shim"] / r["native"] - r["ratio"]) > 0.01 * r["ratio"] + 1e-9:
        problems.append("%s: ratio %r is not shim / native" % (rid, r["ratio"]))
    op, target, value = r["target"].get("op"), r["target"].get("value"), r.get("value")
    if status == "reported":
        if op is not None or target is not None:
            problems.append("%s: reported, but with a target %r" % (rid, r.get("target")))
        if not r.get("note"):
            problems.append("%s: reported without a note" % rid)
    elif op in ("<=", ">=") and number(target) and number(value):
        met = value <= target if op == "<=" else value >= target
        if met != (status == "met"):
            problems.append("%s: status %s does not follow from %r %s %r" % (rid, status, value, op, target))
    else:
        problems.append("%s: target %r" % (rid, r.get("target")))
for r in rows:
    if r.get("figure") and r["figure"] not in md:
        problems.append("%s: not in bench.md" % r.get("id"))
'

echo "1..$n"
