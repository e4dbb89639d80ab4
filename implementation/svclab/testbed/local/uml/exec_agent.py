"""The exec agent: ``svclab exec`` / ``node-exec`` for a cluster inside a UML guest.

A cluster inside a User-Mode Linux guest has its namespaces in the guest's
kernel, which host processes cannot ``setns`` into. So the in-guest bring-up
runs this agent (kubelet's exec endpoint, in spirit): it listens on the
guest's ``vec0`` address (port ``AGENT_PORT``, recorded in ``cluster.json``),
and the host reaches it with a socket made inside the guest's namespace
``svclab-<name>-uml`` (never through the host's root namespace).

Protocol, one command per connection:

* request: 4-byte big-endian length, then JSON
  ``{"token": API token, "argv": [...], "target": {"pod": {"namespace", "name"}}
  | {"node": NAME}}``; the token is the cluster's API bearer token;
* response: frames of 1 kind byte (``o`` stdout, ``e`` stderr, ``x`` exit),
  4-byte big-endian length and payload; ``x`` carries the exit status in
  ASCII and is last. A signal death is reported as 128 + signal number, like
  a shell; a missing command as 127.

The agent runs the command exactly as the host-side ``svclab exec`` does: in
the pod's network namespace and UTS namespace (hostname = pod name), or in
the node's namespace with the node name as hostname. stdin is /dev/null. When
the client goes away the command's process group is killed.

The framing functions and ``FrameDecoder`` are sans-I/O and side-effect-free.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import signal
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, BinaryIO

from svclab.testbed.local.nsexec import preexec_entering

__all__ = [
    "AGENT_PORT",
    "ExecAgent",
    "ExecTarget",
    "FrameDecoder",
    "FrameKind",
    "TargetError",
    "decode_request",
    "encode_frame",
    "encode_request",
    "exit_status",
    "run_remote",
]

AGENT_PORT = 10250  # kubelet's port: the same role, in the guest
_HEADER = struct.Struct(">I")
_FRAME_HEADER = struct.Struct(">cI")
_MAX_REQUEST = 1 << 20
_CHUNK = 64 * 1024


class FrameKind(StrEnum):
    STDOUT = "o"
    STDERR = "e"
    EXIT = "x"


class TargetError(Exception):
    """The request names no pod or node that can be entered; the message says why."""


@dataclass(frozen=True, slots=True)
class ExecTarget:
    """Where a command runs: a network namespace (name or path) and a UTS namespace
    (``uts`` path to join) or a fresh one named ``hostname``."""

    netns: str
    uts: str | None = None
    hostname: str | None = None


def encode_request(token: str, argv: Sequence[str], target: dict[str, Any]) -> bytes:
    """A length-prefixed request. Side-effect-free."""
    body = json.dumps({"token": token, "argv": list(argv), "target": target}).encode()
    return _HEADER.pack(len(body)) + body


def decode_request(body: bytes) -> tuple[str, list[str], dict[str, Any]]:
    """``(token, argv, target)`` of a request body (without its length). Side-effect-free.

    Raises ValueError for anything malformed.
    """
    data = json.loads(body)
    argv = data.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError("argv must be a non-empty list of strings")
    if not isinstance(data.get("target"), dict):
        raise ValueError("target must be an object")
    return str(data.get("token", "")), argv, data["target"]


def encode_frame(kind: FrameKind, payload: bytes) -> bytes:
    """One response frame. Side-effect-free."""
    return _FRAME_HEADER.pack(kind.value.encode(), len(payload)) + payload


class FrameDecoder:
    """Turns received bytes into ``(kind, payload)`` frames, however they were split."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[FrameKind, bytes]]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= _FRAME_HEADER.size:
            kind, length = _FRAME_HEADER.unpack_from(self._buffer)
            end = _FRAME_HEADER.size + length
            if len(self._buffer) < end:
                break
            frames.append((FrameKind(kind.decode()), bytes(self._buffer[_FRAME_HEADER.size : end])))
            del self._buffer[:end]
        return frames


