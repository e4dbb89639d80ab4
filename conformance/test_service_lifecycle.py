"""Services coming and going over the same pods, and the client's source address.

Upstream e2e tests in test/e2e/network/service.go: "should be able to up and
down services" (two Services up; one deleted stops answering while the other
keeps answering; a third one gets its own VIP and answers), "should work after
the service has been recreated" (a Service deleted and created again over the
same pods answers), "should preserve source pod IP for traffic thru service
cluster IP" (a backend sees the client pod's own address, from the backend's
node and from another node); and networking.go "should function for multiple
endpoint-Services with same selector" (two Services over the same pods;
deleting one leaves the other working on its ClusterIP and nodePort).

Netexec backends (``app=backend``) on the workers; client pods as each test says.
"""

from __future__ import annotations

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort
from lightkube.resources.core_v1 import Service

from harness.cluster import ClusterUnderTest
from harness.reachability import wait_answering, wait_silent
from harness.traffic import (
    HTTP_PORT,
    control_plane_node,
    create_backends,
    create_client,
    create_service,
    http_get,
    pod_ips,
    url,
    wait_ready,
    worker_nodes,
)
from harness.waiting import wait_for

pytestmark = [pytest.mark.needs_proxy, pytest.mark.traffic, pytest.mark.breadth]

WEB = [ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP")]


def _backends_and_client(client: Client, cluster: ClusterUnderTest, namespace: str) -> tuple[list[str], dict[str, str]]:
    backends = create_backends(client, cluster, namespace, 2)
    pod = create_client(client, namespace, control_plane_node(cluster))
    wait_ready(client, namespace, backends)
    return backends, {"client": pod}


def test_services_up_and_down(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    backends, only = _backends_and_client(client, cluster, namespace)
    vip1 = create_service(client, "up-down-1", namespace, ports=WEB, selector={"app": "backend"}).cluster_ip
    vip2 = create_service(client, "up-down-2", namespace, ports=WEB, selector={"app": "backend"}).cluster_ip
    wait_answering(cluster, namespace, only, [url(vip1, 80), url(vip2, 80)], backends)

    client.delete(Service, "up-down-1", namespace=namespace)
    wait_silent(cluster, namespace, only, [url(vip1, 80)])
    wait_answering(cluster, namespace, only, [url(vip2, 80)], backends)

    vip3 = create_service(client, "up-down-3", namespace, ports=WEB, selector={"app": "backend"}).cluster_ip
    assert vip3 != vip2
    wait_answering(cluster, namespace, only, [url(vip2, 80), url(vip3, 80)], backends)


def test_service_works_after_being_recreated(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    backends, only = _backends_and_client(client, cluster, namespace)
    vip = create_service(client, "service-deletion", namespace, ports=WEB, selector={"app": "backend"}).cluster_ip
    wait_answering(cluster, namespace, only, [url(vip, 80)], backends)

    client.delete(Service, "service-deletion", namespace=namespace)
    wait_silent(cluster, namespace, only, [url(vip, 80)])

    again = create_service(client, "service-deletion", namespace, ports=WEB, selector={"app": "backend"}).cluster_ip
    wait_answering(cluster, namespace, only, [url(again, 80)], backends)


def test_two_services_with_one_selector_survive_each_other(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    backends, only = _backends_and_client(client, cluster, namespace)
    first = create_service(client, "first", namespace, ports=WEB, selector={"app": "backend"}, type="NodePort")
    second = create_service(client, "second", namespace, ports=WEB, selector={"app": "backend"}, type="NodePort")
    node_ip = cluster.nodes[-1].ip
    second_urls = [url(second.cluster_ip, 80), url(node_ip, second.node_ports[0])]
    wait_answering(cluster, namespace, only, [url(first.cluster_ip, 80), url(node_ip, first.node_ports[0])], backends)
    wait_answering(cluster, namespace, only, second_urls, backends)

    client.delete(Service, "first", namespace=namespace)
    wait_silent(cluster, namespace, only, [url(first.cluster_ip, 80), url(node_ip, first.node_ports[0])])
    wait_answering(cluster, namespace, only, second_urls, backends)


def test_cluster_ip_keeps_the_client_pod_address(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    if cluster.proxy_mode == "userspace":
        pytest.skip("the userspace proxy relays each connection from its own address")
    workers = worker_nodes(cluster)
    if not workers:
        pytest.skip("the cluster has no worker node")
    (backend,) = create_backends(client, cluster, namespace, 1, nodes=workers[:1])
    vip = create_service(client, "sourceip-test", namespace, ports=WEB, selector={"app": "backend"}).cluster_ip
    same = create_client(client, namespace, workers[0], name="same-node")
    other = create_client(client, namespace, control_plane_node(cluster), name="other-node")
    wait_ready(client, namespace, [backend])
    addresses = pod_ips(wait_ready(client, namespace, [same, other]))

    for pod in (same, other):
        answer = wait_for(
            lambda pod=pod: http_get(cluster, namespace, pod, url(vip, 80, "/clientip")),
            what=f"/clientip through the ClusterIP from {pod}",
        )
        assert answer.rsplit(":", 1)[0] == addresses[pod], f"{pod} ({addresses[pod]}) seen as {answer}"
