"""Informer fan-out: watch events, re-list diffs (adds/updates/deletes), resync, late handlers.

Pods a, b, c in ns1 on a FakeClient; handlers record (event, name).
"""

from __future__ import annotations

import asyncio
from typing import Any

from kube_builders import make_pod, names
from lightkube.resources.core_v1 import Pod

from svclab.kube import FuncHandler, Informer, ReflectorOptions, wait_for_sync
from svclab.kube.testing import FakeClient, FakeClock


def _recording_handler(log: list[tuple[str, str]]) -> FuncHandler[Any]:
    return FuncHandler(
        on_add=lambda obj: log.append(("add", obj.metadata.name)),
        on_update=lambda old, new: log.append(("update", new.metadata.name)),
        on_delete=lambda obj: log.append(("delete", obj.metadata.name)),
    )


async def _start(informer: Informer[Any], clock: FakeClock) -> asyncio.Task[None]:
    task = asyncio.create_task(informer.run())
    assert await informer.wait_synced(timeout=1)
    await clock.settle()
    return task


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_initial_list_then_watch_events(client: FakeClient, clock: FakeClock) -> None:
    client.seed(make_pod("a"), make_pod("b"))
    log: list[tuple[str, str]] = []
    informer: Informer[Pod] = Informer(client, Pod, clock=clock)
    informer.add_handler(_recording_handler(log))
    assert not informer.has_synced
    task = await _start(informer, clock)
    assert informer.has_synced
    pod = await client.get(Pod, "a", namespace="ns1")
    pod.metadata.labels = {"x": "y"}
    await client.replace(pod)
    await client.delete(Pod, "b", namespace="ns1")
    await clock.settle()
    assert log == [("add", "a"), ("add", "b"), ("update", "a"), ("delete", "b")]
    assert names(informer.store.list()) == ["a"]
    await _stop(task)


async def test_relist_after_410_fans_out_missed_changes(client: FakeClient, clock: FakeClock) -> None:
    client.seed(make_pod("a"), make_pod("b"))
    log: list[tuple[str, str]] = []
    informer: Informer[Pod] = Informer(client, Pod, clock=clock, random=lambda: 0.0)
    informer.add_handler(_recording_handler(log))
    task = await _start(informer, clock)
    log.clear()
    # Changes the informer misses: its watch is stalled by an injected error.
    client.fail_next("watch", "Pod", RuntimeError("stall"))
    client.close_watches()
    await client.delete(Pod, "a", namespace="ns1")
    await client.create(make_pod("c"))
    client.expire_watches()
    await clock.advance_async(0.8 + 1.6)  # idle-close backoff, then failed-watch backoff
    assert sorted(log) == [("add", "c"), ("delete", "a"), ("update", "b")]
    assert names(informer.store.list()) == ["b", "c"]
    await _stop(task)


async def test_resync_redelivers_cached_objects_as_updates(client: FakeClient, clock: FakeClock) -> None:
    client.seed(make_pod("a"))
    log: list[tuple[str, str]] = []
    informer: Informer[Pod] = Informer(client, Pod, ReflectorOptions(resync_period=30.0), clock=clock)
    informer.add_handler(_recording_handler(log))
    task = await _start(informer, clock)
    await clock.advance_async(30.0)
    assert log == [("add", "a"), ("update", "a")]
    await _stop(task)


async def test_late_handler_gets_adds_and_failing_handler_is_isolated(client: FakeClient, clock: FakeClock) -> None:
    client.seed(make_pod("a"))
    informer: Informer[Pod] = Informer(client, Pod, ReflectorOptions(namespace="ns1"), clock=clock)

    def explode(obj: Any) -> None:
        raise RuntimeError("handler bug")

    informer.add_handler(FuncHandler(on_add=explode))
    task = await _start(informer, clock)
    log: list[tuple[str, str]] = []
    informer.add_handler(_recording_handler(log))
    await client.create(make_pod("b"))
    await clock.settle()
    assert log == [("add", "a"), ("add", "b")]
    await _stop(task)


async def test_wait_for_sync_times_out_while_lists_fail(client: FakeClient, clock: FakeClock) -> None:
    client.fail_next("list", "Pod", RuntimeError("down"))
    informer: Informer[Pod] = Informer(client, Pod, clock=clock, random=lambda: 0.0)
    task = asyncio.create_task(informer.run())
    assert await wait_for_sync(informer, timeout=0.01) is False
    await clock.advance_async(0.8)
    assert await wait_for_sync(informer, timeout=1) is True
    await _stop(task)
