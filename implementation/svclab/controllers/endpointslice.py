"""The EndpointSlice controller's functional core: upstream's slice reconciler.

``plan_slices(service, pods, nodes_by_name, existing_slices)`` reproduces
``staging/src/k8s.io/endpointslice`` ``Reconciler.Reconcile`` up to, and
including, the planning part of ``finalize``:

1. one group of slices per address type the Service supports
   (``ipFamilies``; slices of other types are deleted) and, within it, per
   distinct port list (named targetPorts resolve per pod);
2. per group: existing slices keep the endpoints still desired (updated in
   place when an endpoint changed); remaining endpoints first fill the slices
   already being updated (fullest first), then the unchanged slice that fits
   them most tightly, then new slices of at most ``max_endpoints_per_slice``;
3. a placeholder slice (no ports, no endpoints) when nothing else would exist;
4. creates are turned into updates of slices that would be deleted.

Endpoint conditions: ``serving`` = pod Ready, ``terminating`` = deletion
timestamp set, ``ready`` = ``publishNotReadyAddresses or (serving and not
terminating)``.  All functions here are side-effect-free.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from lightkube.models.discovery_v1 import Endpoint, EndpointConditions, EndpointPort
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Node, Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.kube.models import deep_copy, meta, name_of, namespace_of

from ._slices import (
    EndpointSet,
    PortMapKey,
    SlicePlan,
    endpoints_equal_beyond_key,
    port_map_key,
    set_trigger_time,
)
from .pods_and_services import (
    controller_ref,
    find_port,
    is_headless,
    is_pod_ready,
    pod_ips,
    pod_reference,
    pod_spec,
    should_pod_be_in_endpoints,
    should_set_hostname,
    svc_spec,
)
from .well_known import (
    LABEL_HEADLESS,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    LABEL_ZONE,
    AddressType,
    ControllerName,
    address_type_of,
)

__all__ = [
    "DEFAULT_MAX_ENDPOINTS_PER_SLICE",
    "ServiceSlicePlan",
    "address_types_for_service",
    "owned_by",
    "plan_slices",
    "pod_to_endpoint",
    "service_slice_labels",
]

DEFAULT_MAX_ENDPOINTS_PER_SLICE = 100
_RESERVED_LABELS = frozenset({LABEL_SERVICE_NAME, LABEL_MANAGED_BY, LABEL_HEADLESS})


@dataclass(frozen=True, slots=True)
class ServiceSlicePlan(SlicePlan):
    """A ``SlicePlan`` plus the pods left out because their Node is unknown.

    Upstream writes the slices without them and returns an error so the
    Service is retried; the shell does the same with ``pods_without_node``.
    """

    pods_without_node: tuple[str, ...] = field(default=())


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


def _endpoint_ports(service: Service, pod: Pod) -> list[EndpointPort]:
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


def _new_slice(
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


@dataclass(slots=True)
class _Planner:
    """One planning run; mutable scratch space, discarded afterwards."""

    service: Service
    controller: str
    max_per_slice: int
    create: list[EndpointSlice] = field(default_factory=list)
    update: list[EndpointSlice] = field(default_factory=list)
    delete: list[EndpointSlice] = field(default_factory=list)
    pods_without_node: list[str] = field(default_factory=list)

    def desired(
        self,
        pods: Sequence[Pod],
        nodes: Mapping[str, Node],
        address_type: AddressType,
    ) -> dict[PortMapKey, tuple[list[EndpointPort], EndpointSet]]:
        groups: dict[PortMapKey, tuple[list[EndpointPort], EndpointSet]] = {}
        for pod in pods:
            if not should_pod_be_in_endpoints(pod, include_terminating=True):
                continue
            ports = _endpoint_ports(self.service, pod)
            _, endpoints = groups.setdefault(port_map_key(ports), (ports, EndpointSet()))
            node = nodes.get(pod_spec(pod).nodeName or "")
            if node is None and not svc_spec(self.service).publishNotReadyAddresses:
                # Upstream skips the pod and retries the Service later.
                self.pods_without_node.append(name_of(pod))
                continue
            endpoint = pod_to_endpoint(pod, node, self.service, address_type)
            if endpoint.addresses:
                endpoints.insert(endpoint)
        return groups

    def by_address_type(
        self,
        pods: Sequence[Pod],
        nodes: Mapping[str, Node],
        existing: Sequence[EndpointSlice],
        address_type: AddressType,
    ) -> None:
        """Upstream ``reconcileByAddressType`` plus finalize's create-to-update recycling."""
        create: list[EndpointSlice] = []
        update: list[EndpointSlice] = []
        delete: list[EndpointSlice] = []
        existing_by_ports: dict[PortMapKey, list[EndpointSlice]] = {}
        for slice_ in existing:
            if owned_by(slice_, self.service):
                existing_by_ports.setdefault(port_map_key(slice_.ports), []).append(slice_)
            else:
                delete.append(slice_)
        desired = self.desired(pods, nodes, address_type)
        for key, (ports, endpoints) in desired.items():
            c, u, d = self.by_port_mapping(existing_by_ports.get(key, []), endpoints, ports, address_type)
            create += c
            update += u
            delete += d
        for key, slices in existing_by_ports.items():
            if key not in desired:
                delete += slices
        if len(existing) == len(delete) and not create:
            placeholder = _new_slice(self.service, [], address_type, self.controller)
            if len(delete) == 1 and _same_placeholder(delete[0], placeholder):
                delete = []
            else:
                create.append(placeholder)
        _recycle(self.service, create, update, delete)
        self.create += create
        self.update += update
        self.delete += delete

    def existing_slice_step(self, slice_: EndpointSlice, desired: EndpointSet) -> tuple[str, EndpointSlice]:
        """Step 1 of ``reconcileByPortMapping`` for one slice.

        Keeps the endpoints still desired (taking them out of ``desired``) and
        returns ("delete" | "update" | "unchanged", the slice to use: a copy
        when it changes).
        """
        kept: list[Endpoint] = []
        endpoint_changed = False
        for endpoint in slice_.endpoints or []:
            wanted = desired.get(endpoint)
            if wanted is not None:
                kept.append(wanted)
                endpoint_changed |= not endpoints_equal_beyond_key(wanted, endpoint)
                desired.discard(endpoint)
        labels, labels_changed = service_slice_labels(meta(slice_).labels, self.service, self.controller)
        if endpoint_changed or len(kept) != len(slice_.endpoints or []):
            if not kept:
                return "delete", slice_
            copy = deep_copy(slice_)
            copy.endpoints, meta(copy).labels = kept, labels
            return "update", copy
        if labels_changed:
            copy = deep_copy(slice_)
            meta(copy).labels = labels
            return "update", copy
        return "unchanged", slice_

    def by_port_mapping(
        self,
        existing: Sequence[EndpointSlice],
        desired: EndpointSet,
        ports: Sequence[EndpointPort],
        address_type: AddressType,
    ) -> tuple[list[EndpointSlice], list[EndpointSlice], list[EndpointSlice]]:
        """Upstream ``reconcileByPortMapping``: (create, update, delete) for one port group."""
        by_name: dict[str, EndpointSlice] = {}
        names: dict[str, list[str]] = {"delete": [], "update": [], "unchanged": []}
        for slice_ in existing:
            outcome, by_name[name_of(slice_)] = self.existing_slice_step(slice_, desired)
            names[outcome].append(name_of(slice_))
        unchanged, to_update, to_delete = names["unchanged"], names["update"], names["delete"]
        # Fill the slices being written anyway, fullest first.
        for slice_ in sorted((by_name[n] for n in to_update), key=lambda s: -len(s.endpoints or [])):
            filling = slice_.endpoints = list(slice_.endpoints or [])
            while len(desired) and len(filling) < self.max_per_slice:
                filling.append(desired.pop())
        create: list[EndpointSlice] = []
        while len(desired):
            target = None
            if len(desired) < self.max_per_slice and unchanged:
                target = _slice_to_fill([by_name[n] for n in unchanged], len(desired), self.max_per_slice)
            if target is None:
                target = _new_slice(self.service, ports, address_type, self.controller)
            else:
                target = deep_copy(target)
                by_name[name_of(target)] = target
            filling = target.endpoints = list(target.endpoints or [])
            while len(desired) and len(filling) < self.max_per_slice:
                filling.append(desired.pop())
            if name_of(target):
                to_update.append(name_of(target))
                unchanged.remove(name_of(target))
            else:
                create.append(target)
        return create, [by_name[n] for n in to_update], [by_name[n] for n in to_delete]