def exit_status(returncode: int) -> int:
    """A shell's view of a process's end: 128 + N for death by signal N."""
    return 128 - returncode if returncode < 0 else returncode


class ExecAgent:
    """Serves exec requests; ``resolve`` maps a request's target to namespaces (or
    raises TargetError) and may block (it runs in a thread)."""

    def __init__(self, token: str, resolve: Callable[[dict[str, Any]], ExecTarget]) -> None:
        self.token = token
        self.resolve = resolve
        self.server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        self.server = await asyncio.start_server(self._handle, host, port, reuse_address=True)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status = await self._serve(reader, writer)
            writer.write(encode_frame(FrameKind.EXIT, str(status).encode()))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _fail(self, writer: asyncio.StreamWriter, message: str, status: int) -> int:
        writer.write(encode_frame(FrameKind.STDERR, (message + "\n").encode()))
        return status

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
        (length,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
        if length > _MAX_REQUEST:
            return await self._fail(writer, "exec agent: request too large", 2)
        try:
            token, argv, target_spec = decode_request(await reader.readexactly(length))
        except ValueError as exc:
            return await self._fail(writer, f"exec agent: bad request: {exc}", 2)
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            return await self._fail(writer, "exec agent: unauthorized (wrong token)", 1)
        try:
            target = await asyncio.to_thread(self.resolve, target_spec)
        except TargetError as exc:
            return await self._fail(writer, str(exc), 1)
        return await self._run(argv, target, reader, writer)

    async def _run(
        self, argv: list[str], target: ExecTarget, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> int:
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                preexec_fn=preexec_entering(target.netns, uts=target.uts, hostname=target.hostname),
            )
        except FileNotFoundError:
            return await self._fail(writer, f"{argv[0]}: command not found", 127)
        except PermissionError:
            return await self._fail(writer, f"{argv[0]}: permission denied", 126)
        except Exception as exc:
            return await self._fail(writer, f"cannot enter {target.netns}: {exc}", 1)
        assert process.stdout is not None and process.stderr is not None
        copies = [
            asyncio.create_task(_copy(process.stdout, writer, FrameKind.STDOUT)),
            asyncio.create_task(_copy(process.stderr, writer, FrameKind.STDERR)),
        ]
        hangup: asyncio.Future[Any] = asyncio.create_task(reader.read(1))  # EOF: the client is gone
        done: asyncio.Future[Any] = asyncio.gather(*copies, process.wait())
        await asyncio.wait({done, hangup}, return_when=asyncio.FIRST_COMPLETED)
        if not done.done():  # the client went away: stop the command
            _kill_group(process.pid)
            await asyncio.gather(done, return_exceptions=True)
        hangup.cancel()
        return exit_status(process.returncode if process.returncode is not None else -9)


async def _copy(stream: asyncio.StreamReader, writer: asyncio.StreamWriter, kind: FrameKind) -> None:
    while chunk := await stream.read(_CHUNK):
        writer.write(encode_frame(kind, chunk))
        await writer.drain()


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_remote(
    sock: socket.socket,
    token: str,
    argv: Sequence[str],
    target: dict[str, Any],
    *,
    stdout: BinaryIO,
    stderr: BinaryIO,
    timeout: float | None = None,
) -> int:
    """Send one request over the connected ``sock``, copy the output, return the exit status.

    Returns 255 (and says so on ``stderr``) when the agent closes the
    connection without an exit frame. With ``timeout`` (seconds for the
    whole exchange) a slower command raises ``TimeoutError``.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    sock.sendall(encode_request(token, argv, target))
    decoder = FrameDecoder()
    outputs = {FrameKind.STDOUT: stdout, FrameKind.STDERR: stderr}
    while True:
        if deadline is not None:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
        data = sock.recv(_CHUNK)
        if not data:
            break
        for kind, payload in decoder.feed(data):
            if kind is FrameKind.EXIT:
                return int(payload.decode())
            outputs[kind].write(payload)
            outputs[kind].flush()
    stderr.write(b"svclab exec: the exec agent closed the connection without an exit status\n")
    return 255
