"""Editing a live Service's ports.

Upstream e2e tests in test/e2e/network/service.go: "should be updated after
adding or deleting ports" (a port added to a Service answers, a port removed
stops answering while the others keep working) and "should be able to update
service type to NodePort listening on same port number but different
protocols" (a ClusterIP Service becomes NodePort, then gets the same port over
UDP: each protocol has its own nodePort and both answer).

Backends: two netexec pods (``app=backend``; HTTP on the container port named
``http``, 8080; UDP 8081); the client pod sits on the control-plane node.
Changes are GET, edit, PUT, as upstream's jig makes them.
"""

from __future__ import annotations

from typing import Any

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort
from lightkube.resources.core_v1 import Service

from harness.cluster import ClusterUnderTest
from harness.reachability import wait_answering, wait_silent, wait_udp_answering
from harness.traffic import (
    HTTP_PORT,
    UDP_PORT,
    control_plane_node,
    create_backends,
    create_client,
    create_service,
    url,
    wait_ready,
)

pytestmark = [pytest.mark.needs_proxy, pytest.mark.traffic, pytest.mark.services, pytest.mark.breadth]

NODE_PORT_RANGE = range(30000, 32768)
PORT_1 = {"name": "portname1", "port": 80, "targetPort": "http", "protocol": "TCP"}
PORT_2 = {"name": "portname2", "port": 81, "targetPort": "http", "protocol": "TCP"}
TCP_80 = {"name": "tcp-port", "port": 80, "targetPort": HTTP_PORT, "protocol": "TCP"}
UDP_80 = {"name": "udp-port", "port": 80, "targetPort": UDP_PORT, "protocol": "UDP"}


def _set_spec(client: Client, namespace: str, name: str, **fields: Any) -> dict[str, Any]:
    """GET the Service, set ``fields`` of its spec, PUT it; the stored spec."""
    body = client.get(Service, name, namespace=namespace).to_dict()
    body["spec"].update(fields)
    spec: dict[str, Any] = client.replace(Service.from_dict(body)).to_dict()["spec"]
    return spec


def _setup(
    client: Client, cluster: ClusterUnderTest, namespace: str, port: dict[str, Any]
) -> tuple[str, list[str], str]:
    vip = create_service(client, "web", namespace, ports=[ServicePort(**port)], selector={"app": "backend"}).cluster_ip
    backends = create_backends(client, cluster, namespace, 2)
    pod = create_client(client, namespace, control_plane_node(cluster))
    wait_ready(client, namespace, backends)
    return vip, backends, pod


def test_ports_added_to_and_removed_from_a_live_service(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    vip, backends, pod = _setup(client, cluster, namespace, PORT_1)
    only = {"client": pod}
    wait_answering(cluster, namespace, only, [url(vip, 80)], backends)

    _set_spec(client, namespace, "web", ports=[PORT_1, PORT_2])
    wait_answering(cluster, namespace, only, [url(vip, 81), url(vip, 80)], backends)

    _set_spec(client, namespace, "web", ports=[PORT_1])
    wait_silent(cluster, namespace, only, [url(vip, 81)])
    wait_answering(cluster, namespace, only, [url(vip, 80)], backends)


def test_node_port_service_gets_the_same_port_over_udp(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    vip, backends, pod = _setup(client, cluster, namespace, TCP_80)
    only = {"client": pod}
    wait_answering(cluster, namespace, only, [url(vip, 80)], backends)

    spec = _set_spec(client, namespace, "web", type="NodePort", ports=[TCP_80])
    tcp_node_port = spec["ports"][0]["nodePort"]
    assert tcp_node_port in NODE_PORT_RANGE, spec
    wait_answering(cluster, namespace, only, [url(node.ip, tcp_node_port) for node in cluster.nodes], backends)

    spec = _set_spec(client, namespace, "web", ports=[{**TCP_80, "nodePort": tcp_node_port}, UDP_80])
    node_ports = {port["protocol"]: port.get("nodePort") for port in spec["ports"]}
    assert node_ports["TCP"] == tcp_node_port and node_ports["UDP"] in NODE_PORT_RANGE, spec
    for node in cluster.nodes:
        wait_answering(cluster, namespace, only, [url(node.ip, tcp_node_port)], backends)
        wait_udp_answering(cluster, namespace, pod, node.ip, node_ports["UDP"], backends)
    wait_udp_answering(cluster, namespace, pod, vip, 80, backends)
