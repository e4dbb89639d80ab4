"""``svclab explain`` reads upstream kube-proxy's own expected rules, not only ours.

Upstream's ``TestOverallIPTablesRules`` / ``TestOverallNFTablesRules`` texts
(``tests/golden/iptables/overall.rules``, ``tests/golden/nftables/overall.nft``,
read-only) are explained for a few packets. The iptables text holds only
kube-proxy's own chains, so the jumps from the built-in chains that
kube-proxy adds separately (upstream's ``iptablesJumpChains``) are put in
front. Address plan: ``tests/proxy/test_flows.py`` (node 192.168.0.2, pods
10.0.0.0/8, ClusterIPs 172.30.0.41-46).
"""

from __future__ import annotations

import pytest

from svclab.proxy.explain import Explanation, Outcome, Probe, explain_iptables, explain_nftables

from ..conftest import GOLDEN

NODE, POD, EXTERNAL = "192.168.0.2", "10.0.0.2", "203.0.113.2"
BUILTIN_JUMPS = {
    "*filter": [
        "-A INPUT -m conntrack --ctstate NEW -j KUBE-EXTERNAL-SERVICES",
        "-A FORWARD -j KUBE-FORWARD",
        "-A FORWARD -m conntrack --ctstate NEW -j KUBE-SERVICES",
        "-A FORWARD -m conntrack --ctstate NEW -j KUBE-EXTERNAL-SERVICES",
        "-A OUTPUT -m conntrack --ctstate NEW -j KUBE-SERVICES",
    ],
    "*nat": [
        "-A PREROUTING -j KUBE-SERVICES",
        "-A OUTPUT -j KUBE-SERVICES",
        "-A POSTROUTING -j KUBE-POSTROUTING",
    ],
}


def _iptables_text() -> str:
    lines = []
    for line in (GOLDEN / "iptables" / "overall.rules").read_text().splitlines():
        lines.append(line)
        lines += BUILTIN_JUMPS.get(line, [])
    return "\n".join(lines)


def _explain(mode: str, src: str, dst: str, port: int) -> Explanation:
    probe = Probe(src, dst, port, "tcp", src == NODE, frozenset({NODE}))
    if mode == "iptables":
        return explain_iptables(_iptables_text(), probe, service="s", node="n")
    return explain_nftables((GOLDEN / "nftables" / "overall.nft").read_text(), probe, service="s", node="n")


MODES = ("iptables", "nftables")


@pytest.mark.parametrize("mode", MODES)
def test_two_endpoints_half_each(mode: str) -> None:
    found = _explain(mode, POD, "172.30.0.44", 80)
    assert [(c.endpoint, c.probability, c.masquerade) for c in found.choices] == [
        ("10.180.0.4:80", 0.5, False),
        ("10.180.0.5:80", 0.5, False),
    ]


@pytest.mark.parametrize("mode", MODES)
def test_a_client_outside_the_cluster_is_masqueraded(mode: str) -> None:
    found = _explain(mode, EXTERNAL, "172.30.0.41", 80)
    assert [(c.endpoint, c.masquerade) for c in found.choices] == [("10.180.0.1:80", True)]
    assert any("marked for masquerade" in hop.verdict for hop in found.hops)


@pytest.mark.parametrize("mode", MODES)
def test_affinity_and_no_endpoints(mode: str) -> None:
    sticky = _explain(mode, POD, "172.30.0.45", 80)
    assert sticky.affinity.startswith("ClientIP") and sticky.endpoints() == ["10.180.0.3:80"]
    assert ("10800s" if mode == "nftables" else "--seconds 10800") in sticky.affinity
    refused = _explain(mode, POD, "172.30.0.46", 80)
    assert (refused.outcome, refused.choices) == (Outcome.REJECT, ())


@pytest.mark.parametrize("mode", MODES)
def test_local_policy_without_local_endpoints_drops_external_traffic(mode: str) -> None:
    assert _explain(mode, EXTERNAL, "1.2.3.4", 80).outcome is Outcome.DROP
    assert _explain(mode, POD, "1.2.3.4", 80).endpoints() == ["10.180.0.2:80"]  # pods short-circuit
