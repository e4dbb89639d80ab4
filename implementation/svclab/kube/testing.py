"""Fakes for unit tests of code built on ``svclab.kube``.

* ``FakeClock``: a ``Clock`` whose time moves only when a test says so.
  ``advance()`` fires due timers synchronously; ``advance_async()`` also lets
  the event loop run between timers, so loops of "work, then sleep" progress
  as they would in real time.
* ``FakeClient``: an in-memory stand-in for ``lightkube.AsyncClient`` (get,
  list, watch, create, replace, patch, delete) that records every call as an
  ``Action`` and keeps objects as JSON dicts, so callers never share
  instances with it.  It enforces ``metadata.resourceVersion`` on replace
  (409 Conflict), 404 on missing objects and 409 on duplicate creates, like the
  API server, and feeds watches with ADDED/MODIFIED/DELETED events.
* ``FakeRecorder``: an event recorder that just keeps (type, reason, message).
"""

from __future__ import annotations

import asyncio
import datetime
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .fake_client import Action, FakeClient, api_error

__all__ = ["Action", "FakeClient", "FakeClock", "FakeRecorder", "RecordedEvent", "api_error"]

# Wall-clock time at which every FakeClock starts (a fixed, readable instant).
FAKE_EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


@dataclass(slots=True)
class _FakeTimer:
    when: float
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A manually driven clock (monotonic ``now`` plus matching wall time)."""

    def __init__(self, start: float = 1000.0, *, settle_iterations: int = 50) -> None:
        self._start = start
        self._now = start
        self._timers: list[tuple[float, int, _FakeTimer]] = []
        self._sequence = itertools.count()
        self._settle_iterations = settle_iterations

    def now(self) -> float:
        return self._now

    def utcnow(self) -> datetime.datetime:
        return FAKE_EPOCH + datetime.timedelta(seconds=self._now - self._start)

    def call_at(self, when: float, callback: Callable[[], None]) -> _FakeTimer:
        timer = _FakeTimer(when, callback)
        heapq.heappush(self._timers, (when, next(self._sequence), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self.call_at(self._now + seconds, wake)
        try:
            await future
        finally:
            timer.cancel()

    def pending_timers(self) -> int:
        """Timers scheduled and not cancelled (sleepers included)."""
        return sum(1 for _, _, timer in self._timers if not timer.cancelled)

    def next_deadline(self) -> float | None:
        """The earliest pending timer's time, or None."""
        self._drop_cancelled()
        return self._timers[0][0] if self._timers else None

    def advance(self, seconds: float) -> None:
        """Move time forward and run every timer that became due, in order."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._now += seconds
        self._fire_due()

    async def settle(self) -> None:
        """Let ready tasks run (a bounded number of loop iterations)."""
        for _ in range(self._settle_iterations):
            await asyncio.sleep(0)

    async def advance_async(self, seconds: float) -> None:
        """Advance to ``now + seconds`` timer by timer, letting tasks run between."""
        target = self._now + seconds
        await self.settle()
        while (deadline := self.next_deadline()) is not None and deadline <= target:
            self._now = max(self._now, deadline)
            self._fire_due()
            await self.settle()
        self._now = target
        await self.settle()

    def _drop_cancelled(self) -> None:
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)

    def _fire_due(self) -> None:
        while True:
            self._drop_cancelled()
            if not self._timers or self._timers[0][0] > self._now:
                return
            _, _, timer = heapq.heappop(self._timers)
            timer.cancelled = True
            timer.callback()


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """One event as ``FakeRecorder`` saw it."""

    type: str
    reason: str
    message: str
    object_key: str = ""


@dataclass(slots=True)
class FakeRecorder:
    """An ``EventRecorder`` stand-in that keeps every event in ``events``."""

    events: list[RecordedEvent] = field(default_factory=list)

    def event(self, obj: Any, type_: str, reason: str, message: str) -> None:
        from .names import NamespacedName

        try:
            key = str(NamespacedName.of(obj))
        except ValueError:
            key = ""
        self.events.append(RecordedEvent(type_, reason, message, key))

    def eventf(self, obj: Any, type_: str, reason: str, fmt: str, *args: Any) -> None:
        self.event(obj, type_, reason, fmt % args if args else fmt)

    def triples(self) -> list[tuple[str, str, str]]:
        """The recorded events as (type, reason, message), in order."""
        return [(e.type, e.reason, e.message) for e in self.events]

    async def run(self) -> None:
        """Nothing to deliver; returns at once (EventRecorder compatibility)."""
