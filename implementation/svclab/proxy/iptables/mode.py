"""The iptables mode's registry entry (``svclab.proxy.modes``): builder, cleanup, dump, colour."""

from __future__ import annotations

import argparse

from svclab.proxy.adapters.iptables import SubprocessIptables
from svclab.proxy.iptables.dump import IptablesDump
from svclab.proxy.iptables.plan import PlanOptions
from svclab.proxy.iptables.proxier import IptablesProxier
from svclab.proxy.modes import IPTABLES_RULE_METRICS, ModeSpec
from svclab.proxy.options import NodeOptions

__all__ = ["MODE", "build", "cleanup"]


def build(node: NodeOptions, args: argparse.Namespace) -> IptablesProxier:
    """The backend programming this node's iptables."""
    return IptablesProxier(
        SubprocessIptables(),
        PlanOptions(node=node),
    )


def cleanup() -> None:
    """Remove our jumps, chains and canaries (``svclab proxy --cleanup``)."""
    build(NodeOptions(), argparse.Namespace()).cleanup()


MODE = ModeSpec(
    name="iptables",
    build=build,
    cleanup=cleanup,
    rules_dump=IptablesDump(),
    metrics=IPTABLES_RULE_METRICS,
    colour="#2563eb",
)
