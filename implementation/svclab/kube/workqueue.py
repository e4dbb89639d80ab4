"""WorkQueue: the controller work queue (dedup, one worker per key, delays).

Semantics follow client-go's typed rate-limiting delaying queue:

* **dedup**: a key added while already queued is queued once;
* **one worker per key**: ``get()`` marks the key *processing*; adding it
  again meanwhile only marks it *dirty*, and ``done(key)`` queues it again, so
  the new change is handled after the current sync, never concurrently;
* **delays**: ``add_after(key, s)`` queues the key once ``s`` seconds of the
  injected clock have passed (an earlier deadline for the same key wins);
* **rate limiting**: ``add_rate_limited(key)`` waits as long as the rate
  limiter says (5 ms * 2**failures by default); ``forget(key)`` resets that.

``shutdown()`` makes every pending and future ``get()`` raise ``ShutDown`` at
once (client-go's "instruct the workers to exit"); queued keys are dropped and
adds are ignored from then on.

``run_workers`` is the standard worker loop on top: get, sync, forget on
success, requeue with backoff on failure until ``max_retries``, then drop.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from .clock import Clock, LoopClock, TimerHandle
from .rate_limiter import RateLimiter, default_controller_rate_limiter

__all__ = ["DEFAULT_MAX_RETRIES", "ShutDown", "WorkQueue", "run_workers"]

K = TypeVar("K", bound=Hashable)

log = logging.getLogger(__name__)

# Upstream endpoint controllers retry a key 15 times (5 ms * 2**14 ~ 82 s).
DEFAULT_MAX_RETRIES = 15


class ShutDown(Exception):
    """Raised by ``WorkQueue.get()`` once the queue is shut down."""


class WorkQueue(Generic[K]):
    """A deduplicating, delaying, rate-limited queue of keys.

    Locking: none; all methods must be called from the queue's event loop.
    Caller duty: call ``done(key)`` exactly once for every key ``get()`` returned,
    and ``forget(key)`` when a key stops failing (or the limiter keeps backing
    it off).
    """

    def __init__(self, *, clock: Clock | None = None, rate_limiter: RateLimiter | None = None, name: str = "") -> None:
        self.name = name
        self._clock: Clock = clock or LoopClock()
        self._rate_limiter = rate_limiter or default_controller_rate_limiter(self._clock.now)
        self._queue: collections.deque[K] = collections.deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._waiting: dict[K, tuple[float, TimerHandle]] = {}
        self._getters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._shutting_down = False

    def __len__(self) -> int:
        """Keys queued and ready (not processing, not waiting on a delay)."""
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def add(self, key: K) -> None:
        """Queue ``key`` unless it is queued already; see the module docstring."""
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._wake_one_getter()

    def add_after(self, key: K, delay: float) -> None:
        """Queue ``key`` after ``delay`` seconds (now if ``delay <= 0``)."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        ready_at = self._clock.now() + delay
        waiting = self._waiting.get(key)
        if waiting is not None:
            if waiting[0] <= ready_at:
                return
            waiting[1].cancel()
        handle = self._clock.call_at(ready_at, lambda: self._fire(key))
        self._waiting[key] = (ready_at, handle)

    def add_rate_limited(self, key: K) -> None:
        """Queue ``key`` after the rate limiter's delay (records a failure)."""
        self.add_after(key, self._rate_limiter.when(key))

    def forget(self, key: K) -> None:
        """Clear the rate limiter's failure history of ``key``."""
        self._rate_limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        """Failures of ``key`` recorded by the rate limiter since its last forget."""
        return self._rate_limiter.num_requeues(key)

    async def get(self) -> K:
        """Wait for a key and mark it processing.  Raises ``ShutDown``."""
        while True:
            if self._shutting_down:
                raise ShutDown(self.name)
            if self._queue:
                key = self._queue.popleft()
                self._processing.add(key)
                self._dirty.discard(key)
                return key
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except asyncio.CancelledError:
                # If we were woken for a key we will not take, pass the wake-up on.
                if getter.done() and not getter.cancelled():
                    self._wake_one_getter()
                raise
            finally:
                if getter in self._getters:
                    self._getters.remove(getter)

    def done(self, key: K) -> None:
        """Finish processing ``key``; requeue it if it was added meanwhile."""
        self._processing.discard(key)
        if key in self._dirty and not self._shutting_down:
            self._queue.append(key)
            self._wake_one_getter()

    def shutdown(self) -> None:
        """Stop the queue: ``get()`` raises ``ShutDown`` and adds are ignored."""
        self._shutting_down = True
        for _, handle in self._waiting.values():
            handle.cancel()
        self._waiting.clear()
        self._queue.clear()
        self._dirty.clear()
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)

    def is_processing(self, key: K) -> bool:
        """Whether a worker currently holds ``key``."""
        return key in self._processing

    def waiting(self) -> dict[K, float]:
        """Delayed keys and the clock time at which each becomes ready."""
        return {key: ready_at for key, (ready_at, _) in self._waiting.items()}

    def _fire(self, key: K) -> None:
        self._waiting.pop(key, None)
        self.add(key)

    def _wake_one_getter(self) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return


async def run_workers(
    queue: WorkQueue[K],
    sync: Callable[[K], Awaitable[None]],
    *,
    workers: int,
    max_retries: int = DEFAULT_MAX_RETRIES,
    on_drop: Callable[[K, BaseException], None] | None = None,
    routine_errors: tuple[type[Exception], ...] = (),
) -> None:
    """Run ``workers`` concurrent worker loops until the queue shuts down.

    Each loop: ``get`` a key, ``await sync(key)``; on success ``forget`` it; on
    an exception requeue it rate-limited while ``num_requeues < max_retries``,
    else ``forget`` it, log the drop and call ``on_drop(key, error)``.  ``done``
    is always called.  Cancelling ``run_workers`` cancels the workers.

    Retries are logged at INFO, those after one of ``routine_errors`` (failures
    expected in normal operation, such as a cache behind our own write) at
    DEBUG; drops always at WARNING.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    async with asyncio.TaskGroup() as group:
        for index in range(workers):
            group.create_task(
                _worker(queue, sync, max_retries, on_drop, routine_errors),
                name=f"{queue.name or 'queue'}-worker-{index}",
            )


async def _worker(
    queue: WorkQueue[K],
    sync: Callable[[K], Awaitable[None]],
    max_retries: int,
    on_drop: Callable[[K, BaseException], None] | None,
    routine_errors: tuple[type[Exception], ...],
) -> None:
    while True:
        try:
            key = await queue.get()
        except ShutDown:
            return
        try:
            await sync(key)
        except Exception as error:
            _handle_failure(queue, key, error, max_retries, on_drop, routine_errors)
        else:
            queue.forget(key)
        finally:
            queue.done(key)


def _handle_failure(
    queue: WorkQueue[K],
    key: K,
    error: Exception,
    max_retries: int,
    on_drop: Callable[[K, BaseException], None] | None,
    routine_errors: tuple[type[Exception], ...],
) -> None:
    retries = queue.num_requeues(key)
    if retries < max_retries:
        level = logging.DEBUG if isinstance(error, routine_errors) else logging.INFO
        log.log(level, "sync failed, retrying queue=%s key=%s retries=%d error=%r", queue.name, key, retries, error)
        queue.add_rate_limited(key)
        return
    queue.forget(key)
    log.warning("dropping key out of the queue queue=%s key=%s retries=%d error=%r", queue.name, key, retries, error)
    if on_drop is not None:
        on_drop(key, error)
