"""What the hosts suite runs inside a simulated host, and how it judges the results.

Two boots per shape. The first reads the guest's own sysfs and cgroup files (its facts: which CPUs
are online, allowed, SMT siblings, on which socket and node). From them the second boot's machines
are chosen: nothing here hard-codes QEMU's numbering, so a new shape needs no change here. The
second boot runs, natively, under the shim with no configuration, and on those machines:
- the conformance suite (tests/conformance), whose oracle is the guest kernel of that shape;
- the real tools (lscpu, numactl, hwloc), whose output is judged against the machine's expected
  view, computed from the facts by one function (expected_view) that the topology and NUMA options
  will extend.

Every check is one TAP case. A documented product defect is reported as an expected failure
("not ok ... # TODO reason", counted as skipped by scripts/test's summary); the condition under
which it is expected is part of the check, so a fix turns it into an unexpected pass that fails the
suite until the TODO is removed (KNOWN_DEFECTS)."""
import re
from dataclasses import dataclass, field

# The defects these checks expose today, each with the reason reported on its expected failures.
# A check names one only under the condition in which the defect shows.
KNOWN_DEFECTS = {}

# The vCPU counts of the conformance runs under the shim alone (LIBOS_CPUS), as tests/meson.build
# runs them natively, without 1024: its 45 s on this machine become many minutes on emulated CPUs.
SHIM_VCPUS = [1, 3, 8, 64]

# The guest's facts, as key=value lines (read by parse_facts).
FACTS = r"""d=/sys/devices/system/cpu
for f in online possible present offline; do echo "cpu.$f=$(cat $d/$f)"; done
for c in $d/cpu[0-9]*; do
  [ -d $c/topology ] && echo "${c##*/}=$(cat $c/topology/physical_package_id) $(cat $c/topology/core_id) $(cat $c/topology/thread_siblings_list)"
done
for f in online possible has_cpu has_memory; do echo "node.$f=$(cat /sys/devices/system/node/$f)"; done
for n in /sys/devices/system/node/node[0-9]*; do echo "${n##*/}=$(cat $n/cpulist)"; done
# sched_getaffinity's answer (taskset's), not Cpus_allowed_list: that is the raw mask, which
# after boot still names the possible CPUs that are offline.
echo "allowed=$(taskset -cp $$ | sed 's/.*: //')"
p=$(sed -n 's/^0:://p' /proc/self/cgroup); [ "$p" = / ] && p=
echo "cgroup=$p"
for f in cpuset.cpus.effective cpuset.cpus cpu.max; do
  [ -e /sys/fs/cgroup$p/$f ] && echo "cgroup.$f=$(cat /sys/fs/cgroup$p/$f)"
done
true"""

# What every view runs (bash, so that under the launcher each tool is a dynamic program that the
# shim is preloaded into): sections "== NAME", the tool's output, "== rc N". $1 is the cgroup path.
VIEWS = r"""section() { local name=$1; shift; echo "== $name"; "$@" 2>&1; echo "== rc $?"; }
section nproc nproc
section online cat /sys/devices/system/cpu/online
section lscpu lscpu
if command -v numactl >/dev/null; then section numactl numactl --hardware; fi
if command -v hwloc-calc >/dev/null; then
  for t in package numanode core pu; do section hwloc-$t hwloc-calc --number-of $t all; done
  section lstopo lstopo-no-graphics --of console --no-io
fi
for f in cpuset.cpus.effective cpuset.cpus cpu.max; do
  if [ -e /sys/fs/cgroup$1/$f ]; then section cgroup-$f cat /sys/fs/cgroup$1/$f; fi
done
"""
VIEWS_PATH = "/hosts/views.sh"


def parse_list(text):
    """A kernel CPU list ("0-3,8") as a sorted list of ints."""
    cpus = []
    for part in text.strip().split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        cpus.extend(range(int(first), int(last or first) + 1))
    return sorted(set(cpus))


def format_list(cpus):
    cpus, out, i = sorted(cpus), [], 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        out.append(str(cpus[i]) if i == j else f"{cpus[i]}-{cpus[j]}")
        i = j + 1
    return ",".join(out)


