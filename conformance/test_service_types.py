"""Changing a Service's type, and one port number over TCP and UDP.

Upstream e2e conformance tests (test/e2e/network/service.go): "should be able
to change the type from ClusterIP to ExternalName / NodePort to ExternalName /
ExternalName to ClusterIP / ExternalName to NodePort" and "should serve
endpoints on same port and different protocols". Changes are made the way
upstream's jig makes them: GET, change the object, PUT (so the stale
``clusterIP`` / ``nodePort`` values ride along and the API server must drop them).

Plan: two netexec backends (``app=backend``, HTTP 8080, UDP 8081) on the
workers; one client pod on every node, because every node's proxy must follow
the change. When a type change takes an address away (the ClusterIP, the
nodePort), it must stop answering from every node, and the API must have
released it: a new Service can claim exactly that address. Upstream's DNS
checks (the Service name resolves, an ExternalName resolves to its CNAME) need
cluster DNS, which the local provider does not run; they are left out here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort
from lightkube.resources.core_v1 import Service

from harness.cluster import ClusterUnderTest
from harness.reachability import (
    clients_on_every_node,
    wait_answering,
    wait_silent,
    wait_udp_answering,
    wait_udp_silent,
)
from harness.traffic import (
    HTTP_PORT,
    UDP_PORT,
    control_plane_node,
    create_backends,
    create_client,
    create_service,
    service,
    url,
    wait_ready,
)
from harness.waiting import wait_for

pytestmark = [pytest.mark.needs_proxy, pytest.mark.traffic, pytest.mark.services]

WEB = [ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP")]
WEB_SPEC = [{"name": "http", "port": 80, "targetPort": HTTP_PORT, "protocol": "TCP"}]
NODE_PORT_RANGE = range(30000, 32768)  # the API server's default --service-node-port-range


def _external_name(namespace: str) -> str:
    return f"externalsvc.{namespace}.svc.cluster.local"


def _update(client: Client, namespace: str, name: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """GET, change the object's dict, PUT it back (upstream jig.UpdateService); the stored spec."""
    body = client.get(Service, name, namespace=namespace).to_dict()
    change(body)
    replaced = client.replace(Service.from_dict(body))
    spec: dict[str, Any] = replaced.to_dict()["spec"]
    return spec


def _to_external_name(namespace: str) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body["spec"]["type"] = "ExternalName"
        body["spec"]["externalName"] = _external_name(namespace)

    return change


def _from_external_name(kind: str) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        spec = body["spec"]
        spec.pop("externalName", None)
        spec.update(type=kind, ports=WEB_SPEC, selector={"app": "backend"})

    return change


def _node_urls(cluster: ClusterUnderTest, node_port: int) -> list[str]:
    return [url(node.ip, node_port) for node in cluster.nodes]


def _claim(client: Client, namespace: str, name: str, ports: list[ServicePort] = WEB, **spec: Any) -> None:
    """Create a Service claiming a given address; retried while the release propagates."""

    def created() -> bool:
        client.create(service(name, namespace, ports=ports, selector=None, **spec))
        return True

    wait_for(created, what=f"Service {name} claiming {spec}")


def _assert_no_cluster_ip(spec: dict[str, Any]) -> None:
    assert spec.get("clusterIP") in (None, ""), spec
    assert not spec.get("clusterIPs"), spec
    assert all(not port.get("nodePort") for port in spec.get("ports") or []), spec


def _in_service_subnet(cluster: ClusterUnderTest, ip: str) -> bool:
    if cluster.service_subnet is None:  # a cluster tested as it is may not say
        return True
    # A dual-stack testbed's subnet is a comma-separated pair, one CIDR per family.
    address = ipaddress.ip_address(ip)
    networks = [ipaddress.ip_network(part) for part in cluster.service_subnet.split(",")]
    return any(address.version == net.version and address in net for net in networks)


def _backends_and_clients(
    client: Client, cluster: ClusterUnderTest, namespace: str
) -> tuple[list[str], dict[str, str]]:
    backends = create_backends(client, cluster, namespace, 2)
    clients = clients_on_every_node(client, cluster, namespace)
    wait_ready(client, namespace, backends)
    return backends, clients


