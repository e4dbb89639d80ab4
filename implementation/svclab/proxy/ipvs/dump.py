"""How the ipvs mode's virtual servers read in ``ipvsadm-save -n`` (its ``RulesDump``, see ``svclab.proxy.dump``).

A "chain" is a virtual server, keyed ``PROTO:ip:port`` (``TCP:10.96.0.1:443``);
its "targets" are the real servers taking new connections (weight > 0). A
removed endpoint may linger with weight 0 while its connections drain
(graceful termination): it counts as gone. A port without endpoints keeps
its virtual server, empty (upstream; ``KUBE-IPVS-FILTER`` does the rest), so
there is no reject marker. Side-effect-free.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from svclab.proxy.dump import DumpedRules
from svclab.proxy.service_port import IPFamily, ServicePortName

__all__ = ["IpvsDump", "virtual_server_key"]

# ipvsadm-save: "-A -t VIP:PORT -s rr ..." and "-a -t VIP:PORT -r RIP:RPORT -m -w 1"
_PROTOCOL = {"-t": "TCP", "--tcp-service": "TCP", "-u": "UDP", "--udp-service": "UDP", "--sctp-service": "SCTP"}
_LINE = re.compile(
    r"^-(A|a) (-t|-u|--tcp-service|--udp-service|--sctp-service) (\S+)(?: .*?-r (\S+))?(?: .*?-w (\d+))?",
    re.MULTILINE,
)


def _host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def virtual_server_key(protocol: str, ip: str, port: int) -> str:
    """The "chain" name of a virtual server (``TCP:10.96.0.1:443``)."""
    return f"{protocol}:{_host_port(ip, port)}"


class IpvsDump:
    """``ipvsadm-save -n`` read as virtual servers and their weighted real servers."""

    command = "ipvsadm-save -n"
    reject_marker: str | None = None

    def command_for(self, family: IPFamily) -> str:
        return self.command  # one IPVS table holds both families' virtual servers

    def parse(self, text: str) -> DumpedRules:
        chains: set[str] = set()
        targets: dict[str, set[str]] = {}
        for kind, flag, service, real, weight in _LINE.findall(text):
            key = f"{_PROTOCOL[flag]}:{service}"
            if kind == "A":
                chains.add(key)
                targets.setdefault(key, set())
            elif real and int(weight or 1) > 0:  # weight 0: draining, takes no new flows
                targets.setdefault(key, set()).add(real)
        return DumpedRules(frozenset(chains), {k: frozenset(v) for k, v in targets.items()}, text)

    def service_chain(self, name: ServicePortName, cluster_ip: str, port: int) -> str:
        return virtual_server_key(name.protocol.value, cluster_ip, port)

    def endpoint_chains(self, name: ServicePortName, endpoints: Iterable[tuple[str, int]]) -> frozenset[str]:
        return frozenset(_host_port(ip, port) for ip, port in endpoints)

    def is_endpoint_target(self, target: str) -> bool:
        return True

    def dispatch_lines(self, text: str, name: ServicePortName, cluster_ip: str, port: int) -> list[str]:
        service = _host_port(cluster_ip, port)
        return [
            line
            for line in text.splitlines()
            if line.startswith(("-A ", "-a "))
            and f" {service} " in f"{line} "
            and _PROTOCOL.get(line.split()[1]) == name.protocol.value
        ]
