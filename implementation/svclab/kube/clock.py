"""Time as an injected dependency.

client-go passes a ``clock.Clock`` into its reflector, work queue and leader
elector so tests can step time instead of sleeping.  ``Clock`` is the same idea
for asyncio: a monotonic ``now()`` for durations, a wall-clock ``utcnow()`` for
timestamps written into objects, ``call_at`` for timers and ``sleep``.
``LoopClock`` is the real one (the running event loop's time); the fake lives in
``svclab.kube.testing``.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable
from typing import Protocol

__all__ = ["Clock", "LoopClock", "TimerHandle"]


class TimerHandle(Protocol):
    """A scheduled callback that can be cancelled (``asyncio.TimerHandle`` fits)."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Monotonic time, wall time, timers and sleeping."""

    def now(self) -> float:
        """Monotonic seconds; only differences are meaningful."""
        ...

    def utcnow(self) -> datetime.datetime:
        """Timezone-aware UTC wall time, for timestamps stored in objects."""
        ...

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` once ``now()`` reaches ``when``."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Suspend the caller for ``seconds`` of this clock's time."""
        ...


class LoopClock:
    """The real clock: the running event loop's monotonic time."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def utcnow(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        return asyncio.get_running_loop().call_at(when, callback)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
