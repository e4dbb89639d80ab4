"""The ipsets of the ipvs mode (upstream ``pkg/proxy/ipvs/ipset.go``) and ``ipset restore`` text.

Names, types and comments are upstream's; the comments also label the
iptables rules that match each set. ``restore_text`` turns a desired list of
sets into one ``ipset restore`` script: on a full sync every set is created
(``-exist``), flushed and refilled; otherwise only the entries that changed
since the previous sync are added or deleted. ``changes_text`` writes the
same add/del lines from changes already known (the incremental planner's), so
a partial sync need not compare whole sets.

The IPv6 proxier keeps its own sets beside the IPv4 one's (upstream
``NewIPSet``): the same specs, ``family inet6``, and each name's ``KUBE-``
prefix turned into ``KUBE-6-``, cut to ipset's 31-character limit
(``family_set_name``; ``KUBE-6-LOAD-BALANCER-SOURCE-CID``). Planning keys
sets by their IPv4 (spec) name; only the text written for the kernel, here
and in ``rules.py``, uses the family's name. Everything here is
side-effect-free.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from svclab.proxy.family import facts
from svclab.proxy.service_port import IPFamily, Protocol

__all__ = [
    "IPSET_SPECS",
    "IpSet",
    "IpSetSpec",
    "IpSetType",
    "KUBE_CLUSTER_IP",
    "KUBE_EXTERNAL_IP",
    "KUBE_EXTERNAL_IP_LOCAL",
    "KUBE_HEALTH_CHECK_NODE_PORT",
    "KUBE_IPVS_IPS",
    "KUBE_LOAD_BALANCER",
    "KUBE_LOAD_BALANCER_FW",
    "KUBE_LOAD_BALANCER_LOCAL",
    "KUBE_LOAD_BALANCER_SOURCE_CIDR",
    "KUBE_LOAD_BALANCER_SOURCE_IP",
    "KUBE_LOOP_BACK",
    "KUBE_NODE_PORT_LOCAL_SCTP",
    "KUBE_NODE_PORT_LOCAL_TCP",
    "KUBE_NODE_PORT_LOCAL_UDP",
    "KUBE_NODE_PORT_SCTP",
    "KUBE_NODE_PORT_TCP",
    "KUBE_NODE_PORT_UDP",
    "MAX_SET_NAME",
    "NODE_PORT_LOCAL_SETS",
    "NODE_PORT_SETS",
    "changes_text",
    "family_set_name",
    "restore_text",
    "sorted_entries",
]

# Set names (upstream constants); each spec below carries upstream's comment.
KUBE_LOOP_BACK = "KUBE-LOOP-BACK"
KUBE_CLUSTER_IP = "KUBE-CLUSTER-IP"
KUBE_EXTERNAL_IP = "KUBE-EXTERNAL-IP"
KUBE_EXTERNAL_IP_LOCAL = "KUBE-EXTERNAL-IP-LOCAL"
KUBE_LOAD_BALANCER = "KUBE-LOAD-BALANCER"
KUBE_LOAD_BALANCER_FW = "KUBE-LOAD-BALANCER-FW"
KUBE_LOAD_BALANCER_LOCAL = "KUBE-LOAD-BALANCER-LOCAL"
KUBE_LOAD_BALANCER_SOURCE_IP = "KUBE-LOAD-BALANCER-SOURCE-IP"
KUBE_LOAD_BALANCER_SOURCE_CIDR = "KUBE-LOAD-BALANCER-SOURCE-CIDR"
KUBE_NODE_PORT_TCP = "KUBE-NODE-PORT-TCP"
KUBE_NODE_PORT_LOCAL_TCP = "KUBE-NODE-PORT-LOCAL-TCP"
KUBE_NODE_PORT_UDP = "KUBE-NODE-PORT-UDP"
KUBE_NODE_PORT_LOCAL_UDP = "KUBE-NODE-PORT-LOCAL-UDP"
KUBE_NODE_PORT_SCTP = "KUBE-NODE-PORT-SCTP-HASH"
KUBE_NODE_PORT_LOCAL_SCTP = "KUBE-NODE-PORT-LOCAL-SCTP-HASH"
KUBE_HEALTH_CHECK_NODE_PORT = "KUBE-HEALTH-CHECK-NODE-PORT"
KUBE_IPVS_IPS = "KUBE-IPVS-IPS"


#: ipset's limit on a set name (IPSET_MAXNAMELEN - 1)
MAX_SET_NAME = 31


def family_set_name(name: str, family: IPFamily) -> str:
    """The kernel name of set ``name`` for ``family``'s proxier (upstream ``NewIPSet``). Side-effect-free."""
    if family is IPFamily.IPV4 or not name.startswith("KUBE-"):
        return name
    return ("KUBE-6-" + name.removeprefix("KUBE-"))[:MAX_SET_NAME]


