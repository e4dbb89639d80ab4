"""The iptables system adapter, used by the iptables, ipvs and userspace modes.

Each mode programs its chains with one ``iptables-restore --noflush`` per
sync plus a few single-rule commands (jumps from the built-in chains,
canaries), like upstream's one ``utiliptables.Interface`` for every mode.
``IptablesExecutor`` is the protocol the modes use; ``SubprocessIptables``
runs the real tools (``iptables-legacy`` where only that backend works, see
``binary``); ``adapters.testing.iptables.FakeIptables`` is the fake. A
rejected restore raises ``IptablesRestoreError`` quoting the failing line.
``ensure_rules`` adds several missing rules with one save and one restore,
which matters where each process costs a tenth of a second or more (inside
User-Mode Linux, DESIGN.md). ``chain_exists`` (the canary check before each
sync) asks the kernel over nfnetlink instead of starting ``iptables -S`` when
the nf_tables backend is in use (``nft_netlink``).
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from svclab.proxy.adapters import nft_netlink
from svclab.proxy.adapters.errors import IptablesRestoreError, failing_line_number

__all__ = ["IptablesExecutor", "Rule", "SubprocessIptables", "iptables_unusable", "missing_rules_restore"]

#: (table, chain, rule arguments without ``-A CHAIN``)
Rule = tuple[str, str, str]


class IptablesExecutor(Protocol):
    """What the modes need from iptables."""

    def restore(self, data: str, *, noflush: bool = True, counters: bool = False) -> None:
        """Apply restore input atomically (``counters``: lines may start with ``[packets:bytes]``,
        ``--counters``); raises ``IptablesRestoreError``."""
        ...

    def save(self, table: str, *, counters: bool = False) -> str:
        """``iptables-save -t TABLE`` output (``counters``: ``-c``, each rule led by ``[packets:bytes]``)."""
        ...

    def ensure_chain(self, table: str, chain: str) -> None: ...
    def chain_exists(self, table: str, chain: str) -> bool: ...
    def ensure_rule(self, table: str, chain: str, rule: str, *, prepend: bool = True) -> None: ...

    def ensure_rules(self, rules: Sequence[Rule]) -> None:
        """Prepend the rules not present yet, in order (the last one ends up first), in one batch."""
        ...

    def delete_rule(self, table: str, chain: str, rule: str) -> None: ...

    def delete_chains(self, table: str, chains: Sequence[str]) -> None:
        """Flush every chain, then delete them (so they may jump to each other)."""
        ...


def missing_rules_restore(saved: str, rules: Sequence[Rule]) -> str:
    """``iptables-restore --noflush`` text inserting the ``rules`` missing from ``iptables-save``
    output ``saved``, each at the top of its chain. Side-effect-free; "" when none is missing."""
    present: set[tuple[str, str]] = set()
    table = ""
    for line in saved.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith("-A "):
            present.add((table, line))
    lines: list[str] = []
    for wanted_table in dict.fromkeys(t for t, _, _ in rules):
        # each prepended in list order, so the last one ends up first (as upstream's EnsureRule(Prepend))
        todo = [
            f"-I {chain} 1 {rule}"
            for t, chain, rule in rules
            if t == wanted_table and (t, f"-A {chain} {rule}") not in present
        ]
        if todo:
            lines += [f"*{wanted_table}", *todo, "COMMIT"]
    return "\n".join(lines) + "\n" if lines else ""


def iptables_unusable(binary: str) -> str | None:
    """None when ``binary`` (``iptables``, ``ip6tables``, ``-legacy``) works here, else why not (upstream
    ``Present()``: the nat table's POSTROUTING chain can be listed; missing tools or kernel modules fail)."""
    try:
        result = subprocess.run(
            [binary, "-w", "-t", "nat", "-S", "POSTROUTING"], capture_output=True, text=True, check=False
        )
    except OSError as exc:
        return f"{binary}: {exc.strerror or exc}"
    if result.returncode != 0:
        return f"{binary}: {result.stderr.strip() or f'exit status {result.returncode}'}"
    return None


@dataclass
class SubprocessIptables:
    """Runs the real tools. ``prefix`` e.g. ``("ip", "netns", "exec", NS)`` for a namespace."""

    prefix: tuple[str, ...] = ()
    binary: str = "iptables"
    _backend_nft: bool | None = field(default=None, init=False, repr=False, compare=False)

    def _run(self, *args: str, data: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.prefix, *args], input=data, text=True, capture_output=True, check=check)

    def _nf_tables_backend(self) -> bool:
        """Whether ``binary`` is iptables' nf_tables variant (``-V`` says so); asked once."""
        if self._backend_nft is None:
            # no process for what the name says (inside User-Mode Linux each costs 0.1 s or more)
            legacy = self.binary.endswith("-legacy")
            self._backend_nft = not legacy and "nf_tables" in self._run(self.binary, "-V", check=False).stdout
        return self._backend_nft

    def restore(self, data: str, *, noflush: bool = True, counters: bool = False) -> None:
        """Apply ``data`` atomically; raises ``IptablesRestoreError`` quoting the line the tool blames."""
        args = [f"{self.binary}-restore", "-w"] + (["--noflush"] if noflush else []) + (["-c"] if counters else [])
        result = self._run(*args, data=data, check=False)
        if result.returncode != 0:
            raise IptablesRestoreError(
                f"{self.binary}-restore failed: {result.stderr.strip()}", data, failing_line_number(result.stderr)
            )

    def save(self, table: str, *, counters: bool = False) -> str:
        return self._run(f"{self.binary}-save", *(["-c"] if counters else []), "-t", table).stdout

    def chain_exists(self, table: str, chain: str) -> bool:
        """Whether ``chain`` exists: asked over nfnetlink first (no process; ``nft_netlink``), which
        can only confirm it for the nf_tables backend in this namespace, then the tool."""
        if not self.prefix and self._nf_tables_backend():
            family = nft_netlink.NFPROTO_IPV6 if self.binary.startswith("ip6") else nft_netlink.NFPROTO_IPV4
            if nft_netlink.chain_exists(family, table, chain):
                return True
        return self._run(self.binary, "-w", "-t", table, "-S", chain, check=False).returncode == 0

    def ensure_chain(self, table: str, chain: str) -> None:
        if not self.chain_exists(table, chain):
            self._run(self.binary, "-w", "-t", table, "-N", chain)

    def ensure_rule(self, table: str, chain: str, rule: str, *, prepend: bool = True) -> None:
        args = shlex.split(rule)
        if self._run(self.binary, "-w", "-t", table, "-C", chain, *args, check=False).returncode != 0:
            self._run(self.binary, "-w", "-t", table, "-I" if prepend else "-A", chain, *args)

    def ensure_rules(self, rules: Sequence[Rule]) -> None:
        """One ``iptables-save`` of every table, then one restore of what is missing."""
        text = missing_rules_restore(self._run(f"{self.binary}-save").stdout, rules)
        if text:
            self.restore(text, noflush=True)

    def delete_rule(self, table: str, chain: str, rule: str) -> None:
        self._run(self.binary, "-w", "-t", table, "-D", chain, *shlex.split(rule), check=False)

    def delete_chains(self, table: str, chains: Sequence[str]) -> None:
        """Flush, then delete, ``chains``; a missing or still-referenced chain is left as it is."""
        for verb in ("-F", "-X"):
            for chain in chains:
                self._run(self.binary, "-w", "-t", table, verb, chain, check=False)
