"""``iptables-save`` read back and walked rule by rule, every random branch followed (iptables mode).

``parse_iptables_save`` turns the dump (with or without counters, any
table) into table -> chain -> rules. ``NetfilterWalk`` runs a ``Probe``
through the hooks in the kernel's order, as the packet tracer over
``FakeIptables`` does (``svclab.proxy.adapters.testing.trace_iptables``,
which the tests use as the oracle): nat ``PREROUTING`` (``OUTPUT`` for the
node's own packets), then filter ``INPUT`` when the (translated)
destination is the node's own, else ``FORWARD`` (filter ``OUTPUT`` for the
node's packets), and, per endpoint, nat ``POSTROUTING`` to learn whether it
is masqueraded.

Unlike the tracer it records every rule that matched (a ``Hop``), and
carries a probability mass: a ``statistic --mode random --probability p``
rule sends ``p`` of what reaches it into its branch and lets the rest fall
through, so endpoint i of n gets ``1/n``, as upstream means it to. A
``recent --rcheck`` (ClientIP affinity) never matches a new client: the hop
is shown as such and the walk goes on to the random branches. Matches the
walk cannot judge (interfaces, ``physdev``) are taken as holding, except
``--physdev-is-in`` (the probe is routed, not bridged). Side-effect-free.
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from svclab.proxy.explain.ipsets import Ipsets
from svclab.proxy.explain.model import Hop, Probe

__all__ = ["End", "NetfilterWalk", "PacketState", "Tables", "parse_iptables_save"]

Tables = dict[str, dict[str, list[str]]]

#: match and target options followed by one argument (``--match-set`` takes two)
_WITH_ARG = {
    "-m",
    "--comment",
    "-p",
    "-d",
    "-s",
    "--dport",
    "--sport",
    "--dst-type",
    "--src-type",
    "--mark",
    "--ctstate",
    "--state",
    "--mode",
    "--probability",
    "--name",
    "--seconds",
    "--nfacct-name",
    "--vaddr",
    "--vproto",
    "--vport",
    "--vdir",
    "--mask",
    "-i",
    "-o",
    "--hitcount",
    "--reject-with",
    "--to-destination",
    "--to-ports",
    "--set-xmark",
    "--or-mark",
    "--xor-mark",
    "--set-mark",
    "--and-mark",
    "--limit",
    "--limit-burst",
    "-j",
    "-g",
    "--to-source",
}
_MASQ_BIT = 0x4000  # KUBE-MARK-MASQ's bit (upstream's default --iptables-masquerade-bit 14)
_AFFINITY = "affinity"  # what a match answers when only a returning client would pass it


def parse_iptables_save(text: str) -> Tables:
    """``iptables-save`` output as table -> chain -> rules (the text after ``-A CHAIN``), in order."""
    tables: Tables = {}
    table: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.split("] ", 1)[1] if raw.startswith("[") else raw  # iptables-save -c counters
        if line.startswith("*"):
            table = tables.setdefault(line[1:].strip(), {})
        elif line.startswith(":"):
            table.setdefault(line[1:].split()[0], [])
        elif line.startswith("-A "):
            _, chain, rule = (line.split(" ", 2) + [""])[:3]
            table.setdefault(chain, []).append(rule)
    return tables


@dataclass(frozen=True, slots=True)
class PacketState:
    """The packet as a rule sees it: addresses after any DNAT, its mark, what translated it."""

    src: str
    dst: str
    dport: int
    proto: str
    mark: int = 0
    translated: bool = False
    redirect_port: int | None = None
    by_ipvs: bool = False


@dataclass(frozen=True, slots=True)
class End:
    """Where one share (``mass``) of new connections stops: its verdict, the state, the chains it entered."""

    verdict: str  # DNAT, REDIRECT, REJECT, DROP, ACCEPT, MASQUERADE or "" (fell through every rule)
    state: PacketState
    mass: float
    chains: tuple[str, ...] = ()


@dataclass
class NetfilterWalk:
    """Walks a ``Probe`` through ``tables`` (see the module docstring); ``hops`` collects what matched."""

    tables: Tables
    probe: Probe
    ipsets: Ipsets = field(default_factory=Ipsets)
    hops: list[Hop] = field(default_factory=list)
    recording: bool = True

    def start(self) -> PacketState:
        p = self.probe
        return PacketState(p.src, p.dst, p.dport, p.proto)

    def before_routing(self) -> list[End]:
        """The nat hook then the filter hook; every share's end (``""``/ACCEPT: goes on its way)."""
        probe = self.probe
        nat_ends = self.hook("nat", probe.hook, self.start(), 1.0)
        ends: list[End] = []
        for index, end in enumerate(nat_ends):
            if end.verdict in ("DROP", "REJECT"):
                ends.append(end)
                continue
            filter_chain = "OUTPUT" if probe.from_node else ("INPUT" if self._local(end.state.dst) else "FORWARD")
            self.recording = index == 0  # the filter hops are the same for every endpoint: show them once
            for after in self.hook("filter", filter_chain, end.state, end.mass):
                verdict = after.verdict if after.verdict in ("DROP", "REJECT") else end.verdict
                ends.append(End(verdict, after.state, after.mass, end.chains))
        self.recording = True
        return ends

    def masqueraded(self, state: PacketState, *, record: bool) -> bool:
        """Whether nat POSTROUTING masquerades a packet in ``state`` (hops recorded only with ``record``)."""
        self.recording = record
        try:
            return any(end.verdict == "MASQUERADE" for end in self.hook("nat", "POSTROUTING", state, 1.0))
        finally:
            self.recording = True

    def hook(self, table: str, chain: str, state: PacketState, mass: float) -> list[End]:
        """Run a built-in chain; a share that falls through ends with verdict ``""``."""
        ends, rest = self._chain(table, chain, state, mass, 0, ())
        if rest is not None:
            ends.append(End("", rest[0], rest[1], ()))
        return ends

    def _local(self, ip: str) -> bool:
        return self.probe.is_local(ip)

    def _record(self, table: str, chain: str, rule: str, verdict: str, depth: int) -> None:
        if self.recording:
            self.hops.append(Hop(table, chain, rule, verdict, depth))

    def _chain(
        self, table: str, chain: str, state: PacketState, mass: float, depth: int, path: tuple[str, ...]
    ) -> tuple[list[End], _Rest]:
        """Ends of the shares that stop in ``chain`` (and below), and the share that falls through."""
        if depth > 40:
            raise ValueError(f"iptables: jump loop at {table}/{chain}")
        ends: list[End] = []
        for rule in self.tables.get(table, {}).get(chain, []):
            tokens = shlex.split(rule)
            matched = self._matches(tokens, state)
            if matched is False:
                continue
            if matched == _AFFINITY:
                self._record(table, chain, rule, "no match for a new client (session affinity)", depth)
                continue
            taken = _probability(tokens)
            step = _Step((table, chain, rule, depth), tokens, state, mass * taken, path)
            if taken < 1.0:
                step.branch = f" (random: {taken:.4f} of what is left, {mass * taken:.4f} of all)"
            found, rest, stop = self._target(step)
            ends += found
            if taken < 1.0:
                mass -= mass * taken  # the branch's share is spent whatever happened in it
                continue
            if rest is None or stop:
                return ends, rest
            state, mass = rest
        return ends, (state, mass)

    def _target(self, step: _Step) -> tuple[list[End], _Rest, bool]:
        """Apply a matched rule's target: its ends, what goes on, and whether the chain stops here."""
        table, chain, rule, depth = step.where
        target, goto = _option(step.tokens, "-j"), _option(step.tokens, "-g")
        if target is None and goto is None:
            self._record(table, chain, rule, "continue", depth)
            return [], (step.state, step.mass), False
        if goto is not None or (target not in _BUILTIN_ACTIONS):
            name = goto or target or ""
            self._record(table, chain, rule, f"{'goto' if goto else 'jump'} {name}{step.branch}", depth)
            ends, rest = self._chain(table, name, step.state, step.mass, depth + 1, (*step.path, name))
            return ends, rest, goto is not None  # a goto's fall-through returns to our caller
        return _BUILTIN_ACTIONS[target](self, step)

    def _matches(self, tokens: list[str], state: PacketState) -> bool | str:
        """True when every match holds, False when one fails, ``_AFFINITY`` when only a returning client passes."""
        i, negate = 0, False
        verdict: bool | str = True
        while i < len(tokens) and tokens[i] not in ("-j", "-g"):
            tok = tokens[i]
            if tok == "!":
                negate, i = True, i + 1
                continue
            if tok == "--match-set":
                ok: bool | None = self.ipsets.matches(
                    tokens[i + 1],
                    tokens[i + 2],
                    src=state.src,
                    dst=state.dst,
                    proto=state.proto,
                    sport=40000,
                    dport=state.dport,
                )
                i += 3
            else:
                arg = tokens[i + 1] if tok in _WITH_ARG and i + 1 < len(tokens) else ""
                ok = _check(tok, arg, state, self.probe)
                i += 2 if tok in _WITH_ARG else 1
            if tok in ("--rcheck", "--update") and not negate:
                verdict = _AFFINITY
            elif ok is not None and ok == negate:
                return False
            negate = False
        return verdict


