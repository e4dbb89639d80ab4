"""The ipvs mode's IPv6 proxier: upstream's IPv6 cases, its ``KUBE-6-`` sets and ``ip6tables`` rules,
and its sharing of IPVS and ``kube-ipvs0`` with the IPv4 proxier.

Address plan: upstream's ``TestNodePortIPv6`` / ``TestIPv6Proxier`` (``pkg/proxy/ipvs/proxier_test.go``):
ClusterIP 2020::1, endpoints 1002:ab8::2:10 and 2001::1, node addresses 100.101.102.103 (IPv4,
ignored) and 2001:db8::1:1 / 2001:db8::1:2, NodePort 3001. The node also has a link-local fe80::1
(NodePorts never listen there, as upstream's ``isValidForSet``) and loopbacks. The overall
scenario's IPv6 twin is described in ``builders.py`` (``V6``).
"""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Callable

import pytest

from svclab.proxy.adapters.ipvs_netlink import VirtualServer
from svclab.proxy.endpoints_change_tracker import EndpointsChangeTracker
from svclab.proxy.ipvs.ipsets import IPSET_SPECS, MAX_SET_NAME, SPECS_BY_NAME, family_set_name, restore_text
from svclab.proxy.ipvs.plan import IpvsOptions, plan
from svclab.proxy.ipvs.testing import IpvsFakes, render_ruleset
from svclab.proxy.options import NodeOptions
from svclab.proxy.provider import Proxier, ProxierOptions
from svclab.proxy.service_change_tracker import ServiceChangeTracker
from svclab.proxy.service_port import IPFamily, Protocol

from ..builders import (
    TEST_NODE,
    TEST_NODE_IP_V6,
    TEST_NODE_OPTIONS_V6,
    endpoint,
    endpoint_slice,
    overall_scenario,
    service,
)

V4, V6 = IPFamily.IPV4, IPFamily.IPV6
NODE_V6 = NodeOptions(node_ips=("2001:db8::1:1",), family=V6)
NODE_V4 = NodeOptions(node_ips=("100.101.102.103",))
DEVICES = {
    "eth0": {"100.101.102.103", "2001:db8::1:1", "fe80::1"},
    "lo": {"127.0.0.1", "::1"},
}


def proxier_on(fakes: IpvsFakes, node: NodeOptions) -> Proxier:
    return Proxier(fakes.backend(IpvsOptions(node=node)), ProxierOptions(node_name=TEST_NODE, family=node.family))


def node_fakes(**devices: set[str]) -> IpvsFakes:
    fakes = IpvsFakes()
    fakes.ipvs.devices = {name: set(addresses) for name, addresses in (devices or DEVICES).items()}
    return fakes


def servers(fakes: IpvsFakes) -> dict[str, list[str]]:
    return {str(vs): sorted(fakes.ipvs.real_servers(vs)) for vs in fakes.ipvs.services.values()}


# -- set names (upstream NewIPSet) ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "v6"),
    [
        ("KUBE-CLUSTER-IP", "KUBE-6-CLUSTER-IP"),
        ("KUBE-LOOP-BACK", "KUBE-6-LOOP-BACK"),
        ("KUBE-NODE-PORT-TCP", "KUBE-6-NODE-PORT-TCP"),
        ("KUBE-LOAD-BALANCER-SOURCE-CIDR", "KUBE-6-LOAD-BALANCER-SOURCE-CID"),
        ("KUBE-NODE-PORT-LOCAL-SCTP-HASH", "KUBE-6-NODE-PORT-LOCAL-SCTP-HAS"),
        ("OTHER-SET", "OTHER-SET"),
    ],
)
def test_ipv6_set_names_get_the_kube_6_prefix_cut_to_31_characters(name: str, v6: str) -> None:
    assert family_set_name(name, V6) == v6
    assert family_set_name(name, V4) == name


def test_ipv6_set_names_are_distinct_and_fit_ipset() -> None:
    names = [family_set_name(spec.name, V6) for spec in IPSET_SPECS]
    assert len(set(names)) == len(names)
    assert all(len(n) <= MAX_SET_NAME for n in names)
    assert not set(names) & set(SPECS_BY_NAME)  # both families' sets live side by side


def test_ipv6_sets_are_created_family_inet6_except_bitmaps() -> None:
    assert SPECS_BY_NAME["KUBE-CLUSTER-IP"].create_line(V6) == (
        "create KUBE-6-CLUSTER-IP hash:ip,port family inet6 hashsize 1024 maxelem 65536 comment -exist"
    )
    assert SPECS_BY_NAME["KUBE-NODE-PORT-TCP"].create_line(V6) == (
        "create KUBE-6-NODE-PORT-TCP bitmap:port range 0-65535 comment -exist"
    )


# -- upstream TestNodePortIPv6 -----------------------------------------------------

