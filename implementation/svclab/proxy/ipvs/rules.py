"""The iptables rules of the ipvs mode (upstream ``writeIptablesRules``).

Unlike the iptables mode, these rules do not name Services: they match the
ipsets, so their size is constant. A rule that matches a set is written only
when the set is non-empty, as upstream does (``KUBE-IPVS-FILTER`` matches its
sets unconditionally). Services without endpoints need no rule here: their
virtual server has no real server, so IPVS lets the packet through to the
node's own stack, where nothing listens on the VIP (bound on ``kube-ipvs0``)
and the client gets a TCP reset ("connection refused"), while
``KUBE-IPVS-FILTER`` rejects new connections to VIP ports that are not
services (kubernetes#72236). The IPv6 proxier writes the same rules through
``ip6tables``, with its own sets' names (``ipsets.family_set_name``) and
``::1/128`` as the loopback source that ``KUBE-SERVICES`` lets through
(upstream ``writeIptablesRules``). Everything here is side-effect-free.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from svclab.proxy.adapters.iptables import Rule
from svclab.proxy.family import facts
from svclab.proxy.ipvs.ipsets import (
    KUBE_CLUSTER_IP,
    KUBE_EXTERNAL_IP,
    KUBE_EXTERNAL_IP_LOCAL,
    KUBE_HEALTH_CHECK_NODE_PORT,
    KUBE_IPVS_IPS,
    KUBE_LOAD_BALANCER_FW,
    KUBE_LOAD_BALANCER_LOCAL,
    KUBE_LOAD_BALANCER_SOURCE_CIDR,
    KUBE_LOAD_BALANCER_SOURCE_IP,
    KUBE_LOOP_BACK,
    KUBE_NODE_PORT_LOCAL_SCTP,
    KUBE_NODE_PORT_LOCAL_TCP,
    KUBE_NODE_PORT_LOCAL_UDP,
    KUBE_NODE_PORT_SCTP,
    KUBE_NODE_PORT_TCP,
    KUBE_NODE_PORT_UDP,
    SPECS_BY_NAME,
    family_set_name,
)
from svclab.proxy.service_port import IPFamily

__all__ = ["CHAINS", "JUMP_RULES", "LbNoNodeAccess", "RuleOptions", "render_iptables"]

# Chains (upstream names).
KUBE_SERVICES = "KUBE-SERVICES"  # nat: set matches, masquerade marks
KUBE_POSTROUTING = "KUBE-POSTROUTING"  # nat: masquerade marked and hairpin packets
KUBE_NODE_PORT = "KUBE-NODE-PORT"  # nat: NodePort marks; filter: health checks
KUBE_LOAD_BALANCER = "KUBE-LOAD-BALANCER"  # nat: LoadBalancer IP marks
KUBE_MARK_MASQ = "KUBE-MARK-MASQ"  # nat: set the masquerade mark
KUBE_FORWARD = "KUBE-FORWARD"  # filter: accept marked / established
KUBE_PROXY_FIREWALL = "KUBE-PROXY-FIREWALL"  # filter: LoadBalancer source ranges
KUBE_SOURCE_RANGES_FIREWALL = "KUBE-SOURCE-RANGES-FIREWALL"  # filter: the allowed sources
KUBE_IPVS_FILTER = "KUBE-IPVS-FILTER"  # filter: no host ports via VIPs (k8s#72236)
KUBE_IPVS_OUT_FILTER = "KUBE-IPVS-OUT-FILTER"  # filter: node -> LB IP it may not use (k8s#119656)

#: Chains per table, in upstream's order.
CHAINS: dict[str, tuple[str, ...]] = {
    "nat": (KUBE_SERVICES, KUBE_POSTROUTING, KUBE_NODE_PORT, KUBE_LOAD_BALANCER, KUBE_MARK_MASQ),
    "filter": (
        KUBE_FORWARD,
        KUBE_NODE_PORT,
        KUBE_PROXY_FIREWALL,
        KUBE_SOURCE_RANGES_FIREWALL,
        KUBE_IPVS_FILTER,
        KUBE_IPVS_OUT_FILTER,
    ),
}


def _jump(target: str, comment: str) -> str:
    return f'-m comment --comment "{comment}" -j {target}'


#: Jumps from built-in chains into ours, as (table, from, rule) (upstream ``iptablesJumpChain``).
JUMP_RULES: tuple[Rule, ...] = (
    ("nat", "OUTPUT", _jump(KUBE_SERVICES, "kubernetes service portals")),
    ("nat", "PREROUTING", _jump(KUBE_SERVICES, "kubernetes service portals")),
    ("nat", "POSTROUTING", _jump(KUBE_POSTROUTING, "kubernetes postrouting rules")),
    ("filter", "FORWARD", _jump(KUBE_FORWARD, "kubernetes forwarding rules")),
    ("filter", "INPUT", _jump(KUBE_NODE_PORT, "kubernetes health check rules")),
    ("filter", "INPUT", _jump(KUBE_PROXY_FIREWALL, "kube-proxy firewall rules")),
    ("filter", "FORWARD", _jump(KUBE_PROXY_FIREWALL, "kube-proxy firewall rules")),
    ("filter", "INPUT", _jump(KUBE_IPVS_FILTER, "kubernetes ipvs access filter")),
    ("filter", "OUTPUT", _jump(KUBE_IPVS_OUT_FILTER, "kubernetes ipvs access filter")),
)

# (set, table, chain, target, match type, protocol) upstream ``ipsetWithIptablesChain``;
# the Local NodePort sets must come before the plain ones.
_SET_JUMPS: tuple[tuple[str, str, str, str, str, str], ...] = (
    (KUBE_LOOP_BACK, "nat", KUBE_POSTROUTING, "MASQUERADE", "dst,dst,src", ""),
    (KUBE_LOAD_BALANCER, "nat", KUBE_SERVICES, KUBE_LOAD_BALANCER, "dst,dst", ""),
    (KUBE_LOAD_BALANCER_LOCAL, "nat", KUBE_LOAD_BALANCER, "RETURN", "dst,dst", ""),
    (KUBE_NODE_PORT_LOCAL_TCP, "nat", KUBE_NODE_PORT, "RETURN", "dst", "tcp"),
    (KUBE_NODE_PORT_TCP, "nat", KUBE_NODE_PORT, KUBE_MARK_MASQ, "dst", "tcp"),
    (KUBE_NODE_PORT_LOCAL_UDP, "nat", KUBE_NODE_PORT, "RETURN", "dst", "udp"),
    (KUBE_NODE_PORT_UDP, "nat", KUBE_NODE_PORT, KUBE_MARK_MASQ, "dst", "udp"),
    (KUBE_NODE_PORT_LOCAL_SCTP, "nat", KUBE_NODE_PORT, "RETURN", "dst,dst", "sctp"),
    (KUBE_NODE_PORT_SCTP, "nat", KUBE_NODE_PORT, KUBE_MARK_MASQ, "dst,dst", "sctp"),
    (KUBE_LOAD_BALANCER_FW, "filter", KUBE_PROXY_FIREWALL, KUBE_SOURCE_RANGES_FIREWALL, "dst,dst", ""),
    (KUBE_LOAD_BALANCER_SOURCE_CIDR, "filter", KUBE_SOURCE_RANGES_FIREWALL, "RETURN", "dst,dst,src", ""),
    (KUBE_LOAD_BALANCER_SOURCE_IP, "filter", KUBE_SOURCE_RANGES_FIREWALL, "RETURN", "dst,dst,src", ""),
)


@dataclass(frozen=True, slots=True)
class RuleOptions:
    """What the rules depend on besides which sets are non-empty."""

    masquerade_all: bool = False
    cluster_cidr: str | None = None
    masquerade_mark: str = "0x4000"
    random_fully: bool = False
    family: IPFamily = IPFamily.IPV4


@dataclass(frozen=True, slots=True, order=True)
class LbNoNodeAccess:
    """A LoadBalancer IP:port whose source ranges exclude the node itself."""

    ip: str
    protocol: str
    port: int


def _comment(set_name: str) -> str:
    return f'-m comment --comment "{SPECS_BY_NAME[set_name].comment}"'


def _matcher(family: IPFamily) -> Callable[[str, str], str]:
    """``match(set, type)``: the ``-m set`` match of ``family``'s set with that spec name."""

    def match(set_name: str, match_type: str) -> str:
        return f"-m set --match-set {family_set_name(set_name, family)} {match_type}"

    return match


