"""Core model: service ports, change trackers, topology, runner.

Address plan: see ``builders.py``.
"""

from __future__ import annotations

import pytest

from svclab.proxy.endpoint import Endpoint
from svclab.proxy.endpoints_change_tracker import EndpointsChangeTracker
from svclab.proxy.runner import BoundedFrequencyRunner
from svclab.proxy.service_change_tracker import ServiceChangeTracker
from svclab.proxy.service_port import (
    IPFamily,
    Protocol,
    ServiceName,
    ServicePort,
    ServicePortName,
    service_ports_from_service,
    sloppy_address,
)
from svclab.proxy.topology import ZONE_LABEL, categorize_endpoints

from .builders import TEST_NODE, endpoint, endpoint_slice, service
from .helpers import ManualClock

NAME = ServicePortName(ServiceName("ns1", "svc1"), "p80", Protocol.TCP)


def test_service_port_name_string() -> None:
    assert str(NAME) == "ns1/svc1:p80"
    assert str(ServicePortName(ServiceName("ns1", "svc1"), "")) == "ns1/svc1"


@pytest.mark.parametrize(
    "spec,expected",
    [
        ({"clusterIP": "None"}, 0),
        ({"type": "ExternalName", "clusterIP": ""}, 0),
        ({}, 1),
    ],
    ids=["headless", "external-name", "cluster-ip"],
)
def test_skipped_services(spec: dict[str, str], expected: int) -> None:
    cluster_ip = spec.pop("clusterIP", "172.30.0.41")
    svc = service("ns1", "svc1", cluster_ip, ("p80", 80, 0), **spec)
    assert len(service_ports_from_service(svc, IPFamily.IPV4)) == expected


def test_service_port_fields() -> None:
    svc = service(
        "ns1",
        "svc1",
        "172.30.0.41",
        ("p80", 80, 3001),
        type="LoadBalancer",
        externalTrafficPolicy="Local",
        healthCheckNodePort=30000,
        lb_ip="1.2.3.4",
        affinity_seconds=100,
        loadBalancerSourceRanges=[" 203.0.113.0/25"],
    )
    port = service_ports_from_service(svc, IPFamily.IPV4)[NAME]
    assert (port.node_port, port.health_check_node_port, port.session_affinity_seconds) == (3001, 30000, 100)
    assert port.external_policy_local and port.load_balancer_vips == ("1.2.3.4",)
    assert port.load_balancer_source_ranges == ("203.0.113.0/25",)
    assert port.uses_local_endpoints and port.uses_cluster_endpoints


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("172.30.0.041", "172.30.0.41"),  # upstream's TestBadIPs values
        ("203.0.113.000/025", "203.0.113.0/25"),
        ("203.0.113.5/25", "203.0.113.0/25"),  # a CIDR as net.IPNet.String() writes it
        ("2001:0db8::0001", "2001:db8::1"),
        (" 1.2.3.004 ", "1.2.3.4"),
        ("None", "None"),  # headless: not an address, left as it is
    ],
)
def test_sloppy_address(text: str, written: str) -> None:
    assert sloppy_address(text) == written


def test_service_tracker_merges_and_cancels() -> None:
    tracker = ServiceChangeTracker(IPFamily.IPV4)
    v1 = service("ns1", "svc1", "172.30.0.41", ("p80", 80, 0))
    v2 = service("ns1", "svc1", "172.30.0.41", ("p80", 81, 0))
    assert tracker.update(None, v1)
    assert tracker.update(v1, v2)
    assert not tracker.update(v2, None)  # added then deleted before a sync: nothing to do
    tracker.update(None, v1)
    result = tracker.apply({})
    assert result.updated_services == {ServiceName("ns1", "svc1")}
    assert result.service_ports[NAME].port == 80
    assert not tracker.pending


def test_service_tracker_reports_deleted_udp_cluster_ips() -> None:
    tracker = ServiceChangeTracker(IPFamily.IPV4)
    dns = service("kube-system", "dns", "172.30.0.10", ("dns", 53, 0), protocol="UDP")
    tracker.update(None, dns)
    ports = tracker.apply({}).service_ports
    tracker.update(dns, None)
    assert tracker.apply(ports).deleted_udp_cluster_ips == {"172.30.0.10"}