@dataclass
class Facts:
    """The guest host, as its own kernel shows it to the processes of the run."""
    online: list
    offline: list
    possible: list
    allowed: list              # the run's affinity (its cpuset, on the cgroup shape)
    package: dict              # online CPU -> physical_package_id
    core: dict                 # online CPU -> core_id
    siblings: dict             # online CPU -> its thread siblings
    node_of: dict              # online CPU -> node
    nodes: list                # the host's nodes (node/online)
    cgroup: str                # the run's cgroup path, "" for the root
    cgroup_files: dict         # cpuset.cpus.effective, cpuset.cpus, cpu.max, those that exist there


def parse_facts(text):
    kv = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    online = parse_list(kv.get("cpu.online", ""))
    facts = Facts(online=online, offline=parse_list(kv.get("cpu.offline", "")),
                  possible=parse_list(kv.get("cpu.possible", "")), allowed=parse_list(kv.get("allowed", "")),
                  package={}, core={}, siblings={}, node_of={}, nodes=parse_list(kv.get("node.online", "")),
                  cgroup=kv.get("cgroup", ""), cgroup_files={})
    for key, value in kv.items():
        if re.fullmatch(r"cpu\d+", key) and len(value.split()) == 3:
            cpu = int(key[3:])
            pkg, core, sib = value.split()
            facts.package[cpu], facts.core[cpu], facts.siblings[cpu] = int(pkg), int(core), parse_list(sib)
        elif re.fullmatch(r"node\d+", key):
            for cpu in parse_list(value):
                facts.node_of[cpu] = int(key[4:])
        elif key.startswith("cgroup."):
            facts.cgroup_files[key[len("cgroup."):]] = value.strip()
    return facts


@dataclass
class Machine:
    """A virtual machine the launcher is asked for, and what it is for."""
    label: str                 # the launcher options, as written in the case names
    options: list
    cpus: list                 # the host CPU of each vCPU
    why: str = ""


@dataclass
class Refusal:
    """A map the launcher must refuse with one line naming the host CPU."""
    options: list
    cpu: int
    why: str


def choose_machines(facts):
    """The machines a host of this shape can check, chosen from its own facts."""
    allowed = facts.allowed
    machines = [Machine("--cpus 4", ["--cpus", "4"], [allowed[i % len(allowed)] for i in range(4)],
                        "round-robin over the run's allowed CPUs")]

    def cpu_map(cpus, why):
        text = ",".join(map(str, cpus))
        machines.append(Machine(f"--cpu-map {text}", ["--cpu-map", text], list(cpus), why))

    if len(allowed) == 1:
        cpu_map([allowed[0]] * 2, "two vCPUs on the one host CPU")
    else:
        cpu_map([allowed[-1], allowed[0]], "the last allowed CPU first: renumbered, across the host")
    first = allowed[0]
    other_socket = [c for c in allowed if facts.package.get(c) != facts.package.get(first)]
    if other_socket:
        cpu_map([first, other_socket[0]], "one CPU on each of two sockets")
    sibling = [c for c in facts.siblings.get(first, []) if c != first and c in allowed]
    if sibling:
        cpu_map([first, sibling[0]], "two SMT siblings: one core with two threads")
    gaps = [c for c in facts.online[:-1] if c + 1 not in facts.online and c + 1 < facts.online[-1]]
    if gaps:
        after = min(c for c in facts.online if c > gaps[0])
        cpu_map([gaps[0], after, facts.online[-1]], "around a hole in the online CPUs")
    refusals = []
    if facts.offline:
        refusals.append(Refusal(["--cpu-map", f"{facts.offline[0]}"], facts.offline[0], "an offline CPU"))
    outside = [c for c in facts.online if c not in allowed]
    if outside:
        refusals.append(Refusal(["--cpu-map", f"{outside[0]}"], outside[0], "an online CPU outside the cpuset"))
    return machines, refusals


@dataclass
class View:
    """What a program should see on a machine, for the tools' checks."""
    n: int
    sockets: int
    cores: int
    threads_per_core: int
    node_partition: list       # for each node with vCPUs, its vCPUs (sorted lists, sorted)
    online: str


def expected_view(facts, cpus, host_layout=None):
    """The machine's view (docs/machine.md, "The machine's shape"): without --topology the shape is
    the host's when each vCPU has a host CPU of its own, and flat otherwise. In the host layout a
    vCPU has its host CPU's socket, core and node, the vCPUs on one host core are its threads, and
    the machine's nodes are the host nodes of its vCPUs; a flat machine is one socket of n
    single-thread cores on one node."""
    n = len(cpus)
    if host_layout is None:
        host_layout = len(set(cpus)) == n
    if not host_layout:
        return View(n=n, sockets=1, cores=n, threads_per_core=1, node_partition=[list(range(n))],
                    online=format_list(range(n)))
    cores = {(facts.package[c], facts.core[c]) for c in cpus}
    by_node = {}
    for v, c in enumerate(cpus):
        by_node.setdefault(facts.node_of.get(c, 0), []).append(v)
    return View(n=n, sockets=len({facts.package[c] for c in cpus}), cores=len(cores),
                threads_per_core=n // len(cores) if n % len(cores) == 0 else 0,
                node_partition=sorted(by_node.values()), online=format_list(range(n)))


