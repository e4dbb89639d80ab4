"""Builders for the endpoints tests: pods, Services, and views of what the controllers wrote.

Pods are cheap processes: ``busybox`` with a ``command`` (the local provider's
node agent runs the command on the host filesystem; a real cluster pulls the
image). Readiness is steered through the spec only: no probe means Ready once
running, :data:`NEVER_READY` keeps a running pod not Ready for ever.

The ``*_view`` functions turn Endpoints / EndpointSlices into sets of plain
tuples, so a test compares the exact content it expects without depending on
the order the controller chose (upstream sorts subsets by hash).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lightkube import ApiError, Client
from lightkube.core.resource import NamespacedResource
from lightkube.models.core_v1 import Container, ContainerPort, ExecAction, PodSpec, Probe, ServicePort, ServiceSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Endpoints, Node, Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from harness.cluster import ClusterUnderTest
from harness.waiting import wait_for

__all__ = [
    "AGNHOST",
    "BUSYBOX",
    "LABEL_HEADLESS",
    "LABEL_MANAGED_BY",
    "LABEL_SERVICE_NAME",
    "LABEL_SKIP_MIRROR",
    "LAST_CHANGE_TRIGGER_TIME",
    "MANAGED_BY_MIRRORING",
    "MANAGED_BY_SLICES",
    "NEVER_READY",
    "PodPort",
    "STUBBORN",
    "address_row",
    "address_view",
    "create_all",
    "delete_collection",
    "endpoints_of",
    "force_delete",
    "make_pod",
    "make_service",
    "meta",
    "node_zones",
    "pod_ip",
    "pod_node",
    "port_view",
    "service_port",
    "slice_endpoint_view",
    "slice_port_view",
    "slice_row",
    "slices_of",
    "wait_endpoints",
    "wait_gone",
    "wait_pods",
    "wait_slices",
    "worker_nodes",
]

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
BUSYBOX = "docker.io/library/busybox:1.36"
SLEEP = ("sleep", "3600")
# Ignores SIGTERM (children inherit the ignored disposition), so a deleted pod
# stays Terminating until its grace period ends and SIGKILL comes.
STUBBORN = ("sh", "-c", "trap '' TERM; sleep 3600")
NEVER_READY = Probe(exec=ExecAction(command=["false"]), periodSeconds=1)

# discovery/v1 and core/v1 keys (upstream constants).
LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
LABEL_SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
LABEL_HEADLESS = "service.kubernetes.io/headless"
LABEL_ZONE = "topology.kubernetes.io/zone"
LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
MANAGED_BY_SLICES = "endpointslice-controller.k8s.io"
MANAGED_BY_MIRRORING = "endpointslicemirroring-controller.k8s.io"


@dataclass(frozen=True, slots=True)
class PodPort:
    name: str | None
    port: int
    protocol: str = "TCP"


def make_pod(
    name: str,
    namespace: str,
    *,
    labels: Mapping[str, str],
    ports: Sequence[PodPort] = (),
    ready: bool = True,
    ready_after: int | None = None,
    node: str | None = None,
    hostname: str | None = None,
    subdomain: str | None = None,
    grace: int | None = None,
    command: Sequence[str] = SLEEP,
) -> Pod:
    """A one-container pod running ``command``.

    ``ready=False`` adds a probe that always fails; ``ready_after=N`` one that
    succeeds from N seconds after the start (so Ready turns True visibly later
    than the pod's first status).
    """
    probe = None if ready else NEVER_READY
    if ready_after is not None:
        probe = Probe(exec=ExecAction(command=["true"]), initialDelaySeconds=ready_after, periodSeconds=1)
    container = Container(
        name="main",
        image=BUSYBOX,
        command=list(command),
        ports=[ContainerPort(name=p.name, containerPort=p.port, protocol=p.protocol) for p in ports] or None,
        readinessProbe=probe,
    )
    spec = PodSpec(
        containers=[container],
        hostname=hostname,
        subdomain=subdomain,
        terminationGracePeriodSeconds=grace,
        nodeSelector={"kubernetes.io/hostname": node} if node else None,
    )
    return Pod(metadata=ObjectMeta(name=name, namespace=namespace, labels=dict(labels)), spec=spec)


def service_port(name: str | None, port: int, target: int | str | None = None, protocol: str = "TCP") -> ServicePort:
    return ServicePort(name=name, port=port, targetPort=port if target is None else target, protocol=protocol)


def make_service(
    name: str,
    namespace: str,
    *,
    selector: Mapping[str, str] | None,
    ports: Sequence[ServicePort],
    labels: Mapping[str, str] | None = None,
    headless: bool = False,
    publish_not_ready: bool = False,
) -> Service:
    spec = ServiceSpec(
        selector=dict(selector) if selector else None,
        ports=list(ports) or None,
        clusterIP="None" if headless else None,
        publishNotReadyAddresses=publish_not_ready or None,
    )
    return Service(
        metadata=ObjectMeta(name=name, namespace=namespace, labels=dict(labels) if labels else None), spec=spec
    )


def meta(obj: Any) -> ObjectMeta:
    """``obj.metadata``, which the API always sets on what it returns."""
    metadata = obj.metadata
    assert isinstance(metadata, ObjectMeta), f"{type(obj).__name__} without metadata"
    return metadata


def pod_ip(pod: Pod) -> str:
    assert pod.status is not None and pod.status.podIP, f"pod {meta(pod).name} has no IP"
    return pod.status.podIP


def pod_node(pod: Pod) -> str | None:
    return pod.spec.nodeName if pod.spec is not None else None


def create_all(client: Client, objects: Iterable[Any]) -> None:
    for obj in objects:
        client.create(obj)


def worker_nodes(cluster: ClusterUnderTest) -> list[str]:
    return [n.name for n in cluster.nodes if n.role == "worker"] or [cluster.nodes[0].name]


def _pod_state(pod: Pod) -> tuple[bool, bool]:
    """(running with an IP, Ready)."""
    status = pod.status
    running = bool(status and status.phase == "Running" and status.podIP)
    ready = any(c.type == "Ready" and c.status == "True" for c in (status.conditions or [])) if status else False
    return running, ready


def wait_pods(
    client: Client, namespace: str, names: Iterable[str], *, ready: bool = True, timeout: float = 60.0
) -> dict[str, Pod]:
    """Wait until every named pod runs with an IP and has Ready == ``ready``."""
    wanted = set(names)

    def probe() -> dict[str, Pod] | None:
        pods = {str(meta(p).name): p for p in client.list(Pod, namespace=namespace) if meta(p).name in wanted}
        if set(pods) != wanted:
            return None
        return pods if all(_pod_state(p) == (True, ready) for p in pods.values()) else None

    found = wait_for(probe, timeout=timeout, what=f"{len(wanted)} pods running, ready={ready}")
    assert found is not None
    return found


def endpoints_of(client: Client, namespace: str, name: str) -> Endpoints | None:
    try:
        return client.get(Endpoints, name, namespace=namespace)
    except ApiError as exc:
        if exc.status.code == 404:
            return None
        raise


def slices_of(
    client: Client, namespace: str, service: str, managed_by: str | None = MANAGED_BY_SLICES
) -> list[EndpointSlice]:
    """Slices labelled for ``service`` (and managed by ``managed_by`` unless None)."""
    selector: dict[str, Any] = {LABEL_SERVICE_NAME: service}
    if managed_by is not None:
        selector[LABEL_MANAGED_BY] = managed_by
    return list(client.list(EndpointSlice, namespace=namespace, labels=selector))


def wait_endpoints(
    client: Client,
    namespace: str,
    name: str,
    condition: Callable[[Endpoints], bool],
    *,
    what: str,
    timeout: float = 30.0,
) -> Endpoints:
    def probe() -> Endpoints | None:
        endpoints = endpoints_of(client, namespace, name)
        return endpoints if endpoints is not None and condition(endpoints) else None

    found = wait_for(probe, timeout=timeout, what=f"Endpoints {namespace}/{name}: {what}")
    assert found is not None
    return found


def wait_slices(
    client: Client,
    namespace: str,
    service: str,
    condition: Callable[[list[EndpointSlice]], bool],
    *,
    what: str,
    managed_by: str | None = MANAGED_BY_SLICES,
    timeout: float = 30.0,
) -> list[EndpointSlice]:
    def probe() -> tuple[list[EndpointSlice]] | None:
        found = slices_of(client, namespace, service, managed_by)
        return (found,) if condition(found) else None  # a tuple: an empty list is an answer

    answer = wait_for(probe, timeout=timeout, what=f"EndpointSlices of {namespace}/{service}: {what}")
    assert answer is not None
    return answer[0]


def wait_gone(client: Client, kind: type[NamespacedResource], namespace: str, name: str, timeout: float = 30.0) -> None:
    def gone() -> bool:
        try:
            client.get(kind, name, namespace=namespace)
        except ApiError as exc:
            return exc.status.code == 404
        return False

    wait_for(gone, timeout=timeout, what=f"{kind.__name__} {namespace}/{name} gone")


def delete_collection(
    client: Client, kind: type[NamespacedResource], namespace: str, labels: Mapping[str, str]
) -> None:
    """DELETE on the collection with a label selector (lightkube's own lacks the selector)."""
    selector = ",".join(f"{key}={value}" for key, value in labels.items())
    client._client.request("deletecollection", res=kind, namespace=namespace, params={"labelSelector": selector})


def force_delete(client: Client, namespace: str, names: Iterable[str]) -> None:
    """Delete pods at once (grace 0), e.g. a Terminating pod a test is done with."""
    for name in names:
        try:
            client.delete(Pod, name, namespace=namespace, grace_period=0)
        except ApiError as exc:
            if exc.status.code != 404:
                raise


# --- views: exact content as sets of tuples -------------------------------------------

AddressRow = tuple[str, bool, str | None, str | None, str | None, str | None]


def address_view(endpoints: Endpoints) -> set[AddressRow]:
    """(ip, ready, hostname, nodeName, target kind, target name) for every address."""
    rows: set[AddressRow] = set()
    for subset in endpoints.subsets or []:
        for ready, addresses in ((True, subset.addresses), (False, subset.notReadyAddresses)):
            for a in addresses or []:
                ref = a.targetRef
                rows.add((a.ip, ready, a.hostname, a.nodeName, ref.kind if ref else None, ref.name if ref else None))
    return rows


def port_view(endpoints: Endpoints) -> dict[str, set[tuple[str | None, int, str]]]:
    """ip -> {(port name, port, protocol)} over all subsets."""
    result: dict[str, set[tuple[str | None, int, str]]] = {}
    for subset in endpoints.subsets or []:
        ports = {(p.name or None, p.port, p.protocol or "TCP") for p in subset.ports or []}
        for a in list(subset.addresses or []) + list(subset.notReadyAddresses or []):
            result.setdefault(a.ip, set()).update(ports)
    return result


SliceRow = tuple[tuple[str, ...], bool | None, bool | None, bool | None, str | None, str | None, str | None, str | None]


def slice_endpoint_view(slices: Iterable[EndpointSlice]) -> set[SliceRow]:
    """(addresses, ready, serving, terminating, nodeName, zone, target kind, target name)."""
    rows: set[SliceRow] = set()
    for slice_ in slices:
        for e in slice_.endpoints or []:
            c, ref = e.conditions, e.targetRef
            rows.add(
                (
                    tuple(e.addresses),
                    c.ready if c else None,
                    c.serving if c else None,
                    c.terminating if c else None,
                    e.nodeName,
                    e.zone,
                    ref.kind if ref else None,
                    ref.name if ref else None,
                )
            )
    return rows


def address_row(pod: Pod, *, ready: bool, hostname: str | None = None) -> AddressRow:
    """The ``address_view`` row the endpoints controller should write for ``pod``."""
    return (pod_ip(pod), ready, hostname, pod_node(pod), "Pod", meta(pod).name)


def node_zones(client: Client) -> dict[str, str | None]:
    return {str(meta(n).name): (meta(n).labels or {}).get(LABEL_ZONE) for n in client.list(Node)}


def slice_row(pod: Pod, zones: Mapping[str, str | None], *, ready: bool, serving: bool, terminating: bool) -> SliceRow:
    """The ``slice_endpoint_view`` row the EndpointSlice controller should write for ``pod``."""
    node = pod_node(pod)
    return ((pod_ip(pod),), ready, serving, terminating, node, zones.get(node) if node else None, "Pod", meta(pod).name)


def slice_port_view(slice_: EndpointSlice) -> set[tuple[str | None, int | None, str]]:
    return {(p.name or None, p.port, p.protocol or "TCP") for p in slice_.ports or []}
