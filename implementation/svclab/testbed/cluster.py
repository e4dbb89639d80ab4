"""The neutral cluster record: what any provider's running cluster is, as tests see it.

``ClusterRecord`` is what the conformance suite and ``svclab run`` know about a
cluster whatever brought it up (local, kind or kubeconfig): its nodes with
their addresses, pod CIDRs, labels and taints (control-plane nodes first), the
API server's address, the Service subnet, the proxy mode and the kernel the
rules live in. The local provider derives it from its ``cluster.json``; the
real-cluster providers read it from the Kubernetes API
(``svclab.testbed.api_record``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CONTROL_PLANE_LABEL", "CONTROL_PLANE_TAINT", "ClusterRecord", "NodeInfo", "Taint", "UNKNOWN_PROXY_MODE"]

# What kubeadm (hence kind) puts on a control-plane node of a multi-node cluster.
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
CONTROL_PLANE_TAINT_EFFECT = "NoSchedule"
# The proxy mode of a cluster tested as it is, which no spec described; proxy_mode markers skip on it.
UNKNOWN_PROXY_MODE = "unknown"


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str = ""
    effect: str = "NoSchedule"

    def flag(self) -> str:
        """kubelet's ``--register-with-taints`` syntax: ``key=value:Effect`` or ``key:Effect``."""
        return f"{self.key}={self.value}:{self.effect}" if self.value else f"{self.key}:{self.effect}"


CONTROL_PLANE_TAINT = Taint(CONTROL_PLANE_LABEL, "", CONTROL_PLANE_TAINT_EFFECT)


@dataclass(frozen=True, slots=True)
class NodeInfo:
    name: str
    role: str
    index: int
    netns: str  # "" where the node has no local network namespace (a real cluster)
    ip: str
    pod_cidr: str
    labels: tuple[tuple[str, str], ...]
    taints: tuple[Taint, ...]
    # Dual stack (issue 18): the other family's node address and pod CIDR; "" when single-stack.
    secondary_ip: str = ""
    secondary_pod_cidr: str = ""

    @property
    def ips(self) -> tuple[str, ...]:
        """The node's addresses, primary family first (one or two)."""
        return tuple(ip for ip in (self.ip, self.secondary_ip) if ip)

    @property
    def pod_cidrs(self) -> tuple[str, ...]:
        """``spec.podCIDRs``: the pod CIDRs, primary family first (one or two)."""
        return tuple(cidr for cidr in (self.pod_cidr, self.secondary_pod_cidr) if cidr)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "role": self.role,
            "index": self.index,
            "netns": self.netns,
            "ip": self.ip,
            "podCIDR": self.pod_cidr,
            "labels": dict(self.labels),
            "taints": [{"key": t.key, "value": t.value, "effect": t.effect} for t in self.taints],
        }
        if self.secondary_ip:
            data.update(secondaryIP=self.secondary_ip, secondaryPodCIDR=self.secondary_pod_cidr)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NodeInfo:
        return cls(
            name=data["name"],
            role=data["role"],
            index=data["index"],
            netns=data["netns"],
            ip=data["ip"],
            pod_cidr=data["podCIDR"],
            labels=tuple(data.get("labels", {}).items()),
            taints=tuple(Taint(t["key"], t.get("value", ""), t["effect"]) for t in data.get("taints", [])),
            secondary_ip=data.get("secondaryIP", ""),
            secondary_pod_cidr=data.get("secondaryPodCIDR", ""),
        )


@dataclass(frozen=True, slots=True)
class ClusterRecord:
    """A running cluster as tests see it, for any provider."""

    name: str
    provider: str  # local | kind | kubeconfig
    kubeconfig: Path
    proxy_mode: str  # none | userspace | iptables | ipvs | nftables | external | unknown
    has_proxy: bool  # a proxy actually runs
    has_controllers: bool
    service_subnet: str | None  # None: a real cluster that does not say (no spec, no ServiceCIDR)
    apiserver_address: str  # where default/kubernetes points (the control-plane node's address)
    nodes: tuple[NodeInfo, ...]
    kernel: str = "host"  # "host", "uml <version>" (a User-Mode Linux guest), or the provider's word
    context: str | None = None  # the kubeconfig context (None: the file's current one)
    # proxy_mode external: the registered mode whose rules dump the suite may read (None: unknown)
    proxy_rules: str | None = None

    def node(self, name: str) -> NodeInfo:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"cluster {self.name} has no node {name} (nodes: {', '.join(n.name for n in self.nodes)})")
