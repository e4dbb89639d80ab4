"""Measuring the userspace copy path: direct vs through the proxy, on loopback.

``bench_userspace`` starts a backend process (a bulk sender and a tiny
HTTP/1.1 server, both on uvloop) and, for each measurement, a client
process; the proxy itself runs in the calling process on a uvloop loop, so
``getrusage(RUSAGE_SELF)`` is exactly the proxy's CPU. Three processes share
the machine's cores, as client pod, node proxy and server pod would on one
node. Figures per path (direct, and through the proxy per ``CopyMode``):

* bulk TCP throughput in MB/s (the client asks for N bytes and reads them);
* HTTP requests/s over keep-alive connections, and with a new connection per
  request (``concurrency`` clients in parallel);
* proxy CPU seconds per 10,000 requests for both HTTP runs.

Upstream's reference point is the Go userspace proxy at 36% of direct
pod-to-pod throughput (kubernetes PR #16344). ``python -m
svclab.proxy.userspace.bench`` prints the table; the ``serve`` and ``client``
subcommands are the helper processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from svclab.proxy.service_port import Protocol, ServiceName, ServicePortName
from svclab.proxy.userspace.loadbalancer import RoundRobinBalancer
from svclab.proxy.userspace.relay import CopyMode, PipePool
from svclab.proxy.userspace.tcp import TcpProxySocket

__all__ = ["BenchFigures", "PathFigures", "bench_userspace"]

_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
_REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
# Helper processes start through main() so the package is not run as __main__ twice.
_HELPER = (sys.executable, "-c", "import sys; from svclab.proxy.userspace.bench import main; "
           "raise SystemExit(main(sys.argv[1:]))")
_BULK = ServicePortName(ServiceName("svclab-bench", "bulk"), "bulk", Protocol.TCP)  # + "-<mode>" per proxy
_HTTP = ServicePortName(ServiceName("svclab-bench", "http"), "http", Protocol.TCP)


@dataclass(frozen=True, slots=True)
class PathFigures:
    """One path's results; CPU figures are 0 for the direct path (no proxy)."""

    bulk_mb_s: float
    keepalive_rps: float
    new_connection_rps: float
    cpu_s_per_10k_keepalive: float = 0.0
    cpu_s_per_10k_new_connection: float = 0.0


@dataclass(frozen=True, slots=True)
class BenchFigures:
    """Direct figures and proxied figures per copy mode."""

    direct: PathFigures
    proxied: Mapping[CopyMode, PathFigures]

    def bulk_ratio(self, mode: CopyMode) -> float:
        """Proxied bulk throughput as a fraction of direct."""
        return self.proxied[mode].bulk_mb_s / self.direct.bulk_mb_s

    def render(self) -> str:
        rows = [("direct", self.direct, "")] + [
            (f"userspace/{m.value}", f, f"{self.bulk_ratio(m):.0%}") for m, f in self.proxied.items()]
        out = [f"{'path':<22}{'bulk MB/s':>11}{'of direct':>11}{'keepalive r/s':>15}{'new-conn r/s':>14}"
               f"{'CPU s/10k ka':>14}{'CPU s/10k new':>15}"]
        for label, f, ratio in rows:
            out.append(f"{label:<22}{f.bulk_mb_s:>11.0f}{ratio:>11}{f.keepalive_rps:>15.0f}"
                       f"{f.new_connection_rps:>14.0f}{f.cpu_s_per_10k_keepalive:>14.2f}"
                       f"{f.cpu_s_per_10k_new_connection:>15.2f}")
        return "\n".join(out)


# -- helper processes ------------------------------------------------------

def _serve_bulk(listener: socket.socket) -> None:
    chunk = memoryview(bytes(1 << 20))
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_send_bulk, args=(conn, chunk), daemon=True).start()


def _send_bulk(conn: socket.socket, chunk: memoryview) -> None:
    with conn:
        remaining = int(conn.makefile("rb").readline())
        while remaining > 0:
            remaining -= conn.send(chunk[:min(remaining, len(chunk))])


class _HttpServer(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        requests = self.buffer.count(b"\r\n\r\n")
        if requests:
            self.buffer = self.buffer[self.buffer.rindex(b"\r\n\r\n") + 4:]
            self.transport.write(_RESPONSE * requests)


def _serve() -> None:
    """Backend process: print the bulk and HTTP ports, serve until killed."""
    import uvloop
    bulk = socket.create_server(("127.0.0.1", 0), backlog=1024)
    threading.Thread(target=_serve_bulk, args=(bulk,), daemon=True).start()

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_HttpServer, "127.0.0.1", 0, backlog=4096)
        http_port = server.sockets[0].getsockname()[1]
        print(json.dumps({"bulk": bulk.getsockname()[1], "http": http_port}), flush=True)
        await server.serve_forever()
    uvloop.run(main())


def _client_bulk(port: int, size: int) -> float:
    with socket.create_connection(("127.0.0.1", port)) as sock:
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
        self.transport.write(_REQUEST)

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        if self.received < len(_RESPONSE):
            return
        self.received -= len(_RESPONSE)
        if self.keepalive and self.budget[0] > 0:
            self.budget[0] -= 1
            self.transport.write(_REQUEST)
        else:
            self.transport.close()
            if not self.done.done():
                self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(exc or ConnectionError("connection closed before the response"))


async def _http_worker(port: int, keepalive: bool, budget: list[int]) -> None:
    loop = asyncio.get_running_loop()
    while budget[0] > 0:
        budget[0] -= 1
        done: asyncio.Future[None] = loop.create_future()
        await loop.create_connection(lambda: _HttpClient(done, keepalive, budget), "127.0.0.1", port)
        await done


