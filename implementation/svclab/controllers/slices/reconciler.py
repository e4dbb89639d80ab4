"""The EndpointSlice reconciler: upstream ``k8s.io/endpointslice`` ``Reconciler``.

Split as the style guide asks: planning returns the writes, ``finalize``
makes them.

``plan_slices(service, pods, nodes_by_name, existing_slices)`` reproduces
``Reconciler.Reconcile`` up to, and including, the planning part of
``finalize``:

1. one group of slices per address type the Service supports
   (``ipFamilies``; slices of other types are deleted) and, within it, per
   distinct port list (named targetPorts resolve per pod);
2. per group: existing slices keep the endpoints still desired (updated in
   place when an endpoint changed); remaining endpoints first fill the slices
   already being updated (fullest first), then the unchanged slice that fits
   them most tightly, then new slices of at most ``max_endpoints_per_slice``;
3. a placeholder slice (no ports, no endpoints) when nothing else would exist;
4. hints for ``trafficDistribution`` (``traffic_distribution``): set on what is
   written, and unchanged slices with stale hints are rewritten;
5. creates are turned into updates of slices that would be deleted.

``plan_slices`` is side-effect-free.  ``apply_slice_plan`` is ``finalize``'s
I/O: the creates, updates and deletes of any ``SlicePlan`` (the mirroring
controller's too), each recorded in the ``EndpointSliceTracker``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lightkube.models.discovery_v1 import Endpoint, EndpointPort
from lightkube.resources.core_v1 import Node, Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.kube.models import deep_copy, meta, name_of, namespace_of

from ..errors import write
from ..pods_and_services import pod_spec, should_pod_be_in_endpoints, svc_spec
from ..well_known import AddressType, ControllerName
from .endpoint_set import EndpointSet, PortMapKey, endpoints_equal_beyond_key, port_map_key
from .service_slices import (
    address_types_for_service,
    endpoint_ports,
    new_service_slice,
    owned_by,
    pod_to_endpoint,
    service_slice_labels,
    set_trigger_time,
)
from .tracker import EndpointSliceTracker
from .traffic_distribution import reconcile_hints

__all__ = [
    "DEFAULT_MAX_ENDPOINTS_PER_SLICE",
    "ServiceSlicePlan",
    "SlicePlan",
    "apply_slice_plan",
    "plan_slices",
]

DEFAULT_MAX_ENDPOINTS_PER_SLICE = 100


@dataclass(frozen=True, slots=True)
class SlicePlan:
    """The writes one sync wants.  Slices in ``create`` have only a generateName."""

    create: tuple[EndpointSlice, ...] = ()
    update: tuple[EndpointSlice, ...] = ()
    delete: tuple[EndpointSlice, ...] = ()

    def is_empty(self) -> bool:
        return not (self.create or self.update or self.delete)


@dataclass(frozen=True, slots=True)
class ServiceSlicePlan(SlicePlan):
    """A ``SlicePlan`` plus the pods left out because their Node is unknown.

    Upstream writes the slices without them and returns an error so the
    Service is retried; the shell does the same with ``pods_without_node``.
    """

    pods_without_node: tuple[str, ...] = field(default=())


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
            ports = endpoint_ports(self.service, pod)
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
            placeholder = new_service_slice(self.service, [], address_type, self.controller)
            if len(delete) == 1 and _same_placeholder(delete[0], placeholder):
                delete = []
            else:
                create.append(placeholder)
        if self.controller == ControllerName.ENDPOINTSLICE:  # the mirroring controller sets no hints
            written = {name_of(s) for s in (*update, *delete)}
            unchanged = [s for s in existing if name_of(s) not in written]
            reconcile_hints(svc_spec(self.service).trafficDistribution, create, update, unchanged)
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
                target = new_service_slice(self.service, ports, address_type, self.controller)
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


async def apply_slice_plan(client: Any, tracker: EndpointSliceTracker, plan: SlicePlan) -> None:
    """Upstream ``finalize``'s I/O: create, update, delete, recording each in ``tracker``."""
    for slice_ in plan.create:
        created = await write("create", slice_, client.create(slice_))
        if created is not None:
            tracker.update(created)
    for slice_ in plan.update:
        updated = await write("update", slice_, client.replace(slice_))
        if updated is not None:
            tracker.update(updated)
    for slice_ in plan.delete:
        await write(
            "delete",
            slice_,
            client.delete(EndpointSlice, name_of(slice_), namespace=namespace_of(slice_)),
            missing_ok=True,
        )
        tracker.expect_deletion(slice_)
