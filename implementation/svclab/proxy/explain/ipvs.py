"""The ipvs mode explained: iptables (with ipsets) up to local delivery, then the IPVS virtual server.

The ipvs mode binds every Service address to ``kube-ipvs0``, so a packet
for a ClusterIP is the node's own: nat ``KUBE-SERVICES`` only marks what
needs masquerading and accepts it (``--match-set KUBE-CLUSTER-IP``), filter
``INPUT`` runs, and IPVS, after it, picks a real server of the virtual
server ``proto VIP:port`` (``ipvsadm-save -n``): its scheduler decides
(``rr`` takes the real servers of weight > 0 in turn, so each gets 1/n of
the new connections; a weighted scheduler shares by weight), ``-p N``
(persistence) keeps a client on its real server for N s (session affinity).
A virtual server without real servers answers nothing: the client is
refused. nat ``POSTROUTING`` then decides masquerade per real server.
Side-effect-free.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from svclab.proxy.explain.ipsets import parse_ipset_save
from svclab.proxy.explain.iptables import netfilter_outcome
from svclab.proxy.explain.model import Choice, Explanation, Hop, Outcome, Probe
from svclab.proxy.explain.netfilter import NetfilterWalk, parse_iptables_save

__all__ = ["VirtualServer", "explain_ipvs", "parse_ipvsadm_save"]

_PROTOCOLS = {"-t": "tcp", "-u": "udp", "--sctp-service": "sctp", "--tcp-service": "tcp", "--udp-service": "udp"}
_VIRTUAL = re.compile(r"^-A (\S+) (\S+)(.*)$")
_REAL = re.compile(r"^-a (\S+) (\S+) -r (\S+)(.*)$")


@dataclass
class VirtualServer:
    """One IPVS virtual server: its scheduler, persistence (s, 0: none) and real servers with their weights."""

    scheduler: str = "wlc"
    persistence: int = 0
    line: str = ""
    real: dict[str, int] = field(default_factory=dict)


def _flag(rest: str, *names: str) -> str | None:
    words = rest.split()
    for name in names:
        if name in words and words.index(name) + 1 < len(words):
            return words[words.index(name) + 1]
    return None


def parse_ipvsadm_save(text: str) -> dict[tuple[str, str], VirtualServer]:
    """``ipvsadm-save -n`` as {(proto, "vip:port"): VirtualServer}."""
    servers: dict[tuple[str, str], VirtualServer] = {}
    for line in text.splitlines():
        if (virtual := _VIRTUAL.match(line)) and virtual.group(1) in _PROTOCOLS:
            flag, address, rest = virtual.groups()
            persistence = _flag(rest, "-p", "--persistent")
            servers[(_PROTOCOLS[flag], address)] = VirtualServer(
                _flag(rest, "-s", "--scheduler") or "wlc", int(persistence or 0), line
            )
        elif (real := _REAL.match(line)) and real.group(1) in _PROTOCOLS:
            flag, address, server, rest = real.groups()
            key = (_PROTOCOLS[flag], address)
            servers.setdefault(key, VirtualServer()).real[server] = int(_flag(rest, "-w", "--weight") or 1)
    return servers


def _shares(vs: VirtualServer) -> dict[str, float]:
    serving = {server: weight for server, weight in vs.real.items() if weight > 0}
    if not serving:
        return {}
    if vs.scheduler in ("rr", "sh", "dh", "mh"):  # weight only switches a real server on or off here
        return {server: 1 / len(serving) for server in serving}
    total = sum(serving.values())
    return {server: weight / total for server, weight in serving.items()}


def explain_ipvs(
    save: str, ipset_save: str, ipvsadm_save: str, probe: Probe, *, service: str, node: str
) -> Explanation:
    """Explain ``probe`` from a node's ``iptables-save``, ``ipset save`` and ``ipvsadm-save -n``. Side-effect-free."""
    walk = NetfilterWalk(parse_iptables_save(save), probe, parse_ipset_save(ipset_save))
    ends = walk.before_routing()
    refused = [end for end in ends if end.verdict in ("DROP", "REJECT")]
    if refused or not ends:
        return Explanation("ipvs", service, node, probe, netfilter_outcome(ends), tuple(walk.hops))
    state = ends[0].state
    key = (state.proto, f"[{state.dst}]:{state.dport}" if ":" in state.dst else f"{state.dst}:{state.dport}")
    vs = parse_ipvsadm_save(ipvsadm_save).get(key)
    if vs is None or not probe.is_local(state.dst):
        return Explanation("ipvs", service, node, probe, Outcome.UNTOUCHED, tuple(walk.hops))
    hops = [*walk.hops, Hop("ipvs", f"{state.proto.upper()} {key[1]}", vs.line, f"scheduler {vs.scheduler}")]
    shares = _shares(vs)
    walk.hops = []
    choices: list[Choice] = []
    for server, share in sorted(shares.items()):
        hops.append(
            Hop(
                "ipvs",
                f"{state.proto.upper()} {key[1]}",
                f"-r {server} -w {vs.real[server]}",
                f"forward to {server} ({share:.4f} of new connections)",
                1,
            )
        )
        host, _, port = server.rpartition(":")
        moved = replace(state, dst=host.strip("[]"), dport=int(port), translated=True, by_ipvs=True)
        masquerade = walk.masqueraded(moved, record=not choices)
        how = f"{vs.scheduler}, weight {vs.real[server]}"
        choices.append(Choice(server, round(share, 6), how, masquerade))
    affinity = f"ClientIP: ipvs persistence {vs.persistence} s (-p) on the virtual server" if vs.persistence else ""
    outcome = Outcome.DNAT if choices else Outcome.REJECT
    notes = (
        ()
        if choices
        else ("the virtual server has no real server of weight > 0: nothing answers, the client is refused",)
    )
    return Explanation("ipvs", service, node, probe, outcome, (*hops, *walk.hops), tuple(choices), affinity, notes)