def test_cluster_ip_to_external_name_releases_the_vip(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    """Upstream conformance: ClusterIP -> ExternalName clears the ClusterIP."""
    vip = create_service(client, "web", namespace, ports=WEB, selector={"app": "backend"}).cluster_ip
    backends, clients = _backends_and_clients(client, cluster, namespace)
    wait_answering(cluster, namespace, clients, [url(vip, 80)], backends)

    spec = _update(client, namespace, "web", _to_external_name(namespace))

    assert spec["type"] == "ExternalName" and spec["externalName"] == _external_name(namespace)
    _assert_no_cluster_ip(spec)
    wait_silent(cluster, namespace, clients, [url(vip, 80)])
    _claim(client, namespace, "reuses-vip", clusterIP=vip)


def test_cluster_ip_to_node_port_to_external_name(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    """Upstream conformance: NodePort -> ExternalName clears the ClusterIP and releases
    the nodePort (here reached from ClusterIP, keeping the VIP on the way)."""
    vip = create_service(client, "web", namespace, ports=WEB, selector={"app": "backend"}).cluster_ip
    backends, clients = _backends_and_clients(client, cluster, namespace)
    wait_answering(cluster, namespace, clients, [url(vip, 80)], backends)

    spec = _update(client, namespace, "web", lambda body: body["spec"].update(type="NodePort"))
    node_port = spec["ports"][0]["nodePort"]
    assert spec["clusterIP"] == vip and node_port in NODE_PORT_RANGE, spec
    wait_answering(cluster, namespace, clients, [url(vip, 80), *_node_urls(cluster, node_port)], backends)

    spec = _update(client, namespace, "web", _to_external_name(namespace))

    _assert_no_cluster_ip(spec)
    wait_silent(cluster, namespace, clients, [url(vip, 80), *_node_urls(cluster, node_port)])
    claimed = [ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP", nodePort=node_port)]
    _claim(client, namespace, "reuses-node-port", ports=claimed, type="NodePort")
    _claim(client, namespace, "reuses-vip", clusterIP=vip)


def test_external_name_to_cluster_ip(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    """Upstream conformance: ExternalName -> ClusterIP allocates a VIP that answers."""
    client.create(
        service("web", namespace, ports=WEB, selector=None, type="ExternalName", externalName=_external_name(namespace))
    )
    assert client.get(Service, "web", namespace=namespace).to_dict()["spec"].get("clusterIP") in (None, "")
    backends, clients = _backends_and_clients(client, cluster, namespace)

    spec = _update(client, namespace, "web", _from_external_name("ClusterIP"))

    vip = spec["clusterIP"]
    assert vip and vip != "None" and _in_service_subnet(cluster, vip), spec
    assert spec.get("clusterIPs") == [vip] and "externalName" not in spec, spec
    wait_answering(cluster, namespace, clients, [url(vip, 80)], backends)


def test_external_name_to_node_port(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    """Upstream conformance: ExternalName -> NodePort allocates a VIP and a nodePort
    that answer from every node."""
    client.create(
        service("web", namespace, ports=WEB, selector=None, type="ExternalName", externalName=_external_name(namespace))
    )
    backends, clients = _backends_and_clients(client, cluster, namespace)

    spec = _update(client, namespace, "web", _from_external_name("NodePort"))

    vip, node_port = spec["clusterIP"], spec["ports"][0]["nodePort"]
    assert vip and _in_service_subnet(cluster, vip) and node_port in NODE_PORT_RANGE, spec
    wait_answering(cluster, namespace, clients, [url(vip, 80), *_node_urls(cluster, node_port)], backends)


def test_same_port_over_tcp_and_udp(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    """Upstream conformance: port 80 over TCP and UDP; dropping one protocol's port
    stops only that protocol."""
    tcp = {"name": "tcp-port", "port": 80, "targetPort": HTTP_PORT, "protocol": "TCP"}
    udp = {"name": "udp-port", "port": 80, "targetPort": UDP_PORT, "protocol": "UDP"}
    ports = [ServicePort(**tcp), ServicePort(**udp)]
    vip = create_service(client, "multiprotocol", namespace, ports=ports, selector={"app": "backend"}).cluster_ip
    backends = create_backends(client, cluster, namespace, 2)
    pod = create_client(client, namespace, control_plane_node(cluster))
    wait_ready(client, namespace, backends)
    only_client = {"client": pod}

    wait_answering(cluster, namespace, only_client, [url(vip, 80)], backends)
    wait_udp_answering(cluster, namespace, pod, vip, 80, backends)

    _update(client, namespace, "multiprotocol", lambda body: body["spec"].update(ports=[tcp]))
    wait_udp_silent(cluster, namespace, pod, vip, 80)
    wait_answering(cluster, namespace, only_client, [url(vip, 80)], backends)

    _update(client, namespace, "multiprotocol", lambda body: body["spec"].update(ports=[udp]))
    wait_silent(cluster, namespace, only_client, [url(vip, 80)])
    wait_udp_answering(cluster, namespace, pod, vip, 80, backends)
