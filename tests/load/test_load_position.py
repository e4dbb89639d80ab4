"""Where the measured Service stands, per mode, from node dumps.

Plan: the measured ClusterIP is 10.96.0.10:8080; 10.96.0.1:443 (kubernetes)
and 10.96.0.100:8080 are neighbours whose addresses share its prefix, so a
sloppy match would find them instead.  Dumps are written the way the tools
print them (iptables-save, ``nft list map``, ``ipvsadm-save -n``, ``ss -ltnH``).
"""

from __future__ import annotations

import pytest

from svclab.load.model import Figure, Scenario, TargetKind
from svclab.load.position import (
    IPVS_NOTE,
    NFTABLES_NOTE,
    Placement,
    SweepFacts,
    describe_placement,
    has_ipvs_virtual_server,
    in_service_ips_map,
    placement_from_dumps,
    walked_share,
)

IPTABLES_NAT = """*nat
:KUBE-SERVICES - [0:0]
-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment "default/kubernetes:https cluster IP" -m tcp --dport 443 -j KUBE-SVC-NPX46M4PTMTKRN6Y
-A KUBE-SERVICES -d 10.96.0.100/32 -p tcp -m comment --comment "svclab-load/svclab-sweep-a-00000:http cluster IP" -m tcp --dport 8080 -j KUBE-SVC-AAAAAAAAAAAAAAAA
-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment "svclab-load/web:http cluster IP" -m tcp --dport 8080 -j KUBE-SVC-BBBBBBBBBBBBBBBB
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
COMMIT
"""

USERSPACE_NAT = """*nat
:KUBE-PORTALS-CONTAINER - [0:0]
:KUBE-PORTALS-HOST - [0:0]
-A KUBE-PORTALS-CONTAINER -d 10.96.0.1/32 -p tcp -m comment --comment "default/kubernetes:https" -m tcp --dport 443 -j REDIRECT --to-ports 40001
-A KUBE-PORTALS-CONTAINER -d 10.96.0.10/32 -p tcp -m comment --comment "svclab-load/web:http" -m tcp --dport 8080 -j REDIRECT --to-ports 40002
-A KUBE-PORTALS-CONTAINER -d 10.96.0.100/32 -p tcp -m comment --comment "svclab-load/svclab-sweep-a-00000:http" -m tcp --dport 8080 -j REDIRECT --to-ports 40003
-A KUBE-PORTALS-HOST -d 10.96.0.10/32 -p tcp -m comment --comment "svclab-load/web:http" -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.3:40002
COMMIT
"""

LISTENING = """LISTEN 0      128          0.0.0.0:40001      0.0.0.0:*
LISTEN 0      128                *:40002            *:*
LISTEN 0      128        127.0.0.1:10249      0.0.0.0:*
"""

NFT_MAP = """table ip kube-proxy {
\tmap service-ips {
\t\ttype ipv4_addr . inet_proto . inet_service : verdict
\t\tcomment "ClusterIP, ExternalIP and LoadBalancer IP traffic"
\t\telements = { 10.96.0.1 . tcp . 443 : goto service-2QRHZV4L-default/kubernetes/tcp/https,
\t\t\t     10.96.0.100 . tcp . 8080 : goto service-AAAAAAAA-svclab-load/svclab-sweep-a-00000/tcp/http,
\t\t\t     10.96.0.10 . tcp . 8080 : goto service-BBBBBBBB-svclab-load/web/tcp/http }
\t}
}
"""

IPVS_SAVE = """-A -t 10.96.0.1:443 -s rr
-a -t 10.96.0.1:443 -r 172.18.0.2:6443 -m -w 1
-A -t 10.96.0.10:8080 -s rr
-a -t 10.96.0.10:8080 -r 10.244.1.2:8080 -m -w 1
"""


def test_iptables_position_is_the_rule_number_in_kube_services() -> None:
    placement = placement_from_dumps("iptables", {"nat": IPTABLES_NAT}, "10.96.0.10", 8080)
    assert placement == Placement(position=3, total=4, chain="KUBE-SERVICES")
    assert describe_placement(placement) == "rule 3 of 4 in KUBE-SERVICES (75% walked)"


def test_userspace_position_is_in_the_portal_chain_then_a_listening_socket() -> None:
    dumps = {"nat": USERSPACE_NAT, "listening": LISTENING}
    placement = placement_from_dumps("userspace", dumps, "10.96.0.10", 8080)
    assert placement is not None
    assert (placement.position, placement.total, placement.chain) == (2, 3, "KUBE-PORTALS-CONTAINER")
    assert placement.note == "then the proxy's listening socket for this Service port (:40002)"


def test_userspace_without_the_listening_socket_says_so() -> None:
    dumps = {"nat": USERSPACE_NAT, "listening": LISTENING.replace("*:40002", "*:49999")}
    placement = placement_from_dumps("userspace", dumps, "10.96.0.10", 8080)
    assert placement is not None and placement.note is not None
    assert "none was seen listening" in placement.note


