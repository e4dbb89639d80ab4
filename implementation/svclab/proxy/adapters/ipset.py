"""The ipset system adapter, used by the ipvs mode (upstream ``pkg/util/ipset``).

The ipvs mode writes each sync's set changes as one ``ipset restore``
script (``create``/``flush``/``add``/``del`` lines) and destroys its sets on
cleanup. ``IpsetExecutor`` is the protocol; ``SubprocessIpset`` runs the
real tool; ``adapters.testing.ipset.FakeIpset`` is the fake. A rejected
script raises ``IpsetRestoreError`` quoting the failing line.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from svclab.proxy.adapters.errors import IpsetRestoreError, failing_line_number

__all__ = ["IpsetExecutor", "SubprocessIpset"]


class IpsetExecutor(Protocol):
    """What the ipvs mode needs from ipset."""

    def restore(self, text: str) -> None:
        """Apply an ``ipset restore`` script (nothing for ""); raises ``IpsetRestoreError``."""
        ...

    def destroy(self, names: Iterable[str]) -> None:
        """Destroy these sets; missing or still-used ones are left as they are."""
        ...


@dataclass
class SubprocessIpset:
    """Runs the real ``ipset``; ``prefix`` e.g. ``("ip", "netns", "exec", NS)``."""

    prefix: tuple[str, ...] = ()

    def restore(self, text: str) -> None:
        if not text:
            return
        result = subprocess.run(
            [*self.prefix, "ipset", "restore"], input=text, text=True, capture_output=True, check=False
        )
        if result.returncode != 0:
            raise IpsetRestoreError(
                f"ipset restore failed: {result.stderr.strip()}", text, failing_line_number(result.stderr)
            )

    def destroy(self, names: Iterable[str]) -> None:
        for name in names:
            subprocess.run([*self.prefix, "ipset", "destroy", name], capture_output=True, check=False)
