"""The iptables system adapter shared by the iptables and userspace modes.

Both modes program their chains with one ``iptables-restore --noflush`` per
sync plus a few single-rule commands (jumps from the built-in chains, the
canary), like upstream's one ``utiliptables.Interface`` for every mode.
``IptablesExecutor`` is the protocol the proxiers use; ``SubprocessIptables``
runs the real tools; ``svclab.proxy.testing.FakeIptables`` is the fake.
A rejected restore raises ``RestoreError`` quoting the failing line with
context (``quote_failing_line``, also used by the ipvs mode's restores).
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from typing import Protocol

__all__ = ["IptablesExecutor", "RestoreError", "SubprocessIptables", "failing_line_number", "quote_failing_line"]


def failing_line_number(stderr: str) -> int:
    """The input line a restore tool blames in ``stderr`` (its first number), or 0."""
    return next((int(w) for w in stderr.replace(":", " ").split() if w.isdigit()), 0)


def quote_failing_line(data: str, line: int) -> str:
    """Lines ``line - 2`` to ``line + 1`` of ``data``, the failing one marked ``>``. Side-effect-free.

    Returns "" when ``line`` is 0 or ``data`` is empty; the window is clipped to ``data``.
    """
    lines = data.splitlines()
    if not line or not lines:
        return ""
    lo, hi = max(0, line - 3), min(len(lines), line + 2)
    return "\n".join(f"{'>' if n + 1 == line else ' '} {n + 1}: {lines[n]}" for n in range(lo, hi))


class RestoreError(RuntimeError):
    """``iptables-restore`` rejected the input; the message quotes the failing line."""

    def __init__(self, message: str, data: str = "", line: int = 0) -> None:
        if line and data.splitlines():
            message = f"{message}\n{quote_failing_line(data, line)}"
        super().__init__(message)
        self.line = line


class IptablesExecutor(Protocol):
    """What the iptables and userspace proxiers need from iptables."""

    def restore(self, data: str, *, noflush: bool = True) -> None: ...
    def save(self, table: str) -> str: ...
    def ensure_chain(self, table: str, chain: str) -> None: ...
    def chain_exists(self, table: str, chain: str) -> bool: ...
    def ensure_rule(self, table: str, chain: str, rule: str, *, prepend: bool = True) -> None: ...
    def delete_rule(self, table: str, chain: str, rule: str) -> None: ...
    def delete_chain(self, table: str, chain: str) -> None: ...


@dataclass
class SubprocessIptables:
    """Runs the real tools. ``prefix`` e.g. ``("ip", "netns", "exec", NS)`` for a namespace."""

    prefix: tuple[str, ...] = ()
    binary: str = "iptables"

    def _run(self, *args: str, data: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.prefix, *args], input=data, text=True, capture_output=True, check=check)

    def restore(self, data: str, *, noflush: bool = True) -> None:
        """Apply ``data`` atomically; raises ``RestoreError`` quoting the line the tool blames."""
        args = [f"{self.binary}-restore", "-w"] + (["--noflush"] if noflush else [])
        result = self._run(*args, data=data, check=False)
        if result.returncode != 0:
            raise RestoreError(
                f"{self.binary}-restore failed: {result.stderr.strip()}", data, failing_line_number(result.stderr)
            )

    def save(self, table: str) -> str:
        return self._run(f"{self.binary}-save", "-t", table).stdout

    def chain_exists(self, table: str, chain: str) -> bool:
        return self._run(self.binary, "-w", "-t", table, "-S", chain, check=False).returncode == 0

    def ensure_chain(self, table: str, chain: str) -> None:
        if not self.chain_exists(table, chain):
            self._run(self.binary, "-w", "-t", table, "-N", chain)

    def ensure_rule(self, table: str, chain: str, rule: str, *, prepend: bool = True) -> None:
        args = shlex.split(rule)
        if self._run(self.binary, "-w", "-t", table, "-C", chain, *args, check=False).returncode != 0:
            self._run(self.binary, "-w", "-t", table, "-I" if prepend else "-A", chain, *args)

    def delete_rule(self, table: str, chain: str, rule: str) -> None:
        self._run(self.binary, "-w", "-t", table, "-D", chain, *shlex.split(rule), check=False)

    def delete_chain(self, table: str, chain: str) -> None:
        """Flush and delete ``chain``; a missing or still-referenced chain is left as it is."""
        self._run(self.binary, "-w", "-t", table, "-F", chain, check=False)
        self._run(self.binary, "-w", "-t", table, "-X", chain, check=False)
