"""Dual-stack nodes, pods and Services (upstream ``test/e2e/network/dual_stack.go``).

Plan (a dual-stack cluster, either family primary; every test skips with the
reason on a single-stack cluster):

* every node reports one InternalIP and one ``spec.podCIDRs`` entry per family;
* a pod gets one address per family in ``status.podIPs``, ``podIP`` first, each
  inside its node's pod CIDR of that family;
* netexec pods on each worker answer a client on the control-plane node at
  their address of each family (pod to pod across nodes, no proxy involved);
* a Service with two ports over two busybox pods, created with each of
  upstream's ipFamilyPolicy / ipFamilies combinations, gets upstream's defaults
  (the cluster's primary family when none is asked for, IPv4 or IPv6):
  one ClusterIP per family in ``ipFamilies`` order, from that family's Service
  CIDR, ``clusterIP == clusterIPs[0]``; its Endpoints hold the primary family's
  pod addresses only (the endpoints controller works on the first family); its
  EndpointSlices are one per family of the Service, each holding that family's
  pod addresses.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from lightkube import Client
from lightkube.resources.core_v1 import Node, Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from harness.builders import (
    create_all,
    make_pod,
    make_service,
    meta,
    service_port,
    wait_endpoints,
    wait_pods,
    wait_slices,
    worker_nodes,
)
from harness.cluster import ClusterUnderTest
from harness.dual_stack import IPV4, IPV6, DualStack, family_of, require_dual_stack
from harness.traffic import HTTP_PORT, create_backends, create_client, http_get_urls, url, wait_ready

pytestmark = pytest.mark.dual_stack

DUAL = ("IPv4", "IPv6")
WEB = {"app": "web"}


@pytest.fixture
def dual(cluster: ClusterUnderTest, client: Client) -> DualStack:
    return require_dual_stack(cluster, client)


def test_nodes_have_an_internal_ip_and_a_pod_cidr_per_family(client: Client, dual: DualStack) -> None:
    for node in client.list(Node):
        data: dict[str, Any] = node.to_dict()
        internal = [a["address"] for a in data["status"]["addresses"] if a["type"] == "InternalIP"]
        assert sorted(map(family_of, internal)) == [IPV4, IPV6], (meta(node).name, internal)
        cidrs = data["spec"]["podCIDRs"]
        assert [family_of(c) for c in cidrs] == list(dual.families), (meta(node).name, cidrs)
        assert data["spec"]["podCIDR"] == cidrs[0]


def test_a_pod_gets_one_address_per_family_from_its_nodes_pod_cidrs(
    cluster: ClusterUnderTest, client: Client, namespace: str, dual: DualStack
) -> None:
    node = worker_nodes(cluster)[0]
    client.create(make_pod("dual-ips", namespace, labels=WEB, node=node))
    pod = wait_pods(client, namespace, ["dual-ips"])["dual-ips"]
    assert pod.status is not None
    ips = [entry.ip for entry in pod.status.podIPs or []]
    assert len(ips) == 2 and pod.status.podIP == ips[0], ips
    assert [family_of(ip) for ip in ips] == list(dual.families)
    cidrs = client.get(Node, node).to_dict()["spec"]["podCIDRs"]
    for ip, cidr in zip(ips, cidrs, strict=True):
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(cidr), (ip, cidr)
    host_ips = [entry.ip for entry in pod.status.hostIPs or []]
    assert [family_of(ip) for ip in host_ips] == list(dual.families)
    assert set(host_ips) == set(dual.node_ips[node].values())


def test_pods_reach_each_other_over_each_family(
    cluster: ClusterUnderTest, client: Client, namespace: str, dual: DualStack
) -> None:
    backends = create_backends(client, cluster, namespace, len(worker_nodes(cluster)))
    pods = wait_ready(client, namespace, backends)
    caller = create_client(client, namespace, cluster.nodes[0].name)
    for family in dual.families:
        targets = {}
        for name, pod in pods.items():
            assert pod.status is not None
            (ip,) = [entry.ip for entry in pod.status.podIPs or [] if family_of(entry.ip) == family]
            targets[name] = url(ip, HTTP_PORT)
        answers = http_get_urls(cluster, namespace, caller, list(targets.values()))
        assert answers == list(targets), (family, dict(zip(targets.values(), answers, strict=True)))


# (ipFamilyPolicy, ipFamilies) as created -> (ipFamilyPolicy, ipFamilies) as stored: upstream's
# five cases, plus PreferDualStack without families. PRIMARY / SECONDARY stand for the cluster's
# families (upstream expects IPv6 for the defaults on an IPv6-primary cluster).
PRIMARY, SECONDARY = "primary", "secondary"
SERVICE_CASES = [
    pytest.param(None, None, "SingleStack", (PRIMARY,), id="defaults-primary-single-stack"),
    pytest.param(None, ["IPv4"], "SingleStack", ("IPv4",), id="ipv4"),
    pytest.param(None, ["IPv6"], "SingleStack", ("IPv6",), id="ipv6"),
    pytest.param("RequireDualStack", ["IPv4", "IPv6"], "RequireDualStack", DUAL, id="require-ipv4-ipv6"),
    pytest.param("RequireDualStack", ["IPv6", "IPv4"], "RequireDualStack", ("IPv6", "IPv4"), id="require-ipv6-ipv4"),
    pytest.param("PreferDualStack", None, "PreferDualStack", (PRIMARY, SECONDARY), id="prefer-dual-defaults"),
]


def _two_port_service(namespace: str, policy: str | None, families: list[str] | None) -> Service:
    service = make_service(
        "dual", namespace, selector=WEB, ports=[service_port("http", 80, 8080), service_port("https", 443, 8443)]
    )
    assert service.spec is not None
    service.spec.ipFamilyPolicy = policy
    service.spec.ipFamilies = families
    return service


@pytest.mark.needs_controllers
@pytest.mark.parametrize(("policy", "families", "want_policy", "want_families"), SERVICE_CASES)
def test_service_families_cluster_ips_endpoints_and_slices(
    cluster: ClusterUnderTest,
    client: Client,
    namespace: str,
    dual: DualStack,
    policy: str | None,
    families: list[str] | None,
    want_policy: str,
    want_families: tuple[str, ...],
) -> None:
    roles = {PRIMARY: dual.primary, SECONDARY: dual.secondary}
    want_families = tuple(roles.get(family, family) for family in want_families)
    nodes = worker_nodes(cluster)
    create_all(client, [make_pod(f"web-{i}", namespace, labels=WEB, node=nodes[i % len(nodes)]) for i in range(2)])
    pods = wait_pods(client, namespace, ["web-0", "web-1"])
    created = client.create(_two_port_service(namespace, policy, families))
    spec = created.spec
    assert spec is not None and len(spec.ports or []) == 2
    assert (spec.ipFamilyPolicy, tuple(spec.ipFamilies or [])) == (want_policy, want_families)
    assert [family_of(ip) for ip in spec.clusterIPs or []] == list(want_families)
    assert spec.clusterIP == (spec.clusterIPs or [""])[0]
    for ip in spec.clusterIPs or []:
        assert ipaddress.ip_address(ip) in dual.service_networks[family_of(ip)], ip

    by_family = {family: {_ip_of(pod, family) for pod in pods.values()} for family in DUAL}
    primary = want_families[0]
    endpoints = wait_endpoints(
        client, namespace, "dual", lambda e: _endpoint_ips(e.to_dict()) == by_family[primary], what="both pods"
    )
    assert _endpoint_ips(endpoints.to_dict()) == by_family[primary]  # the primary family's only

    def one_slice_per_family(slices: list[EndpointSlice]) -> bool:
        return {s.addressType: _slice_ips(s) for s in slices if _slice_ips(s)} == {
            family: by_family[family] for family in want_families
        }

    slices = wait_slices(client, namespace, "dual", one_slice_per_family, what=f"one slice per {want_families}")
    assert {s.addressType for s in slices} == set(want_families)


def _ip_of(pod: Pod, family: str) -> str:
    assert pod.status is not None
    (ip,) = [entry.ip for entry in pod.status.podIPs or [] if family_of(entry.ip) == family]
    return str(ip)


def _endpoint_ips(endpoints: dict[str, Any]) -> set[str]:
    return {a["ip"] for subset in endpoints.get("subsets") or [] for a in subset.get("addresses") or []}


def _slice_ips(slice_: EndpointSlice) -> set[str]:
    return {address for endpoint in slice_.endpoints or [] for address in endpoint.addresses}
