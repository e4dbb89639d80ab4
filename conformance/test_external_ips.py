"""External IPs, and a LoadBalancer Service without a cloud reached through its ClusterIP.

Upstream e2e tests in test/e2e/network/service.go:

* "should be possible to connect to a service via ExternalIP when the external
  IP is not assigned to a node": a ClusterIP Service with an ``externalIPs``
  address no node holds answers on that address, through every node's proxy
  (clients on two nodes); svclab also checks that removing the address stops it;
* "should serve endpoints on same port and different protocol for internal
  traffic on Type LoadBalancer": a LoadBalancer Service with TCP and UDP on
  port 80 answers both through its ClusterIP (upstream's test needs no load
  balancer either: no ingress address is used).

Plan: two netexec backends on the workers; clients on the control plane and on
the first worker. The external IP is 203.0.113.10 (TEST-NET-3, documentation
only: no node, no route); upstream uses 1.1.1.1.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort
from lightkube.resources.core_v1 import Service
from lightkube.types import PatchType

from harness.cluster import ClusterUnderTest
from harness.traffic import (
    HTTP_PORT,
    UDP_PORT,
    collect_hostnames,
    control_plane_node,
    create_backends,
    create_client,
    create_service,
    http_get_many,
    udp_hostnames,
    url,
    wait_ready,
    worker_nodes,
)
from harness.waiting import wait_for

pytestmark = [pytest.mark.needs_proxy, pytest.mark.breadth]

EXTERNAL_IP = "203.0.113.10"
WEB = [ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP")]


def _clients(cluster: ClusterUnderTest, client: Client, namespace: str) -> list[str]:
    nodes = [control_plane_node(cluster), *worker_nodes(cluster)[:1]]
    return [create_client(client, namespace, node, name=f"client-{i}") for i, node in enumerate(nodes)]


# userspace (upstream's, removed in 1.26) skips pod traffic to an external IP that is not the
# node's own: its rules match external IPs only for packets not bridged from a pod (physdev).
@pytest.mark.proxy_mode("iptables", "nftables", "ipvs")
def test_external_ip_not_assigned_to_a_node(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    backends = create_backends(client, cluster, namespace, 2)
    wait_ready(client, namespace, backends, timeout=60.0)  # slow on a loaded host
    create_service(client, "ext", namespace, ports=WEB, selector={"app": "backend"}, externalIPs=[EXTERNAL_IP])
    target = url(EXTERNAL_IP, 80)
    pods = _clients(cluster, client, namespace)
    for pod in pods:
        seen = collect_hostnames(cluster, namespace, pod, target, backends)
        assert set(seen) - {""} <= set(backends), f"{pod} via {EXTERNAL_IP}: {dict(seen)}"
    patch = {"spec": {"externalIPs": None}}
    client.patch(Service, "ext", patch, namespace=namespace, patch_type=PatchType.MERGE)

    def silent(pod: str) -> Callable[[], bool]:
        return lambda: set(http_get_many(cluster, namespace, pod, target, 5)) == {""}

    for pod in pods:
        wait_for(silent(pod), what=f"{target} silent for {pod} once removed")


def test_load_balancer_same_port_tcp_and_udp_through_the_cluster_ip(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    backends = create_backends(client, cluster, namespace, 2)
    wait_ready(client, namespace, backends, timeout=60.0)  # slow on a loaded host
    ports = [
        ServicePort(name="tcp", port=80, targetPort=HTTP_PORT, protocol="TCP"),
        ServicePort(name="udp", port=80, targetPort=UDP_PORT, protocol="UDP"),
    ]
    address = create_service(client, "lb", namespace, ports=ports, selector={"app": "backend"}, type="LoadBalancer")
    assert all(address.node_ports), f"a LoadBalancer Service gets nodePorts: {address}"
    pod = _clients(cluster, client, namespace)[0]
    seen = collect_hostnames(cluster, namespace, pod, url(address.cluster_ip, 80), backends)
    assert set(seen) - {""} <= set(backends), f"TCP: {dict(seen)}"

    udp_seen: set[str] = set()

    def udp_reaches_all() -> bool:  # one call is one flow (one source port): collect over calls
        udp_seen.update(udp_hostnames(cluster, namespace, pod, address.cluster_ip, 80, 3, source_port=0))
        return set(backends) <= udp_seen

    wait_for(udp_reaches_all, what=f"UDP {address.cluster_ip}:80 reaching {backends}")
    assert udp_seen - {""} <= set(backends), f"UDP: {udp_seen}"