def _slice_to_fill(
    slices: Sequence[EndpointSlice],
    count: int,
    max_per_slice: int,
) -> EndpointSlice | None:
    """Upstream ``getSliceToFill``: the slice ``count`` endpoints fill most tightly."""
    closest_diff, closest = max_per_slice, None
    for slice_ in slices:
        diff = max_per_slice - (count + len(slice_.endpoints or []))
        if 0 <= diff < closest_diff:
            closest_diff, closest = diff, slice_
            if diff == 0:
                break
    return closest


def _same_placeholder(existing: EndpointSlice, placeholder: EndpointSlice) -> bool:
    """Upstream ``placeholderSliceCompare``: namespace, labels, type, no ports/endpoints."""
    return (
        meta(existing).namespace == meta(placeholder).namespace
        and (meta(existing).labels or {}) == (meta(placeholder).labels or {})
        and existing.addressType == placeholder.addressType
        and not existing.endpoints
        and not existing.ports
    )


def _recycle(
    service: Service,
    create: list[EndpointSlice],
    update: list[EndpointSlice],
    delete: list[EndpointSlice],
) -> None:
    """Finalize's first step: reuse slices due for deletion instead of creating.

    Mutates the three lists.  Only slices owned by this Service and of the
    same address type are reused, so a slice of an older Service of the same
    name, waiting for garbage collection, is never taken over.
    """
    index = 0
    while index < len(delete) and create:
        old, new = delete[index], create[-1]
        if old.addressType == new.addressType and owned_by(old, service):
            meta(new).name = meta(old).name
            # Carry the version so the write is conditional on what we planned from.
            meta(new).resourceVersion = meta(old).resourceVersion
            create.pop()
            update.append(new)
            delete.pop(index)
        else:
            index += 1