@pytest.mark.parametrize(
    ("mode", "dumps", "note"),
    [
        ("nftables", {"map": NFT_MAP}, NFTABLES_NOTE),
        ("ipvs", {"ipvs": IPVS_SAVE}, IPVS_NOTE),
    ],
    ids=["nftables", "ipvs"],
)
def test_hash_lookup_modes_state_n_a_once_the_service_is_found(mode: str, dumps: dict[str, str], note: str) -> None:
    assert placement_from_dumps(mode, dumps, "10.96.0.10", 8080) == Placement(note=note)


@pytest.mark.parametrize(
    ("mode", "dumps"),
    [
        ("iptables", {"nat": IPTABLES_NAT}),
        ("userspace", {"nat": USERSPACE_NAT, "listening": LISTENING}),
        ("nftables", {"map": NFT_MAP}),
        ("ipvs", {"ipvs": IPVS_SAVE}),
    ],
    ids=["iptables", "userspace", "nftables", "ipvs"],
)
def test_a_service_missing_from_the_node_is_never_given_a_statement(mode: str, dumps: dict[str, str]) -> None:
    placement = placement_from_dumps(mode, dumps, "10.96.0.11", 8080)
    assert placement is not None and placement.position is None
    assert placement.note is not None and placement.note.startswith("not found")


@pytest.mark.parametrize(
    ("ip", "port", "present"),
    [("10.96.0.10", 8080, True), ("10.96.0.1", 443, True), ("10.96.0.1", 8080, False), ("0.96.0.10", 8080, False)],
)
def test_service_ips_map_matches_whole_addresses(ip: str, port: int, present: bool) -> None:
    assert in_service_ips_map(NFT_MAP, ip, port) is present


@pytest.mark.parametrize(
    ("ip", "port", "present"),
    [("10.96.0.10", 8080, True), ("10.96.0.1", 8080, False), ("10.244.1.2", 8080, False)],
    ids=["virtual-server", "other-port", "real-server-only"],
)
def test_ipvs_virtual_servers_are_the_A_lines(ip: str, port: int, present: bool) -> None:
    assert has_ipvs_virtual_server(IPVS_SAVE, ip, port) is present


def test_unknown_modes_get_no_placement() -> None:
    assert placement_from_dumps("external", {}, "10.96.0.10", 8080) is None


@pytest.mark.parametrize(
    ("position", "total", "share"),
    [(5002, 5003, 5002 / 5003), (2503, 5003, 2503 / 5003), (None, None, None), (1, 0, None)],
    ids=["worst", "typical", "no-chain", "empty-chain"],
)
def test_walked_share(position: int | None, total: int | None, share: float | None) -> None:
    assert walked_share(Placement(position=position, total=total, chain="KUBE-SERVICES")) == share


def _figure(target: TargetKind, services: int) -> Figure:
    return Figure(
        mode="iptables",
        target=target,
        scenario=Scenario.CONNECT_PROBE,
        services=services,
        users=1,
        requests=1,
        failures=0,
        duration_s=1.0,
        rps=1.0,
        p50_ms=1.0,
        p95_ms=1.0,
        p99_ms=1.0,
        ratio_to_direct=None,
        proxy_cpu_s=None,
        html_report=None,
    )


def test_sweep_facts_go_to_their_target_and_count_only() -> None:
    worst = Placement(position=5002, total=5003, chain="KUBE-SERVICES")
    typical = Placement(position=2502, total=5003, chain="KUBE-SERVICES")
    facts = SweepFacts(
        placements={(TargetKind.CLUSTER_IP, 5000): worst, (TargetKind.CLUSTER_IP_TYPICAL, 5000): typical},
        create_s={5000: 40.5},
        program_s={5000: 12.0},
    )
    got = facts.annotate(_figure(TargetKind.CLUSTER_IP, 5000))
    assert (got.rule_position, got.rules_in_chain, got.rule_chain) == (5002, 5003, "KUBE-SERVICES")
    assert (got.create_s, got.program_s) == (40.5, 12.0)
    mid = facts.annotate(_figure(TargetKind.CLUSTER_IP_TYPICAL, 5000))
    assert (mid.rule_position, mid.create_s) == (2502, None)  # the step's seconds are told once, with the worst case
    assert facts.annotate(_figure(TargetKind.CLUSTER_IP, 1000)).rule_position is None
    direct = _figure(TargetKind.DIRECT, 5000)
    assert facts.annotate(direct) == direct


def test_a_note_travels_without_a_position() -> None:
    facts = SweepFacts(placements={(TargetKind.CLUSTER_IP, 0): Placement(note=NFTABLES_NOTE)})
    got = facts.annotate(_figure(TargetKind.CLUSTER_IP, 0))
    assert (got.rule_position, got.position_note) == (None, NFTABLES_NOTE)
