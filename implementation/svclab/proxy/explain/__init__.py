"""``svclab explain``'s pure core: a node's live ruleset, read back and walked for the first packet of a connection.

Each mode has one entry point taking the dump text(s) a node's tools print
and a ``Probe`` (source, destination, port, hook, the node's addresses):
``explain_iptables`` (``iptables-save``), ``explain_nftables`` (``nft list
table ip kube-proxy``), ``explain_ipvs`` (``iptables-save``, ``ipset
save``, ``ipvsadm-save -n``) and ``explain_userspace`` (``iptables-save``
and the proxy's ``/debug/backends``). Each returns an ``Explanation``: the
rules the packet matched, in the kernel's order, and the endpoints it may
reach with their share of new connections, the pick (random branch,
``numgen``, scheduler, round robin) and masquerade. ``render_text`` prints
it; ``Explanation.to_json`` is the ``-o json`` shape. The dumps are
upstream's formats, so any kube-proxy's rules read the same. Nothing here
does I/O: ``svclab.testbed.explain`` reads the dumps from a cluster.
"""

from svclab.proxy.explain.addresses import local_addresses
from svclab.proxy.explain.iptables import explain_iptables
from svclab.proxy.explain.ipvs import explain_ipvs
from svclab.proxy.explain.model import SCHEMA_VERSION, Choice, Explanation, Hop, Outcome, Probe
from svclab.proxy.explain.nftables import explain_nftables
from svclab.proxy.explain.render import render_text
from svclab.proxy.explain.userspace import explain_userspace

__all__ = [
    "Choice",
    "Explanation",
    "Hop",
    "Outcome",
    "Probe",
    "SCHEMA_VERSION",
    "explain_iptables",
    "explain_ipvs",
    "explain_nftables",
    "explain_userspace",
    "local_addresses",
    "render_text",
]