def test_endpoints_tracker_merges_slices_and_captures_trigger_time() -> None:
    tracker = EndpointsChangeTracker(IPFamily.IPV4, TEST_NODE)
    tracker.update(
        endpoint_slice("ns1", "svc1", endpoint("10.180.0.2"), suffix="a", trigger_time="2024-01-01T00:00:00Z")
    )
    tracker.update(
        endpoint_slice(
            "ns1", "svc1", endpoint("10.180.0.1", node=TEST_NODE), endpoint("10.180.0.2", ready=False), suffix="b"
        )
    )
    result = tracker.apply({})
    eps = result.endpoints[NAME]
    assert [str(e) for e in eps] == ["10.180.0.1:80", "10.180.0.2:80"]
    assert eps[0].is_local and eps[1].ready  # the ready copy of a duplicate wins
    assert result.trigger_times[ServiceName("ns1", "svc1")] == (1704067200.0,)
    tracker.update(endpoint_slice("ns1", "svc1", suffix="a"), removed=True)
    tracker.update(endpoint_slice("ns1", "svc1", suffix="b"), removed=True)
    assert NAME not in tracker.apply(result.endpoints).endpoints


def test_unchanged_slice_is_not_a_change() -> None:
    tracker = EndpointsChangeTracker(IPFamily.IPV4, TEST_NODE)
    eps = endpoint_slice("ns1", "svc1", endpoint("10.180.0.1"))
    tracker.update(eps)
    tracker.apply({})
    assert not tracker.update(eps)


def _port(**kw: object) -> ServicePort:
    return ServicePort(name=NAME, cluster_ip="172.30.0.41", port=80, protocol=Protocol.TCP, **kw)  # type: ignore[arg-type]


READY_REMOTE = Endpoint("10.0.1.1", 80)
READY_LOCAL = Endpoint("10.0.1.2", 80, is_local=True)
TERMINATING_LOCAL = Endpoint("10.0.1.3", 80, ready=False, serving=True, terminating=True, is_local=True)
NOT_READY = Endpoint("10.0.1.4", 80, ready=False, serving=False)


@pytest.mark.parametrize(
    "port,endpoints,cluster,local,has_any",
    [
        (_port(), [READY_REMOTE, NOT_READY], ["10.0.1.1"], [], True),
        (_port(), [TERMINATING_LOCAL, NOT_READY], ["10.0.1.3"], [], True),
        (_port(), [NOT_READY], [], [], False),
        (_port(internal_policy_local=True), [READY_REMOTE, READY_LOCAL], [], ["10.0.1.2"], True),
        (_port(internal_policy_local=True), [READY_REMOTE], [], [], True),
        (_port(internal_policy_local=True), [READY_REMOTE, TERMINATING_LOCAL], [], ["10.0.1.3"], True),
        (
            _port(node_port=3001, external_policy_local=True),
            [READY_REMOTE, READY_LOCAL],
            ["10.0.1.1", "10.0.1.2"],
            ["10.0.1.2"],
            True,
        ),
    ],
    ids=[
        "cluster",
        "terminating-fallback",
        "none",
        "itp-local",
        "itp-local-none-local",
        "itp-local-terminating",
        "etp-local",
    ],
)
def test_categorize_endpoints(
    port: ServicePort, endpoints: list[Endpoint], cluster: list[str], local: list[str], has_any: bool
) -> None:
    result = categorize_endpoints(endpoints, port)
    assert [e.ip for e in result.cluster] == cluster
    assert [e.ip for e in result.local] == local
    assert result.has_any is has_any


def test_zone_hints_keep_same_zone_when_every_endpoint_has_hints() -> None:
    a = Endpoint("10.0.1.1", 80, zone_hints=frozenset({"a"}))
    b = Endpoint("10.0.1.2", 80, zone_hints=frozenset({"b"}))
    port = _port()
    assert [e.ip for e in categorize_endpoints([a, b], port, {ZONE_LABEL: "a"}).cluster] == ["10.0.1.1"]
    unhinted = Endpoint("10.0.1.3", 80)
    assert len(categorize_endpoints([a, b, unhinted], port, {ZONE_LABEL: "a"}).cluster) == 3


