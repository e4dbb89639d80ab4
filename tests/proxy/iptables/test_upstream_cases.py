"""Upstream's own iptables rule cases (``pkg/proxy/iptables/proxier_test.go``), expected text as upstream's.

Address plan: see ``builders.py``. Upstream's fake proxier: pod CIDR
10.0.0.0/8, localhost NodePorts on, nfacct counters on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from svclab.proxy.adapters.testing.iptables import FakeIptables
from svclab.proxy.adapters.testing.trace_iptables import NetfilterTracer
from svclab.proxy.endpoints_change_tracker import EndpointsChangeTracker
from svclab.proxy.iptables.plan import (
    LARGE_CLUSTER_ENDPOINTS_THRESHOLD,
    PlanOptions,
    make_endpoint,
    make_service_port,
    plan,
)
from svclab.proxy.options import NodeOptions
from svclab.proxy.service_change_tracker import ServiceChangeTracker
from svclab.proxy.service_port import IPFamily

from ..builders import TEST_NODE, TEST_NODE_IP, TEST_NODE_OPTIONS, endpoint, endpoint_slice, service
from ..helpers import iptables_proxier
from .test_plan_golden import sorted_by_chain

OPTIONS = PlanOptions(node=TEST_NODE_OPTIONS, nfacct=True)


def render(services: Sequence[Any], slices: Sequence[Any], opts: PlanOptions = OPTIONS) -> str:
    svc_tracker = ServiceChangeTracker(IPFamily.IPV4, make_service_port)
    ep_tracker = EndpointsChangeTracker(IPFamily.IPV4, TEST_NODE, make_endpoint)
    for svc in services:
        svc_tracker.update(None, svc)
    for eps in slices:
        ep_tracker.update(eps)
    return plan(svc_tracker.apply({}).service_ports, ep_tracker.apply({}).endpoints, opts).render()


FILTER_HEAD = """*filter
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
"""

# TestBadIPs: leading zeros in every address field are read as decimal and written canonically.
BAD_IPS_EXPECTED = (
    FILTER_HEAD
    + """-A KUBE-PROXY-FIREWALL -m comment --comment "ns1/svc1:p80 traffic not accepted by KUBE-FW-XPGD46QRK7WJZT7O" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP
COMMIT
*nat
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-EXT-XPGD46QRK7WJZT7O - [0:0]
:KUBE-FW-XPGD46QRK7WJZT7O - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
-A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3001 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-XPGD46QRK7WJZT7O
-A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-XPGD46QRK7WJZT7O
-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 external IP" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j KUBE-EXT-XPGD46QRK7WJZT7O
-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j KUBE-FW-XPGD46QRK7WJZT7O
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-EXT-XPGD46QRK7WJZT7O -m comment --comment "masquerade traffic for ns1/svc1:p80 external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-XPGD46QRK7WJZT7O -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-FW-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 loadbalancer IP" -s 203.0.113.0/25 -j KUBE-EXT-XPGD46QRK7WJZT7O
-A KUBE-FW-XPGD46QRK7WJZT7O -m comment --comment "other traffic to ns1/svc1:p80 will be dropped by KUBE-PROXY-FIREWALL"
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ
COMMIT
"""
)


def bad_ips_scenario() -> tuple[list[Any], list[Any]]:
    """TestBadIPs' Service and slice (both modes use the same)."""
    svc = service(
        "ns1",
        "svc1",
        "172.30.0.041",
        ("p80", 80, 3001),
        type="LoadBalancer",
        lb_ip="1.2.3.004",
        externalIPs=["192.168.099.022"],
        loadBalancerSourceRanges=["203.0.113.000/025"],
    )
    return [svc], [endpoint_slice("ns1", "svc1", endpoint("10.180.00.001"))]


def test_bad_ips_are_normalised_and_programmed() -> None:
    assert sorted_by_chain(render(*bad_ips_scenario())) == sorted_by_chain(BAD_IPS_EXPECTED)


NODEPORTS_NOTE = '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"'


