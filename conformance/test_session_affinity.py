"""ClientIP session affinity: one client sticks to one backend; switching works.

Plan: three netexec backends on the workers behind ``web`` (80 -> 8080), one
client pod on the control-plane node. With affinity ``None`` the client's
fresh connections spread over every backend; with ``ClientIP`` (upstream's
default timeout, 10800 s) every connection from that client lands on the same
backend; switching back to ``None`` spreads them again (upstream e2e
"should have session affinity work for service with type clusterIP" and
"should be able to switch session affinity"). The NodePort test does the
same through one worker's address and the Service's nodePort, the Service
created with ``ClientIP`` from the start (upstream "should have session
affinity work for NodePort service" and "should be able to switch session
affinity for NodePort service"). The UDP test (upstream networking.go
"Granular Checks: Services should function for client IP based session
affinity: udp") sends each datagram from a fresh source port, so every one is
a new flow: without affinity they spread, with ``ClientIP`` one backend
answers them all.
"""

from __future__ import annotations

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort
from lightkube.resources.core_v1 import Service

from harness.cluster import ClusterUnderTest
from harness.from_node import pod_udp_hostnames
from harness.traffic import (
    HTTP_PORT,
    UDP_PORT,
    collect_hostnames,
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

pytestmark = [pytest.mark.needs_proxy, pytest.mark.session_affinity]

WEB = [ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP")]
DNS_LIKE = [ServicePort(name="udp", port=53, targetPort=UDP_PORT, protocol="UDP")]
STICKY_ROUND = 20  # with 3 backends, 20 random picks all alike by chance: (1/3)**19


def _affinity(client: Client, namespace: str, mode: str) -> None:
    client.patch(Service, "web", {"spec": {"sessionAffinity": mode}}, namespace=namespace)


def _one_backend(answers: list[str]) -> str | None:
    distinct = set(answers)
    return distinct.pop() if len(distinct) == 1 and "" not in distinct else None


def test_client_ip_affinity_sticks_and_can_be_switched_on_and_off(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    backends = create_backends(client, cluster, namespace, 3)
    vip = create_service(client, "web", namespace, ports=WEB, selector={"app": "backend"}).cluster_ip
    pod = create_client(client, namespace, control_plane_node(cluster))
    wait_ready(client, namespace, backends)
    target = url(vip, 80)
    collect_hostnames(cluster, namespace, pod, target, backends)

    _affinity(client, namespace, "ClientIP")
    config = client.get(Service, "web", namespace=namespace).to_dict()["spec"]
    assert config["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] == 10800
    sticky = wait_for(
        lambda: _one_backend(http_get_many(cluster, namespace, pod, target, STICKY_ROUND)),
        what="ClientIP affinity in effect",
    )
    assert sticky in backends
    assert set(http_get_many(cluster, namespace, pod, target, 2 * STICKY_ROUND)) == {sticky}

    _affinity(client, namespace, "None")
    seen = collect_hostnames(cluster, namespace, pod, target, backends)
    assert set(seen) - {""} == set(backends)


def test_node_port_client_ip_affinity_sticks_and_can_be_switched_off_and_on(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    backends = create_backends(client, cluster, namespace, 3)
    node_port = create_service(
        client, "web", namespace, ports=WEB, selector={"app": "backend"}, type="NodePort", sessionAffinity="ClientIP"
    ).node_ports[0]
    pod = create_client(client, namespace, control_plane_node(cluster))
    wait_ready(client, namespace, backends)
    through = (worker_nodes(cluster) or [cluster.nodes[0].name])[0]
    target = url(cluster.node(through).ip, node_port)

    sticky = wait_for(
        lambda: _one_backend(http_get_many(cluster, namespace, pod, target, STICKY_ROUND)),
        what=f"ClientIP affinity through {target}",
    )
    assert sticky in backends
    assert set(http_get_many(cluster, namespace, pod, target, 2 * STICKY_ROUND)) == {sticky}

    _affinity(client, namespace, "None")
    seen = collect_hostnames(cluster, namespace, pod, target, backends)
    assert set(seen) - {""} == set(backends)

    _affinity(client, namespace, "ClientIP")
    again = wait_for(
        lambda: _one_backend(http_get_many(cluster, namespace, pod, target, STICKY_ROUND)),
        what=f"ClientIP affinity through {target} again",
    )
    assert set(http_get_many(cluster, namespace, pod, target, 2 * STICKY_ROUND)) == {again}


@pytest.mark.breadth
def test_udp_client_ip_affinity(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    backends = create_backends(client, cluster, namespace, 3)
    vip = create_service(client, "web", namespace, ports=DNS_LIKE, selector={"app": "backend"}).cluster_ip
    pod = create_client(client, namespace, control_plane_node(cluster))
    wait_ready(client, namespace, backends)
    seen: set[str] = set()

    def spread() -> bool:  # without affinity: fresh flows reach every backend
        seen.update(pod_udp_hostnames(cluster, namespace, pod, vip, 53, STICKY_ROUND))
        return set(backends) <= seen

    wait_for(spread, what="UDP answers from every backend")

    _affinity(client, namespace, "ClientIP")
    sticky = wait_for(
        lambda: _one_backend(pod_udp_hostnames(cluster, namespace, pod, vip, 53, STICKY_ROUND)),
        what="ClientIP affinity for UDP in effect",
    )
    assert sticky in backends
    assert set(pod_udp_hostnames(cluster, namespace, pod, vip, 53, 2 * STICKY_ROUND)) == {sticky}
