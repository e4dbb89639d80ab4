"""The pod worker's sandbox step without a kernel: create_sandbox and
destroy_sandbox are stand-ins, the API client records writes.

Plan: pod ``ns/web`` (uid u-1) on a node with pod CIDR 10.244.1.0/24. A first
sandbox attempt that fails is retried (kubelet retries FailedCreatePodSandBox);
a pod deleted while its sandbox keeps failing stops retrying and is removed
from the API; a pod deleted while its sandbox is being built gets that sandbox
torn down instead of leaked.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from svclab.testbed.local.agent import podworker
from svclab.testbed.local.agent.ipam import PodIPAllocator
from svclab.testbed.local.agent.podworker import AgentContext, PodWorker
from svclab.testbed.local.agent.sandbox import Sandbox

pytestmark = pytest.mark.timeout(30)

POD = {
    "metadata": {"namespace": "ns", "name": "web", "uid": "u-1"},
    "spec": {"containers": [{"name": "c", "image": "x", "command": ["true"]}]},
}


class RecordingClient:
    def __init__(self) -> None:
        self.deleted: list[str] = []

    async def patch(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def delete(self, resource: Any, name: str, **kwargs: Any) -> None:
        self.deleted.append(name)


def sandbox_for(ip: Any) -> Sandbox:
    return Sandbox(
        uid="u-1",
        namespace="ns",
        name="web",
        netns="svclab-t-pu1",
        host_veth="vethu1",
        ip=str(ip),
        holder_pid=0,
        holder_ticks=0,
        directory="/nonexistent",
    )


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    state: dict[str, Any] = {"attempts": 0, "fail": 1, "destroyed": [], "started": 0, "gate": None}

    def create_sandbox(**kwargs: Any) -> Sandbox:
        state["attempts"] += 1
        if state["gate"] is not None:
            state["gate"].wait(10)
        if state["attempts"] <= state["fail"]:
            raise OSError("veth: device busy")
        return sandbox_for(kwargs["ips"][0])

    def start_containers(self: PodWorker) -> None:
        state["started"] += 1

    monkeypatch.setattr(podworker, "create_sandbox", create_sandbox)
    monkeypatch.setattr(podworker, "destroy_sandbox", state["destroyed"].append)
    monkeypatch.setattr(podworker, "SANDBOX_RETRY_FIRST", 0.01)
    monkeypatch.setattr(PodWorker, "_start_containers", start_containers)
    state["client"] = RecordingClient()
    state["allocator"] = PodIPAllocator(["10.244.1.0/24"])
    state["context"] = AgentContext(
        client=state["client"],
        cluster="t",
        node_name="n",
        node_ip="10.0.0.2",
        state_dir=tmp_path,
        allocator=state["allocator"],
    )
    return state


async def _until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.01)


def test_failed_sandbox_is_retried_then_containers_start(world: dict[str, Any]) -> None:
    async def scenario() -> None:
        worker = PodWorker(POD, world["context"])
        task = asyncio.ensure_future(worker.run())
        await _until(lambda: world["started"])
        assert world["attempts"] == 2
        assert [str(ip) for ip in world["allocator"].in_use()["u-1"]] == ["10.244.1.2"]
        worker.update({**POD, "metadata": {**POD["metadata"], "deletionTimestamp": "x"}})
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    assert [s.ip for s in world["destroyed"]] == ["10.244.1.2"]
    assert world["client"].deleted == ["web"] and world["allocator"].in_use() == {}


def test_deletion_stops_the_retries(world: dict[str, Any]) -> None:
    world["fail"] = 10**6

    async def scenario() -> None:
        worker = PodWorker(POD, world["context"])
        task = asyncio.ensure_future(worker.run())
        await _until(lambda: world["attempts"] >= 3)
        worker.force_stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    assert world["started"] == 0 and world["destroyed"] == []
    assert world["allocator"].in_use() == {}


def test_sandbox_built_during_deletion_is_torn_down(world: dict[str, Any]) -> None:
    world["fail"], world["gate"] = 0, threading.Event()

    async def scenario() -> None:
        worker = PodWorker(POD, world["context"])
        task = asyncio.ensure_future(worker.run())
        await _until(lambda: world["attempts"] == 1)
        worker.update({**POD, "metadata": {**POD["metadata"], "deletionTimestamp": "x"}})
        await asyncio.sleep(0.05)
        world["gate"].set()  # the sandbox is finished only now
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    assert world["started"] == 0
    assert [s.ip for s in world["destroyed"]] == ["10.244.1.2"]
    assert world["client"].deleted == ["web"]
