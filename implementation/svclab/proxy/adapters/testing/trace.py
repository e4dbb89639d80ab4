"""The one packet-tracer protocol of the proxy tests, and the packet the interpreters walk.

A tracer answers where a new connection (source, destination, protocol,
port) ends up on the node, from the fakes' tables alone, like upstream's
``runPacketFlowTests``: a ``Trace`` with the verdict (``"REJECT"``,
``"DROP"``, every endpoint it may reach as ``"ip:port, ..."`` sorted, or
``""`` when nothing of ours touches it) and whether the endpoint sees
another source address than the client's (masquerade, or a proxy that
dials it from the node). Every mode's tests build one with the same call
signature (``PacketTracer``), so one table of flow cases runs on all modes:
``NetfilterTracer`` walks ``FakeIptables`` (with ``FakeIpset`` matches,
``FakeIpvsNetlink`` virtual servers, or a userspace proxy's sockets) and
``NftTracer`` walks ``FakeNft``. Both walk the netfilter hooks in the
kernel's order: prerouting (output for the node's own packets), the routing
decision on the translated destination, input or forward, postrouting.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["Packet", "PacketTracer", "Trace", "in_network"]


@dataclass(frozen=True, slots=True)
class Trace:
    """Where a packet ends up (see the module docstring)."""

    verdict: str
    masquerade: bool


class PacketTracer(Protocol):
    """Traces one new connection through the node's fakes."""

    def __call__(self, src: str, dst: str, dport: int, *, proto: str = "tcp") -> Trace: ...


def in_network(ip: str, cidr: str) -> bool:
    """Whether ``ip`` is in ``cidr`` (a bare address is a /32)."""
    return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr.strip(), strict=False)


@dataclass
class Packet:
    """A new connection's first packet as the hooks see it; ``dnat`` collects every possible endpoint."""

    src: str
    dst: str
    proto: str
    dport: int
    local: Collection[str]
    sport: int = 40000
    mark: int = 0
    dnat: list[str] = field(default_factory=list)

    def is_local(self, ip: str) -> bool:
        """Whether ``ip`` is one of the node's addresses (loopback included)."""
        return ip in self.local or in_network(ip, "127.0.0.0/8") or in_network(ip, "::1/128")

    @property
    def from_node(self) -> bool:
        """Sent by the node itself (the output hook, not prerouting)."""
        return self.is_local(self.src)

    def translate(self, destination: str) -> None:
        """Record a DNAT to ``ip:port``; the first one decides where the packet is routed."""
        if not self.dnat:
            host, _, port = destination.rpartition(":")
            self.dst, self.dport = host.strip("[]"), int(port)
        self.dnat.append(destination)

    def verdict(self, final: str | None) -> str:
        """The trace's verdict once the hooks are done (``final``: DROP or REJECT, if any)."""
        if final in ("DROP", "REJECT"):
            return final
        return ", ".join(sorted(set(self.dnat)))
