"""ipvs mode, pure part: proxy state -> ``IpvsRuleset`` (upstream ``pkg/proxy/ipvs/proxier.go``).

IPVS does the load balancing; ipsets and a fixed set of iptables rules do the
rest (masquerade, hairpin, filtering). Per service port:

* a virtual server for the ClusterIP, each external IP, each LoadBalancer IP
  and, for NodePorts, each node IP; scheduler ``rr`` unless configured;
  ``ClientIP`` affinity becomes the persistent flag with its timeout;
* real servers (masquerade forwarding, weight 1) for the endpoints the traffic
  policy selects (Local falls back to all endpoints when none is local, as
  upstream does since kubernetes PR #97081);
* ClusterIPs, external and LoadBalancer IPs (unless already a node address)
  are bound as /32 (/128 for the IPv6 proxier) on the dummy interface
  ``kube-ipvs0``;
* ipset entries: ``ip,proto:port`` for ``hash:ip,port``, ``ip,proto:port,ip``
  for ``hash:ip,port,ip``, ``ip,proto:port,cidr`` for ``hash:ip,port,net``,
  the bare port for ``bitmap:port`` and the IP for ``hash:ip``.

The iptables rules only reference the sets, so their text does not grow with
the number of Services.

Each service port's share of the ruleset is computed on its own, as a
``PortFragment``; ``plan`` merges the fragments of every port. The proxier
keeps the fragments between syncs (``incremental.py``), so a partial sync
re-plans only the ports that changed. Everything here is side-effect-free.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from svclab.proxy.adapters.ipvs_netlink import FLAG_PERSISTENT, FLAG_SOURCE_HASH, RealServer, VirtualServer
from svclab.proxy.endpoint import Endpoint
from svclab.proxy.ipvs.ipsets import (
    IPSET_SPECS,
    KUBE_CLUSTER_IP,
    KUBE_EXTERNAL_IP,
    KUBE_EXTERNAL_IP_LOCAL,
    KUBE_HEALTH_CHECK_NODE_PORT,
    KUBE_IPVS_IPS,
    KUBE_LOAD_BALANCER,
    KUBE_LOAD_BALANCER_FW,
    KUBE_LOAD_BALANCER_LOCAL,
    KUBE_LOAD_BALANCER_SOURCE_CIDR,
    KUBE_LOAD_BALANCER_SOURCE_IP,
    KUBE_LOOP_BACK,
    NODE_PORT_LOCAL_SETS,
    NODE_PORT_SETS,
    IpSet,
)
from svclab.proxy.ipvs.rules import LbNoNodeAccess, RuleOptions, render_iptables
from svclab.proxy.options import NodeOptions
from svclab.proxy.service_port import Protocol, ServicePort, ServicePortName
from svclab.proxy.topology import categorize_endpoints

__all__ = [
    "DEFAULT_DUMMY_DEVICE",
    "DEFAULT_SCHEDULER",
    "IpvsOptions",
    "IpvsRuleset",
    "PortFragment",
    "assemble",
    "plan",
    "plan_fragments",
    "port_fragment",
    "render_rules",
    "select_endpoints",
]

DEFAULT_SCHEDULER = "rr"  # upstream defaultScheduler: round robin
DEFAULT_DUMMY_DEVICE = "kube-ipvs0"  # holds the service IPs so the node accepts them


@dataclass(frozen=True, slots=True)
class IpvsOptions:
    """Node-wide settings (upstream NewProxier arguments): the shared ``node`` ones, then this mode's.

    ``node_port_ips`` are the addresses NodePort virtual servers listen on
    (upstream: every local address except the dummy's); ``node.node_ip``
    decides whether LoadBalancer source ranges admit the node itself.
    """

    node: NodeOptions = field(default_factory=NodeOptions)
    scheduler: str = DEFAULT_SCHEDULER
    node_port_ips: tuple[str, ...] = ()
    masquerade_mark: str = "0x4000"
    masquerade_random_fully: bool = False
    dummy_device: str = DEFAULT_DUMMY_DEVICE


@dataclass(frozen=True, slots=True)
class IpvsRuleset:
    """Everything the ipvs mode wants in the kernel after one sync."""

    virtual_servers: Mapping[VirtualServer, tuple[RealServer, ...]]
    bound_addresses: frozenset[str]
    ipsets: tuple[IpSet, ...]
    iptables: str
    owners: Mapping[VirtualServer, ServicePortName] = field(default_factory=dict)

    def ipset(self, name: str) -> IpSet:
        """The set called ``name``."""
        return next(s for s in self.ipsets if s.name == name)


def select_endpoints(
    port: ServicePort, endpoints: Sequence[Endpoint], only_local: bool, node_labels: Mapping[str, str] | None = None
) -> tuple[Endpoint, ...]:
    """Endpoints that become real servers (upstream ``syncEndpoint``). Side-effect-free."""
    cat = categorize_endpoints(endpoints, port, node_labels)
    chosen = (cat.local or cat.cluster) if only_local else cat.cluster
    return tuple({str(ep): ep for ep in chosen}.values())


@dataclass(frozen=True, slots=True)
class PortFragment:
    """One service port's share of the ruleset (what ``_Builder.add_service`` adds for it).

    ``servers`` keeps the port's own order of precedence (a later virtual
    server of the same port replaces an earlier equal one); ``entries`` maps
    set names to entries and lists only non-empty sets. ``no_node_access``
    may repeat an item (one per LoadBalancer IP listed), as the rules do.
    """

    servers: Mapping[VirtualServer, tuple[RealServer, ...]]
    entries: Mapping[str, frozenset[str]]
    bound: frozenset[str]
    no_node_access: tuple[LbNoNodeAccess, ...]


@dataclass
class _Builder:
    """Accumulates one port's fragment; kept private so planning stays side-effect-free."""

    opts: IpvsOptions
    node_labels: Mapping[str, str]
    entries: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    servers: dict[VirtualServer, tuple[RealServer, ...]] = field(default_factory=dict)
    bound: set[str] = field(default_factory=set)
    no_node_access: list[LbNoNodeAccess] = field(default_factory=list)

    def fragment(self) -> PortFragment:
        """What was added so far, frozen."""
        return PortFragment(
            dict(self.servers),
            {name: frozenset(e) for name, e in self.entries.items() if e},
            frozenset(self.bound),
            tuple(self.no_node_access),
        )

    def virtual_server(
        self,
        port: ServicePort,
        address: str,
        number: int,
        endpoints: Sequence[Endpoint],
        *,
        only_local: bool,
        bind: bool,
    ) -> None:
        flags = FLAG_PERSISTENT if port.session_affinity_seconds else 0
        if self.opts.scheduler == "mh":
            flags |= FLAG_SOURCE_HASH
        vs = VirtualServer(address, number, port.protocol, self.opts.scheduler, flags, port.session_affinity_seconds)
        chosen = select_endpoints(port, endpoints, only_local, self.node_labels)
        self.servers[vs] = tuple(sorted(RealServer(ep.ip, ep.port) for ep in chosen))
        if bind:
            self.bound.add(address)

    def add_service(self, port: ServicePort, endpoints: Sequence[Endpoint]) -> None:
        proto = port.protocol.l4
        ip_port = f"{port.cluster_ip},{proto}:{port.port}"
        self.entries[KUBE_LOOP_BACK] |= {f"{ep.ip},{proto}:{ep.port},{ep.ip}" for ep in endpoints if ep.is_local}
        self.entries[KUBE_CLUSTER_IP].add(ip_port)
        self.virtual_server(
            port, port.cluster_ip, port.port, endpoints, only_local=port.internal_policy_local, bind=True
        )
        for ip in port.external_ips:
            target = KUBE_EXTERNAL_IP_LOCAL if port.external_policy_local else KUBE_EXTERNAL_IP
            self.entries[target].add(f"{ip},{proto}:{port.port}")
            self.virtual_server(
                port,
                ip,
                port.port,
                endpoints,
                only_local=port.external_policy_local,
                bind=ip not in self.opts.node_port_ips,
            )
        for vip in port.load_balancer_vips:
            self.add_load_balancer(port, vip, endpoints)
        if port.node_port and self.opts.node_port_ips:
            self.add_node_port(port, endpoints)
        if port.health_check_node_port:
            self.entries[KUBE_HEALTH_CHECK_NODE_PORT].add(str(port.health_check_node_port))

    def add_load_balancer(self, port: ServicePort, vip: str, endpoints: Sequence[Endpoint]) -> None:
        proto = port.protocol.l4
        entry = f"{vip},{proto}:{port.port}"
        self.entries[KUBE_LOAD_BALANCER].add(entry)
        if port.external_policy_local:
            self.entries[KUBE_LOAD_BALANCER_LOCAL].add(entry)
        if port.load_balancer_source_ranges:
            self.entries[KUBE_LOAD_BALANCER_FW].add(entry)
            self.entries[KUBE_LOAD_BALANCER_SOURCE_CIDR] |= {
                f"{entry},{_normalise_cidr(cidr)}" for cidr in port.load_balancer_source_ranges
            }
            if any(_contains(cidr, self.opts.node.node_ip) for cidr in port.load_balancer_source_ranges):
                self.entries[KUBE_LOAD_BALANCER_SOURCE_IP].add(f"{entry},{vip}")
            else:
                # The node itself is outside every range: block it explicitly (kubernetes#119656).
                self.no_node_access.append(LbNoNodeAccess(vip, proto, port.port))
        self.virtual_server(
            port,
            vip,
            port.port,
            endpoints,
            only_local=port.external_policy_local,
            bind=vip not in self.opts.node_port_ips,
        )

    def add_node_port(self, port: ServicePort, endpoints: Sequence[Endpoint]) -> None:
        if port.protocol is Protocol.SCTP:
            new = {f"{ip},sctp:{port.node_port}" for ip in self.opts.node_port_ips}
        else:
            new = {str(port.node_port)}
        self.entries[NODE_PORT_SETS[port.protocol]] |= new
        if port.external_policy_local:
            self.entries[NODE_PORT_LOCAL_SETS[port.protocol]] |= new
        for ip in self.opts.node_port_ips:
            self.virtual_server(port, ip, port.node_port, endpoints, only_local=port.external_policy_local, bind=False)


