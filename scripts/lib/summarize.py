#!/usr/bin/env python3
"""Prints the result of a meson test run as one closing line: 'N passed, N failed[, N skipped]'.

Counts every GoogleTest case and every TAP subtest from meson's JUnit log, and prints the reason of
each skip. A meson test that failed without reporting any failing case (a crash, a timeout) counts
as one failure of its own, so nothing that went wrong can hide behind the per-case counts.
Exit status: 0 when nothing failed and something ran, 1 otherwise."""
import json
import sys
import xml.etree.ElementTree as ET


def main() -> int:
    junit_path, json_path = sys.argv[1], sys.argv[2]
    passed = failed = skipped = 0
    skip_lines = []
    failed_suites = set()
    root = ET.parse(junit_path).getroot()
    for suite in root.iter("testsuite"):
        suite_name = suite.get("name", "")
        for case in suite.iter("testcase"):
            name = f"{case.get('classname', suite_name)}.{case.get('name')}"
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
                failed_suites.add(suite_name.split(".")[1] if "." in suite_name else suite_name)
                print(f"FAILED: {name}")
            elif case.find("skipped") is not None or case.get("status") in ("notrun", "skipped") \
                    or case.get("result") == "skipped":
                skipped += 1
                node = case.find("skipped")
                reason = (node.get("message") if node is not None else None) or ""
                # GoogleTest puts "file:line" before the message: keep the message.
                skip_lines.append((name, reason.strip().splitlines()[-1] if reason.strip() else ""))
            else:
                passed += 1

    # Whole meson tests that failed (crash, timeout, bad exit) without a failing case of their own.
    with open(json_path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            result = json.loads(line)
            if result.get("result") in ("FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS"):
                name = result.get("name", "?")
                if not any(name in s for s in failed_suites):
                    failed += 1
                    print(f"FAILED: {name} ({result.get('result')}, no failing case reported)")
            # TAP skip reasons live in the test's output ("ok 3 - name # SKIP reason").
            for out_line in (result.get("stdout") or "").splitlines():
                if "# SKIP" in out_line:
                    text, reason = out_line.split("# SKIP", 1)
                    for i, (n, r) in enumerate(skip_lines):
                        if not r and text.split(" - ", 1)[-1].strip() in n:
                            skip_lines[i] = (n, reason.strip())

    for name, reason in skip_lines:
        print(f"SKIPPED: {name}: {reason or 'no reason given'}")
    summary = f"{passed} passed, {failed} failed"
    if skipped:
        summary += f", {skipped} skipped"
    print(summary)
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
