"""Fakes for userspace-mode tests besides the adapters' (``svclab.proxy.adapters.testing``): a scripted TCP dialer.

``ScriptedDialer`` answers each dial from a table of outcomes per endpoint
and records the (endpoint, timeout) order, so retry tests need neither
sockets nor sleeps.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from svclab.proxy.userspace.dial import DialCallback
from svclab.proxy.userspace.loadbalancer import EndpointAddress

__all__ = ["ScriptedDialer"]


@dataclass
class ScriptedDialer:
    """A TCP dialer (``dial.TcpDialer``) answering at once: outcomes per endpoint, attempts recorded.

    ``outcomes`` maps an endpoint to the exception its dials raise; an
    endpoint not listed "connects" and yields one end of a socketpair (the
    other end is kept in ``peers`` and closed by ``close``).
    """

    outcomes: dict[EndpointAddress, OSError] = field(default_factory=dict)
    attempts: list[tuple[EndpointAddress, float]] = field(default_factory=list)
    peers: list[socket.socket] = field(default_factory=list)

    def __call__(self, endpoint: EndpointAddress, timeout: float, done: DialCallback) -> Callable[[], None]:
        self.attempts.append((endpoint, timeout))
        error = self.outcomes.get(endpoint)
        if error is not None:
            done(None, error)
        else:
            ours, theirs = socket.socketpair()
            self.peers += [ours, theirs]
            done(ours, None)
        return lambda: None

    def close(self) -> None:
        for sock in self.peers:
            sock.close()
