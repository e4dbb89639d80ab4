"""How the iptables mode's rules read in ``iptables-save`` (its ``RulesDump``, see ``svclab.proxy.dump``).

With endpoints, ``KUBE-SERVICES`` jumps from ``-d CLUSTERIP/32 ... --dport
PORT`` to ``KUBE-SVC-<hash16>``, whose ``KUBE-SEP-<hash16>`` targets are the
endpoints; without, the filter table ``REJECT``s that address and port.
Side-effect-free.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from svclab.proxy.dump import DumpedRules
from svclab.proxy.iptables.plan import endpoint_chain_name, service_chain_name
from svclab.proxy.service_port import ServicePortName

__all__ = ["IptablesDump"]

_CHAIN = re.compile(r"^:(\S+) ", re.MULTILINE)
_RULE = re.compile(r"^-A (\S+) (.*)$", re.MULTILINE)
_JUMP = re.compile(r"-j (\S+)")


class IptablesDump:
    """``iptables-save`` read as chains and jump targets."""

    command = "iptables-save"
    reject_marker: str | None = "REJECT"

    def parse(self, text: str) -> DumpedRules:
        targets: dict[str, set[str]] = {}
        for chain, rest in _RULE.findall(text):
            jump = _JUMP.search(rest)
            if jump:
                targets.setdefault(chain, set()).add(jump.group(1))
        return DumpedRules(frozenset(_CHAIN.findall(text)), {k: frozenset(v) for k, v in targets.items()}, text)

    def service_chain(self, name: ServicePortName, cluster_ip: str, port: int) -> str:
        return service_chain_name("KUBE-SVC-", name)

    def endpoint_chains(self, name: ServicePortName, endpoints: Iterable[tuple[str, int]]) -> frozenset[str]:
        return frozenset(endpoint_chain_name(name, f"{ip}:{port}") for ip, port in endpoints)

    def is_endpoint_target(self, target: str) -> bool:
        return target.startswith("KUBE-SEP-")

    def dispatch_lines(self, text: str, name: ServicePortName, cluster_ip: str, port: int) -> list[str]:
        address, destination_port = f"-d {cluster_ip}/32 -p {name.protocol.l4}", f"--dport {port} "
        return [line for line in text.splitlines() if address in line and destination_port in line]
