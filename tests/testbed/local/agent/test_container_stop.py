"""Stopping a container: once ``stop`` returns, the container shows as terminated, so the
final pod status of a graceful deletion says Ready False before the pod goes (kubelet's
order; kr8s's ``wait("condition=Ready=False")`` after a delete waits for it).

No addresses: one ``sleep`` process on the host, in a session of its own.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from svclab.testbed.local.agent.containers import ContainerRunner, Launch
from svclab.testbed.local.agent.sandbox import Sandbox
from svclab.testbed.local.agent.status import RunState

pytestmark = pytest.mark.timeout(30)


class HostSandbox(Sandbox):
    def entering(self, workdir: str | None = None) -> Callable[[], None]:
        return os.setsid


def test_stop_returns_with_the_container_terminated(tmp_path: Path) -> None:
    sandbox = HostSandbox("u-1", "ns", "web", "", "", "", 0, 0, str(tmp_path))
    pod = {"metadata": {"namespace": "ns", "name": "web", "uid": "u-1"}, "spec": {"restartPolicy": "Always"}}

    async def scenario() -> tuple[RunState, bool]:
        runner = ContainerRunner({"name": "c", "image": "x"}, pod, sandbox, Launch(("sleep", "60")), {}, lambda: None)
        run = asyncio.ensure_future(runner.run())
        while runner.view.state is not RunState.RUNNING:
            await runner.wait_changed()
        await runner.stop(5)
        state, ready = runner.view.state, runner.view.ready
        await asyncio.wait_for(run, 5)
        return state, ready

    state, ready = asyncio.run(scenario())
    assert state is RunState.TERMINATED and ready is False
