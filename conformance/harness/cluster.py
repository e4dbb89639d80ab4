"""The cluster a conformance test runs against, and the provider's small hooks.

Tests talk to a cluster only through the Kubernetes API and two hooks:
``exec_in_pod(namespace, pod, argv)`` and ``exec_on_node(node, argv)``. For the
local provider both go through ``svclab exec`` / ``svclab node-exec``, so the
suite exercises the same commands a user runs (for a cluster inside a
User-Mode Linux guest they reach the guest's exec agent). ``kernel`` says which
kernel the cluster runs on: ``host`` or ``uml <version>``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from svclab.testbed.kubeconfig import ExecResult  # one result type for every provider
from svclab.testbed.local.cluster import ClusterInfo, NodeInfo
from svclab.testbed.local.supervisor import module_available

__all__ = ["ClusterUnderTest", "ExecResult", "local_cluster"]


@dataclass(frozen=True, slots=True)
class ClusterUnderTest:
    name: str
    provider: str  # local | kind | kubeconfig
    kubeconfig: Path
    proxy_mode: str  # none | userspace | iptables | ipvs | nftables
    has_proxy: bool  # a proxy actually runs (mode != none and the component exists)
    has_controllers: bool
    service_subnet: str
    apiserver_address: str  # the control-plane node's address (default/kubernetes)
    nodes: tuple[NodeInfo, ...]
    kernel: str = "host"  # "host" or "uml <version>" (a User-Mode Linux guest)

    def node(self, name: str) -> NodeInfo:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def exec_in_pod(self, namespace: str, pod: str, argv: Sequence[str], *,
                    timeout: float = 30.0) -> ExecResult:
        return _svclab("exec", self.name, "-n", namespace, pod, "--", *argv, timeout=timeout)

    def exec_on_node(self, node: str, argv: Sequence[str], *,
                     timeout: float = 30.0) -> ExecResult:
        return _svclab("node-exec", self.name, node, "--", *argv, timeout=timeout)

    def component_pid(self, child: str) -> int | None:
        """PID of a running cluster component, by its supervisor name
        (``controller-manager``, ``proxy-<node>``, ``node-agent-<node>``, ...), in
        the cluster's kernel; None while there is none (e.g. restarting)."""
        code = ("from svclab.testbed.local.supervisor import running_child_pid; "
                f"print(running_child_pid({str(self.kubeconfig.parent)!r}, {child!r}) or '')")
        if not self.kernel.startswith("uml"):
            from svclab.testbed.local.supervisor import running_child_pid

            return running_child_pid(self.kubeconfig.parent, child)
        found = self.exec_on_node(self.nodes[0].name, [sys.executable, "-c", code]).check()
        return int(found.stdout) if found.stdout.strip() else None

    def signal_component(self, pid: int, signum: int) -> None:
        """Send ``signum`` to a component found with ``component_pid``."""
        if not self.kernel.startswith("uml"):
            os.kill(pid, signum)
            return
        self.exec_on_node(self.nodes[0].name, ["kill", f"-{signum}", str(pid)]).check()

    def node_host(self, node: str):  # type: ignore[no-untyped-def]
        """A testinfra ``Host`` whose commands run on ``node``."""
        from harness.testinfra_backend import node_host

        return node_host(self.name, node)


def _svclab(*args: str, timeout: float) -> ExecResult:
    done = subprocess.run([sys.executable, "-m", "svclab.cli", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)
    return ExecResult(done.returncode, done.stdout, done.stderr)


def local_cluster(info: ClusterInfo) -> ClusterUnderTest:
    """The local provider's cluster as the suite sees it."""
    return ClusterUnderTest(
        name=info.name, provider="local", kubeconfig=info.kubeconfig,
        proxy_mode=info.proxy_mode,
        has_proxy=info.proxy_mode != "none" and module_available("svclab.proxy.command"),
        has_controllers=bool(info.controllers) and module_available("svclab.controllers.command"),
        service_subnet=info.service_subnet, apiserver_address=info.advertise_address,
        nodes=info.nodes,
        kernel="host" if info.uml is None else f"uml {info.uml.kernel_version}")
