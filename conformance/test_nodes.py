"""Nodes as the testbed spec describes them, and the API server's own Service.

Expected values come from the cluster description (``cluster.json``): kind-style
node names, node i at 172.18.0.(2+i) with the i-th /24 of the pod subnet, the
spec's labels, and kubeadm's control-plane label and NoSchedule taint.
"""

from __future__ import annotations

import ipaddress

import pytest
from lightkube import Client
from lightkube.resources.core_v1 import Endpoints, Node, Service

from harness.cluster import ClusterUnderTest
from harness.waiting import node_is_ready, wait_for

pytestmark = pytest.mark.nodes


def _api_nodes(client: Client) -> dict[str, Node]:
    return {node.metadata.name: node for node in client.list(Node)}


def test_every_node_is_registered_and_ready(cluster: ClusterUnderTest, client: Client) -> None:
    expected = {node.name for node in cluster.nodes}
    nodes = wait_for(
        lambda: (found := _api_nodes(client)) and all(node_is_ready(found.get(name)) for name in expected) and found,
        what=f"nodes {sorted(expected)} Ready",
    )
    assert set(nodes) == expected


@pytest.mark.parametrize("index", [0, 1, 2], ids=["node0", "node1", "node2"])
def test_node_has_spec_labels_taints_and_pod_cidr(cluster: ClusterUnderTest, client: Client, index: int) -> None:
    if index >= len(cluster.nodes):
        pytest.skip(f"cluster has {len(cluster.nodes)} nodes")
    want = cluster.nodes[index]
    node = client.get(Node, want.name)
    labels = node.metadata.labels or {}
    for key, value in want.labels:
        assert labels.get(key) == value, f"label {key}"
    assert labels.get("kubernetes.io/hostname") == want.name
    assert labels.get("kubernetes.io/os") == "linux"
    taints = {(t.key, t.value or "", t.effect) for t in node.spec.taints or []}
    assert taints == {(t.key, t.value, t.effect) for t in want.taints}
    assert node.spec.podCIDR == want.pod_cidr
    assert want.pod_cidr in (node.spec.podCIDRs or [])
    addresses = {(a.type, a.address) for a in node.status.addresses or []}
    assert ("InternalIP", want.ip) in addresses
    assert ("Hostname", want.name) in addresses


def test_default_kubernetes_service_points_at_the_apiserver(cluster: ClusterUnderTest, client: Client) -> None:
    service = client.get(Service, "kubernetes", namespace="default")
    if cluster.service_subnet is not None:  # None: a cluster tested as it is that does not say
        # A dual-stack testbed's subnet is a "PRIMARY,SECONDARY" pair: the Service is the primary's.
        primary = cluster.service_subnet.split(",")[0]
        first_ip = str(ipaddress.ip_network(primary).network_address + 1)
        assert service.spec.clusterIP == first_ip
    assert [(p.name, p.port, p.protocol, p.targetPort) for p in service.spec.ports] == [("https", 443, "TCP", 6443)]
    assert (service.metadata.labels or {}).get("component") == "apiserver"
    endpoints = client.get(Endpoints, "kubernetes", namespace="default")
    assert [[a.ip for a in s.addresses] for s in endpoints.subsets] == [[cluster.apiserver_address]]
    assert [(p.name, p.port) for p in endpoints.subsets[0].ports] == [("https", 6443)]


def test_node_exec_hook_runs_on_the_node(cluster: ClusterUnderTest) -> None:
    node = cluster.nodes[-1]
    result = cluster.exec_on_node(node.name, ["hostname"]).check()
    assert result.stdout.strip() == node.name
    host = cluster.node_host(node.name)
    assert node.ip in host.interface("eth0").addresses
    assert host.sysctl("net.ipv4.ip_forward") == 1
    assert cluster.exec_on_node(node.name, ["sh", "-c", "exit 7"]).rc == 7
