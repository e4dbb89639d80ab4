"""UDP flows that must move when their backend changes, beyond the ClusterIP case.

Upstream e2e tests in test/e2e/network/conntrack.go: "should be able to
preserve UDP traffic when server pod cycles for a NodePort service" and "...
for a ClusterIP service with InternalTrafficPolicy set to Local". A client
keeps sending "hostname" datagrams from one source port (one conntrack entry);
when its backend goes and another comes, the proxy must delete the stale
entry so that the flow reaches the new backend long before the entry would
expire by itself (30 s and more).

* NodePort: backends on the first worker (W1), the client on the control-plane
  node sends to W1's address and the nodePort;
* internalTrafficPolicy Local: the client and the first backend on W1, a
  second backend on W2 (an endpoint the client must never reach); the W1
  backend is deleted and a new one started on W1: the flow goes to it;
* a backend that starts unready ("... when initial unready endpoints get
  ready"): the client sends before any endpoint is ready (its datagrams are
  rejected, leaving a conntrack entry without DNAT); once the backend turns
  Ready the flow must reach it;
* a hostNetwork client ("... for a ClusterIP service and client is
  hostNetwork"): the client is a hostNetwork pod on the control-plane node,
  so its datagrams leave from the node's own stack (the proxy's rules for
  locally generated traffic, not a pod's); the backend on W1 is replaced by
  a new one on W1.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort

from harness.cluster import ClusterUnderTest
from harness.host_network import create_host_client
from harness.traffic import (
    UDP_PORT,
    backend_pod,
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

pytestmark = [pytest.mark.needs_proxy, pytest.mark.traffic, pytest.mark.breadth]

UDP = [ServicePort(name="udp", port=80, targetPort=UDP_PORT, protocol="UDP")]
SOURCE_PORT = 40080  # fixed: every datagram belongs to one conntrack entry
SEND_GAP = 0.1
SEND_COUNT = 200  # 20 s of datagrams at most; the move must happen well before
READY_AFTER = 5  # seconds before the unready backend's probe may succeed


def _two_workers(cluster: ClusterUnderTest) -> list[str]:
    workers = worker_nodes(cluster)
    if len(workers) < 2:
        pytest.skip("needs two worker nodes")
    return workers


def _flow_moves(
    cluster: ClusterUnderTest, namespace: str, pod: str, host: str, port: int, old: str, swap: Callable[[], str]
) -> list[str]:
    """Send from one source port while ``swap`` replaces ``old``; return the answers.

    The source port's conntrack entry points at ``old`` before the swap; the flow
    must end on what ``swap`` returned. (``swap`` may delete ``old`` before the
    sender's first datagram, so that one may already go unanswered.)"""
    wait_for(
        lambda: udp_hostnames(cluster, namespace, pod, host, port, 1, source_port=SOURCE_PORT) == [old],
        what=f"{old} answers on {host}:{port}",
    )
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        sending = pool.submit(
            udp_hostnames,
            cluster,
            namespace,
            pod,
            host,
            port,
            SEND_COUNT,
            source_port=SOURCE_PORT,
            gap=SEND_GAP,
            until=2,
        )
        new = swap()
        answers = sending.result(timeout=SEND_COUNT * (SEND_GAP + 0.5) + 30)
    assert answers[0] in (old, ""), answers[:5]
    assert answers[-1] == new, f"the flow never settled on {new}: {answers[-10:]}"
    return answers


def test_udp_flow_through_a_node_port_moves_to_the_new_backend(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    workers = worker_nodes(cluster) or [cluster.nodes[0].name]
    (old,) = create_backends(client, cluster, namespace, 1, prefix="old", nodes=workers[:1])
    node_port = create_service(
        client, "svc-udp", namespace, ports=UDP, selector={"app": "backend"}, type="NodePort"
    ).node_ports[0]
    pod = create_client(client, namespace, control_plane_node(cluster))
    wait_ready(client, namespace, [old])

    def swap() -> str:
        (new,) = create_backends(client, cluster, namespace, 1, prefix="new", nodes=workers[:1])
        wait_ready(client, namespace, [new])
        delete_pods(client, namespace, [old])
        return new

    _flow_moves(cluster, namespace, pod, cluster.node(workers[0]).ip, node_port, old, swap)


def test_udp_flow_with_internal_policy_local_moves_to_the_new_local_backend(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    local_node, other_node = _two_workers(cluster)[:2]
    (old,) = create_backends(client, cluster, namespace, 1, prefix="old", nodes=[local_node])
    (remote,) = create_backends(client, cluster, namespace, 1, prefix="remote", nodes=[other_node])
    vip = create_service(
        client, "svc-udp", namespace, ports=UDP, selector={"app": "backend"}, internalTrafficPolicy="Local"
    ).cluster_ip
    pod = create_client(client, namespace, local_node)
    wait_ready(client, namespace, [old, remote])

    def swap() -> str:
        delete_pods(client, namespace, [old])
        (new,) = create_backends(client, cluster, namespace, 1, prefix="new", nodes=[local_node])
        wait_ready(client, namespace, [new])
        return new

    answers = _flow_moves(cluster, namespace, pod, vip, 80, old, swap)
    assert remote not in answers, f"internalTrafficPolicy Local sent the flow to {remote}"


def test_udp_flow_reaches_a_backend_that_starts_unready(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    workers = worker_nodes(cluster) or [cluster.nodes[0].name]
    vip = create_service(client, "svc-udp", namespace, ports=UDP, selector={"app": "backend"}).cluster_ip
    pod = create_client(client, namespace, control_plane_node(cluster))
    late = backend_pod("late-0", namespace, workers[0], labels={"app": "backend"})
    assert late.spec is not None and late.spec.containers[0].readinessProbe is not None
    late.spec.containers[0].readinessProbe.initialDelaySeconds = READY_AFTER

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        sending = pool.submit(
            udp_hostnames, cluster, namespace, pod, vip, 80, SEND_COUNT, source_port=SOURCE_PORT, gap=SEND_GAP, until=2
        )
        client.create(late)
        wait_ready(client, namespace, ["late-0"], timeout=60.0)
        answers = sending.result(timeout=SEND_COUNT * (SEND_GAP + 0.5) + 30)

    assert answers[0] == "", f"answered before the backend was ready: {answers[:5]}"
    assert answers[-1] == "late-0", f"the flow never reached late-0: {answers[-10:]}"


def test_udp_flow_from_a_host_network_client_moves_to_the_new_backend(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    workers = worker_nodes(cluster) or [cluster.nodes[0].name]
    (old,) = create_backends(client, cluster, namespace, 1, prefix="old", nodes=workers[:1])
    vip = create_service(client, "svc-udp", namespace, ports=UDP, selector={"app": "backend"}).cluster_ip
    pod = create_host_client(client, namespace, control_plane_node(cluster), "hostexec")
    wait_ready(client, namespace, [old])

    def swap() -> str:
        (new,) = create_backends(client, cluster, namespace, 1, prefix="new", nodes=workers[:1])
        wait_ready(client, namespace, [new])
        delete_pods(client, namespace, [old])
        return new

    _flow_moves(cluster, namespace, pod, vip, 80, old, swap)
