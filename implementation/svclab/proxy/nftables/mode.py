"""The nftables mode's registry entry (``svclab.proxy.modes``): builder, cleanup, dump, metrics, colour."""

from __future__ import annotations

import argparse

from svclab.proxy.adapters.nft import SubprocessNft
from svclab.proxy.modes import NFTABLES_RULE_METRICS, ModeSpec
from svclab.proxy.nftables.dump import NftDump
from svclab.proxy.nftables.plan import TABLE, NftOptions
from svclab.proxy.nftables.proxier import NftablesProxier
from svclab.proxy.options import NodeOptions
from svclab.proxy.service_port import IPFamily

__all__ = ["MODE", "build", "cleanup"]


def build(node: NodeOptions, args: argparse.Namespace) -> NftablesProxier:
    """The backend programming this node's ``ip kube-proxy`` table (``ip6 kube-proxy`` for an IPv6
    proxier); NodePorts on the node's IPs of that family."""
    return NftablesProxier(
        SubprocessNft(TABLE, family=node.facts.nft_family),
        NftOptions(node=node, node_port_ips=node.node_ips),
    )


def cleanup() -> None:
    """Delete our table of each family (``svclab proxy --cleanup``), as upstream's CleanupLeftovers."""
    for family in IPFamily:
        build(NodeOptions(family=family), argparse.Namespace()).cleanup()


MODE = ModeSpec(
    name="nftables",
    build=build,
    cleanup=cleanup,
    rules_dump=NftDump(),
    metrics=NFTABLES_RULE_METRICS,
    families=(IPFamily.IPV4, IPFamily.IPV6),
    colour="#0f9d8a",
)
