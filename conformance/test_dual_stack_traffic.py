"""Service traffic over each IP family (upstream ``dual_stack.go`` "Granular Checks:
Services Secondary IP Family", which repeats ``networking.go``'s checks on the
Service's secondary ClusterIP and the nodes' secondary addresses).

Plan (a dual-stack cluster; every test skips with the reason on a single-stack
one): netexec backends on the workers (HTTP 8080 and UDP 8081 answer their
hostname), Service ``web`` with ``ipFamilyPolicy: RequireDualStack`` and both
families, type NodePort, ports 80/TCP -> 8080 and 90/UDP -> 8081, a client pod
on the control-plane node. Each test runs once per family:

* pod to Service: the ClusterIP of the family reaches every backend, over TCP
  and UDP (upstream "pod-Service: http / udp");
* NodePort: a worker's InternalIP of the family and the nodePort reach every
  backend, over TCP and UDP, from the pod, and a backend from the control-plane
  node (upstream "pod-Service" / "node-Service" nodeIP legs);
* node to Service: the control-plane node reaches every backend through the
  ClusterIP of the family, over TCP and UDP (upstream "node-Service: http / udp");
* endpoint update: after a backend is deleted only the others answer on the
  family's ClusterIP, over TCP and UDP (upstream "should update endpoints");
* endpoint to Service: a backend reaches every backend, itself included, on the
  family's ClusterIP over TCP and UDP (upstream "endpoint-Service: http / udp");
* large requests on the secondary family: a 2 kB HTTP echo and a 2,000-byte UDP
  datagram (upstream "should be able to handle large requests");
* ClientIP session affinity on the secondary family: every request, TCP and
  UDP, lands on one backend (upstream "client IP based session affinity").

Traffic over IPv6 needs the proxy's IPv6 rules (ip6tables, the ``ip6
kube-proxy`` nft table, ...): on a proxy without them the IPv6 cases fail, which
is the truth about that proxy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from lightkube import Client
from lightkube.models.core_v1 import ServicePort

from harness.cluster import ClusterUnderTest
from harness.dual_stack import IPV4, IPV6, DualStack, family_of, require_dual_stack
from harness.traffic import (
    HTTP_PORT,
    UDP_PORT,
    collect_hostnames,
    control_plane_node,
    create_backends,
    create_client,
    delete_pods,
    http_get,
    http_get_many,
    python_in_pod,
    service,
    udp_hostnames,
    udp_hostnames_from_node,
    url,
    wait_ready,
    worker_nodes,
)
from harness.waiting import wait_for

pytestmark = [pytest.mark.needs_proxy, pytest.mark.traffic, pytest.mark.dual_stack]

PORTS = [
    ServicePort(name="http", port=80, targetPort=HTTP_PORT, protocol="TCP"),
    ServicePort(name="udp", port=90, targetPort=UDP_PORT, protocol="UDP"),
]
BACKENDS = 3
STICKY_ROUND = 20  # with 3 backends, 20 random picks all alike by chance: (1/3)**19
FAMILIES = [pytest.param(IPV4, id="IPv4"), pytest.param(IPV6, id="IPv6")]


@dataclass(frozen=True, slots=True)
class Setup:
    dual: DualStack
    backends: list[str]
    client_pod: str
    cluster_ips: dict[str, str]  # family -> ClusterIP
    node_ports: dict[str, int]  # protocol -> nodePort


def _set_up(cluster: ClusterUnderTest, client: Client, namespace: str, **spec: str) -> Setup:
    dual = require_dual_stack(cluster, client)
    backends = create_backends(client, cluster, namespace, BACKENDS)
    created = client.create(
        service(
            "web",
            namespace,
            ports=PORTS,
            selector={"app": "backend"},
            type="NodePort",
            ipFamilyPolicy="RequireDualStack",
            ipFamilies=list(dual.families),
            **spec,
        )
    )
    assert created.spec is not None
    cluster_ips = {family_of(ip): ip for ip in created.spec.clusterIPs or []}
    assert set(cluster_ips) == {IPV4, IPV6}, created.spec.clusterIPs
    node_ports = {str(p.protocol): int(p.nodePort or 0) for p in created.spec.ports or []}
    pod = create_client(client, namespace, control_plane_node(cluster))
    wait_ready(client, namespace, backends)
    return Setup(dual, backends, pod, cluster_ips, node_ports)


def _udp_answers_from_all(cluster: ClusterUnderTest, namespace: str, setup: Setup, host: str, port: int) -> None:
    seen: set[str] = set()

    def every_backend() -> bool:
        # a fresh source port per round: each round is a new flow, balanced anew
        seen.update(udp_hostnames(cluster, namespace, setup.client_pod, host, port, 10, source_port=0))
        return set(setup.backends) <= seen

    wait_for(every_backend, what=f"UDP answers from every backend via [{host}]:{port}")
    assert seen - {""} <= set(setup.backends), seen


@pytest.mark.parametrize("family", FAMILIES)
def test_pod_to_cluster_ip_over_tcp_and_udp(
    cluster: ClusterUnderTest, client: Client, namespace: str, family: str
) -> None:
    setup = _set_up(cluster, client, namespace)
    vip = setup.cluster_ips[family]
    seen = collect_hostnames(cluster, namespace, setup.client_pod, url(vip, 80), setup.backends)
    assert set(seen) - {""} == set(setup.backends)
    _udp_answers_from_all(cluster, namespace, setup, vip, 90)


@pytest.mark.parametrize("family", FAMILIES)
def test_node_port_on_the_node_address_of_each_family(
    cluster: ClusterUnderTest, client: Client, namespace: str, family: str
) -> None:
    setup = _set_up(cluster, client, namespace)
    through = (worker_nodes(cluster) or [cluster.nodes[0].name])[0]
    node_ip = setup.dual.node_ips[through][family]
    target = url(node_ip, setup.node_ports["TCP"])
    seen = collect_hostnames(cluster, namespace, setup.client_pod, target, setup.backends)
    assert set(seen) - {""} == set(setup.backends)
    _udp_answers_from_all(cluster, namespace, setup, node_ip, setup.node_ports["UDP"])
    from_node = control_plane_node(cluster)
    curl = ["curl", "-s", "-g", "--connect-timeout", "2", target]
    wait_for(
        lambda: cluster.exec_on_node(from_node, curl).stdout.strip() in setup.backends,
        what=f"NodePort {target} from node {from_node}",
    )
    wait_for(
        lambda: set(udp_hostnames_from_node(cluster, from_node, node_ip, setup.node_ports["UDP"], 3)) - {""},
        what=f"NodePort [{node_ip}]:{setup.node_ports['UDP']}/UDP from node {from_node}",
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_node_to_cluster_ip_of_each_family(
    cluster: ClusterUnderTest, client: Client, namespace: str, family: str
) -> None:
    setup = _set_up(cluster, client, namespace)
    target = url(setup.cluster_ips[family], 80)
    from_node = control_plane_node(cluster)
    curl = ["curl", "-s", "-g", "--connect-timeout", "2", target]
    seen: set[str] = set()

    def every_backend() -> bool:
        seen.add(cluster.exec_on_node(from_node, curl).stdout.strip())
        return set(setup.backends) <= seen

    wait_for(every_backend, what=f"answers from every backend via {target} from node {from_node}")
    assert seen - {""} <= set(setup.backends), seen
    udp_seen: set[str] = set()

    def every_backend_over_udp() -> bool:
        udp_seen.update(udp_hostnames_from_node(cluster, from_node, setup.cluster_ips[family], 90, 5))
        return set(setup.backends) <= udp_seen

    wait_for(every_backend_over_udp, what=f"UDP answers from every backend via [{setup.cluster_ips[family]}]:90")
    assert udp_seen - {""} <= set(setup.backends), udp_seen


@pytest.mark.parametrize("family", FAMILIES)
def test_deleted_backend_stops_answering_on_each_family(
    cluster: ClusterUnderTest, client: Client, namespace: str, family: str
) -> None:
    setup = _set_up(cluster, client, namespace)
    target = url(setup.cluster_ips[family], 80)
    collect_hostnames(cluster, namespace, setup.client_pod, target, setup.backends)
    gone, *rest = setup.backends
    delete_pods(client, namespace, [gone])
    wait_for(
        lambda: set(http_get_many(cluster, namespace, setup.client_pod, target, STICKY_ROUND)) <= set(rest),
        what=f"only {rest} answering via {target}",
    )
    seen = collect_hostnames(cluster, namespace, setup.client_pod, target, rest)
    assert set(seen) - {""} == set(rest)
    vip = setup.cluster_ips[family]
    udp = udp_hostnames(cluster, namespace, setup.client_pod, vip, 90, 20, source_port=0)
    assert gone not in udp and set(udp) - {""}, udp  # UDP answers too, from the others only


@pytest.mark.parametrize("family", FAMILIES)
def test_endpoint_to_cluster_ip_of_each_family(
    cluster: ClusterUnderTest, client: Client, namespace: str, family: str
) -> None:
    # A backend calls its own Service: every backend answers, itself included (hairpin).
    setup = _set_up(cluster, client, namespace)
    caller = Setup(setup.dual, setup.backends, setup.backends[0], setup.cluster_ips, setup.node_ports)
    vip = setup.cluster_ips[family]
    seen = collect_hostnames(cluster, namespace, caller.client_pod, url(vip, 80), setup.backends)
    assert set(seen) - {""} == set(setup.backends)
    _udp_answers_from_all(cluster, namespace, caller, vip, 90)


HTTP_MESSAGE = "42" * 1000  # upstream's large requests: a 2 kB HTTP echo ...
UDP_MESSAGE = "n" + "o" * 1999  # ... and a 2,000-byte datagram (IP fragments over a 1,500 MTU)
_UDP_ECHO = """
import json, socket, sys
host, port, message = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(1.0)
sock.sendto(("echo " + message).encode(), (host, port))
try:
    print(json.dumps(sock.recv(65535).decode()))
