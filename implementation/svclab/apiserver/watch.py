"""The watch verb: a chunked stream of newline-delimited {"type", "object"} events.

Semantics as kube-apiserver's watch cache:
* resourceVersion unset or "0": the current objects first as ADDED, then changes;
* resourceVersion N: every change after N, or one ERROR event with a 410
  Expired Status when N has left the window;
* sendInitialEvents=true: the current objects as ADDED, then a BOOKMARK
  annotated `k8s.io/initial-events-end: "true"` (kubectl delete / wait need it);
* allowWatchBookmarks: a BOOKMARK with the current resourceVersion when the
  stream was idle for a while, so clients can resume cheaply;
* a filtered watch sees an object that stops matching as DELETED and one that
  starts matching as ADDED;
* timeoutSeconds ends the stream (the client then resumes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from .resources import ResourceType
from .storage import ADDED, DELETED, MODIFIED, Obj, Store, StoredEvent, TooOld

__all__ = ["WatchRequest", "serve_watch"]

DEFAULT_TIMEOUT = 1800.0  # upstream's --min-request-timeout


@dataclass
class WatchRequest:
    resource: ResourceType
    namespace: str | None
    matches: Callable[[Obj], bool]
    resource_version: str | None
    send_initial_events: bool
    allow_bookmarks: bool
    timeout: float
    render: Callable[[str, Obj], bytes] | None  # Table rendering, or None for plain objects
    # (apiVersion, kind) of BOOKMARK objects when not the resource's (metadata-only watches).
    bookmark_type: tuple[str, str] | None = None


def _bookmark(req: WatchRequest, rv: int, initial_end: bool = False) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    api_version, kind = req.bookmark_type or (req.resource.api_version, req.resource.kind)
    return (
        orjson.dumps({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version, "metadata": meta}})
        + b"\n"
    )


def _expired_event(message: str) -> bytes:
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Expired",
        "code": 410,
    }
    return orjson.dumps({"type": "ERROR", "object": status}) + b"\n"


def _translate(event: StoredEvent, req: WatchRequest) -> tuple[str, Obj] | None:
    """The event this watcher sees, if any (namespace and selector filtering)."""
    obj = event.obj
    if req.namespace is not None and obj["metadata"].get("namespace") != req.namespace:
        return None
    now = req.matches(obj)
    if event.type == DELETED:
        return (DELETED, obj) if now else None
    before = event.prev is not None and req.matches(event.prev)
    if now and before:
        return MODIFIED, obj
    if now:
        return ADDED, obj
    if before:
        return DELETED, obj
    return None


def _line(event: StoredEvent, kind: str, obj: Obj, req: WatchRequest) -> bytes:
    if req.render is not None:
        return req.render(kind, obj)
    if kind == event.type:
        return event.line()
    return orjson.dumps({"type": kind, "object": obj}) + b"\n"


async def serve_watch(
    request: web.Request, store: Store, req: WatchRequest, bookmark_interval: float
) -> web.StreamResponse:
    r = req.resource
    initial: list[Obj] = []
    rv = req.resource_version
    try:
        if req.send_initial_events or not rv or rv == "0":
            sub, backlog = store.subscribe(r.kind, None)
            initial = [o for o in store.list(r.kind, req.namespace) if req.matches(o)]
        else:
            sub, backlog = store.subscribe(r.kind, int(rv))
    except TooOld as exc:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(_expired_event(str(exc)))
        await response.write_eof()
        return response
    start_rv = store.rv
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
        chunks = [
            req.render(ADDED, o) if req.render else orjson.dumps({"type": ADDED, "object": o}) + b"\n" for o in initial
        ]
        if req.send_initial_events and req.allow_bookmarks:
            chunks.append(_bookmark(req, start_rv, initial_end=True))
        for event in backlog:
            seen = _translate(event, req)
            if seen:
                chunks.append(_line(event, seen[0], seen[1], req))
        if chunks:
            await response.write(b"".join(chunks))
        await _stream(response, store, sub, req, bookmark_interval)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        store.unsubscribe(sub)
    return response


async def _stream(
    response: web.StreamResponse, store: Store, sub: Any, req: WatchRequest, bookmark_interval: float
) -> None:
    deadline = time.monotonic() + req.timeout
    queue = sub.queue
    # A bookmark goes out when nothing was written for a whole interval, also while
    # events arrive that this watch filters out: clients take the silence of a
    # watch for a dead connection (svclab.kube.reflector, issue 15).
    last_write = time.monotonic()
    while True:
        now = time.monotonic()
        remaining = deadline - now
        if remaining <= 0:
            return
        try:
            wait = max(0.0, min(remaining, last_write + bookmark_interval - now))
            event = await asyncio.wait_for(queue.get(), wait)
        except TimeoutError:
            if req.allow_bookmarks and time.monotonic() < deadline:
                await response.write(_bookmark(req, store.rv))
            last_write = time.monotonic()
            continue
        chunks = []
        while True:  # drain what is queued: one write per burst
            seen = _translate(event, req)
            if seen:
                chunks.append(_line(event, seen[0], seen[1], req))
            if queue.empty():
                break
            event = queue.get_nowait()
        if chunks:
            await response.write(b"".join(chunks))
            last_write = time.monotonic()
