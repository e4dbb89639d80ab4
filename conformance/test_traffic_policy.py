"""externalTrafficPolicy and internalTrafficPolicy ``Local``.

Plan: backends only on the first worker (W1); W2 and the control-plane node
(CP) have none. externalTrafficPolicy Local: the NodePort on W1's address
answers from CP's node namespace with the client's own address (CP's node IP,
not masqueraded: /clientip), while the NodePort on W2's address gets no answer
(upstream drops external traffic to a node without local endpoints).
internalTrafficPolicy Local: a pod on W1 reaches only W1's backend, a pod on CP
(no local endpoint) gets no answer, although the Service has endpoints.
"""

from __future__ import annotations

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort

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
    url,
    wait_ready,
    worker_nodes,
)
from harness.waiting import wait_for

pytestmark = [pytest.mark.needs_proxy, pytest.mark.traffic_policy]

WEB = [ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP")]


def _two_workers(cluster: ClusterUnderTest) -> list[str]:
    workers = worker_nodes(cluster)
    if len(workers) < 2:
        pytest.skip("needs two worker nodes")
    return workers


def _node_curl(cluster: ClusterUnderTest, node: str, target: str) -> str:
    result = cluster.exec_on_node(node, ["curl", "-s", "--connect-timeout", "1", target])
    return result.stdout.strip() if result.rc == 0 else ""


# The userspace proxy terminates every connection and dials the backend itself,
# so the client's address cannot survive; upstream's userspace mode never
# implemented externalTrafficPolicy: Local.
@pytest.mark.proxy_mode("iptables", "nftables", "ipvs")
def test_external_traffic_policy_local(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    with_backend, without = _two_workers(cluster)[:2]
    backends = create_backends(client, cluster, namespace, 2, nodes=[with_backend])
    node_port = create_service(
        client, "web", namespace, ports=WEB, selector={"app": "backend"}, type="NodePort", externalTrafficPolicy="Local"
    ).node_ports[0]
    wait_ready(client, namespace, backends)
    source = cluster.node(control_plane_node(cluster))

    local_ip = cluster.node(with_backend).ip
    wait_for(
        lambda: _node_curl(cluster, source.name, url(local_ip, node_port)) in backends,
        what=f"NodePort on {with_backend} (local endpoints)",
    )
    client_ip = _node_curl(cluster, source.name, url(local_ip, node_port, "/clientip"))
    assert client_ip.rsplit(":", 1)[0] == source.ip, client_ip  # source preserved

    remote_ip = cluster.node(without).ip
    for _ in range(3):  # several fresh connections: none may answer
        assert _node_curl(cluster, source.name, url(remote_ip, node_port)) == ""


def test_internal_traffic_policy_local(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    with_backend, without = _two_workers(cluster)[:2]
    (local,) = create_backends(client, cluster, namespace, 1, nodes=[with_backend])
    (remote,) = create_backends(client, cluster, namespace, 1, nodes=[without], start=1)
    vip = create_service(
        client, "web", namespace, ports=WEB, selector={"app": "backend"}, internalTrafficPolicy="Local"
    ).cluster_ip
    near = create_client(client, namespace, with_backend, name="near")
    far = create_client(client, namespace, control_plane_node(cluster), name="far")
    wait_ready(client, namespace, [local, remote])

    seen = collect_hostnames(cluster, namespace, near, url(vip, 80), [local], per_round=10)
    assert remote not in seen, seen
    outcome = connect_outcome(cluster, namespace, far, url(vip, 80), connect_timeout=1)
    assert outcome.outcome is not Outcome.ANSWERED, outcome
