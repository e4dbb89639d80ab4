"""The nftables mode explained: an ``nft list table ip kube-proxy`` listing walked for one probe
(``ip6 kube-proxy`` for an IPv6 probe: the same rules with ``ip6`` matches).

Base chains run per hook in priority order, as the packet tracer over
``FakeNft`` walks them (``svclab.proxy.adapters.testing.trace_nft``):
prerouting (output for the node's own packets), then input or forward by
the translated destination, then postrouting per endpoint (masquerade). A
verdict map is looked up with the packet's key and the hop names the
element it hit; ``numgen random mod N vmap { ... }`` gives each of its N
branches 1/N of what reaches it; ``ip saddr @affinity-...`` holds the
clients session affinity keeps on an endpoint: one the listing shows in the
set (live, not yet expired) goes straight to its endpoint, any other
client passes it by.
``drop`` and ``reject`` end the way, ``accept`` and a nat statement end one
base chain. The rules read are the ones kube-proxy's nftables mode writes
(ours and upstream's). Side-effect-free.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from svclab.proxy.explain.model import Choice, Explanation, Hop, Outcome, Probe, host_port
from svclab.proxy.explain.netfilter import PacketState
from svclab.proxy.explain.nft_listing import NftChain, NftTable, parse_nft_listing

__all__ = ["explain_nftables"]

_MASQ_BIT = 0x4000
_FINAL = {"drop": "DROP", "reject": "REJECT"}
_PINNED = " (this client is in the set: session affinity keeps it on this endpoint)"


def _ip_in(ip: str, spec: str) -> bool:
    nets = [n.strip() for n in spec.strip("{} ").split(",") if n.strip()]
    return any(ipaddress.ip_address(ip) in ipaddress.ip_network(n, strict=False) for n in nets)


def _table_family(probe: Probe) -> str:
    """``ip`` or ``ip6``: the table that holds rules for the probe's destination family."""
    return "ip6" if ":" in probe.dst else "ip"


def _in_set(table: NftTable, name: str, ip: str) -> bool | str:
    """``ip saddr @NAME``: an affinity set a client is not (yet) in answers "affinity" (shown as such)."""
    if ip in table.elements.get(name, {}):
        return True
    return "affinity" if name.startswith("affinity-") else False


def _match(table: NftTable, rule: str, state: PacketState, probe: Probe) -> tuple[bool | str, str]:
    """Evaluate the rule's leading matches: (True/False/"affinity", the rest of the rule)."""
    checks: tuple[tuple[str, Callable[[str], bool | str]], ...] = (
        (r"^ip6? daddr @(\S+) ", lambda v: state.dst in table.elements.get(v, {})),
        (r"^ip6? daddr != (\{[^}]*\}|\S+) ", lambda v: not _ip_in(state.dst, v)),
        (r"^ip6? daddr (\{[^}]*\}|[0-9a-fA-F:]\S*) ", lambda v: _ip_in(state.dst, v)),
        (
            r"^ip6? saddr @(\S+) ",
            lambda v: _in_set(table, v, state.src),
        ),
        (r"^ip6? saddr != (\{[^}]*\}|\S+) ", lambda v: not _ip_in(state.src, v)),
        (r"^ip6? saddr (\{[^}]*\}|[0-9a-fA-F:]\S*) ", lambda v: _ip_in(state.src, v)),
        (r"^fib saddr type local ", lambda v: probe.is_local(state.src)),
        (r"^fib daddr type local ", lambda v: probe.is_local(state.dst)),
        (r"^(?:meta )?mark (?:&|and) (\S+) == (\S+) ", lambda v: True),  # judged below: two groups
        (r"^ct state new ", lambda v: True),
        (r"^meta l4proto (\w+) (?=dnat)", lambda v: v == state.proto),
        (r"^counter(?: packets \d+ bytes \d+)? ", lambda v: True),
    )
    result: bool | str = True
    while True:
        for pattern, test in checks:
            found = re.match(pattern, rule)
            if found is None:
                continue
            if found.lastindex == 2:
                ok: bool | str = state.mark & int(found.group(1), 16) == int(found.group(2), 16)
            else:
                ok = test(found.group(1) if found.lastindex else "")
            if ok is False:
                return False, ""
            result = "affinity" if ok == "affinity" else result
            rule = rule[found.end() :]
            break
        else:
            return result, re.sub(r' comment "[^"]*"$', "", rule).strip()


_Flow = tuple[PacketState, float] | None  # what goes on past a chain (None: nothing)


