"""Disruption: the controller-manager and a node agent killed.

Controller-manager: Services ``web`` and ``old`` select pods p1..p3 and
converge. The controller-manager is then frozen (SIGSTOP), so nothing it would do happens:
p1 is deleted, p4 created, ``old`` deleted and ``new`` created. Then it is
killed (SIGKILL); the cluster's supervisor starts a fresh one, which must list
everything and reach the same objects a live controller would have written:
``web`` and ``new`` list exactly p2..p4 in one slice each (no duplicate slices,
no stale p1), and ``old``'s Endpoints and slices are gone (orphan cleanup at
start, upstream's ``checkLeftoverEndpoints``). The figure: kill -> both
Services' Endpoints and slices exactly right.

Node agent: backends ``backend-0/1`` (agnhost netexec) on worker W1, Service
``web`` (80 -> 8080), a client pod on W2. W1's agent is SIGKILLed while the
client keeps sending requests: none fails, the pods stay Ready, and the
restarted agent adopts them as kubelet does: same container (``containerID``,
the process), same restart count, same start time. The figure: kill -> a new
pod on W1 Running (the agent serves again).

Faults go through the provider's hooks (``harness.disruption``); where there
are none the tests skip.
"""

from __future__ import annotations

import concurrent.futures
import time

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort
from lightkube.resources.core_v1 import Endpoints, Pod, Service

from harness.builders import (
    address_row,
    address_view,
    endpoints_of,
    force_delete,
    make_pod,
    make_service,
    node_zones,
    service_port,
    slice_endpoint_view,
    slice_row,
    slices_of,
    wait_endpoints,
    wait_gone,
    wait_pods,
    wait_slices,
)
from harness.cluster import ClusterUnderTest
from harness.disruption import assert_recovered, inject, requests_during
from harness.traffic import (
    HTTP_PORT,
    collect_hostnames,
    create_backends,
    create_client,
    create_service,
    url,
    wait_ready,
    worker_nodes,
)

pytestmark = [pytest.mark.disruption, pytest.mark.needs_controllers]

WEB = {"app": "web"}


def _converged(client: Client, namespace: str, service: str, pods: list[Pod]) -> None:
    """Endpoints list exactly ``pods``; exactly one slice lists exactly them."""
    zones = node_zones(client)
    want_addresses = {address_row(p, ready=True) for p in pods}
    want_slice = {slice_row(p, zones, ready=True, serving=True, terminating=False) for p in pods}
    wait_endpoints(
        client,
        namespace,
        service,
        lambda e: address_view(e) == want_addresses,
        what=f"exactly {sorted(p.metadata.name for p in pods)}",
    )
    wait_slices(
        client,
        namespace,
        service,
        lambda s: len(s) == 1 and slice_endpoint_view(s) == want_slice,
        what="one slice with exactly those pods",
        managed_by=None,
    )


@pytest.mark.endpoints
@pytest.mark.endpointslices
def test_objects_are_correct_after_the_controller_manager_restarts(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    ports = [service_port("http", 80, 8080)]
    client.create(make_service("web", namespace, selector=WEB, ports=ports))
    client.create(make_service("old", namespace, selector=WEB, ports=ports))
    for name in ("p1", "p2", "p3"):
        client.create(make_pod(name, namespace, labels=WEB))
    before = wait_pods(client, namespace, ["p1", "p2", "p3"])
    _converged(client, namespace, "web", list(before.values()))
    _converged(client, namespace, "old", list(before.values()))

    inject(cluster, "stop", "controller-manager")
    try:  # changes the frozen controller-manager never sees
        force_delete(client, namespace, ["p1"])
        client.create(make_pod("p4", namespace, labels=WEB))
        client.delete(Service, "old", namespace=namespace)
        client.create(make_service("new", namespace, selector=WEB, ports=ports))
        wait_gone(client, Pod, namespace, "p1")
        pods = wait_pods(client, namespace, ["p2", "p3", "p4"])
        # Frozen indeed: web still lists the deleted p1, and new has no Endpoints yet.
        assert before["p1"].status.podIP in {row[0] for row in address_view(endpoints_of(client, namespace, "web"))}
        assert endpoints_of(client, namespace, "new") is None
    finally:
        inject(cluster, "kill", "controller-manager")  # killed while frozen: it never resumes
    killed_at = time.monotonic()

    survivors = list(pods.values())
    _converged(client, namespace, "web", survivors)
    _converged(client, namespace, "new", survivors)
    wait_gone(client, Endpoints, namespace, "old")
    wait_slices(client, namespace, "old", lambda s: not s, what="no slices", managed_by=None)
    assert len(slices_of(client, namespace, "web", managed_by=None)) == 1
    assert_recovered(cluster, "controller-manager kill -9 during pod churn: objects exactly right", killed_at)


WEB_PORTS = [ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP")]
AGENT_SECONDS = 4.0


def _containers(pods: dict[str, Pod]) -> dict[str, tuple[object, ...]]:
    """Per pod: what must not change when the agent is replaced."""
    view: dict[str, tuple[object, ...]] = {}
    for name, pod in pods.items():
        assert pod.status is not None and pod.metadata is not None
        (status,) = pod.status.containerStatuses or []
        started = status.state.running.startedAt if status.state and status.state.running else None
        view[name] = (pod.metadata.uid, pod.status.podIP, status.containerID, status.restartCount, started)
    return view


@pytest.mark.needs_proxy
def test_node_agent_killed_pods_keep_serving_and_are_adopted(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    workers = worker_nodes(cluster)
    if len(workers) < 2:
        pytest.skip("needs two worker nodes")
    agent_node, client_node = workers[:2]
    backends = create_backends(client, cluster, namespace, 2, nodes=[agent_node])
    vip = create_service(client, "web", namespace, ports=WEB_PORTS, selector={"app": "backend"}).cluster_ip
    pod = create_client(client, namespace, client_node)
    before = _containers(wait_ready(client, namespace, backends))
    collect_hostnames(cluster, namespace, pod, url(vip, 80), backends)

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        traffic = pool.submit(requests_during, cluster, namespace, pod, AGENT_SECONDS, [(vip, 80)])
        inject(cluster, "kill", f"node-agent-{agent_node}")
        killed_at = time.monotonic()
        (newcomer,) = create_backends(client, cluster, namespace, 1, nodes=[agent_node], start=2)
        wait_ready(client, namespace, [newcomer])
        assert_recovered(cluster, "node agent kill -9: it runs new pods again", killed_at)
        result = traffic.result()
    assert result.failures == [] and result.sent >= 20, result

    after = wait_ready(client, namespace, [*backends, newcomer])  # still Ready
    addresses = [pod.status.podIP for pod in after.values() if pod.status is not None]
    assert len(set(addresses)) == len(after), f"pod IPs handed out twice across the restart: {addresses}"
    after.pop(newcomer)
    assert _containers(after) == before, "the restarted agent replaced containers instead of adopting them"
    seen = collect_hostnames(cluster, namespace, pod, url(vip, 80), [*backends, newcomer])
    assert set(seen) - {""} == {*backends, newcomer}
