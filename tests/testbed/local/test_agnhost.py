"""Unit tests for the built-in agnhost: netexec's answers and the HTTP/1.1 framing.

Peers are made up (10.244.1.5:40000); no sockets are opened, except by the one
test that starts netexec as a process (on free loopback ports) to read its start-up lines.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from svclab.testbed.local.agnhost import HttpProtocol, netexec_http_response, netexec_udp_reply

PEER = ("10.244.1.5", 40000)


def _get(target: str) -> tuple[int, bytes, bool]:
    return netexec_http_response("web-0", "GET", target, {}, PEER)


def test_netexec_http_endpoints() -> None:
    assert _get("/hostname") == (200, b"web-0", False)
    assert _get("/clientip") == (200, b"10.244.1.5:40000", False)
    assert _get("/echo?msg=hello%20world") == (200, b"hello world", False)
    assert _get("/healthz")[0] == 200
    assert _get("/")[1].startswith(b"NOW: ")
    assert _get("/nope")[0] == 404


def test_netexec_readyz_fails_once_terminating_healthz_does_not() -> None:
    assert _get("/readyz") == (200, b"ok", False)
    terminating = netexec_http_response("web-0", "GET", "/readyz", {}, PEER, terminating=True)
    assert terminating == (503, b"shutting down", False)
    assert netexec_http_response("web-0", "GET", "/healthz", {}, PEER, terminating=True)[0] == 200
    assert netexec_http_response("web-0", "GET", "/hostname", {}, PEER, terminating=True)[1] == b"web-0"


def test_netexec_udp_commands() -> None:
    assert netexec_udp_reply("web-0", b"hostname", PEER) == b"web-0"
    assert netexec_udp_reply("web-0", b"echo hi there\n", PEER) == b"hi there"
    assert netexec_udp_reply("web-0", b"clientip", ("fd00::5", 7)) == b"[fd00::5]:7"


class _Transport:
    def __init__(self) -> None:
        self.written = b""
        self.closed = False

    def get_extra_info(self, name: str) -> Any:
        return PEER if name == "peername" else None

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True


def _connection() -> tuple[HttpProtocol, _Transport]:
    protocol = HttpProtocol(lambda m, t, h, p: netexec_http_response("web-0", m, t, h, p))
    transport = _Transport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    return protocol, transport


def test_keep_alive_pipelining_and_split_packets() -> None:
    protocol, transport = _connection()
    protocol.data_received(b"GET /hostname HTTP/1.1\r\nHost: x\r\n\r\nGET /echo?msg=a HTTP/1.1\r\n")
    protocol.data_received(b"Host: x\r\n\r\n")
    responses = transport.written.split(b"HTTP/1.1 200 OK")
    assert len(responses) == 3 and responses[1].endswith(b"\r\n\r\nweb-0") and responses[2].endswith(b"a")
    assert b"Content-Length: 5\r\n" in transport.written and not transport.closed


def test_request_body_is_skipped_and_connection_close_honoured() -> None:
    protocol, transport = _connection()
    protocol.data_received(b"POST /hostname HTTP/1.1\r\nContent-Length: 4\r\n\r\nab")
    protocol.data_received(b"cdGET /hostname HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert transport.written.count(b"web-0") == 2
    assert b"Connection: close" in transport.written and transport.closed


def test_http10_closes_by_default() -> None:
    protocol, transport = _connection()
    protocol.data_received(b"GET /hostname HTTP/1.0\r\n\r\n")
    assert transport.closed and transport.written.endswith(b"web-0")


def test_netexec_says_where_it_listens_as_agnhost_logs_it() -> None:
    """The start-up lines ``kubectl logs`` shows for a netexec pod (Go's log format)."""
    ports = []
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    argv = [sys.executable, "-m", "svclab.testbed.local.agnhost", "netexec", f"--http-port={ports[0]}"]
    process = subprocess.Popen([*argv, f"--udp-port={ports[1]}"], stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        lines = [process.stderr.readline(), process.stderr.readline()]
    finally:
        process.terminate()
        process.wait(10)
    stamp = r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d "
    assert re.fullmatch(stamp + f"Started HTTP server on port {ports[0]}\n", lines[0])
    assert re.fullmatch(stamp + f"Started UDP server on port {ports[1]}\n", lines[1])


def _status(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_netexec_after_sigterm_keeps_serving_but_is_not_ready() -> None:
    """``--delay-shutdown``: SIGTERM turns ``/readyz`` to 503 while ``/hostname`` still answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [sys.executable, "-m", "svclab.testbed.local.agnhost", "netexec", f"--http-port={port}"]
    process = subprocess.Popen([*argv, "--udp-port=-1", "--delay-shutdown=30"], stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        process.stderr.readline()  # "Started HTTP server ..."
        base = f"http://127.0.0.1:{port}"
        assert _status(base + "/readyz") == (200, b"ok")
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _status(base + "/readyz")[0] == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _status(base + "/readyz") == (503, b"shutting down")
        assert _status(base + "/hostname")[0] == 200 and process.poll() is None
    finally:
        process.kill()
        process.wait(10)
