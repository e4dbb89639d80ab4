"""The cluster a conformance test runs against: its record and its provider's handle.

Tests talk to a cluster only through the Kubernetes API and the handle of its
provider (``svclab.testbed.provider.ClusterHandle``): ``exec_in_pod(namespace,
pod, argv)`` and ``exec_on_node(node, argv)``. The local provider's handle goes
through ``svclab exec`` / ``svclab node-exec``, so the suite exercises the same
commands a user runs (for a cluster inside a User-Mode Linux guest they reach
the guest's exec agent); kind's uses ``kubectl exec`` into pods and ``docker
exec`` and testinfra's ``docker://`` backend onto its node containers. A
cluster without node access (kubeconfig) makes every node-level hook skip the
calling test with the reason, and the local provider's process hooks
(``component_pid``, ``signal_component``) skip where the handle has none: a
skip, never a failure, since the cluster cannot be judged there. The fields of
the neutral ``ClusterRecord`` (nodes, addresses, Service subnet, proxy mode,
``kernel``: ``host`` or ``uml <version>``) read through, except that
``proxy_mode`` is the mode the proxies really run (``effective_proxy_mode``,
after an ipvs -> iptables fallback) and ``requested_proxy_mode`` the spec's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from svclab.testbed.cluster import UNKNOWN_PROXY_MODE, ClusterRecord, NodeInfo
from svclab.testbed.provider import ClusterHandle, ExecResult, NodeAccessUnavailable

__all__ = ["ClusterUnderTest", "ExecResult", "UNKNOWN_PROXY_MODE"]


@dataclass(frozen=True, slots=True)
class ClusterUnderTest:
    record: ClusterRecord
    handle: ClusterHandle
    # What the proxies report on /proxyMode (None: the record's); differs after a fallback.
    effective_proxy_mode: str | None = None

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def provider(self) -> str:
        return self.record.provider  # local | kind | kubeconfig

    @property
    def kubeconfig(self) -> Path:
        return self.record.kubeconfig

    @property
    def context(self) -> str | None:
        """The kubeconfig context to use (None: the file's current context)."""
        return self.record.context

    @property
    def proxy_mode(self) -> str:
        """The mode the proxies run: what mode-specific checks go by."""
        return self.effective_proxy_mode or self.record.proxy_mode

    @property
    def requested_proxy_mode(self) -> str:
        """The mode the spec asked for."""
        return self.record.proxy_mode

    @property
    def has_proxy(self) -> bool:
        return self.record.has_proxy

    @property
    def has_controllers(self) -> bool:
        return self.record.has_controllers

    @property
    def service_subnet(self) -> str | None:
        return self.record.service_subnet

    @property
    def apiserver_address(self) -> str:
        return self.record.apiserver_address

    @property
    def nodes(self) -> tuple[NodeInfo, ...]:
        return self.record.nodes

    @property
    def kernel(self) -> str:
        return self.record.kernel

    def node(self, name: str) -> NodeInfo:
        return self.record.node(name)

    def exec_in_pod(self, namespace: str, pod: str, argv: Sequence[str], *, timeout: float = 30.0) -> ExecResult:
        return self.handle.exec_in_pod(namespace, pod, argv, timeout=timeout)

    def exec_on_node(self, node: str, argv: Sequence[str], *, timeout: float = 30.0) -> ExecResult:
        """Run ``argv`` on ``node``; skips the test where nodes cannot be reached."""
        try:
            return self.handle.exec_on_node(node, argv, timeout=timeout)
        except NodeAccessUnavailable as exc:
            pytest.skip(str(exc))

    def component_pid(self, child: str) -> int | None:
        """PID of a running cluster component, by its supervisor name (``controller-manager``,
        ``proxy-<node>``, ``node-agent-<node>``, ...), in the cluster's kernel; None while
        there is none (e.g. restarting). Local provider only: elsewhere the test skips."""
        found = getattr(self.handle, "component_pid", None)
        if found is None:
            self._skip_not_local(f"finding the {child} process")
        pid: int | None = found(child)
        return pid

    def signal_component(self, pid: int, signum: int) -> None:
        """Send ``signum`` to a component found with ``component_pid`` (local provider only)."""
        send = getattr(self.handle, "signal_component", None)
        if send is None:
            self._skip_not_local("signalling a component process")
        send(pid, signum)

    def node_host(self, node: str) -> Any:
        """A testinfra ``Host`` whose commands run on ``node``; skips the test where
        nodes cannot be reached."""
        if not getattr(self.handle, "node_access", False):
            pytest.skip(f"node {node}: {getattr(self.handle, 'node_access_reason', 'no node access')}")
        on_node = getattr(self.handle, "node_host", None)  # kind's handle has one
        if on_node is None:  # the local provider: through `svclab node-exec`
            from harness.testinfra_backend import node_host

            return node_host(self.name, node)
        return on_node(node)

    def _skip_not_local(self, what: str) -> NoReturn:
        pytest.skip(f"{what} needs the local provider (cluster {self.name} is {self.provider})")
