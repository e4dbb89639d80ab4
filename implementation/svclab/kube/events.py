"""EventRecorder: core/v1 Events about objects, written in the background.

Like client-go's ``record.EventRecorder`` with its event correlator's
de-duplication: ``event(obj, type_, reason, message)`` returns at once; a
background task (``run()``) writes the Event.  The first occurrence of an
(involved object, type, reason, message, source) creates an Event named
``<object name>.<unix nanoseconds in hex>`` with ``count`` 1; a repeat patches
that Event's ``count`` and ``lastTimestamp`` instead of creating another.  If
the patched Event has gone (404), a fresh one is created.

Not reproduced from client-go: the similar-message aggregator ("combined from
similar events") and the per-object spam filter.

Errors are logged, never raised: events are best-effort by design.  The queue
holds at most ``MAX_QUEUED`` events; beyond that new ones are dropped (logged),
as client-go's broadcaster does.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lightkube.core.resource import api_info
from lightkube.models.core_v1 import EventSource, ObjectReference
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Event

from .clock import Clock, LoopClock
from .names import object_meta
from .reflector import error_status_code

__all__ = ["EVENT_TYPE_NORMAL", "EVENT_TYPE_WARNING", "EventRecorder", "involved_object_reference"]

log = logging.getLogger(__name__)

EVENT_TYPE_NORMAL = "Normal"
EVENT_TYPE_WARNING = "Warning"

# client-go's broadcaster queue length.
MAX_QUEUED = 1000
# Events of cluster-scoped objects go to "default", as in client-go.
DEFAULT_EVENT_NAMESPACE = "default"


def _get(meta: Any, name: str) -> Any:
    if isinstance(meta, Mapping):
        return meta.get(name)
    return getattr(meta, name, None)


def involved_object_reference(obj: Any) -> ObjectReference:
    """The ``ObjectReference`` of a lightkube object or dict.  Side-effect-free."""
    meta = object_meta(obj)
    kind, api_version = _get(obj, "kind"), _get(obj, "apiVersion")
    if not kind or not api_version:
        try:
            resource = api_info(type(obj)).resource
            kind, api_version = kind or resource.kind, api_version or resource.api_version
        except (AttributeError, TypeError):
            pass
    return ObjectReference(
        kind=kind,
        apiVersion=api_version,
        namespace=_get(meta, "namespace") or None,
        name=_get(meta, "name"),
        uid=_get(meta, "uid"),
        resourceVersion=_get(meta, "resourceVersion"),
    )


@dataclass(frozen=True, slots=True)
class _Pending:
    reference: ObjectReference
    type: str
    reason: str
    message: str
    timestamp: Any


@dataclass(slots=True)
class _Seen:
    name: str
    namespace: str
    count: int
    first_timestamp: Any


class EventRecorder:
    """Records Events through ``client``; call ``run()`` in a task to deliver them."""

    def __init__(self, client: Any, component: str, host: str = "", *, clock: Clock | None = None) -> None:
        self._client = client
        self.component = component
        self.host = host
        self._clock: Clock = clock or LoopClock()
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(MAX_QUEUED)
        self._seen: dict[tuple[Any, ...], _Seen] = {}

    def event(self, obj: Any, type_: str, reason: str, message: str) -> None:
        """Queue an Event about ``obj``; never blocks, never raises."""
        try:
            pending = _Pending(involved_object_reference(obj), type_, reason, message, self._clock.utcnow())
            self._queue.put_nowait(pending)
        except asyncio.QueueFull:
            log.warning("event dropped, queue full reason=%s message=%r", reason, message)
        except Exception:
            log.exception("event could not be recorded reason=%s", reason)

    def eventf(self, obj: Any, type_: str, reason: str, fmt: str, *args: Any) -> None:
        """``event`` with a %-format message."""
        self.event(obj, type_, reason, fmt % args if args else fmt)

    def pending(self) -> int:
        """Events queued and not yet written."""
        return self._queue.qsize()

    async def run(self) -> None:
        """Write queued Events until cancelled."""
        while True:
            pending = await self._queue.get()
            await self.write(pending)

    async def flush(self) -> None:
        """Write every queued Event now (for shutdown and tests)."""
        while not self._queue.empty():
            await self.write(self._queue.get_nowait())

    async def write(self, pending: _Pending) -> None:
        """Create or count up one Event; errors are logged."""
        ref = pending.reference
        key = (
            ref.kind,
            ref.apiVersion,
            ref.namespace,
            ref.name,
            ref.uid,
            pending.type,
            pending.reason,
            pending.message,
        )
        seen = self._seen.get(key)
        try:
            if seen is not None and await self._count_up(seen, pending):
                return
            self._seen[key] = await self._create(pending)
        except Exception as error:
            log.warning(
                "event write failed reason=%s object=%s/%s error=%r", pending.reason, ref.namespace, ref.name, error
            )

    async def _count_up(self, seen: _Seen, pending: _Pending) -> bool:
        patch = {"count": seen.count + 1, "lastTimestamp": _rfc3339(pending.timestamp)}
        try:
            await self._client.patch(Event, seen.name, patch, namespace=seen.namespace)
        except Exception as error:
            if error_status_code(error) == 404:
                return False
            raise
        seen.count += 1
        return True

    async def _create(self, pending: _Pending) -> _Seen:
        ref = pending.reference
        namespace = ref.namespace or DEFAULT_EVENT_NAMESPACE
        nanos = int(pending.timestamp.timestamp() * 1_000_000) * 1000
        event = Event(
            metadata=ObjectMeta(name=f"{ref.name}.{nanos:x}", namespace=namespace),
            involvedObject=ref,
            type=pending.type,
            reason=pending.reason,
            message=pending.message,
            source=EventSource(component=self.component, host=self.host or None),
            reportingComponent=self.component,
            reportingInstance=self.host or None,
            firstTimestamp=pending.timestamp,
            lastTimestamp=pending.timestamp,
            count=1,
        )
        created = await self._client.create(event)
        return _Seen(created.metadata.name, namespace, 1, pending.timestamp)


def _rfc3339(timestamp: datetime.datetime) -> str:
    return timestamp.strftime("%Y-%m-%dT%H:%M:%SZ")