def host_view(facts):
    view = expected_view(facts, facts.online, host_layout=True)
    view.online = format_list(facts.online)
    return view


# ---- output parsing -------------------------------------------------------------------------------

def sections(text):
    """The '== NAME' sections of a views run: name -> (output, status)."""
    out, name, lines = {}, None, []
    for line in text.splitlines():
        if line.startswith("== rc ") and name is not None:
            out[name] = ("\n".join(lines), int(line[6:]) if line[6:].strip().lstrip("-").isdigit() else -1)
            name = None
        elif line.startswith("== "):
            name, lines = line[3:], []
        elif name is not None:
            lines.append(line)
    return out


def lscpu_fields(text):
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in text.splitlines()) if v}


def numactl_nodes(text):
    """numactl --hardware: (the number of nodes it says are available, {node: [cpus]})."""
    available = re.search(r"^available: (\d+) nodes", text, re.M)
    nodes = {int(m.group(1)): [int(c) for c in m.group(2).split()]
             for m in re.finditer(r"^node (\d+) cpus:(.*)$", text, re.M)}
    return (int(available.group(1)) if available else None), nodes


def gtest_cases(text):
    """A GoogleTest run's output: {case: 'ok'|'failed'|'skipped'}, and each failed case's lines."""
    results, logs, current, lines = {}, {}, None, []
    for line in text.splitlines():
        m = re.match(r"^\[ (RUN|\s+OK|\s*FAILED|\s*SKIPPED) \s*\] (\S+)( \(\d+ ms\))?$", line)
        if m and m.group(1) == "RUN":
            current, lines = m.group(2), []
        elif m and m.group(3) and m.group(2) == current:
            word = m.group(1).strip()
            results[current] = {"OK": "ok", "FAILED": "failed", "SKIPPED": "skipped"}[word]
            if word == "FAILED":
                logs[current] = lines
            current = None
        elif current is not None:
            lines.append(line)
    if current is not None:  # died inside a case
        results[current], logs[current] = "failed", lines + ["(the run ended inside this case)"]
    return results, logs


# ---- TAP ----------------------------------------------------------------------------------------

@dataclass
class Tap:
    shape: str
    lines: list = field(default_factory=list)
    count: int = 0
    failed: int = 0

    def case(self, name, ok, diagnostics=(), defect=None):
        """One case; DEFECT names a KNOWN_DEFECTS entry expected to make it fail here."""
        self.count += 1
        directive = f" # TODO {KNOWN_DEFECTS[defect]}" if defect else ""
        self.lines.append(f"{'ok' if ok else 'not ok'} {self.count} - {self.shape}: {name}{directive}")
        if not ok and not defect:
            self.failed += 1
        if not ok or defect:
            for line in diagnostics:
                for sub in str(line).splitlines()[:60]:
                    self.lines.append(f"#   {sub}")

    def skip(self, name, reason):
        self.count += 1
        self.lines.append(f"ok {self.count} - {self.shape}: {name} # SKIP {reason}")

    def expect(self, name, got, want, diagnostics=(), defect=None):
        """GOT must equal WANT; DEFECT is named only when the failure is the defect's."""
        self.case(f"{name}: {want}" if got == want else name, got == want,
                  [f"wanted: {want}", f"got:    {got}", *diagnostics], defect)


# ---- the second boot's commands, and their judgment ------------------------------------------------

@dataclass
class Paths:
    build: str
    source: str

    @property
    def conformance(self):
        return f"{self.build}/tests/conformance"

    @property
    def shim(self):
        return f"{self.build}/shim/libshim.so"

    @property
    def launcher(self):
        return f"{self.build}/launcher/libos-run"