NODE_PORT_SVC = service("ns1", "svc1", "2020::1", ("p80", 80, 3001), type="NodePort")


def test_node_port_service_with_endpoints_listens_on_the_ipv6_node_address_only() -> None:
    """Upstream's "1 service with node port, has 2 endpoints": the IPv4 slice is not this proxier's."""
    fakes = node_fakes()
    proxier = proxier_on(fakes, NODE_V6)
    proxier.on_service(None, NODE_PORT_SVC)
    proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("10.180.0.1"), suffix="1"))
    proxier.on_endpoint_slice(
        endpoint_slice("ns1", "svc1", endpoint("1002:ab8::2:10"), address_type="IPv6", suffix="2")
    )
    asyncio.run(proxier.sync())
    assert servers(fakes) == {
        "[2001:db8::1:1]:3001/TCP": ["[1002:ab8::2:10]:80"],
        "[2020::1]:80/TCP": ["[1002:ab8::2:10]:80"],
    }
    assert fakes.ipvs.services[("2020::1", 80, Protocol.TCP)].scheduler == "rr"
    assert fakes.ipvs.devices["kube-ipvs0"] == {"2020::1"}
    assert fakes.ipset.sets["KUBE-6-NODE-PORT-TCP"] == {"3001"}
    assert fakes.ipset.sets["KUBE-6-CLUSTER-IP"] == {"2020::1,tcp:80"}


def test_ipv4_node_port_service_gets_nothing_from_the_ipv6_proxier() -> None:
    """Upstream's "1 UDP service with node port, has endpoints (no action on IPv6 Proxier)"."""
    fakes = node_fakes(eth0={"100.101.102.103"}, lo={"127.0.0.1"})
    proxier = proxier_on(fakes, NODE_V6)
    proxier.on_service(None, service("ns1", "svc1", "10.20.30.41", ("p80", 80, 3001), type="NodePort", protocol="UDP"))
    proxier.on_endpoint_slice(
        endpoint_slice("ns1", "svc1", endpoint("10.180.0.1"), port=("p80", 80), protocol="UDP", address_type="IPv6")
    )
    asyncio.run(proxier.sync())
    assert fakes.ipvs.services == {}
    assert not any(fakes.ipset.sets.values())


def test_node_port_service_without_endpoints_keeps_empty_virtual_servers() -> None:
    """Upstream's "service has node port but no endpoints"."""
    fakes = node_fakes()
    proxier = proxier_on(fakes, NODE_V6)
    proxier.on_service(None, NODE_PORT_SVC)
    asyncio.run(proxier.sync())
    assert servers(fakes) == {"[2001:db8::1:1]:3001/TCP": [], "[2020::1]:80/TCP": []}


def test_sctp_node_port_on_two_ipv6_node_addresses() -> None:
    """Upstream's "node port service with protocol sctp on a node with multiple nodeIPs"."""
    fakes = node_fakes(eth0={"2001:db8::1:1", "2001:db8::1:2"}, lo={"::1"})
    proxier = proxier_on(fakes, NODE_V6)
    proxier.on_service(None, service("ns1", "svc1", "2020::1", ("p80", 80, 3001), type="NodePort", protocol="SCTP"))
    proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("2001::1"), protocol="SCTP", address_type="IPv6"))
    asyncio.run(proxier.sync())
    assert servers(fakes) == {
        "[2001:db8::1:1]:3001/SCTP": ["[2001::1]:80"],
        "[2001:db8::1:2]:3001/SCTP": ["[2001::1]:80"],
        "[2020::1]:80/SCTP": ["[2001::1]:80"],
    }
    assert fakes.ipset.sets["KUBE-6-NODE-PORT-SCTP-HASH"] == {"2001:db8::1:1,sctp:3001", "2001:db8::1:2,sctp:3001"}


# -- upstream TestIPv6Proxier --------------------------------------------------------


def test_ipv6_proxier_programs_only_ipv6_services() -> None:
    fakes = node_fakes()
    proxier = proxier_on(fakes, NODE_V6)
    proxier.on_service(None, service("ns1", "svc1", "10.20.30.41", ("p80", 80, 0)))
    proxier.on_service(None, service("ns2", "svc2", "1002:ab8::2:1", ("p8080", 8080, 0)))
    proxier.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("10.180.0.1")))
    proxier.on_endpoint_slice(
        endpoint_slice("ns2", "svc2", endpoint("1009:ab8::5:6"), port=("p8080", 8080), address_type="IPv6")
    )
    asyncio.run(proxier.sync())
    assert servers(fakes) == {"[1002:ab8::2:1]:8080/TCP": ["[1009:ab8::5:6]:8080"]}


# -- the ip6tables rules and the shared kernel state ------------------------------


