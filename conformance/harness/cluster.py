"""The cluster a conformance test runs against, and the provider's small hooks.

Tests talk to a cluster only through the Kubernetes API and two hooks:
``exec_in_pod(namespace, pod, argv)`` and ``exec_on_node(node, argv)``. For the
local provider both go through ``svclab exec`` / ``svclab node-exec``, so the
suite exercises the same commands a user runs (for a cluster inside a
User-Mode Linux guest they reach the guest's exec agent). ``kernel`` says which
kernel the cluster runs on: ``host`` or ``uml <version>``.

A real cluster (provider ``kind`` or ``kubeconfig``) carries its provider's
``handle`` (``svclab.testbed.kubeconfig.ClusterHandle``) and the hooks delegate
to it: ``kubectl exec`` into pods; ``docker exec`` and testinfra's
``docker://`` backend onto kind's node containers. A cluster without node
access (kubeconfig) makes every node-level hook skip the calling test with the
handle's reason, and the local provider's process hooks (``component_pid``,
``signal_component``) skip on any real cluster: a skip, never a failure, since
the cluster cannot be judged there. ``harness.real_cluster`` builds these from
the cluster's API.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from svclab.testbed.kubeconfig import (  # one result type for every provider
    ClusterHandle,
    ExecResult,
    NodeAccessUnavailable,
)
from svclab.testbed.local.cluster import ClusterInfo, NodeInfo
from svclab.testbed.local.supervisor import module_available

__all__ = ["UNKNOWN_PROXY_MODE", "ClusterUnderTest", "ExecResult", "local_cluster"]

# The proxy mode of a cluster tested as it is, which no spec described (the
# kubeconfig provider's word for it); proxy_mode markers skip on it.
UNKNOWN_PROXY_MODE = "unknown"


@dataclass(frozen=True, slots=True)
class ClusterUnderTest:
    name: str
    provider: str  # local | kind | kubeconfig
    kubeconfig: Path
    proxy_mode: str  # none | userspace | iptables | ipvs | nftables | unknown
    has_proxy: bool  # a proxy actually runs (mode != none and the component exists)
    has_controllers: bool
    service_subnet: str | None  # None: a real cluster that does not say (no spec, no ServiceCIDR)
    apiserver_address: str  # the control-plane node's address (default/kubernetes)
    nodes: tuple[NodeInfo, ...]
    kernel: str = "host"  # "host" or "uml <version>" (a User-Mode Linux guest)
    handle: ClusterHandle | None = None  # a real cluster's provider hooks; None: local

    @property
    def context(self) -> str | None:
        """The kubeconfig context to use (None: the file's current context)."""
        return self.handle.context if self.handle is not None else None

    def node(self, name: str) -> NodeInfo:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def exec_in_pod(self, namespace: str, pod: str, argv: Sequence[str], *, timeout: float = 30.0) -> ExecResult:
        if self.handle is not None:
            return self.handle.exec_in_pod(namespace, pod, argv, timeout=timeout)
        return _svclab("exec", self.name, "-n", namespace, pod, "--", *argv, timeout=timeout)

    def exec_on_node(self, node: str, argv: Sequence[str], *, timeout: float = 30.0) -> ExecResult:
        """Run ``argv`` on ``node``; skips the test where nodes cannot be reached."""
        if self.handle is None:
            return _svclab("node-exec", self.name, node, "--", *argv, timeout=timeout)
        try:
            return self.handle.exec_on_node(node, argv, timeout=timeout)
        except NodeAccessUnavailable as exc:
            pytest.skip(str(exc))

    def component_pid(self, child: str) -> int | None:
        """PID of a running cluster component, by its supervisor name
        (``controller-manager``, ``proxy-<node>``, ``node-agent-<node>``, ...), in
        the cluster's kernel; None while there is none (e.g. restarting).
        Local provider only: elsewhere the test skips."""
        if self.handle is not None:
            self._skip_not_local(f"finding the {child} process")
        code = (
            "from svclab.testbed.local.supervisor import running_child_pid; "
            f"print(running_child_pid({str(self.kubeconfig.parent)!r}, {child!r}) or '')"
        )
        if not self.kernel.startswith("uml"):
            from svclab.testbed.local.supervisor import running_child_pid

            return running_child_pid(self.kubeconfig.parent, child)
        found = self.exec_on_node(self.nodes[0].name, [sys.executable, "-c", code]).check()
        return int(found.stdout) if found.stdout.strip() else None

    def signal_component(self, pid: int, signum: int) -> None:
        """Send ``signum`` to a component found with ``component_pid`` (local provider only)."""
        if self.handle is not None:
            self._skip_not_local("signalling a component process")
        if not self.kernel.startswith("uml"):
            os.kill(pid, signum)
            return
        self.exec_on_node(self.nodes[0].name, ["kill", f"-{signum}", str(pid)]).check()

    def node_host(self, node: str):  # type: ignore[no-untyped-def]
        """A testinfra ``Host`` whose commands run on ``node``; skips the test where
        nodes cannot be reached."""
        if self.handle is None:
            from harness.testinfra_backend import node_host

            return node_host(self.name, node)
        on_node = getattr(self.handle, "node_host", None)  # KindClusterHandle has one
        if not self.handle.node_access or on_node is None:
            pytest.skip(f"node {node}: {self.handle.node_access_reason}")
        return on_node(node)

    def _skip_not_local(self, what: str) -> NoReturn:
        pytest.skip(f"{what} needs the local provider (cluster {self.name} is {self.provider})")


def _svclab(*args: str, timeout: float) -> ExecResult:
    done = subprocess.run(
        [sys.executable, "-m", "svclab.cli", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    return ExecResult(done.returncode, done.stdout, done.stderr)


def local_cluster(info: ClusterInfo) -> ClusterUnderTest:
    """The local provider's cluster as the suite sees it."""
    return ClusterUnderTest(
        name=info.name,
        provider="local",
        kubeconfig=info.kubeconfig,
        proxy_mode=info.proxy_mode,
        has_proxy=info.proxy_mode != "none" and module_available("svclab.proxy.command"),
        has_controllers=bool(info.controllers) and module_available("svclab.controllers.command"),
        service_subnet=info.service_subnet,
        apiserver_address=info.advertise_address,
        nodes=info.nodes,
        kernel="host" if info.uml is None else f"uml {info.uml.kernel_version}",
    )
