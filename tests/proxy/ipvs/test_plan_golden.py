"""Golden and table tests of the ipvs desired state (virtual/real servers, ipsets, iptables).

Address plan: see ``tests/proxy/builders.py`` (upstream ``proxier_test.go``
conventions): pod IPs 10.180.0.0/16 inside cluster CIDR 10.0.0.0/8,
ClusterIPs 172.30.0.0/16, node IPs 192.168.0.2 / 192.168.1.2 / 192.168.99.11
(NodePort virtual servers listen on each), external IPs 192.168.99.0/24,
LoadBalancer IPs 1.2.3.4 and 5.6.7.8, LB source range 203.0.113.0/25.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from svclab.proxy.adapters.ipvs_netlink import RealServer
from svclab.proxy.endpoint import Endpoint
from svclab.proxy.endpoints_change_tracker import EndpointsChangeTracker
from svclab.proxy.ipvs.ipsets import IPSET_SPECS, restore_text
from svclab.proxy.ipvs.plan import IpvsOptions, IpvsRuleset, plan
from svclab.proxy.ipvs.testing import render_ruleset
from svclab.proxy.options import NodeOptions
from svclab.proxy.service_change_tracker import ServiceChangeTracker
from svclab.proxy.service_port import IPFamily, ServicePort, ServicePortName

from ..builders import (
    TEST_NODE,
    TEST_NODE_IPS,
    TEST_NODE_OPTIONS,
    endpoint,
    endpoint_slice,
    overall_scenario,
    service,
)

OPTIONS = IpvsOptions(node=TEST_NODE_OPTIONS, node_port_ips=TEST_NODE_IPS)


def state(
    services: Sequence[Any], slices: Sequence[Any]
) -> tuple[Mapping[ServicePortName, ServicePort], Mapping[ServicePortName, tuple[Endpoint, ...]]]:
    """Run objects through the real change trackers, as the proxier does."""
    svc_tracker = ServiceChangeTracker(IPFamily.IPV4, None)
    ep_tracker = EndpointsChangeTracker(IPFamily.IPV4, TEST_NODE, None)
    for svc in services:
        svc_tracker.update(None, svc)
    for eps in slices:
        ep_tracker.update(eps)
    return svc_tracker.apply({}).service_ports, ep_tracker.apply({}).endpoints


def plan_of(services: Sequence[Any], slices: Sequence[Any], opts: IpvsOptions = OPTIONS) -> IpvsRuleset:
    ports, endpoints = state(services, slices)
    return plan(ports, endpoints, opts)


def test_overall_scenario_matches_golden(own_golden: Callable[[str, str], str]) -> None:
    got = render_ruleset(plan_of(*overall_scenario()))
    want = own_golden("ipvs/overall.txt", got)
    diff = "\n".join(difflib.unified_diff(want.splitlines(), got.splitlines(), "golden", "ours", lineterm=""))
    assert got == want, diff


def servers(ruleset: IpvsRuleset) -> dict[str, list[str]]:
    return {str(vs): [str(rs) for rs in rss] for vs, rss in ruleset.virtual_servers.items()}


def test_cluster_ip_service_gets_rr_virtual_server_bound_on_dummy() -> None:
    ruleset = plan_of(
        [service("ns1", "svc1", "10.20.30.41", ("p80", 80, 0))],
        [endpoint_slice("ns1", "svc1", endpoint("10.180.0.1"), endpoint("10.180.1.1"))],
    )
    [(vs, rss)] = ruleset.virtual_servers.items()
    assert (str(vs), vs.scheduler, vs.flags, vs.timeout) == ("10.20.30.41:80/TCP", "rr", 0, 0)
    assert rss == (RealServer("10.180.0.1", 80), RealServer("10.180.1.1", 80))
    assert ruleset.bound_addresses == {"10.20.30.41"}
    assert ruleset.ipset("KUBE-CLUSTER-IP").entries == {"10.20.30.41,tcp:80"}
    assert ruleset.ipset("KUBE-IPVS-IPS").entries == {"10.20.30.41"}


def test_client_ip_affinity_is_persistence_with_timeout() -> None:
    ruleset = plan_of([service("ns1", "svc1", "10.20.30.41", ("p80", 80, 0), affinity_seconds=300)], [])
    [vs] = ruleset.virtual_servers
    assert (vs.flags & 0x1, vs.timeout) == (1, 300)


def test_scheduler_is_configurable_and_mh_sets_source_hash() -> None:
    svc = [service("ns1", "svc1", "10.20.30.41", ("p80", 80, 0))]
    assert [vs.scheduler for vs in plan_of(svc, [], IpvsOptions(scheduler="wlc")).virtual_servers] == ["wlc"]
    [vs] = plan_of(svc, [], IpvsOptions(scheduler="mh")).virtual_servers
    assert vs.flags & 0x10


def test_node_port_gets_one_virtual_server_per_node_ip_and_bitmap_entry() -> None:
    ruleset = plan_of(
        [service("ns1", "svc1", "10.20.30.41", ("p80", 80, 3001), type="NodePort")],
        [endpoint_slice("ns1", "svc1", endpoint("10.180.0.1"))],
    )
    assert sorted(servers(ruleset)) == [
        "10.20.30.41:80/TCP",
        "192.168.0.2:3001/TCP",
        "192.168.1.2:3001/TCP",
        "192.168.99.11:3001/TCP",
    ]
    assert ruleset.ipset("KUBE-NODE-PORT-TCP").entries == {"3001"}
    assert ruleset.bound_addresses == {"10.20.30.41"}  # node IPs are never bound on the dummy


def test_udp_node_port_uses_udp_set() -> None:
    ruleset = plan_of([service("ns1", "dns", "10.20.30.53", ("dns", 53, 3053), protocol="UDP", type="NodePort")], [])
    assert ruleset.ipset("KUBE-NODE-PORT-UDP").entries == {"3053"}
    assert (
        '-p udp -m comment --comment "Kubernetes nodeport UDP port for masquerade purpose" '
        "-m set --match-set KUBE-NODE-PORT-UDP dst -j KUBE-MARK-MASQ" in ruleset.iptables
    )


def test_local_endpoints_go_to_loop_back_set_for_hairpin() -> None:
    ruleset = plan_of(
        [service("ns1", "svc1", "10.20.30.41", ("p80", 80, 0))],
        [endpoint_slice("ns1", "svc1", endpoint("10.180.0.1", node=TEST_NODE), endpoint("10.180.1.1", node="other"))],
    )
    assert ruleset.ipset("KUBE-LOOP-BACK").entries == {"10.180.0.1,tcp:80,10.180.0.1"}
    assert "-m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE" in ruleset.iptables


@pytest.mark.parametrize(
    ("local_ready", "want"),
    [
        pytest.param(True, ["10.180.0.1:80"], id="local-endpoint-only"),
        pytest.param(False, ["10.180.1.1:80"], id="no-local-falls-back-to-cluster"),
    ],
)
def test_external_policy_local_node_port(local_ready: bool, want: list[str]) -> None:
    eps = [endpoint("10.180.1.1", node="other")]
    if local_ready:
        eps.append(endpoint("10.180.0.1", node=TEST_NODE))
    ruleset = plan_of(
        [service("ns1", "svc1", "10.20.30.41", ("p80", 80, 3001), type="NodePort", externalTrafficPolicy="Local")],
        [endpoint_slice("ns1", "svc1", *eps)],
    )
    assert servers(ruleset)["192.168.0.2:3001/TCP"] == want
    assert ruleset.ipset("KUBE-NODE-PORT-LOCAL-TCP").entries == {"3001"}


def test_not_ready_endpoints_are_not_real_servers_but_terminating_serving_are_fallback() -> None:
    ruleset = plan_of(
        [service("ns1", "svc1", "10.20.30.41", ("p80", 80, 0))],
        [
            endpoint_slice(
                "ns1",
                "svc1",
                endpoint("10.180.0.1", ready=False, serving=False),
                endpoint("10.180.0.2", ready=False, serving=True, terminating=True),
            )
        ],
    )
    assert servers(ruleset) == {"10.20.30.41:80/TCP": ["10.180.0.2:80"]}


def test_service_without_endpoints_keeps_its_empty_virtual_server_and_filter() -> None:
    ruleset = plan_of([service("ns1", "svc1", "10.20.30.41", ("p80", 80, 0))], [])
    assert servers(ruleset) == {"10.20.30.41:80/TCP": []}
    assert (
        "-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT"
        in ruleset.iptables
    )


def test_empty_sets_get_no_matching_nat_rules() -> None:
    ruleset = plan_of([], [])
    assert "KUBE-CLUSTER-IP dst,dst ! -s" not in ruleset.iptables
    assert "-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT" in ruleset.iptables
    assert [s.name for s in ruleset.ipsets] == [s.name for s in IPSET_SPECS]


@pytest.mark.parametrize(
    ("opts", "want"),
    [
        pytest.param(
            IpvsOptions(node=NodeOptions(masquerade_all=True)),
            "KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ",
            id="masquerade-all",
        ),
        pytest.param(
            IpvsOptions(node=NodeOptions(cluster_cidr="10.0.0.0/8")),
            "KUBE-CLUSTER-IP dst,dst ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ",
            id="cluster-cidr",
        ),
        pytest.param(IpvsOptions(), "KUBE-CLUSTER-IP src,dst -j KUBE-MARK-MASQ", id="no-detector"),
    ],
)
def test_cluster_ip_masquerade_rule(opts: IpvsOptions, want: str) -> None:
    ruleset = plan_of([service("ns1", "svc1", "10.20.30.41", ("p80", 80, 0))], [], opts)
    assert want in ruleset.iptables


def test_incremental_ipset_restore_only_touches_changed_entries() -> None:
    before = plan_of([service("ns1", "svc1", "10.20.30.41", ("p80", 80, 0))], [])
    after = plan_of([service("ns1", "svc2", "10.20.30.42", ("p80", 80, 0))], [])
    assert restore_text(after.ipsets, before.ipsets).splitlines() == [
        "del KUBE-CLUSTER-IP 10.20.30.41,tcp:80 -exist",
        "add KUBE-CLUSTER-IP 10.20.30.42,tcp:80 -exist",
        "del KUBE-IPVS-IPS 10.20.30.41 -exist",
        "add KUBE-IPVS-IPS 10.20.30.42 -exist",
    ]
    assert restore_text(after.ipsets, after.ipsets) == ""