class IpSetType(str, enum.Enum):
    """ipset types used by the ipvs mode."""

    HASH_IP = "hash:ip"
    HASH_IP_PORT = "hash:ip,port"
    HASH_IP_PORT_IP = "hash:ip,port,ip"
    HASH_IP_PORT_NET = "hash:ip,port,net"
    BITMAP_PORT = "bitmap:port"


@dataclass(frozen=True, slots=True)
class IpSetSpec:
    """Name, type and comment of one set."""

    name: str
    set_type: IpSetType
    comment: str

    def create_line(self, family: IPFamily = IPFamily.IPV4) -> str:
        """The ``ipset restore`` line creating this set for ``family``'s proxier (upstream defaults;
        a ``bitmap:port`` set has no address family, only its name differs)."""
        name = family_set_name(self.name, family)
        if self.set_type is IpSetType.BITMAP_PORT:
            return f"create {name} {self.set_type.value} range 0-65535 comment -exist"
        inet = facts(family).ipset_family
        return f"create {name} {self.set_type.value} family {inet} hashsize 1024 maxelem 65536 comment -exist"


IPSET_SPECS: tuple[IpSetSpec, ...] = (
    IpSetSpec(
        KUBE_LOOP_BACK,
        IpSetType.HASH_IP_PORT_IP,
        "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose",
    ),
    IpSetSpec(KUBE_CLUSTER_IP, IpSetType.HASH_IP_PORT, "Kubernetes service cluster ip + port for masquerade purpose"),
    IpSetSpec(
        KUBE_EXTERNAL_IP,
        IpSetType.HASH_IP_PORT,
        "Kubernetes service external ip + port for masquerade and filter purpose",
    ),
    IpSetSpec(
        KUBE_EXTERNAL_IP_LOCAL,
        IpSetType.HASH_IP_PORT,
        "Kubernetes service external ip + port with externalTrafficPolicy=local",
    ),
    IpSetSpec(KUBE_LOAD_BALANCER, IpSetType.HASH_IP_PORT, "Kubernetes service lb portal"),
    IpSetSpec(
        KUBE_LOAD_BALANCER_FW,
        IpSetType.HASH_IP_PORT,
        "Kubernetes service load balancer ip + port for load balancer with sourceRange",
    ),
    IpSetSpec(
        KUBE_LOAD_BALANCER_LOCAL,
        IpSetType.HASH_IP_PORT,
        "Kubernetes service load balancer ip + port with externalTrafficPolicy=local",
    ),
    IpSetSpec(
        KUBE_LOAD_BALANCER_SOURCE_IP,
        IpSetType.HASH_IP_PORT_IP,
        "Kubernetes service load balancer ip + port + source IP for packet filter purpose",
    ),
    IpSetSpec(
        KUBE_LOAD_BALANCER_SOURCE_CIDR,
        IpSetType.HASH_IP_PORT_NET,
        "Kubernetes service load balancer ip + port + source cidr for packet filter purpose",
    ),
    IpSetSpec(KUBE_NODE_PORT_TCP, IpSetType.BITMAP_PORT, "Kubernetes nodeport TCP port for masquerade purpose"),
    IpSetSpec(
        KUBE_NODE_PORT_LOCAL_TCP, IpSetType.BITMAP_PORT, "Kubernetes nodeport TCP port with externalTrafficPolicy=local"
    ),
    IpSetSpec(KUBE_NODE_PORT_UDP, IpSetType.BITMAP_PORT, "Kubernetes nodeport UDP port for masquerade purpose"),
    IpSetSpec(
        KUBE_NODE_PORT_LOCAL_UDP, IpSetType.BITMAP_PORT, "Kubernetes nodeport UDP port with externalTrafficPolicy=local"
    ),
    IpSetSpec(
        KUBE_NODE_PORT_SCTP,
        IpSetType.HASH_IP_PORT,
        "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'",
    ),
    IpSetSpec(
        KUBE_NODE_PORT_LOCAL_SCTP,
        IpSetType.HASH_IP_PORT,
        "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'",
    ),
    IpSetSpec(KUBE_HEALTH_CHECK_NODE_PORT, IpSetType.BITMAP_PORT, "Kubernetes health check node port"),
    IpSetSpec(KUBE_IPVS_IPS, IpSetType.HASH_IP, "Addresses on the ipvs interface"),
)
SPECS_BY_NAME = {spec.name: spec for spec in IPSET_SPECS}
NODE_PORT_SETS = {
    Protocol.TCP: KUBE_NODE_PORT_TCP,
    Protocol.UDP: KUBE_NODE_PORT_UDP,
    Protocol.SCTP: KUBE_NODE_PORT_SCTP,
}
NODE_PORT_LOCAL_SETS = {
    Protocol.TCP: KUBE_NODE_PORT_LOCAL_TCP,
    Protocol.UDP: KUBE_NODE_PORT_LOCAL_UDP,
    Protocol.SCTP: KUBE_NODE_PORT_LOCAL_SCTP,
}


