"""Fakes for userspace-mode tests: an in-memory iptables and a scripted TCP dialer.

``FakeIptables`` implements the proxier's executor protocol. It parses
``iptables-restore --noflush`` input (a declared chain is created or
flushed, others are kept), rejects jumps to unknown chains and applies each
restore atomically; ``ensure_rule`` / ``delete_rule`` / ``delete_chain``
behave like the real commands. ``ScriptedDialer`` answers each dial from a
table of outcomes per endpoint and records the (endpoint, timeout) order, so
retry tests need neither sockets nor sleeps.
"""

from __future__ import annotations

import copy
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from svclab.proxy.userspace.dial import DialCallback
from svclab.proxy.userspace.loadbalancer import EndpointAddress

__all__ = ["FakeIptables", "ScriptedDialer"]

_BUILTIN = {"filter": ("INPUT", "FORWARD", "OUTPUT"),
            "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING")}
_TARGETS = {"ACCEPT", "DROP", "REJECT", "RETURN", "DNAT", "REDIRECT", "MASQUERADE", "SNAT", "MARK"}


def _target(rule: str) -> str | None:
    words = rule.split()
    return words[words.index("-j") + 1] if "-j" in words else None


@dataclass
class FakeIptables:
    """In-memory tables: table -> chain -> rules (argument strings)."""

    tables: dict[str, dict[str, list[str]]] = field(default_factory=lambda: {
        t: {c: [] for c in cs} for t, cs in _BUILTIN.items()})
    restores: list[str] = field(default_factory=list)
    fail_next_restore: bool = False

    def restore(self, data: str, *, noflush: bool = True) -> None:
        """Apply restore input atomically, or raise ``RuntimeError`` changing nothing."""
        self.restores.append(data)
        if self.fail_next_restore:
            self.fail_next_restore = False
            raise RuntimeError("iptables-restore: injected failure")
        staged = copy.deepcopy(self.tables)
        table: dict[str, list[str]] | None = None
        for number, line in enumerate(data.splitlines(), 1):
            if not line.strip() or line.startswith("#") or line == "COMMIT":
                continue
            if line.startswith("*"):
                name = line[1:].strip()
                if not noflush:
                    staged[name] = {c: [] for c in _BUILTIN.get(name, ())}
                table = staged.setdefault(name, {c: [] for c in _BUILTIN.get(name, ())})
            elif table is None:
                raise RuntimeError(f"iptables-restore: line {number}: no table selected")
            elif line.startswith(":"):
                table[line[1:].split()[0]] = []
            elif line.startswith("-A "):
                _, chain, rule = line.split(" ", 2)
                if chain not in table:
                    raise RuntimeError(f"iptables-restore: line {number}: no chain {chain}")
                self._check_target(table, rule, number)
                table[chain].append(rule)
            else:
                raise RuntimeError(f"iptables-restore: line {number}: cannot parse {line!r}")
        self.tables = staged

    @staticmethod
    def _check_target(table: Mapping[str, list[str]], rule: str, number: int) -> None:
        target = _target(rule)
        if target is not None and target not in _TARGETS and target not in table:
            raise RuntimeError(f"iptables-restore: line {number}: jump to unknown chain {target}")

    def chain_exists(self, table: str, chain: str) -> bool:
        return chain in self.tables.get(table, {})

    def ensure_rule(self, table: str, chain: str, rule: str, *, prepend: bool = True) -> None:
        rules = self.tables[table][chain]
        self._check_target(self.tables[table], rule, 0)
        if rule not in rules:
            rules.insert(0, rule) if prepend else rules.append(rule)

    def delete_rule(self, table: str, chain: str, rule: str) -> None:
        rules = self.tables.get(table, {}).get(chain, [])
        if rule in rules:
            rules.remove(rule)

    def delete_chain(self, table: str, chain: str) -> None:
        chains = self.tables.get(table, {})
        if any(_target(r) == chain for c, rules in chains.items() if c != chain for r in rules):
            raise RuntimeError(f"iptables: chain {chain} is still referenced")
        chains.pop(chain, None)

    def rules(self, table: str, chain: str) -> list[str]:
        return list(self.tables.get(table, {}).get(chain, []))


@dataclass
class ScriptedDialer:
    """A TCP dialer (``dial.TcpDialer``) answering at once: outcomes per endpoint, attempts recorded.

    ``outcomes`` maps an endpoint to the exception its dials raise; an
    endpoint not listed "connects" and yields one end of a socketpair (the
    other end is kept in ``peers`` and closed by ``close``).
    """

    outcomes: dict[EndpointAddress, OSError] = field(default_factory=dict)
    attempts: list[tuple[EndpointAddress, float]] = field(default_factory=list)
    peers: list[socket.socket] = field(default_factory=list)

    def __call__(self, endpoint: EndpointAddress, timeout: float, done: DialCallback) -> Callable[[], None]:
        self.attempts.append((endpoint, timeout))
        error = self.outcomes.get(endpoint)
        if error is not None:
            done(None, error)
        else:
            ours, theirs = socket.socketpair()
            self.peers += [ours, theirs]
            done(ours, None)
        return lambda: None

    def close(self) -> None:
        for sock in self.peers:
            sock.close()
