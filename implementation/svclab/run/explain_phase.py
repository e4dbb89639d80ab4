"""The explain phase of one testbed: one example Service explained while the cluster is up, for the report.

After the conformance suite, in namespace ``svclab-explain``: two agnhost
netexec backends (HTTP 8080), a client pod, Service ``web`` (80 -> 8080);
once the client's node's rules name both backends, the explanation of the
client's first packet to the ClusterIP (``svclab.testbed.explain``, as
``svclab explain CLUSTER svc/web -n svclab-explain --from client``) goes to
``explain-<testbed>.json``: the ``-o json`` shape plus ``text``, the text
rendering. The namespace is deleted afterwards (without waiting). Takes a
few seconds (a minute inside a User-Mode Linux guest).
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from svclab.proxy.explain import Explanation, render_text
from svclab.run.cluster import RunCluster
from svclab.testbed.explain import ExplainError, Target, explain_service

__all__ = ["EXPLAIN_NAMESPACE", "ExplainOutcome", "manifest", "run_explain"]

EXPLAIN_NAMESPACE = "svclab-explain"
_AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
_BACKENDS = 2


def _pod(name: str, args: str, labels: str) -> str:
    return f"""---
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {EXPLAIN_NAMESPACE}, labels: {labels}}}
spec:
  containers:
  - {{name: main, image: "{_AGNHOST}", args: {args}}}
"""


def manifest() -> str:
    """The namespace, the backends, the client and the Service, as one YAML stream."""
    backends = "".join(_pod(f"web-{i}", "[netexec, --http-port=8080]", "{app: web}") for i in range(_BACKENDS))
    return (
        f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {EXPLAIN_NAMESPACE}}}\n"
        + backends
        + _pod("client", "[pause]", "{app: client}")
        + f"""---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {EXPLAIN_NAMESPACE}}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
"""
    )


@dataclass(frozen=True, slots=True)
class ExplainOutcome:
    """What the phase wrote; ``describe`` is its line in the run's progress."""

    path: Path
    endpoints: int
    outcome: str
    ok: bool = True

    def describe(self) -> str:
        return f"{self.outcome} to {self.endpoints} endpoint(s), {self.path.name}"


def _kubectl(cluster: RunCluster, *args: str, stdin: str | None = None) -> None:
    argv = ["kubectl", "--kubeconfig", str(cluster.kubeconfig), *args]
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args[:2])}: {done.stderr.strip()[-300:]}")


def _explained(cluster: RunCluster, timeout: float) -> Explanation:
    """The client's explanation once it names every backend (pods starting, rules syncing meanwhile)."""
    assert cluster.handle is not None
    deadline, last = time.monotonic() + timeout, "nothing yet"
    while time.monotonic() < deadline:
        try:
            found = explain_service(cluster.handle, Target(EXPLAIN_NAMESPACE, "web", source="client"))
            if len(found.endpoints()) == _BACKENDS:
                return found
            last = f"{len(found.endpoints())} endpoint(s) named"
        except ExplainError as exc:  # e.g. the client has no IP yet
            last = str(exc)
        time.sleep(1.0)
    raise TimeoutError(f"no explanation naming {_BACKENDS} backends within {timeout:.0f} s (last: {last})")


def run_explain(cluster: RunCluster, testbed: str, results_dir: Path, *, timeout: float = 180.0) -> ExplainOutcome:
    """Create the example, explain it, write ``explain-<testbed>.json``, delete the example."""
    _kubectl(cluster, "apply", "-f", "-", stdin=manifest())
    try:
        found = _explained(cluster, timeout)
    finally:
        _kubectl(cluster, "delete", "namespace", EXPLAIN_NAMESPACE, "--wait=false")
    path = results_dir / f"explain-{testbed}.json"
    path.write_text(json.dumps({**found.to_json(), "text": render_text(found)}, indent=2) + "\n")
    return ExplainOutcome(path, len(found.endpoints()), found.outcome.value)
