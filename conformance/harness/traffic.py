"""Traffic helpers: agnhost backends, client pods, and requests sent from inside pods.

Backends are bare pods running agnhost ``netexec`` (HTTP 8080 answering
``/hostname`` and ``/clientip``, UDP 8081 answering ``hostname``), spread round
robin over the worker nodes; a not-ready backend gets a readiness probe on a
port nobody listens on. Clients are agnhost ``pause`` pods that tolerate every
taint, so they can sit on the control-plane node, i.e. on a node other than
every backend's.

Requests leave from inside a pod through ``cluster.exec_in_pod``: HTTP with
``curl`` (in the agnhost image and on the local provider's host filesystem),
UDP and long-lived TCP with a small Python program, run by the local provider's
interpreter (pods there run on the host's filesystem). Nothing here sleeps to
let something happen: callers poll with ``harness.waiting.wait_for``.
"""

from __future__ import annotations

import enum
import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from lightkube import Client
from lightkube.models.core_v1 import (
    Container,
    ContainerPort,
    HTTPGetAction,
    PodSpec,
    Probe,
    ServicePort,
    ServiceSpec,
    Toleration,
)
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Pod, Service

from harness.cluster import ClusterUnderTest, ExecResult
from harness.waiting import pod_is_ready, wait_for

__all__ = [
    "AGNHOST",
    "ConnectOutcome",
    "HTTP_PORT",
    "Outcome",
    "ServiceAddress",
    "UDP_PORT",
    "backend_pod",
    "client_pod",
    "collect_hostnames",
    "connect_outcome",
    "control_plane_node",
    "create_backends",
    "create_client",
    "create_service",
    "delete_pods",
    "http_get",
    "http_get_many",
    "http_get_urls",
    "pod_ips",
    "python_in_pod",
    "service",
    "udp_hostnames",
    "udp_hostnames_from_node",
    "url",
    "wait_ready",
    "worker_nodes",
]

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
HTTP_PORT = 8080
UDP_PORT = 8081
UNSERVED_PORT = 8099  # readiness probes aimed here fail: nothing listens on it
CURL_TIMEOUT = 2.0


def control_plane_node(cluster: ClusterUnderTest) -> str:
    """The first node: the control plane (a node where no backend is put)."""
    return cluster.nodes[0].name


def url(ip: str, port: int, path: str = "/hostname") -> str:
    """An HTTP URL; an IPv6 address goes in brackets (curl runs with -g, so they stay literal)."""
    host = f"[{ip}]" if ":" in ip else ip
    return f"http://{host}:{port}{path}"


def delete_pods(client: Client, namespace: str, names: Iterable[str]) -> None:
    for name in names:
        client.delete(Pod, name, namespace=namespace)


def worker_nodes(cluster: ClusterUnderTest) -> list[str]:
    """Names of the worker nodes (where backends go)."""
    return [node.name for node in cluster.nodes if node.role == "worker"]


def backend_pod(name: str, namespace: str, node: str, *, labels: dict[str, str], ready: bool = True) -> Pod:
    """An agnhost netexec pod on ``node``; ``ready=False`` makes its probe fail for ever."""
    probe_port = HTTP_PORT if ready else UNSERVED_PORT
    probe = Probe(httpGet=HTTPGetAction(path="/healthz", port=probe_port), periodSeconds=1)
    container = Container(
        name="netexec",
        image=AGNHOST,
        args=["netexec", f"--http-port={HTTP_PORT}", f"--udp-port={UDP_PORT}"],
        ports=[
            ContainerPort(containerPort=HTTP_PORT, name="http", protocol="TCP"),
            ContainerPort(containerPort=UDP_PORT, name="udp", protocol="UDP"),
        ],
        readinessProbe=probe,
    )
    return Pod(
        metadata=ObjectMeta(name=name, namespace=namespace, labels=dict(labels)),
        spec=PodSpec(
            containers=[container], terminationGracePeriodSeconds=1, nodeSelector={"kubernetes.io/hostname": node}
        ),
    )


def client_pod(name: str, namespace: str, node: str, *, labels: dict[str, str] | None = None) -> Pod:
    """An agnhost pause pod on ``node`` (tolerating the control plane's taint)."""
    container = Container(name="pause", image=AGNHOST, args=["pause"])
    return Pod(
        metadata=ObjectMeta(name=name, namespace=namespace, labels=labels or {}),
        spec=PodSpec(
            containers=[container],
            terminationGracePeriodSeconds=1,
            tolerations=[Toleration(operator="Exists")],
            nodeSelector={"kubernetes.io/hostname": node},
        ),
    )


