"""TCP proxy sockets: accept, dial an endpoint with retries, then relay bytes.

One ``TcpProxySocket`` per TCP service port listens on the proxy port. For
each accepted connection it walks ``dial_attempts`` (250 ms, 500 ms, 1 s,
2 s; a refused or slow endpoint moves on to the next one) and hands the two
sockets to a relay. Two relays exist, chosen by ``CopyMode``:

* ``SPLICE`` (default): per direction, ``splice(2)`` moves bytes socket ->
  pipe -> socket inside the kernel, driven by the event loop's reader and
  writer callbacks; Python only sees byte counts, never the bytes. Pipes
  are pooled, since creating and sizing them costs four syscalls per
  connection.
* ``TRANSPORT``: asyncio Protocols whose ``data_received`` writes to the peer
  transport, with pause/resume reading for flow control; kept for the
  benchmark comparison (it copies every byte through Python objects).

Unlike upstream's ``io.Copy`` pair, which closed both sockets as soon as one
direction ended, a relay propagates a half-close (EOF becomes
``shutdown(SHUT_WR)`` on the peer) and closes once both directions ended; an
error on either side closes both, the other with a reset. Closing the proxy
socket stops accepting; relays already running continue (as upstream).
"""

from __future__ import annotations

import asyncio
import enum
import fcntl
import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any

from svclab.proxy.service_port import ServicePortName
from svclab.proxy.userspace.loadbalancer import EndpointAddress, RoundRobinBalancer, dial_attempts

__all__ = ["CopyMode", "DialFailed", "PipePool", "TcpDialer", "TcpProxySocket", "connect_backend", "dial_tcp"]

_log = logging.getLogger(__name__)

TcpDialer = Callable[[EndpointAddress, float], Awaitable[socket.socket]]
_F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ exists only from Python 3.10 on some builds
_SPLICE_FLAGS = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK
_ACCEPT_BATCH = 64
_LINGER_RESET = struct.pack("ii", 1, 0)


class CopyMode(str, enum.Enum):
    """How a TCP relay moves bytes (see the module docstring)."""

    SPLICE = "splice"
    TRANSPORT = "transport"


class DialFailed(ConnectionError):
    """Every dial attempt for a connection failed; ``failures`` lists (endpoint, error)."""

    def __init__(self, name: ServicePortName, failures: list[tuple[EndpointAddress, BaseException]]) -> None:
        tried = ", ".join(f"{ip}:{port} ({exc!r})" for (ip, port), exc in failures)
        super().__init__(f"dial service {name}: all {len(failures)} attempts failed: {tried}")
        self.failures = failures


async def connect_backend(balancer: RoundRobinBalancer, name: ServicePortName, client_ip: str,
                          dial: TcpDialer) -> tuple[socket.socket, EndpointAddress]:
    """Upstream ``tryConnect``: the first endpoint that accepts within its timeout.

    Raises the balancer's ``LookupError`` when there is nothing to dial and
    ``DialFailed`` after the last attempt.
    """
    failures: list[tuple[EndpointAddress, BaseException]] = []
    for endpoint, timeout in dial_attempts(balancer, name, client_ip):
        try:
            return await dial(endpoint, timeout), endpoint
        except OSError as exc:  # refused, unreachable, TimeoutError
            _log.debug("event=dial_failed service=%s endpoint=%s:%s error=%r", name, *endpoint, exc)
            failures.append((endpoint, exc))
    raise DialFailed(name, failures)


