"""WorkQueue and run_workers: dedup, one worker per key, dirty re-add, delays, retries.

Keys are short strings ("a", "b"); time is a FakeClock starting at 1000 s.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from svclab.kube import ShutDown, WorkQueue, run_workers
from svclab.kube.testing import FakeClock


def _queue(clock: FakeClock) -> WorkQueue[str]:
    return WorkQueue(clock=clock, name="test")


async def test_add_deduplicates_queued_keys(clock: FakeClock) -> None:
    queue = _queue(clock)
    for key in ["a", "b", "a", "a"]:
        queue.add(key)
    assert len(queue) == 2
    assert [await queue.get(), await queue.get()] == ["a", "b"]


async def test_key_in_processing_is_not_handed_out_again_until_done(clock: FakeClock) -> None:
    queue = _queue(clock)
    queue.add("a")
    assert await queue.get() == "a"
    queue.add("a")  # re-added while processing: dirty, not queued
    assert len(queue) == 0
    second = asyncio.create_task(queue.get())
    await clock.settle()
    assert not second.done()
    queue.done("a")  # dirty -> queued again
    assert await second == "a"


async def test_done_without_readd_does_not_requeue(clock: FakeClock) -> None:
    queue = _queue(clock)
    queue.add("a")
    await queue.get()
    queue.done("a")
    assert len(queue) == 0 and not queue.is_processing("a")


async def test_add_after_waits_for_the_clock(clock: FakeClock) -> None:
    queue = _queue(clock)
    queue.add_after("a", 5.0)
    queue.add_after("a", 2.0)  # earlier deadline wins
    queue.add_after("a", 9.0)
    assert queue.waiting() == {"a": 1002.0}
    clock.advance(1.9)
    assert len(queue) == 0
    clock.advance(0.1)
    assert len(queue) == 1 and queue.waiting() == {}
    assert await queue.get() == "a"


async def test_add_rate_limited_backs_off_5ms_times_2_to_the_n(clock: FakeClock) -> None:
    queue = _queue(clock)
    expected = [0.005, 0.010, 0.020, 0.040]
    for delay in expected:
        queue.add_rate_limited("a")
        assert queue.waiting()["a"] == pytest.approx(clock.now() + delay)
        clock.advance(delay)
        assert await queue.get() == "a"
        queue.done("a")
    assert queue.num_requeues("a") == 4
    queue.forget("a")
    assert queue.num_requeues("a") == 0


async def test_shutdown_wakes_getters_and_ignores_adds(clock: FakeClock) -> None:
    queue = _queue(clock)
    waiter = asyncio.create_task(queue.get())
    await clock.settle()
    queue.add_after("b", 1.0)
    queue.shutdown()
    with pytest.raises(ShutDown):
        await waiter
    queue.add("a")
    assert len(queue) == 0
    clock.advance(2.0)
    assert len(queue) == 0
    with pytest.raises(ShutDown):
        await queue.get()


async def test_cancelled_getter_passes_its_wakeup_on(clock: FakeClock) -> None:
    queue = _queue(clock)
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await clock.settle()
    queue.add("a")
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    assert await asyncio.wait_for(second, 1) == "a"


async def test_workers_never_sync_one_key_concurrently(clock: FakeClock) -> None:
    queue = _queue(clock)
    active: set[str] = set()
    overlaps: list[str] = []
    synced: list[str] = []
    release = asyncio.Event()

    async def sync(key: str) -> None:
        if key in active:
            overlaps.append(key)
        active.add(key)
        await release.wait()
        active.discard(key)
        synced.append(key)

    workers = asyncio.create_task(run_workers(queue, sync, workers=3))
    queue.add("a")
    await clock.settle()
    queue.add("a")  # arrives while "a" is syncing
    queue.add("b")
    await clock.settle()
    assert active == {"a", "b"}
    release.set()
    await clock.settle()
    queue.shutdown()
    await workers
    assert overlaps == []
    assert sorted(synced) == ["a", "a", "b"]


async def test_run_workers_retries_then_drops(clock: FakeClock) -> None:
    queue = _queue(clock)
    attempts: list[str] = []
    dropped: list[tuple[str, str]] = []

    async def failing_sync(key: str) -> None:
        attempts.append(key)
        raise RuntimeError("boom")

    workers = asyncio.create_task(
        run_workers(queue, failing_sync, workers=1, max_retries=3, on_drop=lambda k, e: dropped.append((k, str(e))))
    )
    queue.add("a")
    await clock.advance_async(1.0)
    queue.shutdown()
    await workers
    assert attempts == ["a"] * 4  # first try + 3 retries
    assert dropped == [("a", "boom")]
    assert queue.num_requeues("a") == 0


async def test_run_workers_logs_routine_retries_at_debug(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    queue = _queue(clock)
    outcomes = iter([LookupError("routine"), RuntimeError("unexpected"), None])

    async def flaky_sync(key: str) -> None:
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome

    caplog.set_level(logging.DEBUG, logger="svclab.kube.workqueue")
    workers = asyncio.create_task(run_workers(queue, flaky_sync, workers=1, routine_errors=(LookupError,)))
    queue.add("a")
    await clock.advance_async(1.0)
    queue.shutdown()
    await workers
    retries = [
        (r.levelno, r.getMessage().rsplit("error=", 1)[1]) for r in caplog.records if "retrying" in r.getMessage()
    ]
    assert retries == [(logging.DEBUG, "LookupError('routine')"), (logging.INFO, "RuntimeError('unexpected')")]


async def test_run_workers_forgets_on_success(clock: FakeClock) -> None:
    queue = _queue(clock)
    outcomes = iter([RuntimeError("once"), None])

    async def flaky_sync(key: str) -> None:
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome

    workers = asyncio.create_task(run_workers(queue, flaky_sync, workers=2))
    queue.add("a")
    await clock.advance_async(0.005)
    queue.shutdown()
    await workers
    assert queue.num_requeues("a") == 0
