"""What every proxy mode needs to know about its node, whatever its rules look like.

Upstream passes these to each ``NewProxier`` one by one; here they are one
value that each mode's own options embed (``PlanOptions.node``,
``NftOptions.node``, ...), so ``svclab proxy`` fills them once from its
flags and the Node object and hands the same value to whichever mode runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from svclab.proxy.family import FamilyFacts, facts
from svclab.proxy.service_port import IPFamily

__all__ = ["NodeOptions"]


@dataclass(frozen=True, slots=True)
class NodeOptions:
    """Node-wide settings shared by every mode.

    ``family`` is the one IP family this proxier handles (upstream runs one
    proxier per family); ``cluster_cidr`` is that family's pod CIDR: traffic
    from outside it to a Service is masqueraded (None: no local-traffic
    detector); ``masquerade_all`` SNATs all Service traffic; ``node_ips`` are
    the Node's InternalIPs of that family, the first one being *the* node IP.
    """

    cluster_cidr: str | None = None
    masquerade_all: bool = False
    node_ips: tuple[str, ...] = ()
    family: IPFamily = IPFamily.IPV4

    @property
    def facts(self) -> FamilyFacts:
        """What differs for this proxier's family (tools, loopback, nft keywords)."""
        return facts(self.family)

    @property
    def node_ip(self) -> str:
        """The node's primary IP, or "" when unknown."""
        return self.node_ips[0] if self.node_ips else ""
