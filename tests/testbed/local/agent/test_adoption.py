"""A restarted node agent follows the container processes its predecessor started.

Plan: pod ``ns/web`` with container ``c``; its last status says ``c`` runs as
``svclab://<pid>`` since 2026-12-03T10:00:00Z and is Ready. A real ``sleep``
process stands for the container (no namespaces needed: the runner only
follows it). Followed, it keeps PID, start time, readiness and restart count;
when it ends the runner sees it through the pidfd, with an unknown exit status.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from svclab.testbed.local.agent.containers import UNKNOWN_EXIT_CODE, Adoption, ContainerRunner, Launch
from svclab.testbed.local.agent.podworker import _adoption
from svclab.testbed.local.agent.sandbox import Sandbox
from svclab.testbed.local.agent.status import RunState

pytestmark = pytest.mark.timeout(10)

STARTED = "2026-12-03T10:00:00Z"


def status(pid: int, *, ready: bool = True, running: bool = True) -> dict[str, Any]:
    state = {"running": {"startedAt": STARTED}} if running else {"waiting": {"reason": "CrashLoopBackOff"}}
    return {"name": "c", "containerID": f"svclab://{pid}", "ready": ready, "restartCount": 2, "state": state}


@pytest.mark.parametrize(
    ("last", "running", "expected"),
    [
        (status(41), [41, 9], Adoption(41, STARTED, True)),
        (status(41, ready=False), [41, 9], Adoption(41, STARTED, False)),
        (status(40), [41, 9], None),  # the status is another process's: do not trust it
        (status(41, running=False), [41, 9], None),
        (None, [41, 9], None),
        (status(41), None, None),  # nothing of it runs any more
    ],
    ids=["ready", "not-ready", "other-process", "not-running", "no-status", "process-gone"],
)
def test_adoption_only_for_the_process_the_status_describes(
    last: dict[str, Any] | None, running: list[int] | None, expected: Adoption | None
) -> None:
    assert _adoption(last, running) == expected


def test_runner_follows_an_adopted_process_until_it_ends(tmp_path: Path) -> None:
    process = subprocess.Popen(["sleep", "30"])
    sandbox = Sandbox("u", "ns", "web", "netns", "veth", "10.244.1.5", 0, 0, str(tmp_path))
    sandbox.containers["c"] = [process.pid, 1]
    pod = {"metadata": {"name": "web", "namespace": "ns", "uid": "u"}, "spec": {"restartPolicy": "Never"}}
    changes: list[Any] = []

    async def scenario() -> None:
        runner = ContainerRunner(
            {"name": "c", "image": "x", "readinessProbe": {"exec": {"command": ["true"]}}},
            pod,
            sandbox,
            Launch(("false",)),  # would be started afresh: must not run while the old one lives
            {},
            lambda: changes.append(runner.view),
            restart_count=2,
            adoption=Adoption(process.pid, STARTED, True),
        )
        task = asyncio.ensure_future(runner.run())
        await asyncio.sleep(0.2)
        assert runner.view.state is RunState.RUNNING
        assert (runner.view.pid, runner.view.started_at, runner.view.restart_count) == (process.pid, STARTED, 2)
        assert runner.ready  # still Ready: a readiness probe does not start from "not ready"
        process.kill()
        await asyncio.wait_for(task, 5)
        assert runner.view.state.value == RunState.TERMINATED.value  # (mypy narrowed it above)
        assert runner.view.exit_code == UNKNOWN_EXIT_CODE
        assert "c" not in sandbox.containers

    try:
        asyncio.run(scenario())
    finally:
        process.kill()
        process.wait()
    assert changes


def _record(state_dir: Path, sandbox: Sandbox) -> None:
    directory = state_dir / "pods" / sandbox.uid
    directory.mkdir(parents=True)
    (directory / "info.json").write_text(json.dumps(dataclasses.asdict(sandbox)))


def test_a_restarted_agent_holds_its_predecessors_pod_addresses_before_any_pod_starts(tmp_path: Path) -> None:
    """Seen live: a pod created while the agent restarted got the IP of a running pod that
    was adopted a moment later (sandboxes are built on threads), so half the Service's
    traffic went to the wrong pod."""
    from svclab.testbed.local.agent.agent import NodeAgent
    from svclab.testbed.local.agent.node import NodeOptions

    for uid, ip in (("old-a", "10.244.1.2"), ("old-b", "10.244.1.3")):
        _record(tmp_path, Sandbox(uid, "ns", uid, "netns", "veth", ip, 0, 0, str(tmp_path / "pods" / uid)))
    agent = NodeAgent(None, cluster="c", node=NodeOptions("n", "172.18.0.3", "10.244.1.0/24"), state_dir=tmp_path)
    allocator = agent._context.allocator
    assert {uid: [str(ip) for ip in ips] for uid, ips in allocator.in_use().items()} == {
        "old-a": ["10.244.1.2"],
        "old-b": ["10.244.1.3"],
    }
    assert [str(ip) for ip in allocator.allocate("newcomer")] == ["10.244.1.4"]
