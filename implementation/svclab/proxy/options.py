"""What every proxy mode needs to know about its node, whatever its rules look like.

Upstream passes these to each ``NewProxier`` one by one; here they are one
value that each mode's own options embed (``PlanOptions.node``,
``NftOptions.node``, ...), so ``svclab proxy`` fills them once from its
flags and the Node object and hands the same value to whichever mode runs.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NodeOptions"]


@dataclass(frozen=True, slots=True)
class NodeOptions:
    """Node-wide settings shared by every mode.

    ``cluster_cidr`` is the pod CIDR: traffic from outside it to a Service is
    masqueraded (None: no local-traffic detector); ``masquerade_all`` SNATs
    all Service traffic; ``node_ips`` are the Node's InternalIPs, the first
    one being *the* node IP.
    """

    cluster_cidr: str | None = None
    masquerade_all: bool = False
    node_ips: tuple[str, ...] = ()

    @property
    def node_ip(self) -> str:
        """The node's primary IP, or "" when unknown."""
        return self.node_ips[0] if self.node_ips else ""