async def test_runner_bounds_frequency() -> None:
    clock = ManualClock()
    calls: list[float] = []

    async def sync() -> None:
        calls.append(clock.now)

    runner = BoundedFrequencyRunner(sync, min_interval=1.0, max_interval=30.0, clock=clock)
    assert await runner.step()  # first run is immediate
    runner.run()
    assert not await runner.step()  # too soon after the last run
    clock.now += 1.0
    assert await runner.step()
    assert not await runner.step()  # nothing requested
    clock.now += 29.0
    assert not await runner.step()
    clock.now += 1.0
    assert await runner.step()  # periodic resync at max_interval
    runner.retry_after(5.0)
    clock.now += 5.0
    assert await runner.step()
    assert calls == [1000.0, 1001.0, 1031.0, 1036.0]


async def test_runner_runs_first_sync_with_a_clock_that_always_moves() -> None:
    ticks = iter(range(10**6))
    calls: list[int] = []

    async def sync() -> None:
        calls.append(1)

    runner = BoundedFrequencyRunner(sync, min_interval=1e9, max_interval=1e9, clock=lambda: float(next(ticks)))
    assert await runner.step()
    assert calls == [1]


async def test_the_rules_monitor_repairs_a_flush_between_syncs() -> None:
    import asyncio
    import time

    from svclab.proxy.adapters.testing.iptables import FakeIptables
    from svclab.proxy.iptables.plan import PlanOptions
    from svclab.proxy.iptables.proxier import IptablesProxier
    from svclab.proxy.provider import Proxier, ProxierOptions

    from .builders import TEST_NODE_OPTIONS
    from .helpers import load_overall

    fake = FakeIptables()
    backend = IptablesProxier(fake, PlanOptions(node=TEST_NODE_OPTIONS))
    # no event and no periodic sync within the test: only the monitor can notice the flush
    options = ProxierOptions(node_name=TEST_NODE, min_sync_period=0.0, sync_period=3600.0, rules_check_period=0.01)
    proxier = Proxier(backend, options)
    load_overall(proxier)
    loop = asyncio.create_task(proxier.sync_loop())
    try:
        deadline = time.monotonic() + 10
        while proxier.last_report is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        first = proxier.last_report
        fake.flush_all()
        while proxier.last_report is first and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    finally:
        loop.cancel()
    assert proxier.last_report is not first and proxier.last_report is not None
    assert proxier.last_report.full
    assert "KUBE-SVC-XPGD46QRK7WJZT7O" in fake.tables["nat"]


async def test_a_sync_in_its_thread_leaves_the_loop_to_the_informers() -> None:
    """With sync_in_thread the loop keeps serving events while the backend applies rules.

    The backend's sync waits (in its thread) for an event the loop must set: a sync
    run on the loop would block it, and the wait would end unset.
    """
    import asyncio
    import threading

    from svclab.proxy.adapters.testing.iptables import FakeIptables
    from svclab.proxy.iptables.plan import PlanOptions
    from svclab.proxy.iptables.proxier import IptablesProxier
    from svclab.proxy.provider import Proxier, ProxierOptions

    from .builders import TEST_NODE_OPTIONS
    from .helpers import load_overall

    loop_ran = threading.Event()
    seen: list[bool] = []
    asked: list[str] = []

    class WaitingBackend(IptablesProxier):
        def sync_rules(self, state: object) -> dict[str, int]:
            seen.append(loop_ran.wait(timeout=5))  # set by the loop only while it is free
            return super().sync_rules(state)  # type: ignore[arg-type]

        def rules_missing(self) -> bool:
            asked.append("rules_missing")
            return super().rules_missing()

    backend = WaitingBackend(FakeIptables(), PlanOptions(node=TEST_NODE_OPTIONS))
    proxier = Proxier(backend, ProxierOptions(node_name=TEST_NODE, sync_in_thread=True))
    load_overall(proxier)
    sync = asyncio.create_task(proxier.sync())
    await asyncio.sleep(0)  # the sync starts and hands its backend call to a thread
    assert proxier.check_rules() is False
    assert asked == []  # the monitor leaves a backend busy in its thread alone
    loop_ran.set()
    report = await sync
    assert seen == [True]
    assert report.rules_by_table["nat"] > 0
