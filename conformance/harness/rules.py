"""Desired proxy rules per mode, read from each node and compared with what is wanted.

For every Service port the desired state is upstream's. How a mode's rules
read (the dump command, chain and endpoint names computed with the same
hashes upstream uses, what a port without endpoints looks like) is the
mode's ``RulesDump`` in the proxy mode registry (``svclab.proxy.modes``,
see ``svclab.proxy.dump``): iptables (``iptables-save``), nftables
(``nft list table ip kube-proxy``) and ipvs (``ipvsadm-save -n``, where
"chains" are virtual servers and their "targets" the weighted real servers).
With endpoints, the port's ClusterIP dispatches to its service chain, whose
endpoint targets are exactly the ready endpoints; without, the dispatch
rejects (or, for ipvs, the virtual server stays with no real server).

A Service that is gone leaves no chain of its ports and no rule for its address.
``wait_converged`` polls every node (through testinfra) until the predicate
holds everywhere and, when ``SVCLAB_CONVERGENCE_JSON`` names a file, appends
``{testbed, what, seconds}`` to it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from harness.cluster import ClusterUnderTest
from harness.waiting import wait_for
from svclab.proxy import modes
from svclab.proxy.dump import RulesDump
from svclab.proxy.service_port import IPFamily, Protocol, ServiceName, ServicePortName

__all__ = [
    "CONVERGENCE_ENV",
    "DesiredPort",
    "NodeRules",
    "RULE_MODES",
    "converged",
    "read_rules",
    "record_convergence",
    "service_absent",
    "wait_converged",
]

CONVERGENCE_ENV = "SVCLAB_CONVERGENCE_JSON"
#: modes whose rules this module can read: those with a rules dump
RULE_MODES = tuple(spec.name for spec in modes.mode_specs() if spec.rules_dump is not None)


def _dump(mode: str) -> RulesDump:
    dump = modes.get(mode).rules_dump
    if dump is None:
        raise ValueError(f"proxy mode {mode} has no rules dump to read")
    return dump


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
        return _dump(mode).service_chain(self.name, self.cluster_ip, self.port)

    def endpoint_chains(self, mode: str) -> frozenset[str]:
        return _dump(mode).endpoint_chains(self.name, self.endpoints)


@dataclass(frozen=True, slots=True)
class NodeRules:
    """One node's rules: chain names, each chain's jump/goto targets, the raw text."""

    mode: str
    chains: frozenset[str]
    targets: Mapping[str, frozenset[str]]
    text: str

    @classmethod
    def parse(cls, mode: str, text: str) -> NodeRules:
        """Side-effect-free parse of the mode's rules dump."""
        dumped = _dump(mode).parse(text)
        return cls(mode, dumped.chains, dumped.targets, text)

    def endpoint_targets(self, chain: str) -> frozenset[str]:
        dump = _dump(self.mode)
        return frozenset(t for t in self.targets.get(chain, ()) if dump.is_endpoint_target(t))

    def dispatch_lines(self, port: DesiredPort) -> list[str]:
        """Lines that send ``port``'s ClusterIP:port somewhere (service chain or reject)."""
        return _dump(self.mode).dispatch_lines(self.text, port.name, port.cluster_ip, port.port)


def read_rules(cluster: ClusterUnderTest, node: str, family: IPFamily = IPFamily.IPV4) -> NodeRules:
    """The proxy's rules of one IP family on ``node`` (the IPv6 proxier's: ``ip6tables-save``,
    ``nft list table ip6 kube-proxy``), read there with testinfra."""
    mode = cluster.proxy_mode
    output = cluster.node_host(node).check_output(_dump(mode).command_for(family))
    return NodeRules.parse(mode, output)


def converged(rules: NodeRules, ports: Sequence[DesiredPort]) -> bool:
    """Whether ``rules`` program every port as desired. Side-effect-free."""
    return all(_port_converged(rules, port) for port in ports)


def _port_converged(rules: NodeRules, port: DesiredPort) -> bool:
    reject = _dump(rules.mode).reject_marker
    if reject is None:  # the service chain exists, also without endpoints (ipvs)
        chain = port.service_chain(rules.mode)
        return chain in rules.chains and rules.endpoint_targets(chain) == port.endpoint_chains(rules.mode)
    dispatch = rules.dispatch_lines(port)
    if not port.endpoints:
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
    record: bool = True,
    family: IPFamily = IPFamily.IPV4,
) -> float:
    """Poll every node until ``predicate`` holds on all of them (on ``family``'s rules); return the
    seconds since ``since`` (a ``time.monotonic()`` taken right after the change) and
    record them (see ``record_convergence``) unless ``record`` is False."""
    start = time.monotonic() if since is None else since
    nodes = [node.name for node in cluster.nodes]
    pending = set(nodes)

    def all_nodes() -> bool:
        with ThreadPoolExecutor(max_workers=len(pending)) as pool:
            results = dict(
                zip(
                    sorted(pending),
                    pool.map(lambda node: predicate(read_rules(cluster, node, family)), sorted(pending)),
                )
            )
        pending.difference_update(node for node, ok in results.items() if ok)
        return not pending

    wait_for(all_nodes, timeout=timeout, interval=0.05, what=f"{what}: rules on nodes {sorted(pending)}")
    seconds = time.monotonic() - start
    if record:
        record_convergence(cluster, what, seconds)
    return seconds


def record_convergence(
    cluster: ClusterUnderTest, what: str, seconds: float, extra: Mapping[str, object] | None = None
) -> None:
    """Append ``{testbed, mode, what, seconds, **extra}`` to the JSON list in
    $SVCLAB_CONVERGENCE_JSON (``extra``: e.g. a disruption test's fault and test id)."""
    path = os.environ.get(CONVERGENCE_ENV)
    if not path:
        return
    try:
        with open(path, encoding="utf-8") as handle:
            records = json.load(handle)
    except (FileNotFoundError, json.JSONDecodeError):
        records = []
    records.append(
        {
            "testbed": cluster.name,
            "mode": cluster.proxy_mode,
            "what": what,
            "seconds": round(seconds, 3),
            **(extra or {}),
        }
    )
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(records, handle, indent=1)
