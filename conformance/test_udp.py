"""UDP through the ClusterIP, and stale conntrack entries after a backend change.

Plan: netexec backends answer the UDP datagram "hostname" on 8081; Service
``dns-like`` maps 53/UDP to 8081; the client pod is on the control-plane node.
A UDP "connection" is a conntrack entry keyed by the 5-tuple: a client that
keeps sending from one source port stays on the DNATed backend for as long as
the entry lives. When that backend goes, the proxy must delete the entry
(upstream deletes conntrack entries of removed UDP endpoints), or the client
keeps talking to a dead address.
"""

from __future__ import annotations

import concurrent.futures

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort

from harness.cluster import ClusterUnderTest
from harness.traffic import (
    UDP_PORT,
    control_plane_node,
    create_backends,
    create_client,
    create_service,
    delete_pods,
    udp_hostnames,
    wait_ready,
    worker_nodes,
)
from harness.waiting import wait_for

pytestmark = [pytest.mark.needs_proxy, pytest.mark.traffic]

DNS_LIKE = [ServicePort(name="udp", port=53, targetPort=UDP_PORT, protocol="UDP")]
SOURCE_PORT = 40053  # fixed, so every datagram belongs to one conntrack entry
SEND_GAP = 0.1
SEND_COUNT = 200  # 20 s of datagrams at most; the switch must happen well before


def test_udp_cluster_ip_reaches_every_backend(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    backends = create_backends(client, cluster, namespace, 2)
    vip = create_service(client, "dns-like", namespace, ports=DNS_LIKE, selector={"app": "backend"}).cluster_ip
    pod = create_client(client, namespace, control_plane_node(cluster))
    wait_ready(client, namespace, backends)
    seen: set[str] = set()

    def every_backend() -> bool:
        # A fresh source port per round: each round is a new flow, balanced anew.
        seen.update(udp_hostnames(cluster, namespace, pod, vip, 53, 10, source_port=0))
        return set(backends) <= seen

    wait_for(every_backend, what="UDP answers from every backend")
    assert seen - {""} <= set(backends), seen


def test_udp_flow_moves_to_the_new_backend_when_the_old_one_goes(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    workers = worker_nodes(cluster) or [cluster.nodes[0].name]
    (old,) = create_backends(client, cluster, namespace, 1, prefix="old", nodes=workers[:1])
    vip = create_service(client, "dns-like", namespace, ports=DNS_LIKE, selector={"app": "backend"}).cluster_ip
    pod = create_client(client, namespace, control_plane_node(cluster))
    wait_ready(client, namespace, [old])
    wait_for(
        lambda: udp_hostnames(cluster, namespace, pod, vip, 53, 1, source_port=SOURCE_PORT) == [old],
        what="old backend answers",
    )

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        sending = pool.submit(
            udp_hostnames, cluster, namespace, pod, vip, 53, SEND_COUNT, source_port=SOURCE_PORT, gap=SEND_GAP, until=2
        )
        (new,) = create_backends(client, cluster, namespace, 1, prefix="new", nodes=workers[-1:])
        wait_ready(client, namespace, [new])
        delete_pods(client, namespace, [old])
        answers = sending.result(timeout=SEND_COUNT * (SEND_GAP + 0.5) + 30)

    assert answers[0] == old, answers[:5]
    assert new in answers, f"the flow never reached {new}: {answers[-10:]}"
    assert answers[-1] == new
