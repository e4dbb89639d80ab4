"""Real sockets on 127.0.0.1 (no root): TCP and UDP through the proxy sockets.

Address plan: every socket on 127.0.0.1 with kernel-chosen ports. Backends
are small asyncio echo servers; a "refusing" endpoint is a port that was
bound and closed again, so nothing listens there.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Callable

import pytest

from svclab.proxy.service_port import Protocol, ServiceName, ServicePortName
from svclab.proxy.userspace.loadbalancer import RoundRobinBalancer
from svclab.proxy.userspace.relay import CopyMode, PipePool, SpliceRelay
from svclab.proxy.userspace.tcp import TcpProxySocket
from svclab.proxy.userspace.udp import UdpProxySocket

LOCAL = "127.0.0.1"
TCP_SVC = ServicePortName(ServiceName("ns1", "echo"), "tcp", Protocol.TCP)
UDP_SVC = ServicePortName(ServiceName("ns1", "echo"), "udp", Protocol.UDP)


def refusing_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCAL, 0))
        return int(sock.getsockname()[1])


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Echo until EOF, then answer with the backend's own port and close."""
    while data := await reader.read(1 << 16):
        writer.write(data)
        await writer.drain()
    writer.write(b"|from:%d" % writer.get_extra_info("sockname")[1])
    await writer.drain()
    writer.close()


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    server = await asyncio.start_server(handle_echo, LOCAL, 0)
    async with server:
        yield int(server.sockets[0].getsockname()[1])


def proxy(balancer: RoundRobinBalancer, copy: CopyMode) -> TcpProxySocket:
    return TcpProxySocket(TCP_SVC, socket.create_server((LOCAL, 0)), balancer, copy=copy, pipes=PipePool())


