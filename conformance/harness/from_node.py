"""Requests sent from a node itself (its root network namespace), not from a pod.

Upstream's "node-Service" and "update nodePort" checks dial from a
hostNetwork pod, i.e. from the node's own network stack: packets leave
through the node's OUTPUT chain, not through a pod's veth, so they take the
proxy's rules for locally generated traffic. ``cluster.exec_on_node`` puts us
there (it skips the test where the cluster gives no node access). HTTP goes
through ``curl``, UDP through a small Python program that sends each datagram
from a fresh source port (also run from pods, see ``pod_udp_hostnames``; the
local provider's nodes and pods run on the host's filesystem and interpreter,
other providers need ``python3`` there).
"""

from __future__ import annotations

import json
import sys

from harness.cluster import ClusterUnderTest
from harness.traffic import CURL_TIMEOUT

__all__ = ["UDP_SPREAD_PROGRAM", "node_http_get_many", "node_udp_hostnames", "pod_udp_hostnames"]


def node_http_get_many(cluster: ClusterUnderTest, node: str, url: str, count: int) -> list[str]:
    """``count`` fresh-connection GETs of ``url`` from ``node``; one answer per
    request, in order ("" for a failed request)."""
    options = f"-s -g -0 --connect-timeout {CURL_TIMEOUT:g} --max-time {2 * CURL_TIMEOUT:g}"
    argv = ["/bin/sh", "-c", f"curl {options} -w '\\n' " + " ".join([f"'{url}'"] * count)]
    result = cluster.exec_on_node(node, argv, timeout=30.0 + count * 2 * CURL_TIMEOUT)
    lines = result.stdout.split("\n")[:count]
    return [line.strip() for line in lines] + [""] * (count - len(lines))


# One fresh socket (a fresh source port, so a new conntrack flow the proxy
# balances anew) per datagram; prints the answers as JSON.
UDP_SPREAD_PROGRAM = """
import json, socket, sys
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
answers = []
for _ in range(count):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(0.5)
    sock.sendto(b"hostname", (host, port))
    try:
        answers.append(sock.recv(512).decode().strip())
    except (socket.timeout, ConnectionRefusedError):
        answers.append("")
    sock.close()
print(json.dumps(answers))
"""


def _interpreter(cluster: ClusterUnderTest) -> str:
    return sys.executable if cluster.provider == "local" else "python3"


def node_udp_hostnames(cluster: ClusterUnderTest, node: str, host: str, port: int, count: int) -> list[str]:
    """``count`` "hostname" datagrams from ``node``, each from a fresh source port
    (its own flow); the answers in order ("" = none within 0.5 s)."""
    argv = [_interpreter(cluster), "-c", UDP_SPREAD_PROGRAM, host, str(port), str(count)]
    answers: list[str] = json.loads(cluster.exec_on_node(node, argv, timeout=30.0 + count).check().stdout)
    return answers


def pod_udp_hostnames(
    cluster: ClusterUnderTest, namespace: str, pod: str, host: str, port: int, count: int
) -> list[str]:
    """As ``node_udp_hostnames``, from inside ``pod``."""
    argv = [_interpreter(cluster), "-c", UDP_SPREAD_PROGRAM, host, str(port), str(count)]
    result = cluster.exec_in_pod(namespace, pod, argv, timeout=30.0 + count)
    answers: list[str] = json.loads(result.check().stdout)
    return answers
