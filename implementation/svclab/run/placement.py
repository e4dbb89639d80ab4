"""Read back from a node where the load phase's measured Services stand in its proxy's dispatch.

The node's own dumps (``svclab.load.position.PLACEMENT_COMMANDS``) are taken
once per sweep step and every measured ClusterIP is looked up in them, so the
worst and the typical Service are judged from the same ruleset.  A node the
provider cannot reach, or a tool that fails there, gives no placement rather
than a guess.
"""

from __future__ import annotations

from collections.abc import Mapping

from svclab.load.position import PLACEMENT_COMMANDS, Placement, placement_from_dumps
from svclab.run.cluster import RunCluster
from svclab.testbed.provider import NodeAccessUnavailable

__all__ = ["read_placements"]

DUMP_TIMEOUT = 120.0  # iptables-save of 30,000 Services takes seconds on a busy machine


def _dumps(cluster: RunCluster, node: str, mode: str) -> dict[str, str] | None:
    if cluster.handle is None or mode not in PLACEMENT_COMMANDS:
        return None
    out = {}
    for key, argv in PLACEMENT_COMMANDS[mode].items():
        try:
            done = cluster.handle.exec_on_node(node, list(argv), timeout=DUMP_TIMEOUT)
        except NodeAccessUnavailable:
            return None
        if done.rc != 0:
            return None
        out[key] = done.stdout
    return out


def read_placements(
    cluster: RunCluster, node: str, mode: str, addresses: Mapping[str, tuple[str, int]]
) -> dict[str, Placement]:
    """Name -> where that ``(ClusterIP, port)`` stands on ``node`` (names missing: unreadable there)."""
    dumps = _dumps(cluster, node, mode)
    if dumps is None:
        return {}
    found = {}
    for name, (ip, port) in addresses.items():
        placement = placement_from_dumps(mode, dumps, ip, port)
        if placement is not None:
            found[name] = placement
    return found
