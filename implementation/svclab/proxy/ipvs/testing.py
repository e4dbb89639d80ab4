"""Test helpers of the ipvs mode: its three fakes wired together, and a readable dump of a plan.

``IpvsFakes`` holds the adapters' fakes (``svclab.proxy.adapters.testing``)
as the kernel wires them: iptables rules may only match existing ipsets.
``backend`` builds an ``IpvsProxier`` on them through its real constructor,
``tracer`` the packet tracer over all three.
``render_ruleset`` writes a plan ``ipvsadm -Ln``-like, for golden files.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

from svclab.proxy.adapters.testing.ipset import FakeIpset
from svclab.proxy.adapters.testing.iptables import FakeIptables
from svclab.proxy.adapters.testing.ipvs_netlink import FakeIpvs
from svclab.proxy.adapters.testing.trace_iptables import NetfilterTracer
from svclab.proxy.ipvs.ipsets import restore_text
from svclab.proxy.ipvs.plan import IpvsOptions, IpvsRuleset
from svclab.proxy.ipvs.proxier import IpvsProxier
from svclab.proxy.service_port import IPFamily

__all__ = ["IpvsFakes", "render_ruleset"]


@dataclass
class IpvsFakes:
    """The fake IPVS, ipset and iptables of one node."""

    ipvs: FakeIpvs = field(default_factory=FakeIpvs)
    ipset: FakeIpset = field(default_factory=FakeIpset)
    iptables: FakeIptables = field(init=False)

    def __post_init__(self) -> None:
        self.iptables = FakeIptables(ipsets=self.ipset)

    def backend(self, options: IpvsOptions) -> IpvsProxier:
        """An ``IpvsProxier`` programming these fakes."""
        return IpvsProxier(ipvs=self.ipvs, iptables=self.iptables, ipset=self.ipset, options=options)

    def tracer(self, node_ips: Sequence[str] = ()) -> NetfilterTracer:
        """The packet tracer over iptables, ipsets and IPVS (the dummy's addresses are local too)."""
        return NetfilterTracer(self.iptables, node_ips, ipset=self.ipset, ipvs=self.ipvs)


def render_ruleset(ruleset: IpvsRuleset, family: IPFamily = IPFamily.IPV4) -> str:
    """A readable, stable dump of ``family``'s proxier's plan (``ipvsadm -Ln``-like), for golden files."""
    out = ["# IPVS virtual servers (ipvsadm -Ln style)"]
    for vs, servers in ruleset.virtual_servers.items():
        persistent = f" persistent {vs.timeout}" if vs.flags & 0x1 else ""
        address = str(vs).rsplit("/", 1)[0]
        out.append(f"{vs.protocol.value} {address} {vs.scheduler}{persistent}  # {ruleset.owners.get(vs, '')}")
        out += [f"  -> {rs} Masq {rs.weight}" for rs in servers]
    out.append("# addresses on the dummy device")
    out += sorted(ruleset.bound_addresses, key=ipaddress.ip_address)
    out.append("# ipset restore")
    out += restore_text(ruleset.ipsets, None, family).splitlines()
    out.append("# iptables-restore --noflush")
    out += ruleset.iptables.splitlines()
    return "\n".join(out) + "\n"
