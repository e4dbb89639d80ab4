"""iptables mode, pure part of a full sync by whole-table restore (DESIGN.md "Rule-programming costs").

``iptables-restore --noflush`` of a whole ruleset is quadratic in iptables-nft
1.8.9's user space (10,000 Services: minutes), while the same text restored
without ``--noflush`` takes seconds. But without ``--noflush`` the restore
replaces the whole ``filter`` and ``nat`` tables, foreign rules included. So a
full sync first reads both tables (``iptables-save -c``) and restores them
whole (``iptables-restore -c``, so foreign rules keep their packet counters,
as upstream's ``--counters`` restore): every chain and rule it does not own
kept verbatim and in place (a
user's ``-A INPUT -j ACCEPT``, docker's chains, kubelet's ``KUBE-FIREWALL``),
its own chains written from the plan, its jumps from the built-in chains
kept where they are or, when missing, put first (as upstream's
``EnsureRule(Prepend)``). Stale service chains are simply not written.

Upstream never does this (it always restores with ``--noflush``): a foreign
rule added between the save and the restore, a window as long as the
restore, would be lost. ``restorable`` refuses tables whose save output
iptables-restore may not read back (rules iptables cannot express, a
warning about the other backend), and the proxier then falls back to
``--noflush``, as it does after a failed whole-table restore.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from svclab.proxy.iptables.plan import KUBE_PROXY_CANARY, SERVICE_CHAIN_PREFIXES, Ruleset

__all__ = ["SavedTable", "parse_save", "restorable", "whole_table_restore"]

#: the tables a full sync restores whole
TABLES = ("filter", "nat")
#: iptables-save marks what it cannot express, or warns about the other backend's tables
_UNSAFE = ("unsupported", "incompatible", "# Warning", "[INVALID]")


@dataclass
class SavedTable:
    """One table of ``iptables-save`` output: chain declarations and rules, in order."""

    declarations: dict[str, str] = field(default_factory=dict)  # chain -> ":CHAIN POLICY [p:b]"
    rules: list[tuple[str, str]] = field(default_factory=list)  # (chain, "[p:b] -A CHAIN ..." or "-A CHAIN ...")


def _without_counters(line: str) -> str:
    return line.split("] ", 1)[1] if line.startswith("[") else line


def parse_save(text: str) -> SavedTable:
    """Parse ``iptables-save [-c] -t TABLE`` output. Side-effect-free."""
    saved = SavedTable()
    for line in text.splitlines():
        if line.startswith(":"):
            saved.declarations[line[1:].split()[0]] = line
        elif _without_counters(line).startswith("-A "):
            saved.rules.append((_without_counters(line).split()[1], line))
    return saved


def restorable(text: str) -> bool:
    """Whether iptables-restore can read this save output back unchanged (no marker of a rule
    iptables cannot express). Side-effect-free."""
    return not any(marker in text for marker in _UNSAFE)


def _owned(table: str, chain: str, ruleset: Ruleset) -> bool:
    return (table, chain) in ruleset.chains or chain.startswith(SERVICE_CHAIN_PREFIXES) or chain == KUBE_PROXY_CANARY


def _jump_lines(
    table: str, kept: Mapping[str, list[str]], jumps: Sequence[tuple[str, str, str]]
) -> dict[str, list[str]]:
    """Per built-in chain, our jumps missing from the ``kept`` rules, in the order repeated prepending leaves them."""
    present = {_without_counters(line) for lines in kept.values() for line in lines}
    missing: dict[str, list[str]] = {}
    for t, chain, rule in jumps:
        line = f"-A {chain} {rule}"
        if t == table and line not in present:
            missing.setdefault(chain, []).insert(0, line)  # the last one prepended ends up first
    return missing


def _table_text(
    table: str, saved: SavedTable, ruleset: Ruleset, jumps: Sequence[tuple[str, str, str]], chains: Collection[str]
) -> list[str]:
    ours = ruleset.table(table)
    foreign = {c: line for c, line in saved.declarations.items() if not _owned(table, c, ruleset)}
    kept: dict[str, list[str]] = {c: [] for c in foreign}
    for chain, line in saved.rules:
        if chain in kept:
            kept[chain].append(line)
    declared = dict(foreign)
    for chain in [*chains, *(c.name for c in ours), KUBE_PROXY_CANARY]:
        declared.setdefault(chain, f":{chain} - [0:0]")
    missing = _jump_lines(table, kept, jumps)
    out = [f"*{table}", *declared.values()]
    for chain, lines in kept.items():
        out += missing.pop(chain, []) + lines
    out += [line for lines in missing.values() for line in lines]  # jumps from chains the save lacked
    out += [f"-A {c.name} {r}" for c in ours for r in c.rules]
    out.append("COMMIT")
    return out


def whole_table_restore(
    saved: Mapping[str, str],
    ruleset: Ruleset,
    jumps: Sequence[tuple[str, str, str]],
    base_chains: Collection[tuple[str, str]] = (),
) -> str:
    """``iptables-restore -c`` input (without ``--noflush``) replacing the ``filter`` and ``nat`` tables:
    ``saved`` (table -> ``iptables-save`` output) minus what we own, plus ``ruleset``, ``jumps``
    (table, built-in chain, rule) and the ``base_chains`` jumps may need. Side-effect-free."""
    out: list[str] = []
    for table in TABLES:
        parsed = parse_save(saved.get(table, ""))
        out += _table_text(table, parsed, ruleset, jumps, [c for t, c in base_chains if t == table])
    return "\n".join(out) + "\n"
