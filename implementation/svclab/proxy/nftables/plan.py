"""nftables mode, pure part: proxy state -> ``NftRuleset`` (upstream ``nftables/proxier.go``).

Everything lives in table ``ip kube-proxy`` (``ip6 kube-proxy`` for the IPv6
proxier: ``ip6 daddr``/``ip6 saddr`` matches and ``ipv6_addr`` sets, as upstream's
``ipX``/``ipvX_addr``; the family comes from ``NodeOptions.facts``). Dispatch is by verdict maps, not
rule lists: ``service-ips`` (ClusterIP / external IP / LB IP . proto . port),
``service-nodeports`` (proto . port), ``no-endpoint-services`` /
``no-endpoint-nodeports`` (reject or drop), ``firewall-ips``
(loadBalancerSourceRanges). Per service port: chains ``service-``,
``local-``, ``external-``, ``firewall-`` named ``<prefix>-<hash8>-ns/svc/proto/port``;
per endpoint ``endpoint-<hash8>-ns/svc/proto/port__ip/port`` and, with ClientIP
affinity, a dynamic set ``affinity-...``. Side-effect-free throughout.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from svclab.proxy.endpoint import Endpoint
from svclab.proxy.naming import hash8
from svclab.proxy.options import NodeOptions
from svclab.proxy.service_port import ServicePort, ServicePortName
from svclab.proxy.topology import categorize_endpoints

__all__ = [
    "NftEndpoint",
    "NftOptions",
    "NftRuleset",
    "NftServicePort",
    "NftServiceRules",
    "TABLE",
    "make_endpoint",
    "make_service_port",
    "plan_service",
]

TABLE = "kube-proxy"  # the one table we own per family (ip / ip6)
CLUSTER_IPS = "cluster-ips"  # set: active ClusterIPs
NODEPORT_IPS = "nodeport-ips"  # set: addresses accepting NodePorts
SERVICE_IPS = "service-ips"  # vmap: VIP . proto . port -> service chain
SERVICE_NODEPORTS = "service-nodeports"  # vmap: proto . port -> external chain
NO_ENDPOINT_SERVICES = "no-endpoint-services"  # vmap: VIP . proto . port -> drop/reject
NO_ENDPOINT_NODEPORTS = "no-endpoint-nodeports"  # vmap: proto . port -> drop/reject
FIREWALL_IPS = "firewall-ips"  # vmap: LB IP . proto . port -> firewall chain
MARK_FOR_MASQUERADE = "mark-for-masquerade"  # chain: set mark 0x4000
MASQUERADING = "masquerading"  # chain: masquerade marked packets
SERVICES = "services"  # chain: dispatch via service-ips / nodeports
REJECT_CHAIN = "reject-chain"  # chain: helper target for "reject"
MASQ_MARK = "0x4000"


def chain_base(port_name: ServicePortName) -> str:
    """``ULMVA6XW-ns1/svc1/tcp/p80`` for ``ns1/svc1:p80`` tcp."""
    text = f"{port_name.service.namespace}/{port_name.service.name}/{port_name.protocol.l4}/{port_name.port}"
    return f"{hash8(text)}-{text}"


def endpoint_chain_base(port_name: ServicePortName, ip: str, port: int) -> str:
    """``5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80``."""
    svc = f"{port_name.service.namespace}/{port_name.service.name}/{port_name.protocol.l4}/{port_name.port}"
    text = f"{svc}__{ip.replace(':', '.')}/{port}"
    return f"{hash8(text)}-{text}"


@dataclass(frozen=True, slots=True)
class NftServicePort(ServicePort):
    """ServicePort plus its chain names."""

    service_chain: str = ""
    local_chain: str = ""
    external_chain: str = ""
    firewall_chain: str = ""


@dataclass(frozen=True, slots=True)
class NftEndpoint(Endpoint):
    """Endpoint plus its chain and affinity-set names."""

    chain: str = ""
    affinity_set: str = ""


def make_service_port(base: ServicePort) -> NftServicePort:
    """Factory for the service tracker."""
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    b = chain_base(base.name)
    return NftServicePort(
        **fields,
        service_chain=f"service-{b}",
        local_chain=f"local-{b}",
        external_chain=f"external-{b}",
        firewall_chain=f"firewall-{b}",
    )


def make_endpoint(base: Endpoint, port_name: ServicePortName) -> NftEndpoint:
    """Factory for the endpoints tracker."""
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    b = endpoint_chain_base(port_name, base.ip, base.port)
    return NftEndpoint(**fields, chain=f"endpoint-{b}", affinity_set=f"affinity-{b}")


@dataclass(frozen=True, slots=True)
class NftOptions:
    """Node-wide settings: the shared ``node`` ones, then this mode's. ``node_port_ips`` fill ``nodeport-ips``."""

    node: NodeOptions = field(default_factory=NodeOptions)
    service_cidrs: tuple[str, ...] = ()
    node_port_ips: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NftServiceRules:
    """One service port's objects: chains (name -> rules), sets, and map elements.

    ``elements`` are (map, key, value-or-empty) where key may carry a comment.
    """

    chains: tuple[tuple[str, tuple[str, ...]], ...]
    sets: tuple[tuple[str, str, str], ...]  # (name, "set", declaration)
    elements: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True, slots=True)
