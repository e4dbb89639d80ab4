"""The packet tracer over ``FakeIptables``, with what may sit beside it: ipsets, IPVS, a userspace proxy.

``NetfilterTracer`` walks the built-in chains as the kernel does: nat
PREROUTING, then filter INPUT (the destination, after DNAT, is the node's)
or FORWARD, then nat POSTROUTING; for the node's own packets nat and filter
OUTPUT instead. It reads the matches and targets the modes write
(addresses, ports, ``addrtype``, marks, ``conntrack``, ``set`` against the
``FakeIpset``, ``statistic`` branches, which are all reported, ``DNAT``,
``REDIRECT``, ``MASQUERADE``). ``recent`` holds no client yet and
``physdev --physdev-is-in`` never matches: every trace is a fresh client
whose packet was routed, not bridged, to the node.

Beside iptables: with a ``FakeIpvs``, a packet accepted for local delivery
to a virtual server goes to its real servers (none: the node answers
"connection refused", so ``REJECT``), as IPVS does after filter INPUT; with
``proxy`` (the userspace mode), a packet redirected to a local port is
delivered to the proxy socket there, which reaches the endpoints
``proxy(port)`` returns, always from the node's own address.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from svclab.proxy.adapters.testing.ipset import FakeIpset
from svclab.proxy.adapters.testing.iptables import FakeIptables
from svclab.proxy.adapters.testing.ipvs_netlink import FakeIpvs
from svclab.proxy.adapters.testing.trace import Packet, Trace, in_network
from svclab.proxy.service_port import Protocol

__all__ = ["NetfilterTracer", "ProxyPorts"]

#: the endpoints ("ip:port") a userspace proxy socket on this local port reaches, or None
ProxyPorts = Callable[[int], Sequence[str] | None]

#: match options followed by one argument (``--match-set`` takes two)
_WITH_ARG = {
    "-m", "--comment", "-p", "-d", "-s", "--dport", "--dst-type", "--src-type", "--mark", "--ctstate",
    "--state", "--mode", "--probability", "--name", "--seconds", "--nfacct-name", "--vaddr", "--vproto", "--vport",
}  # fmt: skip
_TERMINAL = ("ACCEPT", "DROP", "REJECT", "DNAT", "REDIRECT", "MASQUERADE")


@dataclass
class _Walk:
    """One packet's state across the hooks."""

    pkt: Packet
    redirected: bool = False