@dataclass(frozen=True, slots=True)
class IpSet:
    """One set with the entries it should hold."""

    spec: IpSetSpec
    entries: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.spec.name

    def sorted_entries(self) -> list[str]:
        """Entries in a stable order (numeric for ports)."""
        return sorted_entries(self.entries)


def sorted_entries(entries: Set[str]) -> list[str]:
    """``entries`` in a stable order (numeric for ports). Side-effect-free."""
    return sorted(entries, key=lambda e: (len(e), e) if e.isdigit() else (0, e))


def _change_lines(name: str, gone: Set[str], new: Set[str]) -> list[str]:
    """``name`` is the kernel's (family) name."""
    return [f"del {name} {e} -exist" for e in sorted_entries(gone)] + [
        f"add {name} {e} -exist" for e in sorted_entries(new)
    ]


def changes_text(changes: Mapping[str, tuple[Set[str], Set[str]]], family: IPFamily = IPFamily.IPV4) -> str:
    """``ipset restore`` lines for known (gone, new) entries per set (spec) name, for ``family``'s
    sets. Side-effect-free.

    Sets come in ``IPSET_SPECS`` order, as ``restore_text`` writes them; returns
    "" when nothing changed.
    """
    lines: list[str] = []
    for spec in IPSET_SPECS:
        if spec.name in changes:
            lines += _change_lines(family_set_name(spec.name, family), *changes[spec.name])
    return "\n".join(lines) + "\n" if lines else ""


def restore_text(desired: Sequence[IpSet], previous: Sequence[IpSet] | None, family: IPFamily = IPFamily.IPV4) -> str:
    """One ``ipset restore`` script for ``family``'s sets; ``previous`` None means a full rewrite.
    Side-effect-free.

    Returns "" when nothing changed.
    """
    old = {s.name: s.entries for s in previous} if previous is not None else None
    lines: list[str] = []
    for ipset in desired:
        name = family_set_name(ipset.name, family)
        if old is None or ipset.name not in old:
            lines += [ipset.spec.create_line(family), f"flush {name}"]
            lines += [f"add {name} {e}" for e in ipset.sorted_entries()]
            continue
        lines += _change_lines(name, old[ipset.name] - ipset.entries, ipset.entries - old[ipset.name])
    return "\n".join(lines) + "\n" if lines else ""
