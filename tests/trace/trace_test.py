#!/usr/bin/env python3
"""Tracing (LIBOS_TRACE, LIBOS_TRACE_STACK, LIBOS_TRACE_FORMAT=json, LIBOS_STATS and the launcher's
--trace, --trace-stack, --trace-format, --stats) and the report of a crash inside the LibOS.

Runs tests/trace/traced_program (TRACE_TEST_PROGRAM), whose modes make exactly known calls, under
the shim (LD_PRELOAD=LIBOS_LIBSHIM) on a virtual machine of 8 vCPUs, and holds the trace against
what the program did:
  - text: every line has the structure PID/TID name(args) = RESULT [/* host [..] */] <libos|host>, and
    each handled call its exact line ({7} and its host CPU, the mask got, [cpu], [node], the quoted
    path, -1 EINVAL (Invalid argument), <host> for getpid), in the program's order;
  - json: every line parses (strict UTF-8) with the fields and values of the same calls;
  - stacks: the frame after the call names the program's function, in text and in JSON;
  - stats: the summary's calls and errors are the program's own counts, per process;
  - fork/exec: the child's lines carry its own pid, the exec'd program's calls are traced;
  - threads: 8 threads x 200 calls, every line whole, the right count per tid;
  - the launcher's flags; the crash hook (LIBOS_TEST_CRASH, test builds) for SIGSEGV, SIGILL, SIGFPE
    and SIGABRT; the program's own fault handlers; nothing at all when tracing is off;
  - edges: a fork child's summary, a relative LIBOS_TRACE across chdir+exec, a program that closes
    and reuses descriptors, non-ASCII paths cut at 96 bytes, long function names, lines with many
    long frames.
TAP output; each check says what it expects, and a failure shows the run's output and trace. About
2 s. LIBOS_LIBSHIM, LIBOS_BUILD_DIR and LIBOS_SOURCE_ROOT come from tests/meson.build's test_env;
TRACE_TEST_PROGRAM and TRACE_TEST_HOOKS from tests/trace/meson.build.
"""
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PROG = os.path.realpath(os.environ["TRACE_TEST_PROGRAM"])
SHIM = os.path.realpath(os.environ["LIBOS_LIBSHIM"])
ROOT = os.environ.get("LIBOS_SOURCE_ROOT") or os.path.realpath(os.path.join(os.path.dirname(__file__), "../.."))
WRAPPER = os.path.join(ROOT, "scripts", "libos-run")
# What the wrapper execs once the build is up to date; the checks after the first use it directly,
# sparing a ninja run each.
LAUNCHER = os.path.join(os.environ.get("LIBOS_BUILD_DIR", os.path.join(ROOT, "build")), "launcher", "libos-run")
HOOKS = os.environ.get("TRACE_TEST_HOOKS", "1") == "1"
VCPUS = 8
LAST = VCPUS - 1
MASK_BYTES = 128  # sizeof(cpu_set_t), the size the program passes
GOT_BYTES = 8  # what sched_getaffinity returns on an 8-vCPU machine: one long

# The host CPUs the machine maps onto: round-robin over this process's CPUs (the launcher's rule and
# the shim's default for LIBOS_CPUS).
HOST_CPUS = sorted(os.sched_getaffinity(0))


def host_of(vcpu):
    return HOST_CPUS[vcpu % len(HOST_CPUS)]


def cpu_list(cpus):
    """Linux's list format: 0-2,5."""
    cpus = sorted(set(cpus))
    out, i = [], 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        out.append(str(cpus[i]) if i == j else "%d-%d" % (cpus[i], cpus[j]))
        i = j + 1
    return ",".join(out)


ALL_HOST = cpu_list(host_of(v) for v in range(VCPUS))
ALL_HOST_LIST = " ".join(str(c) for c in sorted({host_of(v) for v in range(VCPUS)}))  # strace's notation

# One traced call: PID/TID [TIME] name(args) = RESULT [ERRNO (text)] [/* host [list] */] <libos|host> <DURATION>,
# or, for a call that does not return (execve), "..." instead of the result and no duration. TIME
# (--trace-time) is HH:MM:SS, HH:MM:SS.UUUUUU or, relative, seconds with 6 decimals.
CALL_RE = re.compile(
    r"^(?P<pid>\d+)/(?P<tid>\d+) (?:(?P<time>\d\d:\d\d:\d\d(?:\.\d{6})?| *\d+\.\d{6}) )?"
    r"(?P<name>[a-z_][a-z_0-9]*)\((?P<args>.*)\)"
    r"(?: = (?P<result>-?\d+|0x[0-9a-f]+)(?: (?P<errno>E[A-Z0-9]+) \((?P<desc>[^()]+)\)| \((?P<signal>SIG[A-Z0-9_]+)\))?"
    r"| (?P<pending>\.\.\.|= \?))"
    r"(?: /\* host (?:nodes )?\[(?P<host>[0-9 ]*)\](?: -> \[[0-9 ]*\])? \*/)? <(?P<handled>libos|host)>(?: <(?P<duration>\d+\.\d{6})>)?$")
DURATION_RE = re.compile(r" <\d+\.\d{6}>$")


def bare(line):
    """A call line without its duration, which varies from run to run."""
    return DURATION_RE.sub("", line)
# One stack frame: " > OBJECT(FUNCTION+0xOFF) [0xADDR]" (FUNCTION empty when unknown), then " FILE:LINE"
# where the object has debug information (a build with libdw).
FRAME_RE = re.compile(r"^ > (?P<object>[^(]*)\((?P<function>.*)\) \[(?P<offset>0x[0-9a-f]+)\]"
                      r"(?: (?P<file>.+):(?P<line>\d+))?$")
LIBDW = os.environ.get("TRACE_TEST_LIBDW") == "1"

count = 0
failures = 0


def report(name, ok, diag=()):
    """One TAP line. ok may be a callable: an exception in it (a missing field) is a failure."""
    global count, failures
    count += 1
    if callable(ok):
        try:
            ok = ok()
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
            diag = ["(%s: %s)" % (type(e).__name__, e)] + list(diag)
            ok = False
    if ok:
        print("ok %d - %s" % (count, name))
    else:
        failures += 1
        print("not ok %d - %s" % (count, name))
        for item in diag:
            for line in str(item).splitlines()[:60]:
                print("#   " + line)
    sys.stdout.flush()


def skip(name, why):
    global count
    count += 1
    print("ok %d - %s # SKIP %s" % (count, name, why))


class Run:
    def __init__(self, rc, out, err, trace):
        self.rc, self.out, self.err, self.trace = rc, out, err, trace

    def diag(self):
        return ["status %s" % self.rc, "stdout:", self.out, "stderr:", self.err, "trace:", self.trace]


TMP = tempfile.mkdtemp(prefix="libos-trace-test-")
_runs = 0


def clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIBOS_") and k != "LD_PRELOAD"}
    for keep in ("LIBOS_BUILD_DIR", "LIBOS_SOURCE_ROOT"):
        if keep in os.environ:
            env[keep] = os.environ[keep]
    return env


def run(args, cpus=VCPUS, trace=True, fmt=None, stack=False, stats=False, shim=True, extra=None, argv0=None,
        cwd=None, program=PROG, timeout=30, fd_limit=None):
    """Runs program with args; trace=True: to a fresh file, whose text is Run.trace (bytes decoded
    leniently; Run.raw keeps the bytes)."""
    global _runs
    _runs += 1
    env = clean_env()
    if shim:
        env["LD_PRELOAD"] = SHIM
    if cpus:
        env["LIBOS_CPUS"] = str(cpus)
    path = None
    if trace is True:
        path = os.path.join(TMP, "trace-%d.txt" % _runs)
        env["LIBOS_TRACE"] = path
    elif isinstance(trace, str):
        env["LIBOS_TRACE"] = trace
        path = trace if os.path.isabs(trace) else os.path.join(cwd or os.getcwd(), trace)
    if fmt:
        env["LIBOS_TRACE_FORMAT"] = fmt
    if stack:
        env["LIBOS_TRACE_STACK"] = "1"
    if stats:
        env["LIBOS_STATS"] = "1"
    env.update(extra or {})
    argv = [argv0 or program] + list(args)
    # fd_limit: the program starts with that soft RLIMIT_NOFILE (ulimit -n).
    preexec = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, resource.getrlimit(
        resource.RLIMIT_NOFILE)[1]))) if fd_limit else None
    p = subprocess.run(argv, executable=program, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, preexec_fn=preexec)
    raw = b""
    if path and os.path.exists(path):
        with open(path, "rb") as f:
            raw = f.read()
    r = Run(p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"),
            raw.decode(errors="replace"))
    r.raw = raw
    r.path = path
    return r


def lines_of(text):
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")


def calls_of(text):
    """The call lines of a text trace, parsed (frames and summary lines left out)."""
    out = []
    for line in lines_of(text):
        m = CALL_RE.match(line)
        if m:
            out.append(m)
    return out


def summary_lines(text):
    return [l for l in lines_of(text) if l.startswith("libos: summary") or l.startswith("% time")
            or l.startswith("------") or re.match(r"^ *\d+\.\d\d +\d+\.\d{6} ", l)]


def structure_problems(text, allow_frames=False, allow_summary=False):
    """Lines that are neither a call line (nor a frame, nor the summary, when allowed)."""
    bad = []
    summary = set(summary_lines(text)) if allow_summary else set()
    if text and not text.endswith("\n"):
        bad.append("(the file does not end with a newline)")
    for line in lines_of(text):
        m = CALL_RE.match(line)
        if m and (m["duration"] is None) == (m["pending"] is None):
            bad.append("(a returned call needs a duration; a pending one has none) " + line)
            continue
        if m or (allow_frames and FRAME_RE.match(line)) or line in summary:
            continue
        bad.append(line)
    return bad


def values(out, key):
    """The words after `key` on the program's first stdout line that starts with it."""
    for line in out.splitlines():
        if line.startswith(key + " "):
            return line[len(key) + 1:].split()
    return []


def parse_json_lines(raw):
    """(objects, problems): every line must be strict UTF-8 and one JSON object."""
    objects, problems = [], []
    if raw and not raw.endswith(b"\n"):
        problems.append("(the file does not end with a newline)")
    for line in raw.split(b"\n")[:-1] if raw.endswith(b"\n") else raw.split(b"\n"):
        try:
            obj = json.loads(line.decode("utf-8"))
            if not isinstance(obj, dict):
                raise ValueError("not an object")
            objects.append(obj)
        except (ValueError, UnicodeDecodeError) as e:
            problems.append("%s: %r" % (e, line[:300]))
    return objects, problems


def text_summary(text, pid, enclosing=None):
    """{syscall: (calls, errors)} and the total, from the text summary of pid (with enclosing, that of
    the enclosing launch that pid prints too)."""
    rows, total, inside = {}, None, False
    for line in lines_of(text):
        if line.startswith("libos: summary for "):
            inside = line == "libos: summary for the enclosing launch of pid %d" % pid if enclosing else \
                line in ("libos: summary for pid %d" % pid, "libos: summary for the launch of pid %d" % pid)
            continue
        if not inside:
            continue
        m = re.match(r"^ *\d+\.\d\d +\d+\.\d{6} +\d+ +(\d+) +(\d+)? +([a-z_0-9?]+)$", line)
        if m:
            rows[m.group(3)] = (int(m.group(1)), int(m.group(2) or 0))
            continue
        m = re.match(r"^100\.00 +\d+\.\d{6} +(\d+) +(\d+) total$", line)
        if m:
            total = (int(m.group(1)), int(m.group(2)))
            inside = False
    return rows, total


# =================================================================================================
# basic: each handled call's line, text
# =================================================================================================
BASIC_ORDER = ["sched_setaffinity", "sched_getaffinity", "getcpu", "getcpu", "openat", "sched_setaffinity",
               "getpid", "sched_setaffinity", "sched_getaffinity"]


def check_basic_text():
    r = run(["basic"])
    ok = (r.rc == 0 and values(r.out, "getcpu") == [str(LAST), "0"] and values(r.out, "online") and
          values(r.out, "online")[0] == "0-%d" % LAST)
    report("basic: the program runs on the 8-vCPU machine (getcpu %d, online 0-%d)" % (LAST, LAST), ok, r.diag())
    pid = int((values(r.out, "pid") or ["-1"])[0])
    fd = (values(r.out, "online") + ["fd=?"])[1][3:]

    bad = structure_problems(r.trace)
    report("text: every line has the structure PID/TID name(args) = RESULT [/* host [..] */] <libos|host>",
           r.trace != "" and not bad, bad + ["trace:", r.trace])
    calls = calls_of(r.trace)
    report("text: every line carries the program's pid/tid (%d/%d)" % (pid, pid),
           calls and all(int(m["pid"]) == pid and int(m["tid"]) == pid for m in calls), [r.trace])
    names = [m["name"] for m in calls]
    report("text: the handled calls, once each, in the program's order", names == BASIC_ORDER,
           ["expected %s" % BASIC_ORDER, "got      %s" % names])

    lines = [bare(l) for l in lines_of(r.trace)]
    prefix = "%d/%d " % (pid, pid)

    def has(line, what):
        report("text: " + what, prefix + line in lines, ["expected: " + prefix + line, "trace:", r.trace])

    has("sched_setaffinity(0, %d, [%d]) = 0 /* host [%d] */ <libos>" % (MASK_BYTES, LAST, host_of(LAST)),
        "sched_setaffinity shows {%d} and the host CPU it became" % LAST)
    has("sched_getaffinity(0, %d, [%d]) = %d /* host [%d] */ <libos>" % (MASK_BYTES, LAST, GOT_BYTES, host_of(LAST)),
        "sched_getaffinity shows the mask it got and its result")
    report("text: getcpu() and syscall(SYS_getcpu) show [cpu], [node]",
           lines.count(prefix + "getcpu([%d], [0], NULL) = 0 <libos>" % LAST) == 2, [r.trace])
    has('openat(AT_FDCWD, "/sys/devices/system/cpu/online", O_RDONLY) = %s <libos>' % fd,
        "open() shows openat with the quoted path, O_RDONLY (no mode: it does not create) and the descriptor")
    has("sched_setaffinity(0, %d, []) = -1 EINVAL (Invalid argument) /* host [] */ <libos>" % MASK_BYTES,
        "the failing call shows = -1 EINVAL (Invalid argument)")
    report("text: syscall(SYS_getpid) passes through: getpid(...) = PID <host>",
           any(m["name"] == "getpid" and m["result"] == str(pid) and m["handled"] == "host" and not m["host"]
               for m in calls), [r.trace])
    has("sched_setaffinity(0, %d, [%s]) = 0 /* host [%s] */ <libos>" % (MASK_BYTES, " ".join(map(str, range(VCPUS))), ALL_HOST_LIST),
        "a mask of every vCPU shows as strace lists it, [0 1 ... 7], with every host CPU")


