"""Dual-stack: one proxier per IP family behind one ``Provider`` (upstream ``pkg/proxy/metaproxier``).

Upstream's kube-proxy builds an IPv4 and an IPv6 proxier of the same mode
and puts a ``metaproxier`` in front: Service and Node events go to both (each
proxier's service tracker keeps only its family's ClusterIPs), an
EndpointSlice goes to the proxier of its ``addressType``, and both sync
loops run. ``family_node_options`` decides, purely, which families this node
runs: one per family it has an InternalIP of (its first address's family
first, the primary), each with that family's node IPs and pod CIDR; a family
without a node address, or one the mode cannot program, is skipped with a
reason the shell logs. A node whose addresses are unknown runs IPv4 only, as
before dual-stack. A family whose tools this host lacks (``unusable``: no
``ip6tables``, say) is skipped too, so a dual-stack node falls back to
single-stack; without its primary family the proxy cannot run at all
(upstream ``platformCheckSupported`` and "no support for primary IP family").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from svclab.proxy.options import NodeOptions
from svclab.proxy.provider import Proxier, SyncReport
from svclab.proxy.service_port import IPFamily

__all__ = ["MetaProxier", "PrimaryFamilyUnsupported", "family_node_options"]

log = logging.getLogger(__name__)


def _family_of(address: str) -> IPFamily | None:
    return next((f for f in IPFamily if f.owns(address)), None)


class PrimaryFamilyUnsupported(ValueError):
    """This host cannot run the proxier of the node's primary family (e.g. no iptables at all)."""


def family_node_options(
    node_ips: Sequence[str],
    *,
    cluster_cidrs: str | None = None,
    masquerade_all: bool = False,
    supported: Sequence[IPFamily] = tuple(IPFamily),
    unusable: Mapping[IPFamily, str] | None = None,
) -> tuple[list[NodeOptions], list[tuple[IPFamily, str]]]:
    """The ``NodeOptions`` of each proxier to run, primary family first, and the families skipped
    with why. ``cluster_cidrs`` is ``--cluster-cidr``: one CIDR or a comma-separated dual pair;
    ``unusable`` maps the families whose tools this host lacks to why. Raises
    ``PrimaryFamilyUnsupported`` when that is the primary family. Side-effect-free."""
    unusable = unusable or {}
    cidrs = [c.strip() for c in (cluster_cidrs or "").split(",") if c.strip()]
    order: list[IPFamily] = []
    for ip in node_ips:
        family = _family_of(ip)
        if family is not None and family not in order:
            order.append(family)
    if not order:
        order = [IPFamily.IPV4]  # addresses unknown: single-stack IPv4, as before dual-stack
    run: list[NodeOptions] = []
    skipped = [(f, f"node has no {f.value} InternalIP") for f in IPFamily if f not in order and node_ips]
    if order[0] in unusable:
        raise PrimaryFamilyUnsupported(f"no support for primary IP family {order[0].value}: {unusable[order[0]]}")
    for family in order:
        if family not in supported:
            skipped.append((family, f"the proxy mode cannot program {family.value}"))
            continue
        if family in unusable:
            skipped.append((family, f"no iptables support for family: {unusable[family]}"))
            continue
        run.append(
            NodeOptions(
                cluster_cidr=next((c for c in cidrs if family.owns(c)), None),
                masquerade_all=masquerade_all,
                node_ips=tuple(ip for ip in node_ips if family.owns(ip)),
                family=family,
            )
        )
    return run, skipped


class MetaProxier:
    """Implements ``Provider`` over one ``Proxier`` per family (the first one is the primary)."""

    def __init__(self, proxiers: Sequence[Proxier]) -> None:
        if not proxiers:
            raise ValueError("a MetaProxier needs at least one proxier")
        self.proxiers = tuple(proxiers)
        self._by_family = {p.options.family: p for p in self.proxiers}

    def on_service(self, previous: Any | None, current: Any | None) -> None:
        """Every family's proxier sees every Service (each keeps its family's ClusterIP)."""
        for proxier in self.proxiers:
            proxier.on_service(previous, current)

    def on_endpoint_slice(self, endpoint_slice: Any, removed: bool = False) -> None:
        """To the proxier of the slice's ``addressType``; FQDN slices (and families not run) go nowhere."""
        address_type = getattr(endpoint_slice, "addressType", None)
        family = next((f for f in IPFamily if f.value == address_type), None)
        proxier = self._by_family.get(family) if family is not None else None
        if proxier is not None:
            proxier.on_endpoint_slice(endpoint_slice, removed)

    def on_node(self, node: Any | None) -> None:
        for proxier in self.proxiers:
            proxier.on_node(node)

    async def sync(self) -> SyncReport:
        """Sync every family; returns the primary family's report."""
        reports = [await proxier.sync() for proxier in self.proxiers]
        return reports[0]

    async def sync_loop(self) -> None:
        """Run every family's sync loop until cancelled."""
        await asyncio.gather(*(proxier.sync_loop() for proxier in self.proxiers))
