"""Builders for EndpointSlices in the slice library's tests (see ``..builders`` for the address plan)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lightkube.models.discovery_v1 import EndpointPort
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Node, Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.controllers.pods_and_services import controller_ref
from svclab.controllers.slices.service_slices import pod_to_endpoint, service_slice_labels
from svclab.kube.models import meta

from ..builders import NAMESPACE, node

CONTROLLER = "endpointslice-controller.k8s.io"
ZONE = "us-central1-a"
NODES = {"node-1": node("node-1", ZONE)}


def slice_port(port: int = 8080, name: str = "", protocol: str = "TCP") -> EndpointPort:
    return EndpointPort(port=port, name=name, protocol=protocol)


def existing_slice(
    n: int,
    svc: Service,
    pods: Iterable[Pod] = (),
    *,
    ports: Iterable[EndpointPort] | None = None,
    address_type: str = "IPv4",
    node: Node | None = None,
    labels: Mapping[str, str] | None = None,
    owner_uid: str | None = None,
) -> EndpointSlice:
    """Slice ``<svc>-<n>`` as the controller would have written it (upstream ``newEmptyEndpointSlice``)."""
    ref = controller_ref(svc, "Service")
    if owner_uid is not None:
        ref.uid = owner_uid
    computed, _ = service_slice_labels({}, svc, CONTROLLER)
    return EndpointSlice(
        metadata=ObjectMeta(
            name=f"{meta(svc).name}-{n}",
            namespace=NAMESPACE,
            uid=f"uid-slice-{n}",
            resourceVersion=str(n),
            generation=1,
            labels=dict(labels) if labels is not None else computed,
            ownerReferences=[ref],
        ),
        addressType=address_type,
        ports=list(ports) if ports is not None else [slice_port()],
        endpoints=[pod_to_endpoint(p, node, svc, address_type) for p in pods],  # type: ignore[arg-type]
    )