# =================================================================================================
# basic: JSON
# =================================================================================================
def check_basic_json():
    r = run(["basic"], fmt="json")
    pid = int((values(r.out, "pid") or ["-1"])[0])
    objs, problems = parse_json_lines(r.raw)
    report("json: every line parses as one JSON object", r.rc == 0 and objs and not problems, problems + r.diag())
    fields = {"v": int, "pid": int, "tid": int, "nr": int, "name": str, "arguments": str, "handled": str,
              "result": int, "usecs": int, "ns": int, "args": list}
    wrong = []
    for o in objs:
        for k, t in fields.items():
            if not isinstance(o.get(k), t) or isinstance(o.get(k), bool):
                wrong.append("%s: %r" % (k, o))
        if "errno" not in o or not (o["errno"] is None or isinstance(o["errno"], str)):
            wrong.append("errno: %r" % o)
        if o.get("handled") not in ("libos", "host") or o.get("pid") != pid or o.get("tid") != pid:
            wrong.append("handled/pid/tid: %r" % o)
        if o.get("v") != 1 or o.get("usecs") != o.get("ns", 0) // 1000:
            wrong.append("v 1, usecs = ns / 1000: %r" % o)
    report("json: fields v (1), pid, tid, nr, syscall, arguments, handled, result, errno, usecs, ns, typed",
           objs and not wrong, wrong[:10])
    names = [o.get("name") for o in objs]
    report("json: the same calls in the same order as text", names == BASIC_ORDER,
           ["expected %s" % BASIC_ORDER, "got      %s" % names])

    def find(pred):
        return [o for o in objs if pred(o)]

    set7 = find(lambda o: o.get("name") == "sched_setaffinity" and o.get("vcpus") == [LAST])
    report("json: sched_setaffinity {%d}: nr 203, arguments, result 0, vcpus [%d], host_cpus [%d]" % (LAST, LAST,
                                                                                                     host_of(LAST)),
           lambda: len(set7) == 1 and set7[0]["nr"] == 203
           and set7[0]["arguments"] == "0, %d, [%d]" % (MASK_BYTES, LAST) and set7[0]["result"] == 0
           and set7[0]["args"] == [0, MASK_BYTES, [LAST]]
           and set7[0]["errno"] is None and set7[0]["handled"] == "libos"
           and set7[0].get("host_cpus") == [host_of(LAST)], set7 or objs)
    got = find(lambda o: o.get("name") == "sched_getaffinity")
    report("json: sched_getaffinity: result %d, vcpus [%d] then [0..%d], host_cpus arrays" % (GOT_BYTES, LAST, LAST),
           lambda: len(got) == 2 and all(o["result"] == GOT_BYTES and o["nr"] == 204 for o in got)
           and got[0].get("vcpus") == [LAST] and got[0].get("host_cpus") == [host_of(LAST)]
           and got[1].get("vcpus") == list(range(VCPUS))
           and got[1].get("host_cpus") == sorted(set(host_of(v) for v in range(VCPUS))), got)
    bad = find(lambda o: o.get("name") == "sched_setaffinity" and o.get("vcpus") == [])
    report("json: the failing call: result -1, errno \"EINVAL\"",
           lambda: len(bad) == 1 and bad[0]["result"] == -1 and bad[0]["errno"] == "EINVAL", bad or objs)
    cpu = find(lambda o: o.get("name") == "getcpu")
    report("json: getcpu: arguments \"[%d], [0], NULL\", args [[%d], [0], null], result 0" % (LAST, LAST),
           lambda: len(cpu) == 2 and all(o["arguments"] == "[%d], [0], NULL" % LAST and o["result"] == 0
                                         and o["args"] == [[LAST], [0], None]
                                         and o["nr"] == 309 for o in cpu), cpu)
    op = find(lambda o: o.get("name") == "openat")
    report("json: openat: the quoted path inside arguments; args [\"AT_FDCWD\", the path, \"O_RDONLY\"]; handled libos",
           lambda: len(op) == 1 and op[0]["arguments"] == 'AT_FDCWD, "/sys/devices/system/cpu/online", O_RDONLY'
           and op[0]["args"] == ["AT_FDCWD", "/sys/devices/system/cpu/online", "O_RDONLY"]
           and op[0]["handled"] == "libos" and op[0]["result"] >= 0, op)
    gp = find(lambda o: o.get("name") == "getpid")
    report("json: getpid: handled host, result the pid, no vcpus",
           lambda: len(gp) == 1 and gp[0]["handled"] == "host" and gp[0]["result"] == pid and gp[0]["nr"] == 39
           and "vcpus" not in gp[0], gp)


# =================================================================================================
# stacks
# =================================================================================================
def check_stacks():
    r = run(["basic"], stack=True)
    lines = lines_of(r.trace)
    bad = structure_problems(r.trace, allow_frames=True)
    report("stack text: every line is a call line or a frame line ' > OBJECT(FUNCTION+0xOFF) [0xADDR]'",
           r.rc == 0 and lines and not bad, bad + r.diag())
    idx = [i for i, l in enumerate(lines) if CALL_RE.match(l) and "sched_setaffinity(0, %d, [%d])" % (MASK_BYTES, LAST)
           in l]
    first = lines[idx[0] + 1] if idx and idx[0] + 1 < len(lines) else ""
    m = FRAME_RE.match(first)
    report("stack text: the first frame after sched_setaffinity names trace_test_caller_function in the program",
           m is not None and m["function"].startswith("trace_test_caller_function+0x")
           and m["object"] == PROG, ["first frame: " + first, r.trace])
    frames = [FRAME_RE.match(l) for l in lines if FRAME_RE.match(l)]
    own = [f.group(0) for f in frames if re.search(r"lib(shim|pal|os_unwind)\.so$", f["object"])]
    report("stack text: the LibOS's own frames are left out; main is there",
           frames and not own and any(f["function"].startswith("main+") for f in frames), own or [r.trace])
    calls_without = [lines[i] for i, l in enumerate(lines)
                     if CALL_RE.match(l) and not (i + 1 < len(lines) and FRAME_RE.match(lines[i + 1]))]
    report("stack text: every call line is followed by its frames", not calls_without, calls_without)

    j = run(["basic"], fmt="json", stack=True)
    objs, problems = parse_json_lines(j.raw)
    set7 = [o for o in objs if o.get("name") == "sched_setaffinity" and o.get("vcpus") == [LAST]]
    stack = set7[0].get("stack") if set7 else None
    good = (isinstance(stack, list) and stack and all(
        isinstance(f, dict) and isinstance(f.get("object"), str) and isinstance(f.get("function"), str)
        and isinstance(f.get("offset"), int) and isinstance(f.get("address"), int) for f in stack))
    report("stack json: a \"stack\" array of {object, function, offset, address}, its first frame "
           "trace_test_caller_function",
           not problems and good and stack[0]["function"] == "trace_test_caller_function"
           and stack[0]["object"] == PROG,
           problems + [set7 or j.raw])
    c = run(["cxx"], stack=True)
    lines = lines_of(c.trace)
    first = FRAME_RE.match(lines[1]) if len(lines) > 1 else None
    # Names are demangled in libos_unwind.so by libiberty's allocation-free callback demangler.
    report("stack text: a C++ frame is named demangled: trace_test::cxx_frame(int)+0x...",
           c.rc == 0 and first is not None and first["function"].startswith("trace_test::cxx_frame(int)+0x"),
           c.diag())
    check_addr2line(r, j)
    check_source(r, j)
    report("stack json: every call has a stack", objs and all(isinstance(o.get("stack"), list) and o["stack"]
                                                             for o in objs), objs)


def check_addr2line(text_run, json_run):
    """The frame's [0xOFFSET] (and JSON's module_offset) is the address inside the object, as strace -k
    prints it: addr2line -f -e OBJECT OFFSET names the function and its source file."""
    if not shutil.which("addr2line"):
        skip("stack: addr2line resolves the frames", "addr2line (binutils) is not installed")
        return
    lines = lines_of(text_run.trace)
    idx = [i for i, l in enumerate(lines) if CALL_RE.match(l) and "sched_setaffinity(0, %d, [%d])" % (MASK_BYTES, LAST)
           in l]
    frame = lines[idx[0] + 1] if idx and idx[0] + 1 < len(lines) else ""
    m = FRAME_RE.match(frame)
    out = subprocess.run(["addr2line", "-f", "-e", m["object"], m["offset"]], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=30).stdout.decode().split("\n") if m else []
    report("stack text: addr2line -f -e OBJECT 0xOFFSET of the first frame names trace_test_caller_function in "
           "traced_program.cpp",
           len(out) >= 2 and out[0] == "trace_test_caller_function" and "traced_program.cpp:" in out[1],
           ["frame: " + frame, "addr2line: %s" % out])
    objs, _ = parse_json_lines(json_run.raw)
    set7 = [o for o in objs if o.get("name") == "sched_setaffinity" and o.get("vcpus") == [LAST]]
    frame = (set7[0].get("stack") or [{}])[0] if set7 else {}
    out = subprocess.run(["addr2line", "-f", "-e", frame.get("object", "/nonexistent"),
                          hex(frame.get("module_offset", 0))], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=30).stdout.decode().split("\n") if frame else []
    report("stack json: module_offset, given to addr2line with the frame's object, names the function",
           len(out) >= 2 and out[0] == "trace_test_caller_function" and isinstance(frame.get("address"), int)
           and frame.get("address") != frame.get("module_offset"), ["frame: %s" % frame, "addr2line: %s" % out])


