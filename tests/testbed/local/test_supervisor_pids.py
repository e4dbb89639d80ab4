"""The supervisor's PID files, by which faults find a component (issue 15).

Address plan: a two-node cluster ``pids`` as ``describe_cluster`` lays it out
(state directory: pytest's tmp_path); its children here are two ``sleep``
processes named like the real ones (``scheduler``, ``proxy-pids-worker``),
started without a netns. ``child_signal_script`` runs under ``/bin/sh`` here,
as it does inside a UML guest.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from svclab.testbed.local.record import describe_cluster
from svclab.testbed.local.supervisor import (
    NO_SUCH_CHILD,
    PIDS_DIR,
    ChildSpec,
    Supervisor,
    child_signal_script,
    running_child_pid,
)
from svclab.testbed.spec import parse_spec

CHILDREN = ("scheduler", "proxy-pids-worker")


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    document = {
        "apiVersion": "svclab.dev/v1alpha1",
        "kind": "Testbed",
        "metadata": {"name": "pids"},
        "spec": {"cluster": {"nodes": [{"role": "control-plane"}, {"role": "worker"}]}},
    }
    info = describe_cluster(parse_spec(document, "pids.yaml"), tmp_path).with_supervisor(os.getpid())
    (tmp_path / "cluster.json").write_text(json.dumps(info.to_json()))
    children = [ChildSpec(name, ("sleep", "60"), needs_apiserver=False) for name in CHILDREN]
    running = Supervisor(info, children)
    running.step()
    try:
        yield running
    finally:
        running.stop_children(grace=5)


def _pid(supervisor: Supervisor, name: str) -> int:
    (child,) = [c for c in supervisor.children if c.spec.name == name]
    assert child.process is not None
    return child.process.pid


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20  # a signal's effect shows in /proc at once, but the machine is busy
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_every_child_has_a_pid_file_until_it_is_reaped(supervisor: Supervisor) -> None:
    state = supervisor.state
    for name in CHILDREN:
        assert (state / PIDS_DIR / name).read_text() == f"{_pid(supervisor, name)}\n"
        assert running_child_pid(state, name) == _pid(supervisor, name)
    proxy = _pid(supervisor, "proxy-pids-worker")
    os.kill(proxy, signal.SIGKILL)

    def reaped() -> bool:
        supervisor.step()  # restarts come only after the backoff (0.5 s): the next steps reap it
        return supervisor.children[1].process is None

    _until(reaped, "the reap")
    assert not (state / PIDS_DIR / "proxy-pids-worker").exists()
    assert running_child_pid(state, "proxy-pids-worker") is None
    assert running_child_pid(state, "scheduler") == _pid(supervisor, "scheduler")


def _signal(state: Path, name: str, signum: int, *, stopped: bool, parent: int | None = None) -> tuple[int, str]:
    script = child_signal_script(state, name, parent or os.getpid(), signum, stopped=stopped)
    done = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, timeout=30)
    return done.returncode, done.stdout.strip()


def _frozen(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rfind(")") + 2] in "Tt"


def test_the_signal_script_finds_the_child_in_the_state_asked_for(supervisor: Supervisor) -> None:
    state, pid = supervisor.state, _pid(supervisor, "scheduler")
    assert _signal(state, "scheduler", signal.SIGSTOP, stopped=False) == (0, str(pid))
    _until(lambda: _frozen(pid), "the scheduler frozen")
    assert running_child_pid(state, "scheduler") is None and running_child_pid(state, "scheduler", stopped=True) == pid
    assert _signal(state, "scheduler", signal.SIGSTOP, stopped=False) == (NO_SUCH_CHILD, "")  # not running
    assert _signal(state, "scheduler", signal.SIGCONT, stopped=True) == (0, str(pid))
    _until(lambda: not _frozen(pid), "the scheduler continued")
    assert _signal(state, "scheduler", signal.SIGCONT, stopped=True) == (NO_SUCH_CHILD, "")  # not frozen
    assert _signal(state, "no-such-child", 0, stopped=False) == (NO_SUCH_CHILD, "")
    # A PID file naming a process that is not this supervisor's child (PID reuse): left alone.
    assert _signal(state, "scheduler", signal.SIGKILL, stopped=False, parent=1) == (NO_SUCH_CHILD, "")
    assert running_child_pid(state, "scheduler") == pid
    assert _signal(state, "scheduler", signal.SIGKILL, stopped=False) == (0, str(pid))
    process = supervisor.children[0].process
    assert process is not None and process.wait(timeout=20) == -signal.SIGKILL
