"""The iptables mode's registry entry (``svclab.proxy.modes``): builder, cleanup, dump, colour."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from svclab.proxy.adapters.errors import IptablesRestoreError
from svclab.proxy.adapters.iptables import SubprocessIptables, iptables_unusable
from svclab.proxy.adapters.nfacct import NetlinkNfacct
from svclab.proxy.family import facts
from svclab.proxy.iptables.accounting import NfacctCollector, prepare
from svclab.proxy.iptables.dump import IptablesDump
from svclab.proxy.iptables.plan import PlanOptions
from svclab.proxy.iptables.proxier import IptablesProxier
from svclab.proxy.modes import IPTABLES_RULE_METRICS, ModeSpec
from svclab.proxy.options import NodeOptions
from svclab.proxy.service_port import IPFamily

__all__ = ["MODE", "build", "cleanup", "conntrack_tcp_be_liberal", "family_unusable"]

log = logging.getLogger(__name__)
BE_LIBERAL_SYSCTL = Path("/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal")


def conntrack_tcp_be_liberal(requested: bool, sysctl: Path = BE_LIBERAL_SYSCTL) -> bool:
    """Whether conntrack accepts out-of-window TCP segments in this network namespace.

    ``requested`` (``--conntrack-tcp-be-liberal``) sets the sysctl first, as
    kube-proxy's ``conntrack.tcpBeLiberal``; the proxier then reads it, as
    upstream's NewProxier: when set, no rule drops INVALID packets."""
    try:
        if requested and sysctl.read_text().strip() != "1":
            sysctl.write_text("1\n")
        return sysctl.read_text().strip() not in ("", "0")
    except OSError as exc:  # no conntrack module loaded, or not allowed
        log.warning("event=sysctl_unavailable path=%s error=%s", sysctl, exc)
        return False


def build(node: NodeOptions, args: argparse.Namespace) -> IptablesProxier:
    """The backend programming this node's iptables (``ip6tables`` for an IPv6 proxier)."""
    liberal = conntrack_tcp_be_liberal(getattr(args, "conntrack_tcp_be_liberal", False))
    nfacct = NetlinkNfacct()
    counted = prepare(nfacct)  # the -m nfacct matches only where the objects exist
    return IptablesProxier(
        SubprocessIptables(binary=node.facts.iptables),
        PlanOptions(node=node, conntrack_tcp_be_liberal=liberal, nfacct=counted),
        # one family's proxier reports the counters: both families' rules count in the same objects
        collectors=(NfacctCollector(nfacct),) if counted and node.family is IPFamily.IPV4 else (),
    )


def cleanup() -> None:
    """Remove our jumps, chains and canaries of both families (``svclab proxy --cleanup``), as
    upstream's CleanupLeftovers; a host without ip6tables has no IPv6 rules to remove."""
    build(NodeOptions(), argparse.Namespace()).cleanup()
    try:
        build(NodeOptions(family=IPFamily.IPV6), argparse.Namespace()).cleanup()
    except (OSError, IptablesRestoreError) as exc:
        log.info("event=cleanup_skipped family=IPv6 reason=%s", exc)


def family_unusable(family: IPFamily) -> str | None:
    """Why this host's {iptables,ip6tables} cannot hold ``family``'s rules (None: it can)."""
    return iptables_unusable(facts(family).iptables)


MODE = ModeSpec(
    family_unusable=family_unusable,
    name="iptables",
    build=build,
    cleanup=cleanup,
    rules_dump=IptablesDump(),
    metrics=IPTABLES_RULE_METRICS,
    families=(IPFamily.IPV4, IPFamily.IPV6),
    colour="#2563eb",
)
