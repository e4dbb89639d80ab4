"""The one interface every proxy mode implements, and the shared sync driver.

``Provider`` is what the shell talks to: Service, EndpointSlice and Node event
handlers, ``sync()`` and ``sync_loop()`` (upstream ``proxy.Provider``).
``Proxier`` implements it once for all modes: its handlers feed the two change
trackers; ``sync()`` drains them into a ``ProxyState`` and hands that to the
mode's ``ModeBackend`` (plan + apply), then reports what to clean up. A mode is
therefore only a backend: factories for its ServicePort/Endpoint subclasses and
a ``sync_rules`` method. Modes never import each other.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from svclab.proxy.endpoint import Endpoint, EndpointFactory
from svclab.proxy.endpoints_change_tracker import EndpointsChangeTracker
from svclab.proxy.runner import BoundedFrequencyRunner
from svclab.proxy.service_change_tracker import ServiceChangeTracker
from svclab.proxy.service_port import IPFamily, ServiceName, ServicePort, ServicePortFactory, ServicePortName

_log = logging.getLogger(__name__)

__all__ = ["ModeBackend", "Provider", "Proxier", "ProxierOptions", "ProxyState", "ProxyStateLike", "SyncReport"]


@dataclass(frozen=True, slots=True)
class ProxyState:
    """Everything a mode needs to compute its rules for one sync."""

    service_ports: Mapping[ServicePortName, ServicePort]
    endpoints: Mapping[ServicePortName, tuple[Endpoint, ...]]
    node_name: str
    node_labels: Mapping[str, str]
    #: service ports whose definition or endpoints changed since the last sync, deleted ones included
    changed_ports: frozenset[ServicePortName]


class ProxyStateLike(Protocol):
    """The part of ``ProxyState`` mode backends read (what their ``sync_rules`` may be given)."""

    @property
    def service_ports(self) -> Mapping[ServicePortName, ServicePort]: ...
    @property
    def endpoints(self) -> Mapping[ServicePortName, Sequence[Endpoint]]: ...
    @property
    def node_labels(self) -> Mapping[str, str]: ...
    @property
    def changed_ports(self) -> frozenset[ServicePortName]: ...


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one sync did, for metrics, logs and conntrack cleanup."""

    full: bool
    duration_seconds: float
    rules_by_table: Mapping[str, int] = field(default_factory=dict)
    stale_udp_cluster_ips: frozenset[str] = frozenset()
    stale_udp_endpoints: tuple[tuple[ServicePortName, Endpoint], ...] = ()
    trigger_times: Mapping[ServiceName, tuple[float, ...]] = field(default_factory=dict)


class ModeBackend(Protocol):
    """The mode-specific part: its factories and how it turns state into kernel rules."""

    @property
    def service_port_factory(self) -> ServicePortFactory | None:
        """Builds the mode's ServicePort subclass (upstream ``newServiceInfo``)."""
        ...

    @property
    def endpoint_factory(self) -> EndpointFactory | None:
        """Builds the mode's Endpoint subclass (upstream ``newEndpointInfo``)."""
        ...

    @property
    def last_sync_full(self) -> bool:
        """Whether the latest ``sync_rules`` rewrote everything."""
        ...

    def sync_rules(self, state: ProxyState) -> Mapping[str, int]:
        """Plan and apply rules for ``state``; returns rule counts per table.

        Raises on failure; the backend must then do a full sync next time.
        """
        ...

    def rules_missing(self) -> bool:
        """Whether someone removed the mode's rules since it installed them; a cheap kernel query.

        False when the mode cannot tell. True makes the next sync full.
        """
        ...

    def cleanup(self) -> None:
        """Remove everything this mode ever installed."""
        ...


@runtime_checkable
class Provider(Protocol):
    """What the shell drives (upstream ``proxy.Provider``)."""

    def on_service(self, previous: Any | None, current: Any | None) -> None: ...
    def on_endpoint_slice(self, endpoint_slice: Any, removed: bool = False) -> None: ...
    def on_node(self, node: Any | None) -> None: ...
    async def sync(self) -> SyncReport: ...
    async def sync_loop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ProxierOptions:
    """Construction options shared by every mode."""

    node_name: str
    family: IPFamily = IPFamily.IPV4
    min_sync_period: float = 1.0
    sync_period: float = 30.0
    #: how often to ask the backend whether its rules vanished (0: only before each sync, as upstream)
    rules_check_period: float = 2.0
    #: run the backend's ``sync_rules`` in a worker thread so the informers keep reading watch
    #: events meanwhile (upstream's informers run in their own goroutines). Only for backends that
    #: touch nothing of the event loop (iptables, nftables: subprocesses); see ``Proxier.sync``.
    sync_in_thread: bool = False
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time


