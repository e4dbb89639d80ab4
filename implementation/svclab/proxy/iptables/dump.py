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
from svclab.proxy.family import facts
from svclab.proxy.iptables.plan import endpoint_chain_name, service_chain_name
from svclab.proxy.service_port import IPFamily, ServicePortName

__all__ = ["IptablesDump", "dispatch_position"]

_CHAIN = re.compile(r"^:(\S+) ", re.MULTILINE)
_RULE = re.compile(r"^-A (\S+) (.*)$", re.MULTILINE)
_JUMP = re.compile(r"-j (\S+)")


class IptablesDump:
    """``iptables-save`` read as chains and jump targets."""

    command = "iptables-save"
    reject_marker: str | None = "REJECT"

    def command_for(self, family: IPFamily) -> str:
        return f"{facts(family).iptables}-save"

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


def dispatch_position(
    nat_text: str, cluster_ip: str, port: int, chain: str = "KUBE-SERVICES"
) -> tuple[int, int] | None:
    """Where a ClusterIP port's rule stands in ``chain`` of an ``iptables-save -t nat``: its
    1-based position and the chain's number of rules; None when it is not there.

    A packet to a Service walks the chain from the top until a rule matches, so
    the position is the number of rules it is tested against (issue 17).
    """
    if "*nat" in nat_text:  # a whole save: the nat table's part only (filter has a KUBE-SERVICES too)
        nat_text = nat_text.split("*nat", 1)[1].split("COMMIT", 1)[0]
    rules = [rest for name, rest in _RULE.findall(nat_text) if name == chain]
    # our restore input writes -d IP, iptables-save prints it back as -d IP/32
    wanted = re.compile(rf"-d {re.escape(cluster_ip)}(/32)? .*--dport {port}( |$)")
    for index, rest in enumerate(rules, start=1):
        if wanted.search(rest):
            return index, len(rules)
    return None