def test_ipv6_rules_match_kube_6_sets_and_let_ipv6_loopback_through() -> None:
    fakes = node_fakes()
    proxier = proxier_on(fakes, NodeOptions(cluster_cidr="fd00:10::/64", node_ips=("2001:db8::1:1",), family=V6))
    proxier.on_service(None, NODE_PORT_SVC)
    asyncio.run(proxier.sync())
    nat = fakes.iptables.rules("nat", "KUBE-SERVICES")
    assert nat[0] == "-s ::1/128 -j RETURN"
    assert (
        '-m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" '
        "-m set --match-set KUBE-6-CLUSTER-IP dst,dst ! -s fd00:10::/64 -j KUBE-MARK-MASQ"
    ) in nat
    text = "\n".join(t for t in fakes.iptables.restores)
    assert "127.0.0.0/8" not in text
    sets = [w.split()[0] for w in text.split("--match-set ")[1:]]
    assert sets and all(name.startswith("KUBE-6-") for name in sets)


def test_the_two_proxiers_share_ipvs_and_the_dummy_without_undoing_each_other() -> None:
    """Each family's sync reconciles its own virtual servers and dummy addresses only (upstream
    ``cleanLegacyService`` and ``GetLocalAddresses`` of the proxier's family)."""
    fakes = node_fakes()
    v4, v6 = proxier_on(fakes, NODE_V4), proxier_on(fakes, NODE_V6)
    dual = service(
        "ns1", "svc1", "10.20.30.41", ("p80", 80, 3001), type="NodePort", clusterIPs=["10.20.30.41", "2020::1"]
    )
    for proxier in (v4, v6):
        proxier.on_service(None, dual)
    v4.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("10.180.0.1"), suffix="v4"))
    v6.on_endpoint_slice(endpoint_slice("ns1", "svc1", endpoint("1002:ab8::2:10"), address_type="IPv6", suffix="v6"))
    asyncio.run(v4.sync())
    asyncio.run(v6.sync())
    asyncio.run(v4.sync())  # a resync of one family
    assert servers(fakes) == {
        "10.20.30.41:80/TCP": ["10.180.0.1:80"],
        "100.101.102.103:3001/TCP": ["10.180.0.1:80"],
        "[2001:db8::1:1]:3001/TCP": ["[1002:ab8::2:10]:80"],
        "[2020::1]:80/TCP": ["[1002:ab8::2:10]:80"],
    }
    assert fakes.ipvs.devices["kube-ipvs0"] == {"10.20.30.41", "2020::1"}
    assert fakes.ipset.sets["KUBE-CLUSTER-IP"] == {"10.20.30.41,tcp:80"}
    assert fakes.ipset.sets["KUBE-6-CLUSTER-IP"] == {"2020::1,tcp:80"}
    v6.on_service(dual, None)
    asyncio.run(v6.sync())
    assert fakes.ipvs.devices["kube-ipvs0"] == {"10.20.30.41"}
    assert fakes.ipvs.virtual_server("10.20.30.41", 80, Protocol.TCP) is not None
    assert fakes.ipvs.virtual_server("2020::1", 80, Protocol.TCP) is None


def test_ipv6_cleanup_destroys_its_own_sets() -> None:
    fakes = node_fakes()
    v6 = proxier_on(fakes, NODE_V6)
    v6.on_service(None, NODE_PORT_SVC)
    asyncio.run(v6.sync())
    assert "KUBE-6-CLUSTER-IP" in fakes.ipset.sets
    fakes.backend(IpvsOptions(node=NODE_V6)).cleanup()
    assert not [name for name in fakes.ipset.sets if name.startswith("KUBE-6-")]


# -- the overall scenario over IPv6 (ours: upstream has no overall ipvs case) --------


def test_overall_scenario_over_ipv6(own_golden: Callable[[str, str], str]) -> None:
    services, slices = overall_scenario(V6)
    svc_tracker = ServiceChangeTracker(V6, None)
    ep_tracker = EndpointsChangeTracker(V6, TEST_NODE, None)
    for svc in services:
        svc_tracker.update(None, svc)
    for eps in slices:
        ep_tracker.update(eps)
    opts = IpvsOptions(node=TEST_NODE_OPTIONS_V6, node_port_ips=(TEST_NODE_IP_V6,))
    ruleset = plan(svc_tracker.apply({}).service_ports, ep_tracker.apply({}).endpoints, opts)
    got = render_ruleset(ruleset, V6)
    want = own_golden("ipvs/overall-ipv6.txt", got)
    diff = "\n".join(difflib.unified_diff(want.splitlines(), got.splitlines(), "golden", "ours", lineterm=""))
    assert got == want, diff
    assert all(":" in str(vs) for vs in ruleset.virtual_servers) and ruleset.virtual_servers
    assert all(isinstance(vs, VirtualServer) and ":" in vs.address for vs in ruleset.virtual_servers)
    assert "family inet " not in restore_text(ruleset.ipsets, None, V6)