def wait_ready(client: Client, namespace: str, names: Iterable[str], timeout: float = 60.0) -> dict[str, Pod]:
    """Wait until every named pod is Ready; return them by name. (A pod is Ready in 1-2 s on a
    quiet machine; under `make test`'s load some took over 30 s.)"""
    wanted = sorted(names)

    def all_ready() -> dict[str, Pod]:
        pods = {name: client.get(Pod, name, namespace=namespace) for name in wanted}
        return pods if all(pod_is_ready(pod) for pod in pods.values()) else {}

    return wait_for(all_ready, timeout=timeout, what=f"pods {wanted} Ready in {namespace}")


def create_backends(
    client: Client,
    cluster: ClusterUnderTest,
    namespace: str,
    count: int,
    *,
    app: str = "backend",
    prefix: str | None = None,
    ready: bool = True,
    nodes: Sequence[str] | None = None,
    start: int = 0,
) -> list[str]:
    """Create ``count`` netexec pods labelled ``app=APP``, round robin over ``nodes``
    (default: the workers). Returns their names; does not wait for readiness."""
    spread = list(nodes or worker_nodes(cluster) or [cluster.nodes[0].name])
    names = []
    for index in range(start, start + count):
        name = f"{prefix or app}-{index}"
        client.create(backend_pod(name, namespace, spread[index % len(spread)], labels={"app": app}, ready=ready))
        names.append(name)
    return names


def create_client(
    client: Client, namespace: str, node: str, name: str = "client", labels: dict[str, str] | None = None
) -> str:
    """Create a client pod on ``node`` and wait until it runs."""
    client.create(client_pod(name, namespace, node, labels=labels))
    wait_ready(client, namespace, [name])
    return name


def service(
    name: str, namespace: str, *, ports: Sequence[ServicePort], selector: dict[str, str] | None, **spec: Any
) -> Service:
    """A Service object; ``spec`` takes further ServiceSpec fields by API name."""
    return Service(
        metadata=ObjectMeta(name=name, namespace=namespace),
        spec=ServiceSpec(ports=list(ports), selector=selector, **spec),
    )


@dataclass(frozen=True, slots=True)
class ServiceAddress:
    """Where a created Service listens: its ClusterIP and its ports' nodePorts (0: none)."""

    cluster_ip: str
    node_ports: tuple[int, ...]


def create_service(
    client: Client,
    name: str,
    namespace: str,
    *,
    ports: Sequence[ServicePort],
    selector: dict[str, str] | None,
    **spec: Any,
) -> ServiceAddress:
    """Create a Service (see ``service``) and return the addresses the API allocated."""
    created = client.create(service(name, namespace, ports=ports, selector=selector, **spec))
    assert created.spec is not None and created.spec.clusterIP, created
    return ServiceAddress(created.spec.clusterIP, tuple(port.nodePort or 0 for port in created.spec.ports or []))


def pod_ips(pods: dict[str, Pod]) -> dict[str, str]:
    """Pod name -> pod IP, for pods that have one."""
    return {name: pod.status.podIP for name, pod in pods.items() if pod.status is not None and pod.status.podIP}


def _curl(urls: Sequence[str]) -> list[str]:
    # One curl process runs every request: a process start costs far more than a
    # request (in the UML guest ~0.3 s per curl against ~3 ms per request).
    # HTTP/1.0 (-0) makes each request a fresh connection (a new flow for the
    # proxy to balance), never a reused one; -w prints the separator after a
    # failed request too.
    options = f"-s -g -0 --connect-timeout {CURL_TIMEOUT:g} --max-time {2 * CURL_TIMEOUT:g}"
    quoted = " ".join(f"'{url}'" for url in urls)
    return ["/bin/sh", "-c", f"curl {options} -w '\\n' {quoted}"]


def http_get_urls(cluster: ClusterUnderTest, namespace: str, pod: str, urls: Sequence[str]) -> list[str]:
    """One fresh-connection GET of each of ``urls`` from ``pod``, in one exec; one
    answer per request, in order ("" for a failed request)."""
    result = cluster.exec_in_pod(namespace, pod, _curl(urls), timeout=30.0 + len(urls) * 2 * CURL_TIMEOUT)
    lines = result.stdout.split("\n")[: len(urls)]
    return [line.strip() for line in lines] + [""] * (len(urls) - len(lines))


def http_get_many(cluster: ClusterUnderTest, namespace: str, pod: str, url: str, count: int) -> list[str]:
    """``count`` fresh-connection GETs of ``url`` from ``pod``; one answer per request
    ("" for a failed request)."""
    return http_get_urls(cluster, namespace, pod, [url] * count)


def http_get(cluster: ClusterUnderTest, namespace: str, pod: str, url: str) -> str:
    """One GET of ``url`` from ``pod``; the body, or "" when it failed."""
    return http_get_many(cluster, namespace, pod, url, 1)[0]