def _normalise_cidr(cidr: str) -> str:
    return str(ipaddress.ip_network(cidr.strip(), strict=False))


def _contains(cidr: str, ip: str) -> bool:
    try:
        return bool(ip) and ipaddress.ip_address(ip) in ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return False


def port_fragment(
    port: ServicePort, endpoints: Sequence[Endpoint], opts: IpvsOptions, node_labels: Mapping[str, str] | None = None
) -> PortFragment:
    """One service port's share of the ruleset. Side-effect-free."""
    builder = _Builder(opts, node_labels or {})
    builder.add_service(port, endpoints)
    return builder.fragment()


def plan_fragments(
    service_ports: Mapping[ServicePortName, ServicePort],
    endpoints: Mapping[ServicePortName, Sequence[Endpoint]],
    opts: IpvsOptions,
    node_labels: Mapping[str, str] | None = None,
) -> dict[ServicePortName, PortFragment]:
    """The fragment of every service port, in name order. Side-effect-free."""
    return {
        name: port_fragment(port, endpoints.get(name, ()), opts, node_labels)
        for name, port in sorted(service_ports.items())
    }


def render_rules(nonempty_sets: set[str], no_node_access: Iterable[LbNoNodeAccess], opts: IpvsOptions) -> str:
    """The iptables text for these non-empty sets and blocked LoadBalancer IPs. Side-effect-free."""
    rule_opts = RuleOptions(
        masquerade_all=opts.node.masquerade_all,
        cluster_cidr=opts.node.cluster_cidr,
        masquerade_mark=opts.masquerade_mark,
        random_fully=opts.masquerade_random_fully,
        family=opts.node.family,
    )
    return render_iptables(nonempty_sets, rule_opts, tuple(sorted(no_node_access)))


