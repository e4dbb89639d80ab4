"""Locust users for svclab's two connection scenarios.

Importing this module imports locust, which monkey-patches the process with
gevent: only the load generator process (``svclab.load.worker``, or locust
itself through ``loadtests/locustfile.py``) may import it, never the runner.

Both users loop without think time on ``GET /hostname`` (agnhost netexec).
Every request goes to the target a shared ``TargetSwitch`` names at the
moment it starts, and is named after that target, so locust keeps stats per
target (the worker flips the switch slice by slice; the locustfile has one
target named ``/hostname``).  Within a target a user spreads its requests
round robin over the URLs, each user starting at a different URL so that N
users cover N backends evenly.  They use
``FastHttpUser`` (geventhttpclient): the requests-based ``HttpUser`` spends
far more CPU per request than the proxies under test.

* ``KeepAliveUser``: one persistent HTTP/1.1 connection per user and URL;
  geventhttpclient pools connections per host, so a user's connections to
  one target stay open while it sends to another.
* ``NewConnectionUser``: sends ``Connection: close``; the server closes after
  the response and geventhttpclient's pool then discards the socket
  (``should_close``), so every request dials a fresh TCP connection, the case
  where a proxy's per-connection cost (conntrack, NAT setup, the userspace
  proxy's dial) shows.
* ``ConnectProbeUser``: no HTTP client at all; it times one connection per
  task on a bare socket (``svclab.load.probe``) and fires locust request
  events of type ``CONNECT`` (the handshake) and ``FIRST_RESPONSE`` (handshake
  plus the first byte of a tiny request's answer), so locust still drives,
  counts and distributes it like the other users.

Every request carries the switch's current round in its context (locust
passes it to request listeners), so the worker can keep figures per round.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from locust import User, constant, task
from locust.contrib.fasthttp import FastHttpUser

from .model import Scenario
from .probe import Endpoint, endpoint_of, time_connection

__all__ = [
    "CONNECT",
    "ConnectProbeUser",
    "FIRST_RESPONSE",
    "KeepAliveUser",
    "NewConnectionUser",
    "REQUEST_NAME",
    "SvclabUser",
    "SwitchedUser",
    "TargetSwitch",
    "configure",
    "user_class_for",
]

REQUEST_NAME = "/hostname"  # the one target's name when nothing is interleaved
_T = TypeVar("_T")
CONNECT = "CONNECT"  # the probe's request types
FIRST_RESPONSE = "FIRST_RESPONSE"


class TargetSwitch:
    """The targets (name -> URLs) and which one users send to now.

    Shared by all users of a process; only the worker's slice driver sets
    ``current`` (gevent: no locking needed, greenlets switch only on I/O).
    """

    def __init__(self, targets: Mapping[str, Sequence[str]]) -> None:
        self.targets = {name: tuple(urls) for name, urls in targets.items()}
        empty = [name for name, urls in self.targets.items() if not urls]
        if not self.targets or empty:
            raise ValueError(f"every target needs URLs, got {dict(self.targets)}")
        self.current = next(iter(self.targets))
        self.round = 0  # which round of the run the current slice belongs to


class SwitchedUser(User):
    """What every svclab user shares: the switch, and the round in each request's context."""

    abstract = True
    wait_time = constant(0)
    switch: ClassVar[TargetSwitch]
    request_type: ClassVar[str] = "GET"  # the type under which locust counts this user's requests
    _started: ClassVar[Iterator[int]] = itertools.count()  # users start at different URLs

    def context(self) -> dict[str, Any]:
        return {"round": self.switch.round}


class SvclabUser(FastHttpUser, SwitchedUser):
    """Base HTTP user: ``switch`` and ``request_headers`` are set per class."""

    abstract = True
    request_headers: ClassVar[dict[str, str]] = {}
    # fail fast: a REJECTed Service must count as a failure, not a 60 s stall
    connection_timeout = 5.0
    network_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        start = next(SwitchedUser._started)
        self._next_url = {name: _rotated_cycle(urls, start) for name, urls in self.switch.targets.items()}

    @task
    def get_hostname(self) -> None:
        target = self.switch.current  # read once: a request belongs to the slice it started in
        self.client.get(next(self._next_url[target]), name=target, headers=self.request_headers)


def _rotated_cycle(items: tuple[_T, ...], start: int) -> Iterator[_T]:
    start %= len(items)
    return itertools.cycle(items[start:] + items[:start])


class KeepAliveUser(SvclabUser):
    """Persistent HTTP/1.1 connections."""

    abstract = True  # concrete once configure() gave it targets


class NewConnectionUser(SvclabUser):
    """A fresh TCP connection for every request (``Connection: close``)."""

    abstract = True
    request_headers: ClassVar[dict[str, str]] = {"Connection": "close"}


class ConnectProbeUser(SwitchedUser):
    """Times one new connection per task on a bare socket (``svclab.load.probe``)."""

    abstract = True
    request_type: ClassVar[str] = CONNECT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        start = next(SwitchedUser._started)
        self._next_endpoint = {
            name: _rotated_cycle(tuple(endpoint_of(u) for u in urls), start)
            for name, urls in self.switch.targets.items()
        }

    @task
    def probe(self) -> None:
        target, context = self.switch.current, self.context()
        endpoint: Endpoint = next(self._next_endpoint[target])
        fire = self.environment.events.request.fire
        started = time.monotonic_ns()
        try:
            timing = time_connection(endpoint)
        except OSError as err:
            elapsed_ms = (time.monotonic_ns() - started) / 1e6
            fire(
                request_type=CONNECT,
                name=target,
                response_time=elapsed_ms,
                response_length=0,
                exception=err,
                context=context,
            )
            return
        for kind, nanoseconds in ((CONNECT, timing.connect_ns), (FIRST_RESPONSE, timing.first_response_ns)):
            fire(
                request_type=kind,
                name=target,
                response_time=nanoseconds / 1e6,
                response_length=0,
                exception=None,
                context=context,
            )


_CLASSES: dict[Scenario, type[SwitchedUser]] = {
    Scenario.KEEPALIVE: KeepAliveUser,
    Scenario.NEW_CONNECTION: NewConnectionUser,
    Scenario.CONNECT_PROBE: ConnectProbeUser,
}


def user_class_for(scenario: Scenario) -> type[SwitchedUser]:
    """The user class of a scenario."""
    return _CLASSES[scenario]


def configure(user_class: type[SwitchedUser], switch: TargetSwitch) -> type[SwitchedUser]:
    """Give a user class its targets and make it runnable; returns the class.

    The class's ``host`` becomes the first target's first URL (locust
    requires one; the users send absolute URLs, so it is only what locust's
    report shows).
    """
    user_class.switch = switch
    user_class.host = next(iter(switch.targets.values()))[0]
    user_class.abstract = False
    return user_class
