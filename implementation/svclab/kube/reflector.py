"""Reflector: list, then watch from the list's resourceVersion, into a sink.

The loop, as client-go's ``Reflector.ListAndWatch``:

1. **list** (a consistent read) and hand the items and the list's
   resourceVersion to the sink (``replace``);
2. **watch** from that resourceVersion with ``allowWatchBookmarks=true`` and a
   randomised server timeout of 5-10 minutes; every event, BOOKMARKs included,
   advances the last seen resourceVersion;
3. when the watch **ends cleanly**, watch again from the last seen version;
4. on **410 Gone** (expired resourceVersion, as an HTTP status or an ERROR
   event), list again at once;
5. on a **transient error** (connection refused/reset, 429, 5xx) while
   watching, back off and resume the watch from the last seen version; on any
   other error back off and list again;
6. when a watch stays **silent** for ``idle_timeout`` seconds although its
   server was seen sending BOOKMARKs more often than that, the connection is
   presumed dead (a node cut off from the API server sees neither data nor an
   error: TCP retransmissions back off to tens of seconds, issue 15): drop it
   and watch again at once (a new watch's first event may take
   ``FIRST_EVENT_GRACE`` times longer: the server replays first); a connect that times out is retried at once too
   (the timeout paces it). A server that sends bookmarks rarely
   (kube-apiserver: about once a minute) never arms this, so its idle watches
   are left alone.

Backoff is client-go's reflector backoff by default: 800 ms doubling to 30 s,
each delay stretched by up to 100 % jitter, reset after 2 quiet minutes.
svclab's own components (proxy, controller-manager, scheduler, node agent) use
``RECONNECT_BACKOFF`` instead: 0.5 s doubling to 1 s.

The decisions (steps 3-5) are pure functions (``decide_after_watch``,
``decide_after_list_error``) and event handling (``apply_watch_event``) does no
I/O, so they are unit-tested without a server.  I/O sits behind a
``ListerWatcher``; ``client_lister_watcher`` adapts a lightkube
``AsyncClient`` (or ``svclab.kube.testing.FakeClient``).
"""

from __future__ import annotations

import asyncio
import logging
import random as random_module
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, Protocol, TypeVar

import httpx2

from .clock import Clock, LoopClock
from .names import resource_version_of

__all__ = [
    "Backoff",
    "BackoffState",
    "Decision",
    "EventAction",
    "ListerWatcher",
    "NextStep",
    "RECONNECT_BACKOFF",
    "Reflector",
    "ReflectorOptions",
    "ReflectorSink",
    "ReflectorState",
    "WatchIdle",
    "apply_watch_event",
    "decide_after_list_error",
    "decide_after_watch",
    "error_status_code",
]

T = TypeVar("T")
log = logging.getLogger(__name__)

# Server-side watch timeout: client-go's minWatchTimeout, stretched by a
# random factor in [1, 2) so many reflectors do not reconnect in lockstep.
MIN_WATCH_TIMEOUT = 300.0

# Seconds a watch may stay silent before it is presumed dead, once its server has shown
# it sends bookmarks more often (svclab's API server: every 2 s on a quiet watch).
WATCH_IDLE_TIMEOUT = 6.0
# A new watch may wait this many times longer for its first event: the server replays
# what happened since the resourceVersion first, which on a loaded machine after
# thousands of writes took longer than 6 s, and a watch dropped before its first
# event resumes from the same version (it never progressed). Doubled after each such
# drop, up to MAX_FIRST_EVENT_GRACE.
FIRST_EVENT_GRACE = 5.0
MAX_FIRST_EVENT_GRACE = 20.0

