"""Rule convergence: every node's rules follow the API within the sync period.

Plan: Service ``web`` (80 -> 8080, port name ``http``) selecting ``app=backend``
goes through four states - created without endpoints (REJECT), two backends
Ready, one backend deleted, Service deleted - and after each change every
node's rules (``iptables-save`` / ``nft list table ip kube-proxy`` / ``ipvsadm-save -n``, read with
testinfra) must match the desired state computed with ``svclab.proxy``'s
naming functions (see ``harness.rules``) within the sync period. Measured
times go to $SVCLAB_CONVERGENCE_JSON when set.

The restart test holds one keep-alive HTTP connection through the ClusterIP
from a pod on W2 to a backend on W1, SIGKILLs W2's proxy (the supervisor
starts a new one), and checks that the connection kept answering, that the new
proxy converges after a further change, and that new connections work. (Not for
userspace mode: there the proxy process carries every flow.)
"""

from __future__ import annotations

import concurrent.futures
import json
import signal
import time
import uuid

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort
from lightkube.resources.core_v1 import Service

from harness.cluster import ClusterUnderTest
from harness.rules import RULE_MODES, DesiredPort, converged, service_absent, wait_converged
from harness.traffic import (
    HTTP_PORT,
    collect_hostnames,
    create_backends,
    create_client,
    create_service,
    delete_pods,
    http_get,
    pod_ips,
    python_in_pod,
    url,
    wait_ready,
    worker_nodes,
)
from harness.waiting import wait_for

pytestmark = [pytest.mark.needs_proxy, pytest.mark.traffic]

