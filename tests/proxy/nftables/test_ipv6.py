"""The IPv6 proxier's ``ip6 kube-proxy`` table: upstream's IPv6 layout, and the overall scenario over IPv6.

Address plan: upstream's IPv6 nftables example (knftables fake dump in
``pkg/proxy/nftables``): ClusterIP fd00:172:30::41 (service CIDR
fd00:10:96::/112), pod CIDR fd00:10::/64, endpoints fd00:10:180::1 and
fd00:10:180::2:1, NodePort 3001 on 2001:db8::1 and 2001:db8:1::2. The overall
scenario's IPv6 twin is described in ``builders.py`` (``V6``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import Any

from svclab.proxy.adapters.testing.nft import FakeNft
from svclab.proxy.endpoints_change_tracker import EndpointsChangeTracker
from svclab.proxy.nftables.base import plan
from svclab.proxy.nftables.plan import TABLE, NftOptions, endpoint_chain_base, make_endpoint, make_service_port
from svclab.proxy.nftables.proxier import NftablesProxier
from svclab.proxy.options import NodeOptions
from svclab.proxy.provider import Proxier, ProxierOptions
from svclab.proxy.service_change_tracker import ServiceChangeTracker
from svclab.proxy.service_port import IPFamily, Protocol, ServiceName, ServicePortName

from ..builders import (
    TEST_NODE,
    TEST_NODE_IP_V6,
    TEST_NODE_OPTIONS_V6,
    endpoint,
    endpoint_slice,
    overall_scenario,
    service,
)
from ..helpers import ManualClock, load_overall
from .test_plan_golden import canonical

UPSTREAM_V6 = NftOptions(
    node=NodeOptions(cluster_cidr="fd00:10::/64", node_ips=("2001:db8::1",), family=IPFamily.IPV6),
    service_cidrs=("fd00:10:96::/112",),
    node_port_ips=("2001:db8::1", "2001:db8:1::2"),
)
OVERALL_V6 = NftOptions(
    node=TEST_NODE_OPTIONS_V6, service_cidrs=("fd00:172:30::/112",), node_port_ips=(TEST_NODE_IP_V6,)
)
SVC1 = ServicePortName(ServiceName("ns1", "svc1"), "p80", Protocol.TCP)


def render(services: Sequence[Any], slices: Sequence[Any], opts: NftOptions) -> list[str]:
    svc_tracker = ServiceChangeTracker(IPFamily.IPV6, make_service_port)
    ep_tracker = EndpointsChangeTracker(IPFamily.IPV6, TEST_NODE, make_endpoint)
    for svc in services:
        svc_tracker.update(None, svc)
    for eps in slices:
        ep_tracker.update(eps)
    return plan(svc_tracker.apply({}).service_ports, ep_tracker.apply({}).endpoints, opts).dump()


def upstream_scenario() -> tuple[list[Any], list[Any]]:
    svc = service("ns1", "svc1", "fd00:172:30::41", ("p80", 80, 3001), type="NodePort")
    eps = endpoint_slice("ns1", "svc1", endpoint("fd00:10:180::1"), endpoint("fd00:10:180::2:1"), address_type="IPv6")
    return [svc], [eps]


def test_ipv6_endpoint_chain_names_match_upstream() -> None:
    """Colons become dots in the name (upstream's vectors)."""
    assert endpoint_chain_base(SVC1, "fd00:10:180::1", 80) == "ZVRFLKHO-ns1/svc1/tcp/p80__fd00.10.180..1/80"
    assert endpoint_chain_base(SVC1, "fd00:10:180::2:1", 80) == "2CRNCTTE-ns1/svc1/tcp/p80__fd00.10.180..2.1/80"


# Lines of upstream's IPv6 example that our layout shares word for word (the example comes from a
# later upstream than our IPv4 golden: its base-chain hooks and ClusterIP masquerade rule differ).
UPSTREAM_V6_LINES = """
add set ip6 kube-proxy cluster-ips { type ipv6_addr ; comment "Active ClusterIPs" ; }
add set ip6 kube-proxy nodeport-ips { type ipv6_addr ; comment "IPs that accept NodePort traffic" ; }
add map ip6 kube-proxy firewall-ips { type ipv6_addr . inet_proto . inet_service : verdict ; comment "destinations that are subject to LoadBalancerSourceRanges" ; }
add map ip6 kube-proxy no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to service nodeports with no endpoints" ; }
add map ip6 kube-proxy no-endpoint-services { type ipv6_addr . inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to services with no endpoints" ; }
add map ip6 kube-proxy service-ips { type ipv6_addr . inet_proto . inet_service : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }
add map ip6 kube-proxy service-nodeports { type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }
add rule ip6 kube-proxy cluster-ips-check ip6 daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"
add rule ip6 kube-proxy cluster-ips-check ip6 daddr { fd00:10:96::/112 } drop comment "Drop traffic to unallocated ClusterIPs"
add rule ip6 kube-proxy endpoint-2CRNCTTE-ns1/svc1/tcp/p80__fd00.10.180..2.1/80 ip6 saddr fd00:10:180::2:1 jump mark-for-masquerade
add rule ip6 kube-proxy endpoint-2CRNCTTE-ns1/svc1/tcp/p80__fd00.10.180..2.1/80 meta l4proto tcp dnat to [fd00:10:180::2:1]:80
add rule ip6 kube-proxy endpoint-ZVRFLKHO-ns1/svc1/tcp/p80__fd00.10.180..1/80 ip6 saddr fd00:10:180::1 jump mark-for-masquerade
add rule ip6 kube-proxy endpoint-ZVRFLKHO-ns1/svc1/tcp/p80__fd00.10.180..1/80 meta l4proto tcp dnat to [fd00:10:180::1]:80
add rule ip6 kube-proxy external-ULMVA6XW-ns1/svc1/tcp/p80 jump mark-for-masquerade
add rule ip6 kube-proxy external-ULMVA6XW-ns1/svc1/tcp/p80 goto service-ULMVA6XW-ns1/svc1/tcp/p80
add rule ip6 kube-proxy firewall-check ip6 daddr . meta l4proto . th dport vmap @firewall-ips
add rule ip6 kube-proxy masquerading masquerade fully-random
add rule ip6 kube-proxy nodeport-endpoints-check ip6 daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports
add rule ip6 kube-proxy reject-chain reject
add rule ip6 kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 numgen random mod 2 vmap { 0 : goto endpoint-ZVRFLKHO-ns1/svc1/tcp/p80__fd00.10.180..1/80 , 1 : goto endpoint-2CRNCTTE-ns1/svc1/tcp/p80__fd00.10.180..2.1/80 }
add rule ip6 kube-proxy service-endpoints-check ip6 daddr . meta l4proto . th dport vmap @no-endpoint-services
add rule ip6 kube-proxy services ip6 daddr . meta l4proto . th dport vmap @service-ips
add rule ip6 kube-proxy services ip6 daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports
add element ip6 kube-proxy cluster-ips { fd00:172:30::41 }
add element ip6 kube-proxy nodeport-ips { 2001:db8:1::2 }
add element ip6 kube-proxy service-ips { fd00:172:30::41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80 }
"""


def test_ipv6_table_has_upstreams_ipv6_layout() -> None:
    got = render(*upstream_scenario(), UPSTREAM_V6)
    missing = [line for line in UPSTREAM_V6_LINES.strip().splitlines() if line not in got]
    assert missing == []
    assert all(
        line.startswith(
            (
                "add table ip6 kube-proxy",
                "add set ip6 ",
                "add map ip6 ",
                "add chain ip6 ",
                "add rule ip6 ",
                "add element ip6 ",
            )
        )
        for line in got
    )
    masq = [ln for ln in got if "service-ULMVA6XW" in ln and "mark-for-masquerade" in ln]
    assert masq == [
        "add rule ip6 kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 ip6 daddr fd00:172:30::41"
        " ip6 saddr != fd00:10::/64 jump mark-for-masquerade"
    ]


def test_ipv6_proxier_ignores_ipv4_services_and_slices() -> None:
    v4 = service("ns1", "svc1", "172.30.0.41", ("p80", 80, 0))
    got = render([v4], [endpoint_slice("ns1", "svc1", endpoint("10.180.0.1"))], UPSTREAM_V6)
    assert not [ln for ln in got if "172.30.0.41" in ln or "10.180.0.1" in ln or "service-ULMVA6XW" in ln]


def test_overall_scenario_over_ipv6(own_golden: Callable[[str, str], str]) -> None:
    """Upstream has no IPv6 overall nftables case: our output is pinned (``--update-golden``) and
    loaded by ``nft`` in ``test_kernel.py``."""
    got = canonical(render(*overall_scenario(IPFamily.IPV6), OVERALL_V6))
    assert not [ln for ln in got if " ip saddr" in ln or " ip daddr" in ln or "ipv4_addr" in ln]
    affinity = [ln for ln in got if " update @affinity-" in ln]
    assert affinity and all(ln.endswith("{ ip6 saddr }") for ln in affinity)
    assert [ln for ln in got if "add set ip6 kube-proxy affinity-" in ln and "type ipv6_addr ;" in ln]
    text = "\n".join(got) + "\n"
    want = own_golden("nftables/overall-ipv6.nft", text)
    assert text == want, "\n".join(difflib.unified_diff(want.splitlines(), got, "pinned", "ours", lineterm=""))


async def test_ipv6_partial_sync_names_the_ip6_table() -> None:
    """Every command of a full and of a partial sync addresses ``ip6 kube-proxy`` (the fake refuses others)."""
    fake = FakeNft(TABLE, family="ip6")
    backend = NftablesProxier(fake, OVERALL_V6, clock=ManualClock())
    proxier = Proxier(backend, ProxierOptions(node_name=TEST_NODE, family=IPFamily.IPV6, clock=ManualClock()))
    load_overall(proxier, IPFamily.IPV6)
    await proxier.sync()
    proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("fd00:10:180::9"), address_type="IPv6"))
    await proxier.sync()
    assert not backend.last_sync_full
    assert backend.last_transaction and all(" ip6 kube-proxy " in f" {ln}" for ln in backend.last_transaction)
