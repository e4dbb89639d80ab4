"""Fixtures for controller (shell) tests: a FakeClient-backed controller-manager.

``harness`` seeds a ``FakeClient``, wires the chosen controllers exactly as
``svclab controller-manager`` does (``build_controllers``) with
``FakeRecorder``s, runs the informers in the background and lets a test call
``sync(key)`` on a controller and inspect the recorded (verb, kind) actions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from svclab.controllers.command import build_controllers
from svclab.kube.testing import FakeClient, FakeRecorder

SETTLE_ROUNDS = 200


class Harness:
    def __init__(self, client: FakeClient, names: Sequence[str]) -> None:
        self.client = client
        self.informers, controllers, self.recorders = build_controllers(
            client, names, workers=1, recorder_factory=lambda _client, _component: FakeRecorder()
        )
        self.controllers = {c.name: c for c in controllers}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.informers.run())
        assert await self.informers.wait_for_sync()
        for controller in self.controllers.values():
            controller.on_synced()
        self.client.clear_actions()

    async def settle(self) -> None:
        """Let the informers deliver every pending watch event (loop turns, no time)."""
        for _ in range(SETTLE_ROUNDS):
            await asyncio.sleep(0)

    async def sync(self, controller: str, key: Any) -> list[tuple[str, str]]:
        """Run one sync, settle, and return the writes it made as (verb, kind)."""
        before = len(self.client.actions)
        await self.controllers[controller].sync(key)
        await self.settle()
        return [(a.verb, a.kind) for a in self.client.actions[before:] if a.verb not in ("list", "watch", "get")]

    async def drain(self, controller: str) -> list[tuple[str, str]]:
        """Sync every queued key of ``controller`` (without the worker loop), in order."""
        queue = self.controllers[controller].queue
        writes: list[tuple[str, str]] = []
        while len(queue):
            key = await queue.get()
            try:
                writes += await self.sync(controller, key)
            finally:
                queue.forget(key)
                queue.done(key)
        return writes

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


@pytest.fixture
async def make_harness() -> AsyncIterator[Any]:
    harnesses: list[Harness] = []

    async def make(
        *objects: Any,
        controllers: Sequence[str] = ("endpoints", "endpointslice", "endpointslice-mirroring"),
        client: FakeClient | None = None,
    ) -> Harness:
        client = client or FakeClient()
        client.seed(*objects)
        harness = Harness(client, controllers)
        harnesses.append(harness)
        await harness.start()
        return harness

    yield make
    for harness in harnesses:
        await harness.stop()
