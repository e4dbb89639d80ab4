"""The userspace backend driven by the shared ``Proxier``, with a fake iptables and real sockets.

Address plan: see ``tests/proxy/builders.py`` for the overall scenario; the
traffic test uses a Service ``ns1/echo`` (ClusterIP 172.30.0.50) whose
endpoint is an echo server on 127.0.0.1. Proxy sockets listen on 127.0.0.1
(host DNAT to 192.168.0.2).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from svclab.proxy.adapters.testing.iptables import FakeIptables
from svclab.proxy.options import NodeOptions
from svclab.proxy.provider import Proxier, ProxierOptions
from svclab.proxy.service_port import Protocol, ServiceName, ServicePortName
from svclab.proxy.userspace.proxier import UserspaceOptions, UserspaceProxier
from svclab.proxy.userspace.rules import (
    ALL_CHAINS,
    JUMP_RULES,
    KUBE_PORTALS_REJECT,
    Portal,
    RuleOptions,
    render_restore,
    rule_counts,
)
from svclab.proxy.userspace.tcp import TcpProxySocket

from ..builders import TEST_NODE, TEST_NODE_IP, endpoint, endpoint_slice, service
from ..helpers import ManualClock, load_overall

Subject = tuple[Proxier, UserspaceProxier, FakeIptables]
ECHO = ServicePortName(ServiceName("ns1", "echo"), "p80", Protocol.TCP)
SVC4 = ServicePortName(ServiceName("ns4", "svc4"), "p80", Protocol.TCP)
RULE_OPTIONS = RuleOptions(listen_ip="127.0.0.1", host_ip=TEST_NODE_IP)


def make() -> tuple[Proxier, UserspaceProxier, FakeIptables]:
    fake = FakeIptables()
    backend = UserspaceProxier(
        fake,
        UserspaceOptions(node=NodeOptions(node_ips=(TEST_NODE_IP,)), listen_ip="127.0.0.1", claim_node_ports=False),
    )
    return Proxier(backend, ProxierOptions(node_name=TEST_NODE, clock=ManualClock())), backend, fake


@pytest.fixture
async def subject() -> AsyncIterator[Subject]:
    proxier, backend, fake = make()
    try:
        yield proxier, backend, fake
    finally:
        backend.close_sockets()


async def echo_server() -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.read())
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def test_sync_opens_one_socket_per_service_port_and_installs_portals(subject: Subject) -> None:
    proxier, backend, fake = subject
    load_overall(proxier)
    report = await proxier.sync()
    assert len(backend.served) == 6
    assert len({s.proxy_port for s in backend.served.values()}) == 6
    assert report.rules_by_table == {"nat": 28, "filter": 4}
    assert len(fake.restores) == 1 and report.full
    for table, chain, rule, _ in JUMP_RULES:
        assert rule in fake.rules(table, chain)
    assert fake.rules("filter", "INPUT")[0].endswith(f"-j {KUBE_PORTALS_REJECT}")


async def test_traffic_reaches_the_endpoint_and_endpoint_loss_rejects(subject: Subject) -> None:
    proxier, backend, fake = subject
    server = await echo_server()
    port = server.sockets[0].getsockname()[1]
    async with server:
        proxier.on_service(None, service("ns1", "echo", "172.30.0.50", ("p80", 80, 0)))
        proxier.on_endpoint_slice(endpoint_slice("ns1", "echo", endpoint("127.0.0.1"), port=("p80", port)))
        await proxier.sync()
        proxy_port = backend.served[ECHO].proxy_port
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
        writer.write(b"ping")
        writer.write_eof()
        assert await reader.read() == b"ping"
        writer.close()
        proxier.on_endpoint_slice(endpoint_slice("ns1", "echo", port=("p80", port)))
        report = await proxier.sync()
    assert not report.full and len(fake.restores) == 2
    assert fake.rules("filter", KUBE_PORTALS_REJECT) == [
        f'-m comment --comment "ns1/echo:p80 has no endpoints" -p tcp -m tcp --dport {proxy_port} -j REJECT'
    ]


async def test_deleted_service_closes_its_socket(subject: Subject) -> None:
    proxier, backend, fake = subject
    svc = service("ns1", "echo", "172.30.0.50", ("p80", 80, 0))
    proxier.on_service(None, svc)
    await proxier.sync()
    listener = backend.served[ECHO].proxy_socket
    proxier.on_service(svc, None)
    await proxier.sync()
    assert backend.served == {}
    assert isinstance(listener, TcpProxySocket) and listener.listener.fileno() == -1
    assert fake.rules("nat", "KUBE-PORTALS-CONTAINER") == []


async def test_changed_port_reopens_socket_but_affinity_change_does_not(subject: Subject) -> None:
    proxier, backend, _ = subject
    old = service("ns1", "echo", "172.30.0.50", ("p80", 80, 0))
    proxier.on_service(None, old)
    await proxier.sync()
    first = backend.served[ECHO].proxy_socket
    sticky = service("ns1", "echo", "172.30.0.50", ("p80", 80, 0), affinity_seconds=60)
    proxier.on_service(old, sticky)
    await proxier.sync()
    assert backend.served[ECHO].proxy_socket is first
    moved = service("ns1", "echo", "172.30.0.50", ("p80", 8080, 0), affinity_seconds=60)
    proxier.on_service(sticky, moved)
    await proxier.sync()
    assert backend.served[ECHO].proxy_socket is not first


async def test_failed_restore_forces_a_full_sync_next_time(subject: Subject) -> None:
    proxier, backend, fake = subject
    load_overall(proxier)
    await proxier.sync()
    fake.fail_next_restore = True
    proxier.on_service(None, service("ns1", "echo", "172.30.0.50", ("p80", 80, 0)))
    with pytest.raises(RuntimeError):
        await proxier.sync()
    assert backend.need_full_sync
    assert (await proxier.sync()).full


async def test_flushed_tables_are_detected_and_rebuilt(subject: Subject) -> None:
    proxier, _, fake = subject
    load_overall(proxier)
    await proxier.sync()
    fake.tables = FakeIptables().tables  # someone ran iptables -F / -X
    proxier.on_service(None, service("ns1", "echo", "172.30.0.50", ("p80", 80, 0)))
    assert (await proxier.sync()).full
    assert any("KUBE-PORTALS-CONTAINER" in r for r in fake.rules("nat", "PREROUTING"))


async def test_cleanup_removes_jumps_chains_and_sockets(subject: Subject) -> None:
    proxier, backend, fake = subject
    load_overall(proxier)
    await proxier.sync()
    backend.cleanup()
    assert backend.served == {}
    assert fake.tables == FakeIptables().tables


def installed_rules(fake: FakeIptables) -> set[tuple[str, str, str]]:
    """Every rule in this mode's chains, as (table, chain, rule)."""
    return {(t, c, r) for t, c in ALL_CHAINS for r in fake.rules(t, c)}