def conformance_runs(paths, machines):
    """(name, shell command) of every conformance run: as tests/meson.build runs the suite on this
    machine, and on the shape's machines through the launcher."""
    c, s, launcher = paths.conformance, paths.shim, paths.launcher
    runs = [("conformance native", f"{c} --gtest_color=no"),
            ("conformance shim", f"LD_PRELOAD={s} LIBOS_EXPECT_SHIM=1 {c} --gtest_color=no")]
    runs += [(f"conformance vcpus-{n}", f"LD_PRELOAD={s} LIBOS_EXPECT_SHIM=1 LIBOS_CPUS={n} {c} --gtest_color=no")
             for n in SHIM_VCPUS]
    runs += [(f"conformance {m.label}", f"LIBOS_EXPECT_SHIM=1 {launcher} {' '.join(m.options)} -- {c} --gtest_color=no")
             for m in machines]
    runs.append(("conformance --strict --cpus 8",
                 f"LIBOS_EXPECT_SHIM=1 {launcher} --strict --cpus 8 -- {c} --gtest_color=no"))
    return runs


def commands(paths, facts, machines, refusals):
    cg = facts.cgroup
    cmds = conformance_runs(paths, machines)
    cmds.append(("conformance compare", f"bash {paths.source}/tests/conformance/compare.sh {paths.conformance} {paths.shim}"))
    cmds.append(("views native", f"bash {VIEWS_PATH} '{cg}'"))
    cmds.append(("views shim", f"LD_PRELOAD={paths.shim} bash {VIEWS_PATH} '{cg}'"))
    cmds += [(f"views {m.label}", f"{paths.launcher} {' '.join(m.options)} -- bash {VIEWS_PATH} '{cg}'")
             for m in machines]
    cmds += [(f"refuse {' '.join(r.options)}", f"{paths.launcher} {' '.join(r.options)} -- true") for r in refusals]
    if "cpu.max" in facts.cgroup_files:
        cmds += quota_commands(paths)
    return cmds


# The machine's CPU quota on a cgroup v2 host (tests/integration/quota.sh checks v1 on this machine):
# --cpu-quota runs the program in a cgroup of the launch's own, with the quota (read as the host has it
# by the static busybox, which has no shim), shown to it too; the cgroup goes once the program has
# ended; --cpus-from-quota counts the run's own cgroup's quota.
QUOTA_PROBE = r"""p=$(sed -n 's/^0:://p' /proc/self/cgroup)
echo "cgroup=$p"; echo "shown=$(cat /sys/fs/cgroup$p/cpu.max)"; echo "real=$(busybox cat /sys/fs/cgroup$p/cpu.max)"
echo "nproc=$(nproc)" """
QUOTA_GONE = r"""for i in $(seq 100); do [ -z "$(ls -d /sys/fs/cgroup/libos-run-* 2>/dev/null)" ] && break; sleep 0.1; done
echo "left=$(ls -d /sys/fs/cgroup/libos-run-* 2>/dev/null)" """


# The launch's cgroup goes beside the launcher's own: from a cgroup without limits of its own (made
# here), or, from the run's cgroup (cpuset 8-15, cpu.max: limits of its own, which a cgroup beside it
# would drop), not at all.
QUOTA_FREE = "/sys/fs/cgroup/libos-quota-free"


def quota_commands(paths):
    probe = QUOTA_PROBE.replace("'", "'\\''")
    return [("quota --cpus 4 --cpu-quota 1.5",
             f"mkdir {QUOTA_FREE} && echo $$ >{QUOTA_FREE}/cgroup.procs && "
             f"{paths.launcher} --cpus 4 --cpu-quota 1.5 -- bash -c '{probe}'; echo status=$?; "
             # the keeper stays in the launcher's cgroup until the launch's own one has gone
             f"echo $$ >/sys/fs/cgroup/hosts/cgroup.procs; "
             f"for i in $(seq 100); do rmdir {QUOTA_FREE} 2>/dev/null && break; sleep 0.1; done; "
             f"echo free_left=$(ls -d {QUOTA_FREE} 2>/dev/null)"),
            ("quota cgroup removed", QUOTA_GONE),
            ("quota in a cgroup with limits of its own",
             f"{paths.launcher} --cpus 4 --cpu-quota 1.5 -- true 2>&1"),
            ("quota --cpus-from-quota", f"{paths.launcher} --cpus-from-quota -- nproc")]


