"""pytest plugin: run a test on virtual CPU machines (libos-vcpu).

    @pytest.mark.vcpus(1, 8)
    def test_pool_size(vcpus):
        assert os.cpu_count() == vcpus

runs test_pool_size twice, as test_pool_size[vcpus1] and test_pool_size[vcpus8], each in a pytest of
its own started under `libos-run --cpus N --`: everything the test does (os.cpu_count(),
os.sched_getaffinity, the processes it starts) sees an N-CPU machine. The `vcpus` fixture is N (None
for a test without the marker). A test fails as it would on its own, with its output; a refused
machine (libos-run's status 125) fails it with libos-run's line.

Load it with `-p pytest_libos_vcpu` (its directory on PYTHONPATH: SHARE/libos-vcpu/pytest) or
`pytest_plugins = ["pytest_libos_vcpu"]` in a conftest.py. The launcher is --libos-run PATH, else
$LIBOS_RUN, else libos-run on PATH. Options for every machine: --libos-run-args "--topology host".
"""
import os
import shlex
import shutil
import subprocess
import sys

import pytest

_INNER = "LIBOS_VCPU_PYTEST_INNER"


def pytest_addoption(parser):
    group = parser.getgroup("libos-vcpu")
    group.addoption("--libos-run", default=None, help="the libos-run launcher (default: $LIBOS_RUN, then PATH)")
    group.addoption("--libos-run-args", default="", help="more libos-run options for every machine")


def pytest_configure(config):
    config.addinivalue_line("markers", "vcpus(n, ...): run the test once on each virtual CPU machine of n vCPUs")


def pytest_generate_tests(metafunc):
    marker = metafunc.definition.get_closest_marker("vcpus")
    if marker is None:
        return
    counts = list(marker.args)
    if not counts or not all(isinstance(n, int) and n >= 1 for n in counts):
        raise pytest.UsageError("%s: @pytest.mark.vcpus takes vCPU counts (whole numbers from 1): %r"
                                % (metafunc.definition.nodeid, counts))
    metafunc.parametrize("vcpus", counts, ids=["vcpus%d" % n for n in counts])


@pytest.fixture
def vcpus(request):
    """The test's vCPU count (the vcpus marker's), or None without the marker."""
    return getattr(request, "param", None)


def _launcher(config):
    path = config.getoption("--libos-run") or os.environ.get("LIBOS_RUN") or shutil.which("libos-run")
    if not path:
        raise pytest.UsageError("libos-run not found: give --libos-run PATH or set LIBOS_RUN")
    return path


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    callspec = getattr(pyfuncitem, "callspec", None)
    if callspec is None or "vcpus" not in callspec.params or pyfuncitem.get_closest_marker("vcpus") is None:
        return None
    if os.environ.get(_INNER) == pyfuncitem.nodeid:
        return None  # inside the machine: run the test itself
    config = pyfuncitem.config
    n = callspec.params["vcpus"]
    plugin_dir = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ)
    env[_INNER] = pyfuncitem.nodeid
    env["PYTHONPATH"] = plugin_dir + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    args = [_launcher(config), "--cpus", str(n)] + shlex.split(config.getoption("--libos-run-args")) + [
        "--", sys.executable, "-m", "pytest", "-q", "-p", "pytest_libos_vcpu", "-p", "no:cacheprovider",
        "--rootdir", str(config.rootpath), pyfuncitem.nodeid]
    r = subprocess.run(args, cwd=str(config.rootpath), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if r.returncode == 125:
        pytest.fail("libos-run refused the machine of %d vCPUs:\n%s" % (n, r.stdout), pytrace=False)
    if r.returncode != 0:
        pytest.fail("on %d vCPUs (status %d):\n%s" % (n, r.returncode, r.stdout), pytrace=False)
    return True