async def dial_tcp(endpoint: EndpointAddress, timeout: float) -> socket.socket:
    """Connect a non-blocking TCP socket to ``endpoint`` within ``timeout`` seconds."""
    family = socket.AF_INET6 if ":" in endpoint[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        async with asyncio.timeout(timeout):
            await asyncio.get_running_loop().sock_connect(sock, endpoint)
    except BaseException:
        sock.close()
        raise
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class PipePool:
    """Reusable non-blocking pipes of ``size`` bytes for splice relays."""

    def __init__(self, size: int = 1 << 18, keep: int = 256) -> None:
        self.size, self.keep = size, keep
        self._free: list[tuple[int, int]] = []

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
    """One direction of a splice relay: src socket -> pipe -> dst socket."""

    __slots__ = ("relay", "loop", "src", "dst", "pipe", "pending", "reading", "writing", "done")

    def __init__(self, relay: "_SpliceRelay", src: int, dst: int, pipe: tuple[int, int]) -> None:
        self.relay, self.loop = relay, relay.loop
        self.src, self.dst, self.pipe = src, dst, pipe
        self.pending = 0
        self.reading = self.writing = self.done = False

    def pump(self) -> None:
        """Move what is available; then wait for readable src or writable dst."""
        read_end, write_end = self.pipe
        try:
            while True:
                if not self.pending:
                    moved = os.splice(self.src, write_end, self.relay.chunk, flags=_SPLICE_FLAGS)
                    if not moved:
                        self._finish()
                        return
                    self.pending = moved
                self.pending -= os.splice(read_end, self.dst, self.pending, flags=_SPLICE_FLAGS)
                if self.pending:
                    self._wait(write=True)
                    return
                # Drained: loop once more, more bytes have usually arrived meanwhile.
        except BlockingIOError:
            self._wait(write=bool(self.pending))
        except OSError as exc:
            self.relay.abort(exc)

    def _wait(self, write: bool) -> None:
        if write and not self.writing:
            if self.reading:
                self.loop.remove_reader(self.src)
                self.reading = False
            self.loop.add_writer(self.dst, self.pump)
            self.writing = True
        elif not write and not self.reading:
            if self.writing:
                self.loop.remove_writer(self.dst)
                self.writing = False
            self.loop.add_reader(self.src, self.pump)
            self.reading = True

    def stop(self) -> None:
        if self.reading:
            self.loop.remove_reader(self.src)
        if self.writing:
            self.loop.remove_writer(self.dst)
        self.reading = self.writing = False

    def _finish(self) -> None:
        self.stop()
        self.done = True
        try:
            self.relay.shutdown_write(self.dst)
        except OSError:  # the peer is gone already; its own direction will notice
            pass
        self.relay.direction_done()


class _SpliceRelay:
    """Both directions between an accepted client socket and a backend socket."""

    def __init__(self, loop: asyncio.AbstractEventLoop, client: socket.socket, backend: socket.socket,
                 pipes: PipePool, on_close: Callable[["_SpliceRelay"], None]) -> None:
        self.loop, self.pipes, self.on_close = loop, pipes, on_close
        self.chunk = pipes.size
        self.client, self.backend = client, backend
        self._sockets = {client.fileno(): client, backend.fileno(): backend}
        self.up = _SpliceDirection(self, client.fileno(), backend.fileno(), pipes.get())
        self.down = _SpliceDirection(self, backend.fileno(), client.fileno(), pipes.get())
        self.closed = False

    def start(self) -> None:
        self.up.pump()
        if not self.closed:
            self.down.pump()

    def shutdown_write(self, fd: int) -> None:
        self._sockets[fd].shutdown(socket.SHUT_WR)

    def direction_done(self) -> None:
        if self.up.done and self.down.done:
            self.close()

    def abort(self, exc: BaseException) -> None:
        _log.debug("event=relay_error error=%r", exc)
        for sock in (self.client, self.backend):
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            except OSError:
                pass
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for direction in (self.up, self.down):
            direction.stop()
            self.pipes.put(direction.pipe, empty=direction.pending == 0)
        self.client.close()
        self.backend.close()
        self.on_close(self)


class _TransportSide(asyncio.Protocol):
    """One socket of a transport relay: what it receives is written to the peer."""

    def __init__(self, relay: "_TransportRelay") -> None:
        self.relay = relay
        self.transport: asyncio.Transport | None = None
        self.peer: _TransportSide | None = None
        self.early: list[bytes] = []
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = self.peer
        if peer is not None and (peer.early or peer.eof):  # what the peer got before we existed
            self.transport.writelines(peer.early)
            peer.early.clear()
            if peer.eof:
                self.transport.write_eof()

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


class _TransportRelay:
    """Relay through asyncio transports (``CopyMode.TRANSPORT``)."""

    def __init__(self, on_close: Callable[["_TransportRelay"], None]) -> None:
        self.on_close = on_close
        self.sides = (_TransportSide(self), _TransportSide(self))
        self.sides[0].peer, self.sides[1].peer = self.sides[1], self.sides[0]
        self.closed = False

    async def start(self, loop: asyncio.AbstractEventLoop, client: socket.socket,
                    backend: socket.socket) -> None:
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


class TcpProxySocket:
    """The listening socket of one TCP service port and the connections it relays."""

    def __init__(self, name: ServicePortName, listener: socket.socket, balancer: RoundRobinBalancer, *,
                 dial: TcpDialer = dial_tcp, copy: CopyMode = CopyMode.SPLICE,
                 pipes: PipePool | None = None) -> None:
        self.name, self.listener, self.balancer = name, listener, balancer
        self.dial, self.copy = dial, copy
        self.pipes = pipes or PipePool()
        self.loop = asyncio.get_running_loop()
        self.relays: set[Any] = set()
        self._dials: set[asyncio.Task[None]] = set()
        self.accepted = 0
        listener.setblocking(False)
        self.loop.add_reader(listener.fileno(), self._on_accept)

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def _on_accept(self) -> None:
        for _ in range(_ACCEPT_BATCH):
            try:
                conn, address = self.listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:  # EMFILE and friends: log, keep listening
                _log.warning("event=accept_failed service=%s error=%r", self.name, exc)
                return
            self.accepted += 1
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = self.loop.create_task(self._serve(conn, address[0]))
            self._dials.add(task)
            task.add_done_callback(self._dials.discard)

    async def _serve(self, conn: socket.socket, client_ip: str) -> None:
        try:
            backend, _ = await connect_backend(self.balancer, self.name, client_ip, self.dial)
        except (LookupError, DialFailed) as exc:
            _log.info("event=connect_failed service=%s client=%s error=%s", self.name, client_ip, exc)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            conn.close()
            return
        except BaseException:
            conn.close()
            raise
        if self.copy is CopyMode.SPLICE:
            relay = _SpliceRelay(self.loop, conn, backend, self.pipes, self.relays.discard)
            self.relays.add(relay)
            relay.start()
        else:
            transport_relay = _TransportRelay(self.relays.discard)
            self.relays.add(transport_relay)
            await transport_relay.start(self.loop, conn, backend)

    def close(self, *, connections: bool = False) -> None:
        """Stop accepting; pending dials are cancelled; ``connections`` also ends running relays."""
        if self.listener.fileno() >= 0:
            self.loop.remove_reader(self.listener.fileno())
            self.listener.close()
        for task in list(self._dials):
            task.cancel()
        if connections:
            for relay in list(self.relays):
                relay.close()