def plan_slices(
    service: Service,
    pods: Iterable[Pod],
    nodes_by_name: Mapping[str, Node],
    existing_slices: Iterable[EndpointSlice],
    *,
    max_endpoints_per_slice: int = DEFAULT_MAX_ENDPOINTS_PER_SLICE,
    trigger_time: datetime.datetime | None = None,
    controller: str = ControllerName.ENDPOINTSLICE,
) -> ServiceSlicePlan:
    """Plan the EndpointSlice writes for one Service.  Side-effect-free.

    ``pods`` are the pods its selector matches; ``existing_slices`` the
    slices labelled with its name and managed by ``controller`` (never
    mutated: planned slices are copies).  Creates and updates carry the
    trigger-time annotation.  A Service being deleted gets no new slices.
    """
    ordered_pods = sorted(pods, key=lambda p: (namespace_of(p), name_of(p)))
    planner = _Planner(service, str(controller), max_endpoints_per_slice)
    supported = address_types_for_service(service)
    by_type: dict[AddressType, list[EndpointSlice]] = {t: [] for t in supported}
    unsupported: list[EndpointSlice] = []
    for slice_ in existing_slices:
        kind = AddressType(slice_.addressType) if slice_.addressType in ("IPv4", "IPv6") else None
        (by_type[kind] if kind in supported else unsupported).append(slice_)
    for address_type in sorted(supported):
        planner.by_address_type(ordered_pods, nodes_by_name, by_type[address_type], address_type)
    create = [] if meta(service).deletionTimestamp is not None else planner.create
    for slice_ in create + planner.update:
        set_trigger_time(slice_, trigger_time)
    return ServiceSlicePlan(
        create=tuple(create),
        update=tuple(planner.update),
        delete=tuple(planner.delete + unsupported),
        pods_without_node=tuple(planner.pods_without_node),
    )
