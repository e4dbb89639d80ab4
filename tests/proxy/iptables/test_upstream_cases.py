"""Upstream's own iptables rule cases (``pkg/proxy/iptables/proxier_test.go``), expected text as upstream's.

Address plan: see ``builders.py``. Upstream's fake proxier: pod CIDR
10.0.0.0/8, localhost NodePorts on, nfacct counters on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from svclab.proxy.endpoints_change_tracker import EndpointsChangeTracker
from svclab.proxy.iptables.plan import PlanOptions, make_endpoint, make_service_port, plan
from svclab.proxy.service_change_tracker import ServiceChangeTracker
from svclab.proxy.service_port import IPFamily

from ..builders import TEST_NODE, TEST_NODE_OPTIONS, endpoint, endpoint_slice, service
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
