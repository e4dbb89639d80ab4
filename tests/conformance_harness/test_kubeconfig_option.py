"""The conformance suite's ``--kubeconfig`` path against a real local cluster (root only).

A 3-node local cluster ``hk<pid>`` (``clusters/iptables.yaml``: control plane
172.18.0.2, workers 172.18.0.3-4, pods 10.244.0-2.0/24, Services
10.96.0.0/16) is brought up with ``svclab up`` and tested as the kubeconfig
provider tests any existing cluster: through its kubeconfig, the Kubernetes
API and ``kubectl exec``, with no node access and proxy mode ``unknown``.

Our API server does not serve ``kubectl exec``, so a stand-in ``kubectl``
(first on PATH) turns ``kubectl ... exec -n NS POD -- ARGV`` into ``svclab
exec CLUSTER -n NS POD -- ARGV`` and hands every other call to the real
kubectl. Expected: tests that need only the API and pods pass, node-level and
mode-specific ones skip with the reason, none fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from svclab.testbed.kubeconfig import NO_NODE_ACCESS_REASON
from svclab.testbed.local import naming
from svclab.testbed.local.lifecycle import tear_down

REPO = Path(__file__).resolve().parents[2]
REAL_KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
# A few tests of each kind, not whole modules (the suite grows; this test checks the path):
# API-only and pod-exec ones that must pass, a node-level one and a mode-specific one that must skip.
SELECTION = [
    "conformance/test_nodes.py",
    "conformance/test_traffic.py::test_cluster_ip_reaches_every_ready_backend_and_never_a_not_ready_one",
    "conformance/test_traffic.py::test_service_without_endpoints_refuses_at_once",
    "conformance/test_rules.py::test_rules_follow_service_and_endpoint_changes_on_every_node",
]

pytestmark = [
    pytest.mark.root,
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (creates network namespaces)"),
    pytest.mark.skipif(REAL_KUBECTL is None, reason="needs kubectl"),
    pytest.mark.timeout(900),
]

STAND_IN = """#!{python} -S
import os, sys
args = sys.argv[1:]
if "exec" in args:
    rest = args[args.index("exec") + 1:]
    dashes = rest.index("--")
    namespace = rest[rest.index("-n") + 1]
    pod = [a for a in rest[:dashes] if a not in ("-n", namespace)][0]
    os.execv(sys.executable, [sys.executable, "-m", "svclab.cli", "exec", {cluster!r},
                              "-n", namespace, pod, "--", *rest[dashes + 1:]])
os.execv({kubectl!r}, [{kubectl!r}, *args])
"""


def svclab(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "svclab.cli", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def cluster_name() -> Iterator[str]:
    name = f"hk{os.getpid() % 100000}"
    try:
        up = svclab("up", str(REPO / "clusters" / "iptables.yaml"), "--name", name)
        assert up.returncode == 0, up.stdout + up.stderr
        yield name
    finally:
        tear_down(name)


def test_suite_judges_a_cluster_through_its_kubeconfig_only(cluster_name: str, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(STAND_IN.format(python=sys.executable, cluster=cluster_name, kubectl=REAL_KUBECTL))
    (bin_dir / "kubectl").chmod(0o755)
    junit = tmp_path / "junit.xml"
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(REPO / "implementation"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *SELECTION,
            "-p",
            "no:cacheprovider",
            "-q",
            "-rs",
            "--kubeconfig",
            str(naming.state_dir(cluster_name) / "kubeconfig"),
            f"--junitxml={junit}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    output = done.stdout + done.stderr
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None, output
    counts = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
    assert done.returncode == 0 and counts["failures"] == counts["errors"] == 0, output
    assert counts["tests"] - counts["skipped"] >= 5, output  # API and pod tests ran
    flat = " ".join(output.split())
    assert NO_NODE_ACCESS_REASON in flat, output  # node-level tests skipped with the reason
    assert "proxy mode of cluster kubeconfig unknown" in flat, output  # mode-specific ones too
