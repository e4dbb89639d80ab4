"""The IPv6 proxier's rules: upstream's IPv6 cases, and the overall scenario over IPv6.

Address plan: upstream's localhost-NodePort IPv6 cases use ClusterIP
fd00:ab34::20, endpoints ff06::c1 (no node) and ff06::c2 (this node), no
local-traffic detector, no nfacct; the overall scenario's IPv6 twin is
described in ``builders.py`` (``V6``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from svclab.proxy.endpoints_change_tracker import EndpointsChangeTracker
from svclab.proxy.iptables.plan import PlanOptions, make_endpoint, make_service_port, plan
from svclab.proxy.options import NodeOptions
from svclab.proxy.service_change_tracker import ServiceChangeTracker
from svclab.proxy.service_port import IPFamily

from ..builders import TEST_NODE, TEST_NODE_OPTIONS_V6, endpoint, endpoint_slice, overall_scenario, service
from .test_plan_golden import sorted_by_chain

V6_NODE = NodeOptions(node_ips=("2001:db8::2",), family=IPFamily.IPV6)


def render(services: Sequence[Any], slices: Sequence[Any], opts: PlanOptions, family: IPFamily) -> str:
    svc_tracker = ServiceChangeTracker(family, make_service_port)
    ep_tracker = EndpointsChangeTracker(family, TEST_NODE, make_endpoint)
    for svc in services:
        svc_tracker.update(None, svc)
    for eps in slices:
        ep_tracker.update(eps)
    return plan(svc_tracker.apply({}).service_ports, ep_tracker.apply({}).endpoints, opts).render()


def diff(want: str, got: str) -> str:
    return "\n".join(difflib.unified_diff(want.splitlines(), got.splitlines(), "expected", "ours", lineterm=""))


def localhost_scenario() -> tuple[list[Any], list[Any]]:
    """TestEnableLocalhostNodePortsIPv6 / TestDisableLocalhostNodePortsIPv6's Service and slice."""
    svc = service("ns1", "svc1", "fd00:ab34::20", ("p80", 80, 30001), type="NodePort", externalTrafficPolicy="Local")
    eps = endpoint_slice("ns1", "svc1", endpoint("ff06::c1"), endpoint("ff06::c2", node=TEST_NODE), address_type="IPv6")
    return [svc], [eps]


@pytest.mark.parametrize("localhost", [True, False], ids=["localhost-nodeports-on", "localhost-nodeports-off"])
def test_ipv6_localhost_node_ports_match_upstream(golden_dir: Path, localhost: bool) -> None:
    """Upstream's two IPv6 cases expect the same text: IPv6 has no localhost NodePorts, so no
    KUBE-FIREWALL, and the NodePort jump excludes ``::1/128`` (never ``127.0.0.0/8``)."""
    opts = PlanOptions(node=V6_NODE, localhost_node_ports=localhost)
    got = sorted_by_chain(render(*localhost_scenario(), opts, IPFamily.IPV6))
    want = sorted_by_chain((golden_dir / "iptables" / "ipv6-nodeport-local.rules").read_text())
    assert got == want, diff(want, got)


def test_ipv6_proxier_ignores_ipv4_services_and_slices() -> None:
    """The IPv4 objects of a dual-stack node are the other proxier's: the IPv6 one writes nothing for them."""
    v4 = service("ns1", "svc1", "172.30.0.41", ("p80", 80, 0))
    text = render(
        [v4], [endpoint_slice("ns1", "svc1", endpoint("10.180.0.1"))], PlanOptions(node=V6_NODE), IPFamily.IPV6
    )
    assert "KUBE-SVC-" not in text and "172.30.0.41" not in text and "10.180.0.1" not in text


def test_node_port_addresses_keep_this_family_and_drop_ipv6_loopback() -> None:
    """--nodeport-addresses: the IPv6 proxier keeps its family's addresses, and skips ::1 (upstream
    logs that localhost NodePorts are not supported on IPv6), even with localhost NodePorts asked for."""
    opts = PlanOptions(node=V6_NODE, node_port_addresses=("192.168.0.2", "::1", "2001:db8::2"))
    nat = render(*localhost_scenario(), opts, IPFamily.IPV6)
    jumps = [ln for ln in nat.splitlines() if ln.endswith("-j KUBE-NODEPORTS")]
    assert [ln.split(" -d ")[1] for ln in jumps] == ["2001:db8::2 -j KUBE-NODEPORTS"]


def test_overall_scenario_over_ipv6(own_golden: Callable[[str, str], str]) -> None:
    """Upstream has no IPv6 overall case: our output is pinned (``--update-golden`` rewrites it)
    and checked by ip6tables-restore in ``test_kernel.py``."""
    opts = PlanOptions(node=TEST_NODE_OPTIONS_V6, nfacct=True)
    got = render(*overall_scenario(IPFamily.IPV6), opts, IPFamily.IPV6)
    assert "127.0.0.0/8" not in got and "KUBE-FIREWALL" not in got and "localhost_nps" not in got
    assert "! -s fd00:10::/32 -j KUBE-MARK-MASQ" in got
    want = own_golden("iptables/overall-ipv6.rules", got)
    assert got == want, diff(want, got)
