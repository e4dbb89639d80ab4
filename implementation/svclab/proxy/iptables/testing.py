"""A packet tracer over the fake iptables, for iptables-mode tests.

``FakeIptables`` (``svclab.proxy.adapters.testing.iptables``) models the
tables; ``trace_packet`` interprets them for one packet through this mode's
chains, like upstream's ``runPacketFlowTests``.
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from svclab.proxy.adapters.testing.iptables import FakeIptables

__all__ = ["TraceResult", "trace_packet"]


@dataclass(frozen=True, slots=True)
class TraceResult:
    """Where a packet ends up: ``"REJECT"``, ``"DROP"``, ``"ip:port, ..."`` or ``""``."""

    verdict: str
    masquerade: bool


@dataclass
class _Packet:
    src: str
    dst: str
    proto: str
    dport: int
    local: Sequence[str]
    mark: int = 0
    dnat: list[str] = field(default_factory=list)

    def is_local(self, ip: str) -> bool:
        return ip in self.local or ipaddress.ip_address(ip) in ipaddress.ip_network("127.0.0.0/8")


def _in(cidr: str, ip: str) -> bool:
    return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)


_WITH_ARG = {
    "-m",
    "--comment",
    "-p",
    "-d",
    "-s",
    "--dport",
    "--dst-type",
    "--src-type",
    "--mark",
    "--ctstate",
    "--mode",
    "--probability",
    "--name",
    "--seconds",
    "--nfacct-name",
}


def _check(tok: str, arg: str, pkt: _Packet, dnatted: bool) -> bool | None:
    """Whether one match option holds; None for options that do not filter."""
    if tok == "-p":
        return arg == pkt.proto
    if tok in ("-d", "-s"):
        return _in(arg, pkt.dst if tok == "-d" else pkt.src)
    if tok == "--dport":
        return int(arg) == pkt.dport
    if tok in ("--dst-type", "--src-type"):
        return pkt.is_local(pkt.dst if tok == "--dst-type" else pkt.src)
    if tok == "--mark":
        value, mask = (int(x, 16) for x in arg.split("/"))
        return pkt.mark & mask == value
    if tok == "--ctstate":
        states = arg.split(",")
        return "NEW" in states or (dnatted and "DNAT" in states)
    if tok == "--rcheck":
        return False  # no affinity recorded yet: a fresh client
    return None


def _matches(tokens: list[str], pkt: _Packet, dnatted: bool) -> bool:
    i, negate = 0, False
    while i < len(tokens) and tokens[i] != "-j":
        tok = tokens[i]
        if tok == "!":
            negate, i = True, i + 1
            continue
        arg = tokens[i + 1] if tok in _WITH_ARG else ""
        ok = _check(tok, arg, pkt, dnatted)
        if ok is not None and ok == negate:
            return False
        negate = False
        i += 2 if tok in _WITH_ARG else 1
    return True


def _run_chain(
    tables: dict[str, dict[str, list[str]]], table: str, chain: str, pkt: _Packet, dnatted: bool, depth: int = 0
) -> str | None:
    for rule in tables[table].get(chain, []):
        tokens = shlex.split(rule)
        if not _matches(tokens, pkt, dnatted):
            continue
        target = tokens[tokens.index("-j") + 1] if "-j" in tokens else None
        verdict = _apply_target(tables, table, target, tokens, pkt, dnatted, depth)
        if verdict is None:
            continue
        if "--probability" in tokens and verdict == "DNAT":
            continue  # a random branch: record it and keep tracing the others
        return None if verdict == "RETURN" else verdict
    return None


def _apply_target(
    tables: dict[str, dict[str, list[str]]],
    table: str,
    target: str | None,
    tokens: list[str],
    pkt: _Packet,
    dnatted: bool,
    depth: int,
) -> str | None:
    if target is None:
        return None
    if target == "MARK":
        op, value = tokens[tokens.index("-j") + 2], int(tokens[tokens.index("-j") + 3], 16)
        pkt.mark = pkt.mark | value if op == "--or-mark" else pkt.mark ^ value
        return None
    if target == "DNAT":
        pkt.dnat.append(tokens[tokens.index("--to-destination") + 1])
        return "DNAT"
    if target in ("ACCEPT", "DROP", "REJECT", "RETURN", "MASQUERADE"):
        return target
    if depth > 50:
        raise RuntimeError(f"jump loop at {target}")
    return _run_chain(tables, table, target, pkt, dnatted, depth + 1)


def trace_packet(
    fake: FakeIptables, src: str, dst: str, dport: int, *, proto: str = "tcp", node_ips: Sequence[str] = ()
) -> TraceResult:
    """Trace a new connection through nat then filter. Side-effect-free on ``fake``."""
    pkt = _Packet(src, dst, proto, dport, node_ips)
    _run_chain(fake.tables, "nat", "KUBE-SERVICES", pkt, False)
    if pkt.dnat:
        verdict = ", ".join(sorted(set(pkt.dnat)))
    else:
        verdict = ""
        for chain in ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-PROXY-FIREWALL"):
            result = _run_chain(fake.tables, "filter", chain, pkt, False)
            if result in ("DROP", "REJECT"):
                verdict = result
                break
    masq = _run_chain(fake.tables, "nat", "KUBE-POSTROUTING", pkt, bool(pkt.dnat)) == "MASQUERADE"
    return TraceResult(verdict, masq)
