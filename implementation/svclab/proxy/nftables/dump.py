"""How the nftables mode's rules read in ``nft list table`` (its ``RulesDump``, see ``svclab.proxy.dump``).

With endpoints, the ``service-ips`` map sends ``CLUSTERIP . proto . PORT``
to ``service-<hash8>-ns/svc/proto/port``, whose ``endpoint-...`` targets
are the endpoints; without, the element goes to ``reject-chain``. A chain
without rules is not listed (a flushed, not yet deleted stale chain).
Side-effect-free.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from svclab.proxy.dump import DumpedRules
from svclab.proxy.family import facts
from svclab.proxy.nftables.plan import REJECT_CHAIN, TABLE, chain_base, endpoint_chain_base
from svclab.proxy.service_port import IPFamily, ServicePortName

__all__ = ["NftDump"]

_CHAIN = re.compile(r"^\s*chain (\S+) \{$")
_TARGET = re.compile(r"(?:goto|jump) ([^\s,}]+)")


class NftDump:
    """``nft list table ip kube-proxy`` read as chains and goto/jump targets."""

    command = f"nft list table ip {TABLE}"
    reject_marker: str | None = f"goto {REJECT_CHAIN}"

    def command_for(self, family: IPFamily) -> str:
        return f"nft list table {facts(family).nft_family} {TABLE}"

    def parse(self, text: str) -> DumpedRules:
        chains: set[str] = set()
        targets: dict[str, set[str]] = {}
        current = ""
        for line in text.splitlines():
            header = _CHAIN.match(line)
            if header:
                current = header.group(1)
            elif current and line.strip() not in ("", "}") and not line.strip().startswith("type "):
                # only a chain holding rules counts: the proxy flushes a chain that went
                # away and deletes it a sync later, as upstream does (its staleChains)
                chains.add(current)
                targets.setdefault(current, set()).update(_TARGET.findall(line))
            elif line.strip() == "}":
                current = ""
        return DumpedRules(frozenset(chains), {k: frozenset(v) for k, v in targets.items()}, text)

    def service_chain(self, name: ServicePortName, cluster_ip: str, port: int) -> str:
        return f"service-{chain_base(name)}"

    def endpoint_chains(self, name: ServicePortName, endpoints: Iterable[tuple[str, int]]) -> frozenset[str]:
        return frozenset(f"endpoint-{endpoint_chain_base(name, ip, port)}" for ip, port in endpoints)

    def is_endpoint_target(self, target: str) -> bool:
        return target.startswith("endpoint-")

    def dispatch_lines(self, text: str, name: ServicePortName, cluster_ip: str, port: int) -> list[str]:
        needle = f"{cluster_ip} . {name.protocol.l4} . {port} "
        return [line for line in text.splitlines() if needle in line]
