"""``ipset save`` read back, and the ``-m set --match-set NAME FLAGS`` match over it (for the ipvs mode).

The ipvs mode matches Service addresses with ipsets (``KUBE-CLUSTER-IP``:
``hash:ip,port``, ``KUBE-LOOP-BACK``: ``hash:ip,port,ip``, ...). An entry
spells each dimension the way the set type names it: ``ip`` and ``net`` an
address (a net contains it), ``port`` ``proto:port`` (a bare number for a
``bitmap:port``). Side-effect-free.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

__all__ = ["Ipsets", "parse_ipset_save"]


@dataclass(frozen=True, slots=True)
class Ipsets:
    """Sets by name: their type (``hash:ip,port``) and entries."""

    types: dict[str, str] = field(default_factory=dict)
    entries: dict[str, frozenset[str]] = field(default_factory=dict)

    def matches(self, name: str, flags: str, *, src: str, dst: str, proto: str, sport: int, dport: int) -> bool:
        """Whether a packet matches ``--match-set NAME FLAGS`` (FLAGS e.g. ``dst,dst,src``)."""
        set_type = self.types.get(name, "")
        if not set_type:
            return False
        method, _, kinds = set_type.partition(":")
        wanted: list[str] = []
        for kind, side in zip(kinds.split(","), flags.split(",")):
            if kind == "port":
                port = dport if side == "dst" else sport
                wanted.append(str(port) if method == "bitmap" else f"{proto}:{port}")
            else:
                wanted.append(dst if side == "dst" else src)
        return any(_entry_matches(entry, wanted, kinds.split(",")) for entry in self.entries.get(name, ()))


def _entry_matches(entry: str, wanted: list[str], kinds: list[str]) -> bool:
    parts = entry.split(",")
    if len(parts) != len(wanted):
        return False
    for kind, have, want in zip(kinds, parts, wanted):
        if kind == "net":
            if ipaddress.ip_address(want) not in ipaddress.ip_network(have, strict=False):
                return False
        elif have != want:
            return False
    return True


def parse_ipset_save(text: str) -> Ipsets:
    """``ipset save`` output (``create NAME TYPE ...`` / ``add NAME ENTRY``) as ``Ipsets``."""
    types: dict[str, str] = {}
    entries: dict[str, set[str]] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] == "create":
            types[words[1]] = words[2]
            entries.setdefault(words[1], set())
        elif len(words) >= 3 and words[0] == "add":
            entries.setdefault(words[1], set()).add(words[2])
    return Ipsets(types, {name: frozenset(values) for name, values in entries.items()})
