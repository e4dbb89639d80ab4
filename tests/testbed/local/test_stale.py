"""What a killed run left (state directory, namespaces, nothing running) is stale;
anything of the cluster still running, or a bring-up under way, is not."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from svclab.testbed.local import naming, network
from svclab.testbed.local.lifecycle import cluster_exists, is_stale, tear_down

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (creates network namespaces)")


@pytest.fixture
def left_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A cluster's state directory (made long ago) and its network namespace, nothing running."""
    monkeypatch.setenv("SVCLAB_RUN_DIR", str(tmp_path / "run"))
    name = f"stale{uuid.uuid4().hex[:6]}"
    state = naming.state_dir(name)
    (state / "logs").mkdir(parents=True)
    os.utime(state, (0, 0))
    namespace = f"{naming.cluster_netns_prefix(name)}net"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        yield name
    finally:
        tear_down(name, grace=1.0)
        network.remove_netns(namespace)


def test_nothing_running_is_stale_and_tear_down_frees_the_name(left_over: str) -> None:
    assert is_stale(left_over)
    tear_down(left_over, grace=1.0)
    assert not cluster_exists(left_over)
    assert not is_stale(left_over)


def test_a_process_in_its_namespace_keeps_it(left_over: str) -> None:
    namespace = f"{naming.cluster_netns_prefix(left_over)}net"
    sleeper = subprocess.Popen(["ip", "netns", "exec", namespace, "sleep", "30"])
    try:
        deadline = time.monotonic() + 10  # `ip netns exec` enters the namespace, then execs sleep
        while not network.pids_in_netns([namespace]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not is_stale(left_over)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_process_naming_its_state_directory_keeps_it(left_over: str) -> None:
    state = naming.state_dir(left_over)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", f"uml_dir={state}/uml"])
    try:
        assert not is_stale(left_over)
    finally:
        holder.kill()
        holder.wait()


def test_a_young_state_directory_may_be_a_bring_up_under_way(left_over: str) -> None:
    os.utime(naming.state_dir(left_over))
    assert not is_stale(left_over)
    assert is_stale(left_over, settle=0.0)
