"""Locust users for svclab's two connection scenarios.

Importing this module imports locust, which monkey-patches the process with
gevent: only the load generator process (``svclab.load.worker``, or locust
itself through ``loadtests/locustfile.py``) may import it, never the runner.

Both users loop without think time on ``GET /hostname`` (agnhost netexec),
spreading requests round robin over their URLs, each user starting at a
different URL so that N users cover N backends evenly.  They use
``FastHttpUser`` (geventhttpclient): the requests-based ``HttpUser`` spends
far more CPU per request than the proxies under test.

* ``KeepAliveUser``: one persistent HTTP/1.1 connection per user and URL.
* ``NewConnectionUser``: sends ``Connection: close``; the server closes after
  the response and geventhttpclient's pool then discards the socket
  (``should_close``), so every request dials a fresh TCP connection, the case
  where a proxy's per-connection cost (conntrack, NAT setup, the userspace
  proxy's dial) shows.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

from .model import Scenario

__all__ = ["KeepAliveUser", "NewConnectionUser", "SvclabUser", "configure", "user_class_for"]

REQUEST_NAME = "/hostname"


class SvclabUser(FastHttpUser):
    """Base user: ``urls`` and ``request_headers`` are set per class."""

    abstract = True
    wait_time = constant(0)
    urls: ClassVar[tuple[str, ...]] = ()
    request_headers: ClassVar[dict[str, str]] = {}
    # fail fast: a REJECTed Service must count as a failure, not a 60 s stall
    connection_timeout = 5.0
    network_timeout = 10.0
    _started: ClassVar[Iterator[int]] = itertools.count()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        urls = self.urls
        start = next(SvclabUser._started) % len(urls)
        self._next_url = itertools.cycle(urls[start:] + urls[:start])

    @task
    def get_hostname(self) -> None:
        self.client.get(next(self._next_url), name=REQUEST_NAME, headers=self.request_headers)


class KeepAliveUser(SvclabUser):
    """Persistent HTTP/1.1 connections."""

    abstract = True  # concrete once configure() gave it URLs


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


def configure(user_class: type[SvclabUser], urls: Sequence[str]) -> type[SvclabUser]:
    """Give a user class its URLs and make it runnable; returns the class.

    The class's ``host`` becomes the first URL (locust requires one; the
    users send absolute URLs, so it is only what locust's report shows).
    """
    if not urls:
        raise ValueError(f"{user_class.__name__}: no URLs to load")
    user_class.urls = tuple(urls)
    user_class.host = urls[0]
    user_class.abstract = False
    return user_class
