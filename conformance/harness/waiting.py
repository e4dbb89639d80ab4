"""Wait for a condition by polling it against a deadline.

A test never sleeps to let something happen: it states the condition and how
long it may take, and fails with the last observed state when the deadline
passes. ``wait_for`` returns the first truthy value the probe produced.

Deadlines are stated for a cluster on the host's kernel. A slower cluster (a
User-Mode Linux guest with one CPU) sets a time scale with ``set_time_scale``
(the ``cluster`` fixture does, from ``cluster.kernel``); every ``wait_for``
deadline is multiplied by it unless the caller passes ``scaled=False`` (for a
deadline that is itself the property under test).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["WaitTimeout", "node_is_ready", "pod_is_ready", "scaled_seconds", "set_time_scale", "time_scale", "wait_for"]

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0
POLL_INTERVAL = 0.1
_scale = [1.0]  # one process-wide factor: the session tests one cluster at a time


def set_time_scale(factor: float) -> None:
    """Multiply every later ``wait_for`` deadline by ``factor`` (>= 1)."""
    _scale[0] = max(1.0, factor)


def time_scale() -> float:
    return _scale[0]


def scaled_seconds(seconds: float) -> float:
    """``seconds`` stretched by the current time scale (for deadlines outside ``wait_for``)."""
    return seconds * _scale[0]


class WaitTimeout(AssertionError):
    """The condition did not hold before the deadline."""


def wait_for(
    probe: Callable[[], T],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = POLL_INTERVAL,
    what: str = "condition",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    scaled: bool = True,
) -> T:
    """Call ``probe`` until it returns something truthy; return that.

    Exceptions from ``probe`` count as "not yet" (the API may be restarting)
    and the last one is reported on timeout.
    """
    if scaled:
        timeout *= _scale[0]
    deadline = clock() + timeout
    last: object = None
    while True:
        try:
            value = probe()
            if value:
                return value
            last = value
        except Exception as exc:  # not yet: remember why
            last = exc
        if clock() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:g}s waiting for {what}; last: {last!r}")
        sleep(interval)


def _condition_true(obj: object, condition: str) -> bool:
    status = getattr(obj, "status", None)
    return any(c.type == condition and c.status == "True" for c in (getattr(status, "conditions", None) or []))


def node_is_ready(node: object) -> bool:
    return _condition_true(node, "Ready")


def pod_is_ready(pod: object) -> bool:
    return _condition_true(pod, "Ready")
