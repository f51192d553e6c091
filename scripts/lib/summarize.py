#!/usr/bin/env python3
"""Prints the result of a meson test run as one closing line: 'N passed, N failed[, N skipped]'.

Counts every GoogleTest case and every TAP subtest from meson's JUnit log, and prints the reason of
each skip. A meson test that failed without reporting any failing case (a crash, a timeout) counts
as one failure of its own, so nothing that went wrong can hide behind the per-case counts. A TAP
case that fails as expected ("not ok ... # TODO reason", a documented limit) counts as skipped, with
its reason, never as passed. A test's TAP comment "# summary: TEXT" (the fuzz targets' numbers of
executions) is printed before the closing line.
With a third argument, a directory of sanitizer reports (scripts/test --sanitize writes one file per
report), each report counts as one failure more and is printed.
Exit status: 0 when nothing failed and something ran, 1 otherwise."""
import json
import os
import sys
import re
import xml.etree.ElementTree as ET


def allowed_in_xml(code: int) -> bool:
    return code in (9, 10, 13) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF


def main() -> int:
    junit_path, json_path = sys.argv[1], sys.argv[2]
    passed = failed = skipped = 0
    skip_lines = []
    notes = []
    failed_suites = set()
    passed_cases = set()  # (classname, case name) of the cases counted as passed
    # meson writes a test's output into the XML as it came, and a fuzz finding (or any binary
    # output) can hold bytes XML does not allow: they are dropped, so the counts still come out.
    with open(junit_path, "rb") as f:
        text = f.read().decode("utf-8", errors="replace")
    text = re.sub("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]", "", text)
    text = re.sub(r"&#(x[0-9a-fA-F]+|[0-9]+);", lambda m: "" if not allowed_in_xml(
        int(m.group(1)[1:], 16) if m.group(1)[0] == "x" else int(m.group(1))) else m.group(0), text)
    root = ET.fromstring(text)
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
                passed_cases.add((case.get("classname", suite_name), case.get("name") or ""))

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
            # A failing TAP case's diagnostics (its "#" lines) are shown once, so that a CI log says
            # why without the test log, which the next suite's run overwrites.
            test_name = result.get("name", "")
            if result.get("result") in ("FAIL", "TIMEOUT", "ERROR"):
                lines = (result.get("stdout") or "").splitlines()
                for i, out_line in enumerate(lines):
                    if out_line.startswith("not ok ") and "# TODO" not in out_line:
                        print(f"{test_name}: {out_line}")
                        for diag in lines[i + 1:i + 21]:
                            if not diag.startswith("#"):
                                break
                            print(f"  {diag[:300]}")
            # TAP skip reasons live in the test's output ("ok 3 - name # SKIP reason").
            for out_line in (result.get("stdout") or "").splitlines():
                if out_line.startswith("# summary: "):
                    notes.append(out_line[len("# summary: "):])
                    continue
                # A known failure ("not ok 3 - name # TODO reason": meson's expected failure, which
                # JUnit shows as a pass) is not a pass: it counts as skipped, with its reason.
                if out_line.startswith("not ok ") and "# TODO" in out_line:
                    text, reason = out_line.split("# TODO", 1)
                    case_name = text[len("not ok "):].strip()
                    key = next((k for k in passed_cases if k[1] == case_name and k[0].endswith(test_name)), None)
                    if key:
                        passed_cases.discard(key)
                        passed -= 1
                        skipped += 1
                        skip_lines.append((f"{key[0]}.{case_name}", "expected failure: " + reason.strip()))
                    continue
                if "# SKIP" in out_line:
                    text, reason = out_line.split("# SKIP", 1)
                    for i, (n, r) in enumerate(skip_lines):
                        if not r and text.split(" - ", 1)[-1].strip() in n:
                            skip_lines[i] = (n, reason.strip())

    # Sanitizer reports, wherever they came from (a child whose status no test checked, too).
    report_dir = sys.argv[3] if len(sys.argv) > 3 else None
    for report in sorted(os.listdir(report_dir)) if report_dir else []:
        failed += 1
        with open(os.path.join(report_dir, report), encoding="utf-8", errors="replace") as f:
            text = f.read().strip().splitlines()
        print(f"FAILED: sanitizer report {report}:")
        for line in text[:40] + (["  ..."] if len(text) > 40 else []):
            print(f"  {line}")

    for name, reason in skip_lines:
        print(f"SKIPPED: {name}: {reason or 'no reason given'}")
    for note in notes:
        print(note)
    summary = f"{passed} passed, {failed} failed"
    if skipped:
        summary += f", {skipped} skipped"
    print(summary)
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
