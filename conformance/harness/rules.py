"""Desired proxy rules per mode, read from each node and compared with what is wanted.

For every Service port the desired state is upstream's, with names computed by
the naming functions of ``svclab.proxy`` (the same hashes upstream uses):

* iptables (``iptables-save``): with endpoints, ``KUBE-SERVICES`` jumps from
  ``-d CLUSTERIP/32 ... --dport PORT`` to ``KUBE-SVC-<hash16>``, whose
  ``KUBE-SEP-<hash16>`` targets are exactly the ready endpoints; without, a
  ``REJECT`` for that address and port in the filter table.
* nftables (``nft list table ip kube-proxy``): with endpoints, the
  ``service-ips`` map sends ``CLUSTERIP . proto . PORT`` to
  ``service-<hash8>-ns/svc/proto/port``, whose ``endpoint-...`` targets are
  exactly the ready endpoints; without, the element goes to ``reject-chain``.
* ipvs (``ipvsadm-save -n``): a virtual server ``CLUSTERIP:PORT`` of the
  protocol whose real servers taking new connections (weight > 0) are exactly
  the ready endpoints, none without endpoints (upstream keeps the virtual
  server; ``KUBE-IPVS-FILTER`` does the rest). A removed endpoint may linger
  with weight 0 while its connections drain (graceful termination): it counts
  as gone. Here "chains" are virtual servers (``TCP:ip:port``) and their
  "targets" the weighted real servers (``ip:port``).

A Service that is gone leaves no chain of its ports and no rule for its address.
``wait_converged`` polls every node (through testinfra) until the predicate
holds everywhere and, when ``SVCLAB_CONVERGENCE_JSON`` names a file, appends
``{testbed, what, seconds}`` to it.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from harness.cluster import ClusterUnderTest
from harness.waiting import wait_for
from svclab.proxy.iptables.plan import endpoint_chain_name, service_chain_name
from svclab.proxy.nftables.plan import chain_base, endpoint_chain_base
from svclab.proxy.service_port import Protocol, ServiceName, ServicePortName

__all__ = [
    "CONVERGENCE_ENV",
    "RULE_MODES",
    "DesiredPort",
    "NodeRules",
    "converged",
    "ipvs_virtual_server",
    "read_rules",
    "record_convergence",
    "service_absent",
    "wait_converged",
]

CONVERGENCE_ENV = "SVCLAB_CONVERGENCE_JSON"
RULE_MODES = ("iptables", "nftables", "ipvs")  # modes whose rules this module can read
_DUMP = {"iptables": "iptables-save", "nftables": "nft list table ip kube-proxy", "ipvs": "ipvsadm-save -n"}
_ENDPOINT_PREFIX = {"iptables": "KUBE-SEP-", "nftables": "endpoint-", "ipvs": ""}
# ipvsadm-save: "-A -t VIP:PORT -s rr ..." and "-a -t VIP:PORT -r RIP:RPORT -m -w 1"
_IPVS_PROTOCOL = {"-t": "TCP", "--tcp-service": "TCP", "-u": "UDP", "--udp-service": "UDP", "--sctp-service": "SCTP"}
_IPVS_LINE = re.compile(
    r"^-(A|a) (-t|-u|--tcp-service|--udp-service|--sctp-service) (\S+)"
    r"(?: .*?-r (\S+))?(?: .*?-w (\d+))?",
    re.MULTILINE,
)
_IPT_CHAIN = re.compile(r"^:(\S+) ", re.MULTILINE)
_IPT_RULE = re.compile(r"^-A (\S+) (.*)$", re.MULTILINE)
_NFT_CHAIN = re.compile(r"^\s*chain (\S+) \{$", re.MULTILINE)
_NFT_TARGET = re.compile(r"(?:goto|jump) ([^\s,}]+)")


@dataclass(frozen=True, slots=True)
class DesiredPort:
    """One Service port as the proxy should program it."""

    namespace: str
    service: str
    port_name: str  # the ServicePort's name ("" when the Service has one unnamed port)
    protocol: str  # TCP | UDP
    cluster_ip: str
    port: int
    endpoints: tuple[tuple[str, int], ...]  # ready (ip, targetPort) pairs

    @property
    def name(self) -> ServicePortName:
        return ServicePortName(ServiceName(self.namespace, self.service), self.port_name, Protocol(self.protocol))

    def service_chain(self, mode: str) -> str:
        if mode == "ipvs":
            return ipvs_virtual_server(self.protocol, self.cluster_ip, self.port)
        if mode == "iptables":
            return service_chain_name("KUBE-SVC-", self.name)
        return f"service-{chain_base(self.name)}"

    def endpoint_chains(self, mode: str) -> frozenset[str]:
        if mode == "ipvs":
            return frozenset(_host_port(ip, port) for ip, port in self.endpoints)
        if mode == "iptables":
            return frozenset(endpoint_chain_name(self.name, f"{ip}:{port}") for ip, port in self.endpoints)
        return frozenset(f"endpoint-{endpoint_chain_base(self.name, ip, port)}" for ip, port in self.endpoints)


@dataclass(frozen=True, slots=True)
class NodeRules:
    """One node's rules: chain names, each chain's jump/goto targets, the raw text."""

    mode: str
    chains: frozenset[str]
    targets: dict[str, frozenset[str]]
    text: str

    @classmethod
    def parse(cls, mode: str, text: str) -> NodeRules:
        """Side-effect-free parse of ``iptables-save``, ``nft list table`` or
        ``ipvsadm-save -n`` output."""
        found: dict[str, set[str]] = {}
        if mode == "ipvs":
            chains = set()
            for kind, flag, service, real, weight in _IPVS_LINE.findall(text):
                key = f"{_IPVS_PROTOCOL[flag]}:{service}"
                if kind == "A":
                    chains.add(key)
                    found.setdefault(key, set())
                elif real and int(weight or 1) > 0:  # weight 0: draining, takes no new flows
                    found.setdefault(key, set()).add(real)
        elif mode == "iptables":
            chains = set(_IPT_CHAIN.findall(text))
            for chain, rest in _IPT_RULE.findall(text):
                jump = re.search(r"-j (\S+)", rest)
                if jump:
                    found.setdefault(chain, set()).add(jump.group(1))
        else:
            chains = set()
            current = ""
            for line in text.splitlines():
                header = _NFT_CHAIN.match(line)
                if header:
                    current = header.group(1)
                    chains.add(current)
                elif current:
                    found.setdefault(current, set()).update(_NFT_TARGET.findall(line))
        return cls(mode, frozenset(chains), {k: frozenset(v) for k, v in found.items()}, text)

    def endpoint_targets(self, chain: str) -> frozenset[str]:
        prefix = _ENDPOINT_PREFIX[self.mode]
        return frozenset(t for t in self.targets.get(chain, ()) if t.startswith(prefix))

    def dispatch_lines(self, port: DesiredPort) -> list[str]:
        """Lines that send ``port``'s ClusterIP:port somewhere (service chain or reject)."""
        proto = port.protocol.lower()
        if self.mode == "ipvs":
            service = _host_port(port.cluster_ip, port.port)
            return [
                line
                for line in self.text.splitlines()
                if line.startswith(("-A ", "-a "))
                and f" {service} " in f"{line} "
                and _IPVS_PROTOCOL.get(line.split()[1]) == port.protocol
            ]
        if self.mode == "iptables":
            return [
                line
                for line in self.text.splitlines()
                if f"-d {port.cluster_ip}/32 -p {proto}" in line and f"--dport {port.port} " in line
            ]
        needle = f"{port.cluster_ip} . {proto} . {port.port} "
        return [line for line in self.text.splitlines() if needle in line]


