"""Hints for ``spec.trafficDistribution`` (upstream ``k8s.io/endpointslice/trafficdist``).

``PreferClose``, ``PreferSameZone`` and ``PreferSameNode`` give every *ready*
endpoint a hint for its own zone (when it has one); ``PreferSameNode`` adds a
hint for its own node. Endpoints that are not ready keep whatever hints they
had, as upstream leaves them. Any other value (or none) removes every hint.
The proxies route by these hints (``svclab.proxy.topology``).

``reconcile_hints`` is what the reconciler calls on its planned writes: it
fixes the hints of the slices it creates and updates, and moves unchanged
slices whose hints are missing or stale into the updates (as copies). Planned
slices are the reconciler's own copies, so they are changed in place.
"""

from __future__ import annotations

from collections.abc import Sequence

from lightkube.models.discovery_v1 import Endpoint, EndpointHints, ForNode, ForZone
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.kube.models import deep_copy

__all__ = ["CLOSE_TRAFFIC_DISTRIBUTIONS", "hints_need_update", "reconcile_hints", "set_hints"]

CLOSE_TRAFFIC_DISTRIBUTIONS = frozenset({"PreferClose", "PreferSameZone", "PreferSameNode"})
SAME_NODE = "PreferSameNode"


def _ready(endpoint: Endpoint) -> bool:
    return endpoint.conditions is not None and endpoint.conditions.ready is True


def _wanted(endpoint: Endpoint, distribution: str | None) -> tuple[list[str], list[str]]:
    """(zones, nodes) the hints of a ready endpoint should name."""
    if distribution not in CLOSE_TRAFFIC_DISTRIBUTIONS:
        return [], []
    zones = [endpoint.zone] if endpoint.zone is not None else []
    nodes = [endpoint.nodeName] if endpoint.nodeName is not None and distribution == SAME_NODE else []
    return zones, nodes


def _names(hints: EndpointHints | None) -> tuple[list[str], list[str]]:
    if hints is None:
        return [], []
    return [z.name for z in hints.forZones or ()], [n.name for n in hints.forNodes or ()]


def hints_need_update(slice_: EndpointSlice, distribution: str | None) -> bool:
    """Whether any endpoint's hints differ from what ``distribution`` wants. Side-effect-free.

    Without a close distribution every hint is stale; with one, only ready
    endpoints are looked at.
    """
    for endpoint in slice_.endpoints or ():
        if distribution not in CLOSE_TRAFFIC_DISTRIBUTIONS:
            if endpoint.hints is not None:
                return True
        elif _ready(endpoint) and _names(endpoint.hints) != _wanted(endpoint, distribution):
            return True
    return False


def set_hints(slice_: EndpointSlice, distribution: str | None) -> None:
    """Give ``slice_``'s endpoints the hints ``distribution`` wants (mutates ``slice_``)."""
    for endpoint in slice_.endpoints or ():
        if distribution not in CLOSE_TRAFFIC_DISTRIBUTIONS:
            endpoint.hints = None
            continue
        if not _ready(endpoint):
            continue
        zones, nodes = _wanted(endpoint, distribution)
        endpoint.hints = (
            EndpointHints(
                forZones=[ForZone(name=z) for z in zones] or None, forNodes=[ForNode(name=n) for n in nodes] or None
            )
            if zones or nodes
            else None
        )


def reconcile_hints(
    distribution: str | None,
    create: list[EndpointSlice],
    update: list[EndpointSlice],
    unchanged: Sequence[EndpointSlice],
) -> None:
    """Upstream ``ReconcileHints``: unchanged slices with wrong hints join ``update`` (as copies);
    every created and updated slice gets its hints set. Mutates ``create`` and ``update``."""
    update += [deep_copy(s) for s in unchanged if hints_need_update(s, distribution)]
    for slice_ in (*create, *update):
        set_hints(slice_, distribution)