class NftRuleset:
    """The whole desired table: declarations, chain rules and elements."""

    chains: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # name -> (decl, rules)
    sets: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # name -> ("set"|"map", decl)
    elements: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (map, key) -> value
    family: str = "ip"  # nft table family: ip or ip6

    @property
    def prefix(self) -> str:
        """``ip kube-proxy`` / ``ip6 kube-proxy``: what every command names."""
        return f"{self.family} {TABLE}"

    def dump(self) -> list[str]:
        """Canonical ``add ...`` lines, the format of knftables' fake ``Dump``."""
        prefix = self.prefix
        out = [f'add table {prefix} {{ comment "rules for kube-proxy" ; }}']
        out += [f"add {kind} {prefix} {name}{decl}" for name, (kind, decl) in self.sets.items()]
        out += [f"add chain {prefix} {name}{decl}" for name, (decl, _) in self.chains.items()]
        out += [f"add rule {prefix} {name} {r}" for name, (_, rules) in self.chains.items() for r in rules]
        out += [f"add element {prefix} {m} {{ {k}{' : ' + v if v else ''} }}" for (m, k), v in self.elements.items()]
        return out


def _comment(key: str, text: str) -> str:
    return f'{key} comment "{text}"'


def _masq_rule(port: NftServicePort, opts: NftOptions) -> tuple[str, ...]:
    ipx = opts.node.facts.nft_family
    if opts.node.masquerade_all:
        return (f"{ipx} daddr {port.cluster_ip} jump {MARK_FOR_MASQUERADE}",)
    if opts.node.cluster_cidr:
        return (f"{ipx} daddr {port.cluster_ip} {ipx} saddr != {opts.node.cluster_cidr} jump {MARK_FOR_MASQUERADE}",)
    return ()


def _balance(port: NftServicePort, endpoints: Sequence[NftEndpoint], ipx: str) -> tuple[str, ...]:
    rules = (
        [f"{ipx} saddr @{ep.affinity_set} goto {ep.chain}" for ep in endpoints] if port.session_affinity_seconds else []
    )
    targets = " , ".join(f"{i} : goto {ep.chain}" for i, ep in enumerate(endpoints))
    rules.append(f"numgen random mod {len(endpoints)} vmap {{ {targets} }}")
    return tuple(rules)


def _external(port: NftServicePort, opts: NftOptions, has_external: bool) -> tuple[str, ...]:
    policy_chain = port.local_chain if port.external_policy_local else port.service_chain
    if not port.external_policy_local:
        rules = [f"jump {MARK_FOR_MASQUERADE}"]
    else:
        rules = (
            [
                f"{opts.node.facts.nft_family} saddr {opts.node.cluster_cidr} goto {port.service_chain}"
                ' comment "short-circuit pod traffic"'
            ]
            if opts.node.cluster_cidr
            else []
        )
        rules += [
            f'fib saddr type local jump {MARK_FOR_MASQUERADE} comment "masquerade local traffic"',
            f'fib saddr type local goto {port.service_chain} comment "short-circuit local traffic"',
        ]
    if has_external:
        rules.append(f"goto {policy_chain}")
    return tuple(rules)


def _firewall(port: NftServicePort, opts: NftOptions) -> tuple[str, ...]:
    sources = list(port.load_balancer_source_ranges)
    if opts.node.node_ip and any(
        ipaddress.ip_address(opts.node.node_ip) in ipaddress.ip_network(c, strict=False) for c in sources
    ):
        sources += port.load_balancer_vips
    return (f"{opts.node.facts.nft_family} saddr != {{ {', '.join(sources)} }} drop",)


