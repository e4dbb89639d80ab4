"""The nftables system adapter, used by the nftables mode (like upstream's ``knftables.Interface``).

The mode owns one table and changes it with one ``nft -f`` transaction per
sync; on a full sync it asks which chains, sets and maps the table holds,
to delete stale ones; on cleanup it deletes the table. ``NftExecutor`` is
the protocol; ``SubprocessNft`` runs the real ``nft`` for one table (named
by the mode); ``adapters.testing.nft.FakeNft`` is the fake. A rejected
transaction raises ``NftError`` quoting the failing line.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from typing import Protocol

from svclab.proxy.adapters import nft_netlink
from svclab.proxy.adapters.errors import NftError, failing_line_number

__all__ = ["NftExecutor", "SubprocessNft"]


class NftExecutor(Protocol):
    """What the nftables mode needs from nft, for its one table."""

    def run(self, transaction: str) -> None:
        """Apply ``nft -f`` input atomically; raises ``NftError``."""
        ...

    def list_objects(self) -> tuple[set[str], set[str]]:
        """(chains, sets and maps) in the table."""
        ...

    def delete_table(self) -> None: ...

    def has_rules(self, chain: str) -> bool:
        """Whether ``chain`` exists in the table and holds a rule (one cheap query, whatever the table's size)."""
        ...


@dataclass
class SubprocessNft:
    """Runs the real ``nft`` for table ``family table``; ``prefix`` e.g. ``("ip", "netns", "exec", NS)``."""

    table: str
    family: str = "ip"
    prefix: tuple[str, ...] = ()

    def _nft(self, *args: str, data: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.prefix, "nft", *args], input=data, text=True, capture_output=True, check=False)

    def run(self, transaction: str) -> None:
        result = self._nft("-f", "-", data=transaction)
        if result.returncode != 0:
            raise NftError(f"nft -f failed: {result.stderr.strip()}", transaction, failing_line_number(result.stderr))

    def list_objects(self) -> tuple[set[str], set[str]]:
        chains = self._nft("list", "chains", self.family).stdout
        sets = self._nft("list", "sets", self.family).stdout + self._nft("list", "maps", self.family).stdout
        return (
            set(re.findall(r"chain (\S+) {", self._only_our_table(chains))),
            set(re.findall(r"(?:set|map) (\S+) {", self._only_our_table(sets))),
        )

    def delete_table(self) -> None:
        self._nft("delete", "table", self.family, self.table)

    def has_rules(self, chain: str) -> bool:
        """Asked over nfnetlink (``nft_netlink.chain_has_rules``: one chain's rules, no process) where
        this is our namespace; else, or when that cannot tell, with `nft list chain`, which loads
        the table's sets and maps first (about a second at 3,000 Services here)."""
        family = {"ip": nft_netlink.NFPROTO_IPV4, "ip6": nft_netlink.NFPROTO_IPV6}.get(self.family)
        if not self.prefix and family is not None:
            answer = nft_netlink.chain_has_rules(family, self.table, chain)
            if answer is not None:
                return answer
        result = self._nft("list", "chain", self.family, self.table, chain)
        if result.returncode != 0:
            return False
        body = [line.strip() for line in result.stdout.splitlines()]
        return any(line and not line.startswith(("table ", "chain ", "type ", "}")) for line in body)

    def _only_our_table(self, listing: str) -> str:
        blocks = re.split(r"^table ", listing, flags=re.M)
        return "".join(b for b in blocks if b.startswith(f"{self.family} {self.table} "))
