"""A fake nfacct: named counters in a dict; ``broken`` makes every call fail like a
kernel without ``nfnetlink_acct``."""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from svclab.proxy.adapters.nfacct import NfacctError

__all__ = ["FakeNfacct"]


@dataclass
class FakeNfacct:
    counters: dict[str, int] = field(default_factory=dict)
    broken: bool = False

    def ensure(self, name: str) -> None:
        if self.broken:
            raise NfacctError(errno.ENOENT, "no nfnetlink_acct")
        self.counters.setdefault(name, 0)

    def packets(self, name: str) -> int:
        if self.broken or name not in self.counters:
            raise NfacctError(errno.ENOENT, f"no nfacct object {name}")
        return self.counters[name]