async def until(condition: Callable[[], bool], timeout: float = 1.0) -> bool:
    """Poll ``condition`` against a deadline (kernel events, not a timed assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition() and loop.time() < deadline:
        await asyncio.sleep(0.001)
    return condition()


async def round_trip(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(LOCAL, port)
    writer.write(payload)
    await writer.drain()
    writer.write_eof()  # half-close: the answer must still come back
    data = await reader.read()
    writer.close()
    return data


@pytest.mark.parametrize("copy", list(CopyMode), ids=[m.value for m in CopyMode])
async def test_tcp_bytes_arrive_intact_both_ways(echo_port: int, copy: CopyMode) -> None:
    balancer = RoundRobinBalancer()
    balancer.set_service(TCP_SVC, 0)
    balancer.set_endpoints(TCP_SVC, [(LOCAL, echo_port)])
    proxy_socket = proxy(balancer, copy)
    payload = os.urandom(3 << 20)
    try:
        answer = await round_trip(proxy_socket.port, payload)
    finally:
        proxy_socket.close(connections=True)
    assert answer == payload + b"|from:%d" % echo_port


async def test_tcp_refusing_endpoint_moves_to_the_next(echo_port: int) -> None:
    balancer = RoundRobinBalancer(shuffle=lambda eps: eps.sort(key=lambda ep: ep[1] != dead))
    dead = refusing_port()
    balancer.set_service(TCP_SVC, 0)
    balancer.set_endpoints(TCP_SVC, [(LOCAL, dead), (LOCAL, echo_port)])
    assert balancer.endpoints(TCP_SVC)[0] == (LOCAL, dead)
    proxy_socket = proxy(balancer, CopyMode.SPLICE)
    try:
        answers = [await round_trip(proxy_socket.port, b"hi") for _ in range(2)]
    finally:
        proxy_socket.close(connections=True)
    assert answers == [b"hi|from:%d" % echo_port] * 2


async def test_tcp_without_endpoints_resets_the_client() -> None:
    balancer = RoundRobinBalancer()
    balancer.set_service(TCP_SVC, 0)
    proxy_socket = proxy(balancer, CopyMode.SPLICE)

    async def attempt() -> bytes:
        reader, writer = await asyncio.open_connection(LOCAL, proxy_socket.port)
        try:
            return await reader.read()
        finally:
            writer.close()

    try:
        with pytest.raises(ConnectionResetError):  # at connect or at the first read: the proxy is that fast
            await attempt()
    finally:
        proxy_socket.close()


class UdpEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        port = self.transport.get_extra_info("sockname")[1]
        self.transport.sendto(data + b"|from:%d" % port, addr)


class UdpClient(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.replies.put_nowait(data)


async def test_udp_sessions_relay_replies_and_expire() -> None:
    loop = asyncio.get_running_loop()
    backend, _ = await loop.create_datagram_endpoint(UdpEcho, local_addr=(LOCAL, 0))
    backend_port = backend.get_extra_info("sockname")[1]
    balancer = RoundRobinBalancer()
    balancer.set_service(UDP_SVC, 0)
    balancer.set_endpoints(UDP_SVC, [(LOCAL, backend_port)])
    service = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    service.bind((LOCAL, 0))
    proxy_socket = UdpProxySocket(UDP_SVC, service, balancer, idle_timeout=30)
    client, protocol = await loop.create_datagram_endpoint(UdpClient, remote_addr=(LOCAL, proxy_socket.port))
    try:
        for text in (b"one", b"two"):
            client.sendto(text)
            assert await asyncio.wait_for(protocol.replies.get(), 1) == text + b"|from:%d" % backend_port
        assert len(proxy_socket.sessions) == 1
        (session,) = proxy_socket.sessions.values()
        session.last_active -= 31  # idle longer than the timeout, without sleeping
        proxy_socket._check_idle(session)
        assert proxy_socket.sessions == {}
    finally:
        client.close()
        proxy_socket.close()
        backend.close()


async def test_udp_refusing_endpoint_closes_the_session_and_the_next_datagram_moves_on() -> None:
    loop = asyncio.get_running_loop()
    backend, _ = await loop.create_datagram_endpoint(UdpEcho, local_addr=(LOCAL, 0))
    live, dead = backend.get_extra_info("sockname")[1], refusing_port()
    balancer = RoundRobinBalancer(shuffle=lambda eps: eps.sort(key=lambda ep: ep[1] != dead))
    balancer.set_service(UDP_SVC, 0)
    balancer.set_endpoints(UDP_SVC, [(LOCAL, dead), (LOCAL, live)])
    service = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    service.bind((LOCAL, 0))
    proxy_socket = UdpProxySocket(UDP_SVC, service, balancer, idle_timeout=30)
    client, protocol = await loop.create_datagram_endpoint(UdpClient, remote_addr=(LOCAL, proxy_socket.port))
    try:
        client.sendto(b"lost")
        # A session to the dead endpoint, closed by the ICMP error.
        assert await until(lambda: proxy_socket.sessions_opened == 1 and not proxy_socket.sessions)
        client.sendto(b"again")
        assert await asyncio.wait_for(protocol.replies.get(), 1) == b"again|from:%d" % live
    finally:
        client.close()
        proxy_socket.close()
        backend.close()


async def test_buffered_relay_keeps_bytes_while_the_receiver_is_full() -> None:
    """Unix socketpairs stand in for client and backend; the backend end does not read at first."""
    loop = asyncio.get_running_loop()
    client_user, client_relay = socket.socketpair()
    backend_relay, backend_user = socket.socketpair()
    for sock in (client_user, client_relay, backend_relay, backend_user):
        sock.setblocking(False)
    backend_relay.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    closed: list[object] = []
    # A scratch buffer larger than any read keeps the direction buffered (no switch to splice).
    relay = SpliceRelay(loop, client_relay, backend_relay, PipePool(scratch=1 << 22), closed.append)
    relay.start()
    payload = os.urandom(1 << 20)

    async def send() -> None:
        for start in range(0, len(payload), 1000):
            await loop.sock_sendall(client_user, payload[start : start + 1000])
        client_user.shutdown(socket.SHUT_WR)

    sender = asyncio.create_task(send())
    for _ in range(50):  # let the buffers fill while nobody reads the backend end
        await asyncio.sleep(0)
    assert not sender.done()
    received = bytearray()
    while chunk := await loop.sock_recv(backend_user, 1 << 16):
        received += chunk
    await sender
    assert bytes(received) == payload
    backend_user.close()
    client_user.close()
    assert await until(lambda: closed == [relay])


@pytest.mark.parametrize("copy", list(CopyMode), ids=[m.value for m in CopyMode])
def test_tcp_relay_on_uvloop(copy: CopyMode) -> None:
    """The proxy runs on uvloop in production; its transports differ from asyncio's."""
    import uvloop

    async def scenario() -> tuple[bytes, int]:
        server = await asyncio.start_server(handle_echo, LOCAL, 0)
        async with server:
            port = int(server.sockets[0].getsockname()[1])
            balancer = RoundRobinBalancer()
            balancer.set_service(TCP_SVC, 0)
            balancer.set_endpoints(TCP_SVC, [(LOCAL, port)])
            proxy_socket = proxy(balancer, copy)
            try:
                return await asyncio.wait_for(round_trip(proxy_socket.port, b"u" * 200_000), 5), port
            finally:
                proxy_socket.close(connections=True)

    answer, port = uvloop.run(scenario())
    assert answer == b"u" * 200_000 + b"|from:%d" % port
