"""The simulated hosts: each a QEMU machine (its -smp and -numa) plus what /init does to it before
the commands run (CPUs taken offline, the cgroup the commands run in). docs/hosts.md describes them.

A new shape is one more entry in SHAPES; the checks (tests/hosts/checks.py) read the guest's own
sysfs and cgroup files rather than this description, so they need no change for it."""
from dataclasses import dataclass, field


@dataclass
class Shape:
    name: str
    description: str
    qemu_args: list
    memory_mib: int
    setup: str = ""                    # shell lines /init runs as root before the commands
    kernel_args: str = ""
    ci: bool = False                   # run by .ci/run (suite hosts-ci) as well as by the full matrix
    tags: list = field(default_factory=list)


def _numa(node_cpus, mib_each):
    """-numa arguments: one node per CPU range, each with MIB_EACH of its own memory."""
    args = []
    for i, cpus in enumerate(node_cpus):
        args += ["-object", f"memory-backend-ram,id=m{i},size={mib_each}M",
                 "-numa", f"node,nodeid={i},cpus={cpus},memdev=m{i}"]
    return args


# The commands of the cgroup shape run in a child cgroup: /init moves itself there before it starts
# them, so every process of the run inherits it.
_CGROUP_SETUP = """echo '+cpuset +cpu' >/sys/fs/cgroup/cgroup.subtree_control
mkdir /sys/fs/cgroup/hosts
echo 8-15 >/sys/fs/cgroup/hosts/cpuset.cpus
echo '200000 100000' >/sys/fs/cgroup/hosts/cpu.max
echo $$ >/sys/fs/cgroup/hosts/cgroup.procs"""

SHAPES = {s.name: s for s in [
    Shape("smt", "2 sockets x 4 cores x 2 threads, 2 NUMA nodes (16 CPUs)",
          ["-smp", "16,sockets=2,cores=4,threads=2"] + _numa(["0-7", "8-15"], 1024), 2048, ci=True),
    Shape("sparse", "16 possible CPUs, 12 online (0-11), 4 NUMA nodes (node 3: memory only), CPU 5 taken offline",
          ["-smp", "12,maxcpus=16,sockets=4,cores=4,threads=1"] + _numa(["0-3", "4-7", "8-11", "12-15"], 512),
          2048, setup="echo 0 >/sys/devices/system/cpu/cpu5/online"),
    Shape("cgroup2", "the smt host; the commands run in a cgroup v2 child with cpuset.cpus 8-15 and"
          " cpu.max 200000 100000 (2 CPUs)",
          ["-smp", "16,sockets=2,cores=4,threads=2"] + _numa(["0-7", "8-15"], 1024), 2048,
          setup=_CGROUP_SETUP, ci=True),
    Shape("one", "1 CPU, one node", ["-smp", "1"], 1024),
    # The oracle of virtual NUMA (docs/numa.md): real nodes of the shapes `libos-run --cpus 8 --numa 2`
    # and `--numa 4` give, on which tests/hosts/numa_test.py runs the real NUMA clients natively.
    Shape("numa2", "8 CPUs, 2 NUMA nodes (CPUs 0-3, 4-7)",
          ["-smp", "8,sockets=1,cores=8,threads=1"] + _numa(["0-3", "4-7"], 512), 1024, tags=["numa"]),
    Shape("numa4", "8 CPUs, 4 NUMA nodes (CPUs 0-1, 2-3, 4-5, 6-7)",
          ["-smp", "8,sockets=1,cores=8,threads=1"] + _numa(["0-1", "2-3", "4-5", "6-7"], 256), 1024,
          tags=["numa"]),
]}
