"""The pytest plugin's example: each test runs on a 1-, 2-, 8- and 64-vCPU machine.
    PYTHONPATH=SHARE/libos-vcpu/pytest pytest -p pytest_libos_vcpu test_example.py"""
import os
import subprocess

import pytest


@pytest.mark.vcpus(1, 2, 8, 64)
def test_cpu_count(vcpus):
    assert os.cpu_count() == vcpus
    assert len(os.sched_getaffinity(0)) == vcpus


@pytest.mark.vcpus(1, 8)
def test_children_see_the_machine(vcpus):
    assert subprocess.run(["nproc"], stdout=subprocess.PIPE, text=True, check=True).stdout.strip() == str(vcpus)


def test_without_the_marker_runs_on_the_host(vcpus):
    assert vcpus is None
