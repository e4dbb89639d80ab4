"""Disruption: a node's proxy killed, its rules flushed, its conntrack table flushed.

Address plan: backends ``backend-N`` (agnhost netexec: HTTP 8080, UDP 8081) on
worker W1, a client pod on worker W2 (the node whose proxy, rules or conntrack
the fault hits), Service ``web`` (80 -> 8080 ``http``, or 80 -> 8081 UDP)
selecting ``app=backend``.

* proxy killed while a backend goes away: W2's proxy is SIGKILLed and, while
  the supervisor restarts it, one of two backends is deleted; the restarted
  proxy must list the world afresh: W2's rules name only the survivor (the
  figure: kill -> converged) and no request from W2 reaches the gone backend.
* proxy restarted under an established flow (upstream's "should work after
  restarting kube-proxy"): one keep-alive HTTP connection through the
  ClusterIP keeps answering across the kill, the new proxy converges after a
  further change, new connections reach both backends. (Not for userspace:
  there the proxy process carries every flow.)
* rules flushed by an outsider (a firewall reload; ``svclab fault flush-rules``):
  the proxy's rules monitor notices and resyncs (the figure: flush -> rules
  and traffic back). Upstream notices at its next sync period at best.
* conntrack flushed under UDP load: a client sends a datagram every 50 ms from
  one source port; ``conntrack -F`` on its node in the middle (a DESTROY event
  for the flow's entry proves it went) must cost at most one answer (the
  figure: the longest silence of the flow).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import random
import time
import uuid
from collections.abc import Iterator

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort

from harness.cluster import ClusterUnderTest
from harness.disruption import RECOVERY_WAIT, assert_recovered, inject, record_recovery
from harness.rules import RULE_MODES, DesiredPort, converged, read_rules, wait_converged
from harness.traffic import (
    HTTP_PORT,
    UDP_PORT,
    collect_hostnames,
    create_backends,
    create_client,
    create_service,
    delete_pods,
    http_get,
    http_get_many,
    pod_ips,
    python_in_pod,
    url,
    wait_ready,
    worker_nodes,
)
from harness.waiting import wait_for

pytestmark = [pytest.mark.disruption, pytest.mark.needs_proxy, pytest.mark.traffic]

WEB = [ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP")]
UDP = [ServicePort(name="udp", port=80, targetPort=UDP_PORT, protocol="UDP")]
BACKEND = {"app": "backend"}
SYNC_PERIOD = 30.0  # the testbeds' syncPeriod: the bound for the flow test's convergence
SOURCE_PORTS = (40000, 40999)  # the UDP flow's fixed source port, new per run: one fresh conntrack entry


def _desired(namespace: str, vip: str, addresses: list[str]) -> list[DesiredPort]:
    return [DesiredPort(namespace, "web", "http", "TCP", vip, 80, tuple((ip, HTTP_PORT) for ip in sorted(addresses)))]


def _two_workers(cluster: ClusterUnderTest) -> tuple[str, str]:
    workers = worker_nodes(cluster)
    if len(workers) < 2:
        pytest.skip("needs two worker nodes")
    return workers[0], workers[1]


def test_proxy_killed_while_a_backend_goes_away(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    backend_node, client_node = _two_workers(cluster)
    backends = create_backends(client, cluster, namespace, 2, nodes=[backend_node])
    vip = create_service(client, "web", namespace, ports=WEB, selector=BACKEND).cluster_ip
    pod = create_client(client, namespace, client_node)
    ips = pod_ips(wait_ready(client, namespace, backends))
    collect_hostnames(cluster, namespace, pod, url(vip, 80), backends)
    survivor, gone = backends

    inject(cluster, "kill", f"proxy-{client_node}")
    killed_at = time.monotonic()
    delete_pods(client, namespace, [gone])
    want = _desired(namespace, vip, [ips[survivor]])
    if cluster.proxy_mode in RULE_MODES:
        node_converged = lambda: converged(read_rules(cluster, client_node), want)  # noqa: E731
        wait_for(node_converged, timeout=RECOVERY_WAIT, interval=0.05, what=f"{client_node} without {gone}")
    else:
        wait_for(
            lambda: set(http_get_many(cluster, namespace, pod, url(vip, 80), 10)) == {survivor},
            what="only the survivor",
        )
    seconds = assert_recovered(cluster, "proxy kill -9 while a backend goes away", killed_at)
    answers = http_get_many(cluster, namespace, pod, url(vip, 80), 20)
    assert set(answers) == {survivor}, f"after {seconds:.1f}s: {answers}"


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


def _answers_logged(cluster: ClusterUnderTest, namespace: str, pod: str, log: str) -> int:
    result = cluster.exec_in_pod(namespace, pod, ["/bin/sh", "-c", f"cat {log} 2>/dev/null"])
    return len(result.stdout.split())


def test_restarted_proxy_keeps_established_flows_and_converges(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
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
            inject(cluster, "kill", f"proxy-{client_node}")
            killed_at = time.monotonic()
            (second,) = create_backends(client, cluster, namespace, 1, nodes=[backend_node], start=1)
            second_ip = pod_ips(wait_ready(client, namespace, [second]))[second]
            if cluster.proxy_mode in RULE_MODES:
                want = _desired(namespace, vip, [first_ip, second_ip])
                what = "proxy killed, restarted and converged"
                wait_converged(cluster, lambda r: converged(r, want), what=what, timeout=SYNC_PERIOD, since=killed_at)
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

    assert outcome["error"] is None, outcome["error"]
    assert set(outcome["answers"]) == {first}, outcome["answers"]
    seen = collect_hostnames(cluster, namespace, pod, url(vip, 80), [first, second])
    assert set(seen) - {""} == {first, second}
    delete_pods(client, namespace, [first, second])


@pytest.mark.fault_sample
def test_rules_flushed_by_an_outsider_are_restored(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    backend_node, client_node = _two_workers(cluster)
    (first,) = create_backends(client, cluster, namespace, 1, nodes=[backend_node])
    vip = create_service(client, "web", namespace, ports=WEB, selector=BACKEND).cluster_ip
    pod = create_client(client, namespace, client_node)
    first_ip = pod_ips(wait_ready(client, namespace, [first]))[first]
    wait_for(lambda: http_get(cluster, namespace, pod, url(vip, 80)) == first, what="web answers")

    inject(cluster, "flush-rules", client_node)
    flushed_at = time.monotonic()
    if cluster.proxy_mode in RULE_MODES:
        want = _desired(namespace, vip, [first_ip])
        wait_for(
            lambda: converged(read_rules(cluster, client_node), want),
            timeout=RECOVERY_WAIT,
            interval=0.05,
            what=f"{client_node}'s rules restored",
        )
    wait_for(
        lambda: http_get(cluster, namespace, pod, url(vip, 80)) == first,
        timeout=RECOVERY_WAIT,
        what="web answers again",
    )
    assert_recovered(cluster, "proxy rules flushed by an outsider: restored, traffic back", flushed_at)


_UDP_FLOW = """
import json, os, socket, sys, time
host, port, source_port, marker, log = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("0.0.0.0", source_port))
sock.settimeout(0.5)
answers, times, marked = [], [], None
deadline = time.monotonic() + 60
while time.monotonic() < deadline and (marked is None or time.monotonic() < marked + 1.0):
    sock.sendto(b"hostname", (host, port))
    try:
        answers.append(sock.recv(512).decode().strip())
        times.append(time.monotonic())
    except (socket.timeout, ConnectionRefusedError):
        answers.append("")
    with open(log, "a") as handle:
        handle.write((answers[-1] or "-") + "\\n")
    if marked is None and os.path.exists(marker):
        marked = time.monotonic()
        answers.append("|")  # the flush is behind us
    time.sleep(0.05)
