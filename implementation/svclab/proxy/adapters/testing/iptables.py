"""The fake of the iptables adapter (upstream ``pkg/util/iptables/testing``).

``FakeIptables`` parses ``iptables-restore`` input with ``--noflush``
semantics (a declared chain is created or flushed, others are kept; ``-X``
deletes at ``COMMIT``), checks what the kernel would check (unknown chains,
jumps to missing chains, deleting a referenced chain, and, given the
``FakeIpset`` it runs beside, rules matching a set that does not exist) and
applies each restore atomically. The single-rule methods behave like the
real commands, except that deleting a still-referenced chain raises instead
of being silently refused, so a cleanup in the wrong order shows. The
packet tracer over its tables is ``trace_iptables.NetfilterTracer``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from svclab.proxy.adapters.errors import IptablesRestoreError
from svclab.proxy.adapters.iptables import Rule
from svclab.proxy.adapters.testing.ipset import FakeIpset

__all__ = ["FakeIptables"]

BUILTIN_CHAINS = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
}
#: Targets that are not chains, so a jump to them needs no chain.
TARGETS = {"ACCEPT", "DROP", "REJECT", "RETURN", "MARK", "DNAT", "REDIRECT", "MASQUERADE", "SNAT"}
_NO_SUCH_SET = "Set {} doesn't exist"

Tables = dict[str, dict[str, list[str]]]


def _jump(rule: str) -> str | None:
    parts = rule.split()
    return parts[parts.index("-j") + 1] if "-j" in parts else None


def _missing_target(table: Mapping[str, list[str]], rule: str) -> str | None:
    """The chain ``rule`` jumps to when ``table`` lacks it, else None."""
    target = _jump(rule)
    return target if target and target not in TARGETS and target not in table else None


def _matched_set(rule: str) -> str | None:
    parts = rule.split()
    return parts[parts.index("--match-set") + 1] if "--match-set" in parts else None


def _builtin_tables() -> Tables:
    return {t: {c: [] for c in cs} for t, cs in BUILTIN_CHAINS.items()}


@dataclass
class FakeIptables:
    """In-memory tables: table -> chain -> rules (argument strings). ``ipsets``: the sets rules may match."""

    tables: Tables = field(default_factory=_builtin_tables)
    restores: list[str] = field(default_factory=list)
    fail_next_restore: bool = False
    ipsets: FakeIpset | None = None

    # -- executor protocol -------------------------------------------------
    def restore(self, data: str, *, noflush: bool = True, counters: bool = False) -> None:
        """Apply restore input atomically, or raise ``IptablesRestoreError`` changing nothing.

        The fake keeps no counters: with ``counters`` a rule's ``[packets:bytes]`` prefix is dropped."""
        self.restores.append(data)
        if self.fail_next_restore:
            self.fail_next_restore = False
            raise IptablesRestoreError("iptables-restore: injected failure", data, 1)
        staged = copy.deepcopy(self.tables)
        table: dict[str, list[str]] | None = None
        deletions: list[str] = []
        for number, line in enumerate(data.splitlines(), 1):
            if counters and line.startswith("["):
                line = line.split("] ", 1)[1]
            table = self._apply_line(staged, table, line, number, data, noflush, deletions)
        self.tables = staged

    def _apply_line(
        self,
        staged: Tables,
        table: dict[str, list[str]] | None,
        line: str,
        number: int,
        data: str,
        noflush: bool,
        deletions: list[str],
    ) -> dict[str, list[str]] | None:
        def fail(why: str) -> IptablesRestoreError:
            return IptablesRestoreError(f"iptables-restore: line {number} failed: {why}", data, number)

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
        if verb == "-I" and rule.split(" ", 1)[0].isdigit():
            _, _, rule = rule.partition(" ")  # "-I CHAIN 1 RULE": position 1, the top
        if verb.startswith(":"):
            table[verb[1:]] = []
        elif verb in ("-A", "-I"):
            if chain not in table:
                raise fail(f"chain {chain} does not exist")
            if missing := _missing_target(table, rule):
                raise fail(f"jump to missing chain {missing}")
            if self._missing_set(rule):
                raise fail(_NO_SUCH_SET.format(_matched_set(rule)))
            table[chain].insert(0 if verb == "-I" else len(table[chain]), rule)
        elif verb == "-D":
            if rule not in table.get(chain, ()):
                raise fail(f"no such rule in {chain} (does a matching rule exist in that chain?)")
            table[chain].remove(rule)
        elif verb == "-X":
            deletions.append(chain)
        elif verb == "-F":
            table[chain] = []
        else:
            raise fail(f"unknown command {verb}")
        return table

    def _missing_set(self, rule: str) -> bool:
        name = _matched_set(rule)
        return name is not None and self.ipsets is not None and name not in self.ipsets.sets

    def save(self, table: str, *, counters: bool = False) -> str:
        """``iptables-save -t TABLE`` output (``counters``: every rule's counters, here always 0)."""
        chains = self.tables.get(table, {})
        lead = "[0:0] " if counters else ""
        out = [f"*{table}"]
        out += [f":{c} {'ACCEPT' if c in BUILTIN_CHAINS.get(table, ()) else '-'} [0:0]" for c in chains]
        out += [f"{lead}-A {c} {r}" for c, rules in chains.items() for r in rules]
        return "\n".join(out + ["COMMIT", ""])

    def ensure_chain(self, table: str, chain: str) -> None:
        self.tables.setdefault(table, {}).setdefault(chain, [])

    def chain_exists(self, table: str, chain: str) -> bool:
        return chain in self.tables.get(table, {})

    def ensure_rule(self, table: str, chain: str, rule: str, *, prepend: bool = True) -> None:
        """Add ``rule`` unless present; raises ``RuntimeError`` for a jump to a missing chain."""
        rules = self.tables[table][chain]
        if missing := _missing_target(self.tables[table], rule):
            raise RuntimeError(f"iptables: jump to missing chain {missing}")
        if rule not in rules:
            rules.insert(0 if prepend else len(rules), rule)

    def ensure_rules(self, rules: Sequence[Rule]) -> None:
        """Prepend the missing ``rules`` in one restore, as ``SubprocessIptables`` does."""
        missing = [(t, c, r) for t, c, r in rules if r not in self.tables.get(t, {}).get(c, [])]
        tables = dict.fromkeys(t for t, _, _ in missing)
        text = "".join(
            f"*{t}\n" + "".join(f"-I {c} 1 {r}\n" for tt, c, r in missing if tt == t) + "COMMIT\n" for t in tables
        )
        if text:
            self.restore(text, noflush=True)

    def delete_rule(self, table: str, chain: str, rule: str) -> None:
        rules = self.tables.get(table, {}).get(chain, [])
        if rule in rules:
            rules.remove(rule)

    def delete_chains(self, table: str, chains: Sequence[str]) -> None:
        """Flush, then delete, ``chains``; raises ``RuntimeError`` while another chain still jumps to one."""
        existing = self.tables.get(table, {})
        for chain in chains:
            if chain in existing:
                existing[chain] = []
        for chain in chains:
            if any(_jump(r) == chain for c, rules in existing.items() if c != chain for r in rules):
                raise RuntimeError(f"iptables: chain {chain} is still referenced")
            existing.pop(chain, None)

    # -- test helpers --------------------------------------------------------
    def rules(self, table: str, chain: str) -> list[str]:
        """A copy of ``chain``'s rules ([] when it does not exist)."""
        return list(self.tables.get(table, {}).get(chain, []))

    def count_rules(self, table: str) -> int:
        return sum(len(r) for r in self.tables.get(table, {}).values())

    def flush_all(self) -> None:
        """What a firewall reload does: everything gone (tests the canary)."""
        self.tables = _builtin_tables()