def nodeport_scenario() -> tuple[list[Any], list[Any]]:
    svc = service("ns1", "svc1", "172.30.0.41", ("p80", 80, 3001), type="NodePort")
    return [svc], [endpoint_slice("ns1", "svc1", endpoint("10.180.0.1"))]


def lines(text: str, table: str) -> list[str]:
    block = text.split(f"*{table}\n", 1)[1].split("COMMIT", 1)[0]
    return block.splitlines()


def test_localhost_node_ports_off_guards_the_nodeports_jump() -> None:
    """Upstream's proxier with --iptables-localhost-nodeports=false and all local addresses:
    ``! -d 127.0.0.0/8`` after the addrtype match, no KUBE-FIREWALL, no localhost nfacct rule."""
    nat = lines(
        render(*nodeport_scenario(), PlanOptions(node=TEST_NODE_OPTIONS, nfacct=True, localhost_node_ports=False)),
        "nat",
    )
    jump = f"-A KUBE-SERVICES {NODEPORTS_NOTE} -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS"
    assert [r for r in nat if r.startswith("-A KUBE-SERVICES")][-1] == jump
    assert [r for r in nat if r.startswith("-A KUBE-NODEPORTS")] == [
        "-A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-XPGD46QRK7WJZT7O"
    ]
    text = render(*nodeport_scenario(), PlanOptions(node=TEST_NODE_OPTIONS, localhost_node_ports=False))
    assert "KUBE-FIREWALL" not in text  # neither declared (flushed) nor filled


def test_localhost_among_node_port_addresses_gets_a_jump_only_when_enabled() -> None:
    """--nodeport-addresses with 127.0.0.1: upstream skips that address when localhost NodePorts are off."""
    addresses = ("127.0.0.1", "192.168.0.2")
    off = PlanOptions(node=TEST_NODE_OPTIONS, localhost_node_ports=False, node_port_addresses=addresses)
    on = PlanOptions(node=TEST_NODE_OPTIONS, node_port_addresses=addresses)
    jumps_off = [r for r in lines(render(*nodeport_scenario(), off), "nat") if r.endswith("-j KUBE-NODEPORTS")]
    jumps_on = [r for r in lines(render(*nodeport_scenario(), on), "nat") if r.endswith("-j KUBE-NODEPORTS")]
    assert jumps_off == [f"-A KUBE-SERVICES {NODEPORTS_NOTE} -d 192.168.0.2 -j KUBE-NODEPORTS"]
    assert jumps_on == [f"-A KUBE-SERVICES {NODEPORTS_NOTE} -d {ip} -j KUBE-NODEPORTS" for ip in addresses]


def test_node_port_addresses_without_loopback_turn_localhost_node_ports_off() -> None:
    """Upstream's NewProxier: no loopback among the NodePort addresses, no localhost NodePorts."""
    opts = PlanOptions(node=TEST_NODE_OPTIONS, nfacct=True, node_port_addresses=("192.168.0.2",))
    text = render(*nodeport_scenario(), opts)
    assert "KUBE-FIREWALL" not in text
    assert "localhost_nps_accepted_pkts" not in text


def test_conntrack_tcp_be_liberal_drops_the_invalid_drop_rule() -> None:
    strict = lines(render(*nodeport_scenario()), "filter")
    liberal = lines(
        render(*nodeport_scenario(), PlanOptions(node=TEST_NODE_OPTIONS, conntrack_tcp_be_liberal=True)), "filter"
    )
    invalid = [r for r in strict if "--ctstate INVALID" in r]
    assert invalid == [
        "-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP"
    ]
    assert [r for r in liberal if "INVALID" in r] == []
    assert [r for r in liberal if r.startswith("-A KUBE-FORWARD")] == [
        r for r in strict if r.startswith("-A KUBE-FORWARD")
    ][1:]


