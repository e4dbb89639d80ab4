"""``svclab explain`` over dumps recorded on live nodes of the four local testbeds: golden outputs, and the facts.

Recorded (``tests/golden/explain/<mode>/recorded/``) on the worker
``e19-*-worker`` of a local testbed per mode, after applying one workload:
a Deployment ``web`` (3 agnhost netexec pods, 10.244.1.3 on this worker,
10.244.2.2 and 10.244.2.3 on the other), Services ``web`` (ClusterIP),
``web-sticky`` (ClientIP affinity), ``web-local`` (NodePort 30080,
externalTrafficPolicy Local), ``nobody`` (no endpoints), and a ``client``
pod 10.244.1.2 on this worker. The node is 172.18.0.3 with pod CIDR
10.244.1.0/24 (cni0 10.244.1.1); ClusterIPs differ per testbed
(``services.txt``). The external client of the NodePort case is 172.18.0.9.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from svclab.proxy.explain import (
    Explanation,
    Outcome,
    Probe,
    explain_iptables,
    explain_ipvs,
    explain_nftables,
    explain_userspace,
    local_addresses,
    render_text,
)

from ..conftest import EXPLAIN_CASES, EXPLAIN_MODES, GOLDEN

CLIENT, HAIRPIN_ENDPOINT, NODE, EXTERNAL = "10.244.1.2", "10.244.1.3", "172.18.0.3", "172.18.0.9"
ALL_WEB = ["10.244.1.3:8080", "10.244.2.2:8080", "10.244.2.3:8080"]


def _recorded(mode: str, name: str) -> str:
    return (GOLDEN / "explain" / mode / "recorded" / name).read_text()


def _cluster_ips(mode: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in _recorded(mode, "services.txt").split())


def _probe(mode: str, case: str) -> tuple[str, Probe]:
    ips, local = _cluster_ips(mode), local_addresses(_recorded(mode, "ip-addr.txt"))
    probes = {
        "web": ("web", Probe(CLIENT, ips["web"], 80, "tcp", False, local)),
        "web-sticky": ("web-sticky", Probe(CLIENT, ips["web-sticky"], 80, "tcp", False, local)),
        "web-local-nodeport": ("web-local", Probe(EXTERNAL, NODE, 30080, "tcp", False, local)),
        "nobody": ("nobody", Probe(CLIENT, ips["nobody"], 80, "tcp", False, local)),
        "web-from-node": ("web", Probe(NODE, ips["web"], 80, "tcp", True, local)),
        "web-hairpin": ("web", Probe(HAIRPIN_ENDPOINT, ips["web"], 80, "tcp", False, local)),
    }
    return probes[case]


def explain(mode: str, case: str) -> Explanation:
    name, probe = _probe(mode, case)
    label, node = f"default/{name}:http", f"e19-{mode}-worker"
    if mode == "iptables":
        return explain_iptables(_recorded(mode, "iptables-save.txt"), probe, service=label, node=node)
    if mode == "nftables":
        return explain_nftables(_recorded(mode, "nft-list-table.txt"), probe, service=label, node=node)
    if mode == "ipvs":
        texts = [_recorded(mode, f) for f in ("iptables-save.txt", "ipset-save.txt", "ipvsadm-save.txt")]
        return explain_ipvs(*texts, probe, service=label, node=node)
    backends = json.loads(_recorded(mode, "debug-backends.json"))
    return explain_userspace(_recorded(mode, "iptables-save.txt"), backends, probe, service=label, node=node)


@pytest.mark.parametrize("case", EXPLAIN_CASES)
@pytest.mark.parametrize("mode", EXPLAIN_MODES)
def test_golden_output(mode: str, case: str, own_golden: Callable[[str, str], str]) -> None:
    got = render_text(explain(mode, case))
    assert got == own_golden(f"explain/{mode}/{case}.txt", got)


@pytest.mark.parametrize("mode", EXPLAIN_MODES)
def test_three_endpoints_each_a_third(mode: str) -> None:
    found = explain(mode, "web")
    assert found.endpoints() == ALL_WEB
    assert [c.probability for c in found.choices] == [pytest.approx(1 / 3, abs=1e-6)] * 3
    assert found.outcome is (Outcome.PROXY if mode == "userspace" else Outcome.DNAT)
    assert not found.affinity


@pytest.mark.parametrize("mode", EXPLAIN_MODES)
def test_session_affinity_is_named_and_new_clients_still_spread(mode: str) -> None:
    found = explain(mode, "web-sticky")
    assert found.endpoints() == ALL_WEB
    assert found.affinity.startswith("ClientIP")
    assert ("timeout 3h" if mode == "nftables" else "10800") in found.affinity  # nft lists the set timeout as 3h


@pytest.mark.parametrize("mode", EXPLAIN_MODES)
def test_no_endpoints_is_refused(mode: str) -> None:
    found = explain(mode, "nobody")
    assert (found.outcome, found.choices) == (Outcome.REJECT, ())


# The userspace proxy predates externalTrafficPolicy and balances a NodePort like its ClusterIP.
@pytest.mark.parametrize(
    ("mode", "expected"),
    [(m, ["10.244.1.3:8080"]) for m in ("iptables", "nftables", "ipvs")] + [("userspace", ALL_WEB)],
)
def test_external_traffic_policy_local_keeps_to_the_local_endpoint_and_the_source(
    mode: str, expected: list[str]
) -> None:
    found = explain(mode, "web-local-nodeport")
    assert found.endpoints() == expected
    assert all(c.masquerade for c in found.choices) is (mode == "userspace")


@pytest.mark.parametrize("mode", EXPLAIN_MODES)
def test_hairpin_is_masqueraded_only_to_the_client_itself(mode: str) -> None:
    masquerade = {c.endpoint: c.masquerade for c in explain(mode, "web-hairpin").choices}
    assert masquerade["10.244.1.3:8080"] is True
    assert masquerade["10.244.2.2:8080"] is (mode == "userspace")


@pytest.mark.parametrize("mode", EXPLAIN_MODES)
def test_the_node_s_own_packet_takes_the_output_hook(mode: str) -> None:
    found = explain(mode, "web-from-node")
    assert found.endpoints() == ALL_WEB
    assert found.hops[0].chain.upper().startswith(("OUTPUT", "FILTER-OUTPUT", "NAT-OUTPUT"))


def test_recordings_are_what_the_docstring_says() -> None:
    assert sorted(p.name for p in (GOLDEN / "explain").iterdir() if p.is_dir()) == sorted(EXPLAIN_MODES)
    assert all(Path(GOLDEN / "explain" / m / "recorded" / "services.txt").is_file() for m in EXPLAIN_MODES)


def test_nft_a_client_already_in_an_affinity_set_keeps_its_endpoint() -> None:
    # The listing shows a set's live clients; put the client into 10.244.2.2's set as the kernel would list it.
    listing = _recorded("nftables", "nft-list-table.txt")
    head = "\tset affinity-5LUGMZP4-default/web-sticky/tcp/http__10.244.2.2/8080 {\n"
    assert head in listing
    listing = listing.replace(head, head + "\t\telements = { 10.244.1.2 expires 2h59m58s timeout 3h }\n", 1)
    _, probe = _probe("nftables", "web-sticky")
    pinned = explain_nftables(listing, probe, service="default/web-sticky:http", node="n")
    assert [(c.endpoint, c.probability) for c in pinned.choices] == [("10.244.2.2:8080", 1.0)]
    assert pinned.notes == ("10.244.1.2 is a returning client: its affinity set sends it to its endpoint",)
    other = explain_nftables(listing, replace(probe, src="10.244.1.9"), service="s", node="n")
    assert other.endpoints() == ALL_WEB and not other.notes


def test_userspace_a_client_with_a_live_session_keeps_its_endpoint() -> None:
    backends = json.loads(_recorded("userspace", "debug-backends.json"))
    for entry in backends:
        entry["sessions"] = {CLIENT: "10.244.2.3:8080"} if entry["service"] == "default/web-sticky:http" else {}
    _, probe = _probe("userspace", "web-sticky")
    save = _recorded("userspace", "iptables-save.txt")
    kept = explain_userspace(save, backends, probe, service="s", node="n")
    assert [(c.endpoint, c.probability, c.masquerade) for c in kept.choices] == [("10.244.2.3:8080", 1.0, True)]
    assert kept.notes == ("10.244.1.2 is a returning client: the proxy's session sends it to 10.244.2.3:8080",)
    other = explain_userspace(save, backends, replace(probe, src="10.244.1.9"), service="s", node="n")
    assert other.endpoints() == ALL_WEB and not other.notes
