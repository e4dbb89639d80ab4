"""The packet tracer over ``FakeNft``: the table's base chains walked in hook and priority order.

Base chains say where they hook (``{ type nat hook prerouting priority -100 ; }``);
``NftTracer`` runs, for a packet from outside, the prerouting chains, then
input (destination, after DNAT, is the node's) or forward, then
postrouting; for the node's own packets output instead of prerouting. Lower
priorities run first (filter at -110 before DNAT at -100). ``drop`` and
``reject`` end the walk, ``accept`` ends one base chain. Rules are read for
the constructs the nftables mode writes: address and set matches, ``fib
saddr type local``, marks, verdict maps, ``numgen`` (every branch is
possible, so every endpoint is reported), ``dnat`` and ``masquerade``.
Affinity sets start empty: every trace is a fresh client.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from svclab.proxy.adapters.testing.nft import REFERENCE, FakeNft, NftModel
from svclab.proxy.adapters.testing.trace import Packet, Trace, in_network

__all__ = ["NftTracer"]

_HOOK = re.compile(r"hook (\w+) priority (-?\d+)")


def _ip_in(ip: str, spec: str) -> bool:
    return any(in_network(ip, net) for net in spec.strip("{} ").split(",") if net.strip())


def _lookup(model: NftModel, name: str, key: str) -> str | None:
    for stored, value in model.elements.get(name, {}).items():
        if stored.split(" comment ", 1)[0] == key:
            return value
    return None


def _rule_matches(model: NftModel, rule: str, pkt: Packet) -> tuple[bool, str]:
    """Evaluate the match part; returns (matched, action text)."""
    checks: tuple[tuple[str, Callable[[str], bool]], ...] = (
        (r"^ip6? daddr @(\S+) ", lambda v: pkt.dst in model.elements.get(v, {})),
        (r"^ip6? daddr (\{[^}]*\}|[0-9a-fA-F:][^\s@]*) ", lambda v: _ip_in(pkt.dst, v)),
        (r"^ip6? saddr != (\{[^}]*\}|\S+) ", lambda v: not _ip_in(pkt.src, v)),
        (r"^ip6? saddr @(\S+) ", lambda v: False),  # no affinity recorded: a fresh client
        (r"^ip6? saddr (\S+) ", lambda v: _ip_in(pkt.src, v)),
        (r"^fib saddr type local ", lambda v: pkt.is_local(pkt.src)),
        (r"^mark and (\S+) == 0 ", lambda v: pkt.mark & int(v, 16) == 0),
    )
    for pattern, test in checks:
        found = re.match(pattern, rule)
        if found:
            if not test(found.group(1) if found.groups() else ""):
                return False, ""
            return _rule_matches(model, rule[found.end() :], pkt)
    return True, re.sub(r' comment "[^"]*"$', "", rule)


@dataclass
class NftTracer:
    """``PacketTracer`` over one ``FakeNft`` table; ``node_ips`` are the node's addresses."""

    nft: FakeNft
    node_ips: Sequence[str] = ()

    def __call__(self, src: str, dst: str, dport: int, *, proto: str = "tcp") -> Trace:
        pkt = Packet(src, dst, proto, dport, self.node_ips)
        if pkt.from_node:  # one hook: its filter chains run before and after DNAT, by priority
            final = self._hooks(("output",), pkt)
        else:
            final = self._hooks(("prerouting",), pkt)
            if final is None:
                final = self._hooks(("input",) if pkt.is_local(pkt.dst) else ("forward",), pkt)
        masquerade = final is None and self._hooks(("postrouting",), pkt) == "masquerade"
        return Trace(pkt.verdict(final), masquerade and bool(pkt.dnat))

    def _base_chains(self, hook: str) -> list[str]:
        found = []
        for name, (decl, _) in self.nft.model.chains.items():
            match = _HOOK.search(decl)
            if match and match.group(1) == hook:
                found.append((int(match.group(2)), name))
        return [name for _, name in sorted(found)]

    def _hooks(self, hooks: Sequence[str], pkt: Packet) -> str | None:
        """Run the hooks' base chains; returns DROP, REJECT or masquerade, or None."""
        for hook in hooks:
            for chain in self._base_chains(hook):
                verdict = self._run(chain, pkt)
                if verdict in ("DROP", "REJECT", "masquerade"):
                    return verdict
        return None

    def _run(self, chain: str, pkt: Packet, depth: int = 0) -> str | None:
        model = self.nft.model
        for rule in model.chains.get(chain, ("", []))[1]:
            ok, action = _rule_matches(model, rule, pkt)
            if not ok:
                continue
            verdict = self._act(action, pkt, depth)
            if verdict is not None:
                return None if verdict == "return" else verdict
        return None

    def _act(self, action: str, pkt: Packet, depth: int) -> str | None:
        if depth > 30:
            raise RuntimeError("jump loop")
        if "vmap @" in action:
            return self._vmap(action, pkt, depth)
        if action.startswith("numgen random"):
            for target in REFERENCE.findall(action):  # every branch is possible
                self._run(target, pkt, depth + 1)
            return "accept" if pkt.dnat else None
        if action.startswith(("jump ", "goto ")):
            result = self._run(action.split()[1], pkt, depth + 1)
            return result if result is not None or action.startswith("jump") else "return"
        if action.startswith("mark set mark or"):
            pkt.mark |= int(action.split()[-1], 16)
        elif action.startswith("mark set mark xor"):
            pkt.mark ^= int(action.split()[-1], 16)
        elif action.startswith("meta l4proto") and " dnat to " in action:
            pkt.translate(action.split()[-1])
            return "accept"
        elif action.startswith("ct state new "):
            return self._act(action.split(" ", 3)[3], pkt, depth)
        elif action in ("reject", "drop", "return", "accept") or action.startswith("masquerade"):
            return {"reject": "REJECT", "drop": "DROP"}.get(action, action.split()[0])
        return None  # e.g. "update @affinity-set { ip saddr }"

    def _vmap(self, action: str, pkt: Packet, depth: int) -> str | None:
        name = action.split("vmap @")[1]
        if re.match(r"ip6? daddr \.", action):
            key = f"{pkt.dst} . {pkt.proto} . {pkt.dport}"
        else:
            key = f"{pkt.proto} . {pkt.dport}"
        value = _lookup(self.nft.model, name, key)
        return None if value is None else self._act(value, pkt, depth + 1)
