"""The iptables mode explained: an ``iptables-save`` dump walked for one probe.

Each share of new connections that a ``KUBE-SEP-*`` chain DNATs becomes a
``Choice`` (its probability is what the ``statistic`` branches leave it);
a ``REJECT``/``DROP`` in the filter table (a Service without endpoints, an
``externalTrafficPolicy: Local`` NodePort without local endpoints) ends the
way. Whether an endpoint sees the node's address comes from nat
``POSTROUTING`` with the mark the walk collected. Session affinity is named
when a ``recent --rcheck`` rule was passed over. Side-effect-free.
"""

from __future__ import annotations

from svclab.proxy.explain.ipsets import Ipsets
from svclab.proxy.explain.model import Choice, Explanation, Outcome, Probe, host_port
from svclab.proxy.explain.netfilter import End, NetfilterWalk, parse_iptables_save

__all__ = ["explain_iptables", "netfilter_outcome"]


def netfilter_outcome(ends: list[End]) -> Outcome:
    """The outcome of a walk's ends: DNAT when any share is translated, else the first refusal."""
    verdicts = {end.verdict for end in ends}
    if "DNAT" in verdicts:
        return Outcome.DNAT
    if "REDIRECT" in verdicts:
        return Outcome.PROXY
    if "REJECT" in verdicts:
        return Outcome.REJECT
    if "DROP" in verdicts:
        return Outcome.DROP
    return Outcome.UNTOUCHED


def translated_choices(walk: NetfilterWalk, ends: list[End]) -> tuple[Choice, ...]:
    """One ``Choice`` per DNAT share; POSTROUTING's hops are recorded for the first one only."""
    choices: list[Choice] = []
    for end in (e for e in ends if e.verdict == "DNAT"):
        masquerade = walk.masqueraded(end.state, record=not choices)
        how = " > ".join(end.chains) or "DNAT"
        choices.append(Choice(host_port(end.state.dst, end.state.dport), round(end.mass, 6), how, masquerade))
    return tuple(choices)


def affinity_of(walk: NetfilterWalk) -> str:
    """How a returning client keeps its endpoint, read from the hops that only such a client matches."""
    for hop in walk.hops:
        if "session affinity" in hop.verdict and "--rcheck" in hop.rule:
            words = hop.rule.split()
            seconds = words[words.index("--seconds") + 1] if "--seconds" in words else "?"
            return f"ClientIP: recent match per endpoint (--rcheck --seconds {seconds}) before the random choice"
    return ""


def explain_iptables(
    save: str, probe: Probe, *, service: str, node: str, mode: str = "iptables", ipsets: Ipsets | None = None
) -> Explanation:
    """Explain ``probe`` on a node whose ``iptables-save`` output is ``save``. Side-effect-free."""
    walk = NetfilterWalk(parse_iptables_save(save), probe, ipsets or Ipsets())
    ends = walk.before_routing()
    choices = translated_choices(walk, ends)
    return Explanation(
        mode=mode,
        service=service,
        node=node,
        probe=probe,
        outcome=netfilter_outcome(ends),
        hops=tuple(walk.hops),
        choices=choices,
        affinity=affinity_of(walk),
    )
