"""iptables mode, pure part: proxy state -> ``Ruleset`` (upstream ``iptables/proxier.go``).

Chain layout and names are upstream's. Per service port: ``KUBE-SVC-`` (Cluster
policy), ``KUBE-SVL-`` (Local policy), ``KUBE-EXT-`` (external destinations),
``KUBE-FW-`` (loadBalancerSourceRanges) and one ``KUBE-SEP-`` per endpoint;
hash = base32(sha256(...))[:16]. Shared chains collect one fragment per
service. ``plan_service`` is cached per service port by the proxier, so a
partial sync re-plans only what changed. Everything here is side-effect-free.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from svclab.proxy.endpoint import Endpoint
from svclab.proxy.naming import hash16
from svclab.proxy.options import NodeOptions
from svclab.proxy.service_port import ServicePort, ServicePortName
from svclab.proxy.topology import categorize_endpoints

__all__ = [
    "Chain",
    "IptablesEndpoint",
    "IptablesServicePort",
    "LARGE_CLUSTER_ENDPOINTS_THRESHOLD",
    "PlanOptions",
    "Ruleset",
    "ServiceRules",
    "assemble",
    "endpoint_chain_name",
    "is_large_cluster",
    "localhost_node_ports",
    "make_endpoint",
    "make_service_port",
    "plan",
    "plan_service",
    "service_chain_name",
    "shared_chains",
]

# Chains shared by every service (upstream names).
KUBE_SERVICES = "KUBE-SERVICES"  # nat: VIP dispatch; filter: REJECTs
KUBE_EXTERNAL_SERVICES = "KUBE-EXTERNAL-SERVICES"  # filter: external destinations w/o endpoints
KUBE_NODEPORTS = "KUBE-NODEPORTS"  # nat: NodePort dispatch; filter: HC ports
KUBE_POSTROUTING = "KUBE-POSTROUTING"  # nat: masquerade marked packets
KUBE_MARK_MASQ = "KUBE-MARK-MASQ"  # nat: set the masquerade mark
KUBE_FORWARD = "KUBE-FORWARD"  # filter: accept marked / established
KUBE_PROXY_FIREWALL = "KUBE-PROXY-FIREWALL"  # filter: loadBalancerSourceRanges drops
KUBE_FIREWALL = "KUBE-FIREWALL"  # filter: guard for route_localnet
KUBE_PROXY_CANARY = "KUBE-PROXY-CANARY"  # mangle/nat/filter: detects flushes
SERVICE_CHAIN_PREFIXES = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-")
MASQ_MARK = "0x4000"
#: above this many endpoints (all Services together) per-endpoint comments are left out (upstream's value)
LARGE_CLUSTER_ENDPOINTS_THRESHOLD = 1000
NFACCT_INVALID = "ct_state_invalid_dropped_pkts"
NFACCT_LOCALHOST_NODEPORTS = "localhost_nps_accepted_pkts"


def service_chain_name(prefix: str, port_name: ServicePortName) -> str:
    """e.g. ``KUBE-SVC-XPGD46QRK7WJZT7O`` for ``ns1/svc1:p80`` tcp."""
    return prefix + hash16(f"{port_name}{port_name.protocol.l4}")


def endpoint_chain_name(port_name: ServicePortName, endpoint: str) -> str:
    """e.g. ``KUBE-SEP-SXIVWICOYRO3J4NJ`` for ``ns1/svc1:p80`` tcp ``10.180.0.1:80``."""
    return "KUBE-SEP-" + hash16(f"{port_name}{port_name.protocol.l4}{endpoint}")


@dataclass(frozen=True, slots=True)
class IptablesServicePort(ServicePort):
    """ServicePort plus its precomputed chain names."""

    svc_chain: str = ""
    svl_chain: str = ""
    ext_chain: str = ""
    fw_chain: str = ""


@dataclass(frozen=True, slots=True)
class IptablesEndpoint(Endpoint):
    """Endpoint plus its ``KUBE-SEP-`` chain name."""

    chain: str = ""


def make_service_port(base: ServicePort) -> IptablesServicePort:
    """Factory for the service tracker (upstream ``newServiceInfo``)."""
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    return IptablesServicePort(
        **fields,
        svc_chain=service_chain_name("KUBE-SVC-", base.name),
        svl_chain=service_chain_name("KUBE-SVL-", base.name),
        ext_chain=service_chain_name("KUBE-EXT-", base.name),
        fw_chain=service_chain_name("KUBE-FW-", base.name),
    )


def make_endpoint(base: Endpoint, port_name: ServicePortName) -> IptablesEndpoint:
    """Factory for the endpoints tracker (upstream ``newEndpointInfo``)."""
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    return IptablesEndpoint(**fields, chain=endpoint_chain_name(port_name, str(base)))


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """Node-wide settings (upstream NewProxier arguments): the shared ``node`` ones, then this mode's.

    ``node.cluster_cidr`` drives the local-traffic detector (None: not
    implemented); ``node_port_addresses`` None means all local addresses
    (addrtype LOCAL). ``conntrack_tcp_be_liberal``: the kernel accepts
    out-of-window TCP segments, so the INVALID drop rule is not written.
    """

    node: NodeOptions = field(default_factory=NodeOptions)
    masquerade_random_fully: bool = False
    localhost_node_ports: bool = True
    nfacct: bool = False
    node_port_addresses: tuple[str, ...] | None = None
    conntrack_tcp_be_liberal: bool = False


def localhost_node_ports(opts: PlanOptions) -> bool:
    """Whether NodePorts answer on 127.0.0.0/8: asked for, an IPv4 proxier (route_localnet has no
    IPv6 twin), and loopback among the NodePort addresses (all local addresses include it), as
    upstream's NewProxier."""
    addresses = opts.node_port_addresses
    loopback = opts.node.facts.loopback
    return (
        opts.localhost_node_ports
        and opts.node.facts.localhost_node_ports
        and (addresses is None or any(_contains(loopback, ip) for ip in addresses))
    )


