"""The Endpoints controller's functional core: ``(Service, pods) -> Endpoints``.

Reproduces upstream ``pkg/controller/endpoint`` (``syncService``):

* ExternalName and selector-less Services get nothing (``None``);
* pods that are terminal or have no IP are dropped; terminating pods too,
  unless ``publishNotReadyAddresses``;
* ready pods (or all, with ``publishNotReadyAddresses``) go to ``addresses``,
  the others to ``notReadyAddresses``;
* each Service port resolves its (possibly named) targetPort per pod; a pod
  without the named port is left out of that port only;
* a headless Service without ports still lists its pods, with no ports;
* subsets are repacked as ``RepackSubsets`` does (one subset per distinct set
  of addresses, ready wins over not-ready for the same address), sorted;
* over 1000 addresses the object is truncated, ready addresses first, and
  annotated ``endpoints.kubernetes.io/over-capacity: truncated``.

All functions here are side-effect-free.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lightkube.models.core_v1 import EndpointAddress, EndpointPort, EndpointSubset
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Endpoints, Pod, Service

from svclab.kube.models import deep_copy, meta

from .pods_and_services import (
    find_port,
    has_selector,
    is_headless,
    is_pod_ready,
    pod_ips,
    pod_reference,
    pod_spec,
    pod_status,
    should_pod_be_in_endpoints,
    should_set_hostname,
    svc_spec,
)
from .well_known import (
    ANNOTATION_LAST_CHANGE_TRIGGER_TIME,
    ANNOTATION_OVER_CAPACITY,
    LABEL_HEADLESS,
    AddressType,
    address_type_of,
    canonical_ip,
    format_trigger_time,
)

__all__ = [
    "MAX_ENDPOINTS_CAPACITY",
    "OVER_CAPACITY_TRUNCATED",
    "desired_endpoints",
    "desired_subsets",
    "endpoints_equal_for_write",
    "pod_address_for_service",
    "repack_subsets",
    "truncate_subsets",
]

# Upstream maxCapacity: beyond this many addresses the object is truncated.
MAX_ENDPOINTS_CAPACITY = 1000
OVER_CAPACITY_TRUNCATED = "truncated"


@dataclass(frozen=True, slots=True)
class _AddressKey:
    """RepackSubsets identifies an address by its IP and its target's UID."""

    ip: str
    uid: str


def _address_key(address: EndpointAddress) -> _AddressKey:
    uid = address.targetRef.uid if address.targetRef and address.targetRef.uid else ""
    return _AddressKey(address.ip, uid)


def _port_key(port: EndpointPort | None) -> tuple[str, int, str, str]:
    if port is None:
        return ("", -1, "", "")  # upstream's sentinel for "no ports"
    return (port.name or "", port.port, port.protocol or "TCP", port.appProtocol or "")


def _address_sort_key(address: EndpointAddress) -> tuple[bytes, int, str]:
    # LessEndpointAddress: IP bytes, then addresses without targetRef first, then UID.
    ref = address.targetRef
    return (address.ip.encode(), 0 if ref is None else 1, (ref.uid or "") if ref else "")


def _subset_sort_key(subset: EndpointSubset) -> tuple[object, ...]:
    # Upstream sorts subsets and ports by a hash of their Go representation,
    # an order no other language can reproduce; svclab sorts by content.
    return (
        [_port_key(p) for p in subset.ports or []],
        [_address_sort_key(a) for a in subset.addresses or []],
        [_address_sort_key(a) for a in subset.notReadyAddresses or []],
    )


