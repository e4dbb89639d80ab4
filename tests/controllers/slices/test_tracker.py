"""Unit tests of ``EndpointSliceTracker`` (upstream endpointslice_tracker_test)."""

from __future__ import annotations

import pytest
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.controllers.slices.tracker import EndpointSliceTracker

from ..builders import service

pytestmark = pytest.mark.timeout(2)


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