def assemble(fragments: Mapping[ServicePortName, PortFragment], opts: IpvsOptions) -> IpvsRuleset:
    """Merge fragments into a ruleset. Side-effect-free.

    Where ports produce the same virtual server, the port whose name sorts
    last wins (its real servers, its owner); sets and addresses are unions.
    """
    servers: dict[VirtualServer, tuple[RealServer, ...]] = {}
    owners: dict[VirtualServer, ServicePortName] = {}
    entries: dict[str, set[str]] = {s.name: set() for s in IPSET_SPECS}
    bound: set[str] = set()
    no_node_access: list[LbNoNodeAccess] = []
    for name in sorted(fragments):
        fragment = fragments[name]
        servers.update(fragment.servers)
        owners.update(dict.fromkeys(fragment.servers, name))
        for set_name, new in fragment.entries.items():
            entries[set_name] |= new
        bound |= fragment.bound
        no_node_access += fragment.no_node_access
    entries[KUBE_IPVS_IPS] = bound
    ipsets = tuple(IpSet(spec, frozenset(entries[spec.name])) for spec in IPSET_SPECS)
    text = render_rules({s.name for s in ipsets if s.entries}, no_node_access, opts)
    return IpvsRuleset(dict(sorted(servers.items())), frozenset(bound), ipsets, text, owners)


def plan(
    service_ports: Mapping[ServicePortName, ServicePort],
    endpoints: Mapping[ServicePortName, Sequence[Endpoint]],
    opts: IpvsOptions,
    node_labels: Mapping[str, str] | None = None,
) -> IpvsRuleset:
    """The whole desired ipvs state for a proxy state. Side-effect-free."""
    return assemble(plan_fragments(service_ports, endpoints, opts, node_labels), opts)
