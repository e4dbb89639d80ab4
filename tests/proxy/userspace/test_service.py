"""The proxy process shell with the userspace backend: FakeClient -> informers -> Proxier -> sockets.

Address plan: Service ``ns1/echo`` (ClusterIP 172.30.0.50) whose endpoint is
an echo server on 127.0.0.1; the proxy listens on 127.0.0.1 and rules go to a
``FakeIptables``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Sequence

from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Node
from lightkube.resources.discovery_v1 import EndpointSlice

from svclab.kube.testing import FakeClient
from svclab.proxy.adapters.testing.iptables import FakeIptables
from svclab.proxy.command import add_arguments
from svclab.proxy.options import NodeOptions
from svclab.proxy.service import serve
from svclab.proxy.service_port import ServiceName, ServicePortName
from svclab.proxy.userspace.proxier import UserspaceOptions, UserspaceProxier

from ..builders import TEST_NODE, endpoint, endpoint_slice, service

ECHO = ServicePortName(ServiceName("ns1", "echo"), "p80")


async def until(condition: Callable[[], bool]) -> bool:
    for _ in range(2000):  # event-loop turns, not wall time
        if condition():
            return True
        await asyncio.sleep(0)
    return False


async def test_serve_proxies_a_service_from_the_api() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.read())
        writer.close()

    echo = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = echo.sockets[0].getsockname()[1]
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--hostname-override", TEST_NODE, "--min-sync-period", "0", "--mode", "userspace"])
    client = FakeClient()
    client.seed(
        Node(metadata=ObjectMeta(name=TEST_NODE)),
        service("ns1", "echo", "172.30.0.50", ("p80", 80, 0)),
        endpoint_slice("ns1", "echo", endpoint("127.0.0.1"), port=("p80", port)),
    )
    fake = FakeIptables()
    backend = UserspaceProxier(
        fake, UserspaceOptions(node=NodeOptions(node_ips=("192.168.0.2",)), listen_ip="127.0.0.1")
    )
    ran: list[Sequence[str]] = []

    def conntrack(cmd: Sequence[str]) -> int:
        ran.append(cmd)
        return 0

    task = asyncio.create_task(
        serve(args, client=client, backend=backend, conntrack_runner=conntrack, serve_http=False)
    )
    try:
        async with echo:
            assert await until(lambda: ECHO in backend.served and bool(fake.rules("nat", "KUBE-PORTALS-HOST")))
            reader, writer = await asyncio.open_connection("127.0.0.1", backend.served[ECHO].proxy_port)
            writer.write(b"via the api")
            writer.write_eof()
            assert await reader.read() == b"via the api"
            writer.close()
            await client.delete(EndpointSlice, "echo-1", namespace="ns1")
            assert await until(lambda: bool(fake.rules("filter", "KUBE-PORTALS-REJECT")))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        backend.close_sockets()
