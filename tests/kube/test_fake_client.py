"""FakeClient: API-server rules the controllers rely on.  Pods in ns1/ns2, a Node."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kube_builders import make_pod, names
from lightkube import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Node, Pod
from lightkube.types import PatchType

from svclab.kube.testing import Action, FakeClient


async def test_records_actions_with_bodies(client: FakeClient) -> None:
    await client.create(make_pod("a", labels={"app": "x"}))
    await client.patch(Pod, "a", {"metadata": {"labels": {"tier": "web"}}}, namespace="ns1")
    await client.delete(Pod, "a", namespace="ns1")
    assert client.actions[1] == Action("patch", "Pod", "ns1", "a", {"metadata": {"labels": {"tier": "web"}}})
    assert client.verbs() == [("create", "Pod"), ("patch", "Pod"), ("delete", "Pod")]


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda c: c.get(Pod, "nope", namespace="ns1"), 404),
        (lambda c: c.delete(Pod, "nope", namespace="ns1"), 404),
        (lambda c: c.patch(Pod, "nope", {"a": 1}, namespace="ns1"), 404),
        (lambda c: c.create(make_pod("a")), 409),
        (lambda c: c.replace(make_pod("a", rv="999")), 409),
    ],
    ids=["get-missing", "delete-missing", "patch-missing", "create-duplicate", "replace-stale"],
)
async def test_errors_like_the_api_server(client: FakeClient, call, code: int) -> None:  # type: ignore[no-untyped-def]
    client.seed(make_pod("a"))
    with pytest.raises(ApiError) as caught:
        await call(client)
    assert caught.value.status.code == code


async def test_objects_are_copies_and_rv_increases(client: FakeClient) -> None:
    created = await client.create(make_pod("a"))
    created.metadata.labels = {"mutated": "yes"}
    stored = await client.get(Pod, "a", namespace="ns1")
    assert stored.metadata.labels is None
    replaced = await client.replace(stored)
    assert int(replaced.metadata.resourceVersion) > int(created.metadata.resourceVersion)
    assert replaced.metadata.uid == created.metadata.uid


async def test_list_filters_namespace_and_selectors(client: FakeClient) -> None:
    client.seed(make_pod("a", labels={"app": "x"}), make_pod("b"), make_pod("c", "ns2", labels={"app": "x"}))
    client.seed(Node(metadata=ObjectMeta(name="n1")))

    async def listed(**kwargs: Any) -> list[str]:
        return names([p async for p in client.list(Pod, **kwargs)])

    assert await listed(namespace="ns1") == ["a", "b"]
    assert await listed(namespace="*", labels={"app": "x"}) == ["a", "c"]
    assert await listed(namespace="*", fields={"metadata.name": "b"}) == ["b"]
    assert names([n async for n in client.list(Node)]) == ["n1"]


async def test_list_takes_selector_strings_with_set_based_terms(client: FakeClient) -> None:
    client.seed(make_pod("a", labels={"app": "x"}), make_pod("b", labels={"app": "y"}), make_pod("c"))

    async def listed(**kwargs: Any) -> list[str]:
        return names([p async for p in client.list(Pod, namespace="ns1", **kwargs)])

    assert await listed(labels="app in (x,y)") == ["a", "b"]
    assert await listed(labels="app notin (x)") == ["b", "c"]
    assert await listed(labels="!app") == ["c"]
    assert await listed(fields="metadata.name!=a,metadata.namespace=ns1") == ["b", "c"]


@pytest.mark.parametrize(("labels", "fields"), [("app in (x", None), (None, "metadata.name")], ids=["labels", "fields"])
async def test_a_selector_that_does_not_parse_is_a_bad_request(
    client: FakeClient, labels: str | None, fields: str | None
) -> None:
    with pytest.raises(ApiError) as caught:
        [p async for p in client.list(Pod, namespace="ns1", labels=labels, fields=fields)]
    assert caught.value.status.code == 400


async def test_json_patch_and_apply_create(client: FakeClient) -> None:
    client.seed(make_pod("a", labels={"app": "x"}))
    patched = await client.patch(
        Pod,
        "a",
        [{"op": "replace", "path": "/metadata/labels/app", "value": "y"}],
        namespace="ns1",
        patch_type=PatchType.JSON,
    )
    assert patched.metadata.labels == {"app": "y"}
    applied = await client.apply(make_pod("new"))
    assert applied.metadata.name == "new" and client.actions[-1].verb == "patch"


async def test_watch_replays_from_rv_then_streams_and_closes(client: FakeClient) -> None:
    client.seed(make_pod("a"))
    await client.create(make_pod("b"))  # rv 2
    events: list[tuple[str, str]] = []

    async def consume() -> None:
        async for event_type, obj in client.watch(Pod, namespace="ns1", resource_version="1"):
            events.append((event_type, obj.metadata.name))

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    await client.delete(Pod, "a", namespace="ns1")
    await asyncio.sleep(0)
    client.close_watches()
    await asyncio.wait_for(task, 1)
    assert events == [("ADDED", "b"), ("DELETED", "a")]
    assert client.watch_count() == 0


async def test_workload_kinds_keep_status_and_spec_apart_and_count_generations(client: FakeClient) -> None:
    from lightkube.models.apps_v1 import ReplicaSetSpec
    from lightkube.models.meta_v1 import LabelSelector
    from lightkube.resources.apps_v1 import ReplicaSet, ReplicaSetStatus

    spec = ReplicaSetSpec(replicas=1, selector=LabelSelector(matchLabels={"a": "b"}))
    created = await client.create(ReplicaSet(metadata=ObjectMeta(name="rs", namespace="ns1"), spec=spec))
    assert created.metadata.generation == 1
    body = created.to_dict()
    body["status"] = {"replicas": 1}
    await client.replace(ReplicaSetStatus.from_dict(body))
    [stored] = client.objects(ReplicaSet)
    assert (stored.status.replicas, stored.metadata.generation) == (1, 1), "a status write changes no generation"
    stored.spec.replicas = 3
    stored.status.replicas = 99  # ignored: the object write keeps the stored status
    await client.replace(stored)
    [stored] = client.objects(ReplicaSet)
    assert (stored.spec.replicas, stored.status.replicas, stored.metadata.generation) == (3, 1, 2)
    await client.patch(
        ReplicaSet, "rs", {"metadata": {"labels": {"x": "y"}}}, namespace="ns1", patch_type=PatchType.MERGE
    )
    assert client.objects(ReplicaSet)[0].metadata.generation == 2, "metadata is no spec change"
    status_body = client.objects(ReplicaSet)[0].to_dict()
    status_body["spec"]["replicas"], status_body["status"] = 7, {"replicas": 3}
    await client.replace(ReplicaSetStatus.from_dict(status_body))
    [stored] = client.objects(ReplicaSet)
    assert (stored.spec.replicas, stored.status.replicas) == (3, 3), "a status write changes only the status"


def test_seed_keeps_a_given_uid(client: FakeClient) -> None:
    pod = make_pod("a")
    pod.metadata.uid = "my-uid"
    client.seed(pod, make_pod("b"))
    uids = [p.metadata.uid for p in client.objects(Pod)]
    assert uids[0] == "my-uid" and uids[1].startswith("fake-uid-")
