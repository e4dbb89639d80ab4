"""`svclab apiserver --listen-netns` keeps serving (pyroute2's forked netns helper, used
once, stopped it with its SIGTERM), and its socket is made in the namespace by this
thread, which comes back home (issue 15: the helper missed its timeout inside a busy
UML guest and the restarted API server exited). Root only."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (creates a network namespace)"),
]

STARTS = 4  # the helper's SIGTERM reached the server about every other start
STAY_UP = 2.0


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"svclab-apit{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.mark.timeout(120)
def test_a_server_listening_in_a_netns_is_not_stopped_by_the_helpers_sigterm(netns: str, tmp_path: Path) -> None:
    for start in range(STARTS):
        state = tmp_path / f"state{start}"
        argv = [sys.executable, "-m", "svclab.cli", "apiserver", "--state-dir", str(state)]
        server = subprocess.Popen(
            [*argv, "--listen-netns", f"{netns}=127.0.0.1:0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            deadline = time.monotonic() + 30
            while not (state / "kubeconfig").exists() and server.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(STAY_UP)
            assert server.poll() is None, f"start {start}: the server exited ({server.returncode})"
        finally:
            server.terminate()
            _, stderr = server.communicate(timeout=30)
        assert server.returncode == 0, stderr.decode(errors="replace")


def test_a_netns_socket_listens_in_the_namespace_and_the_thread_comes_home(netns: str) -> None:
    from svclab.apiserver.command import _bind

    home = os.readlink("/proc/thread-self/ns/net")
    sock = _bind("127.0.0.1", 0, netns)
    try:
        port = sock.getsockname()[1]
        assert os.readlink("/proc/thread-self/ns/net") == home
        inside = subprocess.run(["ip", "netns", "exec", netns, "ss", "-ltnH"], capture_output=True, text=True)
        here = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True)
        assert f"127.0.0.1:{port} " in inside.stdout and f"127.0.0.1:{port} " not in here.stdout
    finally:
        sock.close()
    with pytest.raises(OSError):
        _bind("127.0.0.1", 0, f"{netns}-missing")
    assert os.readlink("/proc/thread-self/ns/net") == home
    assert not Path(f"/run/netns/{netns}-missing").exists()
