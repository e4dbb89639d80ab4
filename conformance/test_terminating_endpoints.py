"""Falling back to serving-but-terminating endpoints when none is ready.

Upstream e2e tests in test/e2e/network/service.go: "should fallback to
(local) terminating endpoints when there are no ready endpoints with
internalTrafficPolicy=Cluster / Local" and "... externalTrafficPolicy=Cluster /
Local". The only backend keeps serving while it terminates (netexec
``--delay-shutdown``, a grace period as long): its slice endpoint turns
``ready: false, serving: true, terminating: true``, and the proxy must still
send traffic to it, within the traffic policy's reach:

* internalTrafficPolicy Cluster: clients on its node and on another node reach it;
* internalTrafficPolicy Local: only the client on its node reaches it;
* externalTrafficPolicy Cluster: its node's nodePort answers clients anywhere;
* externalTrafficPolicy Local: its node's nodePort answers, another node's does
  not (a pod to its own node's nodePort is left out, as upstream leaves it out).

Plan: the backend and the ``local`` client on the first worker (W1), the
``remote`` client on the control-plane node (CP). Each test force-deletes the
backend at the end, so nothing waits out the grace period.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort
from lightkube.resources.core_v1 import Pod

from harness.builders import force_delete, slice_endpoint_view, slices_of, wait_slices
from harness.cluster import ClusterUnderTest
from harness.traffic import (
    HTTP_PORT,
    backend_pod,
    control_plane_node,
    create_client,
    create_service,
    http_get,
    url,
    wait_ready,
    worker_nodes,
)
from harness.waiting import wait_for

pytestmark = [pytest.mark.needs_proxy, pytest.mark.traffic_policy, pytest.mark.breadth]

WEB = [ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP")]
GRACE = 90  # seconds the backend serves after its deletion; the test is over long before
BACKEND = "webserver"
ROUNDS = 3


@pytest.fixture
def nodes(cluster: ClusterUnderTest) -> tuple[str, str]:
    """(the backend's node, another node)."""
    workers = worker_nodes(cluster)
    if not workers:
        pytest.skip("the cluster has no worker node")
    return workers[0], control_plane_node(cluster)


@pytest.fixture
def clients(client: Client, namespace: str, nodes: tuple[str, str]) -> Iterator[dict[str, str]]:
    backend_node, other_node = nodes
    pod = backend_pod(BACKEND, namespace, backend_node, labels={"app": "backend"})
    assert pod.spec is not None
    pod.spec.terminationGracePeriodSeconds = GRACE
    pod.spec.containers[0].args = [*(pod.spec.containers[0].args or []), f"--delay-shutdown={GRACE}"]
    client.create(pod)
    local = create_client(client, namespace, backend_node, name="local")
    remote = create_client(client, namespace, other_node, name="remote")
    wait_ready(client, namespace, [BACKEND])
    yield {"local": local, "remote": remote}
    force_delete(client, namespace, [BACKEND])


def _only_terminating(client: Client, namespace: str) -> None:
    """Delete the backend and wait until its endpoint is serving and terminating, not ready."""
    client.delete(Pod, BACKEND, namespace=namespace)

    def terminating(found: list[object]) -> bool:
        rows = slice_endpoint_view(found)  # type: ignore[arg-type]
        return len(rows) == 1 and all(row[1:4] == (False, True, True) for row in rows)

    wait_slices(client, namespace, "web", terminating, what="the only endpoint serving and terminating")


def _answers(cluster: ClusterUnderTest, namespace: str, pod: str, target: str) -> None:
    wait_for(lambda: http_get(cluster, namespace, pod, target) == BACKEND, what=f"{target} answers {pod}")
    answers = [http_get(cluster, namespace, pod, target) for _ in range(ROUNDS)]
    assert answers == [BACKEND] * ROUNDS, f"{target} from {pod}: {answers}"


def _silent(cluster: ClusterUnderTest, namespace: str, pod: str, target: str) -> None:
    wait_for(lambda: http_get(cluster, namespace, pod, target) == "", what=f"{target} silent for {pod}")
    answers = [http_get(cluster, namespace, pod, target) for _ in range(ROUNDS)]
    assert answers == [""] * ROUNDS, f"{target} from {pod}: {answers}"


def test_fallback_to_terminating_endpoints_internal_policy_cluster(
    cluster: ClusterUnderTest, client: Client, namespace: str, clients: dict[str, str]
) -> None:
    vip = create_service(client, "web", namespace, ports=WEB, selector={"app": "backend"}).cluster_ip
    _answers(cluster, namespace, clients["remote"], url(vip, 80))
    _only_terminating(client, namespace)
    for pod in clients.values():
        _answers(cluster, namespace, pod, url(vip, 80))


def test_fallback_to_local_terminating_endpoints_internal_policy_local(
    cluster: ClusterUnderTest, client: Client, namespace: str, clients: dict[str, str]
) -> None:
    vip = create_service(
        client, "web", namespace, ports=WEB, selector={"app": "backend"}, internalTrafficPolicy="Local"
    ).cluster_ip
    _answers(cluster, namespace, clients["local"], url(vip, 80))
    _only_terminating(client, namespace)
    _answers(cluster, namespace, clients["local"], url(vip, 80))
    _silent(cluster, namespace, clients["remote"], url(vip, 80))


def test_fallback_to_terminating_endpoints_external_policy_cluster(
    cluster: ClusterUnderTest, client: Client, namespace: str, clients: dict[str, str], nodes: tuple[str, str]
) -> None:
    node_port = create_service(
        client, "web", namespace, ports=WEB, selector={"app": "backend"}, type="NodePort"
    ).node_ports[0]
    target = url(cluster.node(nodes[0]).ip, node_port)
    _answers(cluster, namespace, clients["remote"], target)
    _only_terminating(client, namespace)
    for pod in clients.values():
        _answers(cluster, namespace, pod, target)


@pytest.mark.proxy_mode("iptables", "nftables", "ipvs")  # userspace has no externalTrafficPolicy Local
def test_fallback_to_local_terminating_endpoints_external_policy_local(
    cluster: ClusterUnderTest, client: Client, namespace: str, clients: dict[str, str], nodes: tuple[str, str]
) -> None:
    node_port = create_service(
        client, "web", namespace, ports=WEB, selector={"app": "backend"}, type="NodePort", externalTrafficPolicy="Local"
    ).node_ports[0]
    on_backend_node, elsewhere = url(cluster.node(nodes[0]).ip, node_port), url(cluster.node(nodes[1]).ip, node_port)
    _answers(cluster, namespace, clients["remote"], on_backend_node)
    _only_terminating(client, namespace)
    _answers(cluster, namespace, clients["remote"], on_backend_node)
    _answers(cluster, namespace, clients["local"], on_backend_node)
    _silent(cluster, namespace, clients["local"], elsewhere)
    assert slices_of(client, namespace, "web"), "the terminating endpoint's slice went away"
