"""Relays between an accepted client socket and its backend socket (``CopyMode``).

* ``SPLICE`` (default): each direction starts *buffered* (``recv_into`` a
  shared scratch buffer and ``send`` at once: two syscalls per message, the
  cheapest for request/response traffic) and switches to ``splice(2)``
  (socket -> pipe -> socket inside the kernel; Python sees byte counts,
  never bytes) at its first read that fills the scratch buffer, i.e. when
  it carries a bulk flow. Pipes are pooled: creating and sizing one costs
  four syscalls.
* ``TRANSPORT``: asyncio Protocols whose ``data_received`` writes to the
  peer transport, with pause/resume reading for flow control; kept for the
  benchmark comparison (every byte passes through Python objects).

Unlike upstream's ``io.Copy`` pair, which closed both sockets as soon as
one direction ended, a relay propagates a half-close (EOF becomes
``shutdown(SHUT_WR)`` on the peer) and closes once both directions ended;
an error on either side closes both, with a reset.
"""

from __future__ import annotations

import asyncio
import enum
import fcntl
import logging
import os
import socket
import struct
from collections.abc import Callable
from typing import cast

__all__ = ["CopyMode", "PipePool", "SpliceRelay", "TransportRelay", "reset_on_close"]

_log = logging.getLogger(__name__)

_F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ, missing from some builds
_SPLICE_FLAGS = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK
_LINGER_RESET = struct.pack("ii", 1, 0)


def reset_on_close(sock: socket.socket) -> None:
    """Make ``close()`` send a reset instead of a FIN (SO_LINGER 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    except OSError:
        pass


class CopyMode(str, enum.Enum):
    """How a TCP relay moves bytes (see the module docstring)."""

    SPLICE = "splice"
    TRANSPORT = "transport"


class PipePool:
    """Reusable non-blocking pipes of ``size`` bytes for splice relays, plus their scratch buffer."""

    def __init__(self, size: int = 1 << 20, keep: int = 256, scratch: int = 1 << 16) -> None:
        self.size, self.keep = size, keep
        self._free: list[tuple[int, int]] = []
        #: The buffer buffered directions read into; shared, as only one runs at a time.
        self.scratch = memoryview(bytearray(scratch))

    def get(self) -> tuple[int, int]:
        if self._free:
            return self._free.pop()
        read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            fcntl.fcntl(write_end, _F_SETPIPE_SZ, self.size)
        except OSError:  # above pipe-max-size or the user's pipe quota: keep the default
            pass
        return read_end, write_end

    def put(self, pipe: tuple[int, int], empty: bool) -> None:
        """Return a pipe; one still holding bytes is closed, never reused."""
        if empty and len(self._free) < self.keep:
            self._free.append(pipe)
        else:
            os.close(pipe[0])
            os.close(pipe[1])

    def close(self) -> None:
        while self._free:
            self.put(self._free.pop(), empty=False)


class _SpliceDirection:
    """One direction of a relay: src socket -> dst socket.

    A direction starts *buffered*: ``recv_into`` a scratch buffer shared by
    every relay (the loop is single-threaded) and ``send`` at once; only an
    unsent tail is kept per direction. For request/response traffic that is
    two syscalls per message, where splice needs three and each costs more.
    The first read that fills the scratch buffer marks a bulk flow: from
    then on the direction splices socket -> pipe -> socket and its bytes no
    longer enter Python at all.
    """

    __slots__ = (
        "done",
        "dst",
        "dst_fd",
        "loop",
        "pending",
        "pipe",
        "reading",
        "relay",
        "src",
        "src_fd",
        "tail",
        "writing",
    )

    def __init__(self, relay: SpliceRelay, src: socket.socket, dst: socket.socket) -> None:
        self.relay, self.loop = relay, relay.loop
        self.src, self.dst, self.src_fd, self.dst_fd = src, dst, src.fileno(), dst.fileno()
        self.tail: bytes = b""
        self.pipe: tuple[int, int] | None = None
        self.pending = 0
        self.reading = self.writing = self.done = False

    def pump(self) -> None:
        """Move what is available; then wait for readable src or writable dst."""
        try:
            if self.pipe is None:
                self._copy()
            else:
                self._splice()
        except OSError as exc:
            self.relay.abort(exc)

    def _copy(self) -> None:
        scratch = self.relay.scratch
        try:
            if self.tail:
                self.tail = self.tail[self.dst.send(self.tail) :]
                if self.tail:
                    return self._wait(write=True)
            received = self.src.recv_into(scratch)
            if not received:
                return self._finish()
        except BlockingIOError:
            return self._wait(write=bool(self.tail))
        try:
            sent = self.dst.send(scratch[:received])
        except BlockingIOError:  # dst is full: keep everything for later
            sent = 0
        if sent < received:
            self.tail = bytes(scratch[sent:received])
            return self._wait(write=True)
        if received == len(scratch):  # a bulk flow: hand it to the kernel
            self.pipe = self.relay.pipes.get()
            return self._splice()
        self._wait(write=False)

    def _splice(self) -> None:
        assert self.pipe is not None
        read_end, write_end = self.pipe
        try:
            while True:
                if not self.pending:
                    moved = os.splice(self.src_fd, write_end, self.relay.chunk, flags=_SPLICE_FLAGS)
                    if not moved:
                        return self._finish()
                    self.pending = moved
                self.pending -= os.splice(read_end, self.dst_fd, self.pending, flags=_SPLICE_FLAGS)
                if self.pending:
                    return self._wait(write=True)
                # Drained: loop once more, in a bulk flow more bytes have usually arrived.
        except BlockingIOError:
            self._wait(write=bool(self.pending))

    def _wait(self, write: bool) -> None:
        if write and not self.writing:
            if self.reading:
                self.loop.remove_reader(self.src_fd)
                self.reading = False
            self.loop.add_writer(self.dst_fd, self.pump)
            self.writing = True
        elif not write and not self.reading:
            if self.writing:
                self.loop.remove_writer(self.dst_fd)
                self.writing = False
            self.loop.add_reader(self.src_fd, self.pump)
            self.reading = True

    def stop(self) -> None:
        if self.reading:
            self.loop.remove_reader(self.src_fd)
        if self.writing:
            self.loop.remove_writer(self.dst_fd)
        self.reading = self.writing = False

    def release(self) -> None:
        """Give the pipe back (closed if it still holds bytes)."""
        if self.pipe is not None:
            self.relay.pipes.put(self.pipe, empty=self.pending == 0)
            self.pipe = None

    def _finish(self) -> None:
        self.stop()
        self.done = True
        peer = self.relay.up if self is self.relay.down else self.relay.down
        if not peer.done:  # the last direction's FIN comes with close()
            try:
                self.dst.shutdown(socket.SHUT_WR)
            except OSError:  # the peer is gone already; its own direction will notice
                pass
        self.relay.direction_done()


class SpliceRelay:
    """Both directions between an accepted client socket and a backend socket."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        client: socket.socket,
        backend: socket.socket,
        pipes: PipePool,
        on_close: Callable[[SpliceRelay], None],
    ) -> None:
        self.loop, self.pipes, self.on_close = loop, pipes, on_close
        self.chunk, self.scratch = pipes.size, pipes.scratch
        self.client, self.backend = client, backend
        self.up = _SpliceDirection(self, client, backend)
        self.down = _SpliceDirection(self, backend, client)
        self.closed = False

    def start(self) -> None:
        self.up.pump()
        if not self.closed:
            self.down.pump()

    def direction_done(self) -> None:
        if self.up.done and self.down.done:
            self.close()

    def abort(self, exc: BaseException) -> None:
        _log.debug("event=relay_error error=%r", exc)
        reset_on_close(self.client)
        reset_on_close(self.backend)
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for direction in (self.up, self.down):
            direction.stop()
            direction.release()
        self.client.close()
        self.backend.close()
        self.on_close(self)


