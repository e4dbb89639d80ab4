"""The node's own addresses, read from ``ip -o addr show`` (what ``addrtype LOCAL`` matches).

In ipvs mode every Service address sits on ``kube-ipvs0``, so it is local to
the node; in the other modes only the node's interfaces (``eth0``, ``cni0``,
``lo``) are. Side-effect-free.
"""

from __future__ import annotations

import re

__all__ = ["local_addresses"]

_INET = re.compile(r"\sinet6? ([0-9a-fA-F.:]+)/\d+")


def local_addresses(ip_addr_output: str) -> frozenset[str]:
    """Every address ``ip -o addr show`` lists (loopback included)."""
    return frozenset(_INET.findall(ip_addr_output))
