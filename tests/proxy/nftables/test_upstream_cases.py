"""Upstream's own nftables rule cases (``pkg/proxy/nftables/proxier_test.go``), expected text as upstream's.

Address plan: see ``builders.py``; service CIDR 172.30.0.0/16, NodePort
address 192.168.0.2 as in upstream's nftables fake proxier. Upstream's
expected dumps are ``baseRules`` plus the Services' objects; our base
objects are pinned to upstream's by the golden test, so ``base()`` stands
for ``baseRules`` here.
"""

from __future__ import annotations

from typing import Any

from svclab.proxy.adapters.testing.nft import FakeNft
from svclab.proxy.endpoints_change_tracker import EndpointsChangeTracker
from svclab.proxy.nftables.base import plan
from svclab.proxy.nftables.plan import make_endpoint, make_service_port
from svclab.proxy.nftables.proxier import NftablesProxier
from svclab.proxy.provider import Proxier
from svclab.proxy.service_change_tracker import ServiceChangeTracker
from svclab.proxy.service_port import IPFamily

from ..builders import TEST_NODE, endpoint, endpoint_slice, service
from ..helpers import age, nftables_proxier
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


SVC1 = """
add element ip kube-proxy cluster-ips { 172.30.0.41 }
add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80 }
add chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80
add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 ip daddr 172.30.0.41 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 numgen random mod 1 vmap { 0 : goto endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80 }
add chain ip kube-proxy endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80
add rule ip kube-proxy endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80 ip saddr 10.0.1.1 jump mark-for-masquerade
add rule ip kube-proxy endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80 meta l4proto tcp dnat to 10.0.1.1:80
"""
SVC3 = """
add element ip kube-proxy cluster-ips { 172.30.0.43 }
add element ip kube-proxy service-ips { 172.30.0.43 . tcp . 80 : goto service-4AT6LBPK-ns3/svc3/tcp/p80 }
add chain ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80
add rule ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80 ip daddr 172.30.0.43 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
add rule ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80 numgen random mod 1 vmap { 0 : goto endpoint-2OCDJSZQ-ns3/svc3/tcp/p80__10.0.3.1/80 }
add chain ip kube-proxy endpoint-2OCDJSZQ-ns3/svc3/tcp/p80__10.0.3.1/80
add rule ip kube-proxy endpoint-2OCDJSZQ-ns3/svc3/tcp/p80__10.0.3.1/80 ip saddr 10.0.3.1 jump mark-for-masquerade
add rule ip kube-proxy endpoint-2OCDJSZQ-ns3/svc3/tcp/p80__10.0.3.1/80 meta l4proto tcp dnat to 10.0.3.1:80
"""
SVC3_EMPTY = """
add element ip kube-proxy cluster-ips { 172.30.0.43 }
add element ip kube-proxy no-endpoint-services { 172.30.0.43 . tcp . 80 comment "ns3/svc3:p80" : goto reject-chain }
add chain ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80
add chain ip kube-proxy endpoint-2OCDJSZQ-ns3/svc3/tcp/p80__10.0.3.1/80
"""


def repeated_start() -> tuple[Proxier, NftablesProxier, FakeNft, Any]:
    proxier, backend, fake = nftables_proxier()
    svc2 = service("ns2", "svc2", "172.30.0.42", ("p8080", 8080, 0))
    proxier.on_service(None, service("ns1", "svc1", "172.30.0.41", ("p80", 80, 0)))
    proxier.on_service(None, svc2)
    proxier.on_service(None, service("ns3", "svc3", "172.30.0.43", ("p80", 80, 0)))
    proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("10.0.1.1")))
    proxier.on_endpoint_slice(endpoint_slice("ns2", "svc2", endpoint("10.0.2.1"), port=("p8080", 8080)))
    proxier.on_endpoint_slice(endpoint_slice("ns3", "svc3", endpoint("10.0.3.1")))
    return proxier, backend, fake, svc2


def assert_table(fake: FakeNft, *parts: str) -> None:
    want = canonical(base() + [line for part in parts for line in part.splitlines()])
    assert canonical(fake.dump()) == want


async def test_repeated_syncs_empty_stale_chains_first_and_delete_them_later() -> None:
    """TestSyncProxyRulesRepeated: a deleted Service's chains are flushed by its sync, deleted
    (in a transaction of their own) by the first sync a second later; a chain that comes
    back before then is refilled and no longer stale."""
    proxier, backend, fake, svc2 = repeated_start()
    await proxier.sync()
    proxier.on_service(svc2, None)
    await proxier.sync()
    svc2_chains = {"service-MHHHYRWA-ns2/svc2/tcp/p8080", "endpoint-7RVP4LUQ-ns2/svc2/tcp/p8080__10.0.2.1/8080"}
    assert_table(fake, SVC1, SVC3, "".join(f"add chain ip kube-proxy {c}\n" for c in sorted(svc2_chains)))
    assert set(backend.stale_chains) == svc2_chains
    await proxier.sync()  # not a second yet: nothing to do
    assert backend.last_transaction == [] and set(backend.stale_chains) == svc2_chains
    age(backend)
    await proxier.sync()
    assert_table(fake, SVC1, SVC3)
    assert backend.last_transaction == [] and backend.stale_chains == {}

    eps3 = endpoint_slice("ns3", "svc3", endpoint("10.0.3.1"))
    proxier.on_endpoint_slice(endpoint_slice("ns3", "svc3"))  # svc3 loses its endpoints
    await proxier.sync()
    assert_table(fake, SVC1, SVC3_EMPTY)
    assert set(backend.stale_chains) == {
        "service-4AT6LBPK-ns3/svc3/tcp/p80",
        "endpoint-2OCDJSZQ-ns3/svc3/tcp/p80__10.0.3.1/80",
    }
    proxier.on_endpoint_slice(eps3)  # and gets them back at once: refilled, no longer stale
    await proxier.sync()
    assert_table(fake, SVC1, SVC3)
    assert backend.stale_chains == {}
    age(backend)
    await proxier.sync()
    assert_table(fake, SVC1, SVC3)
    assert backend.last_transaction == []
