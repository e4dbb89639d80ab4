"""Bounded-frequency sync runner (upstream ``pkg/util/async/bounded_frequency_runner.go``).

``run()`` asks for a sync soon; syncs never start closer together than
``min_interval`` and happen at least every ``max_interval`` even without
requests. ``retry_after`` schedules a retry after a failure. The clock and the
sleep are injected, so tests drive time by hand (``FakeTimer``-style) and
never sleep.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["BoundedFrequencyRunner"]


class BoundedFrequencyRunner:
    """Calls ``fn`` at most once per ``min_interval``, at least once per ``max_interval``."""

    def __init__(
        self,
        fn: Callable[[], Awaitable[None]],
        *,
        min_interval: float,
        max_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fn = fn
        self._min = min_interval
        self._max = max_interval
        self._clock = clock
        self._last_run: float | None = None
        self._requested = asyncio.Event()
        self._next_forced: float | None = None

    def run(self) -> None:
        """Request a sync as soon as ``min_interval`` allows. Never blocks."""
        self._requested.set()

    def retry_after(self, seconds: float) -> None:
        """Force a sync no later than ``seconds`` from now."""
        deadline = self._clock() + seconds
        if self._next_forced is None or deadline < self._next_forced:
            self._next_forced = deadline

    def next_due(self, now: float | None = None) -> float:
        """Clock time at which the next sync may (if requested) or must run."""
        now = self._clock() if now is None else now
        if self._last_run is None:
            return now
        earliest = self._last_run + self._min
        latest = self._last_run + self._max
        if self._next_forced is not None:
            latest = min(latest, max(self._next_forced, earliest))
        return max(earliest, now) if self._requested.is_set() else latest

    async def step(self) -> bool:
        """Run ``fn`` if it is due now; returns whether it ran. For tests and ``loop``."""
        now = self._clock()
        if now < self.next_due(now):
            return False
        self._requested.clear()
        self._next_forced = None
        self._last_run = now
        await self._fn()
        return True

    async def loop(self) -> None:
        """Run forever on the real clock (cancel the task to stop)."""
        while True:
            if not await self.step():
                delay = max(0.0, self.next_due() - self._clock())
                try:
                    await asyncio.wait_for(self._requested.wait(), timeout=delay)
                except TimeoutError:
                    pass
                if self._requested.is_set():
                    await asyncio.sleep(max(0.0, self.next_due() - self._clock()))
