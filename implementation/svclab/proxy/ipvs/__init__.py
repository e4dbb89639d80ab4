"""ipvs mode: IPVS virtual servers, ipsets and a few iptables rules (upstream ``pkg/proxy/ipvs``).

``plan`` (pure) computes the desired ``IpvsRuleset``; ``IpvsProxier`` applies it
through three system adapters (``svclab.proxy.adapters``: ``ipvs_netlink``,
``ipset``, ``iptables``; their fakes in ``adapters.testing``), and between
full syncs keeps it per service port in an ``incremental.FragmentIndex`` so a
partial sync re-plans only what changed. ``kernel`` says whether this kernel
has IPVS; where it lacks it, the local provider runs the testbed inside
User-Mode Linux.
"""

from svclab.proxy.ipvs.plan import IpvsOptions, IpvsRuleset, plan
from svclab.proxy.ipvs.proxier import IpvsProxier

__all__ = ["IpvsOptions", "IpvsProxier", "IpvsRuleset", "plan"]
