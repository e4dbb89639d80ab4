"""Packets through the proxy: ClusterIP, scaling, REJECT, NodePort, hairpin, ports.

Plan: netexec backends (HTTP 8080 ``/hostname``, UDP 8081) labelled
``app=backend`` go round robin onto the workers; the client pod sits on the
control-plane node, so every request crosses nodes. Service ports are 80 -> 8080
unless a test says otherwise. Expectations follow upstream's
``test/e2e/network/service.go``: every ready backend answers, a not-ready one
never does, a Service without endpoints is refused at once (REJECT, "connection
refused", not a timeout), NodePorts answer on every node's address, a pod
reaches itself through its own Service.
"""

from __future__ import annotations

import pytest
from lightkube import Client
from lightkube.models.core_v1 import EndpointAddress, EndpointPort, EndpointSubset, ServicePort
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Endpoints, Pod, Service

from harness.cluster import ClusterUnderTest
from harness.traffic import (
    HTTP_PORT,
    Outcome,
    collect_hostnames,
    connect_outcome,
    control_plane_node,
    create_backends,
    create_client,
    create_service,
    delete_pods,
    http_get,
    http_get_many,
    pod_ips,
    udp_hostnames,
    url,
    wait_ready,
    worker_nodes,
)
from harness.waiting import wait_for

pytestmark = [pytest.mark.needs_proxy, pytest.mark.traffic]

