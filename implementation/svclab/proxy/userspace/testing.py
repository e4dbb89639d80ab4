"""Test helpers of the userspace mode besides the adapters' fakes: a scripted dialer and the packet tracer.

``ScriptedDialer`` answers each dial from a table of outcomes per endpoint
and records the (endpoint, timeout) order, so retry tests need neither
sockets nor sleeps. ``portal_tracer`` traces packets through the portal
rules in a ``FakeIptables`` to the backend's proxy sockets, and from each
to the endpoints its balancer may pick.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from svclab.proxy.adapters.testing.iptables import FakeIptables
from svclab.proxy.adapters.testing.trace_iptables import NetfilterTracer
from svclab.proxy.userspace.dial import DialCallback
from svclab.proxy.userspace.loadbalancer import EndpointAddress
from svclab.proxy.userspace.proxier import UserspaceProxier

__all__ = ["ScriptedDialer", "portal_tracer"]


def portal_tracer(backend: UserspaceProxier, iptables: FakeIptables, node_ips: Sequence[str] = ()) -> NetfilterTracer:
    """The packet tracer over ``backend``'s portal rules in ``iptables`` and its proxy sockets."""

    def proxied(port: int) -> tuple[str, ...] | None:
        for name, served in backend.served.items():
            if served.proxy_port == port:
                return tuple(f"[{ip}]:{p}" if ":" in ip else f"{ip}:{p}" for ip, p in backend.balancer.endpoints(name))
        return None

    return NetfilterTracer(iptables, node_ips, proxy=proxied)


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
