"""Dialing an endpoint for a new TCP connection: upstream ``tryConnect`` as a callback machine.

``BackendConnector`` walks ``dial_attempts`` (250 ms, 500 ms, 1 s, 2 s; every
attempt after the first ignores affinity, so a refused or slow endpoint
moves the connection to the next one). It needs no task or future per
connection: a dialer starts a non-blocking ``connect`` and reports through a
callback, which matters when every request opens a connection. The dialer
is injected; ``tcp_dialer`` is the real one, ``testing.ScriptedDialer`` a
fake. ``connect_backend`` wraps the machine in a coroutine for callers that
prefer to await.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
from collections.abc import Callable, Iterator

from svclab.proxy.service_port import ServicePortName
from svclab.proxy.userspace.loadbalancer import EndpointAddress, RoundRobinBalancer, dial_attempts

__all__ = ["BackendConnector", "DialCallback", "DialFailed", "TcpDialer", "connect_backend", "tcp_dialer"]

_log = logging.getLogger(__name__)

#: Called once per dial with (connected socket, None) or (None, error).
DialCallback = Callable[[socket.socket | None, OSError | None], None]
#: Starts a dial of (endpoint, timeout) and returns a function that cancels it.
TcpDialer = Callable[[EndpointAddress, float, DialCallback], Callable[[], None]]
#: Called once per connector with (socket, endpoint, None) or (None, None, error).
ConnectCallback = Callable[[socket.socket | None, EndpointAddress | None, BaseException | None], None]


class DialFailed(ConnectionError):
    """Every dial attempt for a connection failed; ``failures`` lists (endpoint, error)."""

    def __init__(self, name: ServicePortName, failures: list[tuple[EndpointAddress, BaseException]]) -> None:
        tried = ", ".join(f"{ip}:{port} ({exc!r})" for (ip, port), exc in failures)
        super().__init__(f"dial service {name}: all {len(failures)} attempts failed: {tried}")
        self.failures = failures


def _noop() -> None:
    pass


class BackendConnector:
    """Finds an endpoint that accepts; reports once through ``on_done``.

    Errors reported: the balancer's ``LookupError`` when there is nothing to
    dial, ``DialFailed`` after the last attempt.
    """

    __slots__ = ("_attempts", "_cancel", "_endpoint", "dial", "failures", "name", "on_done")

    def __init__(
        self,
        balancer: RoundRobinBalancer,
        name: ServicePortName,
        client_ip: str,
        dial: TcpDialer,
        on_done: ConnectCallback,
    ) -> None:
        self.name, self.dial, self.on_done = name, dial, on_done
        self.failures: list[tuple[EndpointAddress, BaseException]] = []
        self._attempts: Iterator[tuple[EndpointAddress, float]] = dial_attempts(balancer, name, client_ip)
        self._endpoint: EndpointAddress | None = None
        self._cancel: Callable[[], None] = _noop

    def start(self) -> None:
        try:
            self._endpoint, timeout = next(self._attempts)
        except StopIteration:
            self.on_done(None, None, DialFailed(self.name, self.failures))
            return
        except LookupError as exc:
            self.on_done(None, None, exc)
            return
        self._cancel = self.dial(self._endpoint, timeout, self._dialed)

    def _dialed(self, sock: socket.socket | None, error: OSError | None) -> None:
        assert self._endpoint is not None
        self._cancel = _noop
        if sock is not None:
            self.on_done(sock, self._endpoint, None)
            return
        _log.debug("event=dial_failed service=%s endpoint=%s:%s error=%r", self.name, *self._endpoint, error)
        self.failures.append((self._endpoint, error or OSError("dial failed")))
        self.start()

    def cancel(self) -> None:
        """Abandon the current dial (its socket is closed); ``on_done`` is not called."""
        self._cancel()
        self._cancel = _noop


def tcp_dialer(loop: asyncio.AbstractEventLoop) -> TcpDialer:
    """The real dialer: non-blocking ``connect`` watched by the loop, with a timer."""

    def dial(endpoint: EndpointAddress, timeout: float, done: DialCallback) -> Callable[[], None]:
        sock = socket.socket(socket.AF_INET6 if ":" in endpoint[0] else socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        code = sock.connect_ex(endpoint)
        if code == 0:  # loopback often connects at once
            done(sock, None)
            return _noop
        if code != errno.EINPROGRESS:
            sock.close()
            done(None, OSError(code, os.strerror(code)))
            return _noop
        fd = sock.fileno()

        def stop() -> None:
            loop.remove_writer(fd)
            timer.cancel()

        def writable() -> None:
            stop()
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                sock.close()
                done(None, OSError(code, os.strerror(code)))  # OSError picks the subclass
            else:
                done(sock, None)

        def expired() -> None:
            stop()
            sock.close()
            done(None, TimeoutError(f"connect to {endpoint[0]}:{endpoint[1]} timed out after {timeout}s"))

        def cancel() -> None:
            stop()
            sock.close()

        timer = loop.call_later(timeout, expired)
        loop.add_writer(fd, writable)
        return cancel

    return dial


async def connect_backend(
    balancer: RoundRobinBalancer, name: ServicePortName, client_ip: str, dial: TcpDialer
) -> tuple[socket.socket, EndpointAddress]:
    """Await a ``BackendConnector``; raises what it reports."""
    result: asyncio.Future[tuple[socket.socket, EndpointAddress]] = asyncio.get_running_loop().create_future()

    def done(sock: socket.socket | None, endpoint: EndpointAddress | None, error: BaseException | None) -> None:
        if sock is not None and endpoint is not None:
            result.set_result((sock, endpoint))
        else:
            result.set_exception(error or ConnectionError("connect failed"))

    connector = BackendConnector(balancer, name, client_ip, dial, done)
    connector.start()
    try:
        return await result
    finally:
        if not result.done():
            connector.cancel()
