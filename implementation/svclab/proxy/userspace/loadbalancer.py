"""Round robin with ClientIP affinity, and the dial-retry schedule (upstream ``roundrobin.go``).

Per service port the balancer keeps the endpoint list (shuffled whenever its
*set* changes, as upstream did, so that proxies on different nodes do not all
start with the same backend), a round-robin index and, for ``ClientIP``
affinity, a map client IP -> (endpoint, last used). An affinity record is
honoured while ``int(seconds since last use) < ttl`` (upstream's integer
truncation) and refreshed on every use; it is dropped when its endpoint
leaves the set or it expires (``cleanup_stale_sessions``).

``dial_attempts`` is upstream's ``tryConnect`` without the I/O: it yields
(endpoint, timeout) for the four ``ENDPOINT_DIAL_TIMEOUTS``; every attempt
after the first asks the balancer to ignore affinity, so a failed dial moves
on to the next endpoint instead of retrying the sticky one. The TCP and UDP
sockets share it. Nothing here does I/O; the clock and shuffle are injected.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from svclab.proxy.service_port import ServicePortName

__all__ = [
    "ENDPOINT_DIAL_TIMEOUTS",
    "EndpointAddress",
    "MissingEndpoints",
    "MissingServiceEntry",
    "RoundRobinBalancer",
    "dial_attempts",
]

#: How long each successive dial may take (upstream ``EndpointDialTimeouts``).
ENDPOINT_DIAL_TIMEOUTS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)

#: A backend as (ip, port).
EndpointAddress = tuple[str, int]


class MissingServiceEntry(LookupError):
    """The balancer does not know the service port (upstream ``ErrMissingServiceEntry``)."""


class MissingEndpoints(LookupError):
    """The service port has no endpoints (upstream ``ErrMissingEndpoints``)."""


@dataclass(slots=True)
class _Affinity:
    endpoint: EndpointAddress
    last_used: float


@dataclass(slots=True)
class _BalancerState:
    affinity_seconds: int
    endpoints: list[EndpointAddress] = field(default_factory=list)
    index: int = 0
    sessions: dict[str, _Affinity] = field(default_factory=dict)


class RoundRobinBalancer:
    """Picks endpoints per service port; not thread-safe (the event loop is its only user)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        shuffle: Callable[[list[EndpointAddress]], None] = random.shuffle,
    ) -> None:
        self._clock = clock
        self._shuffle = shuffle
        self._services: dict[ServicePortName, _BalancerState] = {}

    def set_service(self, name: ServicePortName, affinity_seconds: int) -> None:
        """Create or update a service port; ``affinity_seconds`` 0 means no affinity.

        Changing the affinity setting drops existing affinity records.
        """
        state = self._services.get(name)
        if state is None:
            self._services[name] = _BalancerState(affinity_seconds)
        elif state.affinity_seconds != affinity_seconds:
            state.affinity_seconds = affinity_seconds
            state.sessions.clear()

    def delete_service(self, name: ServicePortName) -> None:
        """Forget a service port (no error when unknown)."""
        self._services.pop(name, None)

    def set_endpoints(self, name: ServicePortName, endpoints: Sequence[EndpointAddress]) -> bool:
        """Replace the endpoints; returns whether the set changed.

        An unchanged set keeps order, index and affinity. A changed set drops
        affinity to removed endpoints, reshuffles and restarts the round robin;
        an empty set clears all affinity (upstream ``resetService``).
        """
        state = self._services.setdefault(name, _BalancerState(0))
        if sorted(state.endpoints) == sorted(endpoints):
            return False
        keep = set(endpoints)
        state.sessions = {ip: a for ip, a in state.sessions.items() if a.endpoint in keep} if keep else {}
        state.endpoints = list(endpoints)
        self._shuffle(state.endpoints)
        state.index = 0
        return True

    def has_endpoints(self, name: ServicePortName) -> bool:
        state = self._services.get(name)
        return state is not None and bool(state.endpoints)

    def endpoints(self, name: ServicePortName) -> tuple[EndpointAddress, ...]:
        """The current (shuffled) endpoint order, for tests and debugging."""
        state = self._services.get(name)
        return tuple(state.endpoints) if state else ()

    def round_robin(self, name: ServicePortName) -> tuple[tuple[EndpointAddress, ...], int, int]:
        """(endpoints in their turn order, index of the next one, affinity seconds) of one service port."""
        state = self._services.get(name)
        return (tuple(state.endpoints), state.index, state.affinity_seconds) if state else ((), 0, 0)

    def live_sessions(self, name: ServicePortName) -> dict[str, EndpointAddress]:
        """Client IP -> endpoint for the clients affinity still keeps (not yet expired) on ``name``."""
        state = self._services.get(name)
        if state is None or not state.affinity_seconds:
            return {}
        now = self._clock()
        return {ip: a.endpoint for ip, a in state.sessions.items() if int(now - a.last_used) < state.affinity_seconds}

    def next_endpoint(self, name: ServicePortName, client_ip: str, reset_affinity: bool = False) -> EndpointAddress:
        """The endpoint for a new connection from ``client_ip``.

        With affinity and a live record (and not ``reset_affinity``) that
        record's endpoint; otherwise the next one in round-robin order, which
        then becomes the client's affinity. Raises ``MissingServiceEntry`` or
        ``MissingEndpoints``.
        """
        state = self._services.get(name)
        if state is None:
            raise MissingServiceEntry(f"no service entry for {name}")
        if not state.endpoints:
            raise MissingEndpoints(f"service {name} has no endpoints")
        now = self._clock()
        if state.affinity_seconds and not reset_affinity:
            record = state.sessions.get(client_ip)
            if record is not None and int(now - record.last_used) < state.affinity_seconds:
                record.last_used = now
                return record.endpoint
        endpoint = state.endpoints[state.index]
        state.index = (state.index + 1) % len(state.endpoints)
        if state.affinity_seconds:
            state.sessions[client_ip] = _Affinity(endpoint, now)
        return endpoint

    def cleanup_stale_sessions(self) -> int:
        """Drop expired affinity records of every service port; returns how many."""
        now, dropped = self._clock(), 0
        for state in self._services.values():
            stale = [ip for ip, a in state.sessions.items() if int(now - a.last_used) >= state.affinity_seconds]
            for ip in stale:
                del state.sessions[ip]
            dropped += len(stale)
        return dropped


def dial_attempts(
    balancer: RoundRobinBalancer, name: ServicePortName, client_ip: str
) -> Iterator[tuple[EndpointAddress, float]]:
    """(endpoint, dial timeout) for each attempt; the caller stops iterating on success.

    Lookup errors (``MissingEndpoints``...) propagate from the first
    ``next()``. Only the first attempt may use the client's affinity.
    """
    for attempt, timeout in enumerate(ENDPOINT_DIAL_TIMEOUTS):
        yield balancer.next_endpoint(name, client_ip, reset_affinity=attempt > 0), timeout