class _TransportSide(asyncio.Protocol):
    """One socket of a transport relay: what it receives is written to the peer."""

    def __init__(self, relay: TransportRelay) -> None:
        self.relay = relay
        self.transport: asyncio.Transport | None = None
        self.peer: _TransportSide | None = None
        self.early: list[bytes] = []
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, hence a cast, not isinstance.
        transport = self.transport = cast(asyncio.Transport, transport)
        peer = self.peer
        if peer is not None and (peer.early or peer.eof):  # what the peer got before we existed
            transport.writelines(peer.early)
            peer.early.clear()
            if peer.eof:
                transport.write_eof()

    def data_received(self, data: bytes) -> None:
        assert self.peer is not None
        if self.peer.transport is None:  # the peer's transport is still being made
            self.early.append(data)
        else:
            self.peer.transport.write(data)

    def eof_received(self) -> bool:
        assert self.peer is not None
        self.eof = True
        if self.peer.transport is None:
            return True  # passed on when the peer's transport is made
        if not self.peer.transport.is_closing():
            self.peer.transport.write_eof()
        if self.peer.eof:
            self.relay.close()
        return True  # keep the other direction open (half-close)

    def pause_writing(self) -> None:  # our buffer is full: stop reading the peer
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.relay.close()


class TransportRelay:
    """Relay through asyncio transports (``CopyMode.TRANSPORT``)."""

    def __init__(self, on_close: Callable[[TransportRelay], None]) -> None:
        self.on_close = on_close
        self.sides = (_TransportSide(self), _TransportSide(self))
        self.sides[0].peer, self.sides[1].peer = self.sides[1], self.sides[0]
        self.closed = False

    async def start(self, loop: asyncio.AbstractEventLoop, client: socket.socket, backend: socket.socket) -> None:
        for side, sock in zip(self.sides, (client, backend)):
            transport, _ = await loop.connect_accepted_socket(lambda s=side: s, sock)  # type: ignore[misc]
            transport.set_write_buffer_limits(high=1 << 20)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for side in self.sides:
            if side.transport is not None:
                side.transport.close()
        self.on_close(self)