def is_large_cluster(endpoint_count: int) -> bool:
    """Upstream's large-cluster mode: per-endpoint comments cost more than they tell."""
    return endpoint_count > LARGE_CLUSTER_ENDPOINTS_THRESHOLD


@dataclass(frozen=True, slots=True)
class Chain:
    """One chain: table, name and its rules (argument strings without ``-A CHAIN``)."""

    table: str
    name: str
    rules: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ServiceRules:
    """One service port's contribution: fragments of shared chains plus own chains."""

    shared: tuple[tuple[str, str, str], ...]  # (table, chain, rule)
    chains: tuple[Chain, ...]


@dataclass(frozen=True, slots=True)
class Ruleset:
    """The complete desired filter and nat content, chains in output order."""

    chains: Mapping[tuple[str, str], Chain] = field(default_factory=dict)

    def table(self, table: str) -> list[Chain]:
        """Chains of one table in order."""
        return [c for (t, _), c in self.chains.items() if t == table]

    def render(self) -> str:
        """Full ``iptables-restore`` input for filter then nat."""
        out: list[str] = []
        for table in ("filter", "nat"):
            chains = self.table(table)
            out.append(f"*{table}")
            out.extend(f":{c.name} - [0:0]" for c in chains)
            out.extend(f"-A {c.name} {r}" for c in chains for r in c.rules)
            out.append("COMMIT")
        return "\n".join(out) + "\n"


def _q(text: str) -> str:
    return f'"{text}"' if " " in text else text


def _comment(text: str) -> str:
    return f"-m comment --comment {_q(text)}"


def _endpoint_comment(text: str, large_cluster: bool) -> str:
    """Upstream's ``appendServiceCommentLocked``: the comment plus a space, or nothing in a large cluster."""
    return "" if large_cluster else f"{_comment(text)} "