def repack_subsets(subsets: Iterable[EndpointSubset]) -> list[EndpointSubset]:
    """Upstream ``endpoints.RepackSubsets``: canonical N-to-M subsets, sorted.

    Addresses are grouped by the exact set of ports they serve; an address
    listed both ready and not ready for a port counts as ready; addresses
    with an empty IP are dropped; subsets without ports are kept.
    """
    addresses: dict[_AddressKey, EndpointAddress] = {}
    ready_by_port: dict[tuple[str, int, str, str], dict[_AddressKey, bool]] = {}
    ports_by_key: dict[tuple[str, int, str, str], EndpointPort | None] = {}
    for subset in subsets:
        ports: list[EndpointPort | None] = list(subset.ports or []) or [None]
        for port in ports:
            key = _port_key(port)
            ports_by_key.setdefault(key, port)
            readiness = ready_by_port.setdefault(key, {})
            for address in subset.addresses or []:
                if address.ip:
                    akey = _address_key(address)
                    addresses.setdefault(akey, address)
                    readiness[akey] = True
            for address in subset.notReadyAddresses or []:
                if address.ip:
                    akey = _address_key(address)
                    addresses.setdefault(akey, address)
                    readiness.setdefault(akey, False)
    groups: dict[frozenset[tuple[_AddressKey, bool]], list[EndpointPort]] = {}
    for key, readiness in ready_by_port.items():
        group = groups.setdefault(frozenset(readiness.items()), [])
        port = ports_by_key[key]
        if port is not None:
            group.append(port)
    final = []
    for group_key, group_ports in groups.items():
        ready = sorted((addresses[k] for k, r in group_key if r), key=_address_sort_key)
        not_ready = sorted((addresses[k] for k, r in group_key if not r), key=_address_sort_key)
        final.append(
            EndpointSubset(
                addresses=ready or None,
                notReadyAddresses=not_ready or None,
                ports=sorted(group_ports, key=_port_key) or None,
            )
        )
    return sorted(final, key=_subset_sort_key)


def _count(subsets: Sequence[EndpointSubset]) -> tuple[int, int]:
    ready = sum(len(s.addresses or []) for s in subsets)
    not_ready = sum(len(s.notReadyAddresses or []) for s in subsets)
    return ready, not_ready


def truncate_subsets(subsets: Sequence[EndpointSubset]) -> tuple[list[EndpointSubset], bool]:
    """Upstream ``truncateEndpoints``: cap the total at 1000 addresses, ready first.

    Each subset keeps a share proportional to its size (rounded up, the last
    ones get what is left).  If the ready addresses alone exceed the cap, all
    not-ready addresses go and the ready ones are cut; otherwise only the
    not-ready ones are cut.  Returns (subsets, truncated?).
    """
    total_ready, total_not_ready = _count(subsets)
    if total_ready + total_not_ready <= MAX_ENDPOINTS_CAPACITY:
        return list(subsets), False
    truncate_ready = total_ready > MAX_ENDPOINTS_CAPACITY
    budget = MAX_ENDPOINTS_CAPACITY if truncate_ready else MAX_ENDPOINTS_CAPACITY - total_ready
    population = total_ready if truncate_ready else total_not_ready
    left = budget
    result = []
    for subset in subsets:
        ready = list(subset.addresses or [])
        not_ready = list(subset.notReadyAddresses or [])
        share = math.ceil(len(ready if truncate_ready else not_ready) / population * budget)
        share = min(share, left)
        if truncate_ready:
            ready, not_ready = ready[:share], []
            left -= len(ready)
        else:
            not_ready = not_ready[:share]
            left -= len(not_ready)
        result.append(
            EndpointSubset(
                addresses=ready or None,
                notReadyAddresses=not_ready or None,
                ports=subset.ports,
            )
        )
    return result, True


def _service_family(service: Service, pod: Pod) -> AddressType:
    """The IP family the Endpoints of this Service uses (first of ipFamilies)."""
    spec = svc_spec(service)
    if spec.ipFamilies:
        return AddressType.IPV6 if spec.ipFamilies[0] == "IPv6" else AddressType.IPV4
    # Old API servers leave ipFamilies empty: guess from clusterIP, else pod IP.
    probe = (spec.clusterIP or "") if not is_headless(service) else (pod_status(pod).podIP or "")
    return AddressType.IPV6 if address_type_of(probe) is AddressType.IPV6 else AddressType.IPV4


def pod_address_for_service(service: Service, pod: Pod) -> EndpointAddress | None:
    """Upstream ``podToEndpointAddressForService``: the pod's IP of the Service's
    primary family, written canonical (``01.2.3.4`` -> ``1.2.3.4``); None when the
    pod has no IP of that family.  Side-effect-free."""
    family = _service_family(service, pod)
    ip = next((ip for ip in pod_ips(pod) if address_type_of(ip) is family), None)
    if ip is None:
        return None
    return EndpointAddress(
        ip=canonical_ip(ip) or ip,
        nodeName=pod_spec(pod).nodeName or "",
        targetRef=pod_reference(pod),
        hostname=pod_spec(pod).hostname if should_set_hostname(pod, service) else None,
    )