def _service_rules(nonempty: set[str], opts: RuleOptions) -> list[str]:
    set_match = _matcher(opts.family)
    nat = [f"-A {KUBE_SERVICES} -s {facts(opts.family).loopback} -j RETURN"]
    for name, table, chain, target, match_type, proto in _SET_JUMPS:
        if table == "nat" and name in nonempty:
            proto_arg = f"-p {proto} " if proto else ""
            nat.append(f"-A {chain} {proto_arg}{_comment(name)} {set_match(name, match_type)} -j {target}")
    if KUBE_CLUSTER_IP in nonempty:
        head = f"-A {KUBE_SERVICES} {_comment(KUBE_CLUSTER_IP)} -m set --match-set"
        head += f" {family_set_name(KUBE_CLUSTER_IP, opts.family)}"
        if opts.masquerade_all:
            nat.append(f"{head} dst,dst -j {KUBE_MARK_MASQ}")
        elif opts.cluster_cidr:
            # off-cluster clients of a VIP may be routed here from outside: masquerade them
            nat.append(f"{head} dst,dst ! -s {opts.cluster_cidr} -j {KUBE_MARK_MASQ}")
        else:
            # without a local-traffic detector: masquerade node traffic sourced from a VIP
            nat.append(f"{head} src,dst -j {KUBE_MARK_MASQ}")
    for name in (KUBE_EXTERNAL_IP, KUBE_EXTERNAL_IP_LOCAL):
        if name not in nonempty:
            continue
        head = f"-A {KUBE_SERVICES} {_comment(name)} {set_match(name, 'dst,dst')}"
        if name == KUBE_EXTERNAL_IP:
            nat.append(f"{head} -j {KUBE_MARK_MASQ}")
        nat.append(f"{head} -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT")
        nat.append(f"{head} -m addrtype --dst-type LOCAL -j ACCEPT")
    nat.append(f"-A {KUBE_SERVICES} -m addrtype --dst-type LOCAL -j {KUBE_NODE_PORT}")
    nat.append(f"-A {KUBE_LOAD_BALANCER} -j {KUBE_MARK_MASQ}")
    # accept IPVS traffic last, in case other rules would block it
    nat += [
        f"-A {KUBE_SERVICES} {set_match(name, 'dst,dst')} -j ACCEPT"
        for name in (KUBE_CLUSTER_IP, KUBE_LOAD_BALANCER)
        if name in nonempty
    ]
    mark = f"{opts.masquerade_mark}/{opts.masquerade_mark}"
    nat += [
        f"-A {KUBE_POSTROUTING} -m mark ! --mark {mark} -j RETURN",
        f"-A {KUBE_POSTROUTING} -j MARK --xor-mark {opts.masquerade_mark}",
        f'-A {KUBE_POSTROUTING} -m comment --comment "kubernetes service traffic requiring SNAT" '
        f"-j MASQUERADE" + (" --random-fully" if opts.random_fully else ""),
        f"-A {KUBE_MARK_MASQ} -j MARK --or-mark {opts.masquerade_mark}",
    ]
    return nat


