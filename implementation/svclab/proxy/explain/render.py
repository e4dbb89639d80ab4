"""``svclab explain``'s text: the hops as an indented trace, then the endpoints a new connection may reach.

One hop is two lines: where it is and the rule's text, then ``=>`` and what
it did; deeper hops (a chain entered by a jump, a random branch) are
indented under the rule that entered them. The table at the end gives each
endpoint's share of new connections, whether it sees the node's address
(masquerade, or the userspace proxy dialling from the node) and how the
mode picks it. Side-effect-free.
"""

from __future__ import annotations

from svclab.proxy.explain.model import Explanation, Outcome, host_port

__all__ = ["render_text"]

_OUTCOMES = {
    Outcome.DNAT: "translated by the kernel to one of {n} endpoint(s)",
    Outcome.PROXY: "to the userspace proxy's socket, which dials one of {n} endpoint(s)",
    Outcome.REJECT: "REJECT: the client sees 'connection refused'",
    Outcome.DROP: "DROP: the client times out",
    Outcome.UNTOUCHED: "untouched: no rule of the proxy matched this packet",
}


def _header(explanation: Explanation) -> list[str]:
    probe = explanation.probe
    source = f" from {explanation.source}" if explanation.source else ""
    return [
        f"service {explanation.service}, mode {explanation.mode}, node {explanation.node}",
        f"packet {probe.src} -> {host_port(probe.dst, probe.dport)}/{probe.proto}{source}"
        f" (new connection, hook {probe.hook})",
        "",
    ]


def _hops(explanation: Explanation) -> list[str]:
    lines = []
    for hop in explanation.hops:
        indent = "  " * (hop.depth + 1)
        lines.append(f"{indent}{hop.table} {hop.chain}: {hop.rule}")
        lines.append(f"{indent}  => {hop.verdict}")
    return lines


def _choices(explanation: Explanation) -> list[str]:
    if not explanation.choices:
        return []
    width = max(len(c.endpoint) for c in explanation.choices)
    lines = [f"  {'endpoint'.ljust(width)}  share    sees node IP  how"]
    for choice in explanation.choices:
        share = "-" if choice.probability is None else f"{choice.probability * 100:.1f}%"
        masquerade = "yes" if choice.masquerade else "no"
        lines.append(f"  {choice.endpoint.ljust(width)}  {share.ljust(7)}  {masquerade.ljust(12)}  {choice.how}")
    return lines


def render_text(explanation: Explanation) -> str:
    """The whole explanation as ``svclab explain`` prints it (ends with a newline)."""
    outcome = _OUTCOMES[explanation.outcome].format(n=len(explanation.endpoints()))
    lines = [*_header(explanation), *_hops(explanation), "", f"outcome: {outcome}", *_choices(explanation)]
    if len(explanation.choices) > 1 and explanation.outcome is Outcome.DNAT:
        lines.append(
            "(the hops after the translation are shown for the first endpoint; 'sees node IP' is per endpoint)"
        )
    if explanation.affinity:
        lines.append(f"session affinity: {explanation.affinity}")
    lines += [f"note: {note}" for note in explanation.notes]
    return "\n".join(lines) + "\n"
