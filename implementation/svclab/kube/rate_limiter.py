"""Rate limiters: how long a failed key waits before it is retried.

Upstream's ``workqueue.DefaultControllerRateLimiter()`` is the maximum of two
limiters, and so is ``default_controller_rate_limiter()`` here:

* ``ItemExponentialFailureRateLimiter(5 ms, 1000 s)``: per key, the n-th
  consecutive failure waits ``5 ms * 2**n`` (capped at 1000 s) until the key
  is forgotten;
* ``BucketRateLimiter(10 qps, burst 100)``: one token bucket shared by all
  keys, so a storm of failures cannot retry faster than 10 per second overall
  once the burst of 100 is spent.

``when(key)`` records a failure (and takes a token) and returns the delay in
seconds; ``forget(key)`` resets the per-key history; ``num_requeues(key)``
counts failures since the last forget.  Time comes from an injected clock.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Protocol

__all__ = [
    "BucketRateLimiter",
    "ItemExponentialFailureRateLimiter",
    "MaxOfRateLimiter",
    "RateLimiter",
    "default_controller_rate_limiter",
]

# Upstream DefaultControllerRateLimiter's parameters.
DEFAULT_BASE_DELAY = 0.005
DEFAULT_MAX_DELAY = 1000.0
DEFAULT_QPS = 10.0
DEFAULT_BURST = 100


class RateLimiter(Protocol):
    """Per-key retry delays."""

    def when(self, key: Hashable) -> float:
        """Record a failure of ``key``; return how many seconds it must wait."""
        ...

    def forget(self, key: Hashable) -> None:
        """Drop the failure history of ``key`` (call after a success)."""
        ...

    def num_requeues(self, key: Hashable) -> int:
        """Failures of ``key`` recorded since its last ``forget``."""
        ...


class ItemExponentialFailureRateLimiter:
    """``base * 2**failures`` per key, capped at ``max_delay``."""

    def __init__(self, base_delay: float = DEFAULT_BASE_DELAY, max_delay: float = DEFAULT_MAX_DELAY) -> None:
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._failures: dict[Hashable, int] = {}

    def when(self, key: Hashable) -> float:
        exponent = self._failures.get(key, 0)
        self._failures[key] = exponent + 1
        # Compare exponents before multiplying: 2**exponent grows without bound.
        if exponent >= 64:
            return self._max_delay
        return min(self._base_delay * float(2**exponent), self._max_delay)

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: Hashable) -> int:
        return self._failures.get(key, 0)


class BucketRateLimiter:
    """A token bucket shared by all keys (``golang.org/x/time/rate`` reservations).

    Every ``when`` reserves one token, even when it has to wait for it, so the
    delays of a burst of callers queue up behind each other.
    """

    def __init__(self, qps: float = DEFAULT_QPS, burst: int = DEFAULT_BURST, *, now: Callable[[], float]) -> None:
        self._qps = qps
        self._burst = float(burst)
        self._now = now
        self._tokens = float(burst)
        self._last: float | None = None

    def when(self, key: Hashable) -> float:
        now = self._now()
        if self._last is not None:
            elapsed = max(0.0, now - self._last)
            self._tokens = min(self._burst, self._tokens + elapsed * self._qps)
        self._last = now
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self._qps

    def forget(self, key: Hashable) -> None:
        """No per-key state: nothing to forget."""

    def num_requeues(self, key: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    """Ask every limiter (each records the failure); wait for the longest."""

    def __init__(self, *limiters: RateLimiter) -> None:
        if not limiters:
            raise ValueError("MaxOfRateLimiter needs at least one limiter")
        self._limiters = limiters

    def when(self, key: Hashable) -> float:
        return max([limiter.when(key) for limiter in self._limiters])

    def forget(self, key: Hashable) -> None:
        for limiter in self._limiters:
            limiter.forget(key)

    def num_requeues(self, key: Hashable) -> int:
        return max(limiter.num_requeues(key) for limiter in self._limiters)


def default_controller_rate_limiter(now: Callable[[], float]) -> MaxOfRateLimiter:
    """Upstream's default: max(exponential 5 ms..1000 s, bucket 10 qps burst 100)."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(DEFAULT_BASE_DELAY, DEFAULT_MAX_DELAY),
        BucketRateLimiter(DEFAULT_QPS, DEFAULT_BURST, now=now),
    )
