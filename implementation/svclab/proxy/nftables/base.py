"""nftables mode: the objects that do not depend on any Service, and ``assemble``/``plan``.

The base chains hook into netfilter at upstream's priorities (filter at
dstnat-10 = -110 before DNAT, 0 after; nat at -100 / 100) and dispatch through
the verdict maps that ``plan_service`` fills. Side-effect-free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from svclab.proxy.endpoint import Endpoint
from svclab.proxy.nftables.plan import (
    CLUSTER_IPS,
    FIREWALL_IPS,
    MARK_FOR_MASQUERADE,
    MASQ_MARK,
    MASQUERADING,
    NO_ENDPOINT_NODEPORTS,
    NO_ENDPOINT_SERVICES,
    NODEPORT_IPS,
    REJECT_CHAIN,
    SERVICE_IPS,
    SERVICE_NODEPORTS,
    SERVICES,
    NftOptions,
    NftRuleset,
    NftServicePort,
    NftServiceRules,
    plan_service,
)
from svclab.proxy.service_port import ServicePort, ServicePortName

__all__ = ["BASE_CHAINS", "BASE_SETS", "assemble", "base_rules", "base_sets", "plan"]


def base_sets(addr_type: str = "ipv4_addr") -> dict[str, tuple[str, str]]:
    """name -> (kind, declaration) of the sets and maps every table has; ``addr_type`` is the
    family's address type (``ipv4_addr`` / ``ipv6_addr``, upstream's ``ipvX_addr``)."""
    vip_key = f"{addr_type} . inet_proto . inet_service"
    return {
        CLUSTER_IPS: ("set", f' {{ type {addr_type} ; comment "Active ClusterIPs" ; }}'),
        NODEPORT_IPS: ("set", f' {{ type {addr_type} ; comment "IPs that accept NodePort traffic" ; }}'),
        FIREWALL_IPS: (
            "map",
            f' {{ type {vip_key} : verdict ; comment "destinations that are subject to LoadBalancerSourceRanges" ; }}',
        ),
        NO_ENDPOINT_NODEPORTS: (
            "map",
            " { type inet_proto . inet_service : verdict ;"
            ' comment "vmap to drop or reject packets to service nodeports with no endpoints" ; }',
        ),
        NO_ENDPOINT_SERVICES: (
            "map",
            f" {{ type {vip_key} : verdict ;"
            ' comment "vmap to drop or reject packets to services with no endpoints" ; }',
        ),
        SERVICE_IPS: (
            "map",
            f' {{ type {vip_key} : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }}',
        ),
        SERVICE_NODEPORTS: ("map", ' { type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }'),
    }


#: the IPv4 table's base sets (their names are the same in every family)
BASE_SETS: dict[str, tuple[str, str]] = base_sets()


def _hook(kind: str, hook: str, priority: int) -> str:
    return f" {{ type {kind} hook {hook} priority {priority} ; }}"


#: name -> declaration suffix (empty for regular chains)
BASE_CHAINS: dict[str, str] = {
    "cluster-ips-check": "",
    "filter-prerouting-pre-dnat": _hook("filter", "prerouting", -110),
    "filter-output-pre-dnat": _hook("filter", "output", -110),
    "filter-forward": _hook("filter", "forward", 0),
    "filter-input": _hook("filter", "input", 0),
    "filter-output": _hook("filter", "output", 0),
    "firewall-check": "",
    MARK_FOR_MASQUERADE: "",
    MASQUERADING: "",
    "nat-output": _hook("nat", "output", -100),
    "nat-postrouting": _hook("nat", "postrouting", 100),
    "nat-prerouting": _hook("nat", "prerouting", -100),
    "nodeport-endpoints-check": "",
    REJECT_CHAIN: ' { comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ; }',
    SERVICES: "",
    "service-endpoints-check": "",
}


def base_rules(opts: NftOptions) -> dict[str, tuple[str, ...]]:
    """Rules of the base chains."""
    new = "ct state new jump"
    ipx = opts.node.facts.nft_family
    vip = f"{ipx} daddr . meta l4proto . th dport vmap"
    cluster_check = [f'{ipx} daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"']
    if opts.service_cidrs:
        cluster_check.append(
            f'{ipx} daddr {{ {", ".join(opts.service_cidrs)} }} drop comment "Drop traffic to unallocated ClusterIPs"'
        )
    return {
        "cluster-ips-check": tuple(cluster_check),
        "filter-prerouting-pre-dnat": (f"{new} firewall-check",),
        "filter-output-pre-dnat": (f"{new} firewall-check",),
        "filter-forward": (f"{new} service-endpoints-check", f"{new} cluster-ips-check"),
        "filter-input": (f"{new} nodeport-endpoints-check", f"{new} service-endpoints-check"),
        "filter-output": (f"{new} service-endpoints-check", f"{new} cluster-ips-check"),
        "firewall-check": (f"{vip} @{FIREWALL_IPS}",),
        MARK_FOR_MASQUERADE: (f"mark set mark or {MASQ_MARK}",),
        MASQUERADING: (
            f"mark and {MASQ_MARK} == 0 return",
            f"mark set mark xor {MASQ_MARK}",
            "masquerade fully-random",
        ),
        "nat-output": (f"jump {SERVICES}",),
        "nat-postrouting": (f"jump {MASQUERADING}",),
        "nat-prerouting": (f"jump {SERVICES}",),
        "nodeport-endpoints-check": (
            f"{ipx} daddr @{NODEPORT_IPS} meta l4proto . th dport vmap @{NO_ENDPOINT_NODEPORTS}",
        ),
        REJECT_CHAIN: ("reject",),
        SERVICES: (
            f"{vip} @{SERVICE_IPS}",
            f"{ipx} daddr @{NODEPORT_IPS} meta l4proto . th dport vmap @{SERVICE_NODEPORTS}",
        ),
        "service-endpoints-check": (f"{vip} @{NO_ENDPOINT_SERVICES}",),
    }


def assemble(services: Sequence[NftServiceRules], opts: NftOptions) -> NftRuleset:
    """Combine per-service objects with the base objects."""
    rules = base_rules(opts)
    chains: dict[str, tuple[str, tuple[str, ...]]] = {name: (decl, rules[name]) for name, decl in BASE_CHAINS.items()}
    sets = base_sets(opts.node.facts.nft_addr_type)
    elements: dict[tuple[str, str], str] = {(NODEPORT_IPS, ip): "" for ip in opts.node_port_ips}
    for svc in services:
        for name, chain_rules in svc.chains:
            chains[name] = ("", chain_rules)
        for name, kind, decl in svc.sets:
            sets[name] = (kind, decl)
        for table_map, key, value in svc.elements:
            elements[(table_map, key)] = value
    return NftRuleset(chains, sets, elements, opts.node.facts.nft_family)


def plan(
    service_ports: Mapping[ServicePortName, ServicePort],
    endpoints: Mapping[ServicePortName, Sequence[Endpoint]],
    opts: NftOptions,
    node_labels: Mapping[str, str] | None = None,
) -> NftRuleset:
    """The whole desired table for a proxy state. Side-effect-free."""
    return assemble(
        [
            plan_service(port, endpoints.get(name, ()), opts, node_labels)
            for name, port in sorted(service_ports.items())
            if isinstance(port, NftServicePort)
        ],
        opts,
    )