except (socket.timeout, ConnectionRefusedError):
    print(json.dumps(""))
"""


def test_large_requests_on_the_secondary_family(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    setup = _set_up(cluster, client, namespace)
    vip = setup.cluster_ips[setup.dual.secondary]
    target = url(vip, 80, f"/echo?msg={HTTP_MESSAGE}")
    wait_for(lambda: http_get(cluster, namespace, setup.client_pod, target) == HTTP_MESSAGE, what="the 2 kB echo")

    def echoed() -> bool:
        result = python_in_pod(cluster, namespace, setup.client_pod, _UDP_ECHO, vip, "90", UDP_MESSAGE).check()
        answer: str = json.loads(result.stdout)
        return answer == UDP_MESSAGE

    wait_for(echoed, what=f"the 2,000-byte UDP echo via [{vip}]:90")


def _one_backend(answers: list[str]) -> str | None:
    distinct = set(answers)
    return distinct.pop() if len(distinct) == 1 and "" not in distinct else None


def test_client_ip_affinity_on_the_secondary_family(cluster: ClusterUnderTest, client: Client, namespace: str) -> None:
    setup = _set_up(cluster, client, namespace, sessionAffinity="ClientIP")
    vip = setup.cluster_ips[setup.dual.secondary]
    target = url(vip, 80)
    sticky = wait_for(
        lambda: _one_backend(http_get_many(cluster, namespace, setup.client_pod, target, STICKY_ROUND)),
        what=f"ClientIP affinity via {target}",
    )
    assert sticky in setup.backends
    assert set(http_get_many(cluster, namespace, setup.client_pod, target, 2 * STICKY_ROUND)) == {sticky}

    def udp_rounds() -> list[str]:
        # one flow per call (a fresh source port each time): affinity, not conntrack, keeps them together
        return [
            a for _ in range(5) for a in udp_hostnames(cluster, namespace, setup.client_pod, vip, 90, 2, source_port=0)
        ]

    udp_sticky = wait_for(lambda: _one_backend(udp_rounds()), what=f"ClientIP affinity via [{vip}]:90/UDP")
    assert udp_sticky in setup.backends
