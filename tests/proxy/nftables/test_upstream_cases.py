"""Upstream's own nftables rule cases (``pkg/proxy/nftables/proxier_test.go``), expected text as upstream's.

Address plan: see ``builders.py``; service CIDR 172.30.0.0/16, NodePort
address 192.168.0.2 as in upstream's nftables fake proxier. Upstream's
expected dumps are ``baseRules`` plus the Services' objects; our base
objects are pinned to upstream's by the golden test, so ``base()`` stands
for ``baseRules`` here.
"""

from __future__ import annotations

from svclab.proxy.endpoints_change_tracker import EndpointsChangeTracker
from svclab.proxy.nftables.base import plan
from svclab.proxy.nftables.plan import make_endpoint, make_service_port
from svclab.proxy.service_change_tracker import ServiceChangeTracker
from svclab.proxy.service_port import IPFamily

from ..builders import TEST_NODE
from ..iptables.test_upstream_cases import bad_ips_scenario
from .test_plan_golden import OPTIONS, canonical


def base() -> list[str]:
    return plan({}, {}, OPTIONS).dump()


BAD_IPS_SERVICE = """
add chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80
add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 ip daddr 172.30.0.41 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 numgen random mod 1 vmap { 0 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 }
add chain ip kube-proxy external-ULMVA6XW-ns1/svc1/tcp/p80
add rule ip kube-proxy external-ULMVA6XW-ns1/svc1/tcp/p80 jump mark-for-masquerade
add rule ip kube-proxy external-ULMVA6XW-ns1/svc1/tcp/p80 goto service-ULMVA6XW-ns1/svc1/tcp/p80
add chain ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80
add rule ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 ip saddr 10.180.0.1 jump mark-for-masquerade
add rule ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 meta l4proto tcp dnat to 10.180.0.1:80
add chain ip kube-proxy firewall-ULMVA6XW-ns1/svc1/tcp/p80
add rule ip kube-proxy firewall-ULMVA6XW-ns1/svc1/tcp/p80 ip saddr != { 203.0.113.0/25 } drop
add element ip kube-proxy cluster-ips { 172.30.0.41 }
add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80 }
add element ip kube-proxy service-ips { 192.168.99.22 . tcp . 80 : goto external-ULMVA6XW-ns1/svc1/tcp/p80 }
add element ip kube-proxy service-ips { 1.2.3.4 . tcp . 80 : goto external-ULMVA6XW-ns1/svc1/tcp/p80 }
add element ip kube-proxy service-nodeports { tcp . 3001 : goto external-ULMVA6XW-ns1/svc1/tcp/p80 }
add element ip kube-proxy firewall-ips { 1.2.3.4 . tcp . 80 : goto firewall-ULMVA6XW-ns1/svc1/tcp/p80 }
"""


def test_bad_ips_are_normalised_and_programmed() -> None:
    """TestBadIPs: leading zeros in every address field are read as decimal."""
    services, slices = bad_ips_scenario()
    svc_tracker = ServiceChangeTracker(IPFamily.IPV4, make_service_port)
    ep_tracker = EndpointsChangeTracker(IPFamily.IPV4, TEST_NODE, make_endpoint)
    for svc in services:
        svc_tracker.update(None, svc)
    for eps in slices:
        ep_tracker.update(eps)
    got = plan(svc_tracker.apply({}).service_ports, ep_tracker.apply({}).endpoints, OPTIONS).dump()
    assert canonical(got) == canonical(base() + BAD_IPS_SERVICE.splitlines())
