"""Unit tests of the trackers (upstream trigger_time_tracker_test, endpointslice_tracker_test).

Times: ``T0`` = 2026-01-01T00:00:00Z, ``t(n)`` = T0 + n seconds.
"""

from __future__ import annotations

import datetime

import pytest
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.controllers.tracking import EndpointSliceTracker, TriggerTimeTracker

from .builders import T0, pod, service

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


def slice_of(uid: str, generation: int, service_name: str = "foo") -> EndpointSlice:
    return EndpointSlice(
        addressType="IPv4",
        endpoints=[],
        metadata=ObjectMeta(
            name=uid,
            namespace="test",
            uid=uid,
            generation=generation,
            labels={"kubernetes.io/service-name": service_name},
        ),
    )


class TestEndpointSliceTracker:
    def test_should_sync_only_newer_generations(self) -> None:
        tracker = EndpointSliceTracker()
        assert tracker.should_sync(slice_of("a", 1)) and not tracker.has(slice_of("a", 1))
        tracker.update(slice_of("a", 2))
        assert tracker.has(slice_of("a", 2))
        assert not tracker.should_sync(slice_of("a", 1))
        assert not tracker.should_sync(slice_of("a", 2))
        assert tracker.should_sync(slice_of("a", 3))

    def test_stale_when_cache_is_behind(self) -> None:
        svc = service()
        tracker = EndpointSliceTracker()
        assert not tracker.stale_slices(svc, [])
        tracker.update(slice_of("a", 2))
        assert tracker.stale_slices(svc, []), "written slice missing"
        assert tracker.stale_slices(svc, [slice_of("a", 1)]), "older generation"
        assert not tracker.stale_slices(svc, [slice_of("a", 2)])
        tracker.expect_deletion(slice_of("a", 2))
        assert tracker.stale_slices(svc, [slice_of("a", 2)]), "deleted slice still listed"
        assert not tracker.stale_slices(svc, [])

    def test_handle_deletion_tells_ours_from_theirs(self) -> None:
        tracker = EndpointSliceTracker()
        tracker.update(slice_of("a", 1))
        tracker.expect_deletion(slice_of("b", 1))
        assert tracker.handle_deletion(slice_of("b", 1)) is True
        assert tracker.handle_deletion(slice_of("a", 1)) is False
        assert tracker.handle_deletion(slice_of("c", 1)) is True

    def test_recreated_service_drops_old_expectations(self) -> None:
        tracker = EndpointSliceTracker()
        tracker.stale_slices(service(uid="old"), [])
        tracker.update(slice_of("a", 1))
        assert tracker.stale_slices(service(uid="old"), [])
        assert not tracker.stale_slices(service(uid="new"), [])
