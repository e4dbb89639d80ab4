"""networking.go "Granular Checks: Services": every path into a Service, TCP and UDP.

Address plan: two netexec backends ``backend-0`` / ``backend-1`` (HTTP 8080,
UDP 8081) on the workers; Service ``granular`` of type NodePort with ``http``
80 -> 8080/TCP and ``udp`` 90 -> 8081/UDP; a client pod on the control-plane
node C. "From the node" means C's own network stack (upstream dials from a
hostNetwork pod): the packets come from the node's OUTPUT path, not a pod's
veth. "nodeIP" is C's own address and the first worker's, so the nodePort is
tried both where the request starts and across the cluster network.

Upstream checks that a path reaches every endpoint (each answers its
hostname), so a rule that loses one endpoint, or a path (node -> ClusterIP,
UDP nodePort, an endpoint calling its own Service) that the proxy does not
handle, fails here:

* node-Service http / udp: C -> ClusterIP and C -> nodeIP:nodePort;
* endpoint-Service http / udp: ``backend-0`` -> ClusterIP and nodeIP:nodePort,
  reaching itself (hairpin) and the other endpoint;
* pod-Service udp: the client pod -> nodeIP:nodePort over UDP (its ClusterIP
  half is ``test_udp.py``);
* basic nodePort udp / update nodePort http / udp: C -> nodeIP:nodePort reaches
  every endpoint; once the Service is deleted, 10 tries get no answer at all.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort
from lightkube.resources.core_v1 import Service

from harness.cluster import ClusterUnderTest
from harness.from_node import node_http_get_many, node_udp_hostnames, pod_udp_hostnames
from harness.traffic import (
    HTTP_PORT,
    UDP_PORT,
    control_plane_node,
    create_backends,
    create_client,
    create_service,
    http_get_many,
    url,
    wait_ready,
    worker_nodes,
)
from harness.waiting import wait_for

pytestmark = [pytest.mark.needs_proxy, pytest.mark.traffic, pytest.mark.breadth]

PORTS = [
    ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP"),
    ServicePort(name="udp", port=90, targetPort=UDP_PORT, protocol="UDP"),
]
PER_ROUND = 10  # requests per probe round: with two endpoints, both answer within a round or two
GONE_TRIES = 10  # upstream: after the delete, 10 tries must all go unanswered


class Granular:
    """The Service under test and where it can be reached from."""

    def __init__(self, cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
        self.backends = create_backends(client, cluster, namespace, 2)
        created = create_service(
            client, "granular", namespace, ports=PORTS, selector={"app": "backend"}, type="NodePort"
        )
        self.vip = created.cluster_ip
        self.http_node_port, self.udp_node_port = created.node_ports
        self.node = control_plane_node(cluster)
        workers = worker_nodes(cluster)
        self.node_ips = [cluster.node(self.node).ip] + [cluster.node(name).ip for name in workers[:1]]
        wait_ready(client, namespace, self.backends)


def _reaches_every_endpoint(fetch: Callable[[], list[str]], expected: list[str], what: str) -> None:
    """Probe rounds until every endpoint answered; nothing else may answer."""
    seen: set[str] = set()

    def everyone() -> bool:
        seen.update(fetch())
        return set(expected) <= seen

    wait_for(everyone, interval=0.0, what=f"answers from {expected} via {what}")
    assert seen - {""} == set(expected), seen


def test_node_to_service_http(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    svc = Granular(cluster, client, namespace)
    targets = [url(svc.vip, 80)] + [url(ip, svc.http_node_port) for ip in svc.node_ips]
    for target in targets:
        _reaches_every_endpoint(
            lambda target=target: node_http_get_many(cluster, svc.node, target, PER_ROUND), svc.backends, target
        )


def test_node_to_service_udp(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    svc = Granular(cluster, client, namespace)
    targets = [(svc.vip, 90)] + [(ip, svc.udp_node_port) for ip in svc.node_ips]
    for host, port in targets:
        _reaches_every_endpoint(
            lambda host=host, port=port: node_udp_hostnames(cluster, svc.node, host, port, PER_ROUND),
            svc.backends,
            f"udp {host}:{port} from node {svc.node}",
        )


def test_endpoint_to_service_http(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    svc = Granular(cluster, client, namespace)
    pod = svc.backends[0]
    for target in [url(svc.vip, 80)] + [url(ip, svc.http_node_port) for ip in svc.node_ips]:
        _reaches_every_endpoint(
            lambda target=target: http_get_many(cluster, namespace, pod, target, PER_ROUND), svc.backends, target
        )


def test_endpoint_to_service_udp(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    svc = Granular(cluster, client, namespace)
    pod = svc.backends[0]
    for host, port in [(svc.vip, 90)] + [(ip, svc.udp_node_port) for ip in svc.node_ips]:
        _reaches_every_endpoint(
            lambda host=host, port=port: pod_udp_hostnames(cluster, namespace, pod, host, port, PER_ROUND),
            svc.backends,
            f"udp {host}:{port} from endpoint {pod}",
        )


def test_pod_to_node_port_udp(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    svc = Granular(cluster, client, namespace)
    pod = create_client(client, namespace, svc.node)
    for ip in svc.node_ips:
        _reaches_every_endpoint(
            lambda ip=ip: pod_udp_hostnames(cluster, namespace, pod, ip, svc.udp_node_port, PER_ROUND),
            svc.backends,
            f"udp {ip}:{svc.udp_node_port} from pod {pod}",
        )


@pytest.mark.parametrize("protocol", ["http", "udp"])
def test_node_port_stops_answering_once_deleted(
    cluster: ClusterUnderTest, client: Client, namespace: str, protocol: str
) -> None:
    svc = Granular(cluster, client, namespace)
    ip = svc.node_ips[-1]

    def probe(count: int) -> list[str]:
        if protocol == "http":
            return node_http_get_many(cluster, svc.node, url(ip, svc.http_node_port), count)
        return node_udp_hostnames(cluster, svc.node, ip, svc.udp_node_port, count)

    _reaches_every_endpoint(lambda: probe(PER_ROUND), svc.backends, f"{protocol} nodePort on {ip}")
    client.delete(Service, "granular", namespace=namespace)
    # The rules go within a sync or two; then no try may be answered (upstream:
    # "getting ZERO host endpoints" over 10 tries).
    wait_for(lambda: probe(1) == [""], what=f"{protocol} nodePort on {ip} stops answering")
    assert probe(GONE_TRIES) == [""] * GONE_TRIES
