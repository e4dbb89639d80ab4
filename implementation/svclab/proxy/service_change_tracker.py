"""Pending Service changes between two syncs (upstream ``servicechangetracker.go``).

Informer events call ``update(previous, current)``; the tracker keeps, per
Service, the service ports as they were at the last sync and as they are now,
so several events between syncs merge into one change, and a change that is
undone before the sync disappears. ``apply`` hands the merged result to the
proxier at sync time. Thread-safety: callers run in one asyncio loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from svclab.proxy.service_port import (
    IPFamily,
    Protocol,
    ServiceName,
    ServicePort,
    ServicePortFactory,
    ServicePortMap,
    ServicePortName,
    service_ports_from_service,
)

__all__ = ["ServiceChangeTracker", "ServiceUpdateResult"]


@dataclass(frozen=True, slots=True)
class ServiceUpdateResult:
    """What ``ServiceChangeTracker.apply`` produced.

    ``service_ports`` is the new complete map; ``updated_services`` the Services
    whose ports changed; ``deleted_udp_cluster_ips`` the ClusterIPs of UDP ports
    that went away (their conntrack entries must be cleared); ``updated_ports``
    the service ports added, changed or removed.
    """

    service_ports: Mapping[ServicePortName, ServicePort]
    updated_services: frozenset[ServiceName]
    deleted_udp_cluster_ips: frozenset[str]
    updated_ports: frozenset[ServicePortName] = frozenset()


class ServiceChangeTracker:
    """Collects Service add/update/delete events until the next sync."""

    def __init__(self, family: IPFamily, factory: ServicePortFactory | None = None) -> None:
        self._family = family
        self._factory = factory
        self._pending: dict[ServiceName, tuple[ServicePortMap, ServicePortMap]] = {}

    def _ports(self, service: Any | None) -> dict[ServicePortName, ServicePort]:
        if service is None:
            return {}
        return service_ports_from_service(service, self._family, self._factory)

    def update(self, previous: Any | None, current: Any | None) -> bool:
        """Record one event (add: previous None; delete: current None).

        Returns True when a change is pending for that Service afterwards, i.e.
        when a sync is needed.
        """
        obj = current if current is not None else previous
        if obj is None:
            return False
        key = ServiceName(obj.metadata.namespace or "default", obj.metadata.name)
        before = self._pending[key][0] if key in self._pending else self._ports(previous)
        after = self._ports(current)
        if before == after:
            self._pending.pop(key, None)
        else:
            self._pending[key] = (before, after)
        return bool(self._pending)

    @property
    def pending(self) -> frozenset[ServiceName]:
        """Services with changes not yet applied."""
        return frozenset(self._pending)

    def apply(self, service_ports: ServicePortMap) -> ServiceUpdateResult:
        """Merge pending changes into a copy of ``service_ports`` and clear them."""
        merged = dict(service_ports)
        deleted_udp: set[str] = set()
        ports: set[ServicePortName] = set()
        for before, after in self._pending.values():
            ports.update(before, after)
            for name, port in before.items():
                merged.pop(name, None)
                if name not in after and port.protocol is Protocol.UDP:
                    deleted_udp.add(port.cluster_ip)
            merged.update(after)
        updated = frozenset(self._pending)
        self._pending = {}
        return ServiceUpdateResult(merged, updated, frozenset(deleted_udp), frozenset(ports))
