"""Which EndpointSlice writes of ours the informer cache already shows.

Upstream ``k8s.io/endpointslice/util`` ``EndpointSliceTracker``: the
generation of every slice this controller wrote, per Service, and the slices
it deleted.  Until the informer shows those writes, the cache is *stale* for
that Service and a sync must wait (retry) rather than act on it, or it would
create duplicates or resurrect deleted slices.  Events that only echo our own
writes are recognised (``should_sync``) so they do not queue a sync.

No I/O; callers hold no lock because asyncio runs one sync step at a time
and the work queue never hands one key to two workers.
"""

from __future__ import annotations

from collections.abc import Iterable

from lightkube.resources.core_v1 import Service
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.kube.models import meta, name_of, namespace_of

from ..well_known import LABEL_SERVICE_NAME

__all__ = [
    "EndpointSliceTracker",
]

_DELETION_EXPECTED = -1
_ServiceKey = tuple[str, str]  # (namespace, name); kept internal to this module


def _service_of_slice(slice_: EndpointSlice) -> _ServiceKey:
    labels = meta(slice_).labels or {}
    return (meta(slice_).namespace or "", labels.get(LABEL_SERVICE_NAME, ""))


def _generation(slice_: EndpointSlice) -> int:
    """The slice's generation; its resourceVersion if the server sets none.

    Real API servers bump ``metadata.generation`` on every EndpointSlice
    change.  Servers (and fakes) that leave it unset hand out increasing
    integer resourceVersions, which order writes the same way.
    """
    generation = meta(slice_).generation
    if generation:
        return int(generation)
    version = meta(slice_).resourceVersion or ""
    return int(version) if version.isdigit() else 0


def _uid(slice_: EndpointSlice) -> str:
    return meta(slice_).uid or ""


class EndpointSliceTracker:
    """Expected slice generations by Service, keyed by slice UID."""

    def __init__(self) -> None:
        self._generations: dict[_ServiceKey, dict[str, int]] = {}
        self._service_uids: dict[_ServiceKey, str] = {}

    def has(self, slice_: EndpointSlice) -> bool:
        """True when the slice is tracked (this controller wrote or deleted it)."""
        return _uid(slice_) in self._generations.get(_service_of_slice(slice_), {})

    def should_sync(self, slice_: EndpointSlice) -> bool:
        """True unless this event only echoes a write of ours (same or older generation)."""
        tracked = self._generations.get(_service_of_slice(slice_))
        if tracked is None or _uid(slice_) not in tracked:
            return True
        return _generation(slice_) > tracked[_uid(slice_)]

    def stale_slices(self, service: Service, slices: Iterable[EndpointSlice]) -> bool:
        """True when the cache lags our writes for ``service``.

        Stale means: a listed slice is older than the generation we wrote, or
        is one we deleted, or a slice we wrote is missing.  Tracked state of
        an earlier Service with the same name (other UID) is dropped first.
        """
        key = (namespace_of(service), name_of(service))
        uid = meta(service).uid or ""
        known_uid = self._service_uids.get(key, "")
        if known_uid and uid and known_uid != uid:
            self._generations.pop(key, None)
        self._service_uids[key] = uid
        tracked = self._generations.get(key)
        if not tracked:
            return False
        listed = set()
        for slice_ in slices:
            listed.add(_uid(slice_))
            expected = tracked.get(_uid(slice_))
            if expected is not None and (expected == _DELETION_EXPECTED or expected > _generation(slice_)):
                return True
        return any(g != _DELETION_EXPECTED and uid_ not in listed for uid_, g in tracked.items())

    def update(self, slice_: EndpointSlice) -> None:
        """Record a slice as written (its generation as returned by the server)."""
        self._generations.setdefault(_service_of_slice(slice_), {})[_uid(slice_)] = _generation(slice_)

    def expect_deletion(self, slice_: EndpointSlice) -> None:
        """Record a slice as deleted by us."""
        self._generations.setdefault(_service_of_slice(slice_), {})[_uid(slice_)] = _DELETION_EXPECTED

    def handle_deletion(self, slice_: EndpointSlice) -> bool:
        """Forget a deleted slice; False when the deletion was not ours (resync then)."""
        tracked = self._generations.get(_service_of_slice(slice_))
        if tracked is not None and _uid(slice_) in tracked:
            return tracked.pop(_uid(slice_)) == _DELETION_EXPECTED
        return True

    def delete_service(self, namespace: str, name: str) -> None:
        self._generations.pop((namespace, name), None)
        self._service_uids.pop((namespace, name), None)
