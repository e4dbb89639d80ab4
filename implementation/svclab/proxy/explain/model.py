"""What ``svclab explain`` says about one packet: the probe, the hops it takes, the endpoints it can reach.

An ``Explanation`` is the answer of every mode's evaluator
(``netfilter``, ``nftables``, ``ipvs``, ``userspace``): the first packet of a
new connection (``Probe``), the rules it matched in the order the kernel
runs them (``Hop``, with its depth below the hook's base chain, so a random
branch and the chains it enters read as a tree), and every endpoint it may
be sent to (``Choice``) with the chance of it, how the mode picks it and
whether the endpoint sees the node's address instead of the client's
(masquerade). ``to_json`` is the stable shape ``svclab explain -o json``
prints (documented in the README; ``SCHEMA_VERSION`` changes when it does).
Side-effect-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "Choice",
    "Explanation",
    "Hop",
    "Outcome",
    "Probe",
    "SCHEMA_VERSION",
    "host_port",
]

#: bumped whenever the JSON shape of ``Explanation.to_json`` changes
SCHEMA_VERSION = 1


class Outcome(StrEnum):
    """How the first packet's way ends."""

    DNAT = "dnat"  # rewritten to one of the choices by the kernel (iptables, nftables, ipvs)
    PROXY = "proxy"  # redirected to the userspace proxy's socket, which dials one of the choices
    REJECT = "reject"  # refused: the client sees "connection refused"
    DROP = "drop"  # silently dropped: the client times out
    UNTOUCHED = "untouched"  # no rule of the proxy touched it


@dataclass(frozen=True, slots=True)
class Probe:
    """The first packet of a new connection, and where on the node it enters.

    ``from_node``: sent by the node itself (netfilter's output hook), else it
    arrives from a pod or another host (prerouting). ``local`` are the node's
    own addresses, which ``addrtype LOCAL`` / ``fib ... type local`` match.
    """

    src: str
    dst: str
    dport: int
    proto: str = "tcp"
    from_node: bool = False
    local: frozenset[str] = frozenset()

    @property
    def hook(self) -> str:
        return "OUTPUT" if self.from_node else "PREROUTING"

    def is_local(self, ip: str) -> bool:
        return ip in self.local or ip.startswith("127.") or ip == "::1"


@dataclass(frozen=True, slots=True)
class Hop:
    """One rule the packet matched: where it is, its text, and what it did (``verdict``)."""

    table: str
    chain: str
    rule: str
    verdict: str
    depth: int = 0


def host_port(ip: str, port: int) -> str:
    """An endpoint as the tools print it: ``ip:port``, ``[ip]:port`` for IPv6. Side-effect-free."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


@dataclass(frozen=True, slots=True)
class Choice:
    """One endpoint the packet may reach: ``probability`` of a new client landing there (None: not random)."""

    endpoint: str
    probability: float | None
    how: str
    masquerade: bool = False


@dataclass(frozen=True, slots=True)
class Explanation:
    """The whole answer for one Service port (see the module docstring)."""

    mode: str
    service: str
    node: str
    probe: Probe
    outcome: Outcome
    hops: tuple[Hop, ...] = ()
    choices: tuple[Choice, ...] = ()
    affinity: str = ""  # how a returning client is kept on its endpoint; "" without session affinity
    notes: tuple[str, ...] = field(default=())
    source: str = ""  # who sends the packet, in words ("pod default/client", "node kind-worker")

    def endpoints(self) -> list[str]:
        """The endpoints ("ip:port") a new connection may reach, sorted."""
        return sorted({c.endpoint for c in self.choices})

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of ``svclab explain -o json``."""
        probe = self.probe
        return {
            "schemaVersion": SCHEMA_VERSION,
            "mode": self.mode,
            "service": self.service,
            "node": self.node,
            "packet": {
                "src": probe.src,
                "dst": probe.dst,
                "dport": probe.dport,
                "protocol": probe.proto,
                "hook": probe.hook,
                "source": self.source,
            },
            "outcome": self.outcome.value,
            "hops": [
                {"table": h.table, "chain": h.chain, "rule": h.rule, "verdict": h.verdict, "depth": h.depth}
                for h in self.hops
            ],
            "endpoints": [
                {"endpoint": c.endpoint, "probability": c.probability, "how": c.how, "masquerade": c.masquerade}
                for c in self.choices
            ],
            "affinity": self.affinity,
            "notes": list(self.notes),
        }
