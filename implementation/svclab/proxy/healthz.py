"""Proxier health as upstream's ``/healthz`` reports it (``pkg/proxy/healthcheck``).

Healthy unless a change has been queued for longer than ``timeout`` without a
successful sync since (the command passes 2 x syncPeriod).
The body is JSON with ``lastUpdated`` and ``currentTime`` (RFC 3339); status
200 when healthy, 503 otherwise. A dual-stack proxy keeps one ``ProxyHealth``
per family in a ``FamilyHealth``: healthy only while every family is, as
upstream's health server tracks each family's proxier. Pure state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from svclab.proxy.service_port import IPFamily

__all__ = ["FamilyHealth", "ProxyHealth"]


def _rfc3339(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if stamp else ""


@dataclass
class ProxyHealth:
    """Tracks queued and completed syncs."""

    timeout: float
    clock: Callable[[], float] = time.time
    last_updated: float = 0.0
    oldest_queued: float = field(default=0.0)

    def queued(self) -> None:
        """A change is waiting for a sync (keeps the oldest pending time)."""
        if not self.oldest_queued:
            self.oldest_queued = self.clock()

    def updated(self) -> None:
        """A sync succeeded: nothing is pending any more."""
        self.last_updated = self.clock()
        self.oldest_queued = 0.0

    def healthy(self) -> bool:
        """False when a change has waited longer than ``timeout``."""
        return not self.oldest_queued or self.clock() - self.oldest_queued < self.timeout

    def response(self) -> tuple[int, str]:
        """(HTTP status, JSON body) for ``/healthz``."""
        body = {"lastUpdated": _rfc3339(self.last_updated), "currentTime": _rfc3339(self.clock()), "nodeEligible": True}
        return (200 if self.healthy() else 503), json.dumps(body)


@dataclass
class FamilyHealth:
    """One ``ProxyHealth`` per family this proxy runs; healthy only when all are."""

    parts: Mapping[IPFamily, ProxyHealth]

    def queued(self) -> None:
        """A Service or EndpointSlice changed: every family has a sync pending."""
        for part in self.parts.values():
            part.queued()

    def updated(self, family: IPFamily) -> None:
        """``family``'s proxier synced."""
        self.parts[family].updated()

    def healthy(self) -> bool:
        return all(part.healthy() for part in self.parts.values())

    def response(self) -> tuple[int, str]:
        """(HTTP status, JSON body); ``lastUpdated`` is the stalest family's (the one that matters)."""
        stalest = min(self.parts.values(), key=lambda part: part.last_updated)
        _, body = stalest.response()
        return (200 if self.healthy() else 503), body
