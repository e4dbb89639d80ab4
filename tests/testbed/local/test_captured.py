"""Commands run in a local cluster's namespaces with their output kept (svclab.testbed.local.captured)."""

from __future__ import annotations

import io
import os
import socket
import threading

import pytest

from svclab.testbed.local.captured import _entering
from svclab.testbed.local.uml.exec_agent import run_remote
from svclab.testbed.provider import TIMEOUT_STATUS


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (creates a network namespace)")
def test_a_command_runs_in_the_namespace_with_its_status_and_output(netns: str) -> None:
    links = _entering(["ip", "-o", "link"], 10, netns, hostname="pod-a")
    assert links.rc == 0 and [line.split(":")[1].strip() for line in links.stdout.splitlines()] == ["lo"]
    assert _entering(["hostname"], 10, netns, hostname="pod-a").stdout == "pod-a\n"
    both = _entering(["sh", "-c", "echo out; echo err >&2; exit 3"], 10, netns)
    assert (both.rc, both.stdout, both.stderr) == (3, "out\n", "err\n")
    assert _entering(["no-such-command-here"], 10, netns).rc == 127
    assert _entering(["sleep", "5"], 0.5, netns).rc == TIMEOUT_STATUS
    assert _entering(["true"], 10, "svclab-no-such-netns").rc == 1


def test_a_guest_that_never_answers_times_out() -> None:
    """The exec agent's socket stays silent: the exchange ends at its timeout, not never."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        accepted: list[socket.socket] = []
        waiter = threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True)
        waiter.start()
        with socket.create_connection(server.getsockname()) as sock, pytest.raises(TimeoutError):
            run_remote(sock, "t", ["true"], {"node": "n"}, stdout=io.BytesIO(), stderr=io.BytesIO(), timeout=0.3)
        waiter.join(5)
        for conn in accepted:
            conn.close()