def _balance_rules(port: IptablesServicePort, endpoints: Sequence[Endpoint], large_cluster: bool) -> tuple[str, ...]:
    rules: list[str] = []
    eps = [ep for ep in endpoints if isinstance(ep, IptablesEndpoint)]
    if port.session_affinity_seconds:
        rules += [
            f"{_endpoint_comment(f'{port.name} -> {ep}', large_cluster)}-m recent --name {ep.chain} --rcheck "
            f"--seconds {port.session_affinity_seconds} --reap -j {ep.chain}"
            for ep in eps
        ]
    for i, ep in enumerate(eps):
        chance = "" if i == len(eps) - 1 else f"-m statistic --mode random --probability {1.0 / (len(eps) - i):0.10f} "
        rules.append(f"{_endpoint_comment(f'{port.name} -> {ep}', large_cluster)}{chance}-j {ep.chain}")
    return tuple(rules)


def _endpoint_chain(port: IptablesServicePort, ep: IptablesEndpoint, large_cluster: bool) -> Chain:
    proto = port.protocol.l4
    head = _endpoint_comment(str(port.name), large_cluster)
    affinity = f"-m recent --name {ep.chain} --set " if port.session_affinity_seconds else ""
    return Chain(
        "nat",
        ep.chain,
        (
            f"{head}-s {ep.ip} -j {KUBE_MARK_MASQ}",
            f"{head}{affinity}-m {proto} -p {proto} -j DNAT --to-destination {ep}",
        ),
    )


def _ext_chain(port: IptablesServicePort, opts: PlanOptions, has_external: bool, external_policy_chain: str) -> Chain:
    name = port.name
    rules: list[str] = []
    if not port.external_policy_local:
        rules.append(f"{_comment(f'masquerade traffic for {name} external destinations')} -j {KUBE_MARK_MASQ}")
    else:
        if opts.node.cluster_cidr:
            rules.append(
                f"{_comment(f'pod traffic for {name} external destinations')} "
                f"-s {opts.node.cluster_cidr} -j {port.svc_chain}"
            )
        rules.append(
            f"{_comment(f'masquerade LOCAL traffic for {name} external destinations')} "
            f"-m addrtype --src-type LOCAL -j {KUBE_MARK_MASQ}"
        )
        rules.append(
            f"{_comment(f'route LOCAL traffic for {name} external destinations')} "
            f"-m addrtype --src-type LOCAL -j {port.svc_chain}"
        )
    if has_external:
        rules.append(f"-j {external_policy_chain}")
    return Chain("nat", port.ext_chain, tuple(rules))


def _fw_chain(port: IptablesServicePort, opts: PlanOptions) -> Chain:
    head = _comment(f"{port.name} loadbalancer IP")
    rules = [f"{head} -s {cidr} -j {port.ext_chain}" for cidr in port.load_balancer_source_ranges]
    if opts.node.node_ip and any(_contains(cidr, opts.node.node_ip) for cidr in port.load_balancer_source_ranges):
        rules += [f"{head} -s {vip} -j {port.ext_chain}" for vip in port.load_balancer_vips]
    rules.append(_comment(f"other traffic to {port.name} will be dropped by {KUBE_PROXY_FIREWALL}"))
    return Chain("nat", port.fw_chain, tuple(rules))