WEB = [ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP")]
SYNC_PERIOD = 30.0  # the testbeds' syncPeriod: the bound for every convergence


def _desired(namespace: str, vip: str, addresses: list[str]) -> list[DesiredPort]:
    return [DesiredPort(namespace, "web", "http", "TCP", vip, 80, tuple((ip, HTTP_PORT) for ip in sorted(addresses)))]


def _converge(cluster: ClusterUnderTest, want: list[DesiredPort], what: str, since: float) -> float:
    return wait_converged(cluster, lambda rules: converged(rules, want), what=what, timeout=SYNC_PERIOD, since=since)


@pytest.mark.proxy_mode(*RULE_MODES)
def test_rules_follow_service_and_endpoint_changes_on_every_node(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    started = time.monotonic()
    vip = create_service(client, "web", namespace, ports=WEB, selector={"app": "backend"}).cluster_ip
    _converge(cluster, _desired(namespace, vip, []), "service created, no endpoints", started)

    backends = create_backends(client, cluster, namespace, 2)
    pods = wait_ready(client, namespace, backends)
    ready_at = time.monotonic()
    ips = pod_ips(pods)
    _converge(cluster, _desired(namespace, vip, list(ips.values())), "two endpoints ready", ready_at)

    deleted_at = time.monotonic()
    delete_pods(client, namespace, backends[:1])
    _converge(cluster, _desired(namespace, vip, [ips[backends[1]]]), "one endpoint deleted", deleted_at)

    gone_at = time.monotonic()
    client.delete(Service, "web", namespace=namespace)
    want_gone = _desired(namespace, vip, list(ips.values()))
    wait_converged(
        cluster,
        lambda rules: service_absent(rules, want_gone),
        what="service deleted",
        timeout=SYNC_PERIOD,
        since=gone_at,
    )


# -- proxy restart --------------------------------------------------------------------

_FLOW_PROGRAM = """
import json, os, socket, sys, time
host, port, stop, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
deadline = time.monotonic() + float(sys.argv[5])
sock = socket.create_connection((host, port), timeout=2)
answers, error = [], None
def answer():
    data = b""
    while b"\\r\\n\\r\\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed by peer")
        data += chunk
    head, _, body = data.partition(b"\\r\\n\\r\\n")
    length = int([l for l in head.split(b"\\r\\n") if l.lower().startswith(b"content-length")][0]
                 .split(b":")[1])
    while len(body) < length:
        body += sock.recv(4096)
    return body.decode()
try:
    while not os.path.exists(stop) and time.monotonic() < deadline:
        sock.sendall(b"GET /hostname HTTP/1.1\\r\\nHost: flow\\r\\n\\r\\n")
        answers.append(answer())
        with open(log, "a") as handle:
            handle.write(answers[-1] + "\\n")
        time.sleep(0.05)
except Exception as exc:
    error = repr(exc)
print(json.dumps({"answers": answers, "error": error}))
"""
# The flow runs until the test touches its stop file; this only bounds a flow whose
# test died. (A fixed 45 s once ended the flow before a slow restart had converged.)
FLOW_SECONDS = 600.0


def _proxy_pid(cluster: ClusterUnderTest, node: str) -> int | None:
    """The pid of ``node``'s running proxy (local provider), in the cluster's kernel."""
    return cluster.component_pid(f"proxy-{node}")


def _answers_logged(cluster: ClusterUnderTest, namespace: str, pod: str, log: str) -> int:
    result = cluster.exec_in_pod(namespace, pod, ["/bin/sh", "-c", f"cat {log} 2>/dev/null"])
    return len(result.stdout.split())


def test_restarted_proxy_keeps_established_flows_and_converges(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    if cluster.provider != "local":
        pytest.skip("killing a node's proxy process needs the local provider")
    if cluster.proxy_mode == "userspace":
        pytest.skip("the userspace proxy relays each connection itself: its flows end with it")
    workers = worker_nodes(cluster)
    if len(workers) < 2:
        pytest.skip("needs two worker nodes")
    backend_node, client_node = workers[:2]
    (first,) = create_backends(client, cluster, namespace, 1, nodes=[backend_node])
    vip = create_service(client, "web", namespace, ports=WEB, selector={"app": "backend"}).cluster_ip
    pod = create_client(client, namespace, client_node)
    first_ip = pod_ips(wait_ready(client, namespace, [first]))[first]
    wait_for(lambda: http_get(cluster, namespace, pod, url(vip, 80)) == first, what="the first backend answers")

    tag = uuid.uuid4().hex[:8]
    stop, log = f"/tmp/svclab-flow-stop-{tag}", f"/tmp/svclab-flow-{tag}.log"
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        flow = pool.submit(
            python_in_pod,
            cluster,
            namespace,
            pod,
            _FLOW_PROGRAM,
            vip,
            "80",
            stop,
            log,
            str(FLOW_SECONDS),
            timeout=FLOW_SECONDS + 30,
        )
        try:
            wait_for(
                lambda: _answers_logged(cluster, namespace, pod, log) >= 3, what="the long-lived connection answers"
            )
            old_pid: int = wait_for(
                lambda: _proxy_pid(cluster, client_node) or 0, what=f"proxy process of {client_node}"
            )
            cluster.signal_component(old_pid, signal.SIGKILL)
            killed_at = time.monotonic()
            new_pid = wait_for(
                lambda: (pid := _proxy_pid(cluster, client_node)) != old_pid and pid,
                what=f"restarted proxy of {client_node}",
            )
            (second,) = create_backends(client, cluster, namespace, 1, nodes=[backend_node], start=1)
            second_ip = pod_ips(wait_ready(client, namespace, [second]))[second]
            if cluster.proxy_mode in RULE_MODES:
                _converge(
                    cluster,
                    _desired(namespace, vip, [first_ip, second_ip]),
                    "proxy killed, restarted and converged",
                    killed_at,
                )
            else:  # no rule reader for this mode yet: the new connections below must show it
                assert first_ip and second_ip
            before = _answers_logged(cluster, namespace, pod, log)
            wait_for(
                lambda: _answers_logged(cluster, namespace, pod, log) >= before + 5,
                what="answers on the old connection after the restart",
            )
        finally:
            cluster.exec_in_pod(namespace, pod, ["/bin/sh", "-c", f"touch {stop}"])
        outcome = json.loads(flow.result().check().stdout)
    cluster.exec_in_pod(namespace, pod, ["rm", "-f", stop, log])

    assert new_pid != old_pid
    assert outcome["error"] is None, outcome["error"]
    assert set(outcome["answers"]) == {first}, outcome["answers"]
    seen = collect_hostnames(cluster, namespace, pod, url(vip, 80), [first, second])
    assert set(seen) - {""} == {first, second}
    delete_pods(client, namespace, [first, second])
