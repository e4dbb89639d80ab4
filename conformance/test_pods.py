"""Pod life cycle as kubelet and kube-scheduler drive it.

Plan: a server pod (agnhost ``netexec``) on the first worker, a client pod
(agnhost ``pause``) on another node; the server's IP must come from its node's
pod CIDR and answer ``/hostname`` with the pod name across nodes. Deletion
follows upstream: the pod stays visible with ``deletionTimestamp`` and the
requested grace period while its container shuts down, then disappears; a
container that exits on SIGTERM goes long before its grace period ends.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from lightkube import ApiError, Client
from lightkube.models.core_v1 import Container, ContainerPort, HTTPGetAction, PodSpec, Probe
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Node, Pod

from harness.cluster import ClusterUnderTest
from harness.waiting import pod_is_ready, wait_for

pytestmark = pytest.mark.pods

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"


def _pod(name: str, namespace: str, container: Container, **spec: Any) -> Pod:
    return Pod(
        metadata=ObjectMeta(name=name, namespace=namespace, labels={"app": name}),
        spec=PodSpec(containers=[container], **spec),
    )


def _on(node: str) -> dict[str, Any]:
    return {"nodeSelector": {"kubernetes.io/hostname": node}}


def _workers(cluster: ClusterUnderTest) -> list[str]:
    workers = [n.name for n in cluster.nodes if n.role == "worker"]
    if not workers:
        pytest.skip("the cluster has no worker node")
    return workers


def _netexec(name: str, namespace: str, **spec: Any) -> Pod:
    probe = Probe(httpGet=HTTPGetAction(path="/healthz", port=8080), periodSeconds=1)
    container = Container(
        name="netexec",
        image=AGNHOST,
        args=["netexec", "--http-port=8080", "--udp-port=8081"],
        ports=[ContainerPort(containerPort=8080, name="http")],
        readinessProbe=probe,
    )
    return _pod(name, namespace, container, **spec)


def _wait_ready(client: Client, namespace: str, name: str) -> Pod:
    return wait_for(
        lambda: (pod := client.get(Pod, name, namespace=namespace)) and pod_is_ready(pod) and pod,
        what=f"pod {namespace}/{name} Ready",
    )


def _wait_gone(client: Client, namespace: str, name: str, timeout: float = 30.0, *, scaled: bool = True) -> None:
    def gone() -> bool:
        try:
            client.get(Pod, name, namespace=namespace)
        except ApiError as exc:
            return exc.status.code == 404
        return False

    wait_for(gone, timeout=timeout, what=f"pod {namespace}/{name} gone", scaled=scaled)


def test_pod_gets_ip_becomes_ready_and_answers_from_another_node(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    workers = _workers(cluster)
    server_node = workers[0]
    client_node = workers[1] if len(workers) > 1 else cluster.nodes[0].name
    client.create(_netexec("server", namespace, **_on(server_node)))
    tolerate_all = [{"operator": "Exists"}]
    pause = Container(name="pause", image=AGNHOST, args=["pause"])
    client.create(_pod("client", namespace, pause, tolerations=tolerate_all, **_on(client_node)))
    server = _wait_ready(client, namespace, "server")
    _wait_ready(client, namespace, "client")

    assert server.spec.nodeName == server_node
    assert server.status.phase == "Running"
    pod_ip = ipaddress.ip_address(server.status.podIP)
    assert pod_ip in ipaddress.ip_network(cluster.node(server_node).pod_cidr)
    # one address per pod CIDR of the node (two on a dual-stack cluster), podIP first
    node_cidrs = client.get(Node, server_node).spec.podCIDRs or []
    pod_ips = [entry.ip for entry in server.status.podIPs]
    assert pod_ips[0] == server.status.podIP and len(pod_ips) == max(len(node_cidrs), 1)
    for ip, cidr in zip(pod_ips, node_cidrs, strict=False):
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(cidr)
    assert server.status.hostIP == cluster.node(server_node).ip
    (status,) = server.status.containerStatuses
    assert status.ready and status.started and status.restartCount == 0
    assert status.state.running is not None
    conditions = {c.type: c.status for c in server.status.conditions}
    for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready"):
        assert conditions.get(kind) == "True", kind

    answer = cluster.exec_in_pod(
        namespace, "client", ["curl", "-s", "--max-time", "5", f"http://{server.status.podIP}:8080/hostname"]
    ).check()
    assert answer.stdout.strip() == "server"
    own_name = cluster.exec_in_pod(namespace, "server", ["hostname"]).check()
    assert own_name.stdout.strip() == "server"


def _sleeper(name: str, namespace: str, script: str, grace: int) -> Pod:
    container = Container(name="main", image=AGNHOST, command=["/bin/sh", "-c", script])
    return _pod(name, namespace, container, terminationGracePeriodSeconds=grace)


def test_graceful_deletion_waits_for_grace_period(client: Client, namespace: str) -> None:
    # The container ignores SIGTERM, so only SIGKILL after the grace period ends it.
    client.create(_sleeper("stubborn", namespace, "trap '' TERM; while true; do sleep 1; done", 3))
    wait_for(
        lambda: client.get(Pod, "stubborn", namespace=namespace).status.phase == "Running", what="pod stubborn Running"
    )
    client.delete(Pod, "stubborn", namespace=namespace)
    terminating = client.get(Pod, "stubborn", namespace=namespace)
    assert terminating.metadata.deletionTimestamp is not None
    assert terminating.metadata.deletionGracePeriodSeconds == 3
    _wait_gone(client, namespace, "stubborn")


def test_container_exiting_on_sigterm_goes_before_its_grace_period(client: Client, namespace: str) -> None:
    client.create(_sleeper("polite", namespace, "trap 'exit 0' TERM; while true; do sleep 0.2; done", 60))
    wait_for(
        lambda: client.get(Pod, "polite", namespace=namespace).status.phase == "Running", what="pod polite Running"
    )
    client.delete(Pod, "polite", namespace=namespace)
    # Far below the 60 s grace period on any kernel: the bound is the property tested.
    _wait_gone(client, namespace, "polite", timeout=30.0, scaled=False)


def test_crashing_container_is_restarted_with_count(client: Client, namespace: str) -> None:
    client.create(_sleeper("crasher", namespace, "exit 3", 1))
    # Between crashes the container waits in CrashLoopBackOff (right after a
    # restart it may run for a moment, and is ready then).
    pod = wait_for(
        lambda: (
            (p := client.get(Pod, "crasher", namespace=namespace))
            and p.status.containerStatuses
            and p.status.containerStatuses[0].restartCount >= 1
            and p.status.containerStatuses[0].state.waiting is not None
            and p
        ),
        what="pod crasher restarted and backing off",
    )
    (status,) = pod.status.containerStatuses
    assert status.lastState.terminated is not None and status.lastState.terminated.exitCode == 3
    assert pod.status.phase == "Running"  # restartPolicy Always
    assert not status.ready


def test_unschedulable_pod_reports_why(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    pause = Container(name="pause", image=AGNHOST, args=["pause"])
    client.create(_pod("nowhere", namespace, pause, nodeSelector={"svclab.dev/no-such-label": "x"}))

    def unschedulable() -> Any:
        pod = client.get(Pod, "nowhere", namespace=namespace)
        return next((c for c in pod.status.conditions or [] if c.type == "PodScheduled" and c.status == "False"), None)

    condition = wait_for(unschedulable, what="PodScheduled=False")
    assert condition.reason == "Unschedulable"
    total = len(cluster.nodes)
    assert condition.message.startswith(f"0/{total} nodes are available: ")
    assert "didn't match Pod's node affinity/selector" in condition.message


def test_image_that_cannot_run_says_so(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    if cluster.provider != "local":
        pytest.skip("only the local provider limits images")
    client.create(_pod("redis", namespace, Container(name="db", image="redis:7.4")))  # no command, not built in

    def waiting_reason() -> Any:
        statuses = client.get(Pod, "redis", namespace=namespace).status.containerStatuses or []
        return (
            statuses
            and statuses[0].state.waiting
            and statuses[0].state.waiting.reason == "ImageNotSupported"
            and statuses[0]
        )

    status = wait_for(waiting_reason, what="waiting reason ImageNotSupported")
    assert "redis:7.4" in status.state.waiting.message
    assert client.get(Pod, "redis", namespace=namespace).status.phase == "Pending"
