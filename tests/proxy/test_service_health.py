"""Health check node ports: which Services get one, what counts as a local endpoint, the answers.

Address plan: Service ns1/svc1 (healthCheckNodePort 30000) with endpoints on
this node at 10.0.1.1 and 10.0.1.2 and elsewhere at 10.0.2.1; ns1/svc2 (port
30001). Listeners are a fake that records (port, respond) and its closes;
one test binds a real loopback port.
"""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable

import pytest

from svclab.proxy.endpoint import Endpoint
from svclab.proxy.service import listen_health_check
from svclab.proxy.service_health import (
    ServiceHealthServer,
    health_check_node_ports,
    health_check_response,
    local_ready_endpoints,
)
from svclab.proxy.service_port import (
    IPFamily,
    Protocol,
    ServiceName,
    ServicePort,
    ServicePortName,
    service_ports_from_service,
)

from .builders import service

SVC1, SVC2 = ServiceName("ns1", "svc1"), ServiceName("ns1", "svc2")
P80, P443 = ServicePortName(SVC1, "p80"), ServicePortName(SVC1, "p443")
UDP53 = ServicePortName(SVC2, "dns", Protocol.UDP)

TERMINATING = {"ready": False, "serving": True, "terminating": True}


def _ep(ip: str, port: int = 80, *, local: bool = True, **conditions: bool) -> Endpoint:
    return Endpoint(ip, port, is_local=local, **conditions)


def test_only_services_with_a_health_check_node_port_get_one() -> None:
    ports = {
        **service_ports_from_service(
            service("ns1", "svc1", "172.30.0.41", ("p80", 80, 3001), type="LoadBalancer",
                    externalTrafficPolicy="Local", healthCheckNodePort=30000),
            IPFamily.IPV4,
        ),
        **service_ports_from_service(
            service("ns1", "svc2", "172.30.0.42", ("p80", 80, 3002), type="NodePort"), IPFamily.IPV4
        ),
    }  # fmt: skip
    assert health_check_node_ports(ports) == {SVC1: 30000}


@pytest.mark.parametrize(
    ("endpoints", "expected"),
    [
        pytest.param({P80: [_ep("10.0.1.1"), _ep("10.0.1.2")]}, {SVC1: 2}, id="two-local-ready"),
        pytest.param({P80: [_ep("10.0.1.1")], P443: [_ep("10.0.1.1", 443)]}, {SVC1: 1}, id="one-ip-two-ports"),
        pytest.param({P80: [_ep("10.0.2.1", local=False)]}, {}, id="remote-only"),
        pytest.param({P80: [_ep("10.0.1.1", **TERMINATING)]}, {}, id="terminating-only"),
        pytest.param({P80: [_ep("10.0.1.1", ready=False, serving=False)]}, {}, id="unready-only"),
        pytest.param(
            {P80: [_ep("10.0.1.1", **TERMINATING), _ep("10.0.1.2")], UDP53: [_ep("10.0.2.1", 53, local=False)]},
            {SVC1: 1},
            id="terminating-and-ready-and-other-service-remote",
        ),
    ],
)
def test_local_ready_endpoints(
    endpoints: dict[ServicePortName, list[Endpoint]], expected: dict[ServiceName, int]
) -> None:
    assert local_ready_endpoints(endpoints) == expected


@pytest.mark.parametrize(
    ("count", "healthy", "status"),
    [(1, True, 200), (3, True, 200), (0, True, 503), (2, False, 503), (0, False, 503)],
)
def test_health_check_response(count: int, healthy: bool, status: int) -> None:
    code, body = health_check_response(SVC1, count, healthy)
    assert code == status
    assert json.loads(body) == {
        "service": {"namespace": "ns1", "name": "svc1"},
        "localEndpoints": count,
        "serviceProxyHealthy": healthy,
    }


class FakeListeners:
    """Records open listeners by port; ``busy`` ports fail to bind."""

    def __init__(self) -> None:
        self.open: dict[int, Callable[[], tuple[int, str]]] = {}
        self.closed: list[int] = []
        self.busy: set[int] = set()

    async def listen(self, port: int, respond: Callable[[], tuple[int, str]]) -> Callable[[], Awaitable[None]]:
        if port in self.busy:
            raise OSError(98, "Address already in use")
        self.open[port] = respond

        async def close() -> None:
            del self.open[port]
            self.closed.append(port)

        return close


async def test_server_follows_ports_and_counts() -> None:
    fake, healthy = FakeListeners(), [True]
    server = ServiceHealthServer(fake.listen, lambda: healthy[0])
    await server.sync({SVC1: 30000}, {SVC1: 2})
    assert sorted(fake.open) == [30000] and fake.open[30000]()[0] == 200
    await server.sync({SVC1: 30000, SVC2: 30001}, {})  # svc1's endpoints went (terminating, say)
    assert sorted(fake.open) == [30000, 30001] and not fake.closed
    assert fake.open[30000]()[0] == 503 and json.loads(fake.open[30000]()[1])["localEndpoints"] == 0
    await server.sync({SVC1: 30000, SVC2: 30001}, {SVC1: 1})
    healthy[0] = False
    assert fake.open[30000]()[0] == 503, "an unhealthy proxy fails every health check"
    healthy[0] = True
    await server.sync({SVC1: 30002}, {SVC1: 1})  # port changed, svc2 deleted
    assert sorted(fake.open) == [30002] and sorted(fake.closed) == [30000, 30001]
    assert server.ports == {SVC1: 30002}
    await server.close()
    assert fake.open == {}


async def test_a_port_that_cannot_be_bound_is_retried_at_the_next_sync() -> None:
    fake = FakeListeners()
    fake.busy.add(30000)
    server = ServiceHealthServer(fake.listen, lambda: True)
    await server.sync({SVC1: 30000}, {SVC1: 1})
    assert server.ports == {}
    fake.busy.clear()
    await server.sync({SVC1: 30000}, {SVC1: 1})
    assert server.ports == {SVC1: 30000}


async def test_sync_soon_takes_the_proxy_state() -> None:
    fake = FakeListeners()
    server = ServiceHealthServer(fake.listen, lambda: True)
    port = ServicePort(P80, "172.30.0.41", 80, Protocol.TCP, node_port=3001, health_check_node_port=30000)
    server.sync_soon({P80: port}, {P80: (_ep("10.0.1.1", **TERMINATING),)})
    for _ in range(100):
        await asyncio.sleep(0)
    assert fake.open[30000]()[0] == 503
    server.sync_soon({P80: port}, {P80: (_ep("10.0.1.1"),)})
    for _ in range(100):
        await asyncio.sleep(0)
    assert fake.open[30000]()[0] == 200


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


async def test_listener_answers_any_path_over_http() -> None:
    answer = [(503, '{"localEndpoints": 0}')]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    close = await listen_health_check(port, lambda: answer[0], host="127.0.0.1")
    try:
        status, kind, body = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/healthz")
        assert (status, kind, body) == (503, "application/json; charset=utf-8", answer[0][1])
        answer[0] = (200, "{}")
        assert (await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/anything"))[0] == 200
    finally:
        await close()
