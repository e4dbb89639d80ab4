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
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

from .model import Scenario

__all__ = [
    "KeepAliveUser",
    "NewConnectionUser",
    "REQUEST_NAME",
    "SvclabUser",
    "TargetSwitch",
    "configure",
    "user_class_for",
]

REQUEST_NAME = "/hostname"  # the one target's name when nothing is interleaved


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


class SvclabUser(FastHttpUser):
    """Base user: ``switch`` and ``request_headers`` are set per class."""

    abstract = True
    wait_time = constant(0)
    switch: ClassVar[TargetSwitch]
    request_headers: ClassVar[dict[str, str]] = {}
    # fail fast: a REJECTed Service must count as a failure, not a 60 s stall
    connection_timeout = 5.0
    network_timeout = 10.0
    _started: ClassVar[Iterator[int]] = itertools.count()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        start = next(SvclabUser._started)
        self._next_url = {name: _rotated_cycle(urls, start) for name, urls in self.switch.targets.items()}

    @task
    def get_hostname(self) -> None:
        target = self.switch.current  # read once: a request belongs to the slice it started in
        self.client.get(next(self._next_url[target]), name=target, headers=self.request_headers)


def _rotated_cycle(urls: tuple[str, ...], start: int) -> Iterator[str]:
    start %= len(urls)
    return itertools.cycle(urls[start:] + urls[:start])


class KeepAliveUser(SvclabUser):
    """Persistent HTTP/1.1 connections."""

    abstract = True  # concrete once configure() gave it targets


class NewConnectionUser(SvclabUser):
    """A fresh TCP connection for every request (``Connection: close``)."""

    abstract = True
    request_headers: ClassVar[dict[str, str]] = {"Connection": "close"}


_CLASSES: dict[Scenario, type[SvclabUser]] = {
    Scenario.KEEPALIVE: KeepAliveUser,
    Scenario.NEW_CONNECTION: NewConnectionUser,
}


def user_class_for(scenario: Scenario) -> type[SvclabUser]:
    """The user class of a scenario."""
    return _CLASSES[scenario]


def configure(user_class: type[SvclabUser], switch: TargetSwitch) -> type[SvclabUser]:
    """Give a user class its targets and make it runnable; returns the class.

    The class's ``host`` becomes the first target's first URL (locust
    requires one; the users send absolute URLs, so it is only what locust's
    report shows).
    """
    user_class.switch = switch
    user_class.host = next(iter(switch.targets.values()))[0]
    user_class.abstract = False
    return user_class
