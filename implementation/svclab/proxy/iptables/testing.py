"""A fake iptables for tests (upstream ``pkg/util/iptables/testing``) and a packet tracer.

``FakeIptables`` implements the executor protocol: it parses
``iptables-restore`` input with ``--noflush`` semantics (declared chains are
flushed, others kept; ``-X`` deletes), checks what the kernel would check
(unknown chains, jumps to missing chains, deleting a referenced chain) and
applies each restore atomically. ``trace_packet`` interprets the resulting
tables for one packet, like upstream's ``runPacketFlowTests``.
"""

from __future__ import annotations

import copy
import ipaddress
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from svclab.proxy.iptables.proxier import RestoreError

__all__ = ["FakeIptables", "TraceResult", "trace_packet"]

BUILTIN_CHAINS = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
}
TARGETS = {"ACCEPT", "DROP", "REJECT", "RETURN", "MARK", "DNAT", "MASQUERADE", "SNAT"}


def _jump(rule: str) -> str | None:
    parts = rule.split()
    return parts[parts.index("-j") + 1] if "-j" in parts else None


@dataclass
class FakeIptables:
    """In-memory tables: table -> chain -> rules (argument strings)."""

    tables: dict[str, dict[str, list[str]]] = field(default_factory=lambda: {
        t: {c: [] for c in cs} for t, cs in BUILTIN_CHAINS.items()})
    restores: list[str] = field(default_factory=list)
    fail_next_restore: bool = False

    # -- executor protocol -------------------------------------------------
    def restore(self, data: str, *, noflush: bool = True) -> None:
        """Apply restore input atomically, or raise ``RestoreError`` changing nothing."""
        self.restores.append(data)
        if self.fail_next_restore:
            self.fail_next_restore = False
            raise RestoreError("iptables-restore: injected failure", data, 1)
        staged = copy.deepcopy(self.tables)
        table: dict[str, list[str]] | None = None
        deletions: list[str] = []
        for number, line in enumerate(data.splitlines(), 1):
            table = self._apply_line(staged, table, line, number, data, noflush, deletions)
        self.tables = staged

    def _apply_line(self, staged: dict[str, dict[str, list[str]]], table: dict[str, list[str]] | None,
                    line: str, number: int, data: str, noflush: bool,
                    deletions: list[str]) -> dict[str, list[str]] | None:
        def fail(why: str) -> RestoreError:
            return RestoreError(f"iptables-restore: line {number} failed: {why}", data, number)
        if not line.strip() or line.startswith("#"):
            return table
        if line.startswith("*"):
            name = line[1:].strip()
            staged.setdefault(name, {c: [] for c in BUILTIN_CHAINS.get(name, ())})
            if not noflush:
                staged[name] = {c: [] for c in BUILTIN_CHAINS.get(name, ())}
            deletions.clear()
            return staged[name]
        if table is None:
            raise fail("no table selected")
        if line == "COMMIT":
            for chain in deletions:
                users = [c for c, rules in table.items() if any(_jump(r) == chain for r in rules)]
                if users:
                    raise fail(f"chain {chain} still referenced by {users[0]}")
                table.pop(chain, None)
            return None
        verb, _, rest = line.partition(" ")
        chain, _, rule = rest.partition(" ")
        if verb.startswith(":"):
            table[verb[1:]] = []
        elif verb in ("-A", "-I"):
            if chain not in table:
                raise fail(f"chain {chain} does not exist")
            target = _jump(rule)
            if target and target not in TARGETS and target not in table:
                raise fail(f"jump to missing chain {target}")
            table[chain].insert(0 if verb == "-I" else len(table[chain]), rule)
        elif verb == "-X":
            deletions.append(chain)
        elif verb == "-F":
            table[chain] = []
        else:
            raise fail(f"unknown command {verb}")
        return table

    def save(self, table: str) -> str:
        """``iptables-save -t TABLE`` output."""
        chains = self.tables.get(table, {})
        out = [f"*{table}"]
        out += [f":{c} {'ACCEPT' if c in BUILTIN_CHAINS.get(table, ()) else '-'} [0:0]" for c in chains]
        out += [f"-A {c} {r}" for c, rules in chains.items() for r in rules]
        return "\n".join(out + ["COMMIT", ""])

    def ensure_chain(self, table: str, chain: str) -> None:
        self.tables.setdefault(table, {}).setdefault(chain, [])

    def chain_exists(self, table: str, chain: str) -> bool:
        return chain in self.tables.get(table, {})

    def ensure_rule(self, table: str, chain: str, rule: str, *, prepend: bool = True) -> None:
        rules = self.tables[table][chain]
        if rule not in rules:
            rules.insert(0 if prepend else len(rules), rule)

    def delete_rule(self, table: str, chain: str, rule: str) -> None:
        rules = self.tables.get(table, {}).get(chain, [])
        if rule in rules:
            rules.remove(rule)

    def delete_chain(self, table: str, chain: str) -> None:
        self.tables.get(table, {}).pop(chain, None)

    def flush_all(self) -> None:
        """What a firewall reload does: everything gone (tests the canary)."""
        self.tables = {t: {c: [] for c in cs} for t, cs in BUILTIN_CHAINS.items()}

    def count_rules(self, table: str) -> int:
        return sum(len(r) for r in self.tables.get(table, {}).values())


# -- packet tracer -----------------------------------------------------------

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


_WITH_ARG = {"-m", "--comment", "-p", "-d", "-s", "--dport", "--dst-type", "--src-type", "--mark",
             "--ctstate", "--mode", "--probability", "--name", "--seconds", "--nfacct-name"}


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


def _run_chain(tables: dict[str, dict[str, list[str]]], table: str, chain: str, pkt: _Packet,
               dnatted: bool, depth: int = 0) -> str | None:
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


def _apply_target(tables: dict[str, dict[str, list[str]]], table: str, target: str | None,
                  tokens: list[str], pkt: _Packet, dnatted: bool, depth: int) -> str | None:
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


def trace_packet(fake: FakeIptables, src: str, dst: str, dport: int, *, proto: str = "tcp",
                 node_ips: Sequence[str] = ()) -> TraceResult:
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