def _pod_subsets(service: Service, pod: Pod, address: EndpointAddress) -> list[EndpointSubset]:
    """One single-address subset per Service port the pod serves."""
    publish = bool(svc_spec(service).publishNotReadyAddresses)
    ready = publish or is_pod_ready(pod)

    def subset(ports: list[EndpointPort] | None) -> EndpointSubset:
        if ready:
            return EndpointSubset(addresses=[address], ports=ports)
        return EndpointSubset(notReadyAddresses=[address], ports=ports)

    if not svc_spec(service).ports:
        return [subset(None)] if is_headless(service) else []
    subsets = []
    for service_port in svc_spec(service).ports or []:
        number = find_port(pod, service_port)
        if number is None:
            continue
        subsets.append(
            subset(
                [
                    EndpointPort(
                        port=number,
                        name=service_port.name or None,
                        protocol=service_port.protocol or "TCP",
                        appProtocol=service_port.appProtocol,
                    )
                ]
            )
        )
    return subsets


def desired_subsets(service: Service, pods: Iterable[Pod]) -> list[EndpointSubset]:
    """The repacked (untruncated) subsets for a Service.  Side-effect-free."""
    publish = bool(svc_spec(service).publishNotReadyAddresses)
    subsets: list[EndpointSubset] = []
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, include_terminating=publish):
            continue
        address = pod_address_for_service(service, pod)
        if address is not None:
            subsets.extend(_pod_subsets(service, pod, address))
    return repack_subsets(subsets)


def _desired_labels(service: Service) -> dict[str, str]:
    labels = dict(meta(service).labels or {})
    if is_headless(service):
        labels[LABEL_HEADLESS] = ""
    else:
        labels.pop(LABEL_HEADLESS, None)
    return labels


def desired_endpoints(
    service: Service,
    pods: Iterable[Pod],
    *,
    current: Endpoints | None = None,
    trigger_time: datetime.datetime | None = None,
) -> Endpoints | None:
    """The Endpoints object the controller wants for ``service``.  Side-effect-free.

    ``pods`` are the pods matching the Service's selector in its namespace.
    ``current`` (never mutated) supplies the annotations and resourceVersion
    to keep; ``trigger_time`` is the last-change-trigger-time to publish (the
    annotation is removed when ``None``).  Returns ``None`` when the Service
    gets no Endpoints from this controller (ExternalName, no selector).
    """
    if service.spec is None or svc_spec(service).type == "ExternalName" or not has_selector(service):
        return None
    subsets, truncated = truncate_subsets(desired_subsets(service, pods))
    endpoints = (
        deep_copy(current)
        if current is not None
        else Endpoints(
            metadata=ObjectMeta(name=meta(service).name, namespace=meta(service).namespace),
        )
    )
    annotations = dict(meta(endpoints).annotations or {})
    if trigger_time is not None:
        annotations[ANNOTATION_LAST_CHANGE_TRIGGER_TIME] = format_trigger_time(trigger_time)
    else:
        annotations.pop(ANNOTATION_LAST_CHANGE_TRIGGER_TIME, None)
    if truncated:
        annotations[ANNOTATION_OVER_CAPACITY] = OVER_CAPACITY_TRUNCATED
    else:
        annotations.pop(ANNOTATION_OVER_CAPACITY, None)
    meta(endpoints).annotations = annotations or None
    meta(endpoints).labels = _desired_labels(service) or None
    endpoints.subsets = subsets or None
    return endpoints


def _strip_resource_versions(subsets: Sequence[EndpointSubset] | None) -> list[object]:
    stripped: list[object] = []
    for subset in subsets or []:
        data = subset.to_dict()
        for field in ("addresses", "notReadyAddresses"):
            for address in data.get(field) or []:
                (address.get("targetRef") or {}).pop("resourceVersion", None)
        stripped.append(data)
    return stripped


def endpoints_equal_for_write(current: Endpoints, desired: Endpoints) -> bool:
    """True when writing ``desired`` over ``current`` would change nothing that matters.

    Mirrors upstream's skip test: subsets equal ignoring targetRef
    resourceVersions, labels equal ignoring the headless label, and the
    over-capacity annotation absent from ``current`` (a truncated object is
    always rewritten, as upstream does).  The trigger-time annotation is
    ignored.  Side-effect-free.
    """
    if _strip_resource_versions(current.subsets) != _strip_resource_versions(desired.subsets):
        return False

    def labels(obj: Endpoints) -> dict[str, str]:
        found = dict(meta(obj).labels or {})
        found.pop(LABEL_HEADLESS, None)
        return found

    if labels(current) != labels(desired):
        return False
    ready, not_ready = _count(current.subsets or [])
    if ready + not_ready > MAX_ENDPOINTS_CAPACITY:
        return False
    return ANNOTATION_OVER_CAPACITY not in (meta(current).annotations or {})
