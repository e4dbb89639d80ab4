"""The errors of the system adapters, one tree for all of them.

::

    AdapterError                 a kernel tool or interface refused what an adapter asked
    └── RestoreError             a batch tool rejected its input (``.line``: the line it blamed)
        ├── IptablesRestoreError     iptables-restore
        ├── IpsetRestoreError        ipset restore
        └── NftError                 nft -f

A ``RestoreError``'s message quotes the failing line with two lines of
context on each side, the failing one marked ``>`` (as upstream
kube-proxy logs a rejected iptables-restore input), so a log shows what was
wrong without the whole ruleset. The fakes in ``adapters.testing`` raise the
same classes as the real adapters.
"""

from __future__ import annotations

import re

__all__ = [
    "AdapterError",
    "IpsetRestoreError",
    "IptablesRestoreError",
    "NftError",
    "RestoreError",
    "failing_line_number",
    "quote_failing_line",
]


def failing_line_number(stderr: str) -> int:
    """The input line a restore tool blames in ``stderr``, or 0.

    ``iptables-restore: line 3 failed``, ``ipset v7.17: Error in line 3: ...``
    and ``/dev/stdin:3:5-9: Error: ...`` (nft) all name it as the first number
    after "line" or between colons.
    """
    found = re.search(r"\bline:? ?(\d+)|:(\d+):", stderr)
    if found is None:
        return 0
    return int(found.group(1) or found.group(2))


def quote_failing_line(data: str, line: int) -> str:
    """Lines ``line - 2`` to ``line + 2`` of ``data``, the failing one marked ``>``. Side-effect-free.

    Returns "" when ``line`` is 0 or beyond ``data``; the window is clipped to ``data``.
    """
    lines = data.splitlines()
    if not 0 < line <= len(lines):
        return ""
    lo, hi = max(0, line - 3), min(len(lines), line + 2)
    return "\n".join(f"{'>' if n + 1 == line else ' '} {n + 1}: {lines[n]}" for n in range(lo, hi))


class AdapterError(RuntimeError):
    """A kernel tool or interface refused what an adapter asked."""


class RestoreError(AdapterError):
    """A batch tool rejected ``data``; the message quotes the line it blamed (``line``, 0: unknown)."""

    def __init__(self, message: str, data: str = "", line: int = 0) -> None:
        quoted = quote_failing_line(data, line)
        super().__init__(f"{message}\n{quoted}" if quoted else message)
        self.line = line


class IptablesRestoreError(RestoreError):
    """``iptables-restore`` rejected its input."""


class IpsetRestoreError(RestoreError):
    """``ipset restore`` rejected its input."""


class NftError(RestoreError):
    """``nft -f`` rejected a transaction."""
