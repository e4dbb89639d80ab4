"""Per-Service health check node ports (upstream ``pkg/proxy/healthcheck/service_health.go``).

A Service with ``externalTrafficPolicy: Local`` gets a ``healthCheckNodePort``
from the API server. Every proxy serves HTTP on that port so an external load
balancer can tell which nodes have a backend of the Service: 200 when this node
has at least one local *ready* endpoint and the proxy itself is healthy, 503
otherwise. Terminating endpoints do not count, even while the proxy still sends
traffic to them as a fallback: a node left with only terminating endpoints
must fail its health check so the load balancer drains it (upstream KEP-1669).
Any path answers; the body is JSON naming the Service, the local endpoint count
(distinct IPs, so one pod behind two ports counts once) and the proxy's health.

The pure parts (which ports, which counts, the response) are functions; the
``ServiceHealthServer`` opens and closes one listener per Service through an
injected ``listen`` callable, so tests need no sockets.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from svclab.proxy.endpoint import Endpoint
from svclab.proxy.service_port import ServiceName, ServicePort, ServicePortName

__all__ = [
    "Listen",
    "ServiceHealthServer",
    "health_check_node_ports",
    "health_check_response",
    "local_ready_endpoints",
]

log = logging.getLogger(__name__)

#: ``listen(port, respond)`` starts serving ``respond()`` (status, JSON body) on ``port`` and returns
#: a coroutine function that stops it; it raises OSError when the port cannot be bound.
Listen = Callable[[int, Callable[[], tuple[int, str]]], Awaitable[Callable[[], Awaitable[None]]]]


def health_check_node_ports(service_ports: Mapping[ServicePortName, ServicePort]) -> dict[ServiceName, int]:
    """Service -> its healthCheckNodePort, for Services that have one. Side-effect-free."""
    return {
        name.service: port.health_check_node_port
        for name, port in service_ports.items()
        if port.health_check_node_port > 0
    }


def local_ready_endpoints(endpoints: Mapping[ServicePortName, Sequence[Endpoint]]) -> dict[ServiceName, int]:
    """Service -> number of distinct IPs of its ready endpoints on this node (upstream
    ``LocalReadyEndpoints``). Services without one are absent. Side-effect-free."""
    ips: dict[ServiceName, set[str]] = {}
    for name, eps in endpoints.items():
        for ep in eps:
            if ep.ready and ep.is_local:
                ips.setdefault(name.service, set()).add(ep.ip)
    return {service: len(found) for service, found in ips.items()}


def health_check_response(service: ServiceName, local_endpoints: int, proxy_healthy: bool) -> tuple[int, str]:
    """(HTTP status, JSON body) of one health check request. Side-effect-free."""
    body = {
        "service": {"namespace": service.namespace, "name": service.name},
        "localEndpoints": local_endpoints,
        "serviceProxyHealthy": proxy_healthy,
    }
    status = 200 if local_endpoints and proxy_healthy else 503
    return status, json.dumps(body, indent="\t")


class ServiceHealthServer:
    """One listener per Service with a healthCheckNodePort, answering from the latest counts.

    ``sync`` is called after each proxy sync; it is serialised by a lock, so
    overlapping calls apply in order. A port that cannot be bound is logged and
    tried again at the next sync (upstream records an event and does the same).
    """

    def __init__(self, listen: Listen, proxy_healthy: Callable[[], bool]) -> None:
        self._listen = listen
        self._proxy_healthy = proxy_healthy
        self._lock = asyncio.Lock()
        self._open: dict[ServiceName, tuple[int, Callable[[], Awaitable[None]]]] = {}
        self._counts: dict[ServiceName, int] = {}
        self._pending: set[asyncio.Future[None]] = set()

    @property
    def ports(self) -> dict[ServiceName, int]:
        """Services currently served, with their ports."""
        return {service: port for service, (port, _) in self._open.items()}

    def respond(self, service: ServiceName) -> tuple[int, str]:
        """The answer for ``service`` now."""
        return health_check_response(service, self._counts.get(service, 0), self._proxy_healthy())

    async def sync(self, ports: Mapping[ServiceName, int], counts: Mapping[ServiceName, int]) -> None:
        """Serve exactly ``ports``; answer with ``counts`` (missing Services count 0)."""
        async with self._lock:
            self._counts = dict(counts)
            for service, (port, close) in list(self._open.items()):
                if ports.get(service) != port:
                    del self._open[service]
                    log.info("event=healthcheck_closed service=%s port=%d", service, port)
                    await close()
            for service, port in ports.items():
                if service in self._open:
                    continue
                try:
                    close = await self._listen(port, functools.partial(self.respond, service))
                except OSError as exc:
                    log.warning("event=healthcheck_listen_failed service=%s port=%d error=%s", service, port, exc)
                    continue
                self._open[service] = (port, close)
                log.info("event=healthcheck_opened service=%s port=%d", service, port)

    def sync_soon(
        self,
        service_ports: Mapping[ServicePortName, ServicePort],
        endpoints: Mapping[ServicePortName, Sequence[Endpoint]],
    ) -> None:
        """Schedule ``sync`` for a proxy's state, from a synchronous callback on the running loop.

        Listeners follow the Services' ports, the answers the local ready endpoints.
        """
        task = asyncio.ensure_future(
            self.sync(health_check_node_ports(service_ports), local_ready_endpoints(endpoints))
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def close(self) -> None:
        """Stop every listener."""
        await self.sync({}, {})
