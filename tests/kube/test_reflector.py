"""Reflector decisions (pure) and the list/watch loop against FakeClient.

Pods live in ns1; FakeClient resourceVersions count writes from 1.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
import pytest
from kube_builders import make_pod, names
from lightkube.resources.core_v1 import Pod

from svclab.kube.list_watch import ClientListerWatcher
from svclab.kube.reflector import (
    RECONNECT_BACKOFF,
    Backoff,
    BackoffState,
    EventAction,
    NextStep,
    Reflector,
    ReflectorOptions,
    ReflectorState,
    WatchIdle,
    apply_watch_event,
    decide_after_list_error,
    decide_after_watch,
)
from svclab.kube.testing import FakeClient, FakeClock, api_error


class RecordingSink:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def replace(self, items: list[Any], resource_version: str) -> None:
        self.calls.append(("replace", (names(items), resource_version)))

    def upsert(self, obj: Any) -> None:
        self.calls.append(("upsert", obj.metadata.name))

    def remove(self, obj: Any) -> None:
        self.calls.append(("remove", obj.metadata.name))


_CONNECT_ERROR = httpx2.ConnectError("connection refused")


@pytest.mark.parametrize(
    ("error", "saw_events", "step", "backoff"),
    [
        (None, True, NextStep.WATCH, False),
        (None, False, NextStep.WATCH, True),
        (api_error(410, "too old resource version"), True, NextStep.LIST, False),
        (_CONNECT_ERROR, True, NextStep.WATCH, True),
        (api_error(503, "unavailable"), True, NextStep.WATCH, True),
        (api_error(429, "slow down"), True, NextStep.WATCH, True),
        (api_error(403, "forbidden"), True, NextStep.LIST, True),
        (ValueError("bad line"), True, NextStep.LIST, True),
        (WatchIdle(6.0), True, NextStep.WATCH, False),
        (httpx2.ConnectTimeout("timed out"), True, NextStep.WATCH, False),
    ],
    ids=[
        "clean-close",
        "idle-close",
        "410-gone",
        "conn-refused",
        "503",
        "429",
        "403",
        "decode-error",
        "silent",
        "connect-timeout",
    ],
)
def test_decide_after_watch(error: BaseException | None, saw_events: bool, step: NextStep, backoff: bool) -> None:
    decision = decide_after_watch(error, saw_events=saw_events)
    assert (decision.step, decision.backoff) == (step, backoff)


def test_list_errors_relist_with_backoff() -> None:
    decision = decide_after_list_error(_CONNECT_ERROR)
    assert (decision.step, decision.backoff) == (NextStep.LIST, True)


def test_apply_watch_event_bookmark_only_moves_resource_version() -> None:
    state, sink = ReflectorState("5"), RecordingSink()
    bookmark = Pod.from_dict({"metadata": {"resourceVersion": "9"}})
    assert apply_watch_event(state, "BOOKMARK", bookmark, sink) is EventAction.BOOKMARK
    assert state.resource_version == "9" and sink.calls == []


def test_apply_watch_event_delivers_and_tracks_rv() -> None:
    state, sink = ReflectorState("1"), RecordingSink()
    apply_watch_event(state, "ADDED", make_pod("a", rv="2"), sink)
    apply_watch_event(state, "MODIFIED", make_pod("a", rv="3"), sink)
    apply_watch_event(state, "DELETED", make_pod("a", rv="4"), sink)
    assert sink.calls == [("upsert", "a"), ("upsert", "a"), ("remove", "a")]
    assert state.resource_version == "4"
    with pytest.raises(ValueError):
        apply_watch_event(state, "WEIRD", make_pod("a"), sink)


def test_backoff_doubles_with_jitter_caps_and_resets() -> None:
    state = BackoffState(Backoff(initial=0.8, cap=30.0, factor=2.0, jitter=1.0, reset_after=120.0))
    delays = [state.next_delay(0.0, 0.0) for _ in range(7)]
    assert delays == pytest.approx([0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0])
    assert state.next_delay(0.0, 0.5) == pytest.approx(45.0)  # cap, then +50 % jitter
    assert state.next_delay(1000.0, 0.0) == pytest.approx(0.8)  # quiet for > 2 min


def test_svclabs_components_retry_a_lost_api_server_about_every_second() -> None:
    """However long the API server stays away, the next try is at most 2 s off (1 s cap
    plus full jitter), where client-go's default waits up to a minute (issue 15)."""
    state = BackoffState(RECONNECT_BACKOFF)
    delays = [state.next_delay(float(second), 0.999) for second in range(30)]
    assert max(delays) < 2.0 and delays[0] < 1.0


def _reflector(client: FakeClient, clock: FakeClock, sink: RecordingSink) -> Reflector[Pod]:
    options = ReflectorOptions(namespace="ns1")
    return Reflector(ClientListerWatcher(client, Pod, options), sink, options, clock=clock, random=lambda: 0.0)


