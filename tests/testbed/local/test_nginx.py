"""The built-in nginx (Docker Hub nginx's default site): index at /, files, 404, no listing.

Address plan: 127.0.0.1 on a free port.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "index.html").write_text("<h1>Welcome to nginx!</h1>")
    (tmp_path / "foo.dat").write_bytes(b"\0" * 70000)
    (tmp_path / "empty").mkdir()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    server = subprocess.Popen(
        [sys.executable, "-m", "svclab.testbed.local.nginx", "--port", str(port), "--root", str(tmp_path)], env=env
    )
    try:
        deadline = time.monotonic() + 20
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert time.monotonic() < deadline and server.poll() is None, "nginx did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        assert server.wait(10) == 0  # SIGTERM is a clean stop


def status(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.read(), reply.headers["Server"]
    except urllib.error.HTTPError as exc:
        return exc.code, b"", exc.headers["Server"]


def test_serves_the_default_site(nginx: str) -> None:
    code, body, server = status(nginx + "/")
    assert (code, server) == (200, "nginx")
    assert b"Welcome to nginx!" in body
    assert status(nginx + "/foo.dat")[:2] == (200, b"\0" * 70000)
    assert status(nginx + "/foo")[0] == 404
    assert status(nginx + "/empty/")[0] == 403  # autoindex off
