"""The helper processes of ``proxy_userspace``: backend server, clients and the proxy under test.

Run as ``python -m svclab.bench.proxy_userspace_proc ROLE ...`` (possibly
under ``ip netns exec``); each prints one JSON line:

* ``serve HOST``: a bulk sender (the client sends a byte count and a
  newline, then reads that many bytes; one thread per connection, the GIL is
  released in ``send``) and a minimal HTTP/1.1 server on uvloop; prints the
  ports and serves until killed.
* ``client bulk|keepalive|new HOST PORT N [CONCURRENCY]``: one measurement,
  prints the elapsed seconds.
* ``proxy SPEC``: the userspace proxy sockets described by the JSON ``SPEC``
  (backend, copy modes, optional ClusterIPs for portal rules); prints where
  clients should connect, then serves until killed.
"""

from __future__ import annotations

import asyncio
import functools
import json
import socket
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from svclab.proxy.service_port import Protocol, ServiceName, ServicePortName
from svclab.proxy.userspace.loadbalancer import RoundRobinBalancer
from svclab.proxy.userspace.relay import CopyMode, PipePool
from svclab.proxy.userspace.rules import Portal, RuleOptions, render_restore
from svclab.proxy.userspace.tcp import TcpProxySocket

__all__ = ["BULK_SERVICE_PORT", "HTTP_SERVICE_PORT", "REQUEST", "RESPONSE", "main"]

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
#: Service ports of the benchmark Services when portal rules are used.
BULK_SERVICE_PORT, HTTP_SERVICE_PORT = 5001, 80


def _send_bulk(conn: socket.socket, chunk: memoryview) -> None:
    with conn:
        remaining = int(conn.makefile("rb").readline())
        while remaining > 0:
            remaining -= conn.send(chunk[: min(remaining, len(chunk))])


def _serve_bulk(listener: socket.socket) -> None:
    chunk = memoryview(bytes(1 << 20))
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_send_bulk, args=(conn, chunk), daemon=True).start()


class _HttpServer(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        requests = self.buffer.count(b"\r\n\r\n")
        if requests:
            self.buffer = self.buffer[self.buffer.rindex(b"\r\n\r\n") + 4 :]
            self.transport.write(RESPONSE * requests)


def _serve(host: str) -> None:
    import uvloop

    bulk = socket.create_server((host, 0), backlog=1024)
    threading.Thread(target=_serve_bulk, args=(bulk,), daemon=True).start()

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_HttpServer, host, 0, backlog=4096)
        print(json.dumps({"bulk": bulk.getsockname()[1], "http": server.sockets[0].getsockname()[1]}), flush=True)
        await server.serve_forever()

    uvloop.run(main())


def _client_bulk(host: str, port: int, size: int) -> float:
    with socket.create_connection((host, port)) as sock:
        started = time.perf_counter()
        sock.sendall(b"%d\n" % size)
        buffer = bytearray(1 << 20)
        received = 0
        while received < size:
            n = sock.recv_into(buffer)
            if not n:
                raise ConnectionError(f"bulk transfer ended after {received} of {size} bytes")
            received += n
        return time.perf_counter() - started


class _HttpClient(asyncio.Protocol):
    """Counts whole responses; with ``keepalive`` sends the next request on the same connection."""

    def __init__(self, done: asyncio.Future[None], keepalive: bool, budget: list[int]) -> None:
        self.done, self.keepalive, self.budget = done, keepalive, budget
        self.received = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.transport.write(REQUEST)

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        if self.received < len(RESPONSE):
            return
        self.received -= len(RESPONSE)
        if self.keepalive and self.budget[0] > 0:
            self.budget[0] -= 1
            self.transport.write(REQUEST)
        else:
            self.transport.close()
            if not self.done.done():
                self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(exc or ConnectionError("connection closed before the response"))


def _client_http(host: str, port: int, requests: int, concurrency: int, keepalive: bool) -> float:
    import uvloop

    async def worker(budget: list[int]) -> None:
        loop = asyncio.get_running_loop()
        while budget[0] > 0:
            budget[0] -= 1
            done: asyncio.Future[None] = loop.create_future()
            await loop.create_connection(functools.partial(_HttpClient, done, keepalive, budget), host, port)
            await done

    async def main() -> float:
        budget = [requests]
        started = time.perf_counter()
        await asyncio.gather(*(worker(budget) for _ in range(concurrency)))
        return time.perf_counter() - started

    return uvloop.run(main())


def _proxy(spec: dict[str, Any]) -> None:
    """Proxy sockets per copy mode; with ``cluster_ips`` also the portal rules (needs root)."""
    import uvloop

    async def main() -> None:
        balancer, portals, targets = RoundRobinBalancer(), [], {}
        for index, mode in enumerate(spec["modes"]):
            cluster_ip = spec["cluster_ips"][index] if spec.get("cluster_ips") else None
            targets[mode] = {"host": cluster_ip or spec["listen"]}
            for kind, service_port in (("bulk", BULK_SERVICE_PORT), ("http", HTTP_SERVICE_PORT)):
                name = ServicePortName(ServiceName("svclab-bench", f"{kind}-{mode}"), kind, Protocol.TCP)
                balancer.set_service(name, 0)
                balancer.set_endpoints(name, [(spec["backend"], spec["ports"][kind])])
                listener = socket.create_server((spec["listen"], 0), backlog=4096)
                proxy = TcpProxySocket(name, listener, balancer, copy=CopyMode(mode), pipes=PipePool())
                targets[mode][kind] = service_port if cluster_ip else proxy.port
                if cluster_ip:
                    portals.append(Portal(name, Protocol.TCP, cluster_ip, service_port, proxy.port))
        if portals:
            import subprocess

            text = render_restore(portals, RuleOptions(host_ip=spec["host_ip"]))
            # Set-up before the proxy serves anything: blocking is harmless here.
            subprocess.run(["iptables-restore", "-w", "--noflush"], input=text, text=True, check=True)  # noqa: ASYNC221
            jump = ["-m", "comment", "--comment", "svclab-bench", "-j", "KUBE-PORTALS-CONTAINER"]
            subprocess.run(["iptables", "-w", "-t", "nat", "-I", "PREROUTING", *jump], check=True)  # noqa: ASYNC221
        print(json.dumps(targets), flush=True)
        await asyncio.Event().wait()

    uvloop.run(main())


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    role = args[0]
    if role == "serve":
        _serve(args[1])
    elif role == "proxy":
        _proxy(json.loads(args[1]))
    elif role == "client" and args[1] == "bulk":
        print(json.dumps({"seconds": _client_bulk(args[2], int(args[3]), int(args[4]))}), flush=True)
    elif role == "client":
        seconds = _client_http(args[2], int(args[3]), int(args[4]), int(args[5]), args[1] == "keepalive")
        print(json.dumps({"seconds": seconds}), flush=True)
    else:
        print(f"unknown role {role!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