async def test_lists_then_watches_from_the_list_resource_version(client: FakeClient, clock: FakeClock) -> None:
    client.seed(make_pod("a"), make_pod("b"), make_pod("other", "ns2"))
    sink = RecordingSink()
    reflector = _reflector(client, clock, sink)
    task = asyncio.create_task(reflector.run())
    await clock.settle()
    await client.create(make_pod("c"))
    await client.delete(Pod, "a", namespace="ns1")
    await clock.settle()
    assert sink.calls == [("replace", (["a", "b"], "3")), ("upsert", "c"), ("remove", "a")]
    assert [a.body for a in client.actions if a.verb == "watch"] == ["3"]
    assert reflector.resource_version == "5"
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_resumes_from_bookmark_rv_after_clean_close(client: FakeClient, clock: FakeClock) -> None:
    client.seed(make_pod("a"))
    await client.create(make_pod("elsewhere", "ns2"))  # rv 2, invisible to an ns1 watch
    sink = RecordingSink()
    reflector = _reflector(client, clock, sink)
    task = asyncio.create_task(reflector.run())
    await clock.settle()
    await client.create(make_pod("hidden", "ns2"))  # rv 3
    client.send_bookmark()
    await clock.settle()
    client.close_watches()
    await clock.settle()
    assert [a.body for a in client.actions if a.verb == "watch"] == ["2", "3"]
    assert reflector.lists == 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_relists_on_410_and_backs_off_on_list_errors(client: FakeClient, clock: FakeClock) -> None:
    client.seed(make_pod("a"))
    sink = RecordingSink()
    reflector = _reflector(client, clock, sink)
    task = asyncio.create_task(reflector.run())
    await clock.settle()
    client.fail_next("list", "Pod", api_error(500, "etcd down"))
    client.expire_watches()
    await clock.settle()
    assert reflector.lists == 2  # the 410 relist, which failed
    await clock.advance_async(0.8)  # first backoff step
    assert reflector.lists == 3
    assert sink.calls[-1] == ("replace", (["a"], "1"))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_silent_watch_is_dropped_once_the_server_sent_bookmarks(client: FakeClient, clock: FakeClock) -> None:
    """A cut-off node: the watch neither ends nor fails, it just stops talking (issue 15)."""
    client.seed(make_pod("a"))
    reflector = _reflector(client, clock, RecordingSink())
    task = asyncio.create_task(reflector.run())
    await clock.settle()
    await clock.advance_async(1.0)
    client.send_bookmark()  # the server shows its heartbeat: 1 s < the 6 s idle timeout
    await clock.settle()
    await clock.advance_async(5.9)
    assert client.watch_count() == 1 and reflector.watches == 1  # not yet silent long enough
    await clock.advance_async(0.2)
    assert reflector.watches == 2 and client.watch_count() == 1  # the old stream was closed
    assert reflector.lists == 1  # resumed from the bookmark's resourceVersion, no relist
    assert [a.body for a in client.actions if a.verb == "watch"] == ["1", "1"]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_new_watch_waits_longer_for_its_first_event_and_longer_again_after_a_drop(
    client: FakeClient, clock: FakeClock
) -> None:
    """A server replaying thousands of writes under load: a new watch's first event came
    after more than 6 s, each drop resumed from the same version, and the proxy never saw
    the new Services (a dual-stack load phase: 4,000 Services took 515 s to program)."""
    client.seed(make_pod("a"))
    reflector = _reflector(client, clock, RecordingSink())
    task = asyncio.create_task(reflector.run())
    await clock.settle()
    client.send_bookmark()  # heartbeats seen: silence now means a dead connection
    await clock.settle()
    await clock.advance_async(6.1)
    assert reflector.watches == 2  # the first watch went silent after its bookmark
    await clock.advance_async(29.8)
    assert reflector.watches == 2  # the new watch has 5 x 6 s for its first event
    await clock.advance_async(0.2)
    assert reflector.watches == 3
    await clock.advance_async(59.8)
    assert reflector.watches == 3  # twice that after a drop before the first event
    await clock.advance_async(0.2)
    assert reflector.watches == 4
    client.send_bookmark()
    await clock.settle()
    await clock.advance_async(6.1)
    assert reflector.watches == 5  # events flowed: back to 6 s of silence, 30 s for the next first event
    await clock.advance_async(29.8)
    assert reflector.watches == 5
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_server_without_frequent_bookmarks_keeps_its_quiet_watches(
    client: FakeClient, clock: FakeClock
) -> None:
    client.seed(make_pod("a"))
    reflector = _reflector(client, clock, RecordingSink())
    task = asyncio.create_task(reflector.run())
    await clock.settle()
    await clock.advance_async(60.0)
    client.send_bookmark()  # kube-apiserver's pace: a minute apart
    await clock.settle()
    await clock.advance_async(120.0)
    assert reflector.watches == 1 and not reflector.state.heartbeats
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