def _host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def ipvs_virtual_server(protocol: str, ip: str, port: int) -> str:
    """The key a virtual server has in ``NodeRules`` (``TCP:10.96.0.1:443``)."""
    return f"{protocol}:{_host_port(ip, port)}"


def read_rules(cluster: ClusterUnderTest, node: str) -> NodeRules:
    """The proxy's rules on ``node``, read there with testinfra."""
    mode = cluster.proxy_mode
    output = cluster.node_host(node).check_output(_DUMP[mode])
    return NodeRules.parse(mode, output)


def converged(rules: NodeRules, ports: Sequence[DesiredPort]) -> bool:
    """Whether ``rules`` program every port as desired. Side-effect-free."""
    return all(_port_converged(rules, port) for port in ports)


def _port_converged(rules: NodeRules, port: DesiredPort) -> bool:
    if rules.mode == "ipvs":  # the virtual server exists, also without endpoints
        server = port.service_chain("ipvs")
        return server in rules.chains and rules.endpoint_targets(server) == port.endpoint_chains("ipvs")
    dispatch = rules.dispatch_lines(port)
    if not port.endpoints:
        reject = "REJECT" if rules.mode == "iptables" else "goto reject-chain"
        return any(reject in line for line in dispatch)
    chain = port.service_chain(rules.mode)
    wanted = port.endpoint_chains(rules.mode)
    return (
        chain in rules.chains
        and any(chain in line for line in dispatch)
        and rules.endpoint_targets(chain) == wanted
        and wanted <= rules.chains
    )


def service_absent(rules: NodeRules, ports: Sequence[DesiredPort]) -> bool:
    """No chain and no dispatch rule of these ports is left. Side-effect-free."""
    for port in ports:
        if port.service_chain(rules.mode) in rules.chains or rules.dispatch_lines(port):
            return False
        if port.endpoint_chains(rules.mode) & rules.chains:
            return False
    return True


def wait_converged(
    cluster: ClusterUnderTest,
    predicate: Callable[[NodeRules], bool],
    *,
    what: str,
    timeout: float,
    since: float | None = None,
) -> float:
    """Poll every node until ``predicate`` holds on all of them; return the seconds
    since ``since`` (a ``time.monotonic()`` taken right after the change) and
    record them (see ``record_convergence``)."""
    start = time.monotonic() if since is None else since
    nodes = [node.name for node in cluster.nodes]
    pending = set(nodes)

    def all_nodes() -> bool:
        with ThreadPoolExecutor(max_workers=len(pending)) as pool:
            results = dict(
                zip(sorted(pending), pool.map(lambda node: predicate(read_rules(cluster, node)), sorted(pending)))
            )
        pending.difference_update(node for node, ok in results.items() if ok)
        return not pending

    wait_for(all_nodes, timeout=timeout, interval=0.05, what=f"{what}: rules on nodes {sorted(pending)}")
    seconds = time.monotonic() - start
    record_convergence(cluster, what, seconds)
    return seconds


def record_convergence(cluster: ClusterUnderTest, what: str, seconds: float) -> None:
    """Append ``{testbed, what, seconds}`` to the JSON list in $SVCLAB_CONVERGENCE_JSON."""
    path = os.environ.get(CONVERGENCE_ENV)
    if not path:
        return
    try:
        with open(path, encoding="utf-8") as handle:
            records = json.load(handle)
    except (FileNotFoundError, json.JSONDecodeError):
        records = []
    records.append({"testbed": cluster.name, "mode": cluster.proxy_mode, "what": what, "seconds": round(seconds, 3)})
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(records, handle, indent=1)
