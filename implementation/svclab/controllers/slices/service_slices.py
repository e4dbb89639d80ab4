"""The parts a Service's EndpointSlices are built from (upstream ``utils.go``).

* ``address_types_for_service``: the address types a Service gets slices of;
* ``service_slice_labels`` / ``owned_by``: the labels a Service's slice
  carries, and whether a slice is owned by this very Service;
* ``endpoint_ports`` / ``pod_to_endpoint``: a pod's ports and its endpoint;
* ``new_service_slice``: an empty slice for a Service, ready to be filled;
* ``set_trigger_time``: the last-change-trigger-time annotation.

Endpoint conditions: ``serving`` = pod Ready, ``terminating`` = deletion
timestamp set, ``ready`` = ``publishNotReadyAddresses or (serving and not
terminating)``.  All functions here are side-effect-free, except
``set_trigger_time``, which mutates the slice it is given (only freshly built
or copied slices are passed to it).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence

from lightkube.models.discovery_v1 import Endpoint, EndpointConditions, EndpointPort
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Node, Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.kube.models import meta

from ..pods_and_services import (
    controller_ref,
    find_port,
    is_headless,
    is_pod_ready,
    pod_ips,
    pod_reference,
    pod_spec,
    should_set_hostname,
    svc_spec,
)
from ..well_known import (
    ANNOTATION_LAST_CHANGE_TRIGGER_TIME,
    LABEL_HEADLESS,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    LABEL_ZONE,
    AddressType,
    address_type_of,
    format_trigger_time,
)

__all__ = [
    "address_types_for_service",
    "endpoint_ports",
    "new_service_slice",
    "owned_by",
    "pod_to_endpoint",
    "service_slice_labels",
    "set_trigger_time",
]

_RESERVED_LABELS = frozenset({LABEL_SERVICE_NAME, LABEL_MANAGED_BY, LABEL_HEADLESS})


def address_types_for_service(service: Service) -> set[AddressType]:
    """Upstream ``getAddressTypesForService``: from ipFamilies, else clusterIP, else both."""
    families = {AddressType(f) for f in svc_spec(service).ipFamilies or [] if f in ("IPv4", "IPv6")}
    if families:
        return families
    if not is_headless(service):
        return {address_type_of(svc_spec(service).clusterIP or "") or AddressType.IPV4}
    return {AddressType.IPV4, AddressType.IPV6}


def owned_by(slice_: EndpointSlice, service: Service) -> bool:
    """True when one of the slice's owners is this very Service (same UID)."""
    return any(
        ref.uid == meta(service).uid and ref.kind == "Service" and ref.apiVersion == "v1"
        for ref in meta(slice_).ownerReferences or []
    )


def service_slice_labels(
    slice_labels: Mapping[str, str] | None,
    service: Service,
    controller: str,
) -> tuple[dict[str, str], bool]:
    """Upstream ``setEndpointSliceLabels``: (labels to set, changed?).

    The slice carries the Service's labels except the reserved ones, plus the
    headless label for headless Services, the service-name and managed-by
    labels.  Only a change of the non-reserved labels counts as a change.
    """
    current = {k: v for k, v in (slice_labels or {}).items() if k not in _RESERVED_LABELS}
    wanted = {k: v for k, v in (meta(service).labels or {}).items() if k not in _RESERVED_LABELS}
    changed = current != wanted
    if is_headless(service):
        wanted[LABEL_HEADLESS] = ""
    wanted[LABEL_SERVICE_NAME] = meta(service).name
    wanted[LABEL_MANAGED_BY] = controller
    return wanted, changed


def endpoint_ports(service: Service, pod: Pod) -> list[EndpointPort]:
    """Upstream ``getEndpointPorts``: the Service's ports as this pod serves them."""
    ports: list[EndpointPort] = []
    for service_port in svc_spec(service).ports or []:
        number = find_port(pod, service_port)
        if number is not None:
            ports.append(
                EndpointPort(
                    port=number,
                    name=service_port.name or "",
                    protocol=service_port.protocol or "TCP",
                    appProtocol=service_port.appProtocol,
                )
            )
    return ports


def pod_to_endpoint(
    pod: Pod,
    node: Node | None,
    service: Service,
    address_type: AddressType,
) -> Endpoint:
    """Upstream ``podToEndpoint``.  Side-effect-free."""
    serving = is_pod_ready(pod)
    terminating = meta(pod).deletionTimestamp is not None
    ready = bool(svc_spec(service).publishNotReadyAddresses) or (serving and not terminating)
    zone = ((meta(node).labels or {}).get(LABEL_ZONE) if node and node.metadata else None) or None
    return Endpoint(
        addresses=[ip for ip in pod_ips(pod) if address_type_of(ip) == address_type],
        conditions=EndpointConditions(ready=ready, serving=serving, terminating=terminating),
        targetRef=pod_reference(pod),
        nodeName=pod_spec(pod).nodeName or None,
        zone=zone,
        hostname=pod_spec(pod).hostname if should_set_hostname(pod, service) else None,
    )


def new_service_slice(
    service: Service,
    ports: Sequence[EndpointPort],
    address_type: AddressType,
    controller: str,
) -> EndpointSlice:
    """Upstream ``newEndpointSlice``: generateName ``<service>-``, owned by the Service."""
    labels, _ = service_slice_labels({}, service, controller)
    return EndpointSlice(
        metadata=ObjectMeta(
            generateName=f"{meta(service).name}-",
            namespace=meta(service).namespace,
            labels=labels,
            ownerReferences=[controller_ref(service, "Service")],
        ),
        addressType=str(address_type),
        ports=list(ports),
        endpoints=[],
    )


def set_trigger_time(slice_: EndpointSlice, trigger_time: datetime.datetime | None) -> None:
    """Set or clear the last-change-trigger-time annotation.  Mutates ``slice_``."""
    annotations = dict(meta(slice_).annotations or {})
    if trigger_time is not None:
        annotations[ANNOTATION_LAST_CHANGE_TRIGGER_TIME] = format_trigger_time(trigger_time)
    else:
        annotations.pop(ANNOTATION_LAST_CHANGE_TRIGGER_TIME, None)
    meta(slice_).annotations = annotations or None
