"""``svclab explain`` tells the truth: the path it reads from a node's live rules is the one traffic takes.

Plan: three netexec backends (``app=backend``, HTTP 8080) go round robin onto
the workers and one more is never ready; Service ``web`` (80 -> 8080)
selects them all; the client pod sits on the control-plane node, whose
rules ``svclab.testbed.explain`` reads (the same code as ``svclab explain
CLUSTER svc/web --from client``). Once the node's rules name the ready
backends, the explanation must name exactly the ready backends' IP:8080
(never the unready one), give them shares that add up to 1, and a request
to the ClusterIP from the client must be answered by one of them. On every
mode with a readable ruleset; skipped with the reason where the nodes
cannot be reached (a cluster tested as it is) or the mode is unknown.
Upstream has no such test (svclab's own tool), hence ``breadth``.
"""

from __future__ import annotations

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort
from lightkube.resources.core_v1 import Pod

from harness.cluster import ClusterUnderTest
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
)
from harness.waiting import wait_for
from svclab.proxy.explain import Explanation, Outcome
from svclab.testbed.explain import NODE_DUMPS, ExplainError, Target, explain_service

pytestmark = [pytest.mark.needs_proxy, pytest.mark.traffic, pytest.mark.breadth]

WEB = [ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP")]


def _explain(cluster: ClusterUnderTest, namespace: str, pod: str) -> Explanation:
    try:
        return explain_service(cluster.handle, Target(namespace, "web", source=pod))
    except ExplainError as exc:
        if "cannot read node" in str(exc):
            pytest.skip(f"svclab explain needs node access: {exc}")
        raise


@pytest.mark.proxy_mode(*NODE_DUMPS)
def test_explained_path_names_exactly_the_ready_endpoints_and_one_of_them_answers(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    ready = create_backends(client, cluster, namespace, 3)
    unready = create_backends(client, cluster, namespace, 1, prefix="unready", ready=False)
    vip = create_service(client, "web", namespace, ports=WEB, selector={"app": "backend"}).cluster_ip
    pod = create_client(client, namespace, control_plane_node(cluster))
    addresses = pod_ips(wait_ready(client, namespace, ready))
    want = sorted(f"{ip}:{HTTP_PORT}" for ip in addresses.values())

    found = wait_for(
        lambda: (e := _explain(cluster, namespace, pod)).endpoints() == want and e,
        what=f"{cluster.proxy_mode} rules of the client's node naming the ready backends",
    )
    assert found.outcome in (Outcome.DNAT, Outcome.PROXY), found.outcome
    assert found.endpoints() == want
    assert sum(c.probability or 0.0 for c in found.choices) == pytest.approx(1.0, abs=1e-5)
    assert found.probe.dst == vip and found.probe.hook == "PREROUTING"
    unready_ips = pod_ips(wait_for(lambda: _scheduled(client, namespace, unready), what="the unready pod's IP"))
    assert not {f"{ip}:{HTTP_PORT}" for ip in unready_ips.values()} & set(found.endpoints())

    answered_by = http_get(cluster, namespace, pod, url(vip, 80))
    assert answered_by in ready
    assert f"{addresses[answered_by]}:{HTTP_PORT}" in found.endpoints()


def _scheduled(client: Client, namespace: str, names: list[str]) -> dict[str, Pod] | None:
    pods = {name: client.get(Pod, name, namespace=namespace) for name in names}
    return pods if all(p.status is not None and p.status.podIP for p in pods.values()) else None