def _client_http(port: int, requests: int, concurrency: int, keepalive: bool) -> float:
    import uvloop

    async def main() -> float:
        budget = [requests]
        started = time.perf_counter()
        await asyncio.gather(*(_http_worker(port, keepalive, budget) for _ in range(concurrency)))
        return time.perf_counter() - started
    return uvloop.run(main())


def _client(argv: Sequence[str]) -> None:
    kind, port = argv[0], int(argv[1])
    if kind == "bulk":
        print(json.dumps({"seconds": _client_bulk(port, int(argv[2]))}), flush=True)
    else:
        requests, concurrency = int(argv[2]), int(argv[3])
        print(json.dumps({"seconds": _client_http(port, requests, concurrency, kind == "keepalive")}),
              flush=True)


# -- the measurement -------------------------------------------------------

async def _run_client(*args: object) -> float:
    process = await asyncio.create_subprocess_exec(
        *_HELPER, "client", *map(str, args),
        stdout=subprocess.PIPE)
    stdout, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"bench client {args} exited with {process.returncode}")
    return float(json.loads(stdout)["seconds"])


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure_round(ports: Mapping[str, int], *, bulk_bytes: int, requests: int, new_conn_requests: int,
                         concurrency: int) -> PathFigures:
    """One round on one path; CPU is this process's (the proxy's) during each HTTP run."""
    bulk = await _run_client("bulk", ports["bulk"], bulk_bytes)
    cpu = _cpu_seconds()
    keepalive = await _run_client("keepalive", ports["http"], requests, concurrency)
    cpu_keepalive = _cpu_seconds() - cpu
    cpu = _cpu_seconds()
    new_conn = await _run_client("new", ports["http"], new_conn_requests, concurrency)
    cpu_new = _cpu_seconds() - cpu
    return PathFigures(
        bulk_mb_s=bulk_bytes / bulk / 1e6, keepalive_rps=requests / keepalive,
        new_connection_rps=new_conn_requests / new_conn,
        cpu_s_per_10k_keepalive=cpu_keepalive / requests * 10_000,
        cpu_s_per_10k_new_connection=cpu_new / new_conn_requests * 10_000)


def _best(rounds: Sequence[PathFigures], proxied: bool) -> PathFigures:
    """Best throughput and lowest CPU over the rounds (other load only ever slows a run down)."""
    return PathFigures(
        bulk_mb_s=max(r.bulk_mb_s for r in rounds), keepalive_rps=max(r.keepalive_rps for r in rounds),
        new_connection_rps=max(r.new_connection_rps for r in rounds),
        cpu_s_per_10k_keepalive=min(r.cpu_s_per_10k_keepalive for r in rounds) if proxied else 0.0,
        cpu_s_per_10k_new_connection=min(r.cpu_s_per_10k_new_connection for r in rounds) if proxied else 0.0)


async def _bench(backend: Mapping[str, int], modes: Sequence[CopyMode], rounds: int, **sizes: int) -> BenchFigures:
    balancer = RoundRobinBalancer()
    proxies: dict[CopyMode, dict[str, TcpProxySocket]] = {}
    for mode in modes:
        proxies[mode] = {}
        for key, name in (("bulk", _BULK), ("http", _HTTP)):
            mode_name = ServicePortName(ServiceName(name.service.namespace, f"{name.service.name}-{mode.value}"),
                                        name.port, name.protocol)
            balancer.set_service(mode_name, 0)
            balancer.set_endpoints(mode_name, [("127.0.0.1", backend[key])])
            listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
            proxies[mode][key] = TcpProxySocket(mode_name, listener, balancer, copy=mode, pipes=PipePool())
    results: dict[CopyMode | None, list[PathFigures]] = {None: [], **{m: [] for m in modes}}
    try:
        for _ in range(rounds):  # interleaved, so a burst of other load hits every path alike
            results[None].append(await _measure_round(backend, **sizes))
            for mode, sockets in proxies.items():
                results[mode].append(await _measure_round({k: s.port for k, s in sockets.items()}, **sizes))
    finally:
        for sockets in proxies.values():
            for proxy_socket in sockets.values():
                proxy_socket.close(connections=True)
    return BenchFigures(_best(results[None], proxied=False),
                        {mode: _best(results[mode], proxied=True) for mode in modes})


def bench_userspace(*, bulk_bytes: int = 1 << 30, requests: int = 20_000, new_conn_requests: int = 5_000,
                    concurrency: int = 8, modes: Sequence[CopyMode] = (CopyMode.SPLICE, CopyMode.TRANSPORT),
                    rounds: int = 3) -> BenchFigures:
    """Run the whole comparison (tens of seconds); see the module docstring. Needs no root.

    Each figure is the best of ``rounds`` interleaved runs per path.
    """
    import uvloop
    server = subprocess.Popen([*_HELPER, "serve"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        backend = json.loads(server.stdout.readline())
        return uvloop.run(_bench(backend, modes, rounds, bulk_bytes=bulk_bytes, requests=requests,
                                 new_conn_requests=new_conn_requests, concurrency=concurrency))
    finally:
        server.terminate()
        server.wait(timeout=10)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "serve":
        _serve()
        return 0
    if args and args[0] == "client":
        _client(args[1:])
        return 0
    parser = argparse.ArgumentParser(prog="python -m svclab.proxy.userspace.bench")
    parser.add_argument("--bulk-mb", type=int, default=1024)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--new-conn-requests", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mode", choices=[m.value for m in CopyMode], action="append")
    options = parser.parse_args(args)
    modes = [CopyMode(m) for m in options.mode] if options.mode else list(CopyMode)
    print(bench_userspace(bulk_bytes=options.bulk_mb << 20, requests=options.requests,
                          new_conn_requests=options.new_conn_requests, concurrency=options.concurrency,
                          modes=modes, rounds=options.rounds).render())
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
