"""UDP proxy sockets: per-client sessions with an idle timeout (upstream ``udpProxySocket``).

UDP has no connections, so the proxy invents them: the first datagram from a
client address picks an endpoint (``dial_attempts``; connecting a UDP socket
only fails when the endpoint is unroutable) and opens a backend socket
connected to it. Later datagrams from that client reuse the session; replies
read from the backend socket are sent back to the client from the service
socket, so the client sees them come from the address it sent to (after
conntrack undoes the REDIRECT). A session that carries no datagram in either
direction for ``idle_timeout`` seconds is closed (kube-proxy's
``--udp-timeout``, default 250 ms), as is one whose backend answers with an
ICMP error. Everything runs in event-loop callbacks; no task per datagram.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

from svclab.proxy.service_port import ServicePortName
from svclab.proxy.userspace.loadbalancer import EndpointAddress, RoundRobinBalancer, dial_attempts

__all__ = ["DEFAULT_UDP_IDLE_TIMEOUT", "UdpDialer", "UdpProxySocket", "dial_udp"]

_log = logging.getLogger(__name__)

#: kube-proxy's ``--udp-timeout`` default.
DEFAULT_UDP_IDLE_TIMEOUT = 0.25
_MAX_DATAGRAM = 65535
_BATCH = 64

UdpDialer = Callable[[EndpointAddress], socket.socket]


def dial_udp(endpoint: EndpointAddress) -> socket.socket:
    """A non-blocking UDP socket connected to ``endpoint``."""
    family = socket.AF_INET6 if ":" in endpoint[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        sock.connect(endpoint)
    except OSError:
        sock.close()
        raise
    return sock


@dataclass(slots=True)
class _Session:
    client: tuple[str, int]
    backend: socket.socket
    endpoint: EndpointAddress
    last_active: float
    timer: asyncio.TimerHandle | None = None


class UdpProxySocket:
    """The service socket of one UDP service port and its client sessions."""

    def __init__(
        self,
        name: ServicePortName,
        sock: socket.socket,
        balancer: RoundRobinBalancer,
        *,
        idle_timeout: float = DEFAULT_UDP_IDLE_TIMEOUT,
        dial: UdpDialer = dial_udp,
    ) -> None:
        self.name, self.sock, self.balancer = name, sock, balancer
        self.idle_timeout, self.dial = idle_timeout, dial
        self.loop = asyncio.get_running_loop()
        self.sessions: dict[tuple[str, int], _Session] = {}
        self.sessions_opened = 0
        sock.setblocking(False)
        self.loop.add_reader(sock.fileno(), self._on_datagram)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _on_datagram(self) -> None:
        for _ in range(_BATCH):
            try:
                data, client = self.sock.recvfrom(_MAX_DATAGRAM)
            except BlockingIOError:
                return
            except OSError as exc:
                _log.debug("event=udp_recv_failed service=%s error=%r", self.name, exc)
                return
            session = self.sessions.get(client[:2]) or self._open(client[:2])
            if session is None:
                continue  # no endpoint: drop, as upstream did
            try:
                session.backend.send(data)
            except OSError as exc:  # full buffer or ICMP error from an earlier datagram
                _log.debug("event=udp_send_failed service=%s error=%r", self.name, exc)
                if not isinstance(exc, BlockingIOError):
                    self._close(session)
                continue
            session.last_active = self.loop.time()

    def _open(self, client: tuple[str, int]) -> _Session | None:
        try:
            for endpoint, _timeout in dial_attempts(self.balancer, self.name, client[0]):
                try:
                    backend = self.dial(endpoint)
                except OSError as exc:
                    _log.debug("event=dial_failed service=%s endpoint=%s error=%r", self.name, endpoint, exc)
                    continue
                session = _Session(client, backend, endpoint, self.loop.time())
                self.sessions[client] = session
                self.sessions_opened += 1
                self.loop.add_reader(backend.fileno(), self._on_reply, session)
                session.timer = self.loop.call_later(self.idle_timeout, self._check_idle, session)
                return session
        except LookupError as exc:
            _log.info("event=no_endpoint service=%s client=%s error=%s", self.name, client[0], exc)
        return None

    def _on_reply(self, session: _Session) -> None:
        for _ in range(_BATCH):
            try:
                data = session.backend.recv(_MAX_DATAGRAM)
            except BlockingIOError:
                return
            except OSError as exc:  # ICMP port unreachable and the like
                _log.debug("event=udp_backend_error service=%s error=%r", self.name, exc)
                self._close(session)
                return
            session.last_active = self.loop.time()
            try:
                self.sock.sendto(data, session.client)
            except OSError as exc:
                _log.debug("event=udp_reply_failed service=%s error=%r", self.name, exc)

    def _check_idle(self, session: _Session) -> None:
        idle_until = session.last_active + self.idle_timeout
        if self.loop.time() >= idle_until:
            self._close(session)
        else:
            session.timer = self.loop.call_at(idle_until, self._check_idle, session)

    def _close(self, session: _Session) -> None:
        if self.sessions.get(session.client) is not session:
            return
        del self.sessions[session.client]
        if session.timer is not None:
            session.timer.cancel()
        self.loop.remove_reader(session.backend.fileno())
        session.backend.close()

    def close(self) -> None:
        """Close the service socket and every session (upstream: sessions break too)."""
        if self.sock.fileno() >= 0:
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()
        for session in list(self.sessions.values()):
            self._close(session)