_Rest = tuple[PacketState, float] | None


@dataclass
class _Step:
    """A matched rule about to act on ``mass`` of the new connections."""

    where: tuple[str, str, str, int]  # table, chain, rule, depth
    tokens: list[str]
    state: PacketState
    mass: float
    path: tuple[str, ...]
    branch: str = ""


def _check(tok: str, arg: str, state: PacketState, probe: Probe) -> bool | None:
    """Whether one match option holds; None for options that do not filter here."""
    if tok in ("-p", "--vproto"):
        return arg == state.proto
    if tok in ("-d", "-s", "--vaddr"):
        ip = state.src if tok == "-s" else state.dst
        return ipaddress.ip_address(ip) in ipaddress.ip_network(arg, strict=False)
    if tok in ("--dport", "--vport"):
        low, _, high = arg.partition(":")
        return int(low) <= state.dport <= int(high or low)
    if tok in ("--dst-type", "--src-type"):
        ip = state.dst if tok == "--dst-type" else state.src
        return probe.is_local(ip) == (arg == "LOCAL")
    if tok == "--mark":
        value, _, mask = arg.partition("/")
        return state.mark & int(mask or "0xffffffff", 16) == int(value, 16)
    if tok in ("--ctstate", "--state"):
        states = {"NEW", "DNAT"} if state.translated else {"NEW"}
        return bool(states & set(arg.split(",")))
    if tok == "--ipvs":
        return state.by_ipvs
    if tok == "--physdev-is-in":
        return False  # the probe was routed to the node, not bridged
    return None


