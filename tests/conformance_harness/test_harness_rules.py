"""The harness's rule readers on golden dumps of each mode (no cluster needed).

The convergence test trusts ``harness.rules`` to tell converged from not, so
the reading is pinned here for every mode with a rules dump in the registry:
for ipvs, virtual servers by protocol and address, weighted real servers as
the targets, draining (weight 0) ones ignored; for iptables and nftables,
the ClusterIP dispatch to the service chain, its endpoint chains, and the
reject of a port without endpoints.

Address plan: ClusterIPs 10.96.0.0/16 (ipvs) and 172.30.0.0/16 (iptables,
nftables: upstream's ``ns1/svc1`` hashes), pod IPs 10.244.0.0/16 and 10.180.0.0/16.
"""

from __future__ import annotations

import pytest

from harness.rules import RULE_MODES, DesiredPort, NodeRules, converged, service_absent

GOLDEN = """\
-A -t 10.96.0.1:443 -s rr
-a -t 10.96.0.1:443 -r 172.18.0.2:6443 -m -w 1
-A -t 10.96.7.9:80 -s rr -p 10800
-a -t 10.96.7.9:80 -r 10.244.1.2:8080 -m -w 1
-a -t 10.96.7.9:80 -r 10.244.2.2:8080 -m -w 0
-A -u 10.96.7.9:80 -s rr
-A --sctp-service 10.96.7.9:7777 -s rr
"""


def _port(protocol: str, vip: str, *endpoints: str) -> DesiredPort:
    pairs = tuple((ip, 8080) for ip in endpoints)
    return DesiredPort("ns", "web", "http", protocol, vip, 80, pairs)


def test_ipvs_dump_is_read_as_virtual_servers_and_weighted_real_servers() -> None:
    rules = NodeRules.parse("ipvs", GOLDEN)
    assert rules.chains == {"TCP:10.96.0.1:443", "TCP:10.96.7.9:80", "UDP:10.96.7.9:80", "SCTP:10.96.7.9:7777"}
    assert rules.endpoint_targets("TCP:10.96.7.9:80") == {"10.244.1.2:8080"}
    assert rules.endpoint_targets("UDP:10.96.7.9:80") == frozenset()


def test_ipvs_convergence_compares_real_servers_and_protocol() -> None:
    rules = NodeRules.parse("ipvs", GOLDEN)
    assert converged(rules, [_port("TCP", "10.96.7.9", "10.244.1.2")])
    assert not converged(rules, [_port("TCP", "10.96.7.9", "10.244.1.2", "10.244.2.2")])
    assert not converged(rules, [_port("TCP", "10.96.7.9")])
    assert converged(rules, [_port("UDP", "10.96.7.9")])  # no endpoints: empty virtual server
    assert not converged(rules, [_port("TCP", "10.96.7.10")])


def test_ipvs_service_absent_only_without_its_virtual_server() -> None:
    rules = NodeRules.parse("ipvs", GOLDEN)
    assert not service_absent(rules, [_port("TCP", "10.96.7.9", "10.244.1.2")])
    assert service_absent(rules, [_port("TCP", "10.96.7.10", "10.244.1.2")])


IPTABLES_SAVE = """\
*filter
:KUBE-SERVICES - [0:0]
-A KUBE-SERVICES -d 172.30.0.46/32 -p tcp -m comment --comment "ns6/svc6:p80 has no endpoints" \
-m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable
COMMIT
*nat
:KUBE-SERVICES - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
:KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]
-A KUBE-SERVICES -d 172.30.0.41/32 -p tcp -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp --dport 80 \
-j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-SVC-XPGD46QRK7WJZT7O ! -s 10.0.0.0/8 -d 172.30.0.41/32 -p tcp -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ
-A KUBE-SEP-SXIVWICOYRO3J4NJ -s 10.180.0.1/32 -j KUBE-MARK-MASQ
-A KUBE-SEP-SXIVWICOYRO3J4NJ -p tcp -m tcp -j DNAT --to-destination 10.180.0.1:80
COMMIT
"""

NFT_LIST = """\
table ip kube-proxy {
\tcomment "rules for kube-proxy"
\tmap service-ips {
\t\ttype ipv4_addr . inet_proto . inet_service : verdict
\t\telements = { 172.30.0.41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80 }
\t}
\tmap no-endpoint-services {
\t\ttype ipv4_addr . inet_proto . inet_service : verdict
\t\telements = { 172.30.0.46 . tcp . 80 comment "ns6/svc6:p80" : goto reject-chain }
\t}
\tchain service-ULMVA6XW-ns1/svc1/tcp/p80 {
\t\tip daddr 172.30.0.41 tcp dport 80 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
\t\tnumgen random mod 1 vmap { 0 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 }
\t}
\tchain endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 {
\t\tip saddr 10.180.0.1 jump mark-for-masquerade
\t\tmeta l4proto tcp dnat to 10.180.0.1:80
\t}
}
"""


def _upstream_port(name: str, vip: str, *endpoints: str) -> DesiredPort:
    return DesiredPort(name.replace("svc", "ns"), name, "p80", "TCP", vip, 80, tuple((ip, 80) for ip in endpoints))


def test_every_mode_with_a_dump_is_read() -> None:
    assert RULE_MODES == ("iptables", "nftables", "ipvs")


@pytest.mark.parametrize(("mode", "dump"), [("iptables", IPTABLES_SAVE), ("nftables", NFT_LIST)])
def test_dispatch_endpoints_and_reject_are_read(mode: str, dump: str) -> None:
    rules = NodeRules.parse(mode, dump)
    assert converged(rules, [_upstream_port("svc1", "172.30.0.41", "10.180.0.1")])
    assert not converged(rules, [_upstream_port("svc1", "172.30.0.41", "10.180.0.1", "10.180.0.2")])
    assert not converged(rules, [_upstream_port("svc1", "172.30.0.41")])  # has endpoints, not a reject
    assert converged(rules, [_upstream_port("svc6", "172.30.0.46")])  # no endpoints: rejected
    assert not converged(rules, [_upstream_port("svc6", "172.30.0.46", "10.180.0.6")])
    assert service_absent(rules, [_upstream_port("svc7", "172.30.0.47", "10.180.0.7")])
    assert not service_absent(rules, [_upstream_port("svc1", "172.30.0.41", "10.180.0.1")])


@pytest.mark.parametrize(
    ("mode", "ipv4", "ipv6"),
    [
        ("iptables", "iptables-save", "ip6tables-save"),
        ("nftables", "nft list table ip kube-proxy", "nft list table ip6 kube-proxy"),
        ("ipvs", "ipvsadm-save -n", "ipvsadm-save -n"),  # one IPVS table holds both families
    ],
)
def test_rules_are_read_per_ip_family(mode: str, ipv4: str, ipv6: str) -> None:
    """A dual-stack node's IPv6 proxier keeps its rules apart (issue 18): the harness reads them there."""
    from types import SimpleNamespace
    from typing import Any, cast

    from harness.rules import read_rules
    from svclab.proxy.service_port import IPFamily

    ran: list[str] = []
    host = SimpleNamespace(check_output=lambda command: ran.append(command) or "")
    cluster = cast(Any, SimpleNamespace(proxy_mode=mode, node_host=lambda node: host))
    read_rules(cluster, "worker")
    read_rules(cluster, "worker", IPFamily.IPV6)
    assert ran == [ipv4, ipv6]