@dataclass
class NetfilterTracer:
    """``PacketTracer`` over a ``FakeIptables`` (see the module docstring); ``node_ips``: the node's addresses."""

    iptables: FakeIptables
    node_ips: Sequence[str] = ()
    ipset: FakeIpset | None = None
    ipvs: FakeIpvs | None = None
    proxy: ProxyPorts | None = None

    def __call__(self, src: str, dst: str, dport: int, *, proto: str = "tcp") -> Trace:
        local = {*self.node_ips, *(self.ipvs.addresses() if self.ipvs is not None else ())}
        walk = _Walk(Packet(src, dst, proto, dport, local))
        pkt = walk.pkt
        if pkt.from_node:
            final = self._hook(walk, ("nat", "OUTPUT"), ("filter", "OUTPUT"))
        else:
            final = self._hook(walk, ("nat", "PREROUTING"))
            if final is None:
                final = self._hook(walk, ("filter", "INPUT" if pkt.is_local(pkt.dst) else "FORWARD"))
        if final is not None:
            return Trace(final, False)
        if walk.redirected:
            reached = self.proxy(pkt.dport) if self.proxy is not None else None
            return Trace(", ".join(sorted(reached or ())), bool(reached))  # the proxy dials from the node
        if self.ipvs is not None and not pkt.dnat and pkt.is_local(pkt.dst):
            if self._ipvs(pkt) == "REJECT":
                return Trace("REJECT", False)
        masquerade = bool(pkt.dnat) and self._hook(walk, ("nat", "POSTROUTING")) == "MASQUERADE"
        return Trace(pkt.verdict(None), masquerade)

    def _ipvs(self, pkt: Packet) -> str | None:
        """IPVS after filter INPUT: a virtual server translates the packet to its real servers (all recorded)."""
        assert self.ipvs is not None
        vs = self.ipvs.virtual_server(pkt.dst, pkt.dport, Protocol(pkt.proto.upper()))
        if vs is None:
            return None
        servers = self.ipvs.real_servers(vs)
        serving = [server for server, weight in sorted(servers.items()) if weight > 0]
        if not serving:
            return "REJECT"  # nothing listens on the virtual address itself: connection refused
        for server in serving:
            pkt.translate(server)
        return None

    def _hook(self, walk: _Walk, *chains: tuple[str, str]) -> str | None:
        """Run built-in chains in order; returns DROP, REJECT or MASQUERADE when one ends the packet's way."""
        for table, chain in chains:
            verdict = self._run(walk, table, chain, 0)
            if verdict in ("DROP", "REJECT", "MASQUERADE"):
                return verdict
        return None

    def _run(self, walk: _Walk, table: str, chain: str, depth: int) -> str | None:
        if depth > 50:
            raise RuntimeError(f"jump loop at {chain}")
        for rule in self.iptables.tables.get(table, {}).get(chain, []):
            tokens = shlex.split(rule)
            if not self._matches(tokens, walk.pkt):
                continue
            target = tokens[tokens.index("-j") + 1] if "-j" in tokens else None
            verdict = self._target(walk, table, target, tokens, depth)
            if verdict is None:
                continue
            if "--probability" in tokens and verdict == "DNAT":
                continue  # a random branch: record it and trace the others too
            return None if verdict == "RETURN" else verdict
        return None

    def _target(self, walk: _Walk, table: str, target: str | None, tokens: list[str], depth: int) -> str | None:
        pkt = walk.pkt
        if target is None:
            return None
        if target == "MARK":
            op, value = tokens[tokens.index("-j") + 2], int(tokens[tokens.index("-j") + 3].split("/")[0], 16)
            pkt.mark = pkt.mark | value if op == "--or-mark" else pkt.mark ^ value
            return None
        if target == "DNAT":
            destination = tokens[tokens.index("--to-destination") + 1]
            host, _, port = destination.rpartition(":")
            if pkt.is_local(host.strip("[]")):
                self._redirect(walk, host.strip("[]"), int(port))
            else:
                pkt.translate(destination)
            return "DNAT"
        if target == "REDIRECT":
            self._redirect(walk, sorted(pkt.local)[0] if pkt.local else "127.0.0.1", int(tokens[-1]))
            return "REDIRECT"
        if target in _TERMINAL or target == "RETURN":
            return target
        return self._run(walk, table, target, depth + 1)

    @staticmethod
    def _redirect(walk: _Walk, address: str, port: int) -> None:
        walk.pkt.dst, walk.pkt.dport, walk.redirected = address, port, True

    def _matches(self, tokens: list[str], pkt: Packet) -> bool:
        i, negate = 0, False
        while i < len(tokens) and tokens[i] != "-j":
            tok = tokens[i]
            if tok == "!":
                negate, i = True, i + 1
                continue
            if tok == "--match-set":
                ok: bool | None = self._in_set(tokens[i + 1], tokens[i + 2], pkt)
                step = 3
            else:
                arg = tokens[i + 1] if tok in _WITH_ARG else ""
                ok, step = _check(tok, arg, pkt), 2 if tok in _WITH_ARG else 1
            if ok is not None and ok == negate:
                return False
            negate, i = False, i + step
        return True

    def _in_set(self, name: str, flags: str, pkt: Packet) -> bool:
        if self.ipset is None:
            return False
        return self.ipset.matches(
            name, flags, src=pkt.src, dst=pkt.dst, proto=pkt.proto, sport=pkt.sport, dport=pkt.dport
        )


def _check(tok: str, arg: str, pkt: Packet) -> bool | None:
    """Whether one match option holds; None for options that do not filter."""
    if tok in ("-p", "--vproto"):
        return arg == pkt.proto
    if tok in ("-d", "-s", "--vaddr"):
        return in_network(pkt.src if tok == "-s" else pkt.dst, arg)
    if tok in ("--dport", "--vport"):
        return int(arg) == pkt.dport
    if tok in ("--dst-type", "--src-type"):
        return pkt.is_local(pkt.dst if tok == "--dst-type" else pkt.src)
    if tok == "--mark":
        value, mask = (int(x, 16) for x in arg.split("/"))
        return pkt.mark & mask == value
    if tok in ("--ctstate", "--state"):
        states = {"NEW", "DNAT"} if pkt.dnat else {"NEW"}
        return bool(states & set(arg.split(",")))
    if tok in ("--rcheck", "--physdev-is-in"):
        return False  # no affinity recorded yet (a fresh client); routed, not bridged
    return None
