"""``kubectl port-forward``: SPDY/3.1 streams tunnelled in a WebSocket, to ports in a pod.

kubelet's port-forward server role (upstream ``pkg/kubelet/cri/streaming/
portforward/httpstream.go``), protocol ``portforward.k8s.io``: for each
connection kubectl accepted locally it opens an ``error`` and a ``data``
stream with the same ``requestid``; every stream gets a SYN_REPLY at once.
When both of a pair are there, the agent connects to the port inside the
pod's network namespace (``connect``, injected) and copies bytes both ways:
the client's FIN on the data stream half-closes the TCP connection, the pod
closing it ends the data stream with a FIN. A failure is written as text to
the error stream (kubectl prints it); the error stream is then closed. PINGs
are answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from svclab.apimachinery import spdy

__all__ = ["Connect", "PROTOCOL", "run_port_forward"]

log = logging.getLogger(__name__)
PROTOCOL = "SPDY/3.1+portforward.k8s.io"  # what kubectl asks for (the tunnelling prefix + portforward.k8s.io)
CHUNK = 32 * 1024
Connect = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


@dataclass(slots=True)
class _Pair:
    error: int = 0
    data: int = 0
    port: int = 0
    writer: asyncio.StreamWriter | None = None
    started: bool = False
    pending: list[bytes] = field(default_factory=list)  # data that came before the connection was up
    client_done: bool = False


class _Session:
    def __init__(self, ws: web.WebSocketResponse, connect: Connect) -> None:
        self._ws = ws
        self._connect = connect
        self._codec = spdy.HeaderCodec()
        self._reader = spdy.FrameReader()
        self._pairs: dict[str, _Pair] = {}
        self._by_stream: dict[int, _Pair] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()  # one frame at a time on the WebSocket

    async def send(self, frame: bytes) -> None:
        async with self._lock:
            if not self._ws.closed:
                await self._ws.send_bytes(frame)

    async def run(self) -> None:
        try:
            async for msg in self._ws:
                if msg.type is WSMsgType.BINARY:
                    for frame in self._reader.feed(msg.data):
                        await self._on_frame(frame)
        except spdy.SpdyError as exc:
            log.warning("port-forward: closing a connection that is not SPDY/3: %s", exc)
        finally:
            for task in list(self._tasks):
                task.cancel()
            for pair in self._pairs.values():
                if pair.writer is not None:
                    pair.writer.close()

    async def _on_frame(self, frame: spdy.DataFrame | spdy.ControlFrame) -> None:
        if isinstance(frame, spdy.DataFrame):
            await self._on_data(frame)
        elif frame.type == spdy.SYN_STREAM:
            await self._on_syn_stream(frame)
        elif frame.type == spdy.PING:
            await self.send(spdy.ping_frame(frame.ping_id()))
        elif frame.type == spdy.RST_STREAM:
            pair = self._by_stream.get(frame.stream_id())
            if pair is not None and pair.writer is not None:
                pair.writer.close()
        # SETTINGS, WINDOW_UPDATE, HEADERS, GOAWAY: nothing to do for a port-forward server

    async def _on_syn_stream(self, frame: spdy.ControlFrame) -> None:
        stream_id, headers = self._codec.syn_stream(frame)
        await self.send(spdy.syn_reply_frame(self._codec, stream_id, {}))
        kind = (headers.get("streamtype") or [""])[0]
        request = (headers.get("requestid") or [""])[0]
        pair = self._pairs.setdefault(request, _Pair())
        self._by_stream[stream_id] = pair
        if kind == "error":
            pair.error = stream_id
        elif kind == "data":
            pair.data = stream_id
        try:
            pair.port = int((headers.get("port") or ["0"])[0])
        except ValueError:
            pair.port = 0
        if pair.error and pair.data and not pair.started:
            pair.started = True
            self._spawn(self._forward(pair))

    async def _on_data(self, frame: spdy.DataFrame) -> None:
        pair = self._by_stream.get(frame.stream_id)
        if pair is None or frame.stream_id != pair.data:
            return  # the client's side of the error stream carries nothing
        if pair.writer is None:
            pair.pending.append(frame.data)
            pair.client_done = pair.client_done or frame.fin
            return
        await _write(pair.writer, frame.data, frame.fin)

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forward(self, pair: _Pair) -> None:
        """Connect to the pod's port and copy the pod's answers into the data stream."""
        if not 0 < pair.port < 65536:
            await self._fail(pair, f"invalid port {pair.port}")
            return
        try:
            reader, writer = await self._connect(pair.port)
        except OSError as exc:
            await self._fail(pair, f"failed to connect to localhost:{pair.port} inside the pod: {exc}")
            return
        pair.writer = writer
        await _write(writer, b"".join(pair.pending), pair.client_done)
        pair.pending.clear()
        try:
            while chunk := await reader.read(CHUNK):
                await self.send(spdy.data_frame(pair.data, chunk))
        except OSError:
            pass
        await self.send(spdy.data_frame(pair.data, b"", fin=True))
        await self.send(spdy.data_frame(pair.error, b"", fin=True))
        writer.close()

    async def _fail(self, pair: _Pair, message: str) -> None:
        await self.send(spdy.data_frame(pair.error, message.encode(), fin=True))
        await self.send(spdy.data_frame(pair.data, b"", fin=True))


async def _write(writer: asyncio.StreamWriter, data: bytes, fin: bool) -> None:
    with contextlib.suppress(OSError):
        if data:
            writer.write(data)
            await writer.drain()
        if fin and writer.can_write_eof():
            writer.write_eof()


async def run_port_forward(ws: web.WebSocketResponse, connect: Connect) -> None:
    """Serve one port-forward connection on ``ws`` (prepared with :data:`PROTOCOL`) until it closes."""
    await _Session(ws, connect).run()
