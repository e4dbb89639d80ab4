"""Unready and terminating endpoints: publishNotReadyAddresses and the health check node port.

Upstream e2e tests in test/e2e/network/service.go:

* "should create endpoints for unready pods": a never-ready pod (readiness
  ``exec: false``) that takes long to stop (``preStop: sleep``) is reachable
  through a Service with ``publishNotReadyAddresses``; once deleted, switching
  the field off makes it unreachable and switching it on again reachable;
* "should be able to connect to terminating and unready endpoints if
  PublishNotReadyAddresses is true" / "... is false": a webserver whose
  ``/readyz`` fails once it got SIGTERM (netexec ``--delay-shutdown``) is deleted;
  with the field set it still answers through the ClusterIP and both nodes'
  nodePort, without it none of the three answers (it is neither ready nor
  serving, so there is no terminating fallback either);
* "should fail health check node port if there are only terminating
  endpoints": a LoadBalancer Service with ``externalTrafficPolicy: Local``; its
  ``healthCheckNodePort`` answers 200 with ``localEndpoints: 1`` on the
  backend's node and 503 elsewhere; once the backend is terminating (still
  serving) the backend's node answers 503 with ``localEndpoints: 0`` too.

Plan: the backend on the first worker (W1), the client pod on the control-plane
node (CP). Every test force-deletes its backend at the end, so nothing waits
out a grace period.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from lightkube import Client
from lightkube.models.core_v1 import (
    ExecAction,
    HTTPGetAction,
    Lifecycle,
    LifecycleHandler,
    Probe,
    ServicePort,
)
from lightkube.resources.core_v1 import Pod, Service
from lightkube.types import PatchType

from harness.builders import force_delete, slice_endpoint_view, slices_of
from harness.cluster import ClusterUnderTest
from harness.traffic import (
    HTTP_PORT,
    backend_pod,
    control_plane_node,
    create_client,
    create_service,
    http_get,
    service,
    url,
    wait_ready,
    worker_nodes,
)
from harness.waiting import pod_is_ready, wait_for

pytestmark = [pytest.mark.needs_proxy, pytest.mark.breadth]

WEB = [ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP")]
GRACE = 100  # seconds a deleted backend keeps running; every test force-deletes it long before
BACKEND = "webserver"
ROUNDS = 3


@pytest.fixture
def nodes(cluster: ClusterUnderTest) -> tuple[str, str]:
    """(the backend's node, the client's node)."""
    workers = worker_nodes(cluster)
    if not workers:
        pytest.skip("the cluster has no worker node")
    return workers[0], control_plane_node(cluster)


@pytest.fixture
def remote(client: Client, namespace: str, nodes: tuple[str, str]) -> Iterator[str]:
    """The client pod, on another node than the backend; the backend is force-deleted afterwards."""
    yield create_client(client, namespace, nodes[1], name="remote")
    force_delete(client, namespace, [BACKEND])


def _backend(namespace: str, node: str, *, readiness: Probe | None, delay_shutdown: bool, pre_stop: bool) -> Pod:
    pod = backend_pod(BACKEND, namespace, node, labels={"app": "backend"})
    assert pod.spec is not None
    pod.spec.terminationGracePeriodSeconds = GRACE
    container = pod.spec.containers[0]
    if delay_shutdown:
        container.args = [*(container.args or []), f"--delay-shutdown={GRACE}"]
    if pre_stop:
        container.lifecycle = Lifecycle(preStop=LifecycleHandler(exec=ExecAction(command=["sleep", str(GRACE)])))
    container.readinessProbe = readiness
    return pod


def _set_publish_not_ready(client: Client, namespace: str, value: bool) -> None:
    patch = {"spec": {"publishNotReadyAddresses": value}}
    client.patch(Service, "web", patch, namespace=namespace, patch_type=PatchType.MERGE)


def _deleted_and_unready(client: Client, namespace: str) -> None:
    client.delete(Pod, BACKEND, namespace=namespace)

    def unready() -> bool:
        pod = client.get(Pod, BACKEND, namespace=namespace)
        return pod.metadata is not None and pod.metadata.deletionTimestamp is not None and not pod_is_ready(pod)

    wait_for(unready, what=f"{BACKEND} terminating and not Ready")


def _always(cluster: ClusterUnderTest, namespace: str, pod: str, targets: list[str], expected: str) -> None:
    """Every target answers ``expected`` (the backend's name, or "" = fails) in every round, once converged."""

    def answered(target: str) -> Callable[[], bool]:
        return lambda: http_get(cluster, namespace, pod, target) == expected

    for target in targets:
        wait_for(answered(target), what=f"{target} -> {expected!r}")
    for _ in range(ROUNDS):
        answers = [http_get(cluster, namespace, pod, target) for target in targets]
        assert answers == [expected] * len(targets), dict(zip(targets, answers))


def test_create_endpoints_for_unready_pods(
    cluster: ClusterUnderTest, client: Client, namespace: str, nodes: tuple[str, str], remote: str
) -> None:
    never_ready = Probe(exec=ExecAction(command=["false"]), periodSeconds=1)
    client.create(_backend(namespace, nodes[0], readiness=never_ready, delay_shutdown=False, pre_stop=True))
    vip = create_service(
        client, "web", namespace, ports=WEB, selector={"app": "backend"}, publishNotReadyAddresses=True
    ).cluster_ip
    target = url(vip, 80)
    _always(cluster, namespace, remote, [target], BACKEND)
    client.delete(Pod, BACKEND, namespace=namespace)  # upstream scales its RC to zero; preStop keeps it running
    _set_publish_not_ready(client, namespace, False)
    _always(cluster, namespace, remote, [target], "")
    _set_publish_not_ready(client, namespace, True)
    _always(cluster, namespace, remote, [target], BACKEND)
    pod = client.get(Pod, BACKEND, namespace=namespace)
    assert pod.metadata is not None and pod.metadata.deletionTimestamp is not None, "the backend is still terminating"


def _ready_then_terminating(
    cluster: ClusterUnderTest, client: Client, namespace: str, nodes: tuple[str, str], *, publish: bool
) -> list[str]:
    """A NodePort Service and a webserver that goes unready on SIGTERM, deleted; returns
    the ClusterIP and both nodes' nodePort URLs."""
    readyz = Probe(httpGet=HTTPGetAction(path="/readyz", port=HTTP_PORT), periodSeconds=1)
    client.create(_backend(namespace, nodes[0], readiness=readyz, delay_shutdown=True, pre_stop=False))
    address = create_service(
        client,
        "web",
        namespace,
        ports=WEB,
        selector={"app": "backend"},
        type="NodePort",
        publishNotReadyAddresses=publish,
    )
    wait_ready(client, namespace, [BACKEND])
    targets = [url(address.cluster_ip, 80), *(url(cluster.node(n).ip, address.node_ports[0]) for n in nodes)]
    return targets


def test_connect_to_terminating_and_unready_endpoints_if_publish_not_ready_addresses(
    cluster: ClusterUnderTest, client: Client, namespace: str, nodes: tuple[str, str], remote: str
) -> None:
    targets = _ready_then_terminating(cluster, client, namespace, nodes, publish=True)
    _always(cluster, namespace, remote, targets, BACKEND)
    _deleted_and_unready(client, namespace)
    _always(cluster, namespace, remote, targets, BACKEND)


def test_no_connection_to_terminating_and_unready_endpoints_without_publish_not_ready_addresses(
    cluster: ClusterUnderTest, client: Client, namespace: str, nodes: tuple[str, str], remote: str
) -> None:
    targets = _ready_then_terminating(cluster, client, namespace, nodes, publish=False)
    _always(cluster, namespace, remote, targets, BACKEND)
    _deleted_and_unready(client, namespace)
    _always(cluster, namespace, remote, targets, "")


def _health_check(cluster: ClusterUnderTest, namespace: str, pod: str, node_ip: str, port: int) -> tuple[int, int]:
    """(HTTP status, localEndpoints) of ``node_ip:port``'s health check, (0, -1) when it did not answer."""
    script = f"curl -s -g --connect-timeout 2 --max-time 4 -w '\\n%{{http_code}}' 'http://{node_ip}:{port}/healthz'"
    out = cluster.exec_in_pod(namespace, pod, ["/bin/sh", "-c", script]).stdout
    body, _, code = out.rpartition("\n")
    try:
        return int(code), int(json.loads(body)["localEndpoints"])
    except (ValueError, KeyError):
        return 0, -1


def _health_checks_say(
    cluster: ClusterUnderTest, namespace: str, pod: str, port: int, expected: dict[str, tuple[int, int]]
) -> None:
    def answer() -> dict[str, tuple[int, int]]:
        return {node: _health_check(cluster, namespace, pod, cluster.node(node).ip, port) for node in expected}

    wait_for(lambda: answer() == expected, what=f"health checks {expected}")
    assert answer() == expected


def test_health_check_node_port_fails_with_only_terminating_endpoints(
    cluster: ClusterUnderTest, client: Client, namespace: str, nodes: tuple[str, str], remote: str
) -> None:
    serving = Probe(httpGet=HTTPGetAction(path="/healthz", port=HTTP_PORT), periodSeconds=1)
    client.create(_backend(namespace, nodes[0], readiness=serving, delay_shutdown=True, pre_stop=False))
    created = client.create(
        service(
            "web", namespace, ports=WEB, selector={"app": "backend"}, type="LoadBalancer", externalTrafficPolicy="Local"
        )
    )
    assert created.spec is not None and created.spec.healthCheckNodePort, "no healthCheckNodePort allocated"
    port = created.spec.healthCheckNodePort
    wait_ready(client, namespace, [BACKEND])
    backend_node, other_node = nodes
    _health_checks_say(cluster, namespace, remote, port, {backend_node: (200, 1), other_node: (503, 0)})
    client.delete(Pod, BACKEND, namespace=namespace)
    _health_checks_say(cluster, namespace, remote, port, {backend_node: (503, 0), other_node: (503, 0)})
    rows = slice_endpoint_view(slices_of(client, namespace, "web"))
    assert [row[1:4] for row in rows] == [(False, True, True)], f"the backend must still be serving: {rows}"
