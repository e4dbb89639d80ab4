"""Large requests through a ClusterIP: a ~2 kB HTTP echo and a 2,000-byte UDP datagram.

Upstream e2e tests in test/e2e/network/networking.go ("Granular Checks:
Services should be able to handle large requests: http / udp"): the message
is "42" repeated 1,000 times over HTTP (``/echo?msg=``) and "n" followed by
1,999 "o"s over UDP (netexec's ``echo`` command); the answer must be the
message itself. The UDP datagram is larger than the cluster's 1,500-byte MTU,
so it crosses the DNAT as IP fragments. Netexec backends on the workers, the
client on the control-plane node, so every request crosses nodes. The last
test sends both echoes to hostNetwork backends (networking.go "should
function for service endpoints using hostNetwork", its large-request half).
"""

from __future__ import annotations

import json

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort

from harness.cluster import ClusterUnderTest
from harness.host_network import create_host_backend
from harness.traffic import (
    HTTP_PORT,
    UDP_PORT,
    control_plane_node,
    create_backends,
    create_client,
    create_service,
    http_get,
    python_in_pod,
    url,
    wait_ready,
    worker_nodes,
)
from harness.waiting import wait_for

pytestmark = [pytest.mark.needs_proxy, pytest.mark.traffic, pytest.mark.breadth]

HTTP_MESSAGE = "42" * 1000
UDP_MESSAGE = "n" + "o" * 1999
HOST_HTTP, HOST_UDP = 10190, 10191  # the hostNetwork backends' ports (their own, see harness.host_network)
PORTS = [
    ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP"),
    ServicePort(name="udp", port=90, targetPort=UDP_PORT, protocol="UDP"),
]

_UDP_ECHO = """
import json, socket, sys
host, port, message = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(1.0)
sock.sendto(("echo " + message).encode(), (host, port))
try:
    print(json.dumps(sock.recv(65535).decode()))
except (socket.timeout, ConnectionRefusedError):
    print(json.dumps(""))
"""


def _setup(client: Client, cluster: ClusterUnderTest, namespace: str) -> tuple[str, str]:
    backends = create_backends(client, cluster, namespace, 2)
    vip = create_service(client, "web", namespace, ports=PORTS, selector={"app": "backend"}).cluster_ip
    pod = create_client(client, namespace, control_plane_node(cluster))
    wait_ready(client, namespace, backends)
    return vip, pod


def test_large_http_request_through_the_cluster_ip(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    vip, pod = _setup(client, cluster, namespace)
    target = url(vip, 80, f"/echo?msg={HTTP_MESSAGE}")
    wait_for(lambda: http_get(cluster, namespace, pod, target) == HTTP_MESSAGE, what="the 2 kB HTTP echo")


def test_large_udp_datagram_through_the_cluster_ip(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    vip, pod = _setup(client, cluster, namespace)

    def echoed() -> bool:
        result = python_in_pod(cluster, namespace, pod, _UDP_ECHO, vip, "90", UDP_MESSAGE).check()
        answer: str = json.loads(result.stdout)
        return answer == UDP_MESSAGE

    wait_for(echoed, what="the 2,000-byte UDP echo")


def test_large_requests_to_host_network_endpoints(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    # networking.go "should function for service endpoints using hostNetwork",
    # its "handle large requests" half: the same two echoes, answered by
    # hostNetwork backends (the node's own stack, not a pod's veth).
    workers = worker_nodes(cluster) or [cluster.nodes[0].name]
    labels = {"app": "host-backend"}
    backends = [
        create_host_backend(client, namespace, node, f"host-{i}", labels=labels, http_port=HOST_HTTP, udp_port=HOST_UDP)
        for i, node in enumerate(workers[:2])
    ]
    ports = [
        ServicePort(name="http", port=80, targetPort=HOST_HTTP, protocol="TCP"),
        ServicePort(name="udp", port=90, targetPort=HOST_UDP, protocol="UDP"),
    ]
    vip = create_service(client, "host-web", namespace, ports=ports, selector=labels).cluster_ip
    pod = create_client(client, namespace, control_plane_node(cluster))
    wait_ready(client, namespace, backends)
    target = url(vip, 80, f"/echo?msg={HTTP_MESSAGE}")
    wait_for(lambda: http_get(cluster, namespace, pod, target) == HTTP_MESSAGE, what="the 2 kB HTTP echo (hostNetwork)")

    def echoed() -> bool:
        result = python_in_pod(cluster, namespace, pod, _UDP_ECHO, vip, "90", UDP_MESSAGE).check()
        answer: str = json.loads(result.stdout)
        return answer == UDP_MESSAGE

    wait_for(echoed, what="the 2,000-byte UDP echo (hostNetwork)")
