"""The userspace mode explained: portal rules up to the proxy's socket, then the proxy's own round robin.

The kernel does no balancing here: ``KUBE-PORTALS-CONTAINER`` REDIRECTs a
pod's packet to the proxy port of the Service port (``KUBE-PORTALS-HOST``
DNATs the node's own to host IP:proxy port), filter ``INPUT`` refuses it
when the Service has no endpoints (``KUBE-PORTALS-REJECT``), and the proxy
process, listening there, dials the next endpoint of its round robin. What
the proxy serves comes from the proxy itself (``/debug/backends`` on its
metrics address, ``UserspaceProxier.debug_state``): the socket, the
endpoints in their turn order, which one is next, the affinity timeout. The
endpoint always sees the node's address: the proxy opens a new connection
from the node (so every choice is "masqueraded"). Side-effect-free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from svclab.proxy.explain.iptables import netfilter_outcome
from svclab.proxy.explain.model import Choice, Explanation, Hop, Outcome, Probe
from svclab.proxy.explain.netfilter import NetfilterWalk, parse_iptables_save

__all__ = ["explain_userspace"]


def _served(backends: Sequence[Mapping[str, Any]], proxy_port: int, proto: str) -> Mapping[str, Any] | None:
    for entry in backends:
        if int(entry.get("proxyPort", 0)) == proxy_port and entry.get("protocol", "tcp") == proto:
            return entry
    return None


def explain_userspace(
    save: str, backends: Sequence[Mapping[str, Any]], probe: Probe, *, service: str, node: str
) -> Explanation:
    """Explain ``probe`` from a node's ``iptables-save`` and its proxy's ``/debug/backends``. Side-effect-free."""
    walk = NetfilterWalk(parse_iptables_save(save), probe)
    ends = walk.before_routing()
    outcome = netfilter_outcome(ends)
    redirected = [end for end in ends if end.verdict == "REDIRECT"]
    if outcome is not Outcome.PROXY or not redirected:
        return Explanation("userspace", service, node, probe, outcome, tuple(walk.hops))
    port = redirected[0].state.redirect_port or 0
    entry = _served(backends, port, probe.proto)
    if entry is None:
        note = f"no service port of the proxy listens on {port}: the connection is refused"
        return Explanation("userspace", service, node, probe, Outcome.REJECT, tuple(walk.hops), notes=(note,))
    socket = f"{entry.get('listen', '0.0.0.0')}:{port}"
    accept = Hop("proxy", f"socket {socket}", f"{entry['service']} ({probe.proto})", "accept, then dial an endpoint")
    seconds = int(entry.get("affinitySeconds", 0))
    affinity = f"ClientIP: the proxy keeps a client on its endpoint for {seconds} s" if seconds else ""
    kept = dict(entry.get("sessions") or {}).get(probe.src)
    if kept:  # a returning client: the balancer's session, not the round robin, decides
        hop = Hop("proxy", f"socket {socket}", f"session of {probe.src}", f"dial {kept} (session affinity)", 1)
        note = f"{probe.src} is a returning client: the proxy's session sends it to {kept}"
        choice = Choice(str(kept), 1.0, "session affinity", masquerade=True)
        return Explanation(
            "userspace", service, node, probe, Outcome.PROXY, (*walk.hops, accept, hop), (choice,), affinity, (note,)
        )
    hops, choices = _round_robin(entry, socket)
    if not choices:
        note = "the proxy has no endpoints for it: it closes the connection"
        return Explanation("userspace", service, node, probe, Outcome.REJECT, (*walk.hops, accept), notes=(note,))
    return Explanation("userspace", service, node, probe, Outcome.PROXY, (*walk.hops, accept, *hops), choices, affinity)


def _round_robin(entry: Mapping[str, Any], socket: str) -> tuple[list[Hop], tuple[Choice, ...]]:
    """The endpoints in the order the proxy will take them, from the next turn on: each 1/n of new clients."""
    endpoints = [str(e) for e in entry.get("endpoints", [])]
    following = int(entry.get("next", 0))
    hops, choices = [], []
    for turn in range(len(endpoints)):
        slot = (following + turn) % len(endpoints)
        order = "next" if turn == 0 else f"{turn + 1}. in turn"
        hops.append(
            Hop("proxy", f"socket {socket}", f"round robin slot {slot}", f"dial {endpoints[slot]} ({order})", 1)
        )
        choices.append(Choice(endpoints[slot], round(1 / len(endpoints), 6), f"round robin, {order}", masquerade=True))
    return hops, tuple(choices)
