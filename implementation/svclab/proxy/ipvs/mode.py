"""The ipvs mode's registry entry (``svclab.proxy.modes``): builder, cleanup, kernel check, dump, colour.

The host kernel may lack IPVS (``kernel.ipvs_missing``); the mode then says
so, and a User-Mode Linux guest can run it (``uml_fallback``); ``svclab proxy``
itself falls back to the iptables mode then (``fallback``), as kube-proxy did.
Both families have a proxier (upstream ``NewDualStackProxier``): the IPv6 one
programs ``ip6tables`` and its ``KUBE-6-`` ipsets, and shares IPVS and the
dummy device with the IPv4 one.
"""

from __future__ import annotations

import argparse
import logging

from svclab.proxy.adapters.ipset import SubprocessIpset
from svclab.proxy.adapters.iptables import SubprocessIptables, iptables_unusable
from svclab.proxy.adapters.ipvs_netlink import NetlinkIpvs
from svclab.proxy.family import facts
from svclab.proxy.ipvs.dump import IpvsDump
from svclab.proxy.ipvs.kernel import iptables_binary, ipvs_missing
from svclab.proxy.ipvs.plan import DEFAULT_SCHEDULER, IpvsOptions
from svclab.proxy.ipvs.proxier import IpvsProxier
from svclab.proxy.modes import IPTABLES_RULE_METRICS, ModeSpec
from svclab.proxy.options import NodeOptions
from svclab.proxy.service_port import IPFamily

__all__ = ["MODE", "SCHEDULERS", "add_arguments", "build", "cleanup", "family_unusable"]

log = logging.getLogger(__name__)

#: ipvs schedulers the kernel ships (ip_vs_*.ko); kube-proxy passes the name through.
SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The mode's own ``svclab proxy`` flag."""
    parser.add_argument("--ipvs-scheduler", default=DEFAULT_SCHEDULER, help="ipvs mode: the IPVS scheduler")


def build(node: NodeOptions, args: argparse.Namespace) -> IpvsProxier:
    """The backend programming IPVS, ipsets and iptables (``ip6tables`` for an IPv6 proxier) here;
    needs a kernel with IPVS."""
    return IpvsProxier(
        ipvs=NetlinkIpvs(),
        iptables=SubprocessIptables(binary=iptables_binary(base=node.facts.iptables)),
        ipset=SubprocessIpset(),
        options=IpvsOptions(node=node, scheduler=getattr(args, "ipvs_scheduler", DEFAULT_SCHEDULER)),
    )


def cleanup() -> None:
    """Remove virtual servers, the dummy device, our chains, jumps and ipsets of both families
    (``--cleanup``); a host without ip6tables has no IPv6 rules to remove."""
    build(NodeOptions(), argparse.Namespace()).cleanup()
    try:
        build(NodeOptions(family=IPFamily.IPV6), argparse.Namespace()).cleanup()
    except OSError as exc:
        log.info("event=cleanup_skipped family=IPv6 reason=%s", exc)


def family_unusable(family: IPFamily) -> str | None:
    """Why this host's {iptables,ip6tables} cannot hold ``family``'s rules (None: it can)."""
    return iptables_unusable(iptables_binary(base=facts(family).iptables))


MODE = ModeSpec(
    family_unusable=family_unusable,
    name="ipvs",
    build=build,
    cleanup=cleanup,
    rules_dump=IpvsDump(),
    supported=ipvs_missing,
    uml_fallback=True,
    fallback="iptables",
    add_arguments=add_arguments,
    schedulers=SCHEDULERS,
    metrics=IPTABLES_RULE_METRICS,
    colour="#d97706",
    families=(IPFamily.IPV4, IPFamily.IPV6),
)
