"""The partial-sync floor of `svclab bench proxy`: the smallest commit that makes the kernel validate.

On every nf_tables commit that adds a rule (any rule iptables-nft or nft can
write carries an expression the kernel validates: a verdict, a compat match
such as ``-m comment``), the kernel walks every chain reachable from the
table's base chains (``nft_table_validate``; figures at 10,000 Services in
README.md "Benchmarks"). That walk is the same whatever the commit changes,
so its cost is the floor under any partial sync that writes a rule. The bench
measures it in the proxy's own namespace, after the partial samples: one rule
into a fresh chain nothing jumps to (timed), then the chain's removal (not
timed: a commit that only deletes is not validated).
"""

from __future__ import annotations

from dataclasses import dataclass

from svclab.proxy.nftables.plan import TABLE

__all__ = ["FLOOR_CHAIN", "PartialFloor", "partial_floor"]

#: the throwaway chain (iptables nat; nftables: in our table), never jumped to
FLOOR_CHAIN = "KUBE-BENCH-FLOOR"


@dataclass(frozen=True, slots=True)
class PartialFloor:
    """One floor sample: the command, the timed input (adds a rule) and the cleanup input."""

    argv: tuple[str, ...]
    add: str
    remove: str


def partial_floor(mode: str) -> PartialFloor | None:
    """The floor commands for ``mode``; None where the bench has none (ipvs, userspace). Side-effect-free."""
    if mode == "iptables":
        return PartialFloor(
            ("iptables-restore", "-w", "--noflush"),
            f'*nat\n:{FLOOR_CHAIN} - [0:0]\n-A {FLOOR_CHAIN} -m comment --comment "bench floor" -j RETURN\nCOMMIT\n',
            f"*nat\n:{FLOOR_CHAIN} - [0:0]\n-X {FLOOR_CHAIN}\nCOMMIT\n",
        )
    if mode == "nftables":
        chain = FLOOR_CHAIN.lower()
        return PartialFloor(
            ("nft", "-f", "-"),
            f"add chain ip {TABLE} {chain}\nadd rule ip {TABLE} {chain} counter return\n",
            f"flush chain ip {TABLE} {chain}\ndelete chain ip {TABLE} {chain}\n",
        )
    return None
