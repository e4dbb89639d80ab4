"""Which endpoints serve which traffic (upstream ``pkg/proxy/topology.go``).

``categorize_endpoints`` splits a service port's endpoints into the set used by
Cluster traffic policy and the set used by Local policy, falling back to
serving-but-terminating endpoints when none is ready, and honouring zone hints
when every ready endpoint carries one and one of them names this node's zone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from svclab.proxy.endpoint import Endpoint
from svclab.proxy.service_port import ServicePort

__all__ = ["CategorizedEndpoints", "ZONE_LABEL", "categorize_endpoints"]

ZONE_LABEL = "topology.kubernetes.io/zone"


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


def _can_use_topology(endpoints: Sequence[Endpoint], port: ServicePort, node_labels: Mapping[str, str]) -> bool:
    zone = node_labels.get(ZONE_LABEL)
    if not port.topology_hints or not zone:
        return False
    ready = [ep for ep in endpoints if ep.ready]
    if not ready or any(not ep.zone_hints for ep in ready):
        return False
    return any(zone in ep.zone_hints for ep in ready)


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
        topology = _can_use_topology(endpoints, port, labels)
        zone = labels.get(ZONE_LABEL, "")
        cluster = _pick(endpoints, lambda ep: ep.ready and (not topology or zone in ep.zone_hints))
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
