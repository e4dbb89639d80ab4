"""ipvs mode: IPVS virtual servers, ipsets and a few iptables rules (upstream ``pkg/proxy/ipvs``).

``plan`` (pure) computes the desired ``IpvsRuleset``; ``IpvsProxier`` applies it
through an ``IpvsExecutor`` (``NetlinkExecutor`` for real, ``testing.FakeIpvsExecutor``
in tests), and between full syncs keeps it per service port in an
``incremental.FragmentIndex`` so a partial sync re-plans only what changed.
The host kernel may lack IPVS; the local provider then runs the testbed
inside User-Mode Linux (``svclab.testbed.local.uml``).
"""

from svclab.proxy.ipvs.executor import IpvsExecutor, NetlinkExecutor, RestoreError
from svclab.proxy.ipvs.plan import IpvsOptions, IpvsRuleset, RealServer, VirtualServer, plan
from svclab.proxy.ipvs.proxier import IpvsProxier
from svclab.proxy.ipvs.reconcile import IpvsOp, OpKind, RealServerStatus

__all__ = [
    "IpvsExecutor",
    "IpvsOp",
    "IpvsOptions",
    "IpvsProxier",
    "IpvsRuleset",
    "NetlinkExecutor",
    "OpKind",
    "RealServer",
    "RealServerStatus",
    "RestoreError",
    "VirtualServer",
    "plan",
]