def judge_quota(tap, facts, name, output, status):
    got = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
    if name == "quota --cpus 4 --cpu-quota 1.5":
        tap.case(f"{name}: the program runs in a cgroup of the launch's own (cgroup={got.get('cgroup')})",
                 got.get("status") == "0" and got.get("cgroup", "").startswith("/libos-run-"), [output])
        tap.expect(f"{name}: the launcher's cgroup can go once the keeper has", got.get("free_left", "(missing)"), "")
        tap.expect(f"{name}: its real cpu.max", got.get("real", "(missing)"), "150000 100000")
        tap.expect(f"{name}: the cpu.max the program reads", got.get("shown", "(missing)"), "150000 100000")
        tap.expect(f"{name}: nproc", got.get("nproc", "(missing)"), "4")
    elif name == "quota cgroup removed":
        tap.expect(f"{name} once the program has ended", got.get("left", "(missing)"), "")
    elif name == "quota in a cgroup with limits of its own":
        tap.expect(f"{name}: shown, not enforced", output.strip(),
                   "libos-run: --cpu-quota 1.5: the quota is shown to the program but not enforced (the cgroup"
                   f" /sys/fs/cgroup{facts.cgroup} limits the program itself (cpu.max "
                   f"{facts.cgroup_files['cpu.max']}), which a cgroup beside it would not)")
    else:
        quota, period = facts.cgroup_files["cpu.max"].split()
        want = str(-(-int(quota) // int(period))) if quota != "max" else str(len(facts.allowed))
        tap.expect(f"{name} (the run's cgroup: cpu.max {quota} {period}): nproc", output.strip(), want)


def judge_conformance(tap, name, output, status):
    results, logs = gtest_cases(output)
    failed = [c for c, r in results.items() if r == "failed"]
    skipped = [c for c, r in results.items() if r == "skipped"]
    passed = len(results) - len(failed) - len(skipped)
    summary = f"{passed} passed" + (f", {len(skipped)} skipped ({', '.join(skipped)})" if skipped else "")
    if not results:
        tap.case(name, False, [f"status {status}, no GoogleTest case ran", output[-3000:]])
        return
    for case in failed:
        tap.case(f"{name}: {case}", False, logs.get(case, []))
    tap.case(f"{name} ({summary})", status == 0 and not failed,
             [f"status {status}"] + ([output[-2000:]] if status != 0 and not failed else []))


def judge_compare(tap, output, status):
    for line in output.splitlines():
        m = re.match(r"^(not ok|ok) \d+ - (.*)$", line)
        if m:
            tap.case(f"compare: {m.group(2)}", m.group(1) == "ok", [output[-3000:]])
    if status != 0 and "not ok" not in output:
        tap.case("compare: runs", False, [f"status {status}", output[-3000:]])


def strip_varying(text):
    """Lines that differ between two runs of one tool on one host (free memory), left out of the
    native/shim comparison."""
    return "\n".join(line for line in text.splitlines() if not re.search(r"free:|BogoMIPS", line))


def judge_invisible(tap, native, shimmed):
    """With no configuration the shim is invisible: every view as the guest kernel gives it."""
    a, b = sections(native), sections(shimmed)
    for key in a:
        got, want = strip_varying(b.get(key, ("(missing)", -1))[0]), strip_varying(a[key][0])
        tap.case(f"shim, no configuration: {key} as natively", got == want and a[key][1] == b.get(key, (0, -1))[1],
                 ["native:", want, "under the shim:", got])


def judge_native(tap, facts, native):
    """The rig's own check: the guest is the shape that was asked for, as the tools see it."""
    s = sections(native)
    view = host_view(facts)
    lscpu = lscpu_fields(s.get("lscpu", ("", 0))[0])
    tap.expect("native lscpu Socket(s)", lscpu.get("Socket(s)"), str(view.sockets))
    if view.threads_per_core:
        tap.expect("native lscpu Thread(s) per core", lscpu.get("Thread(s) per core"), str(view.threads_per_core))
    if "numactl" in s:
        available, nodes = numactl_nodes(s["numactl"][0])
        tap.expect("native numactl nodes", available, len(facts.nodes), [s["numactl"][0]])


def judge_machine(tap, facts, machine, output, status):
    """The tools on a machine against the machine's expected view."""
    view = expected_view(facts, machine.cpus)
    s = sections(output)
    label = machine.label
    if status != 0 or not s:
        tap.case(f"{label}: the views run", False, [f"status {status}", output[-3000:]])
        return
    tap.expect(f"{label}: nproc", s.get("nproc", ("",))[0].strip(), str(view.n))
    tap.expect(f"{label}: cpu/online", s.get("online", ("",))[0].strip(), view.online)
    lscpu = lscpu_fields(s.get("lscpu", ("",))[0])
    tap.expect(f"{label}: lscpu CPU(s)", lscpu.get("CPU(s)"), str(view.n))
    tap.expect(f"{label}: lscpu Socket(s)", lscpu.get("Socket(s)"), str(view.sockets))
    if view.threads_per_core:
        tap.expect(f"{label}: lscpu Thread(s) per core", lscpu.get("Thread(s) per core"), str(view.threads_per_core))
    tap.expect(f"{label}: lscpu NUMA node(s)", lscpu.get("NUMA node(s)"), str(len(view.node_partition)))
    if "numactl" in s:
        available, nodes = numactl_nodes(s["numactl"][0])
        tap.expect(f"{label}: numactl available nodes", available, len(view.node_partition), [s["numactl"][0]])
        tap.expect(f"{label}: numactl the vCPUs of each node", sorted(v for v in nodes.values() if v),
                   view.node_partition, [s["numactl"][0]])
    else:
        tap.skip(f"{label}: numactl", "numactl is not installed (package numactl)")
    if "hwloc-pu" in s:
        for kind, want in (("pu", view.n), ("package", view.sockets), ("core", view.cores),
                           ("numanode", len(view.node_partition))):
            tap.expect(f"{label}: hwloc-calc --number-of {kind}", s[f"hwloc-{kind}"][0].strip(), str(want))
        lstopo = s.get("lstopo", ("", -1))
        tap.expect(f"{label}: lstopo-no-graphics PUs", len(re.findall(r"\bPU L#", lstopo[0])), view.n, [lstopo[0]])
        tap.case(f"{label}: lstopo-no-graphics finds the machine's sets consistent (no hwloc banner)",
                 lstopo[1] == 0 and "received invalid information" not in lstopo[0], [lstopo[0]])
    else:
        tap.skip(f"{label}: hwloc", "hwloc is not installed (package hwloc-nox)")
    judge_cgroup(tap, facts, machine, view, s)


def judge_cgroup(tap, facts, machine, view, s):
    """cgroup v2: the files at the run's own cgroup path are the machine's."""
    label = machine.label
    where = f"/sys/fs/cgroup{facts.cgroup or ''}/"
    for name in ("cpuset.cpus.effective", "cpuset.cpus"):
        if name in facts.cgroup_files:
            want = view.online
            got = s.get(f"cgroup-{name}", ("(missing)",))[0].strip()
            tap.expect(f"{label}: {where}{name}", got, want)
    if "cpu.max" in facts.cgroup_files:
        want, host = "max 100000", facts.cgroup_files["cpu.max"]
        got = s.get("cgroup-cpu.max", ("(missing)",))[0].strip()
        tap.expect(f"{label}: {where}cpu.max", got, want,
                   defect="cgroup-cpu.max" if got == host and host != want else None)


def judge_refusal(tap, refusal, output, status):
    ok = status == 125 and f"{refusal.cpu}" in output and len(output.strip().splitlines()) == 1
    tap.case(f"{' '.join(refusal.options)} refused ({refusal.why}): {output.strip()}" if ok
             else f"{' '.join(refusal.options)} refused ({refusal.why})", ok,
             [f"status {status} (wanted 125 and one line naming host CPU {refusal.cpu})", output])


def judge(tap, paths, facts, machines, refusals, result):
    """Every case of the second boot, in the order of its commands."""
    for name, _ in commands(paths, facts, machines, refusals):
        if name not in result.statuses:
            tap.case(name, False, ["no result: the boot ended before this command finished",
                                   result.outputs.get(name, "")[-2000:], "console:", result.console[-3000:]])
            continue
        output, status = result.outputs[name], result.statuses[name]
        if name == "conformance compare":
            judge_compare(tap, output, status)
        elif name.startswith("conformance "):
            judge_conformance(tap, name, output, status)
        elif name == "views native":
            judge_native(tap, facts, output)
            if "views shim" in result.outputs:
                judge_invisible(tap, output, result.outputs["views shim"])
        elif name.startswith("views --"):
            machine = next(m for m in machines if f"views {m.label}" == name)
            judge_machine(tap, facts, machine, output, status)
        elif name.startswith("quota "):
            judge_quota(tap, facts, name, output, status)
        elif name.startswith("refuse "):
            judge_refusal(tap, next(r for r in refusals if f"refuse {' '.join(r.options)}" == name), output, status)
