"""Dual-stack helpers: which families a cluster serves, and addresses by family.

A dual-stack test needs a cluster whose Services can get a ClusterIP of each
family (two Service CIDRs) and whose nodes and pods have an address of each
family. :func:`require_dual_stack` asks the API (the nodes' InternalIPs and
``spec.podCIDRs``) and the cluster record (the Service subnet), and skips the
calling test with the reason when the cluster is single-stack, as every shipped
IPv4 testbed is; ``clusters/dual-iptables.yaml`` is the shipped dual one.

Families are named as the API names them (``IPv4``, ``IPv6``); the other helpers
are side-effect-free.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from lightkube import Client
from lightkube.resources.core_v1 import Node

from harness.cluster import ClusterUnderTest

__all__ = [
    "DualStack",
    "dual_stack_problem",
    "family_of",
    "in_family",
    "require_dual_stack",
    "service_networks",
]

IPV4, IPV6 = "IPv4", "IPv6"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def family_of(ip: str) -> str:
    """``IPv4`` or ``IPv6`` for an address (or a CIDR)."""
    return IPV6 if ipaddress.ip_network(ip, strict=False).version == 6 else IPV4


def in_family(addresses: Iterable[str], family: str) -> list[str]:
    """The members of ``addresses`` of ``family``, in their order."""
    return [address for address in addresses if family_of(address) == family]


def service_networks(service_subnet: str | None) -> dict[str, Network]:
    """The Service CIDR of each family in a (possibly comma-separated) subnet text."""
    networks: dict[str, Network] = {}
    for member in (service_subnet or "").split(","):
        if member.strip():
            network = ipaddress.ip_network(member.strip())
            networks[family_of(str(network))] = network
    return networks


@dataclass(frozen=True, slots=True)
class DualStack:
    """What a dual-stack cluster offers: the primary family first."""

    families: tuple[str, str]
    service_networks: Mapping[str, Network]
    node_ips: Mapping[str, Mapping[str, str]]  # node name -> family -> InternalIP

    @property
    def primary(self) -> str:
        return self.families[0]

    @property
    def secondary(self) -> str:
        return self.families[1]


def _internal_ips(node: Mapping[str, Any]) -> list[str]:
    addresses = (node.get("status") or {}).get("addresses") or []
    return [str(a["address"]) for a in addresses if a.get("type") == "InternalIP"]


def dual_stack_problem(service_subnet: str | None, nodes: Sequence[Mapping[str, Any]]) -> str | None:
    """Why a cluster is not dual-stack (None when it is). Side-effect-free."""
    if len(service_networks(service_subnet)) != 2:
        return f"its serviceSubnet {service_subnet or '(unknown)'} has one family"
    for node in nodes:
        name = node["metadata"]["name"]
        ips = _internal_ips(node)
        if {family_of(ip) for ip in ips} != {IPV4, IPV6}:
            return f"node {name} has InternalIPs {ips}, not one per family"
        cidrs = (node.get("spec") or {}).get("podCIDRs") or []
        if {family_of(cidr) for cidr in cidrs} != {IPV4, IPV6}:
            return f"node {name} has podCIDRs {cidrs}, not one per family"
    return None


def require_dual_stack(cluster: ClusterUnderTest, client: Client) -> DualStack:
    """The cluster's dual-stack facts; skips the calling test when it is single-stack."""
    nodes = [node.to_dict() for node in client.list(Node)]
    problem = dual_stack_problem(cluster.service_subnet, nodes)
    if problem is not None:
        pytest.skip(
            f"cluster {cluster.name} is not dual-stack ({problem}); "
            "dual-stack tests need networking.ipFamily: dual, e.g. clusters/dual-iptables.yaml"
        )
    networks = service_networks(cluster.service_subnet)
    primary = family_of(next(iter(cluster.service_subnet.split(",")))) if cluster.service_subnet else IPV4
    secondary = IPV6 if primary == IPV4 else IPV4
    node_ips = {node["metadata"]["name"]: {family_of(ip): ip for ip in reversed(_internal_ips(node))} for node in nodes}
    return DualStack((primary, secondary), networks, node_ips)
