"""TCP proxy sockets: accept, dial an endpoint with retries, relay.

One ``TcpProxySocket`` per TCP service port listens on the proxy port. Each
accepted connection gets a ``BackendConnector`` (``dial``) and, once a
backend accepted, a relay (``relay``: splice by default). A connection that
finds no endpoint, or whose four dials all fail, is closed with a reset.
Closing the proxy socket stops accepting and abandons pending dials;
relays already running continue unless asked to close too (as upstream).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from svclab.proxy.service_port import ServicePortName
from svclab.proxy.userspace.dial import BackendConnector, TcpDialer, tcp_dialer
from svclab.proxy.userspace.loadbalancer import EndpointAddress, RoundRobinBalancer
from svclab.proxy.userspace.relay import CopyMode, PipePool, SpliceRelay, TransportRelay, reset_on_close

__all__ = ["TcpProxySocket"]

_log = logging.getLogger(__name__)
_ACCEPT_BATCH = 64


class TcpProxySocket:
    """The listening socket of one TCP service port and the connections it relays."""

    def __init__(
        self,
        name: ServicePortName,
        listener: socket.socket,
        balancer: RoundRobinBalancer,
        *,
        dial: TcpDialer | None = None,
        copy: CopyMode = CopyMode.SPLICE,
        pipes: PipePool | None = None,
    ) -> None:
        self.name, self.listener, self.balancer = name, listener, balancer
        self.loop = asyncio.get_running_loop()
        self.dial = dial or tcp_dialer(self.loop)
        self.copy = copy
        self.pipes = pipes or PipePool()
        self.relays: set[Any] = set()
        self._connecting: dict[socket.socket, BackendConnector] = {}
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

            def connected(
                backend: socket.socket | None,
                endpoint: EndpointAddress | None,
                error: BaseException | None,
                conn: socket.socket = conn,
                client: str = address[0],
            ) -> None:
                self._connected(conn, client, backend, error)

            connector = BackendConnector(self.balancer, self.name, address[0], self.dial, connected)
            self._connecting[conn] = connector
            connector.start()

    def _connected(
        self, conn: socket.socket, client_ip: str, backend: socket.socket | None, error: BaseException | None
    ) -> None:
        self._connecting.pop(conn, None)
        if backend is None:
            _log.info("event=connect_failed service=%s client=%s error=%s", self.name, client_ip, error)
            reset_on_close(conn)
            conn.close()
            return
        backend.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.copy is CopyMode.SPLICE:
            relay = SpliceRelay(self.loop, conn, backend, self.pipes, self.relays.discard)
            self.relays.add(relay)
            relay.start()
        else:
            transport_relay = TransportRelay(self.relays.discard)
            self.relays.add(transport_relay)
            task = self.loop.create_task(transport_relay.start(self.loop, conn, backend))

            def started(task: asyncio.Task[None], sockets: tuple[socket.socket, ...] = (conn, backend)) -> None:
                if task.cancelled() or task.exception() is not None:
                    _log.info("event=relay_start_failed service=%s client=%s", self.name, client_ip)
                    transport_relay.close()
                    for sock in sockets:
                        sock.close()

            task.add_done_callback(started)

    def close(self, *, connections: bool = False) -> None:
        """Stop accepting and abandon pending dials; ``connections`` also ends running relays."""
        if self.listener.fileno() >= 0:
            self.loop.remove_reader(self.listener.fileno())
            self.listener.close()
        for conn, connector in list(self._connecting.items()):
            connector.cancel()
            conn.close()
        self._connecting.clear()
        if connections:
            for relay in list(self.relays):
                relay.close()