async def test_idle_sync_restores_nothing(subject: Subject) -> None:
    proxier, backend, fake = subject
    load_overall(proxier)
    await proxier.sync()
    report = await proxier.sync()
    assert not report.full
    assert len(fake.restores) == 1 and backend.last_restore == ""
    assert report.rules_by_table == {"nat": 28, "filter": 4}


async def test_one_service_change_touches_only_its_rules(subject: Subject) -> None:
    proxier, backend, fake = subject
    load_overall(proxier)
    await proxier.sync()
    before = installed_rules(fake)
    old_port = backend.served[SVC4].proxy_port
    proxier.on_endpoint_slice(endpoint_slice("ns4", "svc4"), removed=True)  # svc4 loses its endpoints
    report = await proxier.sync()
    text = backend.last_restore
    changed = [ln for ln in text.splitlines() if ln.startswith(("-A ", "-D "))]
    assert changed and all(f"--dport {old_port} " in ln or "ns4/svc4" in ln for ln in changed), text
    assert not any(ln.startswith(":") for ln in text.splitlines())  # no chain declared, so none flushed
    after = installed_rules(fake)
    assert {r for r in before ^ after if "ns4/svc4" not in r[2]} == set()
    assert ("filter", KUBE_PORTALS_REJECT) in {(t, c) for t, c, r in after - before}
    assert report.rules_by_table == rule_counts(render_restore(list(portals(backend)), RULE_OPTIONS))
    backend.need_full_sync = True  # a full sync must find nothing to fix
    await proxier.sync()
    assert installed_rules(fake) == after


def portals(backend: UserspaceProxier) -> list[Portal]:
    return [portal for portal, _ in backend.installed.values()]


async def test_debug_state_names_each_socket_and_its_round_robin(subject: Subject) -> None:
    # What /debug/backends serves and svclab explain reads: the socket, the turn order, the next turn.
    proxier, backend, _ = subject
    load_overall(proxier)
    await proxier.sync()
    state = {entry["service"]: entry for entry in backend.debug_state()}
    assert len(state) == 6
    svc4 = state[str(SVC4)]
    assert svc4["proxyPort"] == backend.served[SVC4].proxy_port
    assert (svc4["clusterIP"], svc4["port"], svc4["protocol"], svc4["listen"]) == (
        "172.30.0.44",
        80,
        "tcp",
        "127.0.0.1",
    )
    assert sorted(svc4["endpoints"]) == ["10.180.0.4:80", "10.180.0.5:80"]  # type: ignore[call-overload]
    assert (svc4["next"], svc4["affinitySeconds"]) == (0, 0)
    backend.balancer.next_endpoint(SVC4, "10.0.0.2")
    assert {e["service"]: e["next"] for e in backend.debug_state()}[str(SVC4)] == 1
    assert state["ns5/svc5:p80"]["affinitySeconds"] == 10800 and state["ns6/svc6:p80"]["endpoints"] == []
    svc5 = ServicePortName(ServiceName("ns5", "svc5"), "p80", Protocol.TCP)
    backend.balancer.next_endpoint(svc5, "10.0.0.2")
    sessions = {e["service"]: e["sessions"] for e in backend.debug_state()}
    assert sessions["ns5/svc5:p80"] == {"10.0.0.2": "10.180.0.3:80"} and sessions[str(SVC4)] == {}