gaps = [b - a for a, b in zip(times, times[1:])]
print(json.dumps({"answers": answers, "longest_silence": max(gaps, default=60.0)}))
"""
# The conntrack event listener runs until the flow is done (then SIGINT: conntrack prints
# what it saw and exits); this bounds a listener whose test died (odd, to find its process).
# A fixed 3.9 s listener ended before the flush inside the UML guest, where one command
# on a node took 3-5 s under make test's load (issue 15).
DESTROY_LISTEN = "120.917"


@pytest.mark.fault_sample
def test_conntrack_flushed_under_udp_load_flows_continue(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    backend_node, client_node = _two_workers(cluster)
    (first,) = create_backends(client, cluster, namespace, 1, nodes=[backend_node])
    vip = create_service(client, "udp", namespace, ports=UDP, selector=BACKEND).cluster_ip
    pod = create_client(client, namespace, client_node)
    wait_ready(client, namespace, [first])
    tag, source_port = uuid.uuid4().hex[:8], random.randint(*SOURCE_PORTS)
    marker, log = f"/tmp/svclab-udp-flushed-{tag}", f"/tmp/svclab-udp-{tag}.log"
    listener = ["timeout", "-s", "INT", DESTROY_LISTEN, "conntrack", "-E", "-e", "DESTROY"]
    pattern = "^" + " ".join(listener)
    with _conntrack_events(cluster, client_node), concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        # Until the proxy has the Service the datagrams are refused; the flow starts once one answers.
        wait_for(lambda: _udp_answers(cluster, namespace, pod, vip), what="the UDP Service answers")
        flow = pool.submit(python_in_pod, cluster, namespace, pod, _UDP_FLOW, vip, "80", str(source_port), marker, log)
        wait_for(lambda: flow.done() or _lines(cluster, namespace, pod, log) >= 10, what="the UDP flow answering")
        events = pool.submit(cluster.exec_on_node, client_node, listener, timeout=float(DESTROY_LISTEN) + 30)
        try:
            listening = ["pgrep", "-f", pattern]
            wait_for(lambda: cluster.exec_on_node(client_node, listening).rc == 0, what="the conntrack event listener")
            inject(cluster, "flush-conntrack", client_node)
            cluster.exec_in_pod(namespace, pod, ["touch", marker])
            result = json.loads(flow.result().check().stdout)
        finally:  # timeout passes SIGINT on to conntrack
            cluster.exec_on_node(client_node, ["pkill", "-INT", "-f", pattern])
        destroyed = [line for line in events.result().stdout.splitlines() if f"sport={source_port} " in line]
    cluster.exec_in_pod(namespace, pod, ["rm", "-f", log, marker])
    assert destroyed, f"the flush did not remove the flow's conntrack entry: {events.result()}"
    answers = result["answers"]
    assert "|" in answers, "the flow ended before the flush"
    after = answers[answers.index("|") + 1 :]
    assert answers.count("") <= 1, answers  # at most the datagram in flight at the flush
    assert set(answers) - {"", "|"} == {first}
    assert len(after) >= 10 and all(after[-5:]), answers
    record_recovery(cluster, "conntrack flushed under UDP load: longest silence", result["longest_silence"])


@contextlib.contextmanager
def _conntrack_events(cluster: ClusterUnderTest, node: str) -> Iterator[None]:
    """Events for every conntrack entry on ``node`` while the block runs: with the
    default ``nf_conntrack_events=2`` an entry made before any listener gets none,
    and the flow's entry is older than the DESTROY listener."""
    sysctl = "net.netfilter.nf_conntrack_events"
    before = cluster.exec_on_node(node, ["sysctl", "-n", sysctl]).check().stdout.strip()
    cluster.exec_on_node(node, ["sysctl", "-qw", f"{sysctl}=1"]).check()
    try:
        yield
    finally:
        cluster.exec_on_node(node, ["sysctl", "-qw", f"{sysctl}={before}"])


def _udp_answers(cluster: ClusterUnderTest, namespace: str, pod: str, vip: str) -> bool:
    probe = (
        "import socket, sys; s = socket.socket(2, 2); s.settimeout(1); "
        "s.sendto(b'hostname', (sys.argv[1], 80)); print(s.recv(99).decode())"
    )
    return python_in_pod(cluster, namespace, pod, probe, vip).rc == 0


def _lines(cluster: ClusterUnderTest, namespace: str, pod: str, log: str) -> int:
    result = cluster.exec_in_pod(namespace, pod, ["/bin/sh", "-c", f"cat {log} 2>/dev/null"])
    return len(result.stdout.split())
