"""The connection probe: what one new connection through a path costs, timed precisely.

The quantity that differs between proxy modes is the per-connection set-up
cost (iptables walks ``KUBE-SERVICES`` on a connection's first packet,
nftables and ipvs look up hash tables, the userspace proxy dials a second
connection).  Throughput through Python backends hides it, so the probe
times, per connection, with ``time.monotonic_ns``:

* ``connect``: the TCP handshake (``socket.connect`` until it returns), and
* ``first_response``: connect plus sending a tiny request and receiving the
  first byte of the answer,

on a bare socket: no HTTP library runs inside the timed part.  The rest of
the answer is read after the clock stopped, so the server closes first and
its side keeps the TIME_WAIT (the client's ephemeral ports never run out).

This module does no locust work; ``users.ConnectProbeUser`` drives it.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["ConnectionTiming", "Endpoint", "endpoint_of", "time_connection"]

_READ = 4096


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a probe connects and what it asks for."""

    host: str
    port: int
    request: bytes

    @property
    def family(self) -> socket.AddressFamily:
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET


@dataclass(frozen=True, slots=True)
class ConnectionTiming:
    connect_ns: int
    first_response_ns: int  # includes connect_ns


def endpoint_of(url: str) -> Endpoint:
    """``http://HOST:PORT/PATH`` -> the probe's endpoint and its HTTP/1.0 request (side-effect-free)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"probe wants an http://HOST:PORT/PATH URL, got {url!r}")
    path = parts.path or "/"
    return Endpoint(parts.hostname, parts.port or 80, f"GET {path} HTTP/1.0\r\nConnection: close\r\n\r\n".encode())


def time_connection(target: Endpoint, timeout_s: float = 5.0) -> ConnectionTiming:
    """Open one connection, time it, read the answer to its end; OSError when the path fails."""
    sock = socket.socket(target.family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout_s)
        started = time.monotonic_ns()
        sock.connect((target.host, target.port))
        connected = time.monotonic_ns()
        sock.sendall(target.request)
        first = sock.recv(_READ)
        answered = time.monotonic_ns()
        if not first:
            raise ConnectionError(f"{target.host}:{target.port} closed without answering")
        while sock.recv(_READ):  # outside the timing: let the server close first
            pass
        return ConnectionTiming(connected - started, answered - started)
    finally:
        sock.close()
