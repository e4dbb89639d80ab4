"""``spec.trafficDistribution``: the slice controller's hints and the proxies' routing by them.

Upstream e2e tests in test/e2e/network/traffic_distribution.go. Upstream picks
clients and servers from three zones (six nodes for its multi-node cases); the
testbeds have two zones, so each case keeps upstream's assertion (a client
reaches exactly its expected servers, every one of them, and no other) on the
nodes there are:

* PreferClose / PreferSameZone, one node per zone: servers in zone A and B,
  the client in each zone reaches only its zone's server; once zone B's server
  is gone its client falls back to zone A's (upstream's third, server-less
  zone: a client whose zone has no hinted endpoint uses them all);
* ... multiple nodes: zone A has two nodes, each with a server and a client;
  both clients reach both zone-A servers and never zone B's;
* PreferSameNode: a client on a node with a server reaches only that server;
  a client on a node without one falls back to its zone's servers; when its
  node's server goes, it falls back too.

The slices are checked first: every ready endpoint carries its own zone as
``forZones`` (and its node as ``forNodes`` for PreferSameNode).

Plan (the testbeds' nodes): zone A = control plane (CP) and first worker (W1),
zone B = second worker (W2). Servers are netexec pods (``/hostname``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort, Toleration
from lightkube.resources.core_v1 import Pod
from lightkube.resources.discovery_v1 import EndpointSlice

from harness.builders import LABEL_ZONE, force_delete, node_zones, wait_slices
from harness.cluster import ClusterUnderTest
from harness.traffic import HTTP_PORT, backend_pod, create_client, create_service, http_get_many, url, wait_ready
from harness.waiting import wait_for

pytestmark = [pytest.mark.needs_proxy, pytest.mark.needs_controllers, pytest.mark.breadth]

WEB = [ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP")]
PER_ROUND = 20


@pytest.fixture
def zones(cluster: ClusterUnderTest, client: Client) -> tuple[list[str], list[str]]:
    """(zone A's nodes, zone B's nodes): the zone with two nodes first."""
    by_zone: dict[str, list[str]] = {}
    for node, zone in sorted(node_zones(client).items()):
        if zone:
            by_zone.setdefault(zone, []).append(node)
    ordered = sorted(by_zone.values(), key=len, reverse=True)
    if len(ordered) < 2 or len(ordered[0]) < 2:
        pytest.skip(f"needs two zones, one with two nodes ({LABEL_ZONE} labels: {by_zone})")
    return ordered[0], ordered[1]


def _servers(client: Client, namespace: str, nodes: Iterable[str]) -> list[str]:
    names = []
    for node in nodes:
        name = f"server-{node}"
        pod = backend_pod(name, namespace, node, labels={"app": "td"})
        assert pod.spec is not None
        pod.spec.tolerations = [Toleration(operator="Exists")]  # the control plane serves too
        client.create(pod)
        names.append(name)
    wait_ready(client, namespace, names, timeout=60.0)  # three pods at once; slow on a loaded host
    return names


def _hinted(distribution: str, count: int) -> Callable[[list[EndpointSlice]], bool]:
    def check(slices: list[EndpointSlice]) -> bool:
        endpoints = [e for s in slices for e in s.endpoints or [] if e.conditions and e.conditions.ready]
        if len(endpoints) != count:
            return False
        for e in endpoints:
            zones = [z.name for z in (e.hints.forZones or [])] if e.hints else []
            nodes = [n.name for n in (e.hints.forNodes or [])] if e.hints else []
            if zones != [e.zone] or nodes != ([e.nodeName] if distribution == "PreferSameNode" else []):
                return False
        return True

    return check


def _service(client: Client, namespace: str, distribution: str, servers: int) -> str:
    vip = create_service(client, "td", namespace, ports=WEB, selector={"app": "td"}, trafficDistribution=distribution)
    wait_slices(client, namespace, "td", _hinted(distribution, servers), what=f"{distribution} hints")
    return url(vip.cluster_ip, 80)


def _reaches_exactly(
    cluster: ClusterUnderTest, namespace: str, client_pod: str, target: str, expected: set[str]
) -> None:
    """Rounds of requests until one reaches every expected server and nothing else; then one more
    round must reach nothing else (upstream: ten consecutive requests, all to expected servers)."""

    def converged() -> bool:
        seen = Counter(http_get_many(cluster, namespace, client_pod, target, PER_ROUND))
        return set(seen) == expected

    wait_for(converged, interval=0.0, what=f"{client_pod} reaching exactly {sorted(expected)}")
    last = Counter(http_get_many(cluster, namespace, client_pod, target, PER_ROUND))
    assert set(last) <= expected, f"{client_pod} reached {dict(last)}, expected only {sorted(expected)}"


@pytest.mark.parametrize("distribution", ["PreferClose", "PreferSameZone"])
def test_same_zone_and_fallback_when_the_zone_has_no_server(
    cluster: ClusterUnderTest,
    client: Client,
    namespace: str,
    zones: tuple[list[str], list[str]],
    distribution: str,
) -> None:
    (a_node, _), (b_node, *_) = zones[0][:2], zones[1]
    server_a, server_b = _servers(client, namespace, [a_node, b_node])
    target = _service(client, namespace, distribution, 2)
    client_a = create_client(client, namespace, a_node, name="client-a")
    client_b = create_client(client, namespace, b_node, name="client-b")
    _reaches_exactly(cluster, namespace, client_a, target, {server_a})
    _reaches_exactly(cluster, namespace, client_b, target, {server_b})
    force_delete(client, namespace, [server_b])
    _reaches_exactly(cluster, namespace, client_b, target, {server_a})
    _reaches_exactly(cluster, namespace, client_a, target, {server_a})


@pytest.mark.parametrize("distribution", ["PreferClose", "PreferSameZone"])
def test_same_zone_across_the_zones_nodes(
    cluster: ClusterUnderTest,
    client: Client,
    namespace: str,
    zones: tuple[list[str], list[str]],
    distribution: str,
) -> None:
    a_nodes, (b_node, *_) = zones[0][:2], zones[1]
    *zone_a_servers, server_b = _servers(client, namespace, [*a_nodes, b_node])
    target = _service(client, namespace, distribution, 3)
    for index, node in enumerate(a_nodes):
        pod = create_client(client, namespace, node, name=f"client-a{index}")
        _reaches_exactly(cluster, namespace, pod, target, set(zone_a_servers))
    _reaches_exactly(cluster, namespace, create_client(client, namespace, b_node, name="client-b"), target, {server_b})


def test_prefer_same_node_or_else_same_zone(
    cluster: ClusterUnderTest, client: Client, namespace: str, zones: tuple[list[str], list[str]]
) -> None:
    (a_with, a_without), (b_node, *_) = zones[0][:2], zones[1]
    server_a, server_b = _servers(client, namespace, [a_with, b_node])
    target = _service(client, namespace, "PreferSameNode", 2)
    _reaches_exactly(cluster, namespace, create_client(client, namespace, a_with, name="on-node"), target, {server_a})
    elsewhere = create_client(client, namespace, a_without, name="same-zone")
    _reaches_exactly(cluster, namespace, elsewhere, target, {server_a})
    _reaches_exactly(cluster, namespace, create_client(client, namespace, b_node, name="zone-b"), target, {server_b})


def test_prefer_same_node_falls_back_when_the_nodes_server_goes(
    cluster: ClusterUnderTest, client: Client, namespace: str, zones: tuple[list[str], list[str]]
) -> None:
    (a_node, other_a), (b_node, *_) = zones[0][:2], zones[1]
    server_here, server_zone, _ = _servers(client, namespace, [a_node, other_a, b_node])
    target = _service(client, namespace, "PreferSameNode", 3)
    pod = create_client(client, namespace, a_node, name="client")
    _reaches_exactly(cluster, namespace, pod, target, {server_here})
    force_delete(client, namespace, [server_here])
    wait_for(lambda: not _exists(client, namespace, server_here), what=f"{server_here} gone")
    _reaches_exactly(cluster, namespace, pod, target, {server_zone})  # its zone's, never zone B's


def _exists(client: Client, namespace: str, name: str) -> bool:
    return any(p.metadata is not None and p.metadata.name == name for p in client.list(Pod, namespace=namespace))
