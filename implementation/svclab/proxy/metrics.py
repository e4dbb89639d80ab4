"""Prometheus metrics with upstream kube-proxy's names (``pkg/proxy/metrics``).

One ``ProxyMetrics`` owns its own registry, so tests can build many.
``record_sync`` turns a ``SyncReport`` into observations, including
``kubeproxy_network_programming_duration_seconds``: wall time from each
EndpointSlice's ``last-change-trigger-time`` to the end of the sync that
programmed it. Which rule-count gauge and failure counter a sync feeds is
its mode's ``RuleMetrics`` (``svclab.proxy.modes``); the families of every
registered mode are exposed, as upstream registers them all.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from svclab.proxy import modes
from svclab.proxy.provider import SyncReport

__all__ = ["ProxyMetrics"]

_SYNC_BUCKETS = tuple(0.001 * 2**i for i in range(15))
_LATENCY_BUCKETS = (
    0.25,
    0.5,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    12,
    13,
    14,
    15,
    16,
    17,
    18,
    19,
    20,
    30,
    40,
    50,
    60,
    70,
    80,
    90,
    100,
    110,
    120,
    150,
    180,
    210,
    240,
    270,
    300,
)


class ProxyMetrics:
    """The kube-proxy metric family set for one proxy process."""

    def __init__(self, wall_clock: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry()
        self._now = wall_clock
        r = self.registry
        self.sync_duration = Histogram(
            "kubeproxy_sync_proxy_rules_duration_seconds",
            "SyncProxyRules latency in seconds",
            buckets=_SYNC_BUCKETS,
            registry=r,
        )
        self.full_sync_duration = Histogram(
            "kubeproxy_sync_full_proxy_rules_duration_seconds",
            "SyncProxyRules latency in seconds for full resyncs",
            buckets=_SYNC_BUCKETS,
            registry=r,
        )
        self.partial_sync_duration = Histogram(
            "kubeproxy_sync_partial_proxy_rules_duration_seconds",
            "SyncProxyRules latency in seconds for partial resyncs",
            buckets=_SYNC_BUCKETS,
            registry=r,
        )
        self.last_timestamp = Gauge(
            "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
            "The last time proxy rules were successfully synced",
            registry=r,
        )
        self.last_queued = Gauge(
            "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
            "The last time a sync of proxy rules was queued",
            registry=r,
        )
        self.programming_latency = Histogram(
            "kubeproxy_network_programming_duration_seconds",
            "In Cluster Network Programming Latency in seconds",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self._rules_total: dict[str, Gauge] = {}
        self._failures: dict[str, Counter] = {}
        for spec in modes.mode_specs():
            self._gauge(spec.metrics)
        for spec in modes.mode_specs():
            self._counter(spec.metrics)
        self.endpoint_changes = Counter(
            "kubeproxy_sync_proxy_rules_endpoint_changes_total", "Cumulative proxy rules Endpoint changes", registry=r
        )
        self.service_changes = Counter(
            "kubeproxy_sync_proxy_rules_service_changes_total", "Cumulative proxy rules Service changes", registry=r
        )

    def _gauge(self, names: modes.RuleMetrics) -> Gauge:
        if names.rules_total not in self._rules_total:
            labels = ["table"] if names.by_table else []
            self._rules_total[names.rules_total] = Gauge(
                names.rules_total, names.rules_help, labels, registry=self.registry
            )
        return self._rules_total[names.rules_total]

    def _counter(self, names: modes.RuleMetrics) -> Counter:
        if names.failures not in self._failures:
            self._failures[names.failures] = Counter(names.failures, names.failures_help, registry=self.registry)
        return self._failures[names.failures]

    def record_mode(self, requested: str, effective: str) -> None:
        """Which mode runs (it differs from the requested one after a fallback). Not an upstream family."""
        info = Gauge(
            "svclab_proxy_mode_info",
            "The proxy mode this process runs, and the one it was asked for",
            ["requested", "mode"],
            registry=self.registry,
        )
        info.labels(requested=requested, mode=effective).set(1)

    def queued(self) -> None:
        """A change arrived and a sync was requested."""
        self.last_queued.set(self._now())

    def record_sync(self, report: SyncReport, mode: str) -> None:
        """Observe one successful sync of ``mode``."""
        self.sync_duration.observe(report.duration_seconds)
        (self.full_sync_duration if report.full else self.partial_sync_duration).observe(report.duration_seconds)
        now = self._now()
        self.last_timestamp.set(now)
        for stamps in report.trigger_times.values():
            for stamp in stamps:
                self.programming_latency.observe(max(0.0, now - stamp))
        names = modes.get(mode).metrics
        gauge = self._gauge(names)
        if names.by_table:
            for table, count in report.rules_by_table.items():
                gauge.labels(table=table).set(count)
        else:
            gauge.set(sum(report.rules_by_table.values()))

    def record_failure(self, mode: str) -> None:
        """Observe one failed apply of ``mode``."""
        self._counter(modes.get(mode).metrics).inc()

    def exposition(self) -> bytes:
        """The text format for ``/metrics``."""
        return generate_latest(self.registry)
