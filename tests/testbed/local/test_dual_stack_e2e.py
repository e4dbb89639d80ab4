"""A dual-stack local cluster, end to end (root only, a real cluster; issue 18).

Address plan: cluster ``$SVCLAB_TEST_PREFIX`` + ``v6d`` + the PID, two nodes,
``ipFamily: dual`` with kind's defaults: nodes 172.18.0.2-3 and
fc00:f853:ccd:e793::2-3, pods 10.244.0-1.0/24 and fd00:10:244:0-1::/64,
Services 10.96.0.0/16 and fd00:10:96::/112; no proxy (pod to pod needs none).

The conformance suite's dual-stack file runs against it as a user would run it
(``pytest --cluster NAME conformance/test_dual_stack.py``): addresses per family
on nodes and pods, pod to pod over each family across nodes, Service families.
Afterwards the host's root namespace has the same IPv4/IPv6 routes and rules as
before and none of the cluster's namespaces is left. The cluster goes down even
when the test fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from svclab.testbed.local import naming, network
from svclab.testbed.local.lifecycle import tear_down

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (creates network namespaces)"),
    pytest.mark.integration,
    pytest.mark.timeout(600),
]

REPO = Path(__file__).resolve().parents[3]
NAME = f"{os.environ.get('SVCLAB_TEST_PREFIX', '')}v6d{os.getpid() % 10000}"
SPEC = {
    "apiVersion": "svclab.dev/v1alpha1",
    "kind": "Testbed",
    "metadata": {"name": NAME},
    "spec": {
        "kernel": "host",
        "proxy": {"mode": "none"},
        "controllers": ["endpoints", "endpointslice"],
        "cluster": {"networking": {"ipFamily": "dual"}, "nodes": [{"role": "control-plane"}, {"role": "worker"}]},
    },
}
# What svclab must never change in the host's root namespace.
HOST_STATE = (["ip", "-4", "route"], ["ip", "-6", "route"], ["ip", "-4", "rule"], ["ip", "-6", "rule"])


def _host_state() -> list[str]:
    return [subprocess.run(argv, capture_output=True, text=True, check=True).stdout for argv in HOST_STATE]


def _up(spec: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "svclab.cli", "up", str(spec)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _dual_stack_suite(name: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO / "implementation"))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfs", "--cluster", name]
        + ["conformance/test_dual_stack.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=500,
    )


def test_dual_stack_cluster_serves_both_families_and_leaves_the_host_as_it_was(tmp_path: Path) -> None:
    before = _host_state()
    spec = tmp_path / "dual.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    try:
        _up(spec)
        result = _dual_stack_suite(NAME)
        assert result.returncode == 0, result.stdout[-4000:]
        assert "9 passed" in result.stdout, result.stdout[-2000:]
        assert _host_state() == before  # also while it is up: nothing of it in the root namespace
    finally:
        tear_down(NAME)
    assert _host_state() == before
    assert network.cluster_namespaces(NAME) == []
    assert not naming.state_dir(NAME).exists()