# HTTP codes after which a watch is resumed rather than re-listed.
_TRANSIENT_CODES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff parameters (client-go reflector defaults)."""

    initial: float = 0.8
    cap: float = 30.0
    factor: float = 2.0
    jitter: float = 1.0
    reset_after: float = 120.0


# What svclab's own components retry a lost API server with: about every second rather
# than client-go's up to 30 s. A testbed's API server is back 1-5 s after a restart, and
# a component still sitting out a doubled backoff then keeps its part of the cluster
# stale that much longer (a node cut off for 30 s should converge within seconds of
# healing, issue 15). While packets are dropped the connect timeout paces the attempts.
RECONNECT_BACKOFF = Backoff(initial=0.5, cap=1.0)


@dataclass(slots=True)
class BackoffState:
    """The running backoff; ``next_delay`` is side-effect-free apart from self."""

    params: Backoff = field(default_factory=Backoff)
    _current: float | None = None
    _last_end: float | None = None

    def next_delay(self, now: float, rand: float) -> float:
        """The next delay in seconds; ``rand`` in [0, 1) drives the jitter."""
        quiet = self._last_end is None or now - self._last_end > self.params.reset_after
        if quiet or self._current is None:
            self._current = self.params.initial
        else:
            self._current = min(self._current * self.params.factor, self.params.cap)
        delay = self._current * (1.0 + self.params.jitter * rand)
        self._last_end = now + delay
        return delay


@dataclass(frozen=True, slots=True)
class ReflectorOptions:
    """What to list and watch and how (client-go ``ReflectorOptions``).

    ``namespace`` "" means all namespaces; selectors are selector strings or
    lightkube selector mappings; ``resync_period`` 0 disables resyncs.
    """

    namespace: str = ""
    label_selector: str | Mapping[str, Any] | None = None
    field_selector: str | Mapping[str, Any] | None = None
    resync_period: float = 0.0
    backoff: Backoff = field(default_factory=Backoff)
    idle_timeout: float = WATCH_IDLE_TIMEOUT  # 0: never presume a silent watch dead (step 6)


class NextStep(str, Enum):
    LIST = "list"
    WATCH = "watch"


@dataclass(frozen=True, slots=True)
class Decision:
    """What the reflector does next: ``step``, after a backoff or not."""

    step: NextStep
    backoff: bool
    reason: str


class EventAction(str, Enum):
    UPSERT = "upsert"
    DELETE = "delete"
    BOOKMARK = "bookmark"


_EVENT_ACTIONS = {
    "ADDED": EventAction.UPSERT,
    "MODIFIED": EventAction.UPSERT,
    "DELETED": EventAction.DELETE,
    "BOOKMARK": EventAction.BOOKMARK,
}


class WatchIdle(Exception):
    """A watch sent nothing for longer than its server's bookmarks allow: presumed dead."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"watch silent for {seconds:g}s: connection presumed dead")
        self.seconds = seconds


def error_status_code(error: BaseException) -> int | None:
    """The HTTP status of an API error (lightkube ``ApiError`` or httpx), else None."""
    status = getattr(error, "status", None)
    code = getattr(status, "code", None)
    if isinstance(code, int):
        return code
    if isinstance(error, httpx2.HTTPStatusError):
        return error.response.status_code
    return None


def decide_after_watch(error: BaseException | None, *, saw_events: bool = True) -> Decision:
    """Next step after a watch stream ended (``error`` None: closed cleanly).

    A clean close after no events at all backs off, so a server that closes
    every watch at once cannot make the reflector spin.  Side-effect-free.
    """
    if error is None:
        return Decision(NextStep.WATCH, backoff=not saw_events, reason="watch closed")
    if isinstance(error, (WatchIdle, httpx2.ConnectTimeout)):
        # A silent watch, or a connect that timed out (packets dropped, as for a node cut
        # off from the API server): the connect timeout already paces these retries, and
        # retrying at once tries again soon after the path heals (issue 15).
        return Decision(NextStep.WATCH, backoff=False, reason=str(error) or repr(error))
    code = error_status_code(error)
    if code == 410:
        return Decision(NextStep.LIST, backoff=False, reason="resourceVersion expired (410 Gone)")
    if code in _TRANSIENT_CODES or isinstance(error, httpx2.TransportError):
        return Decision(NextStep.WATCH, backoff=True, reason=f"transient watch error: {error!r}")
    return Decision(NextStep.LIST, backoff=True, reason=f"watch failed: {error!r}")


def decide_after_list_error(error: BaseException) -> Decision:
    """Next step after a failed list: always list again, after a backoff.  Pure."""
    return Decision(NextStep.LIST, backoff=True, reason=f"list failed: {error!r}")


class ReflectorSink(Protocol[T]):
    """Where a reflector delivers what it sees (an informer, or a bare store)."""

    def replace(self, items: list[T], resource_version: str) -> None: ...

    def upsert(self, obj: T) -> None: ...

    def remove(self, obj: T) -> None: ...


@dataclass(slots=True)
class ReflectorState:
    """The reflector's memory: the last resourceVersion it saw, and whether its server
    sends bookmarks often enough for a silent watch to mean a dead connection."""

    resource_version: str = ""
    heartbeats: bool = False


def apply_watch_event(state: ReflectorState, event_type: str, obj: Any, sink: ReflectorSink[Any]) -> EventAction:
    """Deliver one watch event to ``sink`` and advance ``state``; no I/O.

    Raises ``ValueError`` for an unknown event type (ERROR events are raised
    as ``ApiError`` by the watch itself).
    """
    action = _EVENT_ACTIONS.get(event_type)
    if action is None:
        raise ValueError(f"unexpected watch event type {event_type!r}")
    if action is EventAction.UPSERT:
        sink.upsert(obj)
    elif action is EventAction.DELETE:
        sink.remove(obj)
    resource_version = resource_version_of(obj)
    if resource_version:
        state.resource_version = resource_version
    return action


