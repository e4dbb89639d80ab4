"""The EndpointSlice mirroring controller's functional core.

Custom Endpoints of selector-less Services are mirrored into EndpointSlices
managed by ``endpointslicemirroring-controller.k8s.io``, reproducing upstream
``pkg/controller/endpointslicemirroring`` (``reconciler.reconcile``):

* the Endpoints' subsets are repacked first; each subset maps to at most one
  slice per address type (IPv4 / IPv6 decided per address);
* at most 1000 addresses per subset are mirrored (ready ones first); the rest
  are skipped with a ``TooManyAddressesToMirror`` warning; addresses that are
  not IPs are skipped with an ``InvalidIPAddress`` warning;
* a slice copies the Endpoints' labels (service-name and managed-by set by
  the controller) and annotations (except last-change-trigger-time and
  kubectl's last-applied-configuration), and is owned by the Endpoints;
* only the first existing slice of a group is kept (updated when it differs);
  creates reuse slices due for deletion.

``EndpointSet``, ``port_map_key`` and ``SlicePlan`` come from the ``slices``
library, as upstream's mirroring reconciler takes them from
``k8s.io/endpointslice``; the planning here is the mirroring controller's own.

``should_mirror`` says whether an Endpoints object is mirrored at all.  All
functions here are side-effect-free.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from lightkube.models.core_v1 import EndpointAddress
from lightkube.models.discovery_v1 import Endpoint, EndpointConditions, EndpointPort
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Endpoints, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.kube.models import meta

from .endpoints import repack_subsets
from .pods_and_services import controller_ref, has_selector
from .slices import EndpointSet, PortMapKey, SlicePlan, endpoint_key, port_map_key
from .well_known import (
    ANNOTATION_LAST_APPLIED,
    ANNOTATION_LAST_CHANGE_TRIGGER_TIME,
    ANNOTATION_LEADER,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    LABEL_SKIP_MIRROR,
    AddressType,
    ControllerName,
    address_type_of,
)

__all__ = [
    "EventReason",
    "MAX_ENDPOINTS_PER_SUBSET",
    "MirrorEvent",
    "MirroringPlan",
    "plan_mirrored_slices",
    "should_mirror",
]

# Upstream MirroringMaxEndpointsPerSubset default; also the slice size.
MAX_ENDPOINTS_PER_SUBSET = 1000
_NOT_COPIED_ANNOTATIONS = frozenset({ANNOTATION_LAST_CHANGE_TRIGGER_TIME, ANNOTATION_LAST_APPLIED})


class EventReason(StrEnum):
    """Reasons of the Warning events recorded on the mirrored Endpoints."""

    INVALID_IP_ADDRESS = "InvalidIPAddress"
    TOO_MANY_ADDRESSES_TO_MIRROR = "TooManyAddressesToMirror"


@dataclass(frozen=True, slots=True)
class MirrorEvent:
    """An event to record on the Endpoints object (always type Warning)."""

    reason: EventReason
    message: str
    type: str = "Warning"


@dataclass(frozen=True, slots=True)
class MirroringPlan(SlicePlan):
    """A ``SlicePlan`` plus the events to record on the Endpoints."""

    events: tuple[MirrorEvent, ...] = field(default=())


def should_mirror(endpoints: Endpoints | None, service: Service | None) -> bool:
    """True when ``endpoints`` is to be mirrored (else its mirrored slices go).

    Needs a selector-less Service of the same name, and no skip-mirror label
    or leader-election annotation on the Endpoints.  Side-effect-free.
    """
    if endpoints is None or service is None or has_selector(service):
        return False
    labels = meta(endpoints).labels or {}
    annotations = meta(endpoints).annotations or {}
    return labels.get(LABEL_SKIP_MIRROR) != "true" and ANNOTATION_LEADER not in annotations


def _address_to_endpoint(address: EndpointAddress, ready: bool) -> Endpoint:
    return Endpoint(
        addresses=[address.ip],
        conditions=EndpointConditions(ready=ready),
        targetRef=address.targetRef,
        nodeName=address.nodeName,
        hostname=address.hostname or None,
    )


@dataclass(slots=True)
class _Desired:
    """Upstream ``desiredCalc``: endpoints and ports per (ports, address type)."""

    endpoints: dict[tuple[PortMapKey, AddressType], EndpointSet] = field(default_factory=dict)
    ports: dict[tuple[PortMapKey, AddressType], list[EndpointPort]] = field(default_factory=dict)
    invalid: int = 0
    skipped: int = 0

    def add_subset(self, subset: object) -> None:
        ports = [
            EndpointPort(port=p.port, name=p.name or "", protocol=p.protocol or "TCP", appProtocol=p.appProtocol)
            for p in subset.ports or []  # type: ignore[attr-defined]
        ]
        key = port_map_key(ports)
        for address_type in (AddressType.IPV4, AddressType.IPV6):
            self.endpoints.setdefault((key, address_type), EndpointSet())
            self.ports[(key, address_type)] = ports
        total = added = 0
        for addresses, ready in ((subset.addresses, True), (subset.notReadyAddresses, False)):  # type: ignore[attr-defined]
            for address in addresses or []:
                total += 1
                if added >= MAX_ENDPOINTS_PER_SUBSET:
                    continue
                found = address_type_of(address.ip)
                if found is None:
                    self.invalid += 1
                    continue
                self.endpoints[(key, found)].insert(_address_to_endpoint(address, ready))
                added += 1
        self.skipped += total - added


def _events(desired: _Desired) -> tuple[MirrorEvent, ...]:
    events = []
    if desired.invalid:
        events.append(
            MirrorEvent(
                EventReason.INVALID_IP_ADDRESS,
                f"Skipped {desired.invalid} invalid IP addresses when mirroring to EndpointSlices",
            )
        )
    if desired.skipped > desired.invalid:
        events.append(
            MirrorEvent(
                EventReason.TOO_MANY_ADDRESSES_TO_MIRROR,
                f"A max of {MAX_ENDPOINTS_PER_SUBSET} addresses can be mirrored to EndpointSlices "
                f"per Endpoints subset. {desired.skipped} addresses were skipped",
            )
        )
    return tuple(events)


def _mirrored_annotations(endpoints: Endpoints) -> dict[str, str]:
    return {k: v for k, v in (meta(endpoints).annotations or {}).items() if k not in _NOT_COPIED_ANNOTATIONS}


def _new_slice(
    endpoints: Endpoints,
    ports: Sequence[EndpointPort],
    address_type: AddressType,
    name: str | None,
) -> EndpointSlice:
    """Upstream mirroring ``newEndpointSlice``: owned by the Endpoints."""
    labels = dict(meta(endpoints).labels or {})
    labels[LABEL_SERVICE_NAME] = meta(endpoints).name
    labels[LABEL_MANAGED_BY] = str(ControllerName.MIRRORING)
    return EndpointSlice(
        metadata=ObjectMeta(
            name=name,
            generateName=None if name else f"{meta(endpoints).name}-",
            namespace=meta(endpoints).namespace,
            labels=labels,
            annotations=_mirrored_annotations(endpoints) or None,
            ownerReferences=[controller_ref(endpoints, "Endpoints")],
        ),
        addressType=str(address_type),
        ports=list(ports),
        endpoints=[],
    )


def _first_slice_matches(endpoints: Endpoints, slice_: EndpointSlice, desired: EndpointSet) -> bool:
    """No endpoint added, changed or removed, and labels/annotations as mirrored."""
    existing = {endpoint_key(e): e for e in slice_.endpoints or []}
    wanted = {endpoint_key(e): e for e in desired}
    if existing != wanted:
        return False
    labels = {k: v for k, v in (meta(slice_).labels or {}).items() if k not in (LABEL_MANAGED_BY, LABEL_SERVICE_NAME)}
    return labels == (meta(endpoints).labels or {}) and (meta(slice_).annotations or {}) == _mirrored_annotations(
        endpoints
    )


def _by_port_mapping(
    endpoints: Endpoints,
    existing: Sequence[EndpointSlice],
    desired: EndpointSet,
    ports: Sequence[EndpointPort],
    address_type: AddressType,
) -> tuple[list[EndpointSlice], list[EndpointSlice], list[EndpointSlice]]:
    """Upstream mirroring ``reconcileByPortMapping``: (create, update, delete)."""
    if not len(desired):
        return [], [], list(existing)
    delete = list(existing[1:])
    if existing and _first_slice_matches(endpoints, existing[0], desired):
        return [], [], delete
    name = meta(existing[0]).name if existing else None
    new = _new_slice(endpoints, ports, address_type, name)
    if existing:
        meta(new).resourceVersion = meta(existing[0]).resourceVersion
    filling = new.endpoints = []
    while len(desired) and len(filling) < MAX_ENDPOINTS_PER_SUBSET:
        filling.append(desired.pop())
    return ([], [new], delete) if name else ([new], [], delete)


def _recycle(create: list[EndpointSlice], update: list[EndpointSlice], delete: list[EndpointSlice]) -> None:
    """Upstream ``recycleSlices``: turn creates into updates of doomed slices of the same type."""
    index = 0
    while index < len(delete):
        old = delete[index]
        same_type = [i for i, s in enumerate(create) if s.addressType == old.addressType]
        if not same_type:
            index += 1
            continue
        new = create.pop(same_type[-1])
        meta(new).name, meta(new).generateName = meta(old).name, None
        meta(new).resourceVersion = meta(old).resourceVersion
        update.append(new)
        delete.pop(index)


def plan_mirrored_slices(
    endpoints: Endpoints,
    existing_slices: Iterable[EndpointSlice],
) -> MirroringPlan:
    """Plan the mirrored slices of one Endpoints object.  Side-effect-free.

    ``existing_slices`` are the slices labelled with its name and managed by
    the mirroring controller.  Call only when ``should_mirror`` holds;
    otherwise every mirrored slice is to be deleted.  An Endpoints object
    being deleted gets no new slices.
    """
    desired = _Desired()
    for subset in repack_subsets(endpoints.subsets or []):
        desired.add_subset(subset)
    existing_by_key: dict[tuple[PortMapKey, AddressType], list[EndpointSlice]] = {}
    create: list[EndpointSlice] = []
    update: list[EndpointSlice] = []
    delete: list[EndpointSlice] = []
    for slice_ in existing_slices:
        if slice_.addressType not in (AddressType.IPV4, AddressType.IPV6):
            delete.append(slice_)  # FQDN slices are never mirrored
            continue
        key = (port_map_key(slice_.ports), AddressType(slice_.addressType))
        existing_by_key.setdefault(key, []).append(slice_)
    for key, wanted in desired.endpoints.items():
        c, u, d = _by_port_mapping(endpoints, existing_by_key.get(key, []), wanted, desired.ports[key], key[1])
        create += c
        update += u
        delete += d
    for key, slices in existing_by_key.items():
        if key not in desired.endpoints:
            delete += slices
    _recycle(create, update, delete)
    if meta(endpoints).deletionTimestamp is not None:
        create = []
    return MirroringPlan(tuple(create), tuple(update), tuple(delete), events=_events(desired))
