"""``nft list table`` output read back: base chains with their hook and priority, rules, set and map elements.

The listing is nft's own pretty-printed format (what ``nft list table ip
kube-proxy`` prints on a node), not the ``add ...`` lines a transaction
holds: chains open with ``chain NAME {``, a base chain's first line is
``type nat hook prerouting priority dstnat; policy accept;`` (priorities
may be named: ``dstnat - 10`` is -110), and a set's or map's ``elements =
{ ... }`` may span lines. A dynamic set (session affinity) lists the
clients it holds with ``expires``; they are kept as plain keys. The
transaction format (``add chain ip kube-proxy NAME { type ... }``, ``add
rule ...``, ``add element ...``: what the proxy sends, upstream's golden
text, the fake's ``dump()``) is read as well. Side-effect-free.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["NftChain", "NftTable", "parse_nft_listing"]

#: nft's named priorities (``nft(8)``, "PRIORITY"), for the ip family
_PRIORITIES = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}
_BASE = re.compile(r"^type \w+ hook (\w+) priority ([^;]+);")
_BLOCK = re.compile(r"^(chain|set|map) (\S+) \{$")
_ADD = re.compile(r"^add (chain|rule|element|set|map) \S+ \S+ (\S+)(?: (.*))?$")


@dataclass
class NftChain:
    """One chain: ``hook`` and ``priority`` when it is a base chain, and its rules in order."""

    hook: str | None = None
    priority: int = 0
    rules: list[str] = field(default_factory=list)


@dataclass
class NftTable:
    """The table: chains by name, and each set's or map's elements as key -> value ("" for a set)."""

    chains: dict[str, NftChain] = field(default_factory=dict)
    elements: dict[str, dict[str, str]] = field(default_factory=dict)
    timeouts: dict[str, str] = field(default_factory=dict)  # a set's element timeout as nft writes it ("3h")

    def base_chains(self, hook: str) -> list[str]:
        """The base chains on ``hook``, in the order the kernel runs them (lowest priority first)."""
        found = [(c.priority, name) for name, c in self.chains.items() if c.hook == hook]
        return [name for _, name in sorted(found)]


def _priority(text: str) -> int:
    words = text.split()
    value = _PRIORITIES[words[0]] if words[0] in _PRIORITIES else int(words[0])
    if len(words) == 3:
        value += int(words[2]) if words[1] == "+" else -int(words[2])
    return value


def _split_elements(body: str) -> dict[str, str]:
    """``a : goto x, b comment "c" : goto y`` as {key: value}; commas inside quotes do not split."""
    parts = re.findall(r'(?:[^,"]|"[^"]*")+', body)
    elements: dict[str, str] = {}
    for part in (p.strip() for p in parts):
        if not part:
            continue
        key, _, value = part.partition(" : ")
        key = re.sub(r' comment "[^"]*"', "", key)
        key = key.split(" expires ")[0].split(" timeout ")[0].strip()
        elements[key] = value.strip()
    return elements


def _add_line(table: NftTable, kind: str, name: str, rest: str) -> None:
    """One line of the transaction format."""
    if kind == "chain":
        chain = table.chains.setdefault(name, NftChain())
        base = _BASE.match(rest.strip("{} ").replace(" ;", ";"))
        if base:
            chain.hook, chain.priority = base.group(1), _priority(base.group(2))
    elif kind == "rule":
        table.chains.setdefault(name, NftChain()).rules.append(rest)
    elif kind == "element":
        table.elements.setdefault(name, {}).update(_split_elements(rest.strip()[1:-1]))
    else:
        table.elements.setdefault(name, {})
        if timeout := re.search(r"\btimeout (\w+)", rest):
            table.timeouts[name] = timeout.group(1)


def parse_nft_listing(text: str) -> NftTable:
    """The table ``nft list table`` printed, or a transaction's ``add`` lines (see the module docstring)."""
    table = NftTable()
    kind, name, collecting = "", "", None
    for raw in text.splitlines():
        line = raw.strip()
        if collecting is not None:
            collecting += " " + line
            if "}" in line:
                table.elements[name] = _split_elements(collecting.split("{", 1)[1].rsplit("}", 1)[0])
                collecting = None
            continue
        added = _ADD.match(line)
        if added:
            _add_line(table, added.group(1), added.group(2), added.group(3) or "")
            continue
        block = _BLOCK.match(line)
        if block:
            kind, name = block.groups()
            if kind == "chain":
                table.chains[name] = NftChain()
            else:
                table.elements.setdefault(name, {})
        elif line == "}":
            kind = ""
        elif kind in ("set", "map") and line.startswith("elements = {"):
            collecting = line
            if "}" in line:
                table.elements[name] = _split_elements(line.split("{", 1)[1].rsplit("}", 1)[0])
                collecting = None
        elif kind == "set" and line.startswith("timeout "):
            table.timeouts[name] = line.split()[1]
        elif kind == "chain" and (base := _BASE.match(line)):
            table.chains[name].hook, table.chains[name].priority = base.group(1), _priority(base.group(2))
        elif kind == "chain" and line and not line.startswith(("comment ", "policy ")):
            table.chains[name].rules.append(line)
    return table
