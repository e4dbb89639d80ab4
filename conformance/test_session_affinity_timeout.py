"""ClientIP session affinity that expires: ``sessionAffinityConfig.clientIP.timeoutSeconds``.

Upstream e2e tests in test/e2e/network/service.go: "should have session
affinity timeout work for service with type clusterIP" and "... for NodePort
service". Upstream uses a 125 s timeout; the behaviour is the same with a
short one: while a client keeps connecting within the timeout it stays on one
backend; after the client was idle longer than the timeout, its next
connection is balanced afresh. Three backends, so a fresh pick lands on
another one with probability 2/3; up to ``FRESH_PICKS`` idle periods are
tried (all on the old backend by chance: (1/3)**8 < 2e-4).
"""

from __future__ import annotations

import time

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort

from harness.cluster import ClusterUnderTest
from harness.traffic import (
    HTTP_PORT,
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
from harness.waiting import scaled_seconds, wait_for

pytestmark = [pytest.mark.needs_proxy, pytest.mark.session_affinity, pytest.mark.breadth]

WEB = [ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP")]
TIMEOUT_SECONDS = 3
STICKY_ROUND = 20
FRESH_PICKS = 8


def _affinity_with_timeout() -> dict[str, object]:
    return {"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": TIMEOUT_SECONDS}}}


def _sticky_then_expired(cluster: ClusterUnderTest, namespace: str, pod: str, target: str, backends: list[str]) -> None:
    def one_backend() -> str | None:
        answers = set(http_get_many(cluster, namespace, pod, target, STICKY_ROUND))
        return answers.pop() if len(answers) == 1 and "" not in answers else None

    sticky = wait_for(one_backend, what=f"ClientIP affinity through {target}")
    assert sticky in backends
    seen = {sticky}
    for _ in range(FRESH_PICKS):
        # Idle for longer than the timeout (stretched on slow kernels), then connect afresh.
        time.sleep(scaled_seconds(TIMEOUT_SECONDS + 2))
        seen.add(http_get(cluster, namespace, pod, target))
        if len(seen - {""}) > 1:
            break
    assert seen - {""} <= set(backends), seen
    assert len(seen - {""}) > 1, f"still on {sticky} after {FRESH_PICKS} idle periods of {TIMEOUT_SECONDS + 2}s"


@pytest.mark.timeout(300)
def test_cluster_ip_affinity_expires_after_its_timeout(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    backends = create_backends(client, cluster, namespace, 3)
    vip = create_service(
        client, "web", namespace, ports=WEB, selector={"app": "backend"}, **_affinity_with_timeout()
    ).cluster_ip
    pod = create_client(client, namespace, control_plane_node(cluster))
    wait_ready(client, namespace, backends)
    _sticky_then_expired(cluster, namespace, pod, url(vip, 80), backends)


@pytest.mark.timeout(300)
def test_node_port_affinity_expires_after_its_timeout(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    backends = create_backends(client, cluster, namespace, 3)
    node_port = create_service(
        client, "web", namespace, ports=WEB, selector={"app": "backend"}, type="NodePort", **_affinity_with_timeout()
    ).node_ports[0]
    pod = create_client(client, namespace, control_plane_node(cluster))
    wait_ready(client, namespace, backends)
    through = (worker_nodes(cluster) or [cluster.nodes[0].name])[0]
    _sticky_then_expired(cluster, namespace, pod, url(cluster.node(through).ip, node_port), backends)
