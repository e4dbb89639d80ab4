"""The fake of the ipset adapter: sets, their types and entries in memory.

``FakeIpset.restore`` applies a script atomically with the kernel's checks
(a line naming a set that was never created fails, changing nothing) and
records it. ``FakeIptables`` is given the same ``FakeIpset`` to refuse rules
matching a missing set, and ``matches`` answers a rule's ``-m set
--match-set NAME FLAGS`` for a packet, as the kernel's ``xt_set`` does, for
the packet tracer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from svclab.proxy.adapters.errors import IpsetRestoreError

__all__ = ["FakeIpset"]


def _wanted(set_type: str, addresses: Sequence[str], proto: str, ports: Sequence[int]) -> list[str]:
    """A packet's dimensions spelled as entries of a set of ``set_type`` spell them."""
    method, _, kinds = set_type.partition(":")  # "hash:ip,port,net" -> "hash", "ip,port,net"
    out: list[str] = []
    for kind, address, port in zip(kinds.split(","), addresses, ports):
        if kind == "port":
            out.append(str(port) if method == "bitmap" else f"{proto}:{port}")
        else:  # ip or net: the address (a net entry must contain it)
            out.append(address)
    return out


def _entry_matches(entry: str, wanted: Sequence[str], set_type: str) -> bool:
    parts = entry.split(",")
    if len(parts) != len(wanted):
        return False
    for kind, have, want in zip(set_type.split(":", 1)[1].split(","), parts, wanted):
        if kind == "net":
            if ipaddress.ip_address(want) not in ipaddress.ip_network(have, strict=False):
                return False
        elif have != want:
            return False
    return True


@dataclass
class FakeIpset:
    """In-memory sets: name -> entries, with each set's type; ``restores`` records every script."""

    sets: dict[str, set[str]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    restores: list[str] = field(default_factory=list)

    def restore(self, text: str) -> None:
        self.restores.append(text)
        staged = {name: set(entries) for name, entries in self.sets.items()}
        types = dict(self.types)
        for number, line in enumerate(text.splitlines(), 1):
            words = line.split()
            if not words:
                continue
            verb, name = words[0], words[1]
            if verb == "create":
                staged.setdefault(name, set())
                types[name] = words[2]
            elif name not in staged:
                raise IpsetRestoreError(
                    f"ipset restore failed: Error in line {number}: set {name} does not exist", text, number
                )
            elif verb == "flush":
                staged[name].clear()
            elif verb == "add":
                staged[name].add(words[2])
            elif verb == "del":
                staged[name].discard(words[2])
        self.sets, self.types = staged, types

    def destroy(self, names: Iterable[str]) -> None:
        for name in names:
            self.sets.pop(name, None)
            self.types.pop(name, None)

    def matches(self, name: str, flags: str, *, src: str, dst: str, proto: str, sport: int, dport: int) -> bool:
        """Whether a packet matches ``-m set --match-set NAME FLAGS`` (e.g. ``dst,dst,src``)."""
        set_type = self.types.get(name, "")
        if not set_type:
            return False
        dims = flags.split(",")
        addresses = [dst if d == "dst" else src for d in dims]
        ports = [dport if d == "dst" else sport for d in dims]
        wanted = _wanted(set_type, addresses, proto, ports)
        return any(_entry_matches(entry, wanted, set_type) for entry in self.sets.get(name, ()))
