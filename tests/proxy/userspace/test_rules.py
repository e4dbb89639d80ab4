"""Golden portal rules: upstream's overall scenario rendered by the userspace mode.

Address plan: see ``tests/proxy/builders.py`` (ClusterIPs 172.30.0.4x, node
192.168.0.2, external IPs 192.168.99.x, LoadBalancer IPs 1.2.3.4 / 5.6.7.8).
Proxy ports are assigned 40001, 40002, ... in service-port order.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import pytest

from svclab.proxy.endpoints_change_tracker import EndpointsChangeTracker
from svclab.proxy.service_change_tracker import ServiceChangeTracker
from svclab.proxy.service_port import IPFamily, Protocol, ServiceName, ServicePortName
from svclab.proxy.userspace.proxier import portal_for, usable_endpoints
from svclab.proxy.userspace.rules import Portal, RuleOptions, render_restore, rule_counts

from ..builders import TEST_NODE, TEST_NODE_IP, overall_scenario

OPTIONS = RuleOptions(listen_ip="0.0.0.0", host_ip=TEST_NODE_IP)


def overall_portals() -> list[Portal]:
    services, slices = overall_scenario()
    svc_tracker = ServiceChangeTracker(IPFamily.IPV4, None)
    ep_tracker = EndpointsChangeTracker(IPFamily.IPV4, TEST_NODE, None)
    for svc in services:
        svc_tracker.update(None, svc)
    for eps in slices:
        ep_tracker.update(eps)
    ports = svc_tracker.apply({}).service_ports
    endpoints = ep_tracker.apply({}).endpoints
    return [
        portal_for(port, 40001 + i, has_endpoints=bool(usable_endpoints(port, endpoints.get(name, ()), {})))
        for i, (name, port) in enumerate(sorted(ports.items()))
    ]


def test_overall_portal_rules_match_golden(own_golden: Callable[[str, str], str]) -> None:
    got = render_restore(overall_portals(), OPTIONS)
    want = own_golden("userspace/overall.rules", got)
    diff = "\n".join(difflib.unified_diff(want.splitlines(), got.splitlines(), "golden", "ours", lineterm=""))
    assert got == want, diff


def test_rendering_does_not_depend_on_input_order() -> None:
    portals = overall_portals()
    assert render_restore(portals, OPTIONS) == render_restore(list(reversed(portals)), OPTIONS)


SVC = ServicePortName(ServiceName("ns1", "svc1"), "p80", Protocol.UDP)
DNS = Portal(SVC, Protocol.UDP, "172.30.0.41", 53, proxy_port=40053)


@pytest.mark.parametrize(
    ("options", "container", "host"),
    [
        (
            RuleOptions(host_ip="192.168.0.2"),
            "-j REDIRECT --to-ports 40053",
            "-j DNAT --to-destination 192.168.0.2:40053",
        ),
        (
            RuleOptions(listen_ip="192.168.0.7"),
            "-j DNAT --to-destination 192.168.0.7:40053",
            "-j DNAT --to-destination 192.168.0.7:40053",
        ),
    ],
    ids=["listen-on-all-redirects", "listen-on-one-ip-dnats"],
)
def test_portal_targets_follow_the_listen_ip(options: RuleOptions, container: str, host: str) -> None:
    lines = render_restore([DNS], options).splitlines()
    common = '-m comment --comment "ns1/svc1:p80" -p udp -m udp --dport 53 -d 172.30.0.41/32'
    assert f"-A KUBE-PORTALS-CONTAINER {common} {container}" in lines
    assert f"-A KUBE-PORTALS-HOST {common} {host}" in lines


def test_host_rules_need_a_node_ip() -> None:
    with pytest.raises(ValueError, match="host_ip"):
        render_restore([DNS], RuleOptions())


def test_endpointless_service_is_rejected_on_its_proxy_port() -> None:
    text = render_restore(
        [Portal(SVC, Protocol.UDP, "172.30.0.41", 53, 40053, node_port=30053, has_endpoints=False)],
        RuleOptions(host_ip="192.168.0.2"),
    )
    assert (
        '-A KUBE-PORTALS-REJECT -m comment --comment "ns1/svc1:p80 has no endpoints" '
        "-p udp -m udp --dport 40053 -j REJECT"
    ) in text.splitlines()
    assert "-A KUBE-NODEPORT-NON-LOCAL" not in text
    assert rule_counts(text) == {"nat": 4, "filter": 1}