@dataclass
class _Walk:
    table: NftTable
    probe: Probe
    hops: list[Hop] = field(default_factory=list)
    recording: bool = True
    ends: list[tuple[str, PacketState, float, tuple[str, ...]]] = field(default_factory=list)

    def record(self, chain: str, rule: str, verdict: str, depth: int) -> None:
        if self.recording:
            self.hops.append(Hop(f"{_table_family(self.probe)} kube-proxy", chain, rule, verdict, depth))

    def chain(self, name: str, state: PacketState, mass: float, depth: int, path: tuple[str, ...]) -> _Flow:
        """Run one chain; returns what falls through (None: every share ended here or below)."""
        if depth > 40:
            raise ValueError(f"nft: jump loop at {name}")
        for rule in self.table.chains.get(name, NftChain()).rules:
            matched, action = _match(self.table, rule, state, self.probe)
            if matched is False:
                continue
            if matched == "affinity":
                self.record(name, rule, "no match for a new client (session affinity)", depth)
                continue
            stop, flow = self.act(_At(name, rule, depth, path), action, state, mass)
            if stop:
                return flow
            assert flow is not None
            state, mass = flow
        return (state, mass)

    def act(self, at: _At, action: str, state: PacketState, mass: float) -> tuple[bool, _Flow]:
        """Apply a matched rule's statement: (whether the chain stops, what goes on)."""
        if "vmap" in action:
            return self.vmap(at, action, state, mass)
        verb, _, rest = action.partition(" ")
        if verb in ("jump", "goto"):
            pinned = re.match(r"ip6? saddr @affinity-", at.rule) is not None
            self.record(at.chain, at.rule, action + (_PINNED if pinned else ""), at.depth)
            return self.follow(verb, rest.split()[0], at, state, mass)
        if verb == "dnat":
            target = action.split(" to ", 1)[1].split()[0]
            self.record(at.chain, at.rule, f"DNAT to {target}", at.depth)
            host, _, port = target.rpartition(":")
            moved = replace(state, dst=host.strip("[]"), dport=int(port), translated=True)  # [ip6]:port
            self.ends.append(("DNAT", moved, mass, at.path))
            return True, None
        if verb in ("accept", "drop", "reject", "masquerade"):
            self.record(at.chain, at.rule, verb, at.depth)
            self.ends.append((_FINAL.get(verb, verb), state, mass, at.path))
            return True, None
        if verb == "return":
            self.record(at.chain, at.rule, verb, at.depth)
            return True, (state, mass)
        if verb == "update":
            self.record(at.chain, at.rule, "remember the client (session affinity)", at.depth)
        elif action.startswith(("meta mark set", "mark set")):
            mark = _new_mark(action, state.mark)
            why = " (marked for masquerade)" if mark & _MASQ_BIT and not state.mark & _MASQ_BIT else ""
            self.record(at.chain, at.rule, f"MARK {mark:#x}{why}", at.depth)
            state = replace(state, mark=mark)
        return False, (state, mass)

    def follow(self, verb: str, target: str, at: _At, state: PacketState, mass: float) -> tuple[bool, _Flow]:
        """Enter ``target``; after a jump the caller's next rule runs, after a goto its caller's."""
        flow = self.chain(target, state, mass, at.depth + 1, (*at.path, target))
        return (verb == "goto" or flow is None), flow

    def vmap(self, at: _At, action: str, state: PacketState, mass: float) -> tuple[bool, _Flow]:
        numgen = re.match(r"numgen random mod (\d+) vmap \{(.*)\}", action)
        if numgen:
            modulus = int(numgen.group(1))
            self.record(at.chain, at.rule, f"numgen random mod {modulus}: each branch 1/{modulus}", at.depth)
            for element in numgen.group(2).split(","):
                verdict = element.strip().partition(" : ")[2]
                self.record(at.chain, element.strip(), f"{verdict} (random: {mass / modulus:.4f} of all)", at.depth + 1)
                branch = _At(at.chain, element.strip(), at.depth + 1, at.path)
                self.follow("goto", verdict.split()[1], branch, state, mass / modulus)
            return True, None
        name = action.split("vmap @", 1)[1].split()[0]
        if re.match(r"ip6? daddr \.", action):
            key = f"{state.dst} . {state.proto} . {state.dport}"
        else:
            key = f"{state.proto} . {state.dport}"
        value = self.table.elements.get(name, {}).get(key)
        if value is None:
            return False, (state, mass)  # no element for this packet: the rule does not apply
        self.record(at.chain, at.rule, f"@{name} [{key}] : {value}", at.depth)
        verb, _, target = value.partition(" ")
        if verb in ("goto", "jump"):
            return self.follow(verb, target, at, state, mass)
        return self.act(at, value, state, mass)