def addr2line_source(obj, offset):
    """binutils' addr2line's FILE:LINE for OFFSET in OBJ, without its '(discriminator N)'."""
    out = subprocess.run(["addr2line", "-e", obj, hex(offset)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=30).stdout.decode().strip()
    return re.sub(r" \(discriminator \d+\)$", "", out)


def check_source(text_run, json_run):
    """file:line (libdw): every frame of the program (built with -g) shows its source file and line, the
    same as addr2line's for the frame's call (its offset less one: a return address may already be
    the next line's); a copy of the program without debug information shows none, and still runs."""
    if LIBDW and os.environ.get("LIBOS_TEST_SANITIZERS"):
        skip("stack: file:line", "a sanitizer build: ASan's runtime refuses RTLD_DEEPBIND, without which "
             "libos_unwind.so does not use libdw (docs/tracing.md)")
        return
    if not LIBDW:
        frames = [FRAME_RE.match(l) for l in lines_of(text_run.trace)]
        with_source = [f.group(0) for f in frames if f and f["file"]]
        report("stack: a build without libdw shows no file:line", not with_source, with_source)
        return
    if not shutil.which("addr2line"):
        skip("stack: file:line as addr2line gives it", "addr2line (binutils) is not installed")
        return
    own = [f for f in (FRAME_RE.match(l) for l in lines_of(text_run.trace)) if f and f["object"] == PROG
           and not f["function"].startswith("_start")]
    wrong = []
    for f in own:
        want = addr2line_source(PROG, int(f["offset"], 16) - 1)
        if not f["file"] or "%s:%s" % (f["file"], f["line"]) != want:
            wrong.append("%s  (addr2line: %s)" % (f.group(0), want))
    report("stack text: each frame of the program built with -g shows FILE:LINE, the same as addr2line -e "
           "OBJECT 0xOFFSET-1 (%d frames)" % len(own),
           own and not wrong and all(f["file"].endswith("traced_program.cpp") for f in own), wrong or [text_run.trace])
    objs, _ = parse_json_lines(json_run.raw)
    set7 = [o for o in objs if o.get("name") == "sched_setaffinity" and o.get("vcpus") == [LAST]]
    frame = (set7[0].get("stack") or [{}])[0] if set7 else {}
    want = addr2line_source(PROG, frame.get("module_offset", 1) - 1) if frame else ""
    report("stack json: the first frame's \"file\" and \"line\" are addr2line's for its module_offset-1",
           isinstance(frame.get("line"), int) and "%s:%d" % (frame.get("file"), frame.get("line")) == want
           and frame["file"].endswith("traced_program.cpp"), ["frame: %s" % frame, "addr2line: " + want])
    # Stacks and file:line take none of the program's memory: a program that counts its own mallocs.
    counter = os.environ.get("TRACE_TEST_MALLOC_COUNTING")
    if not counter:
        skip("stack: no malloc of the program's during traced calls", "no counting program")
    else:
        m = run(["50"], stack=True, program=counter)
        counts = dict(re.findall(r"^(first|mallocs): (\d+)$", m.out, re.M))
        report("stack: 50 traced calls with stacks and file:line call the program's malloc, free and the rest "
               "0 times (libunwind and libdw allocate from libos_unwind.so's arena), the first one too (the "
               "thread-local blocks of libunwind, libdw and libelf were allocated when the library was loaded)",
               m.rc == 0 and counts.get("mallocs") == "0" and counts.get("first") == "0"
               and "malloc_counting.c:" in m.trace, m.diag())
        # A new thread's first stack, in a signal handler: its thread-local blocks were allocated when
        # the thread started (the shim's pthread_create), with and without a machine.
        for cpus in (VCPUS, None):
            t = run(["thread-signal"], stack=True, program=counter, cpus=cpus)
            report("stack: a new thread's first traced call with a stack, in a signal handler, calls the "
                   "program's malloc family 0 times (%s)" % ("a machine" if cpus else "no machine"),
                   t.rc == 0 and "handler: 0" in t.out and "sched_getaffinity(" in t.trace, t.diag())
    # The descriptors libdw, libelf and libunwind keep open (the objects looked up, libunwind's pipe)
    # are out of the program's way: its next open gets the number it gets natively.
    probe = "import os; os.sched_getaffinity(0); os.sched_getaffinity(0); print('fd', os.open('/', os.O_RDONLY))"
    native = run(["-c", probe], trace=False, cpus=None, shim=False, program=sys.executable)
    traced = run(["-c", probe], stack=True, program=sys.executable)
    report("stack: after traced calls with stacks and file:line, the program's next descriptor is the one it "
           "gets natively (%s)" % native.out.strip(),
           native.rc == 0 and traced.rc == 0 and native.out.startswith("fd ") and traced.out == native.out
           and " > " in traced.trace, [native.out] + traced.diag())
    # The same under a descriptor limit of 64 (ulimit -n 64), where no number reaches 700: the stacks'
    # descriptors still leave the program's next one where it is without them.
    plain = run(["-c", probe], program=sys.executable, fd_limit=64)
    low = run(["-c", probe], stack=True, program=sys.executable, fd_limit=64)
    report("stack: under ulimit -n 64, after traced calls with stacks and file:line, the program's next "
           "descriptor is the one it gets traced without stacks (%s)" % plain.out.strip(),
           plain.rc == 0 and low.rc == 0 and plain.out.startswith("fd ") and low.out == plain.out
           and " > " in low.trace, [plain.out] + low.diag())
    # A library libdw needs (zlib), loaded by the program with dlopen after start-up, is the copy
    # libos_unwind.so loaded: its allocations outside the LibOS's lookups are the program's, as
    # natively, and not limited to (nor leaked in) the arena.
    late = os.environ.get("TRACE_TEST_LATE_ZLIB")
    if not late:
        skip("stack: a zlib the program loads later allocates as natively", "no zlib.h in this build")
    else:
        native = run(["300"], trace=False, cpus=None, shim=False, program=late)
        z = run(["300"], stack=True, program=late)
        report("stack: a program that loads zlib with dlopen and keeps 300 deflate streams (about 120 MiB) "
               "open starts them all, as natively",
               native.rc == 0 and z.rc == 0 and "streams: 300" in z.out, [native.out, z.out] + z.diag())
        # That zlib's gzopen opens the program's file, not the unwinder's: the number and the flags
        # it gets natively (not moved to 700 and up, close-on-exec, as libdw's own are).
        gzpath = os.path.join(TMP, "late.gz")
        native = run(["1", gzpath], trace=False, cpus=None, shim=False, program=late)
        z = run(["1", gzpath], stack=True, program=late)
        report("stack: a zlib the program loads later opens its gzopen's file at the number and with the flags "
               "it has natively (%s)" % native.out.strip().split("\n")[-1],
               native.rc == 0 and z.rc == 0 and "gzopen: opened" in native.out and z.out == native.out,
               [native.out, z.out] + z.diag())
    # The same program without its debug information: no file:line for its own frames, nothing else lost.
    bare_prog = os.path.join(TMP, "traced_program_nodebug")
    subprocess.run(["objcopy", "--strip-debug", PROG, bare_prog], check=True, timeout=60)
    b = run(["basic"], stack=True, program=bare_prog)
    frames = [FRAME_RE.match(l) for l in lines_of(b.trace)]
    mine = [f for f in frames if f and f["object"] == bare_prog]
    report("stack text: the program without debug information (objcopy --strip-debug): its frames have no "
           "file:line, and are still named",
           b.rc == 0 and mine and not any(f["file"] for f in mine)
           and any(f["function"].startswith("trace_test_caller_function+") for f in mine), b.diag())


# =================================================================================================
# stats
# =================================================================================================
def check_stats():
    r = run(["basic"], stats=True)
    pid = int((values(r.out, "pid") or ["-1"])[0])
    made = {}
    for line in r.out.splitlines():
        if line.startswith("calls "):
            _, name, calls, errors = line.split()
            made[name] = (int(calls), int(errors))
    rows, total = text_summary(r.trace, pid)
    report("stats text: the summary counts the program's sched_setaffinity (%s) and sched_getaffinity (%s)"
           % (made.get("sched_setaffinity"), made.get("sched_getaffinity")),
           r.rc == 0 and made.get("sched_setaffinity") == (3, 1) and made.get("sched_getaffinity") == (2, 0)
           and rows.get("sched_setaffinity") == made["sched_setaffinity"]
           and rows.get("sched_getaffinity") == made["sched_getaffinity"], ["rows %s" % rows] + r.diag())
    traced = {}
    for m in calls_of(r.trace):
        c, e = traced.get(m["name"], (0, 0))
        traced[m["name"]] = (c + 1, e + (1 if m["errno"] else 0))
    report("stats text: every row equals the traced lines of that call (getcpu 2, openat 1, getpid 1)",
           rows == traced and rows.get("getcpu") == (2, 0) and rows.get("openat") == (1, 0)
           and rows.get("getpid") == (1, 0), ["summary %s" % rows, "lines   %s" % traced])
    report("stats text: the total line: 9 calls, 1 error", total == (9, 1), ["total %s" % (total,), r.trace])
    bad = structure_problems(r.trace, allow_summary=True)
    report("stats text: the summary's lines and the trace's lines, nothing else", not bad, bad)

    r = run(["truncstats"], stats=True)
    m = re.search(r"summary for the launch of pid (\d+)", r.trace)
    rows, _ = text_summary(r.trace, int(m.group(1))) if m else ({}, None)
    report("stats: the launch's counts cannot be truncated under it (a sealed memfd): ftruncate fails with "
           "EPERM and the summary counts the call after it", r.rc == 0 and "ftruncate -1 EPERM" in r.out
           and rows.get("sched_getaffinity") == (1, 0), r.diag())
    r = run(["basic"], stats=True, extra={"LIBOS_STATS_FD": "0"}, cwd=TMP)
    report("stats: LIBOS_STATS_FD naming a descriptor that is not the launch's counts (standard input) is not "
           "used: a summary of its own", r.rc == 0 and "summary for the launch of pid" in r.trace, r.diag())

    r = run(["vfork-exec"], trace=False, extra={"LIBOS_STATS": "per-process"})
    parent = int((values(r.out, "parent") or ["-1"])[0])
    child = int((values(r.out, "vforked") or ["-1"])[0])
    prows, _ = text_summary(r.err, parent)
    crows, _ = text_summary(r.err, child)
    report("stats=per-process, vfork then exec: the parent's table holds its 4 sched_getaffinity (the child, "
           "in its memory until exec, neither prints nor clears it); the exec'd child's its own one",
           r.rc == 0 and prows.get("sched_getaffinity") == (4, 0) and crows.get("sched_getaffinity") == (1, 0)
           and crows.get("sched_setaffinity") == (1, 0) and r.err.count("libos: summary for pid") == 2,
           ["parent %d %s" % (parent, prows), "child %d %s" % (child, crows)] + r.diag())

    r = run(["execvp"], trace=False, extra={"LIBOS_STATS": "per-process",
                                            "PATH": "/nonexistent-libos-trace-test:" + os.path.dirname(PROG)})
    tables = r.err.split("libos: summary for pid ")[1:]
    first = [l.split()[-1] for l in tables[0].splitlines() if re.match(r"^ *\d+\.\d\d ", l)] if tables else []
    report("stats=per-process, execvp (libc's own exec, through PATH): the program's table is printed before "
           "the exec, as before an execve, and the exec'd program's after",
           r.rc == 0 and len(tables) == 2 and "sched_getaffinity" in first and "sched_setaffinity" not in first
           and "sched_setaffinity" in tables[1], ["first table's rows %s" % first] + r.diag())

    j = run(["basic"], fmt="json", stats=True)
    objs, problems = parse_json_lines(j.raw)
    st = [o for o in objs if "stats" in o]
    byname = {s.get("name"): (s.get("calls"), s.get("errors")) for s in st[0]["stats"]} if st else {}
    report("stats json: one {pid, stats: [...], calls, errors} object with the same counts",
           not problems and len(st) == 1 and byname.get("sched_setaffinity") == (3, 1)
           and byname.get("sched_getaffinity") == (2, 0) and st[0].get("calls") == 9 and st[0].get("errors") == 1
           and st[0].get("pid") == int((values(j.out, "pid") or ["-1"])[0]), problems + [st or j.raw])

    s = run(["basic"], trace=False, stats=True)
    rows, total = text_summary(s.err, int((values(s.out, "pid") or ["-1"])[0]))
    report("stats alone: the summary on stderr, no trace lines",
           s.rc == 0 and total == (9, 1) and rows.get("sched_setaffinity") == (3, 1) and not calls_of(s.err),
           s.diag())


# =================================================================================================
# fork and exec
# =================================================================================================
def check_fork_exec():
    r = run(["fork"], stats=True, extra={"LIBOS_STATS": "per-process"})
    parent = int((values(r.out, "parent") or ["0", "-1"])[1])
    child = int((values(r.out, "forked") or ["-1"])[0])
    calls = calls_of(r.trace)
    pids = {int(m["pid"]) for m in calls}
    report("fork/exec: lines from two pids, the parent's and the child's",
           r.rc == 0 and pids == {parent, child} and parent != child, ["pids %s" % pids] + r.diag())
    lines = [bare(l) for l in lines_of(r.trace)]
    exec_line = '%d/%d execve("%s", ' % (child, child, PROG)
    i_exec = next((i for i, l in enumerate(lines) if l.startswith(exec_line) and l.endswith(") = 0 <libos>")), None)
    after = "%d/%d sched_setaffinity(0, %d, [0]) = 0 /* host [%d] */ <libos>" % (child, child, MASK_BYTES, host_of(0))
    i_after = lines.index(after) if after in lines else None
    report("fork/exec: the child's execve line, one, = 0 (printed by the exec'd program, as strace -f prints it "
           "once the exec returned), then the exec'd program's calls with the child's pid",
           i_exec is not None and i_after is not None and i_exec < i_after
           and sum(1 for l in lines if l.startswith(exec_line)) == 1
           and "%d/%d getpid(" % (child, child) in r.trace, ["expected %s... and %s" % (exec_line, after), r.trace])
    report("fork/exec: the parent's calls after the child carry the parent's pid",
           any(int(m["pid"]) == parent and m["name"] == "sched_getaffinity" for m in calls)
           and any(int(m["pid"]) == parent and m["name"] == "getpid" and m["result"] == str(parent) for m in calls),
           [r.trace])
    crow, ctot = text_summary(r.trace, child)
    prow, ptot = text_summary(r.trace, parent)
    report("fork/exec, LIBOS_STATS=per-process: each process's summary counts its own calls (the child's execve "
           "in the table it prints before it)",
           crow == {"execve": (1, 0), "sched_setaffinity": (1, 0), "sched_getaffinity": (1, 0), "getpid": (1, 0)}
           and prow == {"readlink": (1, 0), "sched_getaffinity": (1, 0), "getpid": (1, 0)},
           ["child %s" % crow, "parent %s" % prow, r.trace])
    bad = structure_problems(r.trace, allow_summary=True)
    report("fork/exec: every line whole", not bad, bad)

    j = run(["fork"], fmt="json")
    objs, problems = parse_json_lines(j.raw)
    child = int((values(j.out, "forked") or ["-1"])[0])
    pending = [o for o in objs if o.get("name") == "execve"]
    report("fork/exec json: every line parses; two pids; the child's execve object, one, has \"result\":0 and "
           "its duration",
           not problems and {o.get("pid") for o in objs} == {child, int((values(j.out, "parent") or ["0", "-1"])[1])}
           and len(pending) == 1 and pending[0].get("pid") == child and pending[0].get("result") == 0
           and pending[0].get("errno") is None and isinstance(pending[0].get("ns"), int),
           problems + [j.raw])

    # One summary for the launch (LIBOS_STATS=1): printed once, by the first process, with the
    # calls of both, the child's before and after its exec.
    a = run(["fork"], stats=True)
    parent = int((values(a.out, "parent") or ["0", "-1"])[1])
    rows, total = text_summary(a.trace, parent)
    heads = [l for l in lines_of(a.trace) if l.startswith("libos: summary")]
    report("fork/exec, LIBOS_STATS=1: one summary, the launch's, printed by the parent, counting both processes",
           a.rc == 0 and heads == ["libos: summary for the launch of pid %d" % parent]
           and rows == {"sched_setaffinity": (1, 0), "sched_getaffinity": (2, 0), "getpid": (2, 0), "readlink": (1, 0),
                        "execve": (1, 0)}
           and total == (7, 0), ["rows %s" % rows, "total %s" % (total,)] + a.diag())

    # A child forked without exec: its summary (at its exit) must count its own calls only.
    f = run(["fork-noexec"], stats=True, extra={"LIBOS_STATS": "per-process"})
    child = int((values(f.out, "child") or ["-1"])[0])
    parent = int((values(f.out, "parent") or ["-1"])[0])
    crow, _ = text_summary(f.trace, child)
    prow, _ = text_summary(f.trace, parent)
    report("fork without exec, LIBOS_STATS=per-process: the child's summary counts only the child's calls "
           "(1 sched_getaffinity, no sched_setaffinity)",
           f.rc == 0 and crow == {"sched_getaffinity": (1, 0)}
           and prow == {"sched_setaffinity": (3, 0), "sched_getaffinity": (1, 0)},
           ["child %d: %s" % (child, crow), "parent %d: %s" % (parent, prow), f.trace])

    f = run(["fork-noexec"], stats=True)
    parent = int((values(f.out, "parent") or ["-1"])[0])
    rows, total = text_summary(f.trace, parent)
    report("fork without exec, LIBOS_STATS=1: one summary, the parent's, with the child's sched_getaffinity in it",
           f.rc == 0 and rows == {"sched_setaffinity": (3, 0), "sched_getaffinity": (2, 0)}
           and sum(1 for l in lines_of(f.trace) if l.startswith("libos: summary")) == 1, f.diag())
    j = run(["fork"], fmt="json", stats=True)
    objs, problems = parse_json_lines(j.raw)
    st = [o for o in objs if "stats" in o]
    report('fork/exec json, LIBOS_STATS=1: one summary object, "scope":"launch", 7 calls (execve counted)',
           not problems and len(st) == 1 and st[0].get("scope") == "launch" and st[0].get("calls") == 7
           and st[0].get("v") == 1, problems + [st or j.raw])
    if os.access(LAUNCHER, os.X_OK):
        for flag, want in (("--stats=per-process", 3), ("--stats", 1)):
            r = launcher(["--cpus", str(VCPUS), flag], ["fork"])
            heads = [l for l in lines_of(r.err) if l.startswith("libos: summary")]
            report("libos-run %s across fork/exec: %d summar%s" % (flag, want, "ies (the child's before and after "
                                                                   "its exec, the parent's)" if want > 1 else "y"),
                   r.rc == 0 and len(heads) == want, r.diag())
        r = launcher(["--cpus", str(VCPUS), "--stats=each"], ["basic"])
        report("libos-run --stats=each: 125 and one line naming the token",
               r.rc == 125 and r.err == "libos-run: --stats: bad token 'each': expected 1 (one summary for the launch), "
               "per-process or 0 (off)\n" and r.out == "", r.diag())

    # A relative LIBOS_TRACE (as --trace=FILE gives it): a child exec'd after chdir still writes to
    # the same file.
    work = tempfile.mkdtemp(dir=TMP)
    os.mkdir(os.path.join(work, "sub"))
    c = run(["chdir-exec", "sub"], trace="rel-trace.txt", cwd=work)
    child = int((values(c.out, "forked") or ["-1"])[0])
    stray = os.path.join(work, "sub", "rel-trace.txt")
    report("relative LIBOS_TRACE: a child exec'd after chdir writes to the launch's file, not to one in its cwd",
           c.rc == 0 and "%d/%d sched_setaffinity(" % (child, child) in c.trace and not os.path.exists(stray),
           ["%s exists: %s" % (stray, os.path.exists(stray))] + c.diag())


# =================================================================================================
# threads
# =================================================================================================
def per_tid(calls, name):
    out = {}
    for m in calls:
        if m["name"] == name:
            out[int(m["tid"])] = out.get(int(m["tid"]), 0) + 1
    return out


def check_threads():
    n, m = 8, 200
    r = run(["threads", str(n), str(m)])
    tids = {int(t) for line in r.out.splitlines() if line.startswith("tid ") for t in line.split()[1:]}
    bad = structure_problems(r.trace)
    report("threads text (%dx%d): every line of the file whole and well-formed" % (n, m),
           r.rc == 0 and not bad and r.trace, bad[:20] + ["status %s" % r.rc, r.err])
    calls = calls_of(r.trace)
    got = per_tid(calls, "sched_getaffinity")
    sets = per_tid(calls, "sched_setaffinity")
    report("threads text: %d sched_getaffinity and 1 sched_setaffinity lines per thread's tid" % m,
           len(tids) == n and got == {t: m for t in tids} and sets == {t: 1 for t in tids},
           ["tids %s" % sorted(tids), "getaffinity per tid %s" % got, "setaffinity per tid %s" % sets])
    pid = {int(c["pid"]) for c in calls}
    report("threads text: one pid, the threads' own tids", len(pid) == 1 and tids <= {int(c["tid"]) for c in calls},
           [pid])

    j = run(["threads", str(n), str(m)], fmt="json", stats=True)
    objs, problems = parse_json_lines(j.raw)
    tids = {int(t) for line in j.out.splitlines() if line.startswith("tid ") for t in line.split()[1:]}
    cnt = {}
    for o in objs:
        if o.get("name") == "sched_getaffinity":
            cnt[o.get("tid")] = cnt.get(o.get("tid"), 0) + 1
    st = [o for o in objs if "stats" in o]
    srow = {s.get("name"): s.get("calls") for s in st[0]["stats"]} if st else {}
    report("threads json (%dx%d): every line parses, %d per tid, stats %d sched_getaffinity" % (n, m, m, n * m),
           j.rc == 0 and not problems and cnt == {t: m for t in tids} and len(tids) == n
           and srow.get("sched_getaffinity") == n * m and srow.get("sched_setaffinity") == n,
           problems[:20] + ["per tid %s" % cnt, "stats %s" % srow])

    k = 50
    s = run(["threads", str(n), str(k)], stack=True)
    lines = lines_of(s.trace)
    bad = structure_problems(s.trace, allow_frames=True)
    orphan = [i for i, l in enumerate(lines) if CALL_RE.match(l) and "sched_getaffinity" in l
              and not (i + 1 < len(lines) and FRAME_RE.match(lines[i + 1])
                       and FRAME_RE.match(lines[i + 1])["function"].startswith("trace_test_thread_body+"))]
    report("threads with stacks (%dx%d): every line whole; each call's own frames follow it "
           "(first frame trace_test_thread_body)" % (n, k),
           s.rc == 0 and lines and not bad and not orphan and len(calls_of(s.trace)) >= n * (k + 1),
           bad[:10] + [lines[i] for i in orphan[:5]] + [s.err])


# =================================================================================================
# the launcher's flags
# =================================================================================================
def launcher(flags, args, cwd=None, wrapper=False):
    env = clean_env()
    p = subprocess.run([WRAPPER if wrapper else LAUNCHER] + flags + ["--", PROG] + args, env=env, cwd=cwd,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return Run(p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"), "")


def check_nested_stats():
    """A libos-run --stats inside a launch with --stats: the inner launch prints its own summary, and
    the enclosing one counts the inner launch's calls too, as strace -f -c counts a nested program's
    (its first process, which exec'd the inner libos-run, prints both, the inner one first)."""
    if not os.access(LAUNCHER, os.X_OK):
        skip("nested --stats", "%s not found" % LAUNCHER)
        return
    env = clean_env()
    p = subprocess.run([LAUNCHER, "--cpus", str(VCPUS), "--stats", "--", LAUNCHER, "--cpus", "2", "--stats", "--",
                        PROG, "basic"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    pid = int((values(out, "pid") or ["-1"])[0])
    inner, inner_total = text_summary(err, pid)
    outer, outer_total = text_summary(err, pid, enclosing=True)
    heads = [l for l in lines_of(err) if l.startswith("libos: summary")]
    report("nested libos-run --stats: two summaries, the inner launch's (its sched_setaffinity 3 calls, 1 error) "
           "then the enclosing launch's, which holds every inner call too",
           p.returncode == 0 and heads == ["libos: summary for the launch of pid %d" % pid,
                                           "libos: summary for the enclosing launch of pid %d" % pid]
           and inner.get("sched_setaffinity") == (3, 1)
           and all(outer.get(k, (0, 0))[0] >= v[0] for k, v in inner.items())
           and outer_total and inner_total and outer_total[0] >= inner_total[0],
           ["inner %s" % inner, "outer %s" % outer, "stdout:", out, "stderr:", err])
    # Without --stats inside: the inner launch's calls still count in the enclosing summary.
    p = subprocess.run([LAUNCHER, "--stats", "--", LAUNCHER, "--cpus", "2", "--", PROG, "basic"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    pid = int((values(out, "pid") or ["-1"])[0])
    outer, _ = text_summary(err, pid, enclosing=True)
    report("nested libos-run without --stats inside a launch with --stats: one summary, the enclosing launch's, "
           "with the inner program's sched_setaffinity calls (3, 1 error)",
           p.returncode == 0 and len([l for l in lines_of(err) if l.startswith("libos: summary")]) == 1
           and outer.get("sched_setaffinity") == (3, 1), ["outer %s" % outer, "stdout:", out, "stderr:", err])


def check_exit_stats():
    """The launch's summary, whatever way its first process ends: dash's _exit (after a subshell, which
    ends with _exit too), exit_group through syscall(), and a shell whose children are exec'd with the
    shell's own copy of its first environment (bash's command substitution): one summary, as strace
    -f -c prints one."""
    if not os.access(LAUNCHER, os.X_OK):
        skip("--stats at _exit", "%s not found" % LAUNCHER)
        return
    env = clean_env()
    for shell, script, status, exits in (("/bin/sh", "(:); exit 0", 0, 2), ("/bin/sh", "exit 3", 3, 1),
                                         ("/bin/bash", "x=$(/bin/echo hi); test $x = hi", 0, None)):
        if not os.access(shell, os.X_OK):
            skip("--stats of %s" % shell, "no %s" % shell)
            continue
        p = subprocess.run([LAUNCHER, "--stats", "--", shell, "-c", script], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        err = p.stderr.decode(errors="replace")
        heads = [l for l in lines_of(err) if l.startswith("libos: summary")]
        rows = [l.split() for l in lines_of(err) if l.endswith(" exit_group")]
        report("libos-run --stats -- %s -c '%s': status %d, one summary for the launch%s" % (
                   shell, script, status, ", with %d exit_group" % exits if exits else ""),
               p.returncode == status and len(heads) == 1 and heads[0].startswith("libos: summary for the launch of pid")
               and (exits is None or (len(rows) == 1 and rows[0][3] == str(exits))), [err])
    p = subprocess.run([LAUNCHER, "--stats", "--trace", "--", PROG, "exit-group"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    err = p.stderr.decode(errors="replace")
    lines = lines_of(err)
    at = [i for i, l in enumerate(lines) if "exit_group(4)" in l]
    heads = [i for i, l in enumerate(lines) if l.startswith("libos: summary for the launch")]
    report("exit_group through syscall(): status 4, its line, then the launch's summary with it counted",
           p.returncode == 4 and len(at) == 1 and len(heads) == 1 and at[0] < heads[0]
           and any(l.endswith(" exit_group") for l in lines[heads[0]:]), [err])


def check_spawn():
    """posix_spawn and posix_spawnp make their exec inside glibc, which the table does not see: the
    shim formats the exec's line and the new program prints it, = 0, with its own pid, as strace -f
    shows the child's execve."""
    if not os.access(LAUNCHER, os.X_OK):
        skip("posix_spawn's exec", "%s not found" % LAUNCHER)
        return
    true = shutil.which("true") or "/bin/true"
    code = ("import os; p = os.posix_spawn(%r, ['true', 'a'], os.environ); os.waitpid(p, 0); "
            "q = os.posix_spawnp('true', ['true', 'b'], os.environ); os.waitpid(q, 0); print(os.getpid(), p, q)" % true)
    for fmt in (None, "json"):
        args = [LAUNCHER, "--trace-filter=execve"] + (["--trace-format=json"] if fmt else []) + ["--", sys.executable,
                                                                                                "-c", code]
        p = subprocess.run(args, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        out, err = p.stdout.decode(errors="replace").split(), p.stderr.decode(errors="replace")
        if fmt:
            objs, problems = parse_json_lines(p.stderr)
            got = [(o.get("pid"), o.get("args", [None, []])[1], o.get("result")) for o in objs if o.get("name") == "execve"
                   and o.get("result") == 0]
            want = [(int(out[1]), ["true", "a"], 0), (int(out[2]), ["true", "b"], 0)] if len(out) == 3 else None
        else:
            problems = []
            got = [(int(m["pid"]), m["args"].split(", [")[1].split("]")[0], m["result"]) for m in calls_of(err)
                   if m["name"] == "execve" and m["result"] == "0"]
            want = [(int(out[1]), '"true", "a"', "0"), (int(out[2]), '"true", "b"', "0")] if len(out) == 3 else None
        report("%s: posix_spawn's and posix_spawnp's execs each have their line, = 0, with the child's pid, as "
               "strace -f shows them" % (fmt or "text"), p.returncode == 0 and not problems and got == want,
               ["got %s" % got, "want %s" % want, err])


def check_launcher():
    if not os.access(WRAPPER, os.X_OK) or not os.access(LAUNCHER, os.X_OK):
        skip("launcher flags", "%s or %s not found" % (WRAPPER, LAUNCHER))
        return
    path = os.path.join(TMP, "launcher-text.txt")
    r = launcher(["--cpus", str(VCPUS), "--trace=" + path], ["basic"], wrapper=True)
    r.trace = open(path).read() if os.path.exists(path) else ""
    pid = int((values(r.out, "pid") or ["-1"])[0])
    names = [m["name"] for m in calls_of(r.trace)]
    report("scripts/libos-run --cpus 8 --trace=FILE: the same lines, in FILE, nothing on stderr",
           r.rc == 0 and r.err == "" and not structure_problems(r.trace) and names == BASIC_ORDER
           and "%d/%d sched_setaffinity(0, %d, [%d]) = 0 /* host [%d] */ <libos>" % (pid, pid, MASK_BYTES, LAST,
                                                                                  host_of(LAST)) in r.trace,
           r.diag())

    r = launcher(["--cpus", str(VCPUS), "--trace-format=json"], ["basic"])
    objs, problems = parse_json_lines(r.err.encode())
    report("libos-run --trace-format=json: JSON lines on stderr, one per call",
           r.rc == 0 and not problems and [o.get("name") for o in objs] == BASIC_ORDER, problems + r.diag())

    r = launcher(["--cpus", str(VCPUS), "--stats"], ["basic"])
    rows, total = text_summary(r.err, int((values(r.out, "pid") or ["-1"])[0]))
    report("libos-run --stats: the summary on stderr, sched_setaffinity 3 calls 1 error, no trace lines",
           r.rc == 0 and rows.get("sched_setaffinity") == (3, 1) and rows.get("sched_getaffinity") == (2, 0)
           and total == (9, 1) and not calls_of(r.err), r.diag())

    path = os.path.join(TMP, "launcher-stack.txt")
    r = launcher(["--cpus", str(VCPUS), "--trace=" + path, "--trace-stack"], ["fork"])
    r.trace = open(path).read() if os.path.exists(path) else ""
    pids = {int(m["pid"]) for m in calls_of(r.trace)}
    child = int((values(r.out, "forked") or ["-1"])[0])
    lines = lines_of(r.trace)
    after = [lines[i + 1] for i, l in enumerate(lines[:-1])
             if l.startswith("%d/%d sched_setaffinity(" % (child, child))]
    report("libos-run --trace=FILE --trace-stack across fork/exec: both processes' lines, the exec'd child's "
           "frames name its trace_test_child_function",
           r.rc == 0 and len(pids) == 2 and not structure_problems(r.trace, allow_frames=True)
           and len(after) == 1 and re.match(r"^ > %s\(trace_test_child_function\+0x" % re.escape(PROG), after[0]),
           r.diag())


# =================================================================================================
# the crash hook (test builds): a fault inside the shim is reported, and kills with its signal
# =================================================================================================
def check_crash():
    if not HOOKS:
        skip("crash hook", "built with -Dtest_hooks=false")
        return
    for kind, sig in (("segv", signal.SIGSEGV), ("ill", signal.SIGILL), ("fpe", signal.SIGFPE),
                      ("abort", signal.SIGABRT)):
        for label, cpus, trace in (("LIBOS_CPUS=2", 2, False), ("LIBOS_TRACE alone", None, True)):
            r = run([], cpus=cpus, trace=trace, program="/bin/true", extra={"LIBOS_TEST_CRASH": kind})
            err = r.err.splitlines()
            head = "libos: fatal %s inside the LibOS" % sig.name
            fatal = [l for l in err if l.startswith("libos: fatal")]
            ok = (r.rc == -sig and len(fatal) == 1 and err and err[0].startswith(head)
                  and any("libos_crash_test_hook" in l and re.match(r"^  #\d+ ", l) for l in err[1:]))
            if kind == "segv":
                ok = ok and "(fault address 0x0)" in err[0]
            report("crash hook %s with %s: dies of %s; one 'libos: fatal %s' line; a stack line names "
                   "libos_crash_test_hook" % (kind, label, sig.name, sig.name), ok, r.diag())
    r = run([], cpus=None, trace=False, program="/bin/true", extra={"LIBOS_TEST_CRASH": "segv"})
    report("crash hook with neither a machine nor tracing: no handler, the plain SIGSEGV",
           r.rc == -signal.SIGSEGV and "libos: fatal" not in r.err, r.diag())


# =================================================================================================
# the program's own fault handlers, and its own crashes
# =================================================================================================
def check_own_handlers():
    r = run(["fault", "3"], shim=False, cpus=None, trace=False)
    report("own SIGSEGV handler natively: 3 faults, each recovered with siglongjmp",
           r.rc == 0 and values(r.out, "recovered") == ["3"] and r.err == "", r.diag())
    r = run(["fault", "3"], trace=False)
    report("own SIGSEGV handler on the 8-vCPU machine: recovered 3",
           r.rc == 0 and values(r.out, "recovered") == ["3"] and r.err == "", r.diag())
    r = run(["fault", "3"], stack=True)
    sig = [m for m in calls_of(r.trace) if m["name"] == "rt_sigaction"]
    report("own SIGSEGV handler on the machine, traced with stacks: recovered 3; rt_sigaction(SIGSEGV, ...) traced",
           r.rc == 0 and values(r.out, "recovered") == ["3"] and r.err == "" and sig
           and all(m["args"].startswith("SIGSEGV, ") and m["result"] == "0" and m["handled"] == "libos" for m in sig),
           r.diag())
    r = run(["fault", "3"], cpus=None)
    report("own SIGSEGV handler with tracing alone (no machine): recovered 3",
           r.rc == 0 and values(r.out, "recovered") == ["3"] and r.err == "", r.diag())
    # In an ASan build the program has ASan's SIGSEGV handler, which reports the fault and exits 1;
    # handle_segv=0 leaves the default action, as a program without handlers has it natively.
    asan = ":".join(o for o in (os.environ.get("ASAN_OPTIONS"), "handle_segv=0") if o)
    for mode, sig in (("crash-own", signal.SIGSEGV), ("abort-own", signal.SIGABRT)):
        r = run([mode], extra={"ASAN_OPTIONS": asan})
        report("%s: the program's own %s kills it as natively, with no 'libos: fatal' report" % (mode, sig.name),
               r.rc == -sig and "libos: fatal" not in r.err, r.diag())


# =================================================================================================
# tracing off
# =================================================================================================
def check_off():
    work = tempfile.mkdtemp(dir=TMP)
    r = run(["basic"], trace=False, cwd=work)
    report("tracing off: stderr empty, no file written, the program's output as traced",
           r.rc == 0 and r.err == "" and os.listdir(work) == [] and values(r.out, "getcpu") == [str(LAST), "0"],
           r.diag() + [os.listdir(work)])
    r = run(["basic"], trace=False, cwd=work, extra={"LIBOS_TRACE": "0", "LIBOS_TRACE_STACK": "1",
                                                     "LIBOS_TRACE_FORMAT": "json", "LIBOS_TRACE_FILTER": "%cpu",
                                                     "LIBOS_TRACE_TIME": "wall"})
    report("LIBOS_TRACE=0 with LIBOS_TRACE_STACK, _FORMAT, _FILTER and _TIME: nothing (0 turns the lines off)",
           r.rc == 0 and r.err == "" and os.listdir(work) == [], r.diag())
    r = run(["basic"], trace=False, cpus=None, cwd=work)
    report("no machine, no tracing: stderr empty", r.rc == 0 and r.err == "" and os.listdir(work) == [], r.diag())


def check_long_cwd():
    """getcwd goes through the table while tracing (its line, as strace shows it): in a directory whose
    path is longer than a page the system call is ENAMETOOLONG, and glibc then finds the path itself;
    traced, and on a machine, the program gets it too."""
    base = tempfile.mkdtemp(dir=TMP)
    code = ("import os\nos.chdir(%r)\nfor i in range(25):\n    os.makedirs('d' * 200, exist_ok=True)\n"
            "    os.chdir('d' * 200)\nprint('cwd', len(os.getcwd()))" % base)
    native = run(["-c", code], trace=False, cpus=None, shim=False, program=sys.executable)
    traced = run(["-c", code], cpus=None, program=sys.executable)
    machine = run(["-c", code], trace=False, program=sys.executable)
    report("getcwd in a directory 5000 bytes deep: traced without a machine, and on a machine, the path as "
           "natively (%s)" % native.out.strip(),
           native.rc == 0 and native.out.startswith("cwd ") and traced.out == native.out
           and machine.out == native.out and "getcwd(" in traced.trace, [native.out, machine.out] + traced.diag())


# =================================================================================================
# the variables' values: each takes a documented set and refuses the rest before the program runs
# =================================================================================================
def check_values():
    for value, meaning in (("1", "standard error"), ("", "standard error"), ("stderr", "standard error")):
        work = tempfile.mkdtemp(dir=TMP)
        r = run(["basic"], trace=False, cwd=work, extra={"LIBOS_TRACE": value})
        report("LIBOS_TRACE=%s: the lines go to %s, and no file is made" % (value, meaning),
               r.rc == 0 and [m["name"] for m in calls_of(r.err)] == BASIC_ORDER and os.listdir(work) == [],
               r.diag() + ["files: %s" % os.listdir(work)])
    for machine in (VCPUS, None):
        work = tempfile.mkdtemp(dir=TMP)
        r = run(["basic"], cpus=machine, trace=False, cwd=work, stats=True, extra={"LIBOS_TRACE": "0"})
        report("LIBOS_TRACE=0 (%s): tracing is off: no line, no file; LIBOS_STATS=1 still prints its summary on "
               "stderr" % ("on the machine" if machine else "no machine"),
               r.rc == 0 and not calls_of(r.err) and summary_lines(r.err) and os.listdir(work) == [],
               r.diag() + ["files: %s" % os.listdir(work)])
    work = tempfile.mkdtemp(dir=TMP)
    r = run(["basic"], trace="./1", cwd=work)
    report("LIBOS_TRACE=./1: a file called 1, with the lines", r.rc == 0 and r.err == "" and
           [m["name"] for m in calls_of(r.trace)] == BASIC_ORDER and os.listdir(work) == ["1"], r.diag())
    work = tempfile.mkdtemp(dir=TMP)
    r = run(["basic"], trace=False, cwd=work, stats=True, extra={"LIBOS_STATS": "0", "LIBOS_TRACE_STACK": "0",
                                                                 "LIBOS_TRACE_FORMAT": "text", "LIBOS_TRACE": "0",
                                                                 "LIBOS_TRACE_PER_PROCESS": "0"})
    report("LIBOS_STATS=0, LIBOS_TRACE_STACK=0, LIBOS_TRACE_FORMAT=text, LIBOS_TRACE_PER_PROCESS=0 with "
           "LIBOS_TRACE=0: accepted, and nothing is traced",
           r.rc == 0 and r.err == "" and values(r.out, "getcpu") == [str(LAST), "0"], r.diag())
    r = run(["basic"], trace=False, extra={"LIBOS_TRACE": "stderr", "LIBOS_TRACE_STACK": "0",
                                           "LIBOS_TRACE_FORMAT": "text"})
    report("LIBOS_TRACE_STACK=0: lines without frames", r.rc == 0 and calls_of(r.err)
           and not structure_problems(r.err), r.diag())

    # Stacks that cannot be taken: a libshim.so without libos_unwind.so beside it (nor in ../unwind/).
    lone = tempfile.mkdtemp(dir=TMP)
    os.mkdir(os.path.join(lone, "lib"))
    shutil.copy(SHIM, os.path.join(lone, "lib", "libshim.so"))
    r = run(["basic"], trace=False, shim=False, extra={"LD_PRELOAD": os.path.join(lone, "lib", "libshim.so"),
                                                       "LIBOS_TRACE": "stderr", "LIBOS_TRACE_STACK": "1"})
    err = lines_of(r.err)
    report("LIBOS_TRACE_STACK=1 without libos_unwind.so: refused with 125 and one line naming it, not lines "
           "without stacks",
           r.rc == 125 and len(err) == 1 and err[0].startswith("libos: LIBOS_TRACE_STACK: bad token '1': ")
           and "libos_unwind.so" in err[0] and r.out == "", r.diag())

    # name, value, words the one line must hold (besides the variable and the token)
    blocked = os.path.join(work, "not-a-dir")
    open(blocked, "w").close()
    bad = [
        ("LIBOS_TRACE", "/nonexistent/dir/f", "No such file or directory"),
        ("LIBOS_TRACE", work, "Is a directory"),
        ("LIBOS_TRACE", os.path.join(blocked, "f"), "Not a directory"),
        ("LIBOS_TRACE", "/" + "d" * 600, "longer than"),
        ("LIBOS_STATS", "yes", "expected 1 (one summary for the launch), per-process or 0 (off)"),
        ("LIBOS_STATS", "2", "expected 1 (one summary for the launch), per-process or 0 (off)"),
        ("LIBOS_TRACE_STACK", "true", "expected 1 (on) or 0 (off)"),
        ("LIBOS_TRACE_FORMAT", "xml", "expected text or json"),
        ("LIBOS_TRACE_FORMAT", "JSON", "expected text or json"),
    ]
    for name, value, why in bad:
        for machine in (VCPUS, None):
            extra = {name: value}
            if name != "LIBOS_TRACE":
                extra["LIBOS_TRACE"] = "stderr"
            r = run(["basic"], cpus=machine, trace=False, cwd=work, extra=extra)
            shown = value if len(value) <= 48 else value[:48] + "..."
            line = "libos: %s: bad token '%s': " % (name, shown)
            err = lines_of(r.err)
            report("%s=%s (%s): refused with 125 and one line naming it (%s); the program does not run"
                   % (name, shown, "on the machine" if machine else "no machine", why),
                   r.rc == 125 and len(err) == 1 and err[0].startswith(line) and why in err[0] and r.out == ""
                   and not os.path.exists("/nonexistent/dir"), r.diag())


# =================================================================================================
# edges: the program's descriptors, UTF-8, long frames, long names
# =================================================================================================
def check_edges():
    own = os.path.join(TMP, "own-file.txt")
    r = run(["closefd", own])
    held = open(own).read() if os.path.exists(own) else ""
    report("a program that closes its descriptors 3-63 and opens its own file: the file holds only what the "
           "program wrote, and the trace keeps its lines",
           r.rc == 0 and held == "data\n" and "sched_getaffinity(" in r.trace,
           ["the program's file holds: %r" % held] + r.diag())

    r = run(["utf8path"], fmt="json")
    objs, problems = parse_json_lines(r.raw)
    report("json: a path of non-ASCII characters longer than the 96-byte cut still gives valid UTF-8",
           r.rc == 0 and objs and not problems, problems + [r.raw[-200:]])
    r = run(["utf8path"])
    try:
        r.raw.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError as e:
        utf8 = e
    report("text: the same path cut at a character boundary (valid UTF-8)", r.rc == 0 and utf8 is True,
           [utf8, r.raw[-200:]])

    for fmt in (None, "json"):
        r = run(["badutf8"], fmt=fmt)
        try:
            r.raw.decode("utf-8")
            utf8 = True
        except UnicodeDecodeError as e:
            utf8 = e
        objs, problems = parse_json_lines(r.raw) if fmt else ([], [])
        path = [o for o in objs if o.get("name") == "openat" and "nonexistent-libos-trace-test" in o.get("arguments", "")]
        report("%s: a path of bytes that only look like UTF-8 (overlong, surrogate, beyond U+10FFFF) is escaped: "
               "the trace stays strict UTF-8%s" % (fmt or "text", " and every line parses" if fmt else ""),
               r.rc == 0 and "badutf8 ENOENT" in r.out and utf8 is True and not problems
               # "arguments" is the text line's, escaped as strace escapes (octal); "args" is strict UTF-8.
               and (len(path) == 1 and all("\\%03o" % b in path[0]["arguments"] for b in (0xc0, 0xed, 0xf5, 0xf4, 0xe0))
                    and "\\303\\251" in path[0]["arguments"] and "\u00c0\u0080" in path[0]["args"][1] if fmt else True),
               [utf8] + problems + [r.raw[-400:]])

    native = run(["altstack"], trace=False, shim=False)
    for fmt in (None, "json"):
        r = run(["altstack"], fmt=fmt)
        report("%s: a signal handler on a stack of SIGSTKSZ bytes makes three traced calls (the trace fits in "
               "it as the program does natively)" % (fmt or "text"),
               native.rc == 0 and "calls 3" in native.out and r.rc == 0 and "calls 3" in r.out
               and ('"name":"getcpu"' if fmt else "getcpu(") in r.trace, ["natively: %s %s" % (native.rc, native.out)]
               + r.diag())

    for stack in (False, True):
        r = run(["errno"], stack=stack)
        report("errno is the program's after each traced call%s" % (" with stacks" if stack else ""),
               r.rc == 0 and "errno kept 40 of 40" in r.out and "getcpu(" in r.trace, r.diag())

    r = run(["mqopen"])
    mq = [bare(m.group(0)).split(" ", 1)[1] for m in calls_of(r.trace) if m["name"] == "mq_open"]
    report("mq_open through syscall(): its mode and attributes only with O_CREAT, as strace shows it",
           r.rc == 0 and mq == ['mq_open("libos/trace", O_RDONLY) = -1 EACCES (Permission denied) <host>',
                                'mq_open("libos/trace", O_RDWR|O_CREAT, 0600, NULL) = -1 EACCES (Permission denied) '
                                '<host>'], ["mq_open lines %s" % mq] + r.diag())

    r = run(["longpath"])
    j = run(["longpath"], fmt="json")
    objs, problems = parse_json_lines(j.raw)
    opened = [o for o in objs if o.get("name") == "openat" and o.get("errno") == "ENAMETOOLONG"]
    cut = '"/' + "a" * 95 + '..."'
    # In text, the buffer's 255 bytes and "..." after the quote, as strace cuts a string; in JSON, 96 bytes.
    text_cut = '"/' + "a" * 254 + '"...'
    report("a path longer than the tracer's buffer shows its start, cut with ..., as strace shows it (not its "
           "address)", r.rc == 0 and ('openat(AT_FDCWD, %s, O_RDONLY) = -1 ENAMETOOLONG' % text_cut) in r.trace
           and j.rc == 0 and not problems and len(opened) == 1 and opened[0]["args"][1] == cut[1:-1],
           problems + r.diag() + [j.trace])

    r = run(["mknod"])
    got = [re.sub(r" <host>$", "", bare(m.group(0)).split(" ", 1)[1]) for m in calls_of(r.trace)
           if m["name"] in ("mknod", "mknodat")]
    # As strace 6.1 shows them: the type and set-id bits by name, the device only for a device node.
    want = ['mknodat(-1, "x", S_IFIFO|0600) = -1 EBADF (Bad file descriptor)',
            'mknodat(-1, "x", S_IFCHR|0600, makedev(0x1, 0x3)) = -1 EBADF (Bad file descriptor)',
            'mknodat(-1, "x", S_IFBLK|0644, makedev(0x103, 0x11170)) = -1 EBADF (Bad file descriptor)',
            'mknodat(-1, "x", 0600) = -1 EBADF (Bad file descriptor)',
            'mknod("/nonexistent-libos-trace-test/x", S_IFREG|S_ISUID|0755) = -1 ENOENT (No such file or directory)',
            'mknod("/nonexistent-libos-trace-test/x", S_IFSOCK|0777) = -1 ENOENT (No such file or directory)',
            'mknod("/nonexistent-libos-trace-test/x", 0177777) = -1 EINVAL (Invalid argument)']
    report("mknod and mknodat: the mode's type by name and the device only for a device node, as strace 6.1",
           r.rc == 0 and got == want, ["ours:   %s" % g for g in got] + ["wanted: %s" % w for w in want] + r.diag())

    r = run(["longname"], stack=True)
    lines = lines_of(r.trace)
    i = next((i for i, l in enumerate(lines) if "sched_getaffinity(" in l), None)
    first = FRAME_RE.match(lines[i + 1]) if i is not None and i + 1 < len(lines) else None
    report("stack: a function whose name is longer than the frame's 127 characters is still named (cut)",
           first is not None and first["function"].startswith("trace_test_function_whose_name_is_longer"),
           [lines[i + 1] if first else r.trace])

    for fmt in (None, "json"):
        r = run(["smallstack"], fmt=fmt)
        report("%s: the traced calls of a thread with a 32 KiB stack fit in it" % (fmt or "text"),
               r.rc == 0 and "smallstack 32768 ok" in r.out and
               ('"name":"sched_setaffinity"' if fmt else "sched_setaffinity(") in r.trace, r.diag())

    # PTHREAD_STACK_MIN's 16 KiB thread and an 8 KiB signal stack, each with an inaccessible guard below,
    # traced with stacks: libunwind and libdw run on libos_unwind.so's own stacks, and the call's record
    # is not on the program's stack (docs/tracing.md, "How it stays safe").
    if os.environ.get("LIBOS_TEST_SANITIZERS"):
        skip("stack: a 16 KiB thread and an 8 KiB signal stack traced with stacks", "a sanitizer build: its frames are larger by design")
        return check_long_frames()
    for fmt in (None, "json"):
        r = run(["smallstack", "16384"], fmt=fmt, stack=True)
        report("%s: a thread of a 16 KiB stack, traced with stacks, prints its stack (its own function named) and "
               "does not overflow" % (fmt or "text"),
               r.rc == 0 and "smallstack 16384 ok" in r.out and "smallstack_thread" in r.trace
               and ('"name":"sched_setaffinity"' if fmt else "sched_setaffinity(") in r.trace, r.diag())
    # More threads of 16 KiB unwinding at once than libos_unwind.so has stacks of its own (and the
    # tracer frame sets): a line may go without its stack, but nothing runs on the small stacks.
    r = run(["smallstacks", "48", "16384"], stack=True, timeout=120)
    lines = [m for m in calls_of(r.trace) if m["name"] == "sched_setaffinity"]
    report("48 threads of 16 KiB stacks, traced with stacks at once: none overflows, every call has its line "
           "(%d)" % len(lines), r.rc == 0 and "smallstacks 48 16384 ok" in r.out and len(lines) == 48 * 50,
           r.diag())
    native = run(["altstack", "8192"], trace=False, shim=False)
    r = run(["altstack", "8192"], stack=True)
    report("a signal handler on an 8 KiB signal stack makes three traced calls with stacks, each stack naming it",
           native.rc == 0 and r.rc == 0 and "altstack 8192 calls 3" in r.out
           and r.trace.count("altstack_handler(int)+") == 3, ["natively: %s %s" % (native.rc, native.out)] + r.diag())
    # Off its signal stack (on the unwinder's), a handler's frames must not be overwritten by a signal
    # that the kernel, seeing it off the signal stack, would start at the signal stack's top.
    native = run(["altstack-nest", "50"], trace=False, shim=False)
    r = run(["altstack-nest", "50"], stack=True, timeout=120)
    report("a handler on its signal stack traces with stacks while other signals arrive for the same signal "
           "stack: its frames are intact, as natively",
           native.rc == 0 and r.rc == 0 and "altstack-nest bad 0" in r.out and r.trace.count("nest_usr1") >= 50 * 20,
           ["natively: %s %s" % (native.rc, native.out)] + r.diag())
    # A vfork child's _exit (after a failed exec) is traced as exit_group, with a call record of the
    # parent's memory: given back before the exit, the parent keeps all 64 for its handler, which on a
    # 7 KiB signal stack has no room for one on the stack.
    native = run(["vforkexit", "70", "7168"], trace=False, shim=False)
    r = run(["vforkexit", "70", "7168"], stack=True)
    exits = [m for m in calls_of(r.trace) if m["name"] == "exit_group" and m["args"] == "127"]
    report("70 vfork children _exit(127) after a failed exec, traced: each has its exit_group line, and then a "
           "handler on a 7 KiB signal stack makes its three traced calls with stacks",
           native.rc == 0 and r.rc == 0 and "altstack 7168 calls 3" in r.out and len(exits) == 70,
           ["natively: %s %s" % (native.rc, native.out)] + r.diag())
    native = run(["altstack", "8192", "exec"], trace=False, shim=False)
    r = run(["altstack", "8192", "exec"], stack=True)
    execs = [m for m in calls_of(r.trace) if m["name"] == "execve"]
    report("a signal handler on an 8 KiB signal stack execs, traced with stacks: one execve line, = 0, as natively",
           native.rc == 0 and r.rc == 0 and "child pid" in r.out and len(execs) == 1 and execs[0]["result"] == "0"
           and "altstack_handler(int)+" in r.trace, ["natively: %s %s" % (native.rc, native.out)] + r.diag())
    check_gdb_through_switch()
    check_long_frames()


def check_gdb_through_switch():
    """gdb, stopped in libos_unwind.so on one of its own stacks, walks back through the switch onto the
    program's stack (the 16 KiB thread's function and glibc's start_thread), as libunwind does."""
    gdb = shutil.which("gdb")
    if not gdb:
        skip("gdb's backtrace through libos_unwind.so's stack switch", "no gdb")
        return
    env = clean_env()
    cmds = ["set pagination off", "set breakpoint pending on", "set environment LD_PRELOAD=%s" % SHIM,
            "set environment LIBOS_TRACE=%s" % os.path.join(TMP, "gdb-trace.txt"), "set environment LIBOS_TRACE_STACK=1",
            "set environment LIBOS_CPUS=%d" % VCPUS, "break smallstack_thread", "run", "break walk_on_own_stack",
            "continue", "bt", "kill"]
    args = [gdb, "-q", "-nx", "-batch"] + [a for c in cmds for a in ("-ex", c)] + ["--args", PROG, "smallstack", "16384"]
    p = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    out = p.stdout.decode(errors="replace")
    frames = [l for l in out.splitlines() if re.match(r"#\d+ ", l)]
    names = [re.sub(r"^#\d+\s+(0x[0-9a-f]+ in )?", "", l).split(" (")[0] for l in frames]
    at = next((i for i, n in enumerate(names) if "walk_on_own_stack" in n), None)
    report("gdb stopped on libos_unwind.so's own stack walks back through the switch onto the program's: "
           "smallstack_thread, then start_thread",
           at is not None and any("smallstack_thread" in n for n in names[at:])
           and any("start_thread" in n for n in names[at:]) and "corrupt stack" not in out, frames or [out[-2000:]])


def check_long_frames():
    """A line with many long frames (a 255-character object, 127-character function names) is cut
    at the line buffer's end: it must still be whole lines. The first line's length is chosen so
    that a frame starts just under the tracer's 400-byte reservation: measured in a first run."""
    a0 = "/" + "a" * 254
    r = run(["deep", "20", "/x"], stack=True, argv0=a0)
    lines = lines_of(r.trace)
    if r.rc != 0 or len(lines) < 3 or not FRAME_RE.match(lines[1]):
        report("long frames: calibration run", False, r.diag())
        return
    first, frame = len(lines[0]) + 1, len(lines[1]) + 1
    # Frames of this depth are all the same length; the line buffer is 4096 bytes and the tracer
    # adds a frame while fewer than 4096 - 400 bytes are used. Find first-line lengths for which
    # some frame starts below that and ends past 4095.
    buffer, reserve = 4096, 400
    feasible = [l for l in range(first, first + 565)
                if any(l + k * frame + reserve < buffer and l + (k + 1) * frame > buffer - 1 for k in range(12))]
    if frame <= reserve + 1 or not feasible:
        # Frames no longer than the reservation: no line can be cut this way.
        r2 = r
        target = None
    else:
        target = feasible[len(feasible) // 2]
        extra = target - first
        ctl = min(extra // 2, 90)  # each control character shows as \1 (2 bytes), as strace shows it
        plain = extra - 2 * ctl
        path = "/x" + "\x01" * ctl + "b" * plain
        r2 = run(["deep", "20", path], stack=True, argv0=a0)
    bad = structure_problems(r2.trace, allow_frames=True)
    report("long frames: a line with 255-character objects and 127-character functions stays whole lines "
           "(first line %s bytes, frames %d bytes)" % (target, frame),
           r2.rc == 0 and not bad, [b[-160:] for b in bad[:3]] + ["status %s" % r2.rc, r2.err])


# =================================================================================================
# the options' variables imply tracing, as the options do
# =================================================================================================
def check_implied():
    for extra, what in (({"LIBOS_TRACE_STACK": "1"}, "LIBOS_TRACE_STACK=1"),
                        ({"LIBOS_TRACE_FORMAT": "json"}, "LIBOS_TRACE_FORMAT=json"),
                        ({"LIBOS_TRACE_FILTER": "%cpu"}, "LIBOS_TRACE_FILTER=%cpu"),
                        ({"LIBOS_TRACE_TIME": "none"}, "LIBOS_TRACE_TIME=none")):
        work = tempfile.mkdtemp(dir=TMP)
        r = run(["basic"], trace=False, cwd=work, extra=extra)
        if "LIBOS_TRACE_FORMAT" in extra:
            objs, problems = parse_json_lines(r.err.encode())
            names = [o.get("name") for o in objs]
            ok = not problems and names == BASIC_ORDER
        else:
            ok = not structure_problems(r.err, allow_frames=True) and calls_of(r.err)
            names = [m["name"] for m in calls_of(r.err)]
            ok = ok and names == [n for n in BASIC_ORDER if "LIBOS_TRACE_FILTER" not in extra or n != "openat"
                                  and n != "getpid"]
        report("%s without LIBOS_TRACE traces to stderr, as its option implies --trace" % what,
               r.rc == 0 and ok and os.listdir(work) == [], r.diag())


# =================================================================================================
# filters
# =================================================================================================
def check_filter():
    cases = (("%cpu", [n for n in BASIC_ORDER if n in ("sched_setaffinity", "sched_getaffinity", "getcpu")]),
             ("openat,getpid", ["openat", "getpid"]),
             ("!%cpu", ["openat", "getpid"]),
             ("getcpu,%file", ["getcpu", "getcpu", "openat"]),
             ("%numa", []))
    for lst, want in cases:
        r = run(["basic"], stats=True, extra={"LIBOS_TRACE_FILTER": lst})
        pid = int((values(r.out, "pid") or ["-1"])[0])
        names = [m["name"] for m in calls_of(r.trace)]
        rows, total = text_summary(r.trace, pid)
        counted = {}
        for n in want:
            counted[n] = counted.get(n, 0) + 1
        report("LIBOS_TRACE_FILTER=%s: only %s, in order; the summary counts only them" % (lst, want),
               r.rc == 0 and names == want and {k: v[0] for k, v in rows.items()} == counted
               and total is not None and total[0] == len(want), r.diag())
    r = run(["classes"], extra={"LIBOS_TRACE_FILTER": "%memory,%signal"})
    names = [m["name"] for m in calls_of(r.trace)]
    report("LIBOS_TRACE_FILTER=%memory,%signal: mmap, mprotect, munmap, rt_sigprocmask, kill",
           r.rc == 0 and names == ["mmap", "mprotect", "munmap", "rt_sigprocmask", "kill"], r.diag())
    r = run(["classes"], extra={"LIBOS_TRACE_FILTER": "%process"})
    names = [m["name"] for m in calls_of(r.trace)]
    report("LIBOS_TRACE_FILTER=%process: kill and wait4", r.rc == 0 and names == ["kill", "wait4"], r.diag())
    for bad, token in (("%bogus", "%bogus"), ("opnat", "opnat"), ("openat,,getpid", ""), ("getpid,", ""),
                       ("%CPU", "%CPU"), ("!", "")):
        for machine in (VCPUS, None):
            r = run(["basic"], cpus=machine, trace=False, extra={"LIBOS_TRACE_FILTER": bad})
            err = lines_of(r.err)
            report("LIBOS_TRACE_FILTER=%s (%s): refused with 125 and one line naming '%s'"
                   % (bad, "machine" if machine else "no machine", token),
                   r.rc == 125 and len(err) == 1 and err[0].startswith("libos: LIBOS_TRACE_FILTER: bad token '%s'"
                                                                        % token)
                   and r.out == "", r.diag())
    if os.access(LAUNCHER, os.X_OK):
        r = launcher(["--cpus", str(VCPUS), "--trace-filter=%bogus"], ["basic"])
        err = lines_of(r.err)
        report("libos-run --trace-filter=%bogus: 125, one line, the shim's words with libos-run's prefix",
               r.rc == 125 and len(err) == 1 and err[0].startswith("libos-run: --trace-filter: bad token '%bogus'")
               and r.out == "", r.diag())
        r = launcher(["--cpus", str(VCPUS), "--trace-filter", "%cpu"], ["basic"])
        names = [m["name"] for m in calls_of(r.err)]
        report("libos-run --trace-filter %cpu: implies --trace; only the CPU calls on stderr",
               r.rc == 0 and names == cases[0][1], r.diag())


def under_ptrace_env():
    """The environment for the program under strace: LeakSanitizer cannot run under ptrace (a
    sanitizer build's program would end with its fatal error), so the leak check is left out there;
    the other sanitizers stay."""
    asan = ":".join(o for o in (os.environ.get("ASAN_OPTIONS"), "detect_leaks=0") if o)
    return dict(os.environ, ASAN_OPTIONS=asan)


def strace_names(args, trace_filter):
    """The names of the calls strace 6.1 shows for the program (natively) with -e trace=FILTER."""
    out = os.path.join(TMP, "strace-%s.txt" % trace_filter.strip("%!"))
    p = subprocess.run(["strace", "-f", "-qq", "-o", out, "-e", "trace=" + trace_filter, PROG] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, env=under_ptrace_env())
    names = set()
    for line in open(out).read().splitlines() if os.path.exists(out) else []:
        m = re.match(r"^(?:\d+ +)?([a-z_0-9]+)\(", line)
        if m:
            names.add(m.group(1))
    return p.returncode, names


def check_strace_classes():
    if not shutil.which("strace"):
        skip("classes against strace", "strace is not installed")
        return
    probe = subprocess.run(["strace", "-qq", "-o", "/dev/null", "true"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
    if probe.returncode != 0:
        skip("classes against strace", "strace cannot trace here: %s" % probe.stderr.decode(errors="replace")[:80])
        return
    everything = {m["name"] for m in calls_of(run(["classes"]).trace)}
    for cls in ("%file", "%process", "%memory", "%signal"):
        r = run(["classes"], extra={"LIBOS_TRACE_FILTER": cls})
        ours = {m["name"] for m in calls_of(r.trace)}
        rc, theirs = strace_names(["classes"], cls)
        report("%s: the calls the trace shows are those of the program's traced calls strace -e trace=%s shows "
               "(%s)" % (cls, cls, sorted(ours)),
               r.rc == 0 and rc == 0 and ours and ours == everything & theirs,
               ["ours %s" % sorted(ours), "strace's, of those traced: %s" % sorted(everything & theirs)])


def check_strace_arguments():
    """The classes program's calls that strace 6.1 decodes from registers alone (no structures in
    memory): the same arguments, once addresses and the pid are set aside, and exactly as many."""
    if not shutil.which("strace"):
        skip("arguments against strace", "strace is not installed")
        return
    if os.environ.get("LIBOS_TEST_SANITIZERS"):
        skip("arguments against strace", "a sanitizer build: strace also sees the sanitizer runtime's own "
             "mmap calls, which no traced call of the program makes")
        return
    names = "openat,close,mmap,mprotect,munmap,kill,getpid,wait4"
    out = os.path.join(TMP, "strace-args.txt")
    p = subprocess.run(["strace", "-qq", "-o", out, "-e", "trace=" + names, PROG, "classes"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, env=under_ptrace_env())
    if p.returncode != 0 or not os.path.exists(out):
        skip("arguments against strace", "strace cannot trace here: %s" % p.stderr.decode(errors="replace")[:80])
        return
    native_pid = int(re.search(r"^getpid\(\) += (\d+)", open(out).read(), re.M).group(1))

    def norm(args, pid):
        args = re.sub(r"\b%d\b" % pid, "PID", args)
        return re.sub(r"0x[0-9a-f]+", "ADDR", args)

    def keep(name, args):
        # Leave out what strace reads from memory (a struct, a set) and the loader's own calls.
        return "{" not in args and "[" not in args and '"/' in args if name == "openat" else \
            "{" not in args and "[" not in args and "..." not in args

    theirs = []
    for line in open(out).read().splitlines():
        m = re.match(r"^([a-z_0-9]+)\((.*)\) += ", line)
        if m and keep(m.group(1), m.group(2)):
            theirs.append((m.group(1), norm(m.group(2), native_pid)))
    r = run(["classes"], extra={"LIBOS_TRACE_FILTER": names})
    pid = int((re.search(r"getpid\(\) = (\d+)", r.trace) or re.search("(-1)", "-1")).group(1))
    ours = [(m["name"], norm(m["args"], pid)) for m in calls_of(r.trace) if keep(m["name"], m["args"])]
    # strace also sees the loader's and libc's calls before main; the program's own are the last ones.
    tail = theirs[-len(ours):] if ours else []
    report("the classes program's calls read as strace 6.1 shows them: %d calls, the same names, arity and "
           "decoded arguments (openat's flags, mmap's PROT_/MAP_, WNOHANG, NULL)" % len(ours),
           r.rc == 0 and len(ours) == 9 and ours == tail,
           ["ours:   %s" % (o,) for o in ours] + ["strace: %s" % (t,) for t in tail])
    j = run(["classes"], fmt="json", extra={"LIBOS_TRACE_FILTER": "mmap,wait4,kill"})
    objs, problems = parse_json_lines(j.raw)
    args = {o.get("name"): o.get("args") for o in objs}
    report('json "args": mmap [null, 4096, "PROT_READ|PROT_WRITE", "MAP_PRIVATE|MAP_ANONYMOUS", -1, 0], '
           'wait4 [-1, null, "WNOHANG", null], kill [pid, 0]',
           not problems and args.get("mmap") == [None, 4096, "PROT_READ|PROT_WRITE", "MAP_PRIVATE|MAP_ANONYMOUS", -1, 0]
           and args.get("wait4") == [-1, None, "WNOHANG", None]
           and isinstance(args.get("kill"), list) and len(args["kill"]) == 2 and args["kill"][1] == 0,
           problems + [args])


def check_entry_points():
    """Every libc entry point the shim overrides, called once by tests/trace/entry_points.c: run natively
    under strace 6.1 and traced under the shim (no machine, so that results are the host's), the calls
    the trace shows are strace's, with the same names, arguments and results once pids and addresses
    are set aside (tests/trace/strace_compare.py): access is access(2) on x86_64, fstat is
    newfstatat(fd, "", ..., AT_EMPTY_PATH), masks are [0 1] and [0x00000000000001]. The only calls of
    the trace strace cannot see are those libc answers from the vDSO natively (getcpu)."""
    name = "entry points: the trace's calls are strace 6.1's lines for the same program natively"
    prog = os.environ.get("TRACE_TEST_ENTRY_POINTS")
    if not prog or not shutil.which("strace"):
        skip(name, "strace is not installed" if prog else "no entry_points program")
        return
    if os.environ.get("LIBOS_TEST_SANITIZERS"):
        skip(name, "a sanitizer build: its runtime makes calls of its own natively that the trace does not show")
        return
    sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
    import strace_compare
    work = tempfile.mkdtemp(prefix="entry-points-", dir=TMP)
    os.mkdir(os.path.join(work, "sub"))
    with open(os.path.join(work, "file"), "w") as f:
        f.write("hello\n")
    open(os.path.join(work, "sub", "a"), "w").close()
    os.symlink("file", os.path.join(work, "link"))
    out = os.path.join(TMP, "strace-entry-points.txt")
    p = subprocess.run(["strace", "-f", "-qq", "-o", out, prog, work], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60, env=under_ptrace_env())
    if p.returncode != 0 or not os.path.exists(out):
        skip(name, "strace cannot trace here: %s" % p.stderr.decode(errors="replace")[:80])
        return
    theirs = strace_compare.from_marker(strace_compare.parse_strace(open(out).read()), "getpid")
    r = run([work], cpus=None, program=prog, timeout=60)
    ours = strace_compare.from_marker(strace_compare.parse_libos(r.trace), "getpid")
    matches, differences, unseen = strace_compare.compare(strace_compare.normalise(theirs),
                                                          strace_compare.normalise(ours))
    own = [o for o, t in differences if o["name"] == "getcpu"]
    wrong = [(o, t) for o, t in differences if o["name"] != "getcpu"]
    seen = {m[0]["name"] for m in matches}
    lines = {m[0]["line"].split(" ", 1)[1].split(" <")[0] for m in matches}
    report("%s: %d calls both see, all equal (%d with memory strace decodes and the trace shows as its address); "
           "the trace's own: getcpu (the vDSO natively)" % (name, len(matches), sum(1 for m in matches if m[2])),
           r.rc == 0 and not wrong and len(matches) >= 60 and len(own) == 1
           and {"access", "newfstatat", "faccessat2", "sched_setaffinity", "set_mempolicy", "execveat", "getdents64",
                "lseek", "madvise", "mremap", "setsockopt", "unshare", "setns"} <= seen,
           ["ours   %s\nstrace %s" % (o["line"], t["line"] if t else "(none)") for o, t in wrong]
           + ["seen: %s" % sorted(seen)] + r.diag())
    report("entry points: access() is access(2), fstat() newfstatat(fd, \"\", ..., AT_EMPTY_PATH), masks as strace "
           "prints them, readlink's and getcwd's strings", lambda: any(l.startswith('access("%s/file", R_OK) = 0' % work) for l in lines)
           and any(re.match(r'newfstatat\(3, "", \{st_mode=S_IFREG\|0644, st_size=6, \.\.\.\}, AT_EMPTY_PATH\) = 0', l)
                   for l in lines)
           and any(re.match(r"sched_getaffinity\(0, 128, \[[0-9 ]+\]\) = \d+$", l) for l in lines)
           and 'readlink("%s/link", "file", 4096) = 4' % work in lines
           and 'getcwd("%s", 4096) = %d' % (work, len(work) + 1) in lines
           and "set_mempolicy(MPOL_BIND, [0x00000000000001], 65) = 0" in lines
           and "get_mempolicy([MPOL_BIND], [0x00000000000001, 0000000000000000], 129, NULL, 0) = 0" in lines,
           sorted(lines))


def check_exec_line_environment():
    """LIBOS_TRACE_EXEC, the exec's line that the new program prints, is taken out of that program's
    environment once read: env shows it no more than natively, and children that a program without
    the shim (a static one) starts with that environment do not print the line again."""
    r = run(["-c", "exec /usr/bin/env"], program="/bin/sh", extra={"LIBOS_TRACE_FILTER": "execve"})
    execs = [m for m in calls_of(r.trace) if m["name"] == "execve" and '"/usr/bin/env"' in m["args"]]
    report("exec: the new program's environment (env) has no LIBOS_TRACE_EXEC, and its exec's line is "
           "printed once", r.rc == 0 and "LIBOS_TRACE_EXEC" not in r.out and "PATH=" in r.out and len(execs) == 1,
           [r.out] + r.diag())
    static = os.environ.get("TRACE_TEST_STATIC_EXEC")
    if not static:
        skip("exec: a static program's children do not print its exec's line", "no static linking here")
        return
    # A vfork child's exec shares the parent's thread (and its thread-local state): the line it left
    # for the new program is not the parent's to pass to the next program it starts.
    v = run(["vfork-exec"], extra={"TRACE_TEST_SPAWN": static})
    report("exec: after a vfork child's traced exec, a program the parent starts with posix_spawn gets the line of "
           "its own exec in LIBOS_TRACE_EXEC, not the child's", v.rc == 0 and "trace-exec: spawn" in v.out,
           [v.out] + v.diag())
    s = run(["-c", "exec %s 3 /bin/true" % static], program="/bin/sh", extra={"LIBOS_TRACE_FILTER": "execve"})
    lines = [m for m in calls_of(s.trace) if m["name"] == "execve" and static in m["args"]]
    report("exec: the exec of a static program, whose three children exec /bin/true with its environment, "
           "is printed at most once (not once by each child)", s.rc == 0 and len(lines) <= 1, [s.trace] + s.diag())


def check_libc_exec():
    """execvp's attempts through PATH are traced one by one, as strace -f shows them: the same paths and
    results, in the same order, one line each (a failed exec's with its error, the successful one's,
    = 0, printed by the new program)."""
    path = "/nonexistent-libos-trace-test:" + os.path.dirname(PROG)
    r = run(["execvp"], extra={"PATH": path, "LIBOS_TRACE_FILTER": "execve"})
    ours = [(re.match(r'"([^"]*)"', m["args"]).group(1), m["result"], m["errno"]) for m in calls_of(r.trace)
            if m["name"] == "execve"]
    if not shutil.which("strace") or os.environ.get("LIBOS_TEST_SANITIZERS"):
        skip("execvp's attempts against strace", "strace is not installed, or a sanitizer build")
        report("execvp's attempts through PATH: a failed one for the missing directory, then the program's",
               r.rc == 0 and [o[0] for o in ours][:1] == ["/nonexistent-libos-trace-test/" + os.path.basename(PROG)],
               [ours] + r.diag())
        return
    out = os.path.join(TMP, "strace-execvp.txt")
    env = dict(under_ptrace_env(), PATH=path)
    p = subprocess.run([shutil.which("strace"), "-f", "-qq", "-o", out, "-e", "trace=execve", PROG, "execvp"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    theirs = []
    for line in (open(out).read().splitlines() if os.path.exists(out) else [])[1:]:  # after strace's own exec
        m = re.match(r'^(?:\d+ +)?execve\("([^"]*)", .*\) += (-?\d+)(?: (E[A-Z]+))?', line)
        if m:
            theirs.append((m.group(1), m.group(2), m.group(3)))
    # A successful exec's line is printed in the new program (= 0), a failed one's once, with its error.
    report("execvp's attempts through PATH read as strace -f shows them: %s" % [o[0] + " = " + o[1] for o in ours],
           r.rc == 0 and p.returncode == 0 and len(ours) >= 2 and ours == theirs,
           ["ours:   %s" % (o,) for o in ours] + ["strace: %s" % (t,) for t in theirs] + r.diag())


# The calls whose memory the trace reads as it formats the line (struct_calls' memory_calls).
MEMORY_CALLS = "statx,rt_sigprocmask,rt_sigpending,rt_sigtimedwait,rt_sigsuspend,signalfd,signalfd4,execve,execveat"
STRUCT_CALLS = ("nanosleep,clock_nanosleep,clock_getres,sched_rr_get_interval,sched_getparam,sched_setscheduler,"
                "sched_setparam,getrlimit,setrlimit,prlimit64,newfstatat,fstat,stat,lstat,rt_sigaction,"
                "sched_getattr,sched_setattr,clone3,utimensat,openat," + MEMORY_CALLS)


def check_strace_structs():
    """struct_calls' calls, whose arguments are structures in memory (timespec, sched_param, rlimit,
    stat, sigaction, sched_attr, clone_args) and enumerations (clocks, RLIMIT_*, SCHED_*), read as
    strace 6.1 prints them: the same lines, once addresses and pids are set aside. So are statx's
    flags, mask and result, the signal sets, and exec's argument vector (32 strings of 32 bytes at
    most, "..." past them, an unreadable element as its address) and environment (its count), up to
    the program's last exec, which succeeds (strace then sees the new program's loader)."""
    prog = os.environ.get("TRACE_TEST_STRUCT_CALLS")
    if not prog:
        skip("structures against strace", "no struct_calls program")
        return
    # Only the calls the program makes through syscall() from main: strace also sees the loader's.
    r = run([], program=prog, extra={"LIBOS_TRACE_FILTER": STRUCT_CALLS})
    pid = str(r.rc == 0 and calls_of(r.trace) and calls_of(r.trace)[0]["pid"])

    def norm(args, pids):
        for p in pids:
            args = re.sub(r"\b%s\b" % p, "PID", args)
        args = re.sub(r"si_pid=\d+", "si_pid=PID", args)  # the sender: this run's pid
        return re.sub(r"0x[0-9a-f]{5,}", "ADDR", args)

    def result(name, value):
        return "PID" if name == "clone3" and value not in ("0", "-1") else value  # the child's pid

    ours = [(m["name"], norm(m["args"], [pid]), result(m["name"], m["result"])) for m in calls_of(r.trace)
            if m["pid"] == pid]
    if not shutil.which("strace") or os.environ.get("LIBOS_TEST_SANITIZERS"):
        skip("structures against strace", "strace is not installed, or a sanitizer build (its runtime's calls)")
    else:
        out = os.path.join(TMP, "strace-structs.txt")
        p = subprocess.run(["strace", "-qq", "-o", out, "-e", "trace=" + STRUCT_CALLS, prog],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60,
                           env=under_ptrace_env())
        theirs = []
        text = open(out).read() if os.path.exists(out) else ""
        native = re.search(r"^clone3\(.*\) += (\d+)", text, re.M)
        # Up to the program's own successful exec: what follows is the new program's loader.
        last_exec = re.search(r'^execve\("/proc/self/exe".* = 0$', text, re.M)
        text = text[:last_exec.end()] if last_exec else text
        for line in text.splitlines():
            m = re.match(r"^([a-z_0-9]+)\((.*)\) += (\S+)", line)
            if m:
                theirs.append((m.group(1), norm(m.group(2), [native.group(1)] if native else []),
                               result(m.group(1), m.group(3))))
        tail = theirs[-len(ours):] if ours else []
        report("struct_calls' %d calls read as strace 6.1 prints them: timespec, sched_param, rlimit (N*1024, "
               "RLIM64_INFINITY), stat (abbreviated, st_rdev for devices), sigaction (SIG_IGN, sa_mask, "
               "SA_RESTART), sched_attr, clone_args, CLOCK_*, RLIMIT_*, SCHED_*; statx (AT_STATX_SYNC_AS_STAT, "
               "STATX_*, the abbreviated result); signal sets ([INT TERM], ~[...], [] and a size strace does not "
               "read); exec's argv (cut strings, 32 elements then ...) and envp (/* N vars */)" % len(ours),
               p.returncode == 0 and r.rc == 0 and len(ours) >= 45 and ours == tail
               and any(o[0] == "execve" and o[2] == "0" for o in ours),
               ["ours:   %s" % (o,) for o in ours] + ["strace: %s" % (t,) for t in tail] + r.diag())
    j = run([], program=prog, fmt="json", extra={"LIBOS_TRACE_FILTER": "clock_nanosleep,getrlimit,stat,rt_sigaction"})
    objs, problems = parse_json_lines(j.raw)
    args = {}
    for o in objs:
        args.setdefault(o.get("name"), o.get("args"))
    stat = (args.get("stat") or [None, {}])[1] or {}
    report('json "args": a structure is an object of its fields (clock_nanosleep ["CLOCK_MONOTONIC", 0, '
           '{"tv_sec":0,"tv_nsec":1000000}, null], getrlimit\'s "RLIMIT_NOFILE", stat\'s "st_mode", rt_sigaction\'s '
           '"sa_flags":"SA_RESTART")',
           j.rc == 0 and not problems
           and args.get("clock_nanosleep") == ["CLOCK_MONOTONIC", 0, {"tv_sec": 0, "tv_nsec": 1000000}, None]
           and (args.get("getrlimit") or [None])[0] == "RLIMIT_NOFILE"
           and isinstance((args.get("getrlimit") or [0, 0])[1], dict)
           and str(stat.get("st_mode", "")).startswith("S_IFCHR|") and "st_rdev" in stat
           and ((args.get("rt_sigaction") or [0, {}])[1] or {}).get("sa_flags") == "SA_RESTART",
           problems + [args])
    j = run([], program=prog, fmt="json", extra={"LIBOS_TRACE_FILTER": "statx,rt_sigprocmask,execve"})
    objs, problems = parse_json_lines(j.raw)
    args = {}
    for o in objs:
        args.setdefault(o.get("name"), o.get("args"))
    execve, statx = args.get("execve") or [None] * 3, args.get("statx") or [None] * 5
    report('json "args": execve\'s argv an array of its 32 strings, envp {"address", "vars":1}; '
           'statx\'s "AT_STATX_SYNC_AS_STAT", "STATX_ALL" and its result\'s fields; rt_sigprocmask\'s sets as strace '
           'prints them ("[INT TERM]", "[]")',
           j.rc == 0 and not problems and execve[0] == "/nonexistent/a"
           and execve[1] == ["a%d" % i for i in range(32)] and execve[2].get("vars") == 1
           and isinstance(execve[2].get("address"), int) and statx[2:4] == ["AT_STATX_SYNC_AS_STAT", "STATX_ALL"]
           and statx[4].get("stx_mode") == "S_IFDIR|0755" and statx[4].get("stx_size") == os.stat("/").st_size
           and args.get("rt_sigprocmask") == ["SIG_BLOCK", "[INT TERM]", "[]", 8], problems + [args])
    # The same calls on a thread of a 16 KiB stack with a guard page below it: the same lines, no fault.
    if os.environ.get("LIBOS_TEST_SANITIZERS"):
        skip("small-stack: the traced calls on a 16 KiB stack", "a sanitizer build: its frames are larger by design")
        return
    r = run(["small-stack"], program=prog, extra={"LIBOS_TRACE_FILTER": MEMORY_CALLS})
    calls = calls_of(r.trace)
    pid = calls[0]["pid"] if calls else "?"
    norm_lines = lambda ms: [(m["name"], re.sub(r"0x[0-9a-f]+", "ADDR", m["args"]), m["result"]) for m in ms]
    thread = norm_lines([m for m in calls if m["tid"] != m["pid"]])
    # The main thread's same calls (memory_calls), before the others it makes after them.
    main = norm_lines([m for m in calls if m["tid"] == m["pid"] and m["pid"] == pid])[:len(thread)]
    report("small-stack: statx, the signal sets and exec's arrays traced from a thread of a 16 KiB stack read as "
           "on the main thread (%d calls), and the program runs to its end" % len(thread),
           r.rc == 0 and len(thread) >= 25 and thread == main,
           ["thread: %s" % (t,) for t in thread] + ["main:   %s" % (m,) for m in main] + r.diag())


# =================================================================================================
# timestamps and durations
# =================================================================================================
def seconds_of_day(stamp):
    h, m, s = stamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def check_times():
    r = run(["classes"])
    calls = calls_of(r.trace)
    naps = [m for m in calls if m["name"] == "nanosleep"]
    report("every returned call ends with its duration <S.UUUUUU>; nanosleep(20 ms) took at least 0.020000 s",
           r.rc == 0 and calls and all(m["duration"] for m in calls) and len(naps) == 1
           and float(naps[0]["duration"]) >= 0.020 and not structure_problems(r.trace), r.diag())
    for mode in ("wall", "wall-us"):
        before = time.time()
        r = run(["classes"], extra={"LIBOS_TRACE_TIME": mode})
        after = time.time()
        calls = calls_of(r.trace)
        stamps = [m["time"] for m in calls]
        form = r"^\d\d:\d\d:\d\d$" if mode == "wall" else r"^\d\d:\d\d:\d\d\.\d{6}$"
        lo, hi = int(before) % 86400, (int(after) + 1) % 86400
        inside = all(lo <= int(seconds_of_day(s)) <= hi for s in stamps) if lo <= hi else True
        ordered = all(seconds_of_day(a) <= seconds_of_day(b) for a, b in zip(stamps, stamps[1:])) if lo <= hi else True
        report("LIBOS_TRACE_TIME=%s: every line has HH:MM:SS%s (UTC) between the run's start and end, in order"
               % (mode, "" if mode == "wall" else ".UUUUUU"),
               r.rc == 0 and stamps and all(s and re.match(form, s) for s in stamps) and inside and ordered,
               ["run from %s to %s UTC" % (time.strftime("%H:%M:%S", time.gmtime(before)),
                                           time.strftime("%H:%M:%S", time.gmtime(after)))] + r.diag())
    r = run(["classes"], extra={"LIBOS_TRACE_TIME": "relative"})
    calls = calls_of(r.trace)
    rel = [float(m["time"]) if m["time"] else None for m in calls]
    i = next((i for i, m in enumerate(calls) if m["name"] == "nanosleep"), None)
    report("LIBOS_TRACE_TIME=relative: the first line 0.000000, the call after nanosleep(20 ms) at least 0.020000 "
           "after it",
           r.rc == 0 and rel and None not in rel and rel[0] == 0.0 and i is not None and i + 1 < len(rel)
           and rel[i + 1] >= 0.020, r.diag())
    j = run(["classes"], fmt="json", extra={"LIBOS_TRACE_TIME": "wall-us"})
    objs, problems = parse_json_lines(j.raw)
    report("json with LIBOS_TRACE_TIME=wall-us: a \"time\" of HH:MM:SS.UUUUUU, and ns, on every object",
           j.rc == 0 and objs and not problems and all(re.match(r"^\d\d:\d\d:\d\d\.\d{6}$", o.get("time", ""))
                                                       and isinstance(o.get("ns"), int) for o in objs),
           problems + [j.raw[:600]])
    r = run(["classes"], stats=True, trace=False)
    rows = [l for l in lines_of(r.err) if re.match(r"^ *\d+\.\d\d +\d+\.\d{6} ", l) and not l.endswith(" total")]
    secs = [float(l.split()[1]) for l in rows]
    report("the summary is sorted by time, the longest first (nanosleep on top)",
           r.rc == 0 and rows and rows[0].endswith(" nanosleep") and secs == sorted(secs, reverse=True), r.diag())
    for bad in ("utc", "Wall", "-t", "1"):
        r = run(["basic"], trace=False, extra={"LIBOS_TRACE_TIME": bad})
        err = lines_of(r.err)
        report("LIBOS_TRACE_TIME=%s: refused with 125 and one line" % bad,
               r.rc == 125 and len(err) == 1 and err[0] == "libos: LIBOS_TRACE_TIME: bad token '%s': expected wall, "
               "wall-us, relative or none" % bad, r.diag())
    if os.access(LAUNCHER, os.X_OK):
        r = launcher(["--cpus", str(VCPUS), "--trace-time=utc"], ["basic"])
        report("libos-run --trace-time=utc: 125 and the same line, libos-run's prefix",
               r.rc == 125 and r.err == "libos-run: --trace-time: bad token 'utc': expected wall, wall-us, relative "
               "or none\n", r.diag())
        r = launcher(["--cpus", str(VCPUS), "--trace-time", "wall-us"], ["basic"])
        report("libos-run --trace-time wall-us: implies --trace; timestamps on stderr",
               r.rc == 0 and calls_of(r.err) and all(m["time"] and "." in m["time"] for m in calls_of(r.err)),
               r.diag())


# =================================================================================================
# one file per process
# =================================================================================================
def trace_files(directory, base):
    out = {}
    for name in os.listdir(directory):
        if name.startswith(base + "."):
            with open(os.path.join(directory, name)) as f:
                out[name[len(base) + 1:]] = f.read()
    return out


def check_per_process():
    if not os.access(LAUNCHER, os.X_OK):
        skip("per-process files", "%s not found" % LAUNCHER)
        return
    work = tempfile.mkdtemp(dir=TMP)
    base = os.path.join(work, "t")
    r = launcher(["--cpus", str(VCPUS), "--trace=" + base, "--trace-per-process", "--stats=per-process"], ["fork"])
    parent = int((values(r.out, "parent") or ["0", "-1"])[1])
    child = int((values(r.out, "forked") or ["-1"])[0])
    files = trace_files(work, "t")
    own = {pid: {int(m["pid"]) for m in calls_of(text)} for pid, text in files.items()}
    report("--trace=FILE --trace-per-process across fork+exec: FILE.<parent> and FILE.<child>, each with only its "
           "own pid's lines and its own summary; no FILE",
           r.rc == 0 and sorted(files) == sorted([str(parent), str(child)]) and not os.path.exists(base)
           and own.get(str(parent)) == {parent} and own.get(str(child)) == {child}
           and "libos: summary for pid %d" % child in files.get(str(child), "")
           and "libos: summary for pid %d" % parent in files.get(str(parent), "")
           and all(not structure_problems(t, allow_summary=True) for t in files.values()),
           ["files %s" % sorted(files), "pids %s" % own] + r.diag())
    child_lines = [bare(l) for l in lines_of(files.get(str(child), ""))]
    report("the child's file: its execve (pending), then the exec'd program's calls",
           any(l.startswith("%d/%d execve(" % (child, child)) for l in child_lines)
           and "%d/%d sched_setaffinity(0, %d, [0]) = 0 /* host [%d] */ <libos>" % (child, child, MASK_BYTES, host_of(0))
           in child_lines, child_lines)

    work = tempfile.mkdtemp(dir=TMP)
    r = run(["fork-noexec"], trace=os.path.join(work, "n"), extra={"LIBOS_TRACE_PER_PROCESS": "1"})
    child = int((values(r.out, "child") or ["-1"])[0])
    parent = int((values(r.out, "parent") or ["-1"])[0])
    files = trace_files(work, "n")
    names = {pid: [m["name"] for m in calls_of(text)] for pid, text in files.items()}
    report("LIBOS_TRACE_PER_PROCESS=1, fork without exec: the child's file holds its one sched_getaffinity",
           r.rc == 0 and names.get(str(child)) == ["sched_getaffinity"]
           and names.get(str(parent), [])[:3] == ["sched_setaffinity"] * 3
           and names.get(str(parent), []).count("sched_getaffinity") == 1, ["files %s" % names] + r.diag())

    r = launcher(["--cpus", str(VCPUS), "--trace-per-process"], ["basic"])
    report("--trace-per-process without --trace=FILE: 125, one line", r.rc == 125 and len(lines_of(r.err)) == 1
           and "--trace-per-process needs --trace=FILE" in r.err and r.out == "", r.diag())
    r = launcher(["--cpus", str(VCPUS), "--trace=/nonexistent/dir/t", "--trace-per-process"], ["basic"])
    report("--trace=/nonexistent/dir/t --trace-per-process: 125, one line naming the file's error",
           r.rc == 125 and len(lines_of(r.err)) == 1 and r.err.startswith("libos-run: --trace: bad token "
                                                                           "'/nonexistent/dir/t'")
           and "No such file or directory" in r.err and r.out == "", r.diag())
    r = launcher(["--cpus", str(VCPUS), "--trace=/nonexistent/dir/t"], ["basic"])
    report("--trace=/nonexistent/dir/t: 125, one line, nothing on stderr traded for the file",
           r.rc == 125 and len(lines_of(r.err)) == 1 and "No such file or directory" in r.err and r.out == "",
           r.diag())
    r = run(["basic"], trace=False, extra={"LIBOS_TRACE_PER_PROCESS": "1"})
    report("LIBOS_TRACE_PER_PROCESS=1 without a file: refused with 125 and one line",
           r.rc == 125 and len(lines_of(r.err)) == 1
           and r.err.startswith("libos: LIBOS_TRACE_PER_PROCESS: bad token '1': ") and r.out == "", r.diag())


def main():
    if os.environ.get("TRACE_TEST_TRACING", "1") != "1":
        shutil.rmtree(TMP, ignore_errors=True)
        print("1..0 # SKIP built with -Dtracing=false: there is no tracer")
        return 0
    try:
        for check in (check_basic_text, check_basic_json, check_stacks, check_stats, check_fork_exec, check_threads,
                      check_launcher, check_nested_stats, check_exit_stats, check_spawn, check_crash, check_own_handlers, check_off, check_long_cwd, check_values, check_edges,
                      check_implied, check_filter, check_strace_classes, check_strace_arguments, check_entry_points, check_strace_structs, check_libc_exec, check_exec_line_environment, check_times,
                      check_per_process):
            try:
                check()
            except Exception as e:  # a broken check is a failure, not a crash of the whole run
                import traceback
                report("%s raised %s" % (check.__name__, type(e).__name__), False, [traceback.format_exc()])
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("1..%d" % count)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
