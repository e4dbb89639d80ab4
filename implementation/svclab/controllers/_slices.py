"""Shared pieces of the two slice-writing controllers' planners.

* ``SlicePlan``: what a sync wants written (create / update / delete lists).
* ``EndpointSet``: upstream's ``EndpointSet``, desired endpoints keyed by
  their identity (sorted addresses, hostname, target namespace/name), popped
  in insertion order so plans are deterministic (upstream pops in Go map
  order, i.e. at random).
* ``port_map_key``: the order-insensitive identity of a slice's port list.
* ``set_trigger_time``: upstream ``addTriggerTimeAnnotation``.

All functions here are side-effect-free unless they say they mutate their
argument (only freshly built or copied slices are passed to those).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from lightkube.models.discovery_v1 import Endpoint, EndpointPort
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.kube.models import meta

from .well_known import ANNOTATION_LAST_CHANGE_TRIGGER_TIME, format_trigger_time

__all__ = [
    "EndpointKey",
    "EndpointSet",
    "PortMapKey",
    "SlicePlan",
    "endpoint_key",
    "endpoints_equal_beyond_key",
    "port_map_key",
    "set_trigger_time",
]

EndpointKey = tuple[tuple[str, ...], str, str, str]
PortMapKey = tuple[tuple[str, int, str, str], ...]


@dataclass(frozen=True, slots=True)
class SlicePlan:
    """The writes one sync wants.  Slices in ``create`` have only a generateName."""

    create: tuple[EndpointSlice, ...] = ()
    update: tuple[EndpointSlice, ...] = ()
    delete: tuple[EndpointSlice, ...] = ()

    def is_empty(self) -> bool:
        return not (self.create or self.update or self.delete)


def endpoint_key(endpoint: Endpoint) -> EndpointKey:
    """Upstream ``hashEndpoint``'s inputs: addresses, hostname, target namespace/name."""
    ref = endpoint.targetRef
    return (
        tuple(sorted(endpoint.addresses or [])),
        endpoint.hostname or "",
        (ref.namespace or "") if ref else "",
        (ref.name or "") if ref else "",
    )


def endpoints_equal_beyond_key(a: Endpoint, b: Endpoint) -> bool:
    """Upstream ``EndpointsEqualBeyondHash``: node, zone, conditions, hints, targetRef."""
    return (
        a.nodeName == b.nodeName
        and a.zone == b.zone
        and a.conditions == b.conditions
        and a.hints == b.hints
        and a.targetRef == b.targetRef
    )


class EndpointSet:
    """Desired endpoints by identity, insertion-ordered (upstream ``EndpointSet``)."""

    def __init__(self, endpoints: Iterable[Endpoint] = ()) -> None:
        self._items: dict[EndpointKey, Endpoint] = {}
        for endpoint in endpoints:
            self.insert(endpoint)

    def insert(self, endpoint: Endpoint) -> None:
        self._items[endpoint_key(endpoint)] = endpoint

    def get(self, endpoint: Endpoint) -> Endpoint | None:
        return self._items.get(endpoint_key(endpoint))

    def discard(self, endpoint: Endpoint) -> None:
        self._items.pop(endpoint_key(endpoint), None)

    def pop(self) -> Endpoint:
        key = next(iter(self._items))
        return self._items.pop(key)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Endpoint]:
        return iter(list(self._items.values()))


def port_map_key(ports: Sequence[EndpointPort] | None) -> PortMapKey:
    """Identity of a port list, independent of order (upstream ``NewPortMapKey``)."""
    return tuple(
        sorted(
            (p.name or "", p.port if p.port is not None else -1, p.protocol or "TCP", p.appProtocol or "")
            for p in ports or []
        )
    )


def set_trigger_time(slice_: EndpointSlice, trigger_time: datetime.datetime | None) -> None:
    """Set or clear the last-change-trigger-time annotation.  Mutates ``slice_``."""
    annotations = dict(meta(slice_).annotations or {})
    if trigger_time is not None:
        annotations[ANNOTATION_LAST_CHANGE_TRIGGER_TIME] = format_trigger_time(trigger_time)
    else:
        annotations.pop(ANNOTATION_LAST_CHANGE_TRIGGER_TIME, None)
    meta(slice_).annotations = annotations or None
