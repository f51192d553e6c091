#!/usr/bin/env python3
"""Holds a LibOS trace (text) against strace 6.1's output for the same run.

    strace_compare.py STRACE_OUTPUT LIBOS_TRACE [--from NAME] [--table]

Both files are parsed into calls (strace -f's "<unfinished ...>" and "<... resumed>" joined); pids
(and the pids calls return), addresses and the environment's count are set aside. Each call of the
LibOS's trace is matched with the first call of strace's not yet matched that has the same name,
arguments and result (processes interleave differently from run to run), strace's calls left over
being ones the LibOS did not see (glibc makes them inside itself). An argument the LibOS shows as its address where strace
decodes the memory behind it ({...}, [...], "...") counts as "not decoded", not as a difference.

Prints one line per call the LibOS shows that strace has no equal for (with strace's nearest call of
the name), then the counts: calls both see, identical, not decoded, the LibOS's own, and strace's
calls it did not see, by name. Exit status 0 when every call the LibOS shows has its equal. --from
NAME starts both at their first NAME call (the program's marker: calls before it are the loader's
and libc's start-up). --table prints instead, for each system call strace shows, how many calls
strace shows, how many the trace shows too, and how many it does not see (docs/tracing.md's tables). tests/trace/trace_test.py uses it as a module; docs/tracing.md has the
acceptance runs it judged.
"""
import collections
import re
import sys

ADDR_RE = re.compile(r"\b0x[0-9a-f]{5,}\b")
VARS_RE = re.compile(r"/\* \d+ vars? \*/")
# Temporary files (gcc's /tmp/ccAbC123.s, mkstemp's XXXXXX) have another name in each run.
TEMP_RE = re.compile(r"(/tmp/[A-Za-z_.-]*?)[A-Za-z0-9]{6}((?:\.[a-z]+)*)\"")
LIBOS_HEAD = re.compile(r"^(\d+)/(\d+) (?:(?:\d\d:\d\d:\d\d(?:\.\d{6})?| *\d+\.\d{6}) )?([a-z_][a-z_0-9]*)\(")
STRACE_HEAD = re.compile(r"^(?:\[pid +)?(\d+)\]? +([a-z_][a-z_0-9]*)\(")
RESUMED = re.compile(r"^(\d+) +<\.\.\. ([a-z_0-9]+) resumed>")


def split_call(text):
    """text starts just after "name(": the top-level arguments and what follows the closing ")"."""
    args, depth, quote, cur, i = [], 0, False, [], 0
    while i < len(text):
        c = text[i]
        if quote:
            cur.append(c)
            if c == "\\" and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 1
            elif c == '"':
                quote = False
        elif c == '"':
            quote = True
            cur.append(c)
        elif c in "[{(":
            depth += 1
            cur.append(c)
        elif c in "]})":
            if depth == 0 and c == ")":
                if cur or args:
                    args.append("".join(cur).strip())
                return args, text[i + 1:]
            depth -= 1
            cur.append(c)
        elif c == "," and depth == 0:
            args.append("".join(cur).strip())
            cur = []
        elif c == "/" and text[i:i + 2] == "/*" and depth == 0:
            end = text.find("*/", i)
            end = len(text) if end < 0 else end + 2
            cur.append(text[i:end])
            i = end - 1
        else:
            cur.append(c)
        i += 1
    return None, ""


def result_of(rest):
    """The result after the arguments: '3', '-1 ENOENT', '?', or None (a line without one)."""
    m = re.match(r"^ += (\?|-?\d+|0x[0-9a-f]+)(?: (E[A-Z0-9]+))?", rest)
    if not m:
        return None
    return m.group(1) + (" " + m.group(2) if m.group(2) else "")


def parse_strace(text):
    calls, pending = [], {}
    for line in text.splitlines():
        r = RESUMED.match(line)
        if r and r.group(1) in pending:
            line = pending.pop(r.group(1)) + line[r.end():]
        elif line.endswith("<unfinished ...>"):
            h = STRACE_HEAD.match(line)
            if h:
                pending[h.group(1)] = line[:-len("<unfinished ...>")].rstrip()
            continue
        h = STRACE_HEAD.match(line)
        if not h:
            continue
        args, rest = split_call(line[h.end():])
        if args is None:
            continue
        calls.append({"pid": h.group(1), "name": h.group(2), "args": args, "result": result_of(rest),
                      "line": line})
    return calls


def parse_libos(text):
    calls = []
    for line in text.splitlines():
        h = LIBOS_HEAD.match(line)
        if not h:
            continue
        args, rest = split_call(line[h.end():])
        if args is None:
            continue
        calls.append({"pid": h.group(1), "name": h.group(3), "args": args, "result": result_of(rest),
                      "line": line})
    return calls


def from_marker(calls, name):
    for i, c in enumerate(calls):
        if c["name"] == name:
            return calls[i:]
    return []