def _probability(tokens: list[str]) -> float:
    return float(_option(tokens, "--probability") or 1.0) if "random" in tokens else 1.0


def _option(tokens: list[str], name: str) -> str | None:
    return tokens[tokens.index(name) + 1] if name in tokens and tokens.index(name) + 1 < len(tokens) else None


_Action = Callable[[NetfilterWalk, _Step], tuple[list[End], _Rest, bool]]


def _mark(walk: NetfilterWalk, step: _Step) -> tuple[list[End], _Rest, bool]:
    tokens, state = step.tokens, step.state
    mark = state.mark
    if (value := _option(tokens, "--set-xmark")) is not None:
        bits, _, mask = value.partition("/")
        mark = (mark & ~int(mask or "0xffffffff", 16)) ^ int(bits, 16)
    elif (value := _option(tokens, "--or-mark")) is not None:
        mark |= int(value, 16)
    elif (value := _option(tokens, "--xor-mark")) is not None:
        mark ^= int(value, 16)
    elif (value := _option(tokens, "--set-mark")) is not None:
        bits, _, mask = value.partition("/")
        mark = (mark & ~int(mask or "0xffffffff", 16)) | int(bits, 16)
    why = " (marked for masquerade)" if mark & _MASQ_BIT and not state.mark & _MASQ_BIT else ""
    walk._record(*step.where[:3], f"MARK {mark:#x}{why}", step.where[3])
    return [], (replace(state, mark=mark), step.mass), False


def _translate(walk: NetfilterWalk, step: _Step) -> tuple[list[End], _Rest, bool]:
    tokens, state = step.tokens, step.state
    affinity = " and remember the client (session affinity)" if "--set" in tokens and "recent" in tokens else ""
    if _option(tokens, "-j") == "REDIRECT":
        port = int(_option(tokens, "--to-ports") or state.dport)
        walk._record(*step.where[:3], f"REDIRECT to local port {port}{affinity}{step.branch}", step.where[3])
        moved = replace(state, dst="127.0.0.1", dport=port, translated=True, redirect_port=port)
        return [End("REDIRECT", moved, step.mass, step.path)], None, True
    destination = _option(tokens, "--to-destination") or ""
    host, _, port_text = destination.rpartition(":")
    host = host.strip("[]")
    walk._record(*step.where[:3], f"DNAT to {destination}{affinity}{step.branch}", step.where[3])
    if walk.probe.is_local(host):  # the userspace mode's portal for the node's own traffic
        moved = replace(state, dst=host, dport=int(port_text), translated=True, redirect_port=int(port_text))
        return [End("REDIRECT", moved, step.mass, step.path)], None, True
    moved = replace(state, dst=host, dport=int(port_text), translated=True)
    return [End("DNAT", moved, step.mass, step.path)], None, True


def _final(walk: NetfilterWalk, step: _Step) -> tuple[list[End], _Rest, bool]:
    target = _option(step.tokens, "-j") or ""
    walk._record(*step.where[:3], target, step.where[3])
    if target == "RETURN":
        return [], (step.state, step.mass), True
    return [End(target, step.state, step.mass, step.path)], None, True


_BUILTIN_ACTIONS: dict[str, _Action] = {
    "MARK": _mark,
    "DNAT": _translate,
    "REDIRECT": _translate,
    **dict.fromkeys(("ACCEPT", "DROP", "REJECT", "MASQUERADE", "SNAT", "RETURN"), _final),
}
