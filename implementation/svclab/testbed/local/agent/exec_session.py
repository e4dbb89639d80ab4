"""One ``exec`` into a pod, bridged to a WebSocket speaking the channel protocol.

kubelet's streaming server role (upstream ``pkg/kubelet/cri/streaming``): the
command runs in the pod's namespaces with the container's environment (as the
container's own process does, :meth:`Sandbox.entering`), in a session of its
own so that a client going away can stop all of it. Its stdout and stderr go
out on channels 1 and 2, channel 0 feeds its stdin (a v5 close signal on 0
closes it), and when it has exited and its output is sent, the error channel
carries the Status with the exit code (:mod:`svclab.apimachinery.remotecommand`)
and the WebSocket closes normally.

With ``tty`` the command gets a pseudo-terminal as its controlling terminal;
stdout carries everything it writes and resize messages set its window size.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import struct
import termios
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from svclab.apimachinery import remotecommand as rc

__all__ = ["ExecRequest", "run_exec"]

log = logging.getLogger(__name__)
CHUNK = 32 * 1024


@dataclass(frozen=True, slots=True)
class ExecRequest:
    command: tuple[str, ...]
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool
    env: Mapping[str, str]
    preexec: Callable[[], None]
    workdir: str | None = None


async def _send(ws: web.WebSocketResponse, channel: int, data: bytes) -> None:
    if not ws.closed:
        await ws.send_bytes(rc.frame(channel, data))


async def _copy_out(reader: asyncio.StreamReader, ws: web.WebSocketResponse, channel: int) -> None:
    while chunk := await reader.read(CHUNK):
        await _send(ws, channel, chunk)


async def _start(req: ExecRequest, slave: int | None) -> asyncio.subprocess.Process:
    if slave is None:
        return await asyncio.create_subprocess_exec(
            *req.command,
            env=dict(req.env),
            stdin=asyncio.subprocess.PIPE if req.stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if req.stdout else asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE if req.stderr else asyncio.subprocess.DEVNULL,
            preexec_fn=req.preexec,
        )

    def preexec() -> None:
        req.preexec()  # joins the pod and calls setsid(): the terminal can become ours
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    return await asyncio.create_subprocess_exec(
        *req.command, env=dict(req.env), stdin=slave, stdout=slave, stderr=slave, preexec_fn=preexec
    )


async def _read_client(
    ws: web.WebSocketResponse, protocol: str, stdin: Callable[[bytes | None], None], resize: Callable[[int, int], None]
) -> None:
    """Feed stdin and resizes from the client until it closes (``None`` closes stdin)."""
    async for msg in ws:
        if msg.type is not WSMsgType.BINARY:
            continue
        message = rc.parse_message(msg.data, protocol)
        if message is None:
            continue
        if message.channel == rc.STDIN:
            stdin(None if message.closed else message.data)
        elif message.channel == rc.RESIZE and not message.closed:
            size = rc.parse_resize(message.data)
            if size is not None:
                resize(*size)
    stdin(None)


class _Stdin:
    """Writes to the command's stdin in order, from a queue (a WebSocket read never waits on it)."""

    def __init__(self, writer: asyncio.StreamWriter | None = None, fd: int | None = None) -> None:
        self._writer, self._fd = writer, fd
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.task = asyncio.ensure_future(self._run())

    def put(self, data: bytes | None) -> None:
        self._queue.put_nowait(data)

    async def _run(self) -> None:
        while (data := await self._queue.get()) is not None:
            try:
                if self._writer is not None:
                    self._writer.write(data)
                    await self._writer.drain()
                elif self._fd is not None:
                    await asyncio.to_thread(os.write, self._fd, data)
            except (ConnectionError, OSError):
                return
        if self._writer is not None:
            self._writer.close()
        elif self._fd is not None:
            # a terminal has no end of file of its own: send its EOF character (^D)
            with contextlib.suppress(OSError):
                os.write(self._fd, b"\x04")


async def _copy_tty(master: int, ws: web.WebSocketResponse) -> None:
    loop = asyncio.get_running_loop()
    while True:
        try:
            chunk = await loop.run_in_executor(None, os.read, master, CHUNK)
        except OSError:  # EIO: every holder of the terminal's other end has gone
            return
        if not chunk:
            return
        await _send(ws, rc.STDOUT, chunk)


def _set_window(master: int, columns: int, rows: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


async def run_exec(ws: web.WebSocketResponse, protocol: str, req: ExecRequest) -> None:
    """Run the command for the client on ``ws`` (already prepared) and close ``ws``."""
    master, slave = os.openpty() if req.tty else (None, None)
    try:
        process = await _start(req, slave)
    except OSError as exc:
        await _finish(ws, rc.exec_failure(_start_error(req.command, exc)))
        return
    finally:
        if slave is not None:
            os.close(slave)
    try:
        await _bridge(ws, protocol, req, process, master)
    finally:
        if process.returncode is None:  # the client went away first: stop what it started
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        if master is not None:
            os.close(master)


async def _bridge(
    ws: web.WebSocketResponse, protocol: str, req: ExecRequest, process: asyncio.subprocess.Process, master: int | None
) -> None:
    if master is not None:
        stdin = _Stdin(fd=master)
        outputs = [asyncio.ensure_future(_copy_tty(master, ws))]
    else:
        stdin = _Stdin(writer=process.stdin)
        outputs = [
            asyncio.ensure_future(_copy_out(stream, ws, channel))
            for stream, channel in ((process.stdout, rc.STDOUT), (process.stderr, rc.STDERR))
            if stream is not None
        ]
    reader = asyncio.ensure_future(_read_client(ws, protocol, stdin.put, lambda w, h: _set_window(master or -1, w, h)))
    try:
        waiting = asyncio.ensure_future(process.wait())
        await asyncio.wait([waiting, reader], return_when=asyncio.FIRST_COMPLETED)
        if not waiting.done():
            return  # the client closed the connection: nobody to report to
        if master is None:
            await asyncio.gather(*outputs)
        else:  # the terminal's output ends when its last holder exits; the command's may linger
            await asyncio.wait(outputs, timeout=1.0)
        await _finish(ws, rc.exit_status(_exit_code(waiting.result())))
    finally:
        for task in (*outputs, reader, stdin.task):
            task.cancel()


def _exit_code(returncode: int) -> int:
    return returncode if returncode >= 0 else 128 - returncode  # killed by signal N: 128+N, as shells say


def _start_error(command: Sequence[str], exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return f'exec: "{command[0]}": executable file not found in $PATH'
    return f'exec: "{command[0]}": {exc.strerror or exc}'


async def _finish(ws: web.WebSocketResponse, status: dict[str, Any]) -> None:
    await _send(ws, rc.ERROR, orjson.dumps(status))
    await ws.close()