def _filter_rules(nonempty: set[str], opts: RuleOptions, no_node_access: Iterable[LbNoNodeAccess]) -> list[str]:
    set_match = _matcher(opts.family)
    rules = [
        f"-A {chain} {_comment(name)} {set_match(name, match_type)} -j {target}"
        for name, table, chain, target, match_type, _ in _SET_JUMPS
        if table == "filter" and name in nonempty
    ]
    rules.append(f"-A {KUBE_SOURCE_RANGES_FIREWALL} -j DROP")
    rules += [
        f"-A {KUBE_IPVS_OUT_FILTER} -s {e.ip} -m ipvs --vaddr {e.ip} --vproto {e.protocol} --vport {e.port} -j DROP"
        for e in no_node_access
    ]
    mark = f"{opts.masquerade_mark}/{opts.masquerade_mark}"
    rules += [
        f'-A {KUBE_FORWARD} -m comment --comment "kubernetes forwarding rules" -m mark --mark {mark} -j ACCEPT',
        f'-A {KUBE_FORWARD} -m comment --comment "kubernetes forwarding conntrack rule" '
        "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        f"-A {KUBE_NODE_PORT} {_comment(KUBE_HEALTH_CHECK_NODE_PORT)} "
        f"{set_match(KUBE_HEALTH_CHECK_NODE_PORT, 'dst')} -j ACCEPT",
    ]
    rules += [
        f"-A {KUBE_IPVS_FILTER} {set_match(name, 'dst,dst')} -j RETURN"
        for name in (KUBE_LOAD_BALANCER, KUBE_CLUSTER_IP, KUBE_EXTERNAL_IP, KUBE_EXTERNAL_IP_LOCAL)
    ]
    rules += [
        f"-A {KUBE_IPVS_FILTER} {set_match(KUBE_HEALTH_CHECK_NODE_PORT, 'dst')} -j RETURN",
        f"-A {KUBE_IPVS_FILTER} -m conntrack --ctstate NEW {set_match(KUBE_IPVS_IPS, 'dst')} -j REJECT",
    ]
    return rules


def render_iptables(nonempty_sets: set[str], opts: RuleOptions, no_node_access: Iterable[LbNoNodeAccess] = ()) -> str:
    """``iptables-restore --noflush`` input for nat then filter. Side-effect-free.

    Declaring each chain flushes it, so the text replaces our chains whole.
    """
    out: list[str] = []
    bodies = {"nat": _service_rules(nonempty_sets, opts), "filter": _filter_rules(nonempty_sets, opts, no_node_access)}
    for table in ("nat", "filter"):
        out.append(f"*{table}")
        out += [f":{chain} - [0:0]" for chain in CHAINS[table]]
        out += bodies[table]
        out.append("COMMIT")
    return "\n".join(out) + "\n"
