"""kube_proxy.go "LocalhostNodePorts": a NodePort answers on 127.0.0.1 of a node.

Address plan: netexec backends (HTTP 8080); Service ``localhost-np`` of type
NodePort (9000 -> 8080); requests from a node's own network stack to
``http://127.0.0.1:<nodePort>``.

* across nodes (upstream "should proxy localhost NodePort traffic to
  backends across nodes"): one backend on the requesting node W1, one on W2;
  loopback requests on W1 reach both, so the DNATed packet leaves the node
  (iptables needs ``route_localnet`` and a masquerade of the 127.0.0.1
  source, or the remote backend's answer has nowhere to go);
* ClientIP affinity (upstream "should honor sessionAffinity=ClientIP for
  localhost NodePort"): three backends on W1; first without affinity until
  all three answered (so the proxy has every endpoint), then ``ClientIP``:
  every loopback request lands on one backend.

* the metric (upstream "should update metric for tracking accepted packets
  destined for localhost nodeports", iptables only): W1's proxy counts
  connections accepted on 127.0.0.1 NodePorts in
  ``kubeproxy_iptables_localhost_nodeports_accepted_packets_total`` (read
  from its metrics port, 10249 on the node's loopback); ten loopback
  requests must raise it.

Upstream implements localhost NodePorts in its iptables mode only (nftables
and ipvs leave 127.0.0.1 alone); the userspace proxy binds each NodePort on
every address, loopback included, so it answers there as well.
"""

from __future__ import annotations

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort
from lightkube.resources.core_v1 import Service

from harness.cluster import ClusterUnderTest
from harness.from_node import node_http_get_many
from harness.traffic import HTTP_PORT, create_backends, create_service, url, wait_ready, worker_nodes
from harness.waiting import wait_for

pytestmark = [
    pytest.mark.needs_proxy,
    pytest.mark.traffic,
    pytest.mark.breadth,
    pytest.mark.proxy_mode("iptables", "userspace"),
]

PORTS = [ServicePort(name="http", port=9000, targetPort=HTTP_PORT, protocol="TCP")]
STICKY_TRIES = 10  # upstream: the first answer, then 9 more from the same pod


def _workers(cluster: ClusterUnderTest, count: int) -> list[str]:
    workers = worker_nodes(cluster)
    if len(workers) < count:
        pytest.skip(f"needs {count} worker node(s)")
    return workers[:count]


def _reach_all(cluster: ClusterUnderTest, node: str, target: str, backends: list[str]) -> None:
    seen: set[str] = set()

    def everyone() -> bool:
        seen.update(node_http_get_many(cluster, node, target, 10))
        return set(backends) <= seen

    wait_for(everyone, interval=0.0, what=f"{target} on {node} reaching {backends}")
    assert seen - {""} == set(backends), seen


def test_localhost_node_port_reaches_backends_across_nodes(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    local, remote = _workers(cluster, 2)
    backends = create_backends(client, cluster, namespace, 2, nodes=[local, remote])
    node_port = create_service(
        client, "localhost-np", namespace, ports=PORTS, selector={"app": "backend"}, type="NodePort"
    ).node_ports[0]
    wait_ready(client, namespace, backends)
    _reach_all(cluster, local, url("127.0.0.1", node_port), backends)


def test_localhost_node_port_honours_client_ip_affinity(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    (node,) = _workers(cluster, 1)
    backends = create_backends(client, cluster, namespace, 3, nodes=[node])
    node_port = create_service(
        client, "localhost-np", namespace, ports=PORTS, selector={"app": "backend"}, type="NodePort"
    ).node_ports[0]
    wait_ready(client, namespace, backends)
    target = url("127.0.0.1", node_port)
    # First without affinity until all three answer: the proxy then has every
    # endpoint, so a sticky answer below is the affinity, not a lone endpoint.
    _reach_all(cluster, node, target, backends)

    client.patch(Service, "localhost-np", {"spec": {"sessionAffinity": "ClientIP"}}, namespace=namespace)
    first = wait_for(
        lambda: _sticky(node_http_get_many(cluster, node, target, STICKY_TRIES)),
        what=f"ClientIP affinity on {target} on {node}",
    )
    assert first in backends
    assert node_http_get_many(cluster, node, target, STICKY_TRIES) == [first] * STICKY_TRIES


def _sticky(answers: list[str]) -> str | None:
    return answers[0] if answers[0] and set(answers) == {answers[0]} else None


METRIC = "kubeproxy_iptables_localhost_nodeports_accepted_packets_total"
METRICS_URL = "http://127.0.0.1:10249/metrics"  # upstream ports.ProxyStatusPort, on the node


def _accepted(cluster: ClusterUnderTest, node: str) -> float | None:
    text = cluster.exec_on_node(node, ["curl", "-s", "--max-time", "2", METRICS_URL]).stdout
    values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(f"{METRIC} ")]
    return values[0] if values else None


@pytest.mark.proxy_mode("iptables")
def test_localhost_node_port_metric_counts_accepted_packets(
    cluster: ClusterUnderTest, client: Client, namespace: str
) -> None:
    (node,) = _workers(cluster, 1)
    route_localnet = cluster.exec_on_node(node, ["cat", "/proc/sys/net/ipv4/conf/all/route_localnet"]).stdout
    if route_localnet.strip() != "1":
        pytest.skip(f"route_localnet is not set on {node}: the proxy serves no localhost NodePorts there")
    before = _accepted(cluster, node)
    assert before is not None, f"{node}'s proxy exports no {METRIC}"
    backends = create_backends(client, cluster, namespace, 1, nodes=[node])
    node_port = create_service(
        client, "localhost-np", namespace, ports=PORTS, selector={"app": "backend"}, type="NodePort"
    ).node_ports[0]
    wait_ready(client, namespace, backends)
    _reach_all(cluster, node, url("127.0.0.1", node_port), backends)
    assert node_http_get_many(cluster, node, url("127.0.0.1", node_port), 10) == backends * 10
    # Each request is a new connection: its first packet passes the nat rule that counts.
    wait_for(lambda: (_accepted(cluster, node) or 0) >= before + 10, what=f"{METRIC} up by 10 from {before}")
