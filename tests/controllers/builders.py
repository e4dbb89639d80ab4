"""Builders for controller tests, modelled on upstream's test helpers.

Address plan (as upstream's ``newPod``): pod ``n`` is ``pod<n>`` in namespace
``test`` with IP ``1.2.3.<4+n>`` (or ``10.0.<n//250>.<n%250>`` past 250 pods,
which upstream's tests never reach), on node ``node-1``; it serves container
ports named ``port<i>`` at ``8080+i``.  Service ``foo`` selects ``foo: bar``,
has ClusterIP ``10.96.0.10`` (IPv4) and port 80 -> targetPort 8080.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from lightkube.models.core_v1 import (
    Container,
    ContainerPort,
    EndpointAddress,
    EndpointPort,
    EndpointSubset,
    NodeSpec,
    ObjectReference,
    PodCondition,
    PodIP,
    PodSpec,
    PodStatus,
    ServicePort,
    ServiceSpec,
)
from lightkube.models.discovery_v1 import Endpoint
from lightkube.models.discovery_v1 import EndpointPort as SlicePort
from lightkube.models.meta_v1 import ObjectMeta, OwnerReference
from lightkube.resources.core_v1 import Endpoints, Node, Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice

NAMESPACE = "test"
T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def pod_ip(n: int) -> str:
    return f"1.2.3.{4 + n}" if n < 250 else f"10.0.{n // 250}.{n % 250}"


def service_port(
    port: int = 80, target: int | str | None = 8080, *, name: str | None = None, protocol: str = "TCP"
) -> ServicePort:
    return ServicePort(port=port, targetPort=target, name=name, protocol=protocol)


def service(
    name: str = "foo",
    *,
    namespace: str = NAMESPACE,
    ports: Iterable[ServicePort] | None = None,
    selector: Mapping[str, str] | None = None,
    cluster_ip: str | None = "10.96.0.10",
    families: Iterable[str] | None = ("IPv4",),
    labels: Mapping[str, str] | None = None,
    publish_not_ready: bool | None = None,
    type_: str = "ClusterIP",
    uid: str | None = None,
    created: datetime.datetime | None = T0,
    deleting: bool = False,
) -> Service:
    return Service(
        metadata=ObjectMeta(
            name=name,
            namespace=namespace,
            uid=uid or f"uid-svc-{name}",
            labels=dict(labels or {}) or None,
            creationTimestamp=created,
            deletionTimestamp=T0 if deleting else None,
        ),
        spec=ServiceSpec(
            ports=list(ports) if ports is not None else [service_port()],
            selector=dict(selector) if selector is not None else {"foo": "bar"},
            clusterIP=cluster_ip,
            ipFamilies=list(families) if families is not None else None,
            publishNotReadyAddresses=publish_not_ready,
            type=type_,
        ),
    )


def headless(name: str = "foo", **kwargs: Any) -> Service:
    return service(name, cluster_ip="None", **kwargs)


def pod(
    n: int,
    *,
    namespace: str = NAMESPACE,
    ready: bool = True,
    n_ports: int = 1,
    terminating: bool = False,
    phase: str = "Running",
    ips: Iterable[str] | None = None,
    node: str | None = "node-1",
    hostname: str | None = None,
    subdomain: str | None = None,
    ready_since: datetime.datetime | None = None,
    container_ports: Iterable[ContainerPort] | None = None,
) -> Pod:
    addresses = list(ips) if ips is not None else [pod_ip(n)]
    ports = (
        list(container_ports)
        if container_ports is not None
        else [ContainerPort(name=f"port{i}", containerPort=8080 + i, protocol="TCP") for i in range(n_ports)]
    )
    return Pod(
        metadata=ObjectMeta(
            name=f"pod{n}",
            namespace=namespace,
            uid=f"uid-pod{n}",
            labels={"foo": "bar"},
            deletionTimestamp=T0 if terminating else None,
        ),
        spec=PodSpec(
            containers=[Container(name="c", ports=ports)],
            nodeName=node,
            hostname=hostname,
            subdomain=subdomain,
        ),
        status=PodStatus(
            phase=phase,
            podIP=addresses[0] if addresses else None,
            podIPs=[PodIP(ip=a) for a in addresses] or None,
            conditions=[
                PodCondition(
                    type="Ready",
                    status="True" if ready else "False",
                    lastTransitionTime=ready_since or T0,
                )
            ],
        ),
    )


def node(name: str = "node-1", zone: str | None = None) -> Node:
    labels = {"topology.kubernetes.io/zone": zone} if zone else None
    return Node(metadata=ObjectMeta(name=name, labels=labels), spec=NodeSpec())


def target_ref(n: int, namespace: str = NAMESPACE) -> ObjectReference:
    return ObjectReference(kind="Pod", namespace=namespace, name=f"pod{n}", uid=f"uid-pod{n}")


def address(n: int, *, node_name: str = "node-1", hostname: str | None = None) -> EndpointAddress:
    """The Endpoints address the controller makes for ``pod(n)``."""
    return EndpointAddress(ip=pod_ip(n), nodeName=node_name, targetRef=target_ref(n), hostname=hostname)


def raw_address(ip: str) -> EndpointAddress:
    """A hand-written address (custom Endpoints), no target."""
    return EndpointAddress(ip=ip)


def endpoint_port(port: int = 8080, *, name: str | None = None, protocol: str = "TCP") -> EndpointPort:
    return EndpointPort(port=port, name=name, protocol=protocol)


def subset(
    ready: Iterable[EndpointAddress] = (),
    not_ready: Iterable[EndpointAddress] = (),
    ports: Iterable[EndpointPort] | None = None,
) -> EndpointSubset:
    return EndpointSubset(
        addresses=list(ready) or None,
        notReadyAddresses=list(not_ready) or None,
        ports=list(ports) if ports is not None else None,
    )


def endpoints(
    name: str = "foo",
    *subsets: EndpointSubset,
    namespace: str = NAMESPACE,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    uid: str | None = None,
    resource_version: str | None = None,
) -> Endpoints:
    return Endpoints(
        metadata=ObjectMeta(
            name=name,
            namespace=namespace,
            uid=uid or f"uid-ep-{name}",
            labels=dict(labels or {}) or None,
            annotations=dict(annotations or {}) or None,
            resourceVersion=resource_version,
        ),
        subsets=list(subsets) or None,
    )


# -- typed views for assertions (lightkube leaves every field optional) --------

T = TypeVar("T")


def must(value: T | None) -> T:
    """``value``, asserted present."""
    assert value is not None
    return value


def endpoints_of(slice_: EndpointSlice) -> list[Endpoint]:
    return list(slice_.endpoints or [])


def ports_of(slice_: EndpointSlice) -> list[SlicePort]:
    return list(slice_.ports or [])


def labels_of(obj: Any) -> dict[str, str]:
    return dict(must(obj.metadata).labels or {})


def owner_of(obj: Any) -> OwnerReference:
    meta: ObjectMeta = must(obj.metadata)
    return must(meta.ownerReferences)[0]


def conditions_of(endpoint: Endpoint) -> tuple[bool | None, bool | None, bool | None]:
    found = must(endpoint.conditions)
    return found.ready, found.serving, found.terminating


def target_name(endpoint: Endpoint) -> str:
    return must(must(endpoint.targetRef).name)


def ready_ips(subsets: list[EndpointSubset] | None, index: int = 0) -> list[str]:
    return [a.ip for a in must(subsets)[index].addresses or []]