def collect_hostnames(
    cluster: ClusterUnderTest,
    namespace: str,
    pod: str,
    url: str,
    expected: Iterable[str],
    *,
    per_round: int = 20,
    timeout: float = 30.0,
) -> Counter[str]:
    """Send rounds of GETs to ``url`` (a ``/hostname`` URL) until every name in
    ``expected`` answered; return all answers seen ("" = failed request).

    Callers assert on what else answered: while rules converge, a round may
    still reach only some backends, but never one outside the ready set."""
    wanted = set(expected)
    seen: Counter[str] = Counter()

    def everyone_answered() -> bool:
        seen.update(http_get_many(cluster, namespace, pod, url, per_round))
        return wanted <= set(seen)

    wait_for(everyone_answered, timeout=timeout, interval=0.0, what=f"answers from {sorted(wanted)} via {url}")
    return seen


class Outcome(str, enum.Enum):
    """How a TCP connection attempt ended (curl's exit status, man curl)."""

    ANSWERED = "answered"  # exit 0
    REFUSED = "refused"  # exit 7: could not connect (RST / ICMP port unreachable)
    TIMED_OUT = "timed-out"  # exit 28
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class ConnectOutcome:
    outcome: Outcome
    seconds: float  # curl's own measure of the attempt (time_total)
    body: str


_CURL_OUTCOMES = {0: Outcome.ANSWERED, 7: Outcome.REFUSED, 28: Outcome.TIMED_OUT}


def connect_outcome(
    cluster: ClusterUnderTest, namespace: str, pod: str, url: str, *, connect_timeout: float = 3.0
) -> ConnectOutcome:
    """One GET with curl's exit status and timing, to tell refused from timed out."""
    script = (
        f"curl -s -g -o /tmp/.svclab-body-$$ -w '%{{time_total}}' --connect-timeout "
        f"{connect_timeout:g} '{url}'; rc=$?; echo \" $rc\"; cat /tmp/.svclab-body-$$ "
        "2>/dev/null; rm -f /tmp/.svclab-body-$$"
    )
    result = cluster.exec_in_pod(namespace, pod, ["/bin/sh", "-c", script]).check()
    first, _, body = result.stdout.partition("\n")
    seconds, rc = first.split()
    outcome = _CURL_OUTCOMES.get(int(rc), Outcome.OTHER)
    return ConnectOutcome(outcome, float(seconds), body.strip())


def python_in_pod(
    cluster: ClusterUnderTest, namespace: str, pod: str, program: str, *args: str, timeout: float = 30.0
) -> ExecResult:
    """Run a Python program with ``args`` in ``pod`` (the local provider's
    interpreter; other providers need an image with ``python3``)."""
    interpreter = sys.executable if cluster.provider == "local" else "python3"
    return cluster.exec_in_pod(namespace, pod, [interpreter, "-c", program, *args], timeout=timeout)


_UDP_PROGRAM = """
import json, socket, sys, time
host, port, count, gap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
source_port, until = int(sys.argv[5]), int(sys.argv[6])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
sock = socket.socket(family, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", source_port))
sock.settimeout(0.5)
answers = []
for _ in range(count):
    sock.sendto(b"hostname", (host, port))
    try:
        answers.append(sock.recv(512).decode().strip())
    except (socket.timeout, ConnectionRefusedError):
        answers.append("")
    tail = answers[-until:] if until else []
    if until and len(tail) == until and tail[0] and tail[0] != answers[0] and len(set(tail)) == 1:
        break
    time.sleep(gap)
print(json.dumps(answers))
"""


def udp_hostnames(
    cluster: ClusterUnderTest,
    namespace: str,
    pod: str,
    host: str,
    port: int,
    count: int,
    *,
    source_port: int,
    gap: float = 0.0,
    until: int = 0,
) -> list[str]:
    """Send up to ``count`` "hostname" datagrams from one source port (0: any; a
    fixed one makes them one conntrack flow) and return the answers ("" = none
    within 0.5 s). ``until=N`` stops early once N answers in a row came from one
    backend other than the first answer's (the flow has moved)."""
    result = python_in_pod(
        cluster,
        namespace,
        pod,
        _UDP_PROGRAM,
        host,
        str(port),
        str(count),
        str(gap),
        str(source_port),
        str(until),
        timeout=30.0 + count * (0.5 + gap),
    )
    answers: list[str] = json.loads(result.check().stdout)
    return answers


def udp_hostnames_from_node(
    cluster: ClusterUnderTest, node: str, host: str, port: int, count: int, *, gap: float = 0.0
) -> list[str]:
    """``udp_hostnames`` sent from ``node`` itself (its network namespace), from one
    fresh source port; skips where nodes cannot be reached."""
    interpreter = sys.executable if cluster.provider == "local" else "python3"
    argv = [interpreter, "-c", _UDP_PROGRAM, host, str(port), str(count), str(gap), "0", "0"]
    result = cluster.exec_on_node(node, argv, timeout=30.0 + count * (0.5 + gap))
    answers: list[str] = json.loads(result.check().stdout)
    return answers
