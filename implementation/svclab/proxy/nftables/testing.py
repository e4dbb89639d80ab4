"""A fake ``nft`` (like knftables' ``Fake``) and a packet tracer over it.

``FakeNft`` parses the transactions the proxier sends, checks what the kernel
checks (missing chains/sets/maps, references to missing chains, deleting a
non-empty or referenced chain, deleting a missing element) and applies them
atomically. ``dump()`` lists the table as ``add ...`` lines.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from svclab.proxy.nftables.plan import TABLE, NftRuleset
from svclab.proxy.nftables.proxier import NftError

__all__ = ["FakeNft", "NftTrace", "trace_packet"]

_REF = re.compile(r"(?:goto|jump) (\S+)")
_LINE = re.compile(rf"^(add|flush|delete) (table|chain|rule|set|map|element) ip {TABLE}(?: (\S+))?(?: (.*))?$")


@dataclass
class _Model:
    exists: bool = False
    chains: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    sets: dict[str, tuple[str, str]] = field(default_factory=dict)
    elements: dict[str, dict[str, str]] = field(default_factory=dict)  # set -> key(+comment) -> value


@dataclass
class FakeNft:
    """In-memory ``ip kube-proxy`` table."""

    model: _Model = field(default_factory=_Model)
    transactions: list[str] = field(default_factory=list)
    fail_next: bool = False

    def run(self, transaction: str) -> None:
        self.transactions.append(transaction)
        if self.fail_next:
            self.fail_next = False
            raise NftError("nft: injected failure", transaction, 1)
        staged = copy.deepcopy(self.model)
        for number, line in enumerate(transaction.splitlines(), 1):
            if line.strip():
                try:
                    _apply(staged, line)
                except ValueError as exc:
                    raise NftError(f"nft: {exc}", transaction, number) from None
        self.model = staged

    def list_objects(self) -> tuple[set[str], set[str]]:
        return set(self.model.chains), set(self.model.sets)

    def delete_table(self) -> None:
        self.model = _Model()

    def ruleset(self) -> NftRuleset:
        """The table as an ``NftRuleset`` (elements keyed as written)."""
        return NftRuleset(
            {n: (d, tuple(r)) for n, (d, r) in self.model.chains.items()},
            dict(self.model.sets),
            {(m, k): v for m, els in self.model.elements.items() for k, v in els.items()},
        )

    def dump(self) -> list[str]:
        return self.ruleset().dump() if self.model.exists else []


def _referenced(model: _Model, chain: str) -> bool:
    in_rules = any(chain in _REF.findall(r) for _, rules in model.chains.values() for r in rules)
    in_elements = any(v == f"goto {chain}" for els in model.elements.values() for v in els.values())
    return in_rules or in_elements


def _apply(m: _Model, line: str) -> None:
    match = _LINE.match(line)
    if not match:
        raise ValueError(f"cannot parse {line!r}")
    verb, kind, name, rest = match.groups()
    if kind == "table":
        if verb == "add":
            m.exists = True
        return
    if not m.exists:
        raise ValueError("table does not exist")
    if kind == "chain":
        if verb == "add":
            m.chains.setdefault(name, ((" " + rest) if rest else "", []))
        elif name not in m.chains:
            raise ValueError(f"no such chain {name}")
        elif verb == "flush":
            m.chains[name][1].clear()
        elif m.chains[name][1] or _referenced(m, name):
            raise ValueError(f"chain {name} busy")
        else:
            del m.chains[name]
    elif kind in ("set", "map"):
        if verb == "add":
            m.sets.setdefault(name, (kind, " " + (rest or "")))
            m.elements.setdefault(name, {})
        elif name not in m.sets:
            raise ValueError(f"no such {kind} {name}")
        elif verb == "flush":
            m.elements[name].clear()
        else:
            del m.sets[name], m.elements[name]
    elif kind == "rule":
        if name not in m.chains:
            raise ValueError(f"no such chain {name}")
        for target in _REF.findall(rest or ""):
            if target not in m.chains:
                raise ValueError(f"jump to missing chain {target}")
        for ref in re.findall(r"@(\S+)", rest or ""):
            if ref not in m.sets:
                raise ValueError(f"no such set {ref}")
        m.chains[name][1].append(rest or "")
    else:
        _apply_element(m, verb, name, rest or "")


def _apply_element(m: _Model, verb: str, name: str, rest: str) -> None:
    if name not in m.sets:
        raise ValueError(f"no such set/map {name}")
    body = rest.strip()[1:-1].strip()
    key, _, value = body.partition(" : ")
    elements = m.elements[name]
    if verb == "add":
        target = _REF.findall(value)
        if target and target[0] not in m.chains:
            raise ValueError(f"element points to missing chain {target[0]}")
        elements[key] = value
        return
    stored = next((k for k in elements if k.split(" comment ", 1)[0] == key), None)
    if stored is None:
        raise ValueError(f"no such element {key} in {name}")
    del elements[stored]


# -- packet tracer ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NftTrace:
    """``"REJECT"``, ``"DROP"``, ``"ip:port, ..."`` or ``""``; plus masquerade."""

    verdict: str
    masquerade: bool


@dataclass
class _Pkt:
    src: str
    dst: str
    proto: str
    dport: int
    local: Sequence[str]
    mark: int = 0
    dnat: list[str] = field(default_factory=list)


def _lookup(model: _Model, name: str, key: str) -> str | None:
    for stored, value in model.elements.get(name, {}).items():
        if stored.split(" comment ", 1)[0] == key:
            return value
    return None


def _ip_in(ip: str, spec: str) -> bool:
    nets = [s.strip() for s in spec.strip("{} ").split(",")]
    return any(ipaddress.ip_address(ip) in ipaddress.ip_network(n, strict=False) for n in nets)


def _rule_matches(model: _Model, rule: str, pkt: _Pkt) -> tuple[bool, str]:
    """Evaluate the match part; returns (matched, action text)."""
    checks: tuple[tuple[str, Callable[[str], bool]], ...] = (
        (r"^ip daddr @(\S+) ", lambda v: pkt.dst in model.elements.get(v, {})),
        (r"^ip daddr (\{[^}]*\}|\d\S*) ", lambda v: _ip_in(pkt.dst, v)),
        (r"^ip saddr != (\{[^}]*\}|\S+) ", lambda v: not _ip_in(pkt.src, v)),
        (r"^ip saddr @(\S+) ", lambda v: False),  # no affinity recorded: a fresh client
        (r"^ip saddr (\S+) ", lambda v: _ip_in(pkt.src, v)),
        (r"^fib saddr type local ", lambda v: pkt.src in pkt.local or pkt.src.startswith("127.")),
        (r"^mark and (\S+) == 0 ", lambda v: pkt.mark & int(v, 16) == 0),
    )
    for pattern, test in checks:
        found = re.match(pattern, rule)
        if found:
            if not test(found.group(1) if found.groups() else ""):
                return False, ""
            return _rule_matches(model, rule[found.end() :], pkt)
    return True, re.sub(r' comment "[^"]*"$', "", rule)


def _run(model: _Model, chain: str, pkt: _Pkt, depth: int = 0) -> str | None:
    for rule in model.chains.get(chain, ("", []))[1]:
        ok, action = _rule_matches(model, rule, pkt)
        if not ok:
            continue
        verdict = _act(model, action, pkt, depth)
        if verdict is not None:
            return None if verdict == "return" else verdict
    return None


def _act(model: _Model, action: str, pkt: _Pkt, depth: int) -> str | None:
    if depth > 30:
        raise RuntimeError("jump loop")
    if "vmap @" in action:
        return _vmap(model, action, pkt, depth)
    if action.startswith("numgen random"):
        for target in _REF.findall(action):  # every branch is possible
            _run(model, target, pkt, depth + 1)
        return "DNAT" if pkt.dnat else None
    if action.startswith(("jump ", "goto ")):
        result = _run(model, action.split()[1], pkt, depth + 1)
        return result if result is not None or action.startswith("jump") else "return"
    if action.startswith("mark set mark or"):
        pkt.mark |= int(action.split()[-1], 16)
    elif action.startswith("mark set mark xor"):
        pkt.mark ^= int(action.split()[-1], 16)
    elif action.startswith("meta l4proto"):
        pkt.dnat.append(action.split()[-1])
        return "DNAT"
    elif action.startswith(("update @", "ct state new")):
        return _act(model, action.split(" ", 3)[3], pkt, depth) if action.startswith("ct") else None
    elif action in ("reject", "drop", "return") or action.startswith("masquerade"):
        return {"reject": "REJECT", "drop": "DROP"}.get(action, action.split()[0])
    return None


def _vmap(model: _Model, action: str, pkt: _Pkt, depth: int) -> str | None:
    name = action.split("vmap @")[1]
    if action.startswith("ip daddr ."):
        key = f"{pkt.dst} . {pkt.proto} . {pkt.dport}"
    else:
        key = f"{pkt.proto} . {pkt.dport}"
    value = _lookup(model, name, key)
    if value is None:
        return None
    return _act(model, value, pkt, depth + 1)


def trace_packet(
    fake: FakeNft, src: str, dst: str, dport: int, *, proto: str = "tcp", node_ips: Sequence[str] = ()
) -> NftTrace:
    """Trace a new connection: pre-DNAT firewall, nat dispatch, post-DNAT checks."""
    m = fake.model
    pkt = _Pkt(src, dst, proto, dport, node_ips)
    verdict = _run(m, "filter-prerouting-pre-dnat", pkt)
    if verdict not in ("DROP", "REJECT"):
        _run(m, "nat-prerouting", pkt)
        if not pkt.dnat:
            for chain in ("filter-input", "filter-forward"):
                verdict = _run(m, chain, pkt)
                if verdict in ("DROP", "REJECT"):
                    break
    result = ", ".join(sorted(set(pkt.dnat))) if pkt.dnat else (verdict if verdict in ("DROP", "REJECT") else "")
    masq = _run(m, "nat-postrouting", pkt) == "masquerade"
    return NftTrace(result, masq)
