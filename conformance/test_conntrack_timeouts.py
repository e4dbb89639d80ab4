"""kube_proxy.go "should set TCP CLOSE_WAIT timeout": the proxy's conntrack timeouts.

Address plan: a server pause pod on worker W1 and a client pause pod on W2
(port 11302, upstream's). The server accepts one connection and closes it at
once (its FIN); the client reads the end of stream and keeps its socket open,
so the connection stays half-closed and W2's conntrack entry for it (the
flow crosses W2's network namespace) sits in ``CLOSE_WAIT``. That entry's
timeout is the node's ``nf_conntrack_tcp_timeout_close_wait``, which
kube-proxy sets to one hour (the kernel's default is 60 s); upstream accepts
it within 60 s of 3600. The programs run by the local provider's interpreter
(other providers need ``python3`` in the image), the conntrack table is read
on W2 itself.
"""

from __future__ import annotations

import concurrent.futures
import uuid

import pytest
from lightkube import Client

from harness.cluster import ClusterUnderTest
from harness.traffic import create_client, pod_ips, python_in_pod, wait_ready, worker_nodes
from harness.waiting import wait_for

pytestmark = [pytest.mark.needs_proxy, pytest.mark.traffic, pytest.mark.breadth]

PORT = 11302
EXPECTED_TIMEOUT = 3600  # upstream's default conntrack.tcpCloseWaitTimeout, 1 h
EPSILON = 60  # upstream's tolerance
HOLD = 45.0  # seconds the client keeps the half-closed socket at most

SERVER = """
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", int(sys.argv[1])))
server.listen(1)
server.settimeout(40)
conn, _ = server.accept()
conn.close()  # our FIN: the client's side goes to CLOSE_WAIT
print("closed")
"""

CLIENT = """
import os, socket, sys, time
host, port, stop, hold = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
deadline = time.monotonic() + 20
while True:  # the server may not listen yet
    try:
        sock = socket.create_connection((host, port), timeout=2)
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.1)
assert sock.recv(1) == b""  # the server's FIN
end = time.monotonic() + hold
while time.monotonic() < end and not os.path.exists(stop):
    time.sleep(0.1)  # keep the half-closed socket (never close it while the test looks)
print("held")
"""


def _close_wait_timeout(cluster: ClusterUnderTest, node: str, server_ip: str) -> int | None:
    """The timeout of the CLOSE_WAIT entry toward ``server_ip:PORT`` in ``node``'s table."""
    argv = ["conntrack", "-L", "-p", "tcp", "-d", server_ip, "--dport", str(PORT)]
    for line in cluster.exec_on_node(node, argv).stdout.splitlines():
        fields = line.split()
        if "CLOSE_WAIT" in fields and len(fields) > 2:
            return int(fields[2])  # "tcp 6 <timeout> CLOSE_WAIT src=..."
    return None


def test_tcp_close_wait_timeout(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    workers = worker_nodes(cluster)
    if len(workers) < 2:
        pytest.skip("needs two worker nodes")
    server_node, client_node = workers[:2]
    server = create_client(client, namespace, server_node, name="e2e-net-server")
    pod = create_client(client, namespace, client_node, name="e2e-net-client")
    server_ip = pod_ips(wait_ready(client, namespace, [server]))[server]
    stop = f"/tmp/svclab-close-wait-{uuid.uuid4().hex[:8]}"

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        serving = pool.submit(python_in_pod, cluster, namespace, server, SERVER, str(PORT), timeout=60)
        holding = pool.submit(
            python_in_pod, cluster, namespace, pod, CLIENT, server_ip, str(PORT), stop, str(HOLD), timeout=90
        )
        try:
            timeout = wait_for(
                lambda: _close_wait_timeout(cluster, client_node, server_ip),
                timeout=20,
                what=f"a CLOSE_WAIT conntrack entry on {client_node}",
            )
        finally:
            cluster.exec_in_pod(namespace, pod, ["touch", stop])
            held, served = holding.result(timeout=90), serving.result(timeout=60)
            cluster.exec_in_pod(namespace, pod, ["rm", "-f", stop])
    assert "closed" in served.stdout and "held" in held.stdout, (served, held)
    assert abs(timeout - EXPECTED_TIMEOUT) < EPSILON, f"CLOSE_WAIT timeout {timeout}s, expected ~{EXPECTED_TIMEOUT}s"
