"""Reconciler tests: the three controllers over a recording FakeClient.

Address plan: see ``builders`` (pods ``pod<n>`` at ``1.2.3.<4+n>`` on
``node-1``; Service ``foo`` in ``test`` selects them, port 80 -> 8080).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from lightkube.resources.core_v1 import Endpoints, Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.controllers.errors import StaleCacheError
from svclab.kube.models import meta
from svclab.kube.names import NamespacedName

from .builders import (
    NAMESPACE,
    endpoint_port,
    endpoints,
    labels_of,
    must,
    node,
    owner_of,
    pod,
    raw_address,
    service,
    subset,
)

pytestmark = pytest.mark.timeout(10)

FOO = NamespacedName(NAMESPACE, "foo")
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"


def by_manager(client: Any, manager: str) -> list[EndpointSlice]:
    return [s for s in client.objects(EndpointSlice) if labels_of(s).get(MANAGED_BY) == manager]


async def test_endpoints_created_then_left_alone_then_updated(make_harness: Any) -> None:
    h = await make_harness(service(), pod(0), pod(1), node(), controllers=["endpoints"])
    assert await h.sync("endpoints", FOO) == [("create", "Endpoints")]
    [created] = h.client.objects(Endpoints)
    assert [a.ip for a in created.subsets[0].addresses] == ["1.2.3.4", "1.2.3.5"]
    assert await h.sync("endpoints", FOO) == [], "write only on change"
    await h.client.replace(pod(1, ready=False))
    await h.settle()
    assert await h.sync("endpoints", FOO) == [("replace", "Endpoints")]
    [updated] = h.client.objects(Endpoints)
    assert [a.ip for a in updated.subsets[0].notReadyAddresses] == ["1.2.3.5"]


async def test_endpoints_deleted_with_service_and_orphans_queued_at_start(make_harness: Any) -> None:
    orphan = endpoints("orphan", subset([raw_address("10.0.0.1")], ports=[endpoint_port()]))
    h = await make_harness(service(), pod(0), orphan, controllers=["endpoints"])
    writes = await h.drain("endpoints")
    assert sorted(writes) == [("create", "Endpoints"), ("delete", "Endpoints")]
    assert [meta(e).name for e in h.client.objects(Endpoints)] == ["foo"]
    await h.client.delete(Service, "foo", namespace=NAMESPACE)
    await h.settle()
    assert await h.drain("endpoints") == [("delete", "Endpoints")]


async def test_endpoints_of_selectorless_service_are_not_touched(make_harness: Any) -> None:
    manual = endpoints("foo", subset([raw_address("10.0.0.1")], ports=[endpoint_port()]))
    h = await make_harness(service(selector={}), manual, controllers=["endpoints"])
    assert await h.drain("endpoints") == []


async def test_endpoints_stale_cache_is_not_acted_upon(make_harness: Any) -> None:
    h = await make_harness(service(), pod(0), controllers=["endpoints"])
    await h.sync("endpoints", FOO)
    controller = h.controllers["endpoints"]
    current = h.informers.endpoints.store.get(FOO)
    controller._stale_versions[FOO] = meta(current).resourceVersion
    with pytest.raises(StaleCacheError):
        await controller.sync(FOO)


async def test_slices_created_resynced_without_writes_and_cleaned_up(make_harness: Any) -> None:
    h = await make_harness(service(), pod(0), pod(1), node(zone="z1"), controllers=["endpointslice"])
    assert await h.sync("endpointslice", FOO) == [("create", "EndpointSlice")]
    [created] = h.client.objects(EndpointSlice)
    assert must(meta(created).name).startswith("foo-")
    assert {e.zone for e in created.endpoints} == {"z1"}
    assert await h.drain("endpointslice") == [], "echoes of our own write are ignored"
    assert await h.sync("endpointslice", FOO) == []
    await h.client.delete(Pod, "pod1", namespace=NAMESPACE)
    await h.settle()
    assert await h.drain("endpointslice") == [("replace", "EndpointSlice")]
    await h.client.delete(Service, "foo", namespace=NAMESPACE)
    await h.settle()
    assert await h.drain("endpointslice") == [("delete", "EndpointSlice")]
    assert h.client.objects(EndpointSlice) == []


async def test_slice_tracker_detects_cache_lagging_behind_our_writes(make_harness: Any) -> None:
    h = await make_harness(service(), pod(0), node(), controllers=["endpointslice"])
    controller = h.controllers["endpointslice"]
    await controller.sync(FOO)  # no settle: the informer has not seen the create yet
    with pytest.raises(StaleCacheError):
        await controller.sync(FOO)
    await h.settle()
    assert await h.sync("endpointslice", FOO) == []


async def test_externally_deleted_slice_is_recreated(make_harness: Any) -> None:
    h = await make_harness(service(), pod(0), node(), controllers=["endpointslice"])
    await h.sync("endpointslice", FOO)
    [created] = h.client.objects(EndpointSlice)
    await h.client.delete(EndpointSlice, meta(created).name, namespace=NAMESPACE)
    await h.settle()
    assert await h.drain("endpointslice") == [("create", "EndpointSlice")]


async def test_missing_node_skips_the_pod_and_retries(make_harness: Any) -> None:
    h = await make_harness(service(), pod(0), pod(1, node="gone"), node(), controllers=["endpointslice"])
    with pytest.raises(Exception, match="pod1"):
        await h.controllers["endpointslice"].sync(FOO)
    await h.settle()
    [created] = h.client.objects(EndpointSlice)
    assert [e.targetRef.name for e in created.endpoints] == ["pod0"]


async def test_mirroring_with_events_then_hand_over_to_the_slice_controller(make_harness: Any) -> None:
    custom = endpoints("foo", subset([raw_address("10.0.0.1"), raw_address("bogus")], ports=[endpoint_port(80)]))
    h = await make_harness(service(selector={}), custom, pod(0), node())
    assert await h.drain("endpointslice-mirroring") == [("create", "EndpointSlice")]
    [mirrored] = by_manager(h.client, "endpointslicemirroring-controller.k8s.io")
    assert owner_of(mirrored).kind == "Endpoints"
    recorder = h.controllers["endpointslice-mirroring"].recorder
    assert recorder.triples() == [
        ("Warning", "InvalidIPAddress", "Skipped 1 invalid IP addresses when mirroring to EndpointSlices")
    ]
    assert await h.drain("endpointslice") == [] and await h.drain("endpoints") == []
    # The Service gets a selector: mirrored slices go, managed ones come.
    await h.client.replace(service(selector={"foo": "bar"}))
    await h.settle()
    assert await h.drain("endpointslice-mirroring") == [("delete", "EndpointSlice")]
    assert await h.drain("endpointslice") == [("create", "EndpointSlice")]
    assert await h.drain("endpoints") == [("replace", "Endpoints")]
    assert by_manager(h.client, "endpointslicemirroring-controller.k8s.io") == []
    assert len(by_manager(h.client, "endpointslice-controller.k8s.io")) == 1


async def test_skip_mirror_label_is_respected(make_harness: Any) -> None:
    custom = endpoints(
        "foo",
        subset([raw_address("10.0.0.1")], ports=[endpoint_port(80)]),
        labels={"endpointslice.kubernetes.io/skip-mirror": "true"},
    )
    h = await make_harness(service(selector={}), custom, controllers=["endpointslice-mirroring"])
    assert await h.drain("endpointslice-mirroring") == []


async def test_restart_finds_everything_in_place(make_harness: Any) -> None:
    objects = [
        service(),
        pod(0),
        pod(1),
        node(),
        service("bar", selector={}),
        endpoints("bar", subset([raw_address("10.0.0.9")], ports=[endpoint_port(80)])),
    ]
    first = await make_harness(*objects)
    for name in first.controllers:
        await first.drain(name)
        await first.sync(name, FOO)
    await first.stop()
    count = len(first.client.objects(EndpointSlice))
    second = await make_harness(client=first.client)
    for name in second.controllers:
        second.controllers[name].queue.add(FOO)
        second.controllers[name].queue.add(NamespacedName(NAMESPACE, "bar"))
        assert await second.drain(name) == [], name
    # foo: one managed slice; bar (selector-less): one mirrored slice.
    assert len(second.client.objects(EndpointSlice)) == count == 2


async def _until(predicate: Callable[[], object], rounds: int = 5000) -> bool:
    """Poll ``predicate`` between loop turns (no wall-clock waiting)."""
    import asyncio

    for _ in range(rounds):
        if predicate():
            return True
        await asyncio.sleep(0)
    return bool(predicate())


@pytest.mark.parametrize("leader_elect", [False, True], ids=["plain", "leader-elect"])
async def test_controller_manager_converges_and_stops_on_sigterm(
    monkeypatch: pytest.MonkeyPatch, leader_elect: bool
) -> None:
    import argparse
    import asyncio
    import os
    import signal

    from lightkube.resources.coordination_v1 import Lease

    import svclab.kube.client
    from svclab.controllers import command
    from svclab.kube.testing import FakeClient

    client = FakeClient()
    client.seed(service(), pod(0), node())
    monkeypatch.setattr(svclab.kube.client, "make_client", lambda *a, **k: client)
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    args = parser.parse_args(["--concurrent-syncs", "2"] + (["--leader-elect"] if leader_elect else []))
    main = asyncio.create_task(command._main(args))
    assert await _until(lambda: client.objects(Endpoints) and client.objects(EndpointSlice))
    if leader_elect:
        [lease] = client.objects(Lease)
        assert meta(lease).name == "svclab-controller-manager" and meta(lease).namespace == "kube-system"
        assert lease.spec.holderIdentity
    os.kill(os.getpid(), signal.SIGTERM)
    assert await main == 0
    if leader_elect:
        [lease] = client.objects(Lease)
        assert not lease.spec.holderIdentity, "the Lease is released on SIGTERM"


async def test_node_appearing_requeues_its_pods_services(make_harness: Any) -> None:
    h = await make_harness(service(), pod(0, node="late"), controllers=["endpointslice"])
    with pytest.raises(Exception, match="node not found"):
        await h.controllers["endpointslice"].sync(FOO)
    await h.settle()
    await h.client.create(node("late", zone="z9"))
    await h.settle()
    assert await h.drain("endpointslice") == [("replace", "EndpointSlice")]
    [updated] = h.client.objects(EndpointSlice)
    assert [(e.targetRef.name, e.zone) for e in updated.endpoints] == [("pod0", "z9")]


async def test_syncs_never_mutate_the_informer_caches(make_harness: Any) -> None:
    custom = endpoints("bar", subset([raw_address("10.0.0.1")], ports=[endpoint_port(80)]))
    h = await make_harness(service(), service("bar", selector={}), custom, pod(0), pod(1, ready=False), node())
    for name in h.controllers:
        await h.drain(name)
    stores = [h.informers.pods, h.informers.services, h.informers.endpoints, h.informers.slices, h.informers.nodes]
    before = [[obj.to_dict() for obj in informer.store.list()] for informer in stores]
    await h.client.replace(pod(1))
    await h.settle()
    snapshot = [[obj.to_dict() for obj in informer.store.list()] for informer in stores]
    for name, controller in h.controllers.items():
        for key in (FOO, NamespacedName(NAMESPACE, "bar")):
            await controller.sync(key)
        assert [[obj.to_dict() for obj in i.store.list()] for i in stores] == snapshot, name
    assert before != snapshot, "the pod change must have reached the cache"


def test_the_controllers_informers_retry_a_lost_api_server_about_every_second() -> None:
    from svclab.controllers.informers import SharedInformers
    from svclab.kube import RECONNECT_BACKOFF
    from svclab.kube.testing import FakeClient

    informers = SharedInformers(FakeClient())
    assert informers.pods.options.backoff == informers.of(Service).options.backoff == RECONNECT_BACKOFF
