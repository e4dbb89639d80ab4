"""The node agent's streaming server: kubelet's port 10250 role, on a Unix socket.

The API server proxies ``pods/log`` and ``pods/exec`` here (upstream: the
apiserver dials the kubelet at the node's address and ``kubeletEndpoint``
port). A local cluster's API server runs in the host's network namespace and
the agents in their nodes' namespaces, so the agent listens on a Unix socket
in its state directory instead (:data:`SOCKET_NAME`), reachable from every
namespace and, being root's file, from no one else.

Paths, as kubelet serves them:

* ``GET /containerLogs/NS/POD/CONTAINER?follow&previous&tailLines&sinceSeconds&
  sinceTime&timestamps&limitBytes``: the container's log (:mod:`.logs`); with
  ``follow`` it keeps streaming until that container instance exits.
* ``GET /exec/NS/POD/CONTAINER?command=...&stdin&stdout&stderr&tty``: a WebSocket
  upgrade with subprotocol ``v5.channel.k8s.io`` or ``v4.channel.k8s.io``
  (:mod:`.exec_session`).
* ``GET /attach/NS/POD/CONTAINER``: the same WebSocket, carrying the container's
  output from then on until it exits.
* ``GET /portForward/NS/POD``: a WebSocket upgrade with subprotocol
  ``SPDY/3.1+portforward.k8s.io`` (:mod:`.portforward_session`), or plain WebSocket
  channels with ``?ports=`` (:mod:`.ws_portforward`); connections go
  to localhost in the pod's network namespace.

Errors are ``Status`` bodies with kubelet's messages, which the API server
passes on unchanged.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import orjson
from aiohttp import web

from svclab.apimachinery import remotecommand as rc
from svclab.testbed.local.nsexec import in_netns

from .containers import ContainerRunner
from .exec_session import ExecRequest, run_exec
from .logs import LogQuery, parse_entry, render
from .portforward_session import PROTOCOL, run_port_forward
from .sandbox import Sandbox
from .status import RunState
from .ws_portforward import CHANNEL_PROTOCOLS, parse_ports, run_channel_port_forward

__all__ = ["PodLookup", "SOCKET_NAME", "StreamingServer", "log_query"]

log = logging.getLogger(__name__)
SOCKET_NAME = "kubelet.sock"
FOLLOW_POLL = 0.2  # seconds between looks at a followed log file


class PodLookup(Protocol):
    def container(self, namespace: str, pod: str, container: str) -> ContainerRunner | None: ...

    def sandbox(self, namespace: str, pod: str) -> Sandbox | None: ...


def _status(code: int, reason: str, message: str) -> web.Response:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
    body.update({"message": message, "reason": reason, "code": code})
    return web.Response(body=orjson.dumps(body), status=code, content_type="application/json")


def _flag(query: Any, name: str) -> bool:
    return str(query.get(name, "")).lower() in ("true", "1")


def log_query(query: Any, now_ns: int) -> LogQuery:
    """PodLogOptions from the query string (ValueError on a bad number)."""
    since: int | None = None
    if query.get("sinceSeconds"):
        since = now_ns - int(query["sinceSeconds"]) * 1_000_000_000
    elif query.get("sinceTime"):
        parsed = datetime.datetime.fromisoformat(str(query["sinceTime"]).replace("Z", "+00:00"))
        since = int(parsed.timestamp()) * 1_000_000_000
    tail = int(query["tailLines"]) if query.get("tailLines") else None
    limit = int(query["limitBytes"]) if query.get("limitBytes") else None
    return LogQuery(tail_lines=tail, since_ns=since, timestamps=_flag(query, "timestamps"), limit_bytes=limit)


class StreamingServer:
    """Serves logs and exec for the pods a :class:`PodLookup` knows."""

    def __init__(self, pods: PodLookup, now_ns: Callable[[], int] = time.time_ns) -> None:
        self._pods = pods
        self._now_ns = now_ns
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self._logs)
        app.router.add_get("/exec/{namespace}/{pod}/{container}", self._exec)
        app.router.add_get("/attach/{namespace}/{pod}/{container}", self._attach)
        app.router.add_get("/portForward/{namespace}/{pod}", self._port_forward)
        return app

    async def start(self, socket_path: Path) -> None:
        socket_path.unlink(missing_ok=True)  # noqa: ASYNC240 - a stale socket of an earlier run; local and instant
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.UnixSite(self._runner, str(socket_path)).start()
        socket_path.chmod(0o600)  # noqa: ASYNC240 - local and instant; the state directory is root's anyway

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _runner_for(self, request: web.Request) -> ContainerRunner | web.Response:
        m = request.match_info
        runner = self._pods.container(m["namespace"], m["pod"], m["container"])
        if runner is None:
            return _status(404, "NotFound", f'container "{m["container"]}" in pod "{m["pod"]}" is not available')
        return runner

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        found = self._runner_for(request)
        if isinstance(found, web.Response):
            return found
        runner, pod = found, request.match_info["pod"]
        try:
            query = log_query(request.query, self._now_ns())
        except ValueError as exc:
            return _status(400, "BadRequest", f"invalid log options: {exc}")
        previous = _flag(request.query, "previous")
        path = runner.logs.previous() if previous else runner.logs.current()
        if path is None and previous:
            return _status(400, "BadRequest", f'previous terminated container "{runner.name}" in pod "{pod}" not found')
        if path is None:
            return _status(
                400, "BadRequest", f'container "{runner.name}" in pod "{pod}" is waiting to start: {runner.view.reason}'
            )
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        data = path.read_bytes()
        offset = data.rfind(b"\n") + 1  # a line being written stays for the next read
        await response.write(render(_entries(data[:offset]), query))
        if _flag(request.query, "follow") and not previous:
            await self._follow(response, runner, path, offset, query)
        await response.write_eof()
        return response

    async def _follow(
        self, response: web.StreamResponse, runner: ContainerRunner, path: Path, offset: int, query: LogQuery
    ) -> None:
        """Stream what the instance writes to ``path`` until it has exited and all is sent."""
        follow = LogQuery(since_ns=query.since_ns, timestamps=query.timestamps)
        while True:
            finished = runner.logs.current() != path or _output_done(runner)
            with open(path, "rb") as file:  # noqa: ASYNC230 - small reads of a local file
                file.seek(offset)
                chunk = file.read()
            end = chunk.rfind(b"\n") + 1
            if end:
                await response.write(render(_entries(chunk[:end]), follow))
                offset += end
            if finished:
                return
            await asyncio.sleep(FOLLOW_POLL)

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        found = self._runner_for(request)
        if isinstance(found, web.Response):
            return found
        runner = found
        q = request.query
        command = tuple(q.getall("command", []))
        protocol = rc.negotiate(request.headers.get("Sec-WebSocket-Protocol", ""))
        if not command:
            return _status(400, "BadRequest", "you must specify at least 1 command")
        if protocol is None:
            return _status(400, "BadRequest", f"a WebSocket with subprotocol {' or '.join(rc.PROTOCOLS)} is required")
        if runner.view.state is not RunState.RUNNING:
            return _status(400, "BadRequest", f'container "{runner.name}" is not running')
        ws = web.WebSocketResponse(protocols=(protocol,), autoping=True)
        await ws.prepare(request)
        tty = _flag(q, "tty")
        exec_request = ExecRequest(
            command=command,
            stdin=_flag(q, "stdin"),
            stdout=_flag(q, "stdout"),
            stderr=_flag(q, "stderr") and not tty,
            tty=tty,
            env=runner.env,
            preexec=runner.entering(),
        )
        await run_exec(ws, protocol, exec_request)
        return ws

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        """The container's output from now on, on stdout/stderr, until it exits. Containers run
        here without a stdin (``stdin: true`` in a pod spec is not honoured), so none is taken."""
        found = self._runner_for(request)
        if isinstance(found, web.Response):
            return found
        runner = found
        protocol = rc.negotiate(request.headers.get("Sec-WebSocket-Protocol", ""))
        path = runner.logs.current()
        if protocol is None:
            return _status(400, "BadRequest", f"a WebSocket with subprotocol {' or '.join(rc.PROTOCOLS)} is required")
        if path is None or runner.view.state is not RunState.RUNNING:
            return _status(400, "BadRequest", f'container "{runner.name}" is not running')
        ws = web.WebSocketResponse(protocols=(protocol,), autoping=True)
        await ws.prepare(request)
        offset = path.stat().st_size
        reader = asyncio.ensure_future(ws.receive())  # the client closing ends the attach
        while not reader.done():
            finished = runner.logs.current() != path or _output_done(runner)
            with open(path, "rb") as file:  # noqa: ASYNC230 - small reads of a local file
                file.seek(offset)
                chunk = file.read()
            end = chunk.rfind(b"\n") + 1
            offset += end
            for entry in _entries(chunk[:end]):
                channel = rc.STDERR if entry.stream == "stderr" else rc.STDOUT
                await ws.send_bytes(rc.frame(channel, entry.content + (b"" if entry.partial else b"\n")))
            if finished:
                await ws.send_bytes(rc.frame(rc.ERROR, orjson.dumps(rc.exit_status(0))))
                break
            await asyncio.wait([reader], timeout=FOLLOW_POLL)
        reader.cancel()
        await ws.close()
        return ws

    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        m = request.match_info
        sandbox = self._pods.sandbox(m["namespace"], m["pod"])
        if sandbox is None:
            return _status(404, "NotFound", f'pod "{m["pod"]}" has no sandbox on this node')
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        connect = functools.partial(_connect_in, sandbox.netns)
        if PROTOCOL in offered:  # kubectl: SPDY inside the WebSocket
            ws = web.WebSocketResponse(protocols=(PROTOCOL,), autoping=True)
            await ws.prepare(request)
            await run_port_forward(ws, connect)
            return ws
        if offered and not set(offered) & set(CHANNEL_PROTOCOLS):
            wanted = " or ".join((PROTOCOL, *CHANNEL_PROTOCOLS))
            return _status(400, "BadRequest", f"a WebSocket with subprotocol {wanted} (or none) is required")
        try:
            ports = parse_ports(request.query.getall("ports", []))
        except ValueError as exc:
            return _status(400, "BadRequest", str(exc))
        ws = web.WebSocketResponse(protocols=CHANNEL_PROTOCOLS, autoping=True)
        await ws.prepare(request)
        await run_channel_port_forward(ws, ports, connect)
        return ws


async def _connect_in(netns: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection to localhost:``port`` in the pod's network namespace (as the CRI's
    port-forward does), so a server bound to the pod's loopback is reachable too."""
    if not netns:  # no namespace of its own (tests): the agent's
        return await asyncio.open_connection("127.0.0.1", port)
    with in_netns(netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock)


def _entries(data: bytes) -> list[Any]:
    return [e for e in (parse_entry(line) for line in data.splitlines()) if e is not None]


def _output_done(runner: ContainerRunner) -> bool:
    return runner.output_done is None or runner.output_done.done()
