"""Unit tests of ``TriggerTimeTracker`` (upstream trigger_time_tracker_test).

Times: ``T0`` = 2026-01-01T00:00:00Z, ``t(n)`` = T0 + n seconds.
"""

from __future__ import annotations

import datetime

import pytest

from svclab.controllers.slices.trigger_time import TriggerTimeTracker

from ..builders import T0, pod, service

pytestmark = pytest.mark.timeout(2)


def t(seconds: int) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


class TestTriggerTime:
    def test_new_service_reports_its_creation_time(self) -> None:
        tracker = TriggerTimeTracker()
        assert tracker.compute(service(created=t(1)), [pod(0, ready_since=t(5))]) == t(1)

    def test_then_the_earliest_changed_pod(self) -> None:
        tracker = TriggerTimeTracker()
        svc = service(created=t(1))
        tracker.compute(svc, [pod(0, ready_since=t(2))])
        changed = [pod(0, ready_since=t(9)), pod(1, ready_since=t(7)), pod(2, ready_since=t(8))]
        assert tracker.compute(svc, changed) == t(7)

    def test_nothing_changed_gives_none(self) -> None:
        tracker = TriggerTimeTracker()
        svc, pods = service(created=t(1)), [pod(0, ready_since=t(2))]
        tracker.compute(svc, pods)
        assert tracker.compute(svc, pods) is None

    def test_deleted_service_starts_over(self) -> None:
        tracker = TriggerTimeTracker()
        svc = service(created=t(1))
        tracker.compute(svc, [])
        tracker.delete_service("test", "foo")
        assert tracker.compute(svc, []) == t(1)