class ListerWatcher(Protocol[T]):
    """The reflector's I/O: one list, or one watch stream."""

    async def list(self) -> tuple[list[T], str]:
        """All matching objects and the list's resourceVersion."""
        ...

    def watch(self, resource_version: str, timeout_seconds: int) -> AsyncIterator[tuple[str, T]]:
        """One watch stream from ``resource_version``; raises on errors."""
        ...


class Reflector(Generic[T]):
    """Keeps a sink in step with the API server; see the module docstring."""

    def __init__(
        self,
        lister_watcher: ListerWatcher[T],
        sink: ReflectorSink[T],
        options: ReflectorOptions | None = None,
        *,
        clock: Clock | None = None,
        random: Callable[[], float] = random_module.random,
        name: str = "",
    ) -> None:
        self.name = name
        self._lister_watcher = lister_watcher
        self._sink = sink
        self._options = options or ReflectorOptions()
        self._clock: Clock = clock or LoopClock()
        self._random = random
        self._backoff = BackoffState(self._options.backoff)
        self.state = ReflectorState()
        self.lists = 0
        self.watches = 0
        self._first_event_grace = FIRST_EVENT_GRACE

    @property
    def resource_version(self) -> str:
        """The last resourceVersion seen (list, event or bookmark)."""
        return self.state.resource_version

    async def run(self) -> None:
        """List and watch until cancelled; errors are logged and retried."""
        step = NextStep.LIST
        while True:
            decision = await (self._list() if step is NextStep.LIST else self._watch())
            if decision is None:
                step = NextStep.WATCH
                continue
            log.info(
                "reflector %s: %s, next=%s backoff=%s",
                self.name,
                decision.reason,
                decision.step.value,
                decision.backoff,
            )
            if decision.backoff:
                await self._clock.sleep(self._backoff.next_delay(self._clock.now(), self._random()))
            step = decision.step

    async def _list(self) -> Decision | None:
        self.lists += 1
        try:
            items, resource_version = await self._lister_watcher.list()
        except Exception as error:
            return decide_after_list_error(error)
        self._sink.replace(items, resource_version)
        self.state.resource_version = resource_version
        return None

    async def _watch(self) -> Decision:
        self.watches += 1
        timeout = int(MIN_WATCH_TIMEOUT * (1.0 + self._random()))
        saw_events = False
        idle = self._options.idle_timeout
        events = aiter(self._lister_watcher.watch(self.state.resource_version, timeout))
        try:
            last = self._clock.now()
            while True:
                wait = idle if saw_events else idle * self._first_event_grace
                try:
                    event_type, obj = await self._next_event(events, wait if self.state.heartbeats else 0.0)
                except StopAsyncIteration:
                    break
                except WatchIdle:
                    if not saw_events:
                        self._first_event_grace = min(self._first_event_grace * 2, MAX_FIRST_EVENT_GRACE)
                    raise
                self._first_event_grace = FIRST_EVENT_GRACE
                if event_type == "BOOKMARK" and idle > 0 and self._clock.now() - last < idle:
                    self.state.heartbeats = True  # this server's bookmarks come often enough
                last = self._clock.now()
                apply_watch_event(self.state, event_type, obj, self._sink)
                saw_events = True
        except Exception as error:
            return decide_after_watch(error, saw_events=saw_events)
        finally:
            await _close(events)
        return decide_after_watch(None, saw_events=saw_events)

    async def _next_event(self, events: AsyncIterator[tuple[str, T]], idle: float) -> tuple[str, T]:
        """The stream's next event; raises WatchIdle when none comes within ``idle``
        seconds of the reflector's clock (0: wait for ever)."""
        pending = asyncio.ensure_future(anext(events))
        if idle <= 0:
            return await pending
        expired = False

        def expire() -> None:
            nonlocal expired
            if not pending.done():
                expired = True
                pending.cancel()

        timer = self._clock.call_at(self._clock.now() + idle, expire)
        try:
            return await pending
        except asyncio.CancelledError:
            if expired:
                raise WatchIdle(idle) from None
            raise
        finally:
            timer.cancel()


async def _close(events: AsyncIterator[Any]) -> None:
    """Close a watch stream (its HTTP response) that we stop reading."""
    close = getattr(events, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception as error:  # a stream already broken: nothing left to release
            log.debug("closing a watch stream: %r", error)
