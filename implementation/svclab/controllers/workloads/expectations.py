"""Expectations: the creates and deletes a controller made but its cache has not shown yet.

Upstream ``ControllerExpectations`` with ``UIDTrackingControllerExpectations``:
after creating ``n`` pods a controller expects ``n`` pod ADDs; after
deleting pods it expects their deletions (tracked by pod key, so a pod seen
deleted twice counts once).  Until the cache has shown them all (or
``EXPECTATIONS_TIMEOUT`` has passed, in case an event was lost) the
controller does not create or delete again, or a sync running on a stale
cache would double its work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from svclab.kube.clock import Clock

__all__ = ["EXPECTATIONS_TIMEOUT", "Expectations"]

K = TypeVar("K")
# Upstream ExpectationsTimeout: 5 minutes.
EXPECTATIONS_TIMEOUT = 300.0


@dataclass(slots=True)
class _Expected:
    adds: int
    deletes: set[str]
    since: float


@dataclass(slots=True)
class Expectations(Generic[K]):
    """Pending creates and deletes per controller key; see the module docstring."""

    clock: Clock
    timeout: float = EXPECTATIONS_TIMEOUT
    _pending: dict[K, _Expected] = field(default_factory=dict)

    def expect_creations(self, key: K, count: int) -> None:
        """Replace ``key``'s expectations by ``count`` creations."""
        self._pending[key] = _Expected(count, set(), self.clock.now())

    def expect_deletions(self, key: K, pod_keys: set[str]) -> None:
        """Replace ``key``'s expectations by the deletion of ``pod_keys``."""
        self._pending[key] = _Expected(0, set(pod_keys), self.clock.now())

    def creation_observed(self, key: K) -> None:
        """One expected creation happened (or will not: a failed or skipped create)."""
        expected = self._pending.get(key)
        if expected is not None and expected.adds > 0:
            expected.adds -= 1

    def deletion_observed(self, key: K, pod_key: str) -> None:
        """The deletion of ``pod_key`` was seen (or failed)."""
        expected = self._pending.get(key)
        if expected is not None:
            expected.deletes.discard(pod_key)

    def satisfied(self, key: K) -> bool:
        """True when nothing is pending for ``key`` or its expectations expired."""
        expected = self._pending.get(key)
        if expected is None:
            return True
        if expected.adds <= 0 and not expected.deletes:
            return True
        return self.clock.now() - expected.since > self.timeout

    def forget(self, key: K) -> None:
        """Drop ``key``'s expectations (its controller object is gone)."""
        self._pending.pop(key, None)
