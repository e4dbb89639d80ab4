"""How the slice reconcilers tell endpoints and port lists apart.

* ``EndpointSet``: upstream ``k8s.io/endpointslice/util`` ``EndpointSet``,
  the desired endpoints keyed by their identity (``endpoint_key``: sorted
  addresses, hostname, target namespace/name, as upstream ``hashEndpoint``),
  popped in insertion order so plans are deterministic (upstream pops in Go
  map order, i.e. at random).
* ``endpoints_equal_beyond_key``: whether an endpoint with the same identity
  needs rewriting (upstream ``EndpointsEqualBeyondHash``).
* ``port_map_key``: the order-insensitive identity of a slice's port list
  (upstream ``NewPortMapKey``); slices are grouped by it.

Used by both slice-writing controllers.  Side-effect-free, except that an
``EndpointSet`` is a mutable container.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from lightkube.models.discovery_v1 import Endpoint, EndpointPort

__all__ = [
    "EndpointKey",
    "EndpointSet",
    "PortMapKey",
    "endpoint_key",
    "endpoints_equal_beyond_key",
    "port_map_key",
]

EndpointKey = tuple[tuple[str, ...], str, str, str]
PortMapKey = tuple[tuple[str, int, str, str], ...]


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
    """Upstream ``EndpointsEqualBeyondHash``: node, zone, conditions, targetRef.

    Hints are left out, as upstream leaves them out: desired endpoints carry
    none, the hints step (``traffic_distribution``) decides whether a slice's
    hints need a write.
    """
    return a.nodeName == b.nodeName and a.zone == b.zone and a.conditions == b.conditions and a.targetRef == b.targetRef


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
