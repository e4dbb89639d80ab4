"""The fake of the nft adapter (like knftables' ``Fake``): one table in memory.

``FakeNft`` parses the transactions a backend sends for its table, checks
what the kernel checks (missing chains/sets/maps, references to missing
chains, deleting a non-empty or referenced chain, deleting a missing
element) and applies them atomically, raising ``NftError`` with the failing
line. Rules come as ``add rule CHAIN RULE`` or as the body of ``add chain
CHAIN { RULE ; RULE ; }`` (how a split full sync spells them). ``dump()``
lists the table as ``add ...`` lines in knftables' order (table, sets and
maps, chains, rules, elements). The packet tracer over it
is ``trace_nft.NftTracer``.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

from svclab.proxy.adapters.errors import NftError

__all__ = ["FakeNft", "NftModel", "REFERENCE"]

#: a rule's or element's reference to a chain
REFERENCE = re.compile(r"(?:goto|jump) (\S+)")
_VERBS = r"(add|flush|delete) (table|chain|rule|set|map|element)"


@dataclass
class NftModel:
    """The table: chain -> (declaration, rules), set/map -> (kind, declaration), set/map -> key -> value."""

    exists: bool = False
    declaration: str = ""
    chains: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    sets: dict[str, tuple[str, str]] = field(default_factory=dict)
    elements: dict[str, dict[str, str]] = field(default_factory=dict)  # set -> key(+comment) -> value


@dataclass
class FakeNft:
    """In-memory table ``family table`` (the nftables mode's ``ip kube-proxy``)."""

    table: str
    family: str = "ip"
    model: NftModel = field(default_factory=NftModel)
    transactions: list[str] = field(default_factory=list)
    fail_next: bool = False

    def __post_init__(self) -> None:
        self._line = re.compile(rf"^{_VERBS} {self.family} {re.escape(self.table)}(?: (\S+))?(?: (.*))?$")

    def run(self, transaction: str) -> None:
        self.transactions.append(transaction)
        if self.fail_next:
            self.fail_next = False
            raise NftError("nft: injected failure", transaction, 1)
        staged = copy.deepcopy(self.model)
        for number, line in enumerate(transaction.splitlines(), 1):
            if line.strip():
                try:
                    self._apply(staged, line)
                except ValueError as exc:
                    raise NftError(f"nft: {exc}", transaction, number) from None
        self.model = staged

    def list_objects(self) -> tuple[set[str], set[str]]:
        return set(self.model.chains), set(self.model.sets)

    def delete_table(self) -> None:
        self.model = NftModel()

    def has_rules(self, chain: str) -> bool:
        return self.model.exists and bool(self.model.chains.get(chain, ("", []))[1])

    def dump(self) -> list[str]:
        """The table as ``add ...`` lines (knftables' ``Dump`` order); [] without the table."""
        m = self.model
        if not m.exists:
            return []
        prefix = f"{self.family} {self.table}"
        out = [f"add table {prefix}{m.declaration}"]
        out += [f"add {kind} {prefix} {name}{decl}" for name, (kind, decl) in m.sets.items()]
        out += [f"add chain {prefix} {name}{decl}" for name, (decl, _) in m.chains.items()]
        out += [f"add rule {prefix} {name} {r}" for name, (_, rules) in m.chains.items() for r in rules]
        out += [
            f"add element {prefix} {name} {{ {k}{' : ' + v if v else ''} }}"
            for name, elements in m.elements.items()
            for k, v in elements.items()
        ]
        return out

    def _apply(self, m: NftModel, line: str) -> None:
        match = self._line.match(line)
        if not match:
            raise ValueError(f"cannot parse {line!r}")
        verb, kind, name, rest = match.groups()
        if kind == "table":
            if verb == "add":
                m.exists = True
                m.declaration = m.declaration or line[len(f"add table {self.family} {self.table}") :]
            return
        _apply(m, verb, kind, name, rest)


def _referenced(model: NftModel, chain: str) -> bool:
    in_rules = any(chain in REFERENCE.findall(r) for _, rules in model.chains.values() for r in rules)
    in_elements = any(v == f"goto {chain}" for els in model.elements.values() for v in els.values())
    return in_rules or in_elements


def _statements(block: str) -> list[str]:
    """The ``;``-separated statements of ``{ ... }``, braces inside a statement kept whole."""
    body, out, depth, current = block.strip()[1:-1], [], 0, ""
    for char in body:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == ";" and depth == 0:
            out.append(current.strip())
            current = ""
        else:
            current += char
    return [stmt for stmt in (*out, current.strip()) if stmt]


def _add_chain(m: NftModel, name: str, rest: str | None) -> None:
    """``add chain NAME`` with an optional body: a declaration (type/hook, comment, policy) or rules,
    which are appended as ``add rule`` would (nft accepts both in one body; the modes never mix them)."""
    statements = _statements(rest) if rest else []
    rules = [stmt for stmt in statements if not stmt.startswith(("type ", "comment ", "policy "))]
    if rules and len(rules) != len(statements):
        raise ValueError(f"fake: chain {name} body mixes a declaration and rules")
    m.chains.setdefault(name, ("" if rules or not rest else " " + rest, []))
    for rule in rules:
        _apply(m, "add", "rule", name, rule)


def _apply(m: NftModel, verb: str, kind: str, name: str, rest: str | None) -> None:
    if not m.exists:
        raise ValueError("table does not exist")
    if kind == "chain":
        if verb == "add":
            _add_chain(m, name, rest)
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
        for target in REFERENCE.findall(rest or ""):
            if target not in m.chains:
                raise ValueError(f"jump to missing chain {target}")
        for ref in re.findall(r"@(\S+)", rest or ""):
            if ref not in m.sets:
                raise ValueError(f"no such set {ref}")
        m.chains[name][1].append(rest or "")
    else:
        _apply_element(m, verb, name, rest or "")


def _apply_element(m: NftModel, verb: str, name: str, rest: str) -> None:
    if name not in m.sets:
        raise ValueError(f"no such set/map {name}")
    body = rest.strip()[1:-1].strip()
    key, _, value = body.partition(" : ")
    elements = m.elements[name]
    if verb == "add":
        target = REFERENCE.findall(value)
        if target and target[0] not in m.chains:
            raise ValueError(f"element points to missing chain {target[0]}")
        elements[key] = value
        return
    stored = next((k for k in elements if k.split(" comment ", 1)[0] == key), None)
    if stored is None:
        raise ValueError(f"no such element {key} in {name}")
    del elements[stored]