WEB = [ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP")]
REFUSE_WITHIN = 1.0  # seconds; the bound, a sanity check beside the error type


def _refused_fast(cluster: ClusterUnderTest, namespace: str, pod: str, target: str) -> bool:
    outcome = connect_outcome(cluster, namespace, pod, target)
    return outcome.outcome is Outcome.REFUSED and outcome.seconds < REFUSE_WITHIN


def test_cluster_ip_reaches_every_ready_backend_and_never_a_not_ready_one(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    ready = create_backends(client, cluster, namespace, 3)
    unready = create_backends(client, cluster, namespace, 1, prefix="unready", ready=False)
    vip = create_service(client, "web", namespace, ports=WEB, selector={"app": "backend"}).cluster_ip
    pod = create_client(client, namespace, control_plane_node(cluster))
    wait_ready(client, namespace, ready)

    seen = collect_hostnames(cluster, namespace, pod, url(vip, 80), ready)
    assert not set(seen) & set(unready), seen
    assert set(seen) - {""} <= set(ready), seen
    settled = http_get_many(cluster, namespace, pod, url(vip, 80), 30)
    assert set(settled) <= set(ready), settled
    assert client.get(Pod, unready[0], namespace=namespace).to_dict()["status"]["phase"] == "Running"


def test_service_without_endpoints_refuses_at_once(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    vip = create_service(client, "empty", namespace, ports=WEB, selector={"app": "nobody"}).cluster_ip
    pod = create_client(client, namespace, control_plane_node(cluster))
    wait_for(
        lambda: connect_outcome(cluster, namespace, pod, url(vip, 80)).outcome is Outcome.REFUSED,
        what="REJECT of the empty Service",
    )
    outcome = connect_outcome(cluster, namespace, pod, url(vip, 80))
    assert outcome.outcome is Outcome.REFUSED, outcome
    assert outcome.seconds < REFUSE_WITHIN, outcome


def test_scaling_zero_to_n_to_zero(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    vip = create_service(client, "web", namespace, ports=WEB, selector={"app": "backend"}).cluster_ip
    pod = create_client(client, namespace, control_plane_node(cluster))
    target = url(vip, 80)
    wait_for(lambda: _refused_fast(cluster, namespace, pod, target), what="refused at 0")

    backends = create_backends(client, cluster, namespace, 3)
    wait_ready(client, namespace, backends)
    seen = collect_hostnames(cluster, namespace, pod, target, backends)
    assert set(seen) - {""} <= set(backends)

    delete_pods(client, namespace, backends)
    wait_for(lambda: _refused_fast(cluster, namespace, pod, target), what="refused at 0 again")


def test_nodeport_from_another_node_and_from_a_pod(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    workers = worker_nodes(cluster)
    if not workers:
        pytest.skip("the cluster has no worker node")
    (backend,) = create_backends(client, cluster, namespace, 1, nodes=workers[:1])
    node_port = create_service(
        client, "web", namespace, ports=WEB, selector={"app": "backend"}, type="NodePort"
    ).node_ports[0]
    assert 30000 <= node_port <= 32767
    pod = create_client(client, namespace, control_plane_node(cluster))
    wait_ready(client, namespace, [backend])

    from_node = control_plane_node(cluster)
    for node in cluster.nodes:  # every node's address answers, also one without the backend
        target = url(node.ip, node_port)
        curl = ["curl", "-s", "--connect-timeout", "2", target]
        wait_for(
            lambda curl=curl: cluster.exec_on_node(from_node, curl).stdout.strip() == backend,
            what=f"NodePort {target} from node {from_node}",
        )
        wait_for(
            lambda target=target: http_get(cluster, namespace, pod, target) == backend,
            what=f"NodePort {target} from pod {pod}",
        )


def test_pod_reaches_itself_through_its_service_hairpin(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    (backend,) = create_backends(client, cluster, namespace, 1)
    vip = create_service(client, "web", namespace, ports=WEB, selector={"app": "backend"}).cluster_ip
    pod_ip = pod_ips(wait_ready(client, namespace, [backend]))[backend]

    wait_for(lambda: http_get(cluster, namespace, backend, url(vip, 80)) == backend, what="hairpin answer")
    client_ip = http_get(cluster, namespace, backend, url(vip, 80, "/clientip"))
    # Hairpin traffic is masqueraded, else the reply would bypass the DNAT.
    assert client_ip and client_ip.rsplit(":", 1)[0] != pod_ip, client_ip


def test_multi_port_and_named_port_service(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    backends = create_backends(client, cluster, namespace, 2)
    ports = [
        ServicePort(name="http", port=80, targetPort="http", protocol="TCP"),
        ServicePort(name="http-alt", port=8000, targetPort=HTTP_PORT, protocol="TCP"),
        ServicePort(name="dns-like", port=53, targetPort="udp", protocol="UDP"),
    ]
    vip = create_service(client, "multi", namespace, ports=ports, selector={"app": "backend"}).cluster_ip
    pod = create_client(client, namespace, control_plane_node(cluster))
    wait_ready(client, namespace, backends)

    for port in (80, 8000):
        seen = collect_hostnames(cluster, namespace, pod, url(vip, port), backends)
        assert set(seen) - {""} <= set(backends), (port, seen)
    answers = wait_for(
        lambda: [a for a in udp_hostnames(cluster, namespace, pod, vip, 53, 5, source_port=0) if a],
        what="UDP answers on the named port",
    )
    assert set(answers) <= set(backends), answers


def test_selectorless_service_with_manual_endpoints(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    (backend,) = create_backends(client, cluster, namespace, 1, app="manual")
    pod_ip = pod_ips(wait_ready(client, namespace, [backend]))[backend]
    vip = create_service(client, "external-ish", namespace, ports=WEB, selector=None).cluster_ip
    client.create(
        Endpoints(
            metadata=ObjectMeta(name="external-ish", namespace=namespace),
            subsets=[
                EndpointSubset(
                    addresses=[EndpointAddress(ip=pod_ip)],
                    ports=[EndpointPort(name="http", port=HTTP_PORT, protocol="TCP")],
                )
            ],
        )
    )
    pod = create_client(client, namespace, control_plane_node(cluster))
    wait_for(
        lambda: http_get(cluster, namespace, pod, url(vip, 80)) == backend, what="answer through the manual Endpoints"
    )
    assert "selector" not in client.get(Service, "external-ish", namespace=namespace).to_dict()["spec"]