def normalise(calls):
    """Sets aside what differs from run to run: a pid (an argument or a result that is one of the run's
    pids), addresses, the environment's count and temporary files' names."""
    pids = {c["pid"] for c in calls}

    def norm(text):
        if text is None:
            return None
        if text in pids:
            return "PID"
        text = ADDR_RE.sub("ADDR", text)
        text = VARS_RE.sub("/* N vars */", text)
        return TEMP_RE.sub(lambda m: m.group(1) + "XXXXXX" + (m.group(2) or "") + '"', text)

    for c in calls:
        c["nargs"] = [norm(a) for a in c["args"]]
        c["nresult"] = norm(c["result"])
    return calls


def undecoded(ours, theirs):
    return ours in ("ADDR",) and theirs[:1] in ("{", "[", '"')


def compare(strace_calls, libos_calls):
    """Matches the calls; returns (matches, differences, theirs_unseen). Each call of the LibOS's takes
    the first of strace's not yet taken with the same name, arguments and result (processes run in
    another order from one run to the next, so the order across the trace is not held), or else one
    that differs only by arguments the LibOS shows as their address."""
    by_key = collections.defaultdict(list)
    by_name = collections.defaultdict(list)
    for i, c in enumerate(strace_calls):
        by_key[(c["name"], tuple(c["nargs"]), c["nresult"])].append(i)
        by_name[c["name"]].append(i)
    used = set()
    matches, differences, rest = [], [], []
    for ours in libos_calls:
        queue = by_key.get((ours["name"], tuple(ours["nargs"]), ours["nresult"]), [])
        while queue and queue[0] in used:
            queue.pop(0)
        if queue:
            used.add(queue[0])
            matches.append((ours, strace_calls[queue.pop(0)], []))
        else:
            rest.append(ours)

    def compatible(ours, theirs):
        if len(theirs["nargs"]) != len(ours["nargs"]):
            return False
        if ours["nresult"] not in (None, "?") and theirs["nresult"] not in (None, "?") and \
                ours["nresult"] != theirs["nresult"]:
            return False
        return all(a == b or undecoded(a, b) for a, b in zip(ours["nargs"], theirs["nargs"]))

    for ours in rest:
        found = next((j for j in by_name.get(ours["name"], []) if j not in used
                      and compatible(ours, strace_calls[j])), None)
        if found is None:
            near = next((strace_calls[j] for j in by_name.get(ours["name"], []) if j not in used), None)
            differences.append((ours, near))
            continue
        used.add(found)
        theirs = strace_calls[found]
        matches.append((ours, theirs, [i for i, (a, b) in enumerate(zip(ours["nargs"], theirs["nargs"])) if a != b]))
    unseen = [c for i, c in enumerate(strace_calls) if i not in used]
    return matches, differences, unseen


def table(matches, unseen):
    """Markdown: for each system call strace shows, its calls, those the trace shows too (identical),
    and those it does not see."""
    both = collections.Counter(m[1]["name"] for m in matches)
    missed = collections.Counter(c["name"] for c in unseen)
    rows = ["| call | strace | both see | not seen by the trace |", "| --- | ---: | ---: | ---: |"]
    for name in sorted(set(both) | set(missed), key=lambda n: (-(both[n] + missed[n]), n)):
        rows.append("| `%s` | %d | %d | %d |" % (name, both[name] + missed[name], both[name], missed[name]))
    return "\n".join(rows)


def main(argv):
    args = [a for a in argv[1:] if a != "--table"]
    want_table = len(args) != len(argv) - 1
    if len(args) not in (2, 4) or (len(args) == 4 and args[2] != "--from"):
        sys.stderr.write("usage: strace_compare.py STRACE_OUTPUT LIBOS_TRACE [--from NAME] [--table]\n")
        return 125
    theirs = parse_strace(open(args[0], errors="replace").read())
    ours = parse_libos(open(args[1], errors="replace").read())
    if len(args) == 4:
        theirs, ours = from_marker(theirs, args[3]), from_marker(ours, args[3])
    matches, differences, unseen = compare(normalise(theirs), normalise(ours))
    if want_table:
        print(table(matches, unseen))
        return 1 if differences else 0
    for o, t in differences:
        print("differs: ours   %s" % o["line"])
        print("         strace %s" % (t["line"] if t else "(no call of that name)"))
    loose = sum(1 for m in matches if m[2])
    print("calls both see: %d; identical names, arguments and results: %d; with arguments not decoded: %d; "
          "the LibOS's without an equal: %d" % (len(matches), len(matches) - loose, loose, len(differences)))
    counts = collections.Counter(c["name"] for c in unseen)
    print("strace's calls the LibOS did not see: %d (%s)" %
          (len(unseen), ", ".join("%s %d" % kv for kv in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))))
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