class Proxier:
    """Implements ``Provider`` for any ``ModeBackend``.

    ``on_sync`` (optional) receives each ``SyncReport`` (metrics, conntrack),
    ``on_failure`` each exception of a sync run by the loop.
    Call ``sync()`` directly in tests; ``sync_loop()`` runs the bounded-frequency
    runner forever.
    """

    def __init__(
        self,
        backend: ModeBackend,
        options: ProxierOptions,
        on_sync: Callable[[SyncReport], None] | None = None,
        on_failure: Callable[[Exception], None] | None = None,
    ) -> None:
        self.backend = backend
        self.options = options
        self._on_sync = on_sync
        self._on_failure = on_failure
        self._syncing = False  # a sync_rules is running in a worker thread (options.sync_in_thread)
        self._services = ServiceChangeTracker(options.family, backend.service_port_factory)
        self._endpoints = EndpointsChangeTracker(options.family, options.node_name, backend.endpoint_factory)
        self.service_ports: Mapping[ServicePortName, ServicePort] = {}
        self.endpoints: Mapping[ServicePortName, tuple[Endpoint, ...]] = {}
        self.node_labels: Mapping[str, str] = {}
        self.last_report: SyncReport | None = None
        self.runner = BoundedFrequencyRunner(
            self._sync_for_runner,
            min_interval=options.min_sync_period,
            max_interval=options.sync_period,
            clock=options.clock,
        )

    def on_service(self, previous: Any | None, current: Any | None) -> None:
        """Service add (previous None), update, or delete (current None)."""
        if self._services.update(previous, current):
            self.runner.run()

    def on_endpoint_slice(self, endpoint_slice: Any, removed: bool = False) -> None:
        """EndpointSlice add/update, or delete with ``removed=True``."""
        if self._endpoints.update(endpoint_slice, removed):
            self.runner.run()

    def on_node(self, node: Any | None) -> None:
        """This proxy's own Node changed: its labels drive topology."""
        labels = dict((node.metadata.labels or {}) if node is not None else {})
        if labels != dict(self.node_labels):
            self.node_labels = labels
            self.runner.run()

    async def sync(self) -> SyncReport:
        """Drain the trackers, let the backend plan and apply, report the result."""
        started = self.options.clock()
        svc = self._services.apply(self.service_ports)
        eps = self._endpoints.apply(self.endpoints)
        self.service_ports, self.endpoints = svc.service_ports, eps.endpoints
        state = ProxyState(
            self.service_ports,
            self.endpoints,
            self.options.node_name,
            self.node_labels,
            svc.updated_ports | eps.updated_ports,
        )
        if self.options.sync_in_thread:
            # A sync of thousands of Services spends seconds in iptables-restore / nft; run on the
            # loop it stopped the watch streams too, so each sync took in only the few events
            # read between two syncs and a burst of 4,000 Services needed minutes (issue 17).
            self._syncing = True
            try:
                counts = await asyncio.to_thread(self.backend.sync_rules, state)
            finally:
                self._syncing = False
        else:
            counts = self.backend.sync_rules(state)
        report = SyncReport(
            full=bool(getattr(self.backend, "last_sync_full", False)),
            duration_seconds=self.options.clock() - started,
            rules_by_table=counts,
            stale_udp_cluster_ips=svc.deleted_udp_cluster_ips
            | frozenset(self.service_ports[n].cluster_ip for n in eps.new_udp_services if n in self.service_ports),
            stale_udp_endpoints=eps.deleted_udp_endpoints,
            trigger_times=eps.trigger_times,
        )
        self.last_report = report
        if self._on_sync is not None:
            self._on_sync(report)
        return report

    async def _sync_for_runner(self) -> None:
        try:
            await self.sync()
        except Exception as exc:
            _log.exception("event=sync_failed node=%s", self.options.node_name)
            if self._on_failure is not None:
                self._on_failure(exc)
            self.runner.retry_after(self.options.min_sync_period)

    async def sync_loop(self) -> None:
        """Run syncs forever, bounded by min_sync_period / sync_period, and watch for flushed rules."""
        if self.options.rules_check_period <= 0:
            await self.runner.loop()
            return
        monitor = asyncio.create_task(self._watch_rules())
        try:
            await self.runner.loop()
        finally:
            monitor.cancel()

    def check_rules(self) -> bool:
        """Ask the backend whether its rules vanished; if so, request a (full) sync. Returns the answer."""
        if self._syncing:  # the backend is busy in its thread; the next check comes soon
            return False
        missing = self.backend.rules_missing()
        if missing:
            _log.warning("event=rules_missing node=%s action=full_sync", self.options.node_name)
            self.runner.run()
        return missing

    async def _watch_rules(self) -> None:
        # Upstream polls its canary once per sync period; a flush then costs up to 30 s
        # of broken Services. The check is one small kernel query, so ask far more often.
        while True:
            await asyncio.sleep(self.options.rules_check_period)
            if self.last_report is not None:
                self.check_rules()