def _contains(cidr: str, ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def _node_port_rules(port: IptablesServicePort, opts: PlanOptions, target: str) -> list[str]:
    proto = port.protocol.l4
    head = f"{_comment(str(port.name))} -m {proto} -p {proto}"
    rules = []
    if localhost_node_ports(opts) and opts.nfacct and "." in port.cluster_ip:
        rules.append(
            f"{head} -d 127.0.0.0/8 --dport {port.node_port} "
            f"-m nfacct --nfacct-name {NFACCT_LOCALHOST_NODEPORTS} -j {target}"
        )
    rules.append(f"{head} --dport {port.node_port} -j {target}")
    return rules


_Fragment = tuple[str, str, str]  # (table, shared chain, rule)


def _no_endpoint_verdict(port: IptablesServicePort, has_any: bool) -> tuple[str, str]:
    """Comment and target of a rule for traffic that has no (local) endpoint to go to."""
    if has_any:
        return _comment(f"{port.name} has no local endpoints"), "DROP"
    return _comment(f"{port.name} has no endpoints"), "REJECT"


def _external_address_rules(
    port: IptablesServicePort, *, has_any: bool, has_external: bool, uses_fw: bool
) -> list[_Fragment]:
    """This port's rules for its external and LoadBalancer IPs."""
    name, match = port.name, f"-m {port.protocol.l4} -p {port.protocol.l4}"
    head, target = _no_endpoint_verdict(port, has_any)
    out: list[_Fragment] = []
    for ip in port.external_ips:
        if has_any:
            rule = f"{_comment(f'{name} external IP')} {match} -d {ip} --dport {port.port} -j {port.ext_chain}"
            out.append(("nat", KUBE_SERVICES, rule))
        if not has_external:
            out.append(("filter", KUBE_EXTERNAL_SERVICES, f"{head} {match} -d {ip} --dport {port.port} -j {target}"))
    lb_target = port.fw_chain if uses_fw else port.ext_chain
    for ip in port.load_balancer_vips:
        if has_any:
            rule = f"{_comment(f'{name} loadbalancer IP')} {match} -d {ip} --dport {port.port} -j {lb_target}"
            out.append(("nat", KUBE_SERVICES, rule))
        if uses_fw:
            note = _comment(f"{name} traffic not accepted by {port.fw_chain}")
            out.append(("filter", KUBE_PROXY_FIREWALL, f"{note} {match} -d {ip} --dport {port.port} -j DROP"))
    if not has_external:
        out += [
            ("filter", KUBE_EXTERNAL_SERVICES, f"{head} {match} -d {ip} --dport {port.port} -j {target}")
            for ip in port.load_balancer_vips
        ]
    return out


def _node_port_fragments(
    port: IptablesServicePort, opts: PlanOptions, *, has_any: bool, has_external: bool
) -> list[_Fragment]:
    """This port's rules for its NodePort and health check port."""
    match = f"-m {port.protocol.l4} -p {port.protocol.l4}"
    head, target = _no_endpoint_verdict(port, has_any)
    out: list[_Fragment] = []
    if port.node_port:
        if has_any:
            out += [("nat", KUBE_NODEPORTS, r) for r in _node_port_rules(port, opts, port.ext_chain)]
        if not has_external:
            rule = f"{head} -m addrtype --dst-type LOCAL {match} --dport {port.node_port} -j {target}"
            out.append(("filter", KUBE_EXTERNAL_SERVICES, rule))
    if port.health_check_node_port:
        note = _comment(f"{port.name} health check node port")
        out.append(("filter", KUBE_NODEPORTS, f"{note} -m tcp -p tcp --dport {port.health_check_node_port} -j ACCEPT"))
    return out


def service_shared_rules(
    port: IptablesServicePort,
    opts: PlanOptions,
    *,
    has_any: bool,
    has_internal: bool,
    has_external: bool,
    internal_chain: str,
    uses_fw: bool,
) -> tuple[_Fragment, ...]:
    """This port's rules in the shared chains (KUBE-SERVICES, KUBE-NODEPORTS, ...)."""
    match = f"-m {port.protocol.l4} -p {port.protocol.l4}"
    destination = f"-d {port.cluster_ip} --dport {port.port}"
    if has_internal:
        rule = f"{_comment(f'{port.name} cluster IP')} {match} {destination} -j {internal_chain}"
        out: list[_Fragment] = [("nat", KUBE_SERVICES, rule)]
    else:
        head, target = _no_endpoint_verdict(port, has_any)
        out = [("filter", KUBE_SERVICES, f"{head} {match} {destination} -j {target}")]
    out += _external_address_rules(port, has_any=has_any, has_external=has_external, uses_fw=uses_fw)
    out += _node_port_fragments(port, opts, has_any=has_any, has_external=has_external)
    return tuple(out)


def static_rules(opts: PlanOptions) -> tuple[list[tuple[str, str]], dict[tuple[str, str], list[str]]]:
    """Chain order and the rules that do not depend on any service."""
    localhost = localhost_node_ports(opts)
    # KUBE-FIREWALL (kubelet's chain too) is declared, so flushed, only when we fill it, as upstream
    filter_chains = (KUBE_NODEPORTS, KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FIREWALL, KUBE_FORWARD)
    order = [("filter", c) for c in filter_chains + (KUBE_PROXY_FIREWALL,) if localhost or c != KUBE_FIREWALL]
    order += [("nat", c) for c in (KUBE_NODEPORTS, KUBE_SERVICES, KUBE_MARK_MASQ, KUBE_POSTROUTING)]
    nfacct = f" -m nfacct --nfacct-name {NFACCT_INVALID}" if opts.nfacct else ""
    invalid_drop = [] if opts.conntrack_tcp_be_liberal else [f"-m conntrack --ctstate INVALID{nfacct} -j DROP"]
    rules: dict[tuple[str, str], list[str]] = {
        ("filter", KUBE_FORWARD): [
            *invalid_drop,
            f"{_comment('kubernetes forwarding rules')} -m mark --mark {MASQ_MARK}/{MASQ_MARK} -j ACCEPT",
            f"{_comment('kubernetes forwarding conntrack rule')} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        ],
        ("nat", KUBE_MARK_MASQ): [f"-j MARK --or-mark {MASQ_MARK}"],
        ("nat", KUBE_POSTROUTING): [
            f"-m mark ! --mark {MASQ_MARK}/{MASQ_MARK} -j RETURN",
            f"-j MARK --xor-mark {MASQ_MARK}",
            f"{_comment('kubernetes service traffic requiring SNAT')} -j MASQUERADE"
            + (" --random-fully" if opts.masquerade_random_fully else ""),
        ],
    }
    if localhost:
        rules[("filter", KUBE_FIREWALL)] = [
            f"{_comment('block incoming localnet connections')} -d 127.0.0.0/8 ! -s 127.0.0.0/8 "
            "-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"
        ]
    note = _comment("kubernetes service nodeports; NOTE: this must be the last rule in this chain")
    loopback = opts.node.facts.loopback
    if opts.node_port_addresses is None:
        # without localhost NodePorts the kernel must not DNAT loopback: IPv4 without route_localnet,
        # IPv6 always (upstream writes ``! -d ::1/128`` there, never ``127.0.0.0/8``)
        guard = "" if localhost else f" ! -d {loopback}"
        rules[("nat", KUBE_SERVICES)] = [f"{note} -m addrtype --dst-type LOCAL{guard} -j {KUBE_NODEPORTS}"]
    else:
        # upstream keeps only this family's addresses, and skips loopback (with an error log) unless
        # localhost NodePorts are on
        family = opts.node.family
        addresses = [
            ip for ip in opts.node_port_addresses if family.owns(ip) and (localhost or not _contains(loopback, ip))
        ]
        rules[("nat", KUBE_SERVICES)] = [f"{note} -d {ip} -j {KUBE_NODEPORTS}" for ip in addresses]
    return order, rules


def plan_service(
    port: IptablesServicePort,
    endpoints: Sequence[Endpoint],
    opts: PlanOptions,
    node_labels: Mapping[str, str] | None = None,
    large_cluster: bool = False,
) -> ServiceRules:
    """Rules for one service port (upstream's per-service loop body). Side-effect-free.

    ``large_cluster`` (``is_large_cluster``) leaves out the per-endpoint comments."""
    cat = categorize_endpoints(endpoints, port, node_labels)
    has_internal = cat.has_any and not (port.internal_policy_local and not cat.local)
    has_external = cat.has_any and not (port.external_policy_local and not cat.local)
    internal_chain = port.svl_chain if port.internal_policy_local else port.svc_chain
    external_policy_chain = port.svl_chain if port.external_policy_local else port.svc_chain
    uses_fw = cat.has_any and bool(port.load_balancer_vips and port.load_balancer_source_ranges)
    shared = service_shared_rules(
        port,
        opts,
        has_any=cat.has_any,
        has_internal=has_internal,
        has_external=has_external,
        internal_chain=internal_chain,
        uses_fw=uses_fw,
    )
    chains: list[Chain] = []
    proto = port.protocol.l4
    if port.externally_accessible and cat.has_any:
        chains.append(_ext_chain(port, opts, has_external, external_policy_chain))
    if uses_fw:
        chains.append(_fw_chain(port, opts))
    masq_args = f"{_comment(f'{port.name} cluster IP')} -m {proto} -p {proto} -d {port.cluster_ip} --dport {port.port}"
    masq_rule: tuple[str, ...] = ()
    if has_internal and opts.node.masquerade_all:
        masq_rule = (f"{masq_args} -j {KUBE_MARK_MASQ}",)
    elif has_internal and opts.node.cluster_cidr:
        masq_rule = (f"{masq_args} ! -s {opts.node.cluster_cidr} -j {KUBE_MARK_MASQ}",)
    if cat.cluster and port.uses_cluster_endpoints:
        extra = masq_rule if internal_chain == port.svc_chain else ()
        chains.append(Chain("nat", port.svc_chain, extra + _balance_rules(port, cat.cluster, large_cluster)))
    if cat.local and port.uses_local_endpoints:
        extra = masq_rule if internal_chain == port.svl_chain else ()
        chains.append(Chain("nat", port.svl_chain, extra + _balance_rules(port, cat.local, large_cluster)))
    chains += [_endpoint_chain(port, ep, large_cluster) for ep in cat.all_reachable if isinstance(ep, IptablesEndpoint)]
    return ServiceRules(shared, tuple(chains))


def shared_chains(services: Sequence[ServiceRules], opts: PlanOptions) -> dict[tuple[str, str], Chain]:
    """The chains every service contributes to, plus the static ones, in output order."""
    order, static = static_rules(opts)
    fragments: dict[tuple[str, str], list[str]] = {key: [] for key in order}
    for svc in services:
        for table, chain_name, rule in svc.shared:
            fragments[(table, chain_name)].append(rule)
    for key, rules in static.items():
        # static rules go after the services' (the NodePort jump must be last)
        fragments[key] += rules
    return {key: Chain(key[0], key[1], tuple(fragments[key])) for key in order}


def assemble(services: Sequence[ServiceRules], opts: PlanOptions) -> Ruleset:
    """Combine per-service rules with the static chains into one ``Ruleset``."""
    chains = shared_chains(services, opts)
    for svc in services:
        for chain in svc.chains:
            chains[(chain.table, chain.name)] = chain
    return Ruleset(chains)


def plan(
    service_ports: Mapping[ServicePortName, ServicePort],
    endpoints: Mapping[ServicePortName, Sequence[Endpoint]],
    opts: PlanOptions,
    node_labels: Mapping[str, str] | None = None,
) -> Ruleset:
    """The whole desired ruleset for a proxy state. Side-effect-free."""
    large = is_large_cluster(sum(len(endpoints.get(name, ())) for name in service_ports))
    services = [
        plan_service(port, endpoints.get(name, ()), opts, node_labels, large)
        for name, port in sorted(service_ports.items())
        if isinstance(port, IptablesServicePort)
    ]
    return assemble(services, opts)
