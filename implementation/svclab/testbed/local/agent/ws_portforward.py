"""Port-forward over plain WebSocket channels (what kr8s and client-go's WebSocket
port-forwarder without SPDY speak).

kubelet's ``pkg/kubelet/cri/streaming/portforward/websocket.go``: the ports
come in the query (``?ports=80,8080``); port number ``i`` gets two channels,
data ``2i`` and error ``2i+1``. Every WebSocket message starts with its channel
byte. The first message on each channel is the port as two little-endian
bytes, then data flows: a message on channel ``2i`` is written to port ``i``'s
TCP connection (inside the pod, ``connect``), what the pod sends comes back on
``2i``; a failure is written as text on ``2i+1``. When a connection to the pod
ends, the WebSocket is closed (a client opens one WebSocket per local
connection). Subprotocols ``v4.channel.k8s.io`` and ``channel.k8s.io``, or none
(kubelet's default, what kr8s sends).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import WSMsgType, web

from .portforward_session import Connect

__all__ = ["CHANNEL_PROTOCOLS", "parse_ports", "port_prefix", "run_channel_port_forward"]

log = logging.getLogger(__name__)
CHANNEL_PROTOCOLS = ("v4.channel.k8s.io", "channel.k8s.io")
CHUNK = 32 * 1024


def parse_ports(values: list[str]) -> list[int]:
    """The ``ports`` query values (repeated or comma-separated); ValueError for a bad one.
    Side-effect-free."""
    ports = []
    for value in values:
        for part in filter(None, (p.strip() for p in value.split(","))):
            port = int(part)
            if not 0 < port < 65536:
                raise ValueError(f"invalid port {part}")
            ports.append(port)
    if not ports:
        raise ValueError("query parameter 'ports' is required")
    return ports


def port_prefix(channel: int, port: int) -> bytes:
    """The first message of a channel: its byte, then the port, little-endian. Side-effect-free."""
    return bytes([channel]) + port.to_bytes(2, "little")


async def _pod_to_client(ws: web.WebSocketResponse, channel: int, reader: asyncio.StreamReader) -> None:
    while data := await reader.read(CHUNK):
        await ws.send_bytes(bytes([channel]) + data)


async def run_channel_port_forward(ws: web.WebSocketResponse, ports: list[int], connect: Connect) -> None:
    """Serve one port-forward WebSocket (prepared) for ``ports`` until a side closes."""
    writers: dict[int, asyncio.StreamWriter] = {}
    tasks: list[asyncio.Task[None]] = []
    try:
        for i, port in enumerate(ports):
            await ws.send_bytes(port_prefix(2 * i, port))
            await ws.send_bytes(port_prefix(2 * i + 1, port))
            try:
                reader, writers[2 * i] = await connect(port)
            except OSError as exc:
                message = f"error forwarding port {port} to pod: {exc}"
                await ws.send_bytes(bytes([2 * i + 1]) + message.encode())
                return
            tasks.append(asyncio.ensure_future(_pod_to_client(ws, 2 * i, reader)))
        tasks.append(asyncio.ensure_future(_client_to_pods(ws, writers)))
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for writer in writers.values():
            writer.close()
        await ws.close()


async def _client_to_pods(ws: web.WebSocketResponse, writers: dict[int, asyncio.StreamWriter]) -> None:
    async for msg in ws:
        if msg.type is not WSMsgType.BINARY or not msg.data:
            continue
        writer = writers.get(msg.data[0])
        if writer is None:
            log.info("port-forward: data on unknown channel %d dropped", msg.data[0])
            continue
        writer.write(msg.data[1:])
        await writer.drain()