@dataclass(frozen=True, slots=True)
class _At:
    """Where a statement sits: its chain, rule text, depth, and the chains entered to get there."""

    chain: str
    rule: str
    depth: int
    path: tuple[str, ...]


def _new_mark(action: str, mark: int) -> int:
    value = int(action.split()[-1], 16)
    return mark ^ value if (" ^ " in action or " xor " in action) else mark | value


@dataclass(frozen=True, slots=True)
class _Live:
    """A share of new connections between base chains: its state, whether it was translated, how it ended."""

    state: PacketState
    mass: float
    path: tuple[str, ...] = ()
    dnat: bool = False
    final: str = ""  # DROP, REJECT or masquerade once one happened


def _run_hook(walk: _Walk, hook: str, lives: list[_Live], *, record: bool = True) -> list[_Live]:
    """Every base chain of ``hook`` in priority order, for every live share (hops of the first one only)."""
    for base in walk.table.base_chains(hook):
        out: list[_Live] = []
        for index, live in enumerate(lives):
            if live.final:
                out.append(live)
                continue
            walk.recording, walk.ends = record and index == 0, []
            flow = walk.chain(base, live.state, live.mass, 0, live.path or (base,))
            if flow is not None:
                out.append(replace(live, state=flow[0], mass=flow[1]))
            for verdict, state, mass, path in walk.ends:
                translated = verdict == "DNAT"
                final = verdict if verdict in ("DROP", "REJECT", "masquerade") else ""
                out.append(_Live(state, mass, path if translated else live.path, live.dnat or translated, final))
        lives = out
    walk.recording = True
    return lives


def _before_routing(walk: _Walk, probe: Probe) -> list[_Live]:
    start = _Live(PacketState(probe.src, probe.dst, probe.dport, probe.proto), 1.0)
    if probe.from_node:
        return _run_hook(walk, "output", [start])
    lives = _run_hook(walk, "prerouting", [start])
    local = [live for live in lives if not live.final and probe.is_local(live.state.dst)]
    routed = [live for live in lives if not live.final and not probe.is_local(live.state.dst)]
    done = [live for live in lives if live.final]
    return done + _run_hook(walk, "input", local) + _run_hook(walk, "forward", routed, record=not local)


def explain_nftables(listing: str, probe: Probe, *, service: str, node: str) -> Explanation:
    """Explain ``probe`` on a node whose ``nft list table ip kube-proxy`` output is ``listing``. Side-effect-free."""
    walk = _Walk(parse_nft_listing(listing), probe)
    lives = _before_routing(walk, probe)
    choices: list[Choice] = []
    for live in (x for x in lives if x.dnat and not x.final):
        after = _run_hook(walk, "postrouting", [replace(live, path=())], record=not choices)
        masquerade = any(x.final == "masquerade" for x in after)
        how = " > ".join(live.path)
        choices.append(Choice(host_port(live.state.dst, live.state.dport), round(live.mass, 6), how, masquerade))
    finals = {live.final for live in lives}
    outcome = (
        Outcome.DNAT
        if choices
        else Outcome.REJECT
        if "REJECT" in finals
        else Outcome.DROP
        if "DROP" in finals
        else Outcome.UNTOUCHED
    )
    sets = [
        word[1:]
        for hop in walk.hops
        if "@affinity-" in hop.rule
        for word in hop.rule.split()
        if word.startswith("@affinity-")
    ]
    timeout = next((walk.table.timeouts[name] for name in sets if name in walk.table.timeouts), "")
    affinity = ""
    if sets:
        kept = f", timeout {timeout}" if timeout else ""
        affinity = (
            f"ClientIP: a returning client is in its endpoint's affinity-* set (ip saddr @...{kept}) before numgen"
        )
    return Explanation(
        mode="nftables",
        service=service,
        node=node,
        probe=probe,
        outcome=outcome,
        hops=tuple(walk.hops),
        choices=tuple(choices),
        affinity=affinity,
        notes=(f"{probe.src} is a returning client: its affinity set sends it to its endpoint",)
        if any(hop.verdict.endswith(_PINNED) for hop in walk.hops)
        else (),
    )
