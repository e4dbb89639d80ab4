"""Which endpoints serve which traffic (upstream ``pkg/proxy/topology.go``).

``categorize_endpoints`` splits a service port's endpoints into the set used by
Cluster traffic policy and the set used by Local policy, falling back to
serving-but-terminating endpoints when none is ready. Cluster traffic follows
the EndpointSlice hints, whatever asked for them (``topology-mode: Auto`` or a
``trafficDistribution``), as upstream does since hints for nodes exist:

* ``PreferSameNode`` when every ready endpoint has a node hint and one names
  this node: only endpoints hinted for this node;
* else ``PreferSameZone`` when every ready endpoint has a zone hint and one
  names this node's zone: only endpoints hinted for that zone;
* else no filtering. The fallback lives in that choice: hints that leave this
  node or zone without a ready endpoint are ignored altogether.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from svclab.proxy.endpoint import Endpoint
from svclab.proxy.service_port import ServicePort

__all__ = ["CategorizedEndpoints", "TopologyMode", "ZONE_LABEL", "categorize_endpoints", "topology_mode"]

ZONE_LABEL = "topology.kubernetes.io/zone"


class TopologyMode:
    """What ``topology_mode`` decides (upstream's trafficDistribution values; "" = none)."""

    NONE = ""
    SAME_ZONE = "PreferSameZone"
    SAME_NODE = "PreferSameNode"


@dataclass(frozen=True, slots=True)
class CategorizedEndpoints:
    """Result of ``categorize_endpoints``.

    ``cluster`` is empty when no traffic uses Cluster policy, ``local`` when
    none uses Local policy; ``all_reachable`` is their union (the endpoints
    that need per-endpoint rules); ``has_any`` says whether the Service has any
    usable endpoint anywhere (else its traffic is rejected).
    """

    cluster: tuple[Endpoint, ...]
    local: tuple[Endpoint, ...]
    all_reachable: tuple[Endpoint, ...]
    has_any: bool


def topology_mode(endpoints: Sequence[Endpoint], zone: str) -> str:
    """Which hints this node follows for ``endpoints`` (a ``TopologyMode``). Side-effect-free.

    Only ready endpoints are looked at; an endpoint's ``hinted_for_node`` says
    whether its node hints name this proxy's node.
    """
    ready = [ep for ep in endpoints if ep.ready]
    if not ready:
        return TopologyMode.NONE
    if all(ep.node_hints for ep in ready) and any(ep.hinted_for_node for ep in ready):
        return TopologyMode.SAME_NODE
    if all(ep.zone_hints for ep in ready) and any(zone in ep.zone_hints for ep in ready):
        return TopologyMode.SAME_ZONE
    return TopologyMode.NONE


def _available(ep: Endpoint, mode: str, zone: str) -> bool:
    if mode == TopologyMode.SAME_NODE:
        return ep.hinted_for_node
    if mode == TopologyMode.SAME_ZONE:
        return zone in ep.zone_hints
    return True


def _pick(endpoints: Sequence[Endpoint], keep: Callable[[Endpoint], bool]) -> tuple[Endpoint, ...]:
    return tuple(ep for ep in endpoints if keep(ep))


def categorize_endpoints(
    endpoints: Sequence[Endpoint], port: ServicePort, node_labels: Mapping[str, str] | None = None
) -> CategorizedEndpoints:
    """Split ``endpoints`` by traffic policy. Side-effect-free."""
    labels = node_labels or {}
    cluster: tuple[Endpoint, ...] = ()
    has_any = False
    if port.uses_cluster_endpoints:
        zone = labels.get(ZONE_LABEL, "")
        mode = topology_mode(endpoints, zone)
        cluster = _pick(endpoints, lambda ep: ep.ready and _available(ep, mode, zone))
        if not cluster:
            cluster = _pick(endpoints, lambda ep: ep.serving_terminating)
        has_any = bool(cluster)
    if not port.uses_local_endpoints:
        return CategorizedEndpoints(cluster, (), cluster, has_any)
    has_any = has_any or any(ep.ready or ep.serving_terminating for ep in endpoints)
    local = _pick(endpoints, lambda ep: ep.is_local and ep.ready)
    if not local:
        local = _pick(endpoints, lambda ep: ep.is_local and ep.serving_terminating)
    if not port.uses_cluster_endpoints:
        return CategorizedEndpoints((), local, local, has_any)
    local_ids = {str(ep) for ep in local}
    union = tuple(sorted({str(ep): ep for ep in (*cluster, *local)}.values(), key=str)) if local_ids else cluster
    return CategorizedEndpoints(cluster, local, union, has_any)
