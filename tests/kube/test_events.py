"""EventRecorder: Events about Service ns1/web (uid u-1) and Node node1, written to a FakeClient."""

from __future__ import annotations

import asyncio

from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Event, Node, Service

from svclab.kube import EVENT_TYPE_WARNING, EventRecorder
from svclab.kube.testing import FakeClient, FakeClock, FakeRecorder, api_error

SERVICE = Service(metadata=ObjectMeta(name="web", namespace="ns1", uid="u-1", resourceVersion="4"))


async def test_first_event_is_created_with_reference_source_and_count(client: FakeClient, clock: FakeClock) -> None:
    recorder = EventRecorder(client, "endpoint-controller", "host-a", clock=clock)
    recorder.event(SERVICE, EVENT_TYPE_WARNING, "FailedToUpdateEndpoint", "boom")
    assert client.actions == []  # non-blocking: nothing written until delivery
    await recorder.flush()
    [event] = client.objects(Event)
    assert event.metadata.namespace == "ns1" and event.metadata.name.startswith("web.")
    ref = event.involvedObject
    assert (ref.kind, ref.apiVersion, ref.namespace, ref.name, ref.uid) == ("Service", "v1", "ns1", "web", "u-1")
    assert (event.type, event.reason, event.message, event.count) == (
        EVENT_TYPE_WARNING,
        "FailedToUpdateEndpoint",
        "boom",
        1,
    )
    assert (event.source.component, event.source.host, event.reportingComponent) == (
        "endpoint-controller",
        "host-a",
        "endpoint-controller",
    )
    assert event.firstTimestamp == event.lastTimestamp == clock.utcnow()


async def test_identical_events_are_counted_by_patch(client: FakeClient, clock: FakeClock) -> None:
    recorder = EventRecorder(client, "endpoint-controller", clock=clock)
    recorder.event(SERVICE, "Normal", "Synced", "same")
    await recorder.flush()
    clock.advance(5.0)
    recorder.event(SERVICE, "Normal", "Synced", "same")
    recorder.event(SERVICE, "Normal", "Synced", "different")
    await recorder.flush()
    assert [(a.verb, a.kind) for a in client.writes()] == [("create", "Event"), ("patch", "Event"), ("create", "Event")]
    counted = next(e for e in client.objects(Event) if e.message == "same")
    assert counted.count == 2 and counted.lastTimestamp == clock.utcnow()


async def test_vanished_event_is_created_again(client: FakeClient, clock: FakeClock) -> None:
    recorder = EventRecorder(client, "c", clock=clock)
    recorder.event(SERVICE, "Normal", "Synced", "m")
    await recorder.flush()
    client.fail_next("patch", "Event", api_error(404, "gone"))
    recorder.event(SERVICE, "Normal", "Synced", "m")
    await recorder.flush()
    assert [a.verb for a in client.writes()] == ["create", "patch", "create"]


async def test_cluster_scoped_objects_go_to_default_and_errors_are_swallowed(
    client: FakeClient, clock: FakeClock
) -> None:
    recorder = EventRecorder(client, "c", clock=clock)
    client.fail_next("create", "Event", api_error(500, "down"))
    node = Node(metadata=ObjectMeta(name="node1"))
    recorder.event(node, "Normal", "First", "lost")
    recorder.event(node, "Normal", "Second", "kept")
    runner = asyncio.create_task(recorder.run())
    await clock.settle()
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    [event] = client.objects(Event)
    assert (event.metadata.namespace, event.reason, event.involvedObject.kind) == ("default", "Second", "Node")


def test_fake_recorder_keeps_triples() -> None:
    recorder = FakeRecorder()
    recorder.event(SERVICE, "Warning", "InvalidIPAddress", "bad ip")
    recorder.eventf(SERVICE, "Warning", "TooManyAddressesToMirror", "%d addresses", 1001)
    assert recorder.triples() == [
        ("Warning", "InvalidIPAddress", "bad ip"),
        ("Warning", "TooManyAddressesToMirror", "1001 addresses"),
    ]
    assert recorder.events[0].object_key == "ns1/web"
