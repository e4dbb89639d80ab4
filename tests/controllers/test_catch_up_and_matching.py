"""A stale-cache failure is retried as soon as the informer catches up, and
selector matching through the label indexes gives exactly the plain scan's
answer (selector pairs all required, namespaces kept apart, key order)."""

from __future__ import annotations

from typing import Any

import pytest
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Pod

from svclab.controllers.errors import StaleCacheError
from svclab.controllers.informers import pods_for_service, services_for_pod
from svclab.kube.models import meta
from svclab.kube.names import NamespacedName

from .builders import NAMESPACE, node, pod, service

pytestmark = pytest.mark.timeout(10)

FOO = NamespacedName(NAMESPACE, "foo")


async def _empty_queue(controller: Any) -> None:
    queue = controller.queue
    while len(queue):
        key = await queue.get()
        queue.forget(key)
        queue.done(key)


async def test_stale_slice_sync_is_requeued_when_the_informer_shows_our_write(make_harness: Any) -> None:
    h = await make_harness(service(), pod(0), node(), controllers=["endpointslice"])
    controller = h.controllers["endpointslice"]
    await controller.sync(FOO)  # no settle: the informer has not seen the create yet
    with pytest.raises(StaleCacheError):
        await controller.sync(FOO)
    await _empty_queue(controller)
    await h.settle()  # our own create arrives: no change to act on, but the stale retry is due
    assert len(controller.queue) == 1
    assert await controller.queue.get() == FOO


async def test_own_slice_write_alone_queues_nothing(make_harness: Any) -> None:
    h = await make_harness(service(), pod(0), node(), controllers=["endpointslice"])
    controller = h.controllers["endpointslice"]
    await controller.sync(FOO)
    await _empty_queue(controller)
    await h.settle()
    assert len(controller.queue) == 0


async def test_stale_endpoints_sync_is_requeued_when_the_informer_shows_them(make_harness: Any) -> None:
    h = await make_harness(service(), pod(0), controllers=["endpoints"])
    controller = h.controllers["endpoints"]
    await h.sync("endpoints", FOO)
    current = h.informers.endpoints.store.get(FOO)
    controller._stale_versions[FOO] = meta(current).resourceVersion
    with pytest.raises(StaleCacheError):
        await controller.sync(FOO)
    await _empty_queue(controller)
    await h.client.replace(current)
    await h.settle()
    assert await controller.queue.get() == FOO


def _labelled(n: int, labels: dict[str, str], namespace: str = NAMESPACE) -> Pod:
    base = pod(n, namespace=namespace)
    base.metadata = ObjectMeta(name=f"pod{n}", namespace=namespace, uid=f"uid-pod{n}", labels=labels)
    return base


async def test_matching_requires_every_selector_pair_within_the_namespace(make_harness: Any) -> None:
    both = _labelled(3, {"app": "a", "tier": "web", "extra": "x"})
    app_only = _labelled(1, {"app": "a"})
    other_ns = _labelled(2, {"app": "a", "tier": "web"}, namespace="elsewhere")
    also_both = _labelled(0, {"tier": "web", "app": "a"})
    h = await make_harness(
        service("web", selector={"app": "a", "tier": "web"}),
        service("app", selector={"app": "a"}),
        service("none", selector={}),
        both,
        app_only,
        other_ns,
        also_both,
        controllers=["endpoints"],
    )
    web = h.informers.services.store.get(NamespacedName(NAMESPACE, "web"))
    assert [meta(p).name for p in pods_for_service(h.informers, web)] == ["pod0", "pod3"]
    none = h.informers.services.store.get(NamespacedName(NAMESPACE, "none"))
    assert pods_for_service(h.informers, none) == []
    assert services_for_pod(h.informers, both) == [NamespacedName(NAMESPACE, "app"), NamespacedName(NAMESPACE, "web")]
    assert services_for_pod(h.informers, app_only) == [NamespacedName(NAMESPACE, "app")]
    assert services_for_pod(h.informers, other_ns) == []


async def test_matching_follows_label_changes(make_harness: Any) -> None:
    h = await make_harness(service(), pod(0), controllers=["endpoints"])
    svc = h.informers.services.store.get(FOO)
    assert [meta(p).name for p in pods_for_service(h.informers, svc)] == ["pod0"]
    await h.client.replace(_labelled(0, {"foo": "other"}))
    await h.settle()
    assert pods_for_service(h.informers, svc) == []
