"""Pending EndpointSlice changes between two syncs (upstream ``endpointschangetracker.go``
and ``endpointslicecache.go``).

The tracker caches every EndpointSlice per Service and, at ``apply`` time,
rebuilds the endpoints of the Services whose slices changed: endpoints of all
slices merged per port name, deduplicated by ``ip:port`` (a ready copy wins),
sorted by ``ip:port`` as upstream sorts them. It also captures the
``endpoints.kubernetes.io/last-change-trigger-time`` annotation of each change,
which feeds ``kubeproxy_network_programming_duration_seconds``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from svclab.proxy.endpoint import Endpoint, EndpointFactory
from svclab.proxy.service_port import IPFamily, Protocol, ServiceName, ServicePortName, sloppy_address

__all__ = [
    "EndpointsChangeTracker",
    "EndpointsUpdateResult",
    "SERVICE_NAME_LABEL",
    "TRIGGER_TIME_ANNOTATION",
    "endpoints_from_slice",
]

TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"

_SliceEndpoints = dict[ServicePortName, tuple[Endpoint, ...]]


@dataclass(frozen=True, slots=True)
class EndpointsUpdateResult:
    """What ``EndpointsChangeTracker.apply`` produced.

    ``deleted_udp_endpoints`` lists (service port, endpoint) pairs of UDP
    backends that stopped being usable, for conntrack cleanup;
    ``new_udp_services`` the UDP service ports that went from no endpoints to
    some (their ClusterIP conntrack entries, cached as "unreplied", must go);
    ``trigger_times`` the trigger timestamps (epoch seconds) per Service;
    ``updated_ports`` the service ports whose endpoints were rebuilt.
    """

    endpoints: Mapping[ServicePortName, tuple[Endpoint, ...]]
    updated_services: frozenset[ServiceName]
    deleted_udp_endpoints: tuple[tuple[ServicePortName, Endpoint], ...]
    new_udp_services: frozenset[ServicePortName]
    trigger_times: Mapping[ServiceName, tuple[float, ...]]
    updated_ports: frozenset[ServicePortName] = frozenset()


def _parse_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def endpoints_from_slice(
    endpoint_slice: Any,
    node_name: str,
    family: IPFamily,
    factory: EndpointFactory | None = None,
) -> tuple[ServiceName, _SliceEndpoints] | None:
    """The endpoints one slice contributes, per service port. Side-effect-free.

    Returns None for slices without the service-name label or of another family.
    """
    labels = endpoint_slice.metadata.labels or {}
    service = labels.get(SERVICE_NAME_LABEL)
    wanted = "IPv4" if family is IPFamily.IPV4 else "IPv6"
    if not service or endpoint_slice.addressType != wanted:
        return None
    key = ServiceName(endpoint_slice.metadata.namespace or "default", service)
    result: _SliceEndpoints = {}
    for port in endpoint_slice.ports or ():
        if port.port is None:
            continue
        name = ServicePortName(key, port.name or "", Protocol(port.protocol or "TCP"))
        found: list[Endpoint] = []
        for item in endpoint_slice.endpoints or ():
            if not item.addresses:
                continue
            conditions = item.conditions
            ready = True if conditions is None or conditions.ready is None else conditions.ready
            serving = ready if conditions is None or conditions.serving is None else conditions.serving
            terminating = bool(conditions and conditions.terminating)
            zones = frozenset(h.name for h in (item.hints.forZones or ())) if item.hints else frozenset()
            for_nodes = frozenset(h.name for h in (item.hints.forNodes or ())) if item.hints else frozenset()
            ep = Endpoint(
                ip=sloppy_address(item.addresses[0]),
                port=port.port,
                ready=ready,
                serving=serving,
                terminating=terminating,
                is_local=bool(node_name) and item.nodeName == node_name,
                zone_hints=zones,
                node_name=item.nodeName or "",
                node_hints=for_nodes,
                hinted_for_node=bool(node_name) and node_name in for_nodes,
            )
            found.append(factory(ep, name) if factory else ep)
        result[name] = tuple(found)
    return key, result


class EndpointsChangeTracker:
    """Caches EndpointSlices per Service and tracks which Services changed."""

    def __init__(self, family: IPFamily, node_name: str, factory: EndpointFactory | None = None) -> None:
        self._family = family
        self._node_name = node_name
        self._factory = factory
        self._slices: dict[ServiceName, dict[str, _SliceEndpoints]] = {}
        self._pending: set[ServiceName] = set()
        self._trigger_times: dict[ServiceName, list[float]] = {}
        # which port names each Service has in the map we returned (no full scans)
        self._names: dict[ServiceName, tuple[ServicePortName, ...]] = {}

    def update(self, endpoint_slice: Any, removed: bool = False) -> bool:
        """Record one slice event. Returns True when any change is pending."""
        parsed = endpoints_from_slice(endpoint_slice, self._node_name, self._family, self._factory)
        if parsed is None:
            return bool(self._pending)
        key, contribution = parsed
        slices = self._slices.setdefault(key, {})
        slice_name = endpoint_slice.metadata.name
        if removed:
            changed = slices.pop(slice_name, None) is not None
        else:
            changed = slices.get(slice_name) != contribution
            slices[slice_name] = contribution
        if not slices:
            self._slices.pop(key, None)
        if changed:
            self._pending.add(key)
            annotations = endpoint_slice.metadata.annotations or {}
            stamp = _parse_time(annotations.get(TRIGGER_TIME_ANNOTATION))
            if stamp is not None and not removed:
                self._trigger_times.setdefault(key, []).append(stamp)
        return bool(self._pending)

    @property
    def pending(self) -> frozenset[ServiceName]:
        """Services whose endpoints changed since the last ``apply``."""
        return frozenset(self._pending)

    def _merged(self, key: ServiceName) -> dict[ServicePortName, tuple[Endpoint, ...]]:
        by_port: dict[ServicePortName, dict[str, Endpoint]] = {}
        for contribution in self._slices.get(key, {}).values():
            for name, endpoints in contribution.items():
                seen = by_port.setdefault(name, {})
                for ep in endpoints:
                    old = seen.get(str(ep))
                    if old is None or (ep.ready and not old.ready):
                        seen[str(ep)] = ep
        return {name: tuple(sorted(eps.values(), key=str)) for name, eps in by_port.items() if eps}

    def apply(self, endpoints: Mapping[ServicePortName, tuple[Endpoint, ...]]) -> EndpointsUpdateResult:
        """Rebuild the changed Services' endpoints into a copy of ``endpoints``.

        ``endpoints`` must be the map this tracker returned last time (or empty).
        """
        merged = dict(endpoints)
        deleted_udp: list[tuple[ServicePortName, Endpoint]] = []
        new_udp: set[ServicePortName] = set()
        touched: set[ServicePortName] = set()
        for key in sorted(self._pending):
            old = {name: merged.pop(name) for name in self._names.pop(key, ()) if name in merged}
            fresh = self._merged(key)
            merged.update(fresh)
            if fresh:
                self._names[key] = tuple(fresh)
            touched.update(old, fresh)
            for name in set(old) | set(fresh):
                if name.protocol is Protocol.UDP:
                    _note_udp_changes(name, old.get(name, ()), fresh.get(name, ()), deleted_udp, new_udp)
        result = EndpointsUpdateResult(
            merged,
            frozenset(self._pending),
            tuple(deleted_udp),
            frozenset(new_udp),
            {k: tuple(v) for k, v in self._trigger_times.items()},
            frozenset(touched),
        )
        self._pending = set()
        self._trigger_times = {}
        return result


def _note_udp_changes(
    name: ServicePortName,
    old: Sequence[Endpoint],
    new: Sequence[Endpoint],
    deleted: list[tuple[ServicePortName, Endpoint]],
    new_services: set[ServicePortName],
) -> None:
    still_ready = {str(ep) for ep in new if ep.ready}
    for ep in old:
        if ep.ready and str(ep) not in still_ready:
            deleted.append((name, ep))
    if not any(ep.ready for ep in old) and still_ready:
        new_services.add(name)
