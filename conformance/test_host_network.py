"""hostNetwork pods as Service backends and as clients.

Address plan: hostNetwork netexec backends listen on the workers' own
addresses, on ports no node component uses (one port set per test, since two
hostNetwork pods on one node cannot share a port); they answer with their
node's name. Clients are ordinary pods or hostNetwork pause pods; "the node"
is the control-plane node CP (a node without backends).

* service endpoints using hostNetwork (networking.go "Granular Checks:
  Services should function for service endpoints using hostNetwork"): one
  hostNetwork backend per worker behind a NodePort Service (``http`` 80 ->
  10180, ``udp`` 90 -> 10181); from a pod on CP and from CP itself, the
  ClusterIP and CP's and a worker's nodePort reach both backends over HTTP
  and UDP (its large-request half: ``test_large_requests.py``);
* internalTrafficPolicy Local, hostNetwork clients (service.go "should
  respect internalTrafficPolicy=Local Pod (hostNetwork: true) to Pod"): a
  backend pod on W1, hostNetwork clients on W1 and W2: W1's reaches the
  backend through the ClusterIP every time, W2's never (its node has no local
  endpoint);
* internalTrafficPolicy Local, hostNetwork backend (service.go "... Pod and
  Node, to Pod (hostNetwork: true)"): a hostNetwork backend on W1 (10182),
  first ordinary pods then hostNetwork pods on W1 and W2 as clients: W1's get
  W1's name, W2's never get an answer.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort

from harness.cluster import ClusterUnderTest
from harness.from_node import node_http_get_many, node_udp_hostnames, pod_udp_hostnames
from harness.host_network import create_host_backend, create_host_client
from harness.traffic import (
    Outcome,
    connect_outcome,
    control_plane_node,
    create_backends,
    create_client,
    create_service,
    http_get,
    http_get_many,
    url,
    wait_ready,
    worker_nodes,
)
from harness.waiting import wait_for

pytestmark = [pytest.mark.needs_proxy, pytest.mark.traffic, pytest.mark.breadth]

HOST_HTTP, HOST_UDP = 10180, 10181  # the endpoints test's backends
ITP_HOST_HTTP = 10182  # the internalTrafficPolicy test's hostNetwork backend
PER_ROUND = 10
TRIES = 5  # upstream: 5 rounds of "the local client answers, the remote one fails"


def _two_workers(cluster: ClusterUnderTest) -> list[str]:
    workers = worker_nodes(cluster)
    if len(workers) < 2:
        pytest.skip("needs two worker nodes")
    return workers[:2]


def _reaches_every_endpoint(fetch: Callable[[], list[str]], expected: list[str], what: str) -> None:
    seen: set[str] = set()

    def everyone() -> bool:
        seen.update(fetch())
        return set(expected) <= seen

    wait_for(everyone, interval=0.0, what=f"answers from {expected} via {what}")
    assert seen - {""} == set(expected), seen


def test_service_endpoints_using_host_network(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    workers = _two_workers(cluster)
    labels = {"app": "host-backend"}
    backends = [
        create_host_backend(client, namespace, node, f"host-{i}", labels=labels, http_port=HOST_HTTP, udp_port=HOST_UDP)
        for i, node in enumerate(workers)
    ]
    ports = [
        ServicePort(name="http", port=80, targetPort=HOST_HTTP, protocol="TCP"),
        ServicePort(name="udp", port=90, targetPort=HOST_UDP, protocol="UDP"),
    ]
    created = create_service(client, "host-endpoints", namespace, ports=ports, selector=labels, type="NodePort")
    http_np, udp_np = created.node_ports
    node = control_plane_node(cluster)
    pod = create_client(client, namespace, node)
    wait_ready(client, namespace, backends)
    node_ips = [cluster.node(node).ip, cluster.node(workers[0]).ip]
    http_targets = [url(created.cluster_ip, 80)] + [url(ip, http_np) for ip in node_ips]
    udp_targets = [(created.cluster_ip, 90)] + [(ip, udp_np) for ip in node_ips]

    for target in http_targets:  # pod-Service(hostNetwork) and node-Service(hostNetwork): http
        _reaches_every_endpoint(lambda t=target: http_get_many(cluster, namespace, pod, t, PER_ROUND), workers, target)
        _reaches_every_endpoint(lambda t=target: node_http_get_many(cluster, node, t, PER_ROUND), workers, target)
    for host, port in udp_targets:  # the same over UDP
        what = f"udp {host}:{port}"
        _reaches_every_endpoint(
            lambda h=host, p=port: pod_udp_hostnames(cluster, namespace, pod, h, p, PER_ROUND), workers, what
        )
        _reaches_every_endpoint(
            lambda h=host, p=port: node_udp_hostnames(cluster, node, h, p, PER_ROUND), workers, what
        )


def _local_answers_remote_fails(
    cluster: ClusterUnderTest, namespace: str, near: str, far: str, target: str, expected: str
) -> None:
    wait_for(lambda: http_get(cluster, namespace, near, target) == expected, what=f"{target} from {near}")
    for _ in range(TRIES):
        assert http_get(cluster, namespace, near, target) == expected
        outcome = connect_outcome(cluster, namespace, far, target, connect_timeout=1)
        assert outcome.outcome is not Outcome.ANSWERED, f"{far} (no local endpoint) got {outcome}"


def test_internal_traffic_policy_local_from_host_network_clients(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    local_node, other_node = _two_workers(cluster)
    (backend,) = create_backends(client, cluster, namespace, 1, nodes=[local_node])
    ports = [ServicePort(name="http", port=8000, targetPort=8080, protocol="TCP")]
    vip = create_service(
        client, "svc-itp", namespace, ports=ports, selector={"app": "backend"}, internalTrafficPolicy="Local"
    ).cluster_ip
    near = create_host_client(client, namespace, local_node, "pause-pod-0")
    far = create_host_client(client, namespace, other_node, "pause-pod-1")
    wait_ready(client, namespace, [backend])
    _local_answers_remote_fails(cluster, namespace, near, far, url(vip, 8000), backend)


def test_internal_traffic_policy_local_to_a_host_network_backend(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    local_node, other_node = _two_workers(cluster)
    labels = {"app": "svc-itp"}
    backend = create_host_backend(
        client, namespace, local_node, "echo-hostname-0", labels=labels, http_port=ITP_HOST_HTTP
    )
    ports = [ServicePort(name="http", port=80, targetPort=ITP_HOST_HTTP, protocol="TCP")]
    vip = create_service(
        client, "svc-itp", namespace, ports=ports, selector=labels, internalTrafficPolicy="Local"
    ).cluster_ip
    target = url(vip, 80)
    near = create_client(client, namespace, local_node, name="pause-pod-0")
    far = create_client(client, namespace, other_node, name="pause-pod-1")
    wait_ready(client, namespace, [backend])
    _local_answers_remote_fails(cluster, namespace, near, far, target, local_node)

    near_host = create_host_client(client, namespace, local_node, "pause-pod-2")
    far_host = create_host_client(client, namespace, other_node, "pause-pod-3")
    _local_answers_remote_fails(cluster, namespace, near_host, far_host, target, local_node)