async def test_localhost_to_node_port_is_not_translated_when_disabled() -> None:
    for enabled, want in ((True, "10.180.0.1:80"), (False, "")):
        proxier, _backend, fake = iptables_proxier(localhost_node_ports=enabled)
        services, slices = nodeport_scenario()
        proxier.on_service(None, services[0])
        proxier.on_endpoint_slice(slices[0])
        await proxier.sync()
        tracer = NetfilterTracer(fake, node_ips=(TEST_NODE_IP,))
        assert tracer("127.0.0.1", "127.0.0.1", 3001).verdict == want
        assert tracer(TEST_NODE_IP, TEST_NODE_IP, 3001).verdict == "10.180.0.1:80"


def dnat_rules(fake: FakeIptables) -> list[str]:
    """Every DNAT rule in the fake's nat table, as ``-A CHAIN ...`` lines."""
    return [
        f"-A {chain} {rule}"
        for chain, rules in fake.tables["nat"].items()
        if chain.startswith("KUBE-SEP-")
        for rule in rules
        if "-j DNAT" in rule
    ]


def many_endpoints(ns: str, name: str, port: tuple[str, int], second_octet: int, count: int) -> Any:
    eps = [endpoint(f"10.{second_octet}.{i % 256}.{i // 256}") for i in range(count)]
    return endpoint_slice(ns, name, *eps, port=port)


async def test_large_cluster_mode_drops_endpoint_comments_as_upstream() -> None:
    """TestSyncProxyRulesLargeClusterMode: above 1,000 endpoints the SEP rules lose their comments;
    a partial sync rewrites only the changed Service, a full one every Service."""
    proxier, backend, fake = iptables_proxier(node=NodeOptions(cluster_cidr="10.0.0.0/8", masquerade_all=True))
    half = LARGE_CLUSTER_ENDPOINTS_THRESHOLD // 2 - 1
    for svc, ip, port, octet in (("svc1", "172.30.0.41", ("p80", 80), 0), ("svc2", "172.30.0.42", ("p8080", 8080), 1)):
        proxier.on_service(None, service(f"ns{svc[-1]}", svc, ip, (port[0], port[1], 0)))
        proxier.on_endpoint_slice(many_endpoints(f"ns{svc[-1]}", svc, port, octet, half))
    proxier.on_service(None, service("ns3", "svc3", "172.30.0.43", ("p8081", 8081, 0)))
    await proxier.sync()
    first = "-A KUBE-SEP-DKGQUZGBKLTPAR56 -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.0.0:80"
    assert first in dnat_rules(fake)
    assert len(dnat_rules(fake)) == 2 * half and all("--comment" in r for r in dnat_rules(fake))

    svc3 = [endpoint(ip) for ip in ("203.0.113.4", "203.0.113.8", "203.0.113.12")]
    proxier.on_endpoint_slice(endpoint_slice("ns3", "svc3", *svc3, port=("p8081", 8081)))
    await proxier.sync()
    assert backend.large_cluster
    assert "-A KUBE-SEP-RUVVH7YV3PHQBDOS -m tcp -p tcp -j DNAT --to-destination 203.0.113.4:8081" in dnat_rules(fake)
    written = [ln for ln in backend.last_restore.splitlines() if ln.startswith("-A KUBE-SEP-") and "-j DNAT" in ln]
    assert len(written) == 3 and not any("--comment" in ln for ln in written)
    assert first in dnat_rules(fake)  # not rewritten by the partial sync

    backend.need_full_sync = True  # upstream's forceSyncProxyRules
    await proxier.sync()
    assert "-A KUBE-SEP-DKGQUZGBKLTPAR56 -m tcp -p tcp -j DNAT --to-destination 10.0.0.0:80" in dnat_rules(fake)
    assert len(dnat_rules(fake)) == 2 * half + 3 and not any("--comment" in r for r in dnat_rules(fake))
    svc_rules = [r for c, rules in fake.tables["nat"].items() if c.startswith("KUBE-SVC-") for r in rules]
    assert not any("->" in r for r in svc_rules)  # the SVC -> SEP jumps lose theirs too
