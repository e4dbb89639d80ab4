"""The userspace mode's registry entry (``svclab.proxy.modes``): builder, cleanup, colour."""

from __future__ import annotations

import argparse

from svclab.proxy.adapters.iptables import SubprocessIptables, iptables_unusable
from svclab.proxy.family import facts as family_facts
from svclab.proxy.modes import IPTABLES_RULE_METRICS, ModeSpec
from svclab.proxy.options import NodeOptions
from svclab.proxy.service_port import IPFamily
from svclab.proxy.userspace.proxier import UserspaceOptions, UserspaceProxier

__all__ = ["MODE", "build", "cleanup", "family_unusable"]


def build(node: NodeOptions, args: argparse.Namespace) -> UserspaceProxier:
    """The backend serving proxy sockets here; the node's own traffic is DNAT-ed to the node IP.
    An IPv6 proxier listens on ``::`` and programs its portals with ip6tables."""
    facts = node.facts
    return UserspaceProxier(
        SubprocessIptables(binary=facts.iptables), UserspaceOptions(node=node, listen_ip=facts.any_address)
    )


def cleanup() -> None:
    """Remove the portal jumps and chains of both families (``svclab proxy --cleanup``); the
    commands ignore what is not there, and a host without ip6tables has no IPv6 portals."""
    build(NodeOptions(), argparse.Namespace()).cleanup()
    try:
        build(NodeOptions(family=IPFamily.IPV6), argparse.Namespace()).cleanup()
    except OSError:
        pass


def family_unusable(family: IPFamily) -> str | None:
    """Why this host's {iptables,ip6tables} cannot hold ``family``'s rules (None: it can)."""
    return iptables_unusable(family_facts(family).iptables)


MODE = ModeSpec(
    family_unusable=family_unusable,
    name="userspace",
    build=build,
    cleanup=cleanup,
    metrics=IPTABLES_RULE_METRICS,
    families=(IPFamily.IPV4, IPFamily.IPV6),
    colour="#9333ea",
)