def _endpoint_chain(port: NftServicePort, ep: NftEndpoint, ipx: str) -> tuple[str, ...]:
    update = (f"update @{ep.affinity_set} {{ {ipx} saddr }}",) if port.session_affinity_seconds else ()
    # ``str(ep)`` is ``[ip]:port`` for IPv6, the spelling nft's dnat wants
    return (f"{ipx} saddr {ep.ip} jump {MARK_FOR_MASQUERADE}", *update, f"meta l4proto {port.protocol.l4} dnat to {ep}")


def _elements(
    port: NftServicePort, has_any: bool, has_internal: bool, has_external: bool, uses_fw: bool
) -> list[tuple[str, str, str]]:
    proto, name = port.protocol.l4, str(port.name)
    internal_chain = port.local_chain if port.internal_policy_local else port.service_chain
    blocked = f"goto {REJECT_CHAIN}" if not has_any else "drop"
    out = [(CLUSTER_IPS, port.cluster_ip, "")]
    key = f"{port.cluster_ip} . {proto} . {port.port}"
    out.append(
        (SERVICE_IPS, key, f"goto {internal_chain}")
        if has_internal
        else (NO_ENDPOINT_SERVICES, _comment(key, name), blocked)
    )
    for ip in (*port.external_ips, *port.load_balancer_vips):
        key = f"{ip} . {proto} . {port.port}"
        if has_any:
            out.append((SERVICE_IPS, key, f"goto {port.external_chain}"))
        if not has_external:
            out.append((NO_ENDPOINT_SERVICES, _comment(key, name), blocked))
        if uses_fw and ip in port.load_balancer_vips:
            out.append((FIREWALL_IPS, key, f"goto {port.firewall_chain}"))
    if port.node_port:
        key = f"{proto} . {port.node_port}"
        if has_any:
            out.append((SERVICE_NODEPORTS, key, f"goto {port.external_chain}"))
        if not has_external:
            out.append((NO_ENDPOINT_NODEPORTS, _comment(key, name), blocked))
    return out


def plan_service(
    port: NftServicePort, endpoints: Sequence[Endpoint], opts: NftOptions, node_labels: Mapping[str, str] | None = None
) -> NftServiceRules:
    """Objects for one service port. Side-effect-free."""
    cat = categorize_endpoints(endpoints, port, node_labels)
    has_internal = cat.has_any and not (port.internal_policy_local and not cat.local)
    has_external = cat.has_any and not (port.external_policy_local and not cat.local)
    uses_fw = cat.has_any and bool(port.load_balancer_vips and port.load_balancer_source_ranges)
    masq = _masq_rule(port, opts) if has_internal else ()
    ipx = opts.node.facts.nft_family
    chains: list[tuple[str, tuple[str, ...]]] = []
    cluster = [ep for ep in cat.cluster if isinstance(ep, NftEndpoint)]
    local = [ep for ep in cat.local if isinstance(ep, NftEndpoint)]
    if cluster and port.uses_cluster_endpoints:
        extra = masq if not port.internal_policy_local else ()
        chains.append((port.service_chain, extra + _balance(port, cluster, ipx)))
    if local and port.uses_local_endpoints:
        extra = masq if port.internal_policy_local else ()
        chains.append((port.local_chain, extra + _balance(port, local, ipx)))
    if port.externally_accessible and cat.has_any:
        chains.append((port.external_chain, _external(port, opts, has_external)))
    if uses_fw:
        chains.append((port.firewall_chain, _firewall(port, opts)))
    sets = []
    for ep in cat.all_reachable:
        if isinstance(ep, NftEndpoint):
            chains.append((ep.chain, _endpoint_chain(port, ep, ipx)))
            if port.session_affinity_seconds:
                sets.append(
                    (
                        ep.affinity_set,
                        "set",
                        f" {{ type {opts.node.facts.nft_addr_type} ; flags dynamic,timeout ;"
                        f" timeout {port.session_affinity_seconds}s ; }}",
                    )
                )
    elements = _elements(port, cat.has_any, has_internal, has_external, uses_fw)
    return NftServiceRules(tuple(chains), tuple(sets), tuple(elements))
